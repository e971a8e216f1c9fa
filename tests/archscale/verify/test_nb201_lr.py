"""``nb201-lr``: NB201 cells as replicas, the NB201 optimiser in the search, the cell spread, a fast run."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from archscale.scaling import nb201_lr
from archscale.verify import run_experiment
from archscale.verify.max_lr import SearchConfig, train_one_epoch
from archscale.verify.nb201_lr import BASE_CELL, spread_cells
from archscale.space import resolve_arch
from archscale.verify.nb201_replicas import ReplicatedNB201, arch_aware_network

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_spread_cells_covers_s_with_distinct_values_and_never_the_base_or_s0():
    cells = spread_cells(20, seed=0)
    s = [nb201_lr(c, base_lr=1.0).s for c in cells]
    assert len(cells) == 20 and len(set(s)) == 20 and s == sorted(s)
    assert BASE_CELL not in cells and min(s) >= 1 and max(s) == 126  # all-conv cells: the largest S
    assert spread_cells(20, seed=0) == cells  # seeded
    with pytest.raises(ValueError, match="cells=99"):
        spread_cells(99)


def test_replicas_compute_the_training_packages_network_in_train_mode():
    net = ReplicatedNB201(CELL, C=4, N=1)
    params = net.init_params(3, torch.Generator().manual_seed(5))
    torch.manual_seed(0)
    model, init = arch_aware_network(resolve_arch(CELL), 4, 1)
    model.load_state_dict({**model.state_dict(), **{k: v[0] for k, v in params.items()}})
    x = torch.randn(5, 3, 8, 8)
    logits = net.forward(params, x)
    assert logits.shape == (3, 5, 10)
    assert torch.allclose(logits[0], model.train()(x), atol=1e-5)
    assert torch.equal(logits[0], logits[2])  # one init shared by every replica
    assert init["scheme"] == "arch-aware"  # the init came from the scalings registry by name


def test_search_momentum_nesterov_decay_equal_torch_sgd():
    """Two replicas at two LRs follow exactly what torch.optim.SGD does to one model at each LR."""
    net = ReplicatedNB201(CELL, C=4, N=1)
    # one class only: the loss falls below chance (ln 10) within the epoch, so the losses are finite
    x, y = torch.randn(128, 3, 8, 8), torch.zeros(128, dtype=torch.long)
    config = SearchConfig((0.05, 0.2), batch_size=16, tail=1.0, momentum=0.9, nesterov=True, weight_decay=5e-4,
                          tolerance=0.0)
    ours = train_one_epoch(net, x, y, [0.05, 0.2], seed=3, config=config)
    init = net.init_params(1, torch.Generator().manual_seed(3))
    order = torch.randperm(128, generator=torch.Generator().manual_seed(10_007 * 3 + 1))
    for lr, got in zip((0.05, 0.2), ours):
        model, _ = arch_aware_network(resolve_arch(CELL), 4, 1)
        model.load_state_dict({**model.state_dict(), **{k: v[0] for k, v in init.items()}})
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
        losses = []
        for step in range(8):
            idx = order[step * 16:(step + 1) * 16]
            loss = F.cross_entropy(model.train()(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        assert math.isfinite(got) and got == pytest.approx(sum(losses) / 8, rel=1e-4)


def test_nb201_lr_fast_reports_the_agreement_fields(cifar10_jpeg, monkeypatch):
    monkeypatch.setenv("NB201_DATA_DIR", str(cifar10_jpeg.parent))
    result = run_experiment("nb201-lr", fast=True)
    s = result["summary"]
    assert {"r_log", "slope_log", "within_2x", "base_lr", "n"} <= set(s) and s["n"] == 2
    rows = {r["name"]: r for r in result["main"]["rows"]}
    base = result["main"]["base_lr"]
    for r in rows.values():  # the prediction is the registry's rule: base * sqrt(S_base / S), S_base = 1
        s_cell = next(n["S"] for n in result["networks"] if n["name"] == r["name"])
        assert r["predicted"] == pytest.approx(base / math.sqrt(s_cell))
    assert result["config"]["recipe"]["scheme"] == "arch-aware"
    assert result["config"]["optimizer"].startswith("SGD momentum 0.9 Nesterov")
    assert all(n["searches"][0]["lr_loss"] for n in result["networks"])
