"""Real CIFAR-10 for the verification experiments, decoded once from the JPEG archive.

``cifar10-jpeg.tar.gz`` (``shared/data``) holds ``train/<class>/NNNN.jpg`` and
``test/<class>/NNNN.jpg``. Decoding 60k JPEGs takes seconds, so each split is decoded
once with PIL and cached as ``.npy`` (uint8, N x 32 x 32 x 3) under a cache directory
outside the repository (``$NB201_CACHE_DIR``, default ``~/.cache/nb201-rebench``).
Normalisation uses the NB201 CIFAR-10 mean/std from :mod:`archscale.datasets`.
"""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from archscale.datasets import get_dataset

__all__ = ["CIFAR10_CLASSES", "DataNotFound", "data_dir", "cache_dir", "load_cifar10", "ImageSubset", "cifar10_subset"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_ARCHIVE = "cifar10-jpeg.tar.gz"


class DataNotFound(FileNotFoundError):
    """The JPEG archive is missing; the message says where it was looked for."""


def data_dir() -> Path:
    """``$NB201_DATA_DIR``, else ``shared/data`` beside the repository (as the tests use)."""
    env = os.environ.get("NB201_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def cache_dir() -> Path:
    env = os.environ.get("NB201_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nb201-rebench"


def _decode_split(archive: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """All images of ``split`` in (class, file name) order."""
    found: list[tuple[int, str, bytes]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] != split or parts[1] not in CIFAR10_CLASSES:
                continue
            found.append((CIFAR10_CLASSES.index(parts[1]), parts[2], tar.extractfile(member).read()))
    if not found:
        raise DataNotFound(f"{archive} has no '{split}/<class>/*.jpg' images; is it the CIFAR-10 JPEG archive?")
    from PIL import Image

    found.sort(key=lambda item: (item[0], item[1]))
    images = np.stack([np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.uint8) for _, _, raw in found])
    labels = np.array([label for label, _, _ in found], dtype=np.int64)
    return images, labels


def load_cifar10(split: str = "train", data: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images N x 32 x 32 x 3, int64 labels) of ``train`` (50k) or ``test`` (10k), cached."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: use 'train' or 'test'")
    archive = (data or data_dir()) / _ARCHIVE
    cached = cache_dir() / f"cifar10-jpeg-{split}.npz"
    if cached.exists():
        with np.load(cached) as stored:
            return stored["images"], stored["labels"]
    if not archive.exists():
        raise DataNotFound(f"{archive} not found: set NB201_DATA_DIR to the folder holding {_ARCHIVE}")
    images, labels = _decode_split(archive, split)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npz")  # one per process: no clobbering
    np.savez(partial, images=images, labels=labels)
    partial.replace(cached)  # atomic: a concurrent reader never sees half a file
    return images, labels


@dataclass(frozen=True)
class ImageSubset:
    """Normalised float images (N x 3 x R x R, or N x 3R^2 when flattened) and labels."""

    x: torch.Tensor
    y: torch.Tensor
    resolution: int
    indices: tuple[int, ...]  # rows of the cached split, for provenance


def cifar10_subset(size: int, *, seed: int = 0, resolution: int = 32, flatten: bool = False,
                   split: str = "train", data: Path | None = None) -> ImageSubset:
    """A class-balanced random subset of ``size`` images, normalised, optionally downsampled.

    Downsampling averages ``32 / resolution`` square blocks (area interpolation), so a
    16 x 16 image keeps the mean colour of each 2 x 2 block.
    """
    images, labels = load_cifar10(split, data)
    if size <= 0 or size > len(labels) or size % 10:
        raise ValueError(f"size={size}: use a positive multiple of 10 up to {len(labels)} (class-balanced subset)")
    if resolution <= 0 or 32 % resolution:
        raise ValueError(f"resolution={resolution}: use a divisor of 32 (32, 16, 8, ...)")
    rng = np.random.default_rng(seed)
    per_class = size // 10
    picked = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)])
    picked = rng.permutation(picked)
    spec = get_dataset("cifar10")
    x = torch.from_numpy(images[picked]).permute(0, 3, 1, 2).float().div_(255)
    x = (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    if resolution != 32:
        x = F.avg_pool2d(x, 32 // resolution)
    if flatten:
        x = x.flatten(1)
    return ImageSubset(x.contiguous(), torch.from_numpy(labels[picked]), resolution, tuple(int(i) for i in picked))
