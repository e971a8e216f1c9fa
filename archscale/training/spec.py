"""What a run is (RunSpec), what it reports (EpochMetrics, TrainResult) and how it fails.

Plain dataclasses: the worker stores ``TrainResult.to_dict()`` as JSON beside the run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from archscale.datasets import get_dataset
from archscale.protocols import PRECISIONS, get_protocol, get_scaling
from archscale.space import Cell, resolve_arch

__all__ = [
    "RunSpec",
    "EpochMetrics",
    "TrainResult",
    "Cancelled",
    "DegenerateArchitecture",
    "RunSpecError",
    "DataNotFound",
]

DEVICES = ("auto", "cpu", "cuda")
INIT_DEGREES = ("target", "source")


class RunSpecError(ValueError):
    """A RunSpec field with a bad value; ``field`` names it and the message says the fix."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class DataNotFound(FileNotFoundError):
    """The data for a setting is not under data_root; the message says what to put where."""


class DegenerateArchitecture(ValueError):
    """arch-aware on a cell without an input->output path: the LR rule is undefined (S = 0)."""


class Cancelled(Exception):
    """Raised by an ``on_epoch`` callback to stop a run after the current epoch's checkpoint."""


@dataclass(frozen=True)
class RunSpec:
    """One training run. Everything here except ``data_root``/``device``/``fast`` is fingerprinted.

    ``fast`` switches speed-only settings (channels_last, cudnn autotune, shared ReLU...).
    ``compile`` (torch.compile) is off by default until accuracy parity is shown.
    ``init_degree``: for ``arch-aware-derived`` only, override the recipe's cell in-degree
    (target, the derivation) with the source's (eq. 4); None keeps the recipe's.
    """

    arch: int | str | Cell
    dataset: str = "cifar10"
    scaling: str = "arch-aware"
    protocol: str = "nb201-200"
    seed: int = 777
    precision: str = "fp32"
    base_lr: float | None = None
    data_root: str | Path | None = None
    device: str = "auto"
    fast: bool = True
    compile: bool = False
    init_degree: str | None = None  # None: the recipe's; arch-aware-derived only may override it
    download: bool = False
    cache_dir: str | Path | None = None
    epochs: int | None = None  # override the protocol's epoch count (base-LR search); fingerprinted
    train_subset: int | None = None  # override the protocol's subset (tests); fingerprinted
    base_lr_origin: str | None = None  # where an explicit base_lr came from (e.g. "table:searched"); a label

    def validate(self) -> RunSpec:
        """Check every field; return a copy with ``arch`` resolved to a Cell."""
        try:
            cell = resolve_arch(self.arch)
        except (ValueError, IndexError) as exc:
            raise RunSpecError("arch", f"{exc} Pass an official index 0..15624 or an NB201 cell string.") from None
        for name, check in (("dataset", get_dataset), ("protocol", get_protocol), ("scaling", get_scaling)):
            try:
                check(getattr(self, name))
            except KeyError as exc:
                raise RunSpecError(name, str(exc)) from None
        if self.precision not in PRECISIONS:
            raise RunSpecError("precision", f"{self.precision!r} is not supported; use one of {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise RunSpecError("device", f"{self.device!r} is not supported; use one of {', '.join(DEVICES)}")
        if self.init_degree is not None:
            if self.init_degree not in INIT_DEGREES:
                raise RunSpecError("init_degree",
                                   f"{self.init_degree!r}: use 'target' (derivation) or 'source' (released code)")
            if self.scaling != "arch-aware-derived":
                raise RunSpecError("init_degree", f"only scaling 'arch-aware-derived' takes an in-degree override; "
                                                  f"{self.scaling!r} fixes its init (archscale.recipes): drop it")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise RunSpecError("seed", f"{self.seed!r} must be a non-negative int (NB201 used 777, 888, 999)")
        if self.base_lr is not None and not (isinstance(self.base_lr, (int, float)) and self.base_lr > 0):
            raise RunSpecError("base_lr", f"{self.base_lr!r} must be a positive number, or None to use the cache")
        for name in ("epochs", "train_subset"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise RunSpecError(name, f"{value!r} must be a positive int, or None for the protocol's value")
        if self.data_root is None:
            raise RunSpecError("data_root", "is required: pass the folder holding cifar-10-batches-py/, "
                                            "cifar-100-python/, ImageNet16/ or cifar10-jpeg.tar.gz")
        return replace(self, arch=cell)


@dataclass
class EpochMetrics:
    """One epoch: train loss/acc over the epoch, eval loss/acc per split (acc in %, true top-1)."""

    epoch: int  # 1-based: the number of epochs completed
    epochs: int
    lr: float  # the LR the epoch trained with (first param group)
    train_loss: float
    train_acc: float
    eval: dict[str, dict[str, float]]  # split -> {"loss": ..., "acc": ...}
    seconds: float  # wall time of this epoch (train + eval)
    images_per_second: float  # training throughput of this epoch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    run_key: str
    fingerprint: str
    arch_index: int
    arch_str: str
    dataset: str
    scaling: str
    protocol: str  # the protocol key, e.g. nb201-200@v1
    seed: int
    lr: float
    base_lr: float | None
    base_lr_source: str  # explicit | cache | builtin | protocol
    init: dict[str, Any]
    epochs: list[dict[str, Any]]
    final: dict[str, dict[str, float]]  # eval split -> loss/acc after the last epoch
    wall_seconds: float
    provenance: dict[str, Any]
    benchmark: bool  # False for protocols flagged as demos (smoke)
    resumed_from_epoch: int = 0
    fingerprint_fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
