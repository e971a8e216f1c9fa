"""The two MLP readings (released code vs derivation) and the one-step update measurement.

Math checked on cases with a known answer: the released init's variances, the post-activation
forward written out by hand, and one SGD step on the readout alone (closed form).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from archscale.dag import from_adjacency
from archscale.verify.dagnet import DagMLP
from archscale.verify.mlp_variants import VARIANTS, VariantMLP
from archscale.verify.update_scale import measure, one_step_change, spread

DAG = "2_12_202"  # vertex 2: skip from 0 + layer from 1; vertex 3: layer from 0 and from 2


def test_derivation_variant_is_the_paper_network_of_dagnet():
    dag = from_adjacency(DAG)
    ref = DagMLP(dag, width=8, in_features=5, num_classes=3)
    params = ref.init_params(2, torch.Generator().manual_seed(0), shared=False)
    for p in params.values():
        p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(4, 5)
    ours = VariantMLP(dag, 8, VARIANTS["derivation"], in_features=5, num_classes=3)
    assert torch.allclose(ours.forward(params, x), ref.forward(params, x), atol=1e-6)


def test_released_init_variances_are_the_released_codes():
    dag = from_adjacency(DAG)  # in-degrees: v0 1 (the stem), v1 1, v2 2, v3 2
    net = VariantMLP(dag, 64, VARIANTS["released"], in_features=30, num_classes=10)
    # source degree: an edge leaving v2 (in-degree 2) gets C = 2/2; std sqrt(C / fan_out), fan_out = width
    assert net.edge_variances() == {(0, 1): 2 / 64, (1, 2): 2 / 64, (0, 3): 2 / 64, (2, 3): 1 / 64}
    assert net.stem_variance() == 2 / 64  # mode='fan_out': the stem's fan_out is the width, not 3072
    assert net.readout_variance() == pytest.approx(0.2 ** 2)  # (sqrt(2 / classes))^2 used as the std
    target = VariantMLP(dag, 64, VARIANTS["derivation"])
    assert target.edge_variances() == {(0, 1): 2 / 64, (1, 2): 1 / 64, (0, 3): 1 / 64, (2, 3): 1 / 64}  # target
    assert target.readout_variance() == 2 / 64 ** 2 and target.stem_variance() == 1 / 3072
    big = VariantMLP(dag, 256, VARIANTS["released"], in_features=30).init_params(1, torch.Generator().manual_seed(1))
    assert float(big["readout.w"].std()) == pytest.approx(0.2, rel=0.06)


def test_released_forward_is_post_activation_with_a_relu_stem_and_a_linear_readout():
    dag = from_adjacency(DAG)
    net = VariantMLP(dag, 6, VARIANTS["released"], in_features=5, num_classes=3)
    p = {k: v[0] for k, v in net.init_params(1, torch.Generator().manual_seed(0)).items()}
    x = torch.randn(4, 5)
    lin = lambda name, h: h @ p[name + ".w"] + p[name + ".b"]  # noqa: E731
    z0 = F.relu(lin("stem", x))
    z1 = F.relu(lin("edge0-1", z0))
    z2 = z0 + F.relu(lin("edge1-2", z1))
    z3 = F.relu(lin("edge0-3", z0)) + F.relu(lin("edge2-3", z2))
    logits = lin("readout", z3)  # no ReLU before the readout
    got = net.forward({k: v.unsqueeze(0) for k, v in p.items()}, x)[0]
    assert torch.allclose(got, logits, atol=1e-5)


def test_one_step_on_the_readout_alone_matches_the_closed_form():
    dag = from_adjacency("2_02")
    net = VariantMLP(dag, 16, VARIANTS["derivation"], in_features=7, num_classes=4)
    params = net.init_params(1, torch.Generator().manual_seed(3))
    x, y = torch.randn(8, 7), torch.randint(0, 4, (8,))
    lr = 0.7
    out = one_step_change(net, params, x, y, lr, {"stem": 0.0, "edge": 0.0})
    with torch.no_grad():
        z, logits = net.forward_all(params, x)
        h = F.relu(z[-1][0]).numpy().astype(np.float64)
        prob = torch.softmax(logits[0], 1).numpy().astype(np.float64)
    grad_logits = (prob - np.eye(4)[y.numpy()]) / len(y)  # d mean-CE / d logits
    delta = h @ (-lr * h.T @ grad_logits) - lr * grad_logits.sum(0)  # Delta W and Delta b applied to the batch
    assert out["delta_f"] == pytest.approx(float(np.linalg.norm(delta, axis=1).mean()), rel=1e-4)
    assert out["vertex_dz2"] == [0.0, 0.0, 0.0]  # vertices 0, 1, 2: only the readout moved


def test_small_steps_change_the_output_linearly_and_spread_is_mean_std_cv():
    dag = from_adjacency(DAG)
    net = VariantMLP(dag, 32, VARIANTS["released"], in_features=12)
    params = net.init_params(1, torch.Generator().manual_seed(0))
    x, y = torch.randn(16, 12), torch.randint(0, 10, (16,))
    small = one_step_change(net, params, x, y, 1e-5, {})
    double = one_step_change(net, params, x, y, 2e-5, {})
    assert double["delta_f"] / small["delta_f"] == pytest.approx(2.0, rel=1e-2)
    assert all(d / s == pytest.approx(4.0, rel=3e-2) for d, s in zip(double["vertex_dz2"], small["vertex_dz2"]) if s > 0)
    s = spread([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(math.sqrt(2 / 3), abs=1e-6)
    assert s["cv"] == pytest.approx(math.sqrt(2 / 3) / 2, abs=1e-4)


def test_measure_averages_ten_minibatches_from_one_init():
    dag = from_adjacency("2")
    net = VariantMLP(dag, 8, VARIANTS["derivation"], in_features=6)
    x, y = torch.randn(100, 6), torch.randint(0, 10, (100,))
    m = measure(net, x, y, 0.5, {}, batches=10, batch_size=10)
    assert len(m["delta_f_per_batch"]) == 10 and m["delta_f"] == pytest.approx(np.mean(m["delta_f_per_batch"]), rel=1e-3)
    with pytest.raises(ValueError, match="need 110 images"):
        measure(net, x, y, 0.5, {}, batches=11, batch_size=10)
