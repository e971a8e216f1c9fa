import math

import pytest

from archscale.dag import from_adjacency, from_nb201
from archscale.scaling import (
    NB201_BASE_CELL, NB201_RULE, LRRule, UnknownBaseLR, init_multiplier, init_multipliers, nb201_lr,
    scaled_lr, sum_l3,
)
from archscale.space import all_cells

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.mark.parametrize("arch, s, lr", [
    (NB201_BASE_CELL, 1, 0.46), (ALL_SKIP, 4, 0.23), (RESNET, 28, 0.0869), (ALL_CONV, 126, 0.0410),
])
def test_paper_examples(arch, s, lr):
    result = nb201_lr(arch)
    assert result.s == s
    assert result.lr == pytest.approx(lr, abs=5e-5)
    assert not result.degenerate


def test_46_distinct_lrs_and_341_flagged_degenerate_cells():
    results = [nb201_lr(c) for c in all_cells()]
    assert len({r.lr for r in results if not r.degenerate}) == 46
    degenerate = [r for r in results if r.degenerate]
    assert len(degenerate) == 341
    assert all(r.lr is None and r.s == 0 and "undefined" in r.reason for r in degenerate)


def test_base_lr_is_data_and_overridable():
    assert nb201_lr(ALL_SKIP, base_lr=1.0).lr == pytest.approx(0.5)
    assert nb201_lr(ALL_SKIP, dataset="cifar10").lr == pytest.approx(0.23)  # the released default 0.46
    for dataset in ("cifar10-valid", "cifar100"):  # no search shipped: no silent reuse of CIFAR-10's
        with pytest.raises(UnknownBaseLR, match=f"rebench base-lr --dataset {dataset}"):
            nb201_lr(ALL_SKIP, dataset=dataset)


def test_scaled_lr_formula_with_kernel_factor():
    assert scaled_lr(0.1, 8, 2, q_base=3, q_target=5) == pytest.approx(0.1 * 2 * 3 / 5)
    with pytest.raises(ValueError, match="S must be positive"):
        scaled_lr(0.1, 1, 0)


def test_cnn_rule_applies_kernel_factor():
    rule = LRRule(s_base=sum_l3(from_adjacency("2")), kernel_factor=True, q_base=3)
    target = from_adjacency("2_02", kernel=5)  # one path with two layers: L = 1 + 2
    result = rule.lr(target, base_lr=1.0)
    assert result.lr == pytest.approx(math.sqrt(8 / 27) * 3 / 5)


def test_init_multipliers_target_vs_source():
    dag = from_adjacency("2_22_222")  # in-degrees 0, 1, 2, 3
    target = init_multipliers(dag, "target")
    source = init_multipliers(dag, "source")
    assert target[(0, 3)] == target[(2, 3)] == pytest.approx(2 / 3)
    assert source[(0, 3)] == 2.0  # the input counts as in-degree 1
    assert source[(2, 3)] == 1.0
    edge = next(e for e in dag.layer_edges if (e.src, e.dst) == (1, 2))
    assert init_multiplier(dag, edge, "target") == 1.0
    with pytest.raises(ValueError, match="use 'target'"):
        init_multipliers(dag, "middle")


def test_skip_and_pool_count_in_the_in_degree():
    dag = from_nb201("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|nor_conv_1x1~2|")
    assert dag.in_degrees() == [0, 1, 2, 1]
    assert init_multipliers(dag) == {(0, 1): 2.0, (2, 3): 2.0}


def test_nb201_rule_bookkeeping():
    assert NB201_RULE.s_base == 1 and NB201_RULE.offset == 1 and not NB201_RULE.kernel_factor
