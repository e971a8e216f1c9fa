"""The arch-aware init is applied module by module, and the scalings give the documented LRs."""

from __future__ import annotations

import math

import pytest
import torch

from archscale.protocols import get_protocol
from archscale.scaling import NB201_BASE_CELL
from archscale.space import EDGES, parse_arch, resolve_arch
from archscale.training import SCALERS, DegenerateArchitecture, prepare
from archscale.training.init import arch_aware_init, reduction_multipliers
from archscale.training.network import NB201Cell, ResNetBasicBlock, build_network

# every vertex has a different in-degree: 1 (v1), 2 (v2), 3 (v3); all six edges are convs
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
SMOKE = get_protocol("smoke")


def _rel_std(weight: torch.Tensor, expected: float) -> float:
    return abs(weight.std().item() / expected - 1)


@pytest.mark.parametrize("degree", ["target", "source"])
def test_weight_std_follows_the_in_degree_rule(degree):
    torch.manual_seed(0)
    model = build_network(ALL_CONV, 10, C=32, N=1)  # 32x32x9 = 9216 weights per cell conv
    info = arch_aware_init(model, degree)
    d_in = {0: 1, 1: 1, 2: 2, 3: 3}  # in-degrees in the all-conv cell (input counted as 1)
    for block in model.cells:
        if isinstance(block, NB201Cell):
            for (src, dst), layer in zip(EDGES, block.layers):
                w = layer.conv.weight
                c = 2 / d_in[dst if degree == "target" else src]
                assert info["cell_edges"][f"{src}->{dst}"] == pytest.approx(c)
                assert _rel_std(w, math.sqrt(c / (w.shape[1] * 9))) < 0.05, (src, dst)
        else:
            assert isinstance(block, ResNetBasicBlock)
            mult = reduction_multipliers("target")  # the derived recipe's block, whatever the cell degree
            for name, w, k in (("conv_a", block.conv_a.conv.weight, 9), ("conv_b", block.conv_b.conv.weight, 9),
                               ("shortcut", block.downsample[1].weight, 1)):
                assert _rel_std(w, math.sqrt(mult[name] / (w.shape[1] * k))) < 0.05, name
    assert _rel_std(model.stem[0].weight, math.sqrt(2 / 27)) < 0.15  # 864 weights: looser
    w = model.classifier.weight  # mean-field readout: variance 2 / fan_in^2
    assert _rel_std(w, math.sqrt(2) / w.shape[1]) < 0.15
    assert torch.count_nonzero(model.classifier.bias) == 0


def test_reduction_block_multipliers_from_its_dag():
    assert reduction_multipliers("target") == {"conv_a": 2.0, "conv_b": 1.0, "shortcut": 1.0}
    assert reduction_multipliers("source") == {"conv_a": 2.0, "conv_b": 2.0, "shortcut": 2.0}


def test_init_differs_from_pytorch_default():
    torch.manual_seed(0)
    default = build_network(ALL_CONV, 10, C=32, N=1)
    w = default.cells[0].layers[5].conv.weight  # kaiming_uniform(a=sqrt 5): std = 1/sqrt(3 fan_in)
    assert _rel_std(w, 1 / math.sqrt(3 * 32 * 9)) < 0.05
    arch_aware_init(default)
    assert _rel_std(w, math.sqrt((2 / 3) / (32 * 9))) < 0.05


def test_arch_aware_reduces_to_the_base_lr_on_the_base_cell():
    prepared = prepare("arch-aware", NB201_BASE_CELL, 10, SMOKE, base_lr=0.46)
    assert prepared.lr == 0.46
    assert [g["lr"] for g in prepared.optimizer.param_groups] == [0.46]


@pytest.mark.parametrize("arch,lr", [(RESNET, 0.46 / math.sqrt(28)), (ALL_CONV, 0.46 / math.sqrt(126)),
                                     (6111, 0.46 / math.sqrt(119))])
def test_arch_aware_lr_goes_into_every_param_group(arch, lr):
    prepared = prepare("arch-aware", resolve_arch(arch), 10, SMOKE, base_lr=0.46)
    assert prepared.lr == pytest.approx(lr)
    assert all(g["lr"] == pytest.approx(lr) for g in prepared.optimizer.param_groups)
    n_params = sum(p.numel() for g in prepared.optimizer.param_groups for p in g["params"])
    assert n_params == sum(p.numel() for p in prepared.model.parameters())


@pytest.mark.parametrize("scaling", sorted(SCALERS))
def test_optimizer_is_the_protocol_recipe(scaling):
    prepared = prepare(scaling, parse_arch(RESNET), 10, SMOKE, base_lr=0.46)
    opt = prepared.optimizer
    assert isinstance(opt, torch.optim.SGD)
    for g in opt.param_groups:
        assert (g["momentum"], g["nesterov"], g["dampening"]) == (0.9, True, 0)
    if scaling != "mup":  # MuSGD rescales LR and weight decay per width multiplier
        assert all(g["weight_decay"] == 5e-4 for g in opt.param_groups)


def test_standard_is_nb201_default_init_and_lr():
    torch.manual_seed(3)
    prepared = prepare("standard", parse_arch(RESNET), 10, SMOKE)
    torch.manual_seed(3)
    plain = build_network(RESNET, 10, SMOKE.C, SMOKE.N)
    assert prepared.lr == 0.1 and prepared.init == {"scheme": "pytorch-default"}
    for (name, a), b in zip(prepared.model.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(a, b), name


def test_mup_uses_mureadout_and_base_shapes():
    from mup import MuReadout

    prepared = prepare("mup", parse_arch(RESNET), 10, SMOKE)
    assert isinstance(prepared.model.classifier, MuReadout)
    assert prepared.init["base_C"] == 1 and prepared.init["delta_C"] == 2
    infshape = prepared.model.cells[0].layers[0].conv.weight.infshape
    assert infshape.width_mult() == SMOKE.C / 1  # hidden width 8 against base width 1
    assert {g["lr"] for g in prepared.optimizer.param_groups} != {0.1}  # MuSGD rescaled some groups


def test_degenerate_cell_is_refused_by_arch_aware_only():
    dead = parse_arch("|none~0|+|none~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|")
    with pytest.raises(DegenerateArchitecture, match="undefined.*standard"):
        prepare("arch-aware", dead, 10, SMOKE, base_lr=0.46)
    assert prepare("standard", dead, 10, SMOKE).lr == 0.1


def test_every_registered_scaling_has_an_implementation():
    from archscale.protocols import SCALINGS

    assert set(SCALERS) == set(SCALINGS)
