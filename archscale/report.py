"""Everything the science core says about one NB201 cell, as plain data.

Used by ``rebench arch`` and by the service when it fills its architecture table.
"""

from __future__ import annotations

from typing import Any

from .costs import network_cost
from .dag import from_nb201, path_moments
from .datasets import get_dataset
from .isomorphism import nb201_unique_key, relabel_key
from .scaling import NB201_RULE, Degree, UnknownBaseLR, init_multipliers
from .space import Cell, format_arch, index_of, resolve_arch

__all__ = ["CSV_COLUMNS", "describe", "summary_row"]

#: Columns of ``rebench arch --all --format csv``.
CSV_COLUMNS = ("index", "arch_str", "unique_key", "relabel_key", "num_paths", "sum_l3", "lr",
               "degenerate", "params", "flops")


def summary_row(cell: Cell, dataset: str = "cifar10", base_lr: float | None = None) -> dict[str, Any]:
    """The flat, CSV-friendly facts about a cell (``lr`` is None when undefined)."""
    spec = get_dataset(dataset)
    dag = from_nb201(cell)
    top = path_moments(dag, NB201_RULE.offset)[dag.output]
    try:
        lr0 = NB201_RULE.base_lr_for(dataset) if base_lr is None else base_lr
    except UnknownBaseLR:
        lr0 = None
    lr = NB201_RULE.lr_from_moments(top, lr0).lr if lr0 is not None else None
    cost = network_cost(cell, spec.num_classes, spec.resolution)
    return {
        "index": index_of(cell),
        "arch_str": format_arch(cell),
        "unique_key": nb201_unique_key(cell),
        "relabel_key": relabel_key(cell),
        "num_paths": top.count,
        "sum_l3": top.s3,
        "lr": lr,
        "degenerate": top.count == 0,
        "params": cost.params,
        "flops": cost.flops,
    }


def describe(arch: Cell | str | int, dataset: str = "cifar10", base_lr: float | None = None,
             degree: Degree = "target") -> dict[str, Any]:
    """``summary_row`` plus the LR bookkeeping, in-degrees and per-edge init multipliers."""
    cell = resolve_arch(arch)
    row = summary_row(cell, dataset, base_lr)
    dag = from_nb201(cell)
    try:
        lr0 = NB201_RULE.base_lr_for(dataset) if base_lr is None else base_lr
        lr_note = "" if not row["degenerate"] else "degenerate cell: no input->output path, the LR rule is undefined"
    except UnknownBaseLR as exc:
        lr0, lr_note = None, str(exc)
    multipliers = init_multipliers(dag, degree)
    row.update(
        dataset=dataset,
        base_lr=lr0,
        s_base=NB201_RULE.s_base,
        lr_note=lr_note,
        in_degrees=dag.in_degrees(),
        init_degree=degree,
        init_multipliers=[
            {"edge": f"{e.src}->{e.dst}", "op": e.label, "C": multipliers[(e.src, e.dst)]}
            for e in dag.layer_edges
        ],
    )
    return row
