"""Each recipe's per-layer init variances on a small network, exactly (archscale.recipes)."""

from __future__ import annotations

import math

import pytest
import torch

from archscale.recipes import DEFAULT_RECIPE, RECIPES, get_recipe, recipe_table
from archscale.training.init import apply_recipe
from archscale.training.network import build_network

# every vertex has a different in-degree: v1 1, v2 2, v3 3 (vertex 0 counts 1); all six edges are convs
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
EDGE_ORDER = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]

# C per cell edge: released = 2 / in-degree of the source (models/cells.py degrees[0][op_in]);
# derived = 2 / in-degree of the target (App. A eq. 12)
CELL_C = {"arch-aware": [2, 2, 2, 2, 2, 1], "arch-aware-derived": [2, 1, 1, 2 / 3, 2 / 3, 2 / 3]}
# (conv_a, conv_b, shortcut): released _init degrees 2, 1, 2 -> C 1, 2, 1; derived 2, 1, 1
BLOCK_C = {"arch-aware": (1, 2, 1), "arch-aware-derived": (2, 1, 1)}
# classifier: released std = (sqrt 2 / sqrt fan)^2 = 2 / fan -> variance 4 / fan^2; derived 2 / fan^2
READOUT = {"arch-aware": 4, "arch-aware-derived": 2}


def expected_table(recipe: str, C: int = 4) -> list[tuple[str, float]]:
    """Hand-written: (parameter, variance) for build_network(ALL_CONV, 10, C=4, N=1)."""
    rows = [("stem.0.weight", 2 / (3 * 9))]
    channels = [C, 2 * C, 4 * C]
    block = 0
    for stage, c in enumerate(channels):
        if stage:
            c_in = channels[stage - 1]
            a, b, s = BLOCK_C[recipe]
            rows += [(f"cells.{block}.conv_a.op.1.weight", a / (c_in * 9)),
                     (f"cells.{block}.conv_b.op.1.weight", b / (c * 9)),
                     (f"cells.{block}.downsample.1.weight", s / c_in)]
            block += 1
        rows += [(f"cells.{block}.layers.{j}.op.1.weight", CELL_C[recipe][j] / (c * 9)) for j in range(6)]
        block += 1
    rows.append(("classifier.weight", READOUT[recipe] / (4 * C) ** 2))
    return rows


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_per_layer_variances_are_exactly_the_recipes(recipe):
    model = build_network(ALL_CONV, 10, C=4, N=1)
    torch.manual_seed(0)
    info = apply_recipe(model, recipe)
    params = dict(model.named_parameters())
    table = expected_table(recipe)
    weights = [name for name, p in model.named_parameters() if p.dim() > 1]
    assert [name for name, _ in table] == weights  # the table covers every conv/linear weight, in draw order
    torch.manual_seed(0)  # the same stream, drawn standard-normal: weight / z is the std itself
    for name, variance in table:
        z = torch.empty_like(params[name]).normal_(0.0, 1.0)
        ratio = params[name].detach() / z
        assert torch.allclose(ratio, torch.full_like(ratio, math.sqrt(variance)), rtol=1e-5), name
    assert torch.count_nonzero(model.classifier.bias) == 0
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert torch.equal(module.weight, torch.ones_like(module.weight))
            assert torch.count_nonzero(module.bias) == 0
    assert info["recipe_fingerprint"] == get_recipe(recipe).fingerprint


def test_recipes_differ_exactly_where_the_released_code_and_the_derivation_do():
    released, derived = get_recipe("arch-aware"), get_recipe("arch-aware-derived")
    assert DEFAULT_RECIPE == "arch-aware"  # the paper's figures came from the released code
    assert (released.cell_degree, derived.cell_degree) == ("source", "target")
    assert (released.reduction, derived.reduction) == ((1.0, 2.0, 1.0), (2.0, 1.0, 1.0))
    assert (released.classifier_variance_numerator, derived.classifier_variance_numerator) == (4.0, 2.0)
    assert released.stem == derived.stem == 2.0
    assert released.fingerprint != derived.fingerprint
    assert {row["component"] for row in recipe_table()} >= {"cell convs", "reduction block", "stem", "classifier",
                                                             "batchnorm", "biases", "lr rule"}


def test_degree_override_changes_only_the_cell_convs():
    torch.manual_seed(1)
    model = build_network(ALL_CONV, 10, C=4, N=1)
    info = apply_recipe(model, "arch-aware-derived", degree="source")
    assert info["degree"] == "source" and info["cell_edges"]["2->3"] == 1.0 and info["reduction"]["conv_a"] == 2.0
