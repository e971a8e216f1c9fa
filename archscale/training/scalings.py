"""The scalings, one interface: a registry of ``prepare(...) -> Prepared``.

A scaling decides the network's init, its optimizer and its LR; the protocol decides the
rest (momentum, Nesterov, weight decay on all parameters, schedule). ``prepare`` builds
the model under the global torch RNG, which the engine seeds first.

- ``arch-aware``: the released code's recipe (``archscale.recipes``, ``init.apply_recipe``) and
  one LR for every parameter, ``nb201_lr(cell, base_lr)`` = base * sqrt(S_base / S) (S on the
  cell, L_p = 1 + #convs). A cell with no input->output path raises DegenerateArchitecture.
- ``arch-aware-derived``: the same LR rule with the appendix derivation's init recipe.
- ``standard-tuned``: NB201's init at one LR per (dataset, protocol), found by the same 1-epoch
  search on the same base cell as arch-aware's base LR (the same tuning budget).
- ``per-arch-searched``: the released recipe's init at the cell's own 1-epoch maximal LR (the
  oracle the rule approximates); the engine searches it first and passes it as ``base_lr``.
- ``standard``: NB201's own: PyTorch default init, the protocol's LR (0.1).
- ``mup``: microsoft/mup: classifier -> MuReadout, ``set_base_shapes(model, base, delta)`` with
  base width C=1 and delta width C=2 (the mup README's basic usage; width = the stem's C,
  stages have C, 2C, 4C), MuSGD at the protocol's LR (0.1, as the paper's App. E.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from archscale.protocols import Protocol
from archscale.scaling import nb201_lr
from archscale.space import Cell, format_arch

from .init import apply_recipe
from .network import NB201Network, build_network
from .spec import DegenerateArchitecture

__all__ = ["Prepared", "SCALERS", "prepare", "MUP_BASE_C", "MUP_DELTA_C", "check_not_degenerate",
           "RECIPE_SCALINGS", "BASE_LR_SCALINGS"]

#: Scalings whose init is a named recipe (archscale.recipes) and whose LR follows the rule.
RECIPE_SCALINGS = {"arch-aware": "arch-aware", "arch-aware-derived": "arch-aware-derived"}
#: Scalings that need a base LR from the base-LR table (keyed by the scaling's name).
BASE_LR_SCALINGS = ("arch-aware", "arch-aware-derived", "standard-tuned")

MUP_BASE_C = 1
MUP_DELTA_C = 2


@dataclass
class Prepared:
    model: NB201Network
    optimizer: torch.optim.Optimizer
    lr: float  # the scaling's LR for the network (before the schedule)
    init: dict[str, Any] = field(default_factory=dict)
    lr_info: dict[str, Any] = field(default_factory=dict)


def _sgd(params, lr: float, protocol: Protocol, impl=torch.optim.SGD) -> torch.optim.Optimizer:
    return impl(params, lr=lr, momentum=protocol.momentum, nesterov=protocol.nesterov,
                weight_decay=protocol.weight_decay)


def check_not_degenerate(cell: Cell) -> None:
    if nb201_lr(cell, base_lr=1.0).degenerate:
        raise DegenerateArchitecture(
            f"arch {format_arch(cell)} has no input->output path through non-zero edges (S = 0): the "
            "arch-aware LR rule is undefined for it. Train it with scaling 'standard' or 'mup' instead; "
            "NB201 itself trained such cells (they output a constant and reach chance accuracy)")


def _recipe(name: str) -> Callable[..., Prepared]:
    def scaler(cell: Cell, num_classes: int, protocol: Protocol, base_lr: float | None,
               init_degree: str | None) -> Prepared:
        if base_lr is None:
            raise ValueError(f"{name} needs a base LR (resolve it with base_lr.resolve_base_lr)")
        check_not_degenerate(cell)
        rule = nb201_lr(cell, base_lr=base_lr)
        model = build_network(cell, num_classes, protocol.C, protocol.N)
        init = apply_recipe(model, RECIPE_SCALINGS[name], init_degree)  # type: ignore[arg-type]
        return Prepared(model, _sgd(model.parameters(), rule.lr, protocol), rule.lr, init,
                        {"rule": "base_lr * sqrt(S_base / S)", "S": rule.s, "S_base": rule.s_base,
                         "num_paths": rule.num_paths, "base_lr": base_lr})
    return scaler


def _standard_tuned(cell: Cell, num_classes: int, protocol: Protocol, base_lr: float | None,
                    init_degree: str | None) -> Prepared:
    if base_lr is None:
        raise ValueError("standard-tuned needs its searched LR (resolve it with base_lr.resolve_base_lr)")
    model = build_network(cell, num_classes, protocol.C, protocol.N)
    return Prepared(model, _sgd(model.parameters(), base_lr, protocol), base_lr, {"scheme": "pytorch-default"},
                    {"rule": "one searched LR for every cell (base-cell 1-epoch search)", "base_lr": base_lr})


def _per_arch_searched(cell: Cell, num_classes: int, protocol: Protocol, base_lr: float | None,
                       init_degree: str | None) -> Prepared:
    if base_lr is None:
        raise ValueError("per-arch-searched needs the cell's searched LR (the engine searches it first)")
    model = build_network(cell, num_classes, protocol.C, protocol.N)
    init = apply_recipe(model, "arch-aware")
    return Prepared(model, _sgd(model.parameters(), base_lr, protocol), base_lr, init,
                    {"rule": "the cell's own 1-epoch maximal LR (grid search, see lr_search)", "lr": base_lr})


def _standard(cell: Cell, num_classes: int, protocol: Protocol, base_lr: float | None,
              init_degree: str | None) -> Prepared:
    model = build_network(cell, num_classes, protocol.C, protocol.N)
    return Prepared(model, _sgd(model.parameters(), protocol.lr, protocol), protocol.lr,
                    {"scheme": "pytorch-default"}, {"rule": "protocol LR"})


def _mup_network(cell: Cell, num_classes: int, C: int, N: int) -> NB201Network:
    from mup import MuReadout

    model = build_network(cell, num_classes, C, N)
    model.classifier = MuReadout(model.classifier.in_features, num_classes)
    return model


def _mup(cell: Cell, num_classes: int, protocol: Protocol, base_lr: float | None, init_degree: str | None) -> Prepared:
    from mup import MuSGD, set_base_shapes

    model = _mup_network(cell, num_classes, protocol.C, protocol.N)
    with torch.device("meta"):  # base/delta only lend their shapes
        base = _mup_network(cell, num_classes, MUP_BASE_C, protocol.N)
        delta = _mup_network(cell, num_classes, MUP_DELTA_C, protocol.N)
    set_base_shapes(model, base, delta=delta)
    return Prepared(model, _sgd(model.parameters(), protocol.lr, protocol, impl=MuSGD), protocol.lr,
                    {"scheme": "mup", "readout": "MuReadout", "base_C": MUP_BASE_C, "delta_C": MUP_DELTA_C,
                     "target_C": protocol.C}, {"rule": "MuSGD at the protocol LR"})


SCALERS: dict[str, Callable[..., Prepared]] = {
    "arch-aware": _recipe("arch-aware"), "arch-aware-derived": _recipe("arch-aware-derived"),
    "standard": _standard, "standard-tuned": _standard_tuned, "per-arch-searched": _per_arch_searched, "mup": _mup}


def prepare(scaling: str, cell: Cell, num_classes: int, protocol: Protocol, base_lr: float | None = None,
            init_degree: str | None = None) -> Prepared:
    try:
        scaler = SCALERS[scaling]
    except KeyError:
        raise ValueError(f"scaling: unknown {scaling!r}; use one of {', '.join(SCALERS)}") from None
    return scaler(cell, num_classes, protocol, base_lr, init_degree)
