"""Training protocols and scalings as named, versioned data, and result fingerprints.

Pure Python: the API validates submissions and computes fingerprints without torch.
A protocol fixes everything about *how* a cell is trained except the scaling (init and
LR rule), the seed and the numeric precision; those are run options. Anything that can
change a result goes into :func:`run_fingerprint`, stored beside every result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from .errors import UnknownName

__all__ = [
    "Protocol",
    "PROTOCOLS",
    "get_protocol",
    "UnknownProtocol",
    "Scaling",
    "SCALINGS",
    "get_scaling",
    "UnknownScaling",
    "PRECISIONS",
    "NB201_SEEDS",
    "run_fingerprint",
    "run_key",
]

#: The seeds NB201 trained every 200-epoch cell with.
NB201_SEEDS: tuple[int, ...] = (777, 888, 999)
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


class UnknownProtocol(UnknownName):
    pass


class UnknownScaling(UnknownName):
    pass


@dataclass(frozen=True)
class Protocol:
    """One training recipe. ``version`` changes whenever any field's meaning changes."""

    name: str
    version: int
    description: str
    epochs: int
    batch_size: int = 256
    lr: float = 0.1  # the NB201 LR; "standard" uses it, "arch-aware" replaces it
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4  # on all parameters, as NB201
    schedule: str = "cosine-per-epoch"  # cosine to 0, stepped once per epoch, no warm-up
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    C: int = 16
    N: int = 5
    train_subset: int | None = None  # first k training images of a fixed permutation
    eval_subset: int | None = None
    benchmark: bool = True  # False: results are for demos/tests, never leaderboard numbers

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @cached_property  # frozen: computed once (a 16,000-run batch asks for it per run)
    def fingerprint(self) -> str:
        """sha256 of every field: two protocols with equal fingerprints train identically."""
        return _digest(self.as_dict())


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("nb201-200", 1, "NB201's 200-epoch recipe (the published numbers)", epochs=200),
        Protocol("nb201-12", 1, "NB201's 12-epoch recipe: its own full cosine schedule", epochs=12),
        # v2: 1,024 images x 4 epochs of batch 32 so that a CPU test learns well above chance in ~20 s
        Protocol("smoke", 2, "tiny net (C=8, N=1), 1,024 images, 4 epochs: CPU demos and tests only",
                 epochs=4, batch_size=32, C=8, N=1, train_subset=1024, eval_subset=1000, benchmark=False),
    )
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownProtocol(f"unknown protocol {name!r}; use one of {', '.join(PROTOCOLS)}") from None


@dataclass(frozen=True)
class Scaling:
    name: str
    description: str


SCALINGS: dict[str, Scaling] = {
    s.name: s
    for s in (
        Scaling("arch-aware", "the released code's recipe (Chen et al. 2024): in-degree init (source degree, "
                              "reduction C 1/2/1, classifier 4/fan_in^2) and LR = base * sqrt(S_base/S)"),
        Scaling("arch-aware-derived", "the appendix derivation's init (target degree, reduction C 2/1/1, "
                                      "classifier 2/fan_in^2) and LR = base * sqrt(S_base/S)"),
        Scaling("standard", "NB201's own: PyTorch default init, LR 0.1"),
        Scaling("standard-tuned", "NB201's init at one LR per dataset/protocol from the same 1-epoch base-cell "
                                  "search as arch-aware (the same tuning budget)"),
        Scaling("per-arch-searched", "the released arch-aware init at the cell's own 1-epoch maximal LR "
                                     "(searched per run; the oracle the rule approximates)"),
        Scaling("mup", "muP: MuReadout + set_base_shapes + MuSGD (microsoft/mup), LR 0.1"),
    )
}


def get_scaling(name: str) -> Scaling:
    try:
        return SCALINGS[name]
    except KeyError:
        raise UnknownScaling(f"unknown scaling {name!r}; use one of {', '.join(SCALINGS)}") from None


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_key(arch_index: int, dataset: str, scaling: str, protocol: Protocol, seed: int) -> str:
    """The identity of a run: one (arch, dataset, scaling, protocol fingerprint, seed) is one run."""
    return _digest({"arch": arch_index, "dataset": dataset, "scaling": scaling,
                    "protocol": protocol.fingerprint, "seed": seed})


def run_fingerprint(*, protocol: Protocol, scaling: str, dataset: str, seed: int, base_lr: float | None,
                    precision: str, code_version: str, split: str, extra: dict[str, Any] | None = None) -> str:
    """Everything that can change a result, hashed; stored with the result."""
    return _digest({"protocol": protocol.as_dict(), "scaling": scaling, "dataset": dataset, "seed": seed,
                    "base_lr": base_lr, "precision": precision, "code_version": code_version,
                    "split": split, "extra": extra or {}})
