"""Our NB201 network against the reference implementation (xautodl) and the analytic costs."""

from __future__ import annotations

import random

import pytest
import torch

from archscale.costs import network_cost
from archscale.space import NUM_CELLS, cell_at, format_arch, parse_arch
from archscale.training.network import build_network

xautodl_tiny = pytest.importorskip("xautodl.models.cell_infers.tiny_network")
from xautodl.models.cell_searchs.genotypes import Structure  # noqa: E402
from xautodl.utils.flop_benchmark import get_model_infos  # noqa: E402

SAMPLED = sorted(random.Random(201).sample(range(NUM_CELLS), 50))
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
# degenerate (no input->output path) but with convs fed by all-zero vertices: output = BN bias
DEAD_CONVS = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def reference(arch: str, num_classes: int, C: int = 16, N: int = 5) -> torch.nn.Module:
    return xautodl_tiny.TinyNetwork(C, N, Structure.str2structure(arch), num_classes)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("num_classes", [10, 100, 120])
def test_parameter_counts_equal_reference_and_analytic(num_classes):
    with torch.device("meta"):  # shapes only: 300 full-size networks in a second
        for index in SAMPLED:
            arch = format_arch(cell_at(index))
            ours = n_params(build_network(index, num_classes))
            assert ours == n_params(reference(arch, num_classes)), arch
            assert ours == network_cost(index, num_classes, 32).params, arch


def test_best_cell_has_nb201_parameter_count():
    with torch.device("meta"):
        assert n_params(build_network(6111, 10)) == 1_073_466


@pytest.mark.parametrize("arch,resolution", [(6111, 32), (RESNET, 32), (1835, 16), (ALL_NONE, 32)])
def test_flops_equal_reference_get_model_infos(arch, resolution):
    classes = 120 if resolution == 16 else 10
    cell_str = format_arch(parse_arch(arch)) if isinstance(arch, str) else format_arch(cell_at(arch))
    flops_m, _params_mb = get_model_infos(reference(cell_str, classes), (1, 3, resolution, resolution))
    assert network_cost(arch, classes, resolution).flops == pytest.approx(flops_m * 1e6, abs=0.5)


def _randomise_bn(model: torch.nn.Module, gen: torch.Generator) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


@pytest.mark.parametrize("arch", [6111, RESNET, ALL_NONE, DEAD_CONVS, 1835])
def test_identical_outputs_with_reference_weights(arch):
    cell_str = format_arch(parse_arch(arch)) if isinstance(arch, str) else format_arch(cell_at(arch))
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    ref = reference(cell_str, 10, C=8, N=2)
    _randomise_bn(ref, gen)
    ours = build_network(arch, 10, C=8, N=2)
    missing = ours.load_state_dict(ref.state_dict(), strict=True)  # same names, same shapes
    assert not missing.missing_keys and not missing.unexpected_keys
    x = torch.randn(6, 3, 32, 32, generator=gen)
    ref.eval(), ours.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), ref(x)[1])
    ref.train(), ours.train()
    with torch.no_grad():  # batch statistics too: a conv on an all-zero vertex outputs BN's bias
        assert torch.equal(ours(x), ref(x)[1])
    ours.eval().to(memory_format=torch.channels_last)  # the fast path's layout: other kernels, same maths
    with torch.no_grad():
        assert torch.allclose(ours(x.contiguous(memory_format=torch.channels_last)), ref.eval()(x)[1],
                              rtol=1e-4, atol=1e-5)


def test_degenerate_cell_outputs_do_not_depend_on_the_input():
    model = build_network(ALL_NONE, 10, C=4, N=1).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        out = model(x)
    assert torch.allclose(out, out[0].expand_as(out))


def test_bad_sizes_are_rejected_with_the_field():
    with pytest.raises(ValueError, match="C=0"):
        build_network(6111, 10, C=0)
