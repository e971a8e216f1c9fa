"""Tiny datasets in the official on-disk formats, and a tiny protocol for fast engine tests."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from archscale.protocols import PROTOCOLS, Protocol

torch.set_num_threads(2)

#: C=4, N=1, 2 epochs of batch 32: a few seconds on CPU.
TINY = Protocol("tiny-test", 1, "test-only protocol", epochs=2, batch_size=32, C=4, N=1, benchmark=False)


@pytest.fixture
def tiny_protocol(monkeypatch) -> Protocol:
    monkeypatch.setitem(PROTOCOLS, TINY.name, TINY)
    return TINY


def _images(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def _dump(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(entry, f)


def write_cifar10(root: Path, per_batch: int = 20, test: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    """cifar-10-batches-py/ with 5 train batches of ``per_batch`` images (bytes keys, as the original)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    train_data, train_labels = [], []
    for i in range(1, 6):
        data, labels = _images(rng, per_batch, 32), rng.integers(0, 10, per_batch).tolist()
        _dump(folder / f"data_batch_{i}", {b"batch_label": b"x", b"data": data, b"labels": labels})
        train_data.append(data)
        train_labels += labels
    data, labels = _images(rng, test, 32), rng.integers(0, 10, test).tolist()
    _dump(folder / "test_batch", {b"data": data, b"labels": labels})
    return {"train": np.concatenate(train_data), "train_labels": np.array(train_labels),
            "test": data, "test_labels": np.array(labels)}


def write_cifar100(root: Path, train: int = 40, test: int = 20, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("train", train), ("test", test)):
        data, fine = _images(rng, n, 32), rng.integers(0, 100, n).tolist()
        _dump(root / "cifar-100-python" / name, {"data": data, "fine_labels": fine,
                                                 "coarse_labels": [f // 5 for f in fine]})
        out[name], out[f"{name}_labels"] = data, np.array(fine)
    return out


def write_imagenet16(root: Path, per_batch: int = 12, val: int = 24, seed: int = 2) -> dict[str, np.ndarray]:
    """ImageNet16/ with labels 1..1000; about 1 in 8 is <= 120 and kept by ImageNet16-120."""
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {"train": [], "train_labels": []}
    for i in range(1, 11):
        data, labels = _images(rng, per_batch, 16), rng.integers(1, 1001, per_batch)
        labels[:2] = [1, 120]  # every batch has a kept image at both ends of the range
        _dump(root / "ImageNet16" / f"train_data_batch_{i}", {"data": data, "labels": labels.tolist(), "mean": 0})
        out["train"].append(data)
        out["train_labels"].append(labels)
    data, labels = _images(rng, val, 16), np.arange(1, val + 1) * 5  # 5, 10, ... 120: all kept
    _dump(root / "ImageNet16" / "val_data", {"data": data, "labels": labels.tolist()})
    return {"train": np.concatenate(out["train"]), "train_labels": np.concatenate(out["train_labels"]),
            "val": data, "val_labels": labels}


def write_split(folder: Path, name: str, splits: dict[str, list[int]], gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({key: ["int", [str(i) for i in idx]] for key, idx in splits.items()})
    path = folder / f"{name}.txt{'.gz' if gz else ''}"
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(payload)
    else:
        path.write_text(payload)
    return path


def write_jpeg_tar(path: Path, per_class: int = 2, seed: int = 3) -> dict[str, list[tuple[str, int]]]:
    """cifar10-jpeg.tar.gz with ``per_class`` train and 1 test image per class (flat-colour JPEGs)."""
    from PIL import Image

    from archscale.training.datafiles import CIFAR10_CLASSES

    rng = np.random.default_rng(seed)
    members: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    with tarfile.open(path, "w:gz") as tar:
        for split, count in (("train", per_class), ("test", 1)):
            for label, cls in enumerate(CIFAR10_CLASSES):
                for k in range(count):
                    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
                    buf = io.BytesIO()
                    Image.new("RGB", (32, 32), colour).save(buf, format="JPEG", quality=95)
                    name = f"cifar10-jpeg/{split}/{cls}/{k:04d}.jpg"
                    info = tarfile.TarInfo(name)
                    info.size = buf.tell()
                    buf.seek(0)
                    tar.addfile(info, buf)
                    members[split].append((name, label))
    return members


@pytest.fixture
def cifar10_root(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "data"
    return root, write_cifar10(root)
