"""The two rules of Chen et al. (ICLR 2024), as pure functions of the graph.

Init (§3.2, App. A): the weight of edge l' -> l is drawn from N(0, C / fan_in) with
C = 2 / d_in, d_in an in-degree. ``degree="target"`` uses the in-degree of l (the
derivation, eq. 11-12), ``degree="source"`` that of l' (eq. 4 and the released code).

LR (§3.3-3.4, App. B-C):  eta_target = eta_base * sqrt(S_base / S_target) * (q_base / q_target)
with S = sum over input->output paths of L_p^3 and the kernel factor optional.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from .base_lrs import active_reference_values
from .dag import DAG, Edge, PathMoments, from_nb201, path_moments
from .space import Cell, parse_arch, resolve_arch

__all__ = [
    "Degree",
    "init_multiplier",
    "init_multipliers",
    "sum_l3",
    "scaled_lr",
    "LRRule",
    "LRResult",
    "NB201_BASE_CELL",
    "NB201_BASE_LRS",
    "NB201_RULE",
    "nb201_lr",
    "UnknownBaseLR",
]

Degree = Literal["target", "source"]


def _degree_vertex(edge: Edge, degree: Degree) -> int:
    if degree == "target":
        return edge.dst
    if degree == "source":
        return edge.src
    raise ValueError(f"degree={degree!r}: use 'target' (the derivation) or 'source' (the released code)")


def init_multiplier(dag: DAG, edge: Edge, degree: Degree = "target") -> float:
    """C = 2 / d_in for a layer edge; d_in counts live edges and is at least 1 (the input)."""
    return 2.0 / max(dag.in_degrees()[_degree_vertex(edge, degree)], 1)


def init_multipliers(dag: DAG, degree: Degree = "target") -> dict[tuple[int, int], float]:
    """C for every layer edge, keyed by (src, dst)."""
    degrees = dag.in_degrees()
    return {(e.src, e.dst): 2.0 / max(degrees[_degree_vertex(e, degree)], 1) for e in dag.layer_edges}


def sum_l3(dag: DAG, offset: int = 1) -> int:
    """S = sum over input->output paths of L_p^3 (0 when no path exists)."""
    return path_moments(dag, offset)[dag.output].s3


def scaled_lr(base_lr: float, s_base: int, s_target: int, q_base: int = 1, q_target: int = 1) -> float:
    """eta_base * sqrt(S_base / S_target) * (q_base / q_target); S_target must be positive."""
    if s_target <= 0 or s_base <= 0:
        raise ValueError("S must be positive: a network without an input->output path has no LR under this rule")
    return base_lr * math.sqrt(s_base / s_target) * (q_base / q_target)


class UnknownBaseLR(LookupError):
    """No base LR is known for a dataset: search one or pass it explicitly."""


@dataclass(frozen=True)
class LRResult:
    """The rule's answer for one network; ``lr`` is None exactly when ``degenerate``."""

    lr: float | None
    s: int
    num_paths: int
    base_lr: float
    s_base: int
    degenerate: bool
    reason: str = ""


@dataclass(frozen=True)
class LRRule:
    """base/target bookkeeping: the base network's S and q, and how L is counted."""

    s_base: int
    offset: int = 1  # L_p = offset + number of layer edges on p
    q_base: int = 1
    kernel_factor: bool = False  # multiply by q_base / q_target (paper eq. 9)
    base_lrs: dict[str, float] = field(default_factory=dict)

    def base_lr_for(self, dataset: str) -> float:
        try:
            return self.base_lrs[dataset]
        except KeyError:
            raise UnknownBaseLR(
                f"no base LR known for dataset {dataset!r} (known: {sorted(self.base_lrs)}); run "
                f"`rebench base-lr --dataset {dataset}` or pass base_lr explicitly") from None

    def lr(self, dag: DAG, base_lr: float, q: int | None = None) -> LRResult:
        return self.lr_from_moments(path_moments(dag, self.offset)[dag.output], base_lr,
                                    q if q is not None or not self.kernel_factor else dag.kernel_size())

    def lr_from_moments(self, top: PathMoments, base_lr: float, q: int | None = None) -> LRResult:
        """The rule from the output vertex's path moments (q: the target's kernel size)."""
        if top.count == 0:
            return LRResult(None, 0, 0, base_lr, self.s_base, True,
                            "no input->output path through non-zero edges: the LR rule is undefined")
        factor = 1.0
        if self.kernel_factor:
            if q is None:
                raise ValueError("kernel_factor=True needs the target's kernel size q")
            factor = self.q_base / q
        return LRResult(base_lr * math.sqrt(self.s_base / top.s3) * factor, top.s3, top.count,
                        base_lr, self.s_base, False)


#: The paper's NB201 base cell: one chain of skips, S = 1.
NB201_BASE_CELL: Cell = parse_arch("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
#: arch-aware base LRs in force for protocol nb201-200, per dataset, from the reference entries
#: (archscale/base_lrs.py: CIFAR-10's 0.46 is the released code's default argument unless a
#: search is shipped). Others: run `rebench base-lr`; the service reads its base_lrs table.
NB201_BASE_LRS: dict[str, float] = active_reference_values("arch-aware", "nb201-200")
#: The released code's NB201 convention: S on one cell, L_p = 1 + #convs, no kernel factor.
NB201_RULE = LRRule(s_base=sum_l3(from_nb201(NB201_BASE_CELL)), offset=1, kernel_factor=False,
                    base_lrs=NB201_BASE_LRS)


def nb201_lr(arch: Cell | str | int, dataset: str = "cifar10", base_lr: float | None = None) -> LRResult:
    """The architecture-aware LR of an NB201 cell under the paper's released convention."""
    cell = resolve_arch(arch)
    lr0 = NB201_RULE.base_lr_for(dataset) if base_lr is None else base_lr
    return NB201_RULE.lr(from_nb201(cell), lr0)

