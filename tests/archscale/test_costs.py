import pytest

from archscale.costs import network_cost
from archscale.space import parse_arch

BEST = 6111
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_best_cifar10_cell_has_nb201s_parameter_count():
    assert network_cost(BEST, dataset="cifar10").params == 1_073_466


def test_skeleton_cost_without_any_conv():
    # stem 3*16*9 + BN, two ResNet blocks, last BN, classifier: nothing from the cells
    cost = network_cost(ALL_NONE, dataset="cifar10")
    stem = 432 + 32
    block1 = 9 * 16 * 32 + 9 * 32 * 32 + 16 * 32 + 4 * 32
    block2 = 9 * 32 * 64 + 9 * 64 * 64 + 32 * 64 + 4 * 64
    assert cost.params == stem + block1 + block2 + 128 + 64 * 10 + 10


def test_classes_and_resolution_change_head_and_flops():
    c10, c100, i16 = (network_cost(BEST, dataset=d) for d in ("cifar10", "cifar100", "ImageNet16-120"))
    assert c100.params - c10.params == 90 * 65
    assert i16.params - c10.params == 110 * 65
    # 16x16 input: every conv runs on a quarter of the pixels
    assert i16.flops < c10.flops / 3.9


def test_one_conv3x3_adds_its_weights_per_stage():
    base = network_cost(ALL_NONE, dataset="cifar10")
    one = network_cost("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", dataset="cifar10")
    per_stage = [9 * c * c + 2 * c for c in (16, 32, 64)]
    assert one.params - base.params == 5 * sum(per_stage)
    assert one.flops - base.flops == 5 * sum(9 * c * c * hw * hw for c, hw in ((16, 32), (32, 16), (64, 8)))


def test_needs_dataset_or_shape():
    with pytest.raises(ValueError, match="pass dataset"):
        network_cost(parse_arch(ALL_NONE))
