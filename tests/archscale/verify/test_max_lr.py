"""The maximal-LR criterion and the batched 1-epoch trainer behind it."""

from __future__ import annotations

import math

import pytest
import torch

from archscale.dag import from_adjacency
from archscale.verify.dagnet import DagMLP
from archscale.verify.max_lr import SearchConfig, grid_search, log_grid, maximal_lr, train_one_epoch

INF = math.inf


def test_log_grid_snaps_to_powers_of_two():
    assert log_grid(0.25, 1.0) == pytest.approx((0.25, 2 ** -1.5, 0.5, 2 ** -0.5, 1.0))
    assert log_grid(0.3, 0.9, per_octave=1) == (0.25, 0.5, 1.0)
    with pytest.raises(ValueError, match="0 < low < high"):
        log_grid(1.0, 0.5)


@pytest.mark.parametrize("losses, tolerance, expected", [
    ([2.0, 1.5, 1.4, 1.6, INF], 0.0, 0.3),  # the argmin
    ([2.0, 1.5, 1.4, 1.41, INF], 0.01, 0.4),  # 1.41 <= 1.01 * 1.4: the larger LR reaches the minimum
    ([2.0, 1.5, 1.4, 1.42, INF], 0.01, 0.3),  # 1.42 does not
    ([INF, INF, INF, INF, INF], 0.01, None),  # everything diverged
])
def test_maximal_lr_is_the_largest_lr_within_tolerance(losses, tolerance, expected):
    assert maximal_lr([0.1, 0.2, 0.3, 0.4, 0.5], losses, tolerance) == expected


def _toy_problem(n=256, features=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen)
    y = (x[:, :3].sum(1) > 0).long() + 2 * (x[:, 3] > 0).long()  # 4 classes, learnable
    return x, y


NET = DagMLP(from_adjacency("2_02"), width=16, in_features=12, num_classes=4)


def test_replicas_train_independently_even_when_one_diverges():
    """A diverging replica is dropped mid-epoch; the others' numbers must not change."""
    x, y = _toy_problem()
    config = SearchConfig((0.1, 1.0), batch_size=32, lr_multipliers={"readout": 1 / 16})
    alone = train_one_epoch(NET, x, y, [0.1], seed=3, config=config)
    together = train_one_epoch(NET, x, y, [0.1, 1e6, 0.1], seed=3, config=config)
    assert together[1] == INF
    assert together[0] == pytest.approx(alone[0], rel=1e-5) and together[2] == pytest.approx(alone[0], rel=1e-5)
    assert math.isfinite(alone[0]) and alone[0] < math.log(4)  # it learned something


def test_grid_search_scans_down_and_stops_after_patience():
    x, y = _toy_problem()
    grid = log_grid(1 / 64, 1024, per_octave=1)  # 17 LRs; the best is far below the top
    config = SearchConfig(grid, batch_size=32, chunk=3, patience=2, lr_multipliers={"readout": 1 / 16})
    result = grid_search(NET, x, y, seed=0, config=config)
    trained = sorted(result.losses)
    best = min((lr for lr in trained if math.isfinite(result.losses[lr])), key=result.losses.get)
    assert trained[-1] == grid[-1] and result.losses[grid[-1]] == INF  # the top diverges
    assert len(trained) < len(grid)  # stopped early
    assert sum(lr < best for lr in trained) >= 2  # ... but only after two LRs below the best
    assert result.max_lr(0.0) == best and not result.at_top_edge(grid, 0.0)


def test_search_config_rejects_bad_values_by_name():
    with pytest.raises(ValueError, match="grid"):
        SearchConfig((0.5, 0.1))
    with pytest.raises(ValueError, match="tolerance"):
        SearchConfig((0.1, 0.5), tolerance=-1)
    with pytest.raises(ValueError, match="batch_size"):
        train_one_epoch(NET, *_toy_problem(n=8), [0.1], 0, SearchConfig((0.1, 0.5), batch_size=32))
