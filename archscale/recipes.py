"""Initialisation recipes as named, versioned, fingerprinted data (pure Python).

A recipe says, component by component, how the NB201 network is initialised and which LR
rule it trains with; ``archscale.training.init.apply_recipe`` applies it to tensors. Two
recipes implement Chen et al. (ICLR 2024) on NB201 and differ where the paper's appendix and
its released code (VITA-Group/principled_scaling_lr_init) differ:

- ``arch-aware`` (the default): the released code's NB201 recipe, which produced the paper's
  NB201 figures. ``models/utils.py`` ``_init``/``critic_init_``: every Conv/Linear weight
  ~ N(0, std^2), std = sqrt(2) / sqrt(degree) / sqrt(fan_in) (MODE = 'fan_in', gain of ReLU),
  i.e. variance 2 / (d * fan_in); ``std_power=2`` for the classifier squares the *std*, so
  std = 2 / fan_in (variance 4 / fan_in^2). ``models/cells.py`` ``InferCell``: d = in-degree of
  the edge's *source* vertex (``degrees[0][op_in]``, vertex 0 counts 1, an in-degree counts every
  non-``none`` edge). ``models/cell_operations.py`` ``ResNetBasicblock``: conv_a d = 2, conv_b
  d = 1, shortcut conv d = 2 (C = 1 / 2 / 1). ``models/tiny_network.py``: stem d = 1, lastact
  BN and every BN weight 1 / bias 0, classifier bias 0. ``main.py``: one SGD LR for all
  parameters, lr = base * (sum_p L_p^3)^-1/2 / (sum_base L^3)^-1/2 with L_p = 1 + #convs on p.
- ``arch-aware-derived``: the appendix derivation (eq. 11-12), this project's behaviour before
  recipes existed: *target* in-degree for cell convs, the reduction block as its own DAG
  (conv_a 2, conv_b 1, shortcut 1), classifier variance 2 / fan_in^2 (eq. 2 with C = 2).

Each component lists the paper equation or released-code line it follows (docs/science.md
renders the table). ``version`` changes whenever a component's meaning changes; the
fingerprint (sha256 of every field) goes into every run's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .errors import UnknownName

__all__ = ["Recipe", "Component", "RECIPES", "DEFAULT_RECIPE", "get_recipe", "UnknownRecipe", "recipe_table"]


class UnknownRecipe(UnknownName):
    pass


@dataclass(frozen=True)
class Component:
    """One part of the network: what it gets and which source line says so."""

    value: Any
    source: str


@dataclass(frozen=True)
class Recipe:
    """How to initialise NB201 and set its LR. Multipliers C give weight variance C / fan_in."""

    name: str
    version: int
    description: str
    cell_degree: Literal["source", "target"]  # which vertex's in-degree d gives C = 2 / d
    reduction: tuple[float, float, float]  # C of conv_a, conv_b, shortcut conv
    stem: float  # C of the stem conv
    classifier_variance_numerator: float  # classifier weight variance = this / fan_in^2
    sources: tuple[tuple[str, str], ...]  # (component, paper equation / released-code line)
    batchnorm: str = "weight 1, bias 0, fresh running stats"
    biases: str = "classifier bias 0 (no other layer has a bias)"
    lr_rule: str = "one LR for all parameters: base * sqrt(S_base / S), S = sum_p L_p^3 on the cell, L_p = 1 + #convs"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


_RELEASED = "VITA-Group/principled_scaling_lr_init"
RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "arch-aware", 1,
            "the released code's NB201 recipe (what the paper's NB201 figures used)",
            cell_degree="source", reduction=(1.0, 2.0, 1.0), stem=2.0, classifier_variance_numerator=4.0,
            sources=(
                ("cell convs", f"{_RELEASED} models/cells.py InferCell: _init(layer, degree=degrees[0][op_in]) "
                               "(source in-degree; paper eq. 4)"),
                ("reduction block", f"{_RELEASED} models/cell_operations.py ResNetBasicblock: _init(conv_a, "
                                    "degree=2), _init(conv_b, degree=1), _init(downsample, degree=2)"),
                ("stem", f"{_RELEASED} models/tiny_network.py: _init(self.stem, degree=1)"),
                ("classifier", f"{_RELEASED} models/tiny_network.py: _init(classifier, std_power=2) -> "
                               "std = 2/fan_in (variance 4/fan_in^2)"),
                ("batchnorm", f"{_RELEASED} models/utils.py _init: BN weight 1, bias 0"),
                ("biases", f"{_RELEASED} models/utils.py _init: Linear/Conv bias 0"),
                ("lr rule", f"{_RELEASED} main.py auto_scale_lr_depth_width, code012_201, DEPTHS_BASE=[1]"),
            )),
        Recipe(
            "arch-aware-derived", 1,
            "the appendix derivation: target in-degree, reduction block as its own DAG, classifier 2/fan_in^2",
            cell_degree="target", reduction=(2.0, 1.0, 1.0), stem=2.0, classifier_variance_numerator=2.0,
            sources=(
                ("cell convs", "paper App. A eq. 11-12: C = 2 / d_in of the target vertex"),
                ("reduction block", "eq. 12 on the block's DAG 0-conv_a->1-conv_b->2, 0-shortcut->2 "
                                    "(target in-degrees 1, 1, 2 -> C of conv_a 2, conv_b 1, shortcut 1)"),
                ("stem", "eq. 12: the first layer, in-degree 1 -> C = 2 (He)"),
                ("classifier", "eq. 2 (mean-field readout): N(0, C / fan_in^2), C = 2"),
                ("batchnorm", "not in the derivation; PyTorch default weight 1, bias 0"),
                ("biases", "eq. 2-4: biases 0"),
                ("lr rule", "paper eq. 8 with the released code's NB201 convention (S on one cell)"),
            )),
    )
}
#: The paper's figures were produced by the released code: its recipe is the default.
DEFAULT_RECIPE = "arch-aware"


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise UnknownRecipe(f"unknown recipe {name!r}; use one of {', '.join(RECIPES)}") from None


def recipe_table() -> list[dict[str, str]]:
    """Rows recipe x component x source line (docs/science.md prints this table)."""
    return [{"recipe": r.key, "component": comp, "source": src} for r in RECIPES.values() for comp, src in r.sources]
