"""Data for ``benchmarks/gpu_suite.py``: the staged CIFAR-10, NB201's accuracies, the median
cell, and a synthetic CIFAR-10 (python format) for ``--tiny``."""

from __future__ import annotations

import csv
import gzip
import pickle
from pathlib import Path

import numpy as np

from archscale.training.datafiles import ImageArrays

__all__ = ["load_cifar10", "synthetic_cifar10", "nb201_test_acc", "median_cell"]


def load_cifar10(data_root: Path, cache_dir: Path) -> tuple[ImageArrays, ImageArrays]:
    """Through the training reader (python pickles, else the JPEG set decoded once into cache_dir)."""
    from archscale.training.settings import load_setting

    setting = load_setting("cifar10", data_root, cache_dir=cache_dir)
    return setting.train, setting.evals["test"]


def synthetic_cifar10(folder: Path, per_batch: int = 64, test: int = 128, seed: int = 0) -> Path:
    """Learnable random images in the official python layout (cifar-10-batches-py/): class c's
    pixels are uniform on [20c, 20c + 75], so brightness predicts the label and losses fall."""
    rng = np.random.default_rng(seed)
    out = folder / "cifar-10-batches-py"
    out.mkdir(parents=True, exist_ok=True)
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", test)]:
        labels = rng.integers(0, 10, n)
        data = (labels[:, None] * 20 + rng.integers(0, 76, (n, 3072))).astype(np.uint8)
        entry = {"data": data, "labels": labels.tolist()}
        with open(out / name, "wb") as f:
            pickle.dump(entry, f)
    return folder


def nb201_test_acc(folders: list[Path]) -> dict[int, float]:
    """NB201's cifar10 test accuracy (seed mean, 200 epochs) per arch, from nb201_original.csv.gz."""
    for folder in folders:
        path = Path(folder) / "nb201_original.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt", newline="") as f:
                return {int(r["arch_index"]): float(r["test_acc"]) for r in csv.DictReader(f)
                        if r["dataset"] == "cifar10" and r["test_acc"]}
    return {}


def median_cell() -> int:
    """The non-degenerate cell of median FLOPs (cifar10), lowest index among equals."""
    from archscale.costs import network_cost
    from archscale.scaling import nb201_lr

    costs = sorted((network_cost(i, dataset="cifar10").flops, i) for i in range(15_625)
                   if not nb201_lr(i, base_lr=1.0).degenerate)
    return costs[len(costs) // 2][1]
