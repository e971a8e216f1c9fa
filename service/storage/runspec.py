"""What identifies a run, and the checks that turn raw request values into one.

Pure validation (no session): every failure is an :class:`InvalidField` naming the field and
the fix, which the API turns into a 422 and the CLI into a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from archscale.datasets import UnknownDataset, get_dataset
from archscale.protocols import PRECISIONS, UnknownProtocol, UnknownScaling, get_protocol, get_scaling, run_key
from archscale.protocols import Protocol as ProtocolSpec
from archscale.scaling import nb201_lr
from archscale.space import ArchIndexError, ArchStringError, resolve_arch

from .errors import InvalidField

__all__ = ["RunSpec", "MAX_SEED", "resolve_protocol", "resolve_arch_index", "resolve_dataset", "resolve_scaling",
           "resolve_seed", "resolve_precision", "check_trainable"]

MAX_SEED = 2**31 - 1


def resolve_protocol(name: str, field: str = "protocol") -> ProtocolSpec:
    """``nb201-200`` or ``nb201-200@v1``: only the protocol versions this code can train."""
    base, _, version = name.partition("@v")
    try:
        spec = get_protocol(base)
    except UnknownProtocol as exc:
        raise InvalidField(str(exc), field) from None
    if version and version != str(spec.version):
        raise InvalidField(f"protocol {name!r}: this service trains {spec.key} only; drop the version or use "
                           f"'{spec.key}'", field)
    return spec


@dataclass(frozen=True)
class RunSpec:
    """Everything that identifies a run; build it with :meth:`resolve` to validate raw input."""

    arch_index: int
    dataset: str
    scaling: str
    protocol: ProtocolSpec
    seed: int
    precision: str = "fp32"

    @cached_property  # frozen: hashed once per spec, not on every read
    def key(self) -> str:
        return run_key(self.arch_index, self.dataset, self.scaling, self.protocol, self.seed)

    @classmethod
    def resolve(cls, arch: object, dataset: str, scaling: str, protocol: str, seed: int,
                precision: str = "fp32") -> RunSpec:
        """Validate raw values; raise :class:`InvalidField` naming the field and the fix."""
        spec = cls(resolve_arch_index(arch), resolve_dataset(dataset), resolve_scaling(scaling),
                   resolve_protocol(protocol), resolve_seed(seed), resolve_precision(precision))
        check_trainable(spec.arch_index, spec.scaling)
        return spec


def check_trainable(arch_index: int, scaling: str) -> None:
    """The service policy (docs/science.md): an arch-aware run of a degenerate cell (S = 0) is
    refused, since the LR rule is undefined for it; standard and mup train it like any cell."""
    if scaling in ("arch-aware", "arch-aware-derived") and nb201_lr(arch_index, base_lr=1.0).degenerate:
        raise InvalidField(f"arch {arch_index} has no input->output path through non-zero edges (S = 0): the "
                           "arch-aware LR rule is undefined for it; submit it with scaling 'standard', 'standard-tuned', "
                           "'per-arch-searched' or 'mup'",
                           "arch")


def resolve_arch_index(arch: object, field: str = "arch") -> int:
    if isinstance(arch, bool) or not isinstance(arch, (int, str)):
        raise InvalidField(f"arch must be a cell string or an index 0..15624, got {type(arch).__name__}", field)
    try:
        return resolve_arch(arch).index
    except (ArchStringError, ArchIndexError) as exc:
        raise InvalidField(str(exc), field) from None


def resolve_dataset(dataset: str, field: str = "dataset") -> str:
    try:
        return get_dataset(dataset).name
    except UnknownDataset as exc:
        raise InvalidField(str(exc), field) from None


def resolve_scaling(scaling: str, field: str = "scaling") -> str:
    try:
        return get_scaling(scaling).name
    except UnknownScaling as exc:
        raise InvalidField(str(exc), field) from None


def resolve_seed(seed: int, field: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidField(f"seed {seed!r} must be an integer in 0..{MAX_SEED} (NB201 used 777, 888, 999)", field)
    return seed


def resolve_precision(precision: str, field: str = "precision") -> str:
    if precision not in PRECISIONS:
        raise InvalidField(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}", field)
    return precision
