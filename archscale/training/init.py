"""Initialisation recipes (``archscale.recipes``) applied to the NB201 network's tensors.

Every conv/linear weight gets N(0, C / fan_in), fan_in = in_channels * k * k, with C from
the recipe: cell convs C = 2 / d (d the in-degree of the edge's source or target vertex,
``archscale.scaling.init_multipliers``), the reduction block's (conv_a, conv_b, shortcut),
the stem's; the classifier N(0, v / fan_in^2) with the recipe's v (4 in the released code,
2 in the derivation); classifier bias 0; every BatchNorm weight 1, bias 0, fresh stats.
See docs/science.md for the table recipe x component x source line.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from archscale.dag import from_edges, from_nb201
from archscale.recipes import Recipe, get_recipe
from archscale.scaling import Degree, init_multipliers
from archscale.space import EDGES

from .network import NB201Cell, NB201Network, ReLUConvBN, ResNetBasicBlock

__all__ = ["REDUCTION_BLOCK_DAG", "reduction_multipliers", "apply_recipe", "arch_aware_init", "conv_std",
           "expected_variances"]

#: The reduction block as a DAG: (src, dst, kind, kernel); vertex 2 sums conv_b and the shortcut.
REDUCTION_BLOCK_DAG = from_edges(3, [(0, 1, "layer", 3), (1, 2, "layer", 3), (0, 2, "layer", 1)])
_BLOCK_EDGES = {"conv_a": (0, 1), "conv_b": (1, 2), "shortcut": (0, 2)}


def reduction_multipliers(degree: Degree = "target") -> dict[str, float]:
    """The derivation's C for the block's convs (target degree: 2, 1, 1)."""
    mult = init_multipliers(REDUCTION_BLOCK_DAG, degree)
    return {name: mult[edge] for name, edge in _BLOCK_EDGES.items()}


def conv_std(weight: torch.Tensor, multiplier: float) -> float:
    fan_in = weight.shape[1] * math.prod(weight.shape[2:])
    return math.sqrt(multiplier / fan_in)


def expected_variances(model: NB201Network, recipe: Recipe | str, degree: Degree | None = None
                       ) -> dict[str, float]:
    """Parameter name -> the weight variance ``apply_recipe`` draws from (tests compare to it)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    cell_mult = init_multipliers(from_nb201(model.cell), degree or recipe.cell_degree)
    block = dict(zip(("conv_a", "conv_b", "shortcut"), recipe.reduction))
    out: dict[str, float] = {}

    def put(name: str, weight: torch.Tensor, c: float) -> None:
        out[name] = conv_std(weight, c) ** 2

    put("stem.0.weight", model.stem[0].weight, recipe.stem)
    for i, blk in enumerate(model.cells):
        if isinstance(blk, NB201Cell):
            for j, (edge, layer) in enumerate(zip(EDGES, blk.layers)):
                if isinstance(layer, ReLUConvBN):
                    put(f"cells.{i}.layers.{j}.op.1.weight", layer.conv.weight, cell_mult[edge])
        elif isinstance(blk, ResNetBasicBlock):
            put(f"cells.{i}.conv_a.op.1.weight", blk.conv_a.conv.weight, block["conv_a"])
            put(f"cells.{i}.conv_b.op.1.weight", blk.conv_b.conv.weight, block["conv_b"])
            put(f"cells.{i}.downsample.1.weight", blk.downsample[1].weight, block["shortcut"])
    out["classifier.weight"] = recipe.classifier_variance_numerator / model.classifier.weight.shape[1] ** 2
    return out


@torch.no_grad()
def apply_recipe(model: NB201Network, recipe: Recipe | str, degree: Degree | None = None) -> dict[str, Any]:
    """Re-initialise ``model`` in place (global torch RNG); ``degree`` overrides the cell degree."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    params = dict(model.named_parameters())
    for name, variance in expected_variances(model, recipe, degree).items():
        params[name].normal_(0.0, math.sqrt(variance))
    if model.classifier.bias is not None:
        model.classifier.bias.zero_()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()  # weight 1, bias 0, fresh running stats
    cell_degree = degree or recipe.cell_degree
    cell_mult = init_multipliers(from_nb201(model.cell), cell_degree)
    return {
        "scheme": recipe.name, "recipe": recipe.key, "recipe_fingerprint": recipe.fingerprint,
        "degree": cell_degree,
        "rule": f"conv/linear weight ~ N(0, C/fan_in), C = 2/d_in ({cell_degree} vertex); classifier "
                f"N(0, {recipe.classifier_variance_numerator:g}/fan_in^2)",
        "stem": recipe.stem,
        "cell_edges": {f"{s}->{d}": c for (s, d), c in sorted(cell_mult.items())},
        "reduction": dict(zip(("conv_a", "conv_b", "shortcut"), recipe.reduction)),
        "classifier": recipe.classifier_variance_numerator,
        "batchnorm": recipe.batchnorm,
    }


def arch_aware_init(model: NB201Network, degree: Degree = "target") -> dict[str, Any]:
    """The derivation recipe (kept for callers that predate recipes)."""
    return apply_recipe(model, "arch-aware-derived", degree)
