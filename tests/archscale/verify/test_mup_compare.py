"""Experiment 4 (App. E.3) through the training engine: the fast variant checks the wiring.

One epoch on 256 images cannot rank scalings, so this asserts what the comparison rests
on: every scaling trains the same cell on the same data and seed, arch-aware at the rule's
LR and muP / standard at NB201's 0.1. The smoke-protocol table is in docs/verification.md.
"""

from __future__ import annotations

import math

import pytest

from archscale.scaling import nb201_lr
from archscale.verify import run_experiment
from archscale.verify.mup_compare import MUP_CELLS, SCALINGS


@pytest.fixture(autouse=True)
def _data(cifar10_jpeg, monkeypatch):
    monkeypatch.setenv("NB201_DATA_DIR", str(cifar10_jpeg.parent))


def test_mup_fast_trains_every_scaling_on_the_same_cell_and_seed():
    result = run_experiment("mup", fast=True)
    rows = result["rows"]
    assert result["summary"]["status"] == "run"
    assert [r["scaling"] for r in rows] == list(SCALINGS)
    assert {r["arch_str"] for r in rows} == {MUP_CELLS[0]} and {r["seed"] for r in rows} == {777}
    lr = {r["scaling"]: r["lr"] for r in rows}
    assert lr["arch-aware"] == pytest.approx(nb201_lr(MUP_CELLS[0], base_lr=rows[0]["base_lr"]).lr)
    assert lr["arch-aware"] == pytest.approx(0.46 / math.sqrt(28))  # ResNet-like cell, S = 28, builtin 0.46
    assert lr["mup"] == lr["standard"] == 0.1
    for r in rows:
        assert r["protocol"].startswith("smoke@") and r["eval_split"] == "test"
        assert math.isfinite(r["loss"]) and 0 <= r["accuracy"] <= 100
    assert result["config"]["protocol_overrides"] == {"epochs": 1, "train_subset": 256}
