"""Data for ``benchmarks/gpu_suite.py``: the staged CIFAR-10, NB201's accuracies, the median
cell, and a synthetic CIFAR-10 (python format) for ``--tiny``."""

from __future__ import annotations

import csv
import gzip
import pickle
from pathlib import Path

import numpy as np

from archscale.training.datafiles import ImageArrays

__all__ = ["load_cifar10", "synthetic_cifar10", "nb201_test_acc", "median_cell", "predecode_cifar10_jpeg"]


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


def _decode_one(item: tuple[str, int, bytes]) -> tuple[str, int, np.ndarray]:
    import io

    from PIL import Image

    name, label, raw = item
    with Image.open(io.BytesIO(raw)) as img:
        return name, label, np.asarray(img.convert("RGB"), dtype=np.uint8)


def predecode_cifar10_jpeg(source: Path, cache_dir: Path, workers: int) -> Path:
    """Fill the training reader's cache (``datafiles.read_cifar10_jpeg``: same folder, files and
    order) by decoding the 60,000 JPEGs on ``workers`` processes: on a 16-core GPU machine this
    takes seconds instead of the reader's single-threaded pass."""
    import multiprocessing as mp
    import os
    import tarfile

    from archscale.training import datafiles

    cache = Path(cache_dir) / f"cifar10-jpeg-{datafiles._source_id(Path(source))}"
    names = [f"{s}_{k}" for s in ("train", "test") for k in ("images", "labels")]
    if all((cache / f"{n}.npy").is_file() for n in names):
        return cache
    items: dict[str, list[tuple[str, int, bytes]]] = {"train": [], "test": []}
    with tarfile.open(source, "r:*") as tar:
        for member in tar:
            where = datafiles._label_of(Path(member.name).parts) if member.isfile() else None
            if where is not None and member.name.lower().endswith(".jpg"):
                items[where[0]].append((member.name, where[1], tar.extractfile(member).read()))
    cache.mkdir(parents=True, exist_ok=True)
    with mp.get_context("fork").Pool(workers) as pool:
        for split, todo in items.items():
            todo.sort(key=lambda t: t[0])  # the reader's order: by path
            decoded = pool.map(_decode_one, todo, chunksize=512)
            for kind, array in (("images", np.stack([d[2] for d in decoded])),
                                ("labels", np.array([d[1] for d in decoded], dtype=np.int64))):
                tmp = cache / f".{split}_{kind}.{os.getpid()}.npy"
                np.save(tmp, array)
                os.replace(tmp, cache / f"{split}_{kind}.npy")
    return cache
