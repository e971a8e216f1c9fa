"""Fast variants of experiments 2-3 on real CIFAR-10: the qualitative results of the full runs.

Full runs (docs/verification.md) use 10k images, 3 seeds and finer grids; these use
2-4k images, one seed and an octave grid, so they assert orderings and factors of 2,
not correlations. Each margin was checked on seeds 0-3 before being written down.
"""

from __future__ import annotations

import pytest

from archscale.verify import run_experiment


@pytest.fixture(autouse=True)
def _data(cifar10_jpeg, monkeypatch):
    monkeypatch.setenv("NB201_DATA_DIR", str(cifar10_jpeg.parent))


def _rows(result):
    return {row["name"]: row for row in result["main"]["rows"]}


def test_mlp_depth_fast_orders_a_clearly_separated_pair_like_the_rule():
    result = run_experiment("mlp-depth", fast=True)
    rows = _rows(result)
    shallow, deep = rows["depth 1"], rows["depth 10"]
    assert shallow["predicted"] / deep["predicted"] > 5  # (13 / 4)^1.5 = 5.9 under L_p = 3 + layers
    assert shallow["measured"] >= 2 * deep["measured"]  # measured: at least an octave apart, same order
    assert result["config"]["offset"] == 3 and result["config"]["readout"] == "mup"
    assert all(r["measured"] > 0 for r in rows.values())


def test_mlp_topology_fast_shows_where_the_rule_misses():
    """The full run's finding: under target-degree init the rule over-penalises a dense all-layer
    DAG (scale 1 at init) and under-penalises a skip-heavy one (output scale 36x at init)."""
    result = run_experiment("mlp-topology", fast=True)
    rows = _rows(result)
    dense, skips = rows["2_22_222_2222"], rows["1_11_111_0011"]
    assert dense["measured"] >= 2 * dense["predicted"]
    assert skips["measured"] <= 0.5 * skips["predicted"]
    scale = {n["name"]: n["output_scale"] for n in result["networks"]}
    assert scale["2_22_222_2222"] == pytest.approx(1.0) and scale["1_11_111_0011"] == pytest.approx(36.0)
    assert result["diagnostics"]["r_log2_miss_vs_log2_output_scale"] < 0


def test_cnn_fast_orders_kernel_sizes_and_topologies_like_the_rule():
    result = run_experiment("cnn", fast=True)
    rows = _rows(result)
    small, wide, deep_wide = rows["2 q=1"], rows["2 q=7"], rows["2_22_222 q=7"]
    assert small["predicted"] == pytest.approx(7 * wide["predicted"])  # the q^-1 factor
    assert small["measured"] >= 2 * wide["measured"]  # larger kernel, smaller maximal LR
    assert small["measured"] >= 4 * deep_wide["measured"]  # predicted 20x apart
