"""The architecture-aware initialisation (Chen et al. 2024, §3.2, App. A) on the NB201 network.

Every conv/linear weight of edge l' -> l is drawn from N(0, C / fan_in) with C = 2 / d_in
(``archscale.scaling.init_multipliers``); fan_in = in_channels * k * k. Which DAG each module
belongs to (see docs/training.md):
- cell convs: the 4-vertex cell DAG (none -> zero edge, skip/avg-pool -> identity, convs -> layer);
- reduction block: its own DAG 0 -conv_a-> 1 -conv_b-> 2 and 0 -shortcut-> 2 (the AvgPool+Conv1x1);
  target in-degrees give conv_a 2, conv_b 1, shortcut 1 (the released code used 1, 2, 1);
- stem: a single layer fed by the input (d_in = 1): C = 2, i.e. He init;
- classifier (the output layer): mean-field, N(0, C / fan_in^2) with C = 2 (eq. 2; the released
  code draws std = 2 / fan_in, i.e. variance 4 / fan_in^2); bias 0.
BatchNorm: weight 1, bias 0 (PyTorch's default, as the released code).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from archscale.dag import from_edges, from_nb201
from archscale.scaling import Degree, init_multipliers
from archscale.space import EDGES

from .network import NB201Cell, NB201Network, ReLUConvBN, ResNetBasicBlock

__all__ = ["REDUCTION_BLOCK_DAG", "reduction_multipliers", "arch_aware_init", "conv_std"]

#: The reduction block as a DAG: (src, dst, kind, kernel); vertex 2 sums conv_b and the shortcut.
REDUCTION_BLOCK_DAG = from_edges(3, [(0, 1, "layer", 3), (1, 2, "layer", 3), (0, 2, "layer", 1)])
_BLOCK_EDGES = {"conv_a": (0, 1), "conv_b": (1, 2), "shortcut": (0, 2)}
STEM_MULTIPLIER = 2.0  # input -> stem: in-degree 1
READOUT_MULTIPLIER = 2.0  # output vertex: in-degree 1


def reduction_multipliers(degree: Degree = "target") -> dict[str, float]:
    mult = init_multipliers(REDUCTION_BLOCK_DAG, degree)
    return {name: mult[edge] for name, edge in _BLOCK_EDGES.items()}


def conv_std(weight: torch.Tensor, multiplier: float) -> float:
    fan_in = weight.shape[1] * math.prod(weight.shape[2:])
    return math.sqrt(multiplier / fan_in)


@torch.no_grad()
def _normal(weight: torch.Tensor, multiplier: float) -> None:
    weight.normal_(0.0, conv_std(weight, multiplier))


@torch.no_grad()
def arch_aware_init(model: NB201Network, degree: Degree = "target") -> dict[str, Any]:
    """Re-initialise ``model`` in place (uses the global torch RNG); return what was applied."""
    cell_mult = init_multipliers(from_nb201(model.cell), degree)
    block_mult = reduction_multipliers(degree)
    _normal(model.stem[0].weight, STEM_MULTIPLIER)
    for block in model.cells:
        if isinstance(block, NB201Cell):
            for edge, layer in zip(EDGES, block.layers):
                if isinstance(layer, ReLUConvBN):
                    _normal(layer.conv.weight, cell_mult[edge])
        elif isinstance(block, ResNetBasicBlock):
            _normal(block.conv_a.conv.weight, block_mult["conv_a"])
            _normal(block.conv_b.conv.weight, block_mult["conv_b"])
            _normal(block.downsample[1].weight, block_mult["shortcut"])
    fan_in = model.classifier.weight.shape[1]
    model.classifier.weight.normal_(0.0, math.sqrt(READOUT_MULTIPLIER) / fan_in)
    if model.classifier.bias is not None:
        model.classifier.bias.zero_()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()  # weight 1, bias 0, fresh running stats
    return {
        "scheme": "arch-aware",
        "degree": degree,
        "rule": "conv/linear weight ~ N(0, C/fan_in), C = 2/d_in; classifier N(0, C/fan_in^2), C = 2",
        "stem": STEM_MULTIPLIER,
        "cell_edges": {f"{s}->{d}": c for (s, d), c in sorted(cell_mult.items())},
        "reduction": block_mult,
        "classifier": READOUT_MULTIPLIER,
        "batchnorm": "weight 1, bias 0",
    }
