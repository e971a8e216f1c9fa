"""The GPU suite's parity checks on CPU, checked against known answers: identical paths agree
exactly, the layout change agrees to rounding at step 1, bf16 stays within its stated tolerance."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_stages as g  # noqa: E402
from suite_data import load_cifar10, synthetic_cifar10  # noqa: E402

CELL = 15260  # the suite's median cell


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    train, test = load_cifar10(synthetic_cifar10(root), root / "cache")
    return g.Ctx(device=torch.device("cpu"), tiny=True, train=train, test=test, data_root=root, cache_dir=root,
                 out_dir=root, cell=CELL, compile_backend="eager")


def test_same_seed_same_path_is_bit_identical_and_compile_changes_nothing(ctx):
    batches = g._fixed_batches(ctx, 4, 8, seed=1)
    a = g._losses(*g._model(CELL, 5, 4, 1), batches, torch.device("cpu"), channels_last=True)
    b = g._losses(*g._model(CELL, 5, 4, 1), batches, torch.device("cpu"), channels_last=True)
    model, opt = g._model(CELL, 5, 4, 1)
    model.to(memory_format=torch.channels_last)
    c = g._losses(model, opt, batches, torch.device("cpu"), channels_last=True,
                  forward=torch.compile(model, backend="eager"))
    assert a == b and len(a) == 4
    assert g._curve_gap(c, a, 2) == pytest.approx(0.0, abs=1e-6)  # dynamo's eager backend: the same ops


def test_layout_agrees_to_rounding_and_bf16_within_tolerance(ctx):
    batches = g._fixed_batches(ctx, 20, 16, seed=2)  # 2 windows of 10: one noisy bf16 step cannot decide it
    ref = g._losses(*g._model(CELL, 7, 4, 1), batches, torch.device("cpu"), channels_last=False)
    fast = g._losses(*g._model(CELL, 7, 4, 1), batches, torch.device("cpu"), channels_last=True)
    bf16 = g._losses(*g._model(CELL, 7, 4, 1), batches, torch.device("cpu"), channels_last=True, bf16=True)
    assert abs(fast[0] - ref[0]) / ref[0] < 1e-5 and fast != ref  # same math, another summation order
    # bf16 on this CPU, tiny net: the curves drift apart by 5-6 % within 20 steps (measured twice
    # 2026-12-01), so the CPU check holds them to 2x the GPU suite's tolerance; the GPU stage
    # itself reports against BF16_TOL over 200 steps of a real cell.
    assert g._curve_gap(bf16, fast, 10) < 2 * g.BF16_TOL
    assert g._curve_gap([1.0, 1.0], [2.0, 2.0], 2) == pytest.approx(0.5)  # the measure itself
    assert g._curve_gap([1.0], [1.0], 5) is None  # shorter than a window: not a pass


def test_kendall_tau_b_matches_scipy():
    from scipy.stats import kendalltau

    a, b = [3.0, 1.0, 2.0, 5.0, 4.0, 4.0], [2.0, 1.0, 3.0, 5.0, 5.0, 4.0]
    assert g.kendall_tau(a, b) == pytest.approx(kendalltau(a, b).statistic)
