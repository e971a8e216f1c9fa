"""The replicated DAG networks compute paper eq. 1, replica by replica."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from archscale.dag import EdgeKind, from_adjacency
from archscale.verify.dagnet import INIT_SCHEMES, DagCNN, DagMLP, edge_multipliers, select_replicas

DAG = "2_12_201"  # vertex 2: skip from 0 + layer from 1; vertex 3: layer from 0, layer from 2


def _reference_vertices(dag, params, g, z0, conv=None):
    """Eq. 1 for replica g, one edge at a time, no batching tricks."""
    z = [z0]
    for v in range(1, dag.num_vertices):
        total = torch.zeros_like(z0)
        for e in dag.live_edges:
            if e.dst != v:
                continue
            if e.kind is EdgeKind.IDENTITY:
                total = total + z[e.src]
            else:
                w, b = params[f"edge{e.src}-{e.dst}.w"][g], params[f"edge{e.src}-{e.dst}.b"][g]
                h = F.relu(z[e.src])
                total = total + (conv(h, w, b) if conv else h @ w + b)
        z.append(total)
    return z


def test_mlp_replicas_match_a_plain_loop():
    dag = from_adjacency(DAG)
    net = DagMLP(dag, width=6, in_features=5, num_classes=3)
    params = net.init_params(3, torch.Generator().manual_seed(0), shared=False)
    for p in params.values():  # non-zero biases so they are exercised too
        p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(4, 5)
    logits = net.forward(params, x)
    assert logits.shape == (3, 4, 3)
    for g in range(3):
        z = _reference_vertices(dag, params, g, x @ params["stem.w"][g] + params["stem.b"][g])
        expected = F.relu(z[-1]) @ params["readout.w"][g] + params["readout.b"][g]
        torch.testing.assert_close(logits[g], expected)


def test_cnn_replicas_match_a_plain_loop():
    dag = from_adjacency(DAG, kernel=3)
    net = DagCNN(dag, width=4, kernel=3)
    params = net.init_params(2, torch.Generator().manual_seed(1), shared=False)
    x = torch.randn(3, 3, 6, 6)
    logits = net.forward(params, x)

    def conv(h, w, b):
        return F.conv2d(h, w, b, padding=1)

    for g in range(2):
        z0 = conv(x, params["stem.w"][g], params["stem.b"][g])
        z = _reference_vertices(dag, params, g, z0, conv)
        pooled = F.relu(z[-1]).mean(dim=(2, 3))
        torch.testing.assert_close(logits[g], pooled @ params["readout.w"][g] + params["readout.b"][g])


def test_shared_init_gives_identical_replicas_and_selection_keeps_them():
    net = DagMLP(from_adjacency(DAG), width=8, in_features=4, num_classes=2)
    params = net.init_params(3, torch.Generator().manual_seed(0), shared=True)
    for p in params.values():
        assert torch.equal(p[0], p[2])
    independent = net.init_params(2, torch.Generator().manual_seed(0), shared=False)
    assert not torch.equal(independent["stem.w"][0], independent["stem.w"][1])
    kept = select_replicas(params, torch.tensor([2]))
    assert kept["stem.w"].shape[0] == 1 and torch.equal(kept["stem.w"][0], params["stem.w"][2])


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_edge_weight_variance_is_c_over_fan_in(scheme):
    dag = from_adjacency("2_22_222")
    net = DagMLP(dag, width=256, init=scheme)
    params = net.init_params(1, torch.Generator().manual_seed(0))
    for (src, dst), c in edge_multipliers(dag, scheme).items():
        var = params[f"edge{src}-{dst}.w"].var().item()
        assert var == pytest.approx(c / 256, rel=0.02)
    # the three schemes disagree at vertex 3 (in-degree 3, sources of in-degree 0..2)
    assert edge_multipliers(dag, "target")[(2, 3)] == pytest.approx(2 / 3)
    assert edge_multipliers(dag, "source")[(2, 3)] == pytest.approx(1.0)
    assert edge_multipliers(dag, "he")[(2, 3)] == 2.0


def test_bad_scheme_and_kernel_say_the_fix():
    with pytest.raises(ValueError, match="use one of target, source, he"):
        edge_multipliers(from_adjacency("2"), "xavier")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="odd kernel"):
        DagCNN(from_adjacency("2", kernel=2), width=4, kernel=2)
