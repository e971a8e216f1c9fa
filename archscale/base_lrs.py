"""Base learning rates as data with provenance (pure Python: the API reads them without torch).

A base LR belongs to a (dataset, recipe, protocol): the recipe is the scaling that uses it
(``arch-aware``, ``arch-aware-derived`` or ``standard-tuned``) because the 1-epoch search
trains the base cell under that scaling's init, and the protocol fixes batch, augmentation
and optimiser. Each entry says where the number comes from (``origin``):

- ``searched``: paper §4 step 1, run by ``rebench base-lr``: the base cell
  (``NB201_BASE_CELL``, S = 1) trained one epoch per grid LR, one run per seed; the
  criterion is the mean training cross-entropy over that epoch (the ``train_loss`` the
  released ``main.py`` logs); seeds combine by the mean of their losses at each LR (an LR
  where any seed diverged is out); the base LR is the largest LR whose mean is the smallest;
- ``released-default``: 0.46, the released code's ``--lr`` default and README example for
  CIFAR-10 (found under the released init; the paper reports no number);
- ``manual``: set by hand (e.g. demo protocols), with a note saying why.

``archscale/data/base_lrs.json`` ships the reference entries (docs/science.md, "Base LRs");
the service loads them into its ``base_lrs`` table, and searches add rows there.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

__all__ = ["BaseLREntry", "ORIGINS", "BASE_LR_RECIPES", "CRITERION", "SEED_COMBINATION", "reference_entries",
           "lookup_reference", "active_reference_values", "ORIGIN_PRECEDENCE", "FULL_SEARCH_SEEDS", "precedence",
           "pick_base_lr", "combine_seeds", "fix_command", "NoBaseLR"]

ORIGINS = ("searched", "released-default", "manual")
#: Which entry is in force when several exist for one (dataset, recipe, protocol): a hand-set value,
#: then a complete search (>= FULL_SEARCH_SEEDS seeds, as the paper's NB201 seeds), then the released
#: code's default, then a partial search (fewer seeds: it does not override the released default).
ORIGIN_PRECEDENCE = ("manual", "searched", "released-default")
FULL_SEARCH_SEEDS = 3


def precedence(origin: str, seeds: list[int] | tuple[int, ...]) -> int:
    """Sort key: the entry with the smallest value is in force."""
    if origin == "searched" and len(seeds) < FULL_SEARCH_SEEDS:
        return len(ORIGIN_PRECEDENCE)
    return ORIGIN_PRECEDENCE.index(origin)
#: Scalings whose LR comes from a base LR (the table's ``recipe`` column).
BASE_LR_RECIPES = ("arch-aware", "arch-aware-derived", "standard-tuned")
CRITERION = "mean training cross-entropy over the epoch (released main.py train_loss); largest LR at the minimum"
SEED_COMBINATION = "mean over seeds of the per-seed loss at each LR; an LR where any seed diverged is excluded"


class NoBaseLR(LookupError):
    """No base LR for (dataset, recipe, protocol); the message names the command that finds one."""


def fix_command(dataset: str, recipe: str, protocol: str) -> str:
    return f"rebench base-lr --dataset {dataset} --recipe {recipe} --protocol {protocol} --seeds 777 888 999"


@dataclass(frozen=True)
class BaseLREntry:
    dataset: str
    recipe: str
    protocol: str  # protocol name (its key with version in ``protocol_key``)
    value: float
    origin: str
    protocol_key: str = ""
    grid: list[float] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)  # seed -> loss per grid LR (NaN: diverged)
    seeds: list[int] = field(default_factory=list)
    criterion: str = ""
    code_version: str = ""
    hardware: str = ""
    created_at: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"origin: {self.origin!r} is not one of {', '.join(ORIGINS)}")
        if not (isinstance(self.value, (int, float)) and self.value > 0 and math.isfinite(self.value)):
            raise ValueError(f"value: {self.value!r} must be a positive finite LR")

    @property
    def key(self) -> tuple[str, str, str]:
        return self.dataset, self.recipe, self.protocol

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseLREntry:
        return cls(**data)


def reference_entries() -> list[BaseLREntry]:
    """The shipped entries (archscale/data/base_lrs.json)."""
    text = resources.files("archscale").joinpath("data/base_lrs.json").read_text()
    return [BaseLREntry.from_dict(row) for row in json.loads(text)["entries"]]


def lookup_reference(dataset: str, recipe: str, protocol: str) -> BaseLREntry:
    """The shipped entry in force for the key (by ``ORIGIN_PRECEDENCE``)."""
    found = sorted((e for e in reference_entries() if e.key == (dataset, recipe, protocol)),
                   key=lambda e: precedence(e.origin, e.seeds))
    if found:
        return found[0]
    raise NoBaseLR(f"no base LR for dataset {dataset!r}, recipe {recipe!r}, protocol {protocol!r}; "
                   f"run `{fix_command(dataset, recipe, protocol)}` (or pass base_lr explicitly)")


def active_reference_values(recipe: str, protocol: str) -> dict[str, float]:
    """dataset -> the shipped value in force for (recipe, protocol)."""
    out: dict[str, float] = {}
    for dataset in sorted({e.dataset for e in reference_entries() if (e.recipe, e.protocol) == (recipe, protocol)}):
        out[dataset] = lookup_reference(dataset, recipe, protocol).value
    return out


def combine_seeds(grid: list[float], losses: dict[str, list[float]]) -> list[float]:
    """Mean loss per grid LR over seeds; NaN where any seed diverged (non-finite)."""
    out = []
    for i, _lr in enumerate(grid):
        values = [seed_losses[i] for seed_losses in losses.values()]
        out.append(sum(values) / len(values) if values and all(math.isfinite(v) for v in values) else math.nan)
    return out


def pick_base_lr(grid: list[float], losses: dict[str, list[float]]) -> float:
    """The largest LR whose seed-mean loss is the smallest finite one."""
    means = combine_seeds(grid, losses)
    finite = [(lr, m) for lr, m in zip(grid, means) if math.isfinite(m)]
    if not finite:
        raise ValueError("every grid LR diverged in some seed (non-finite loss); lower the grid (--grid)")
    best = min(m for _lr, m in finite)
    return max(lr for lr, m in finite if m == best)
