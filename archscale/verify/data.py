"""Real CIFAR-10 for the verification experiments, from the JPEG archive.

``cifar10-jpeg.tar.gz`` (``shared/data``) is decoded once by the training package's reader
(``archscale.training.datafiles.read_cifar10_jpeg``) and cached as ``.npy`` outside the
repository (``$NB201_CACHE_DIR``, else the training cache), so the experiments and training
share one decoded copy. Normalisation uses the NB201 CIFAR-10 mean/std from
:mod:`archscale.datasets`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from archscale.datasets import get_dataset
from archscale.training.augment import normalize
from archscale.training.datafiles import CIFAR10_CLASSES, default_cache_dir, read_cifar10_jpeg
from archscale.training.spec import DataNotFound

__all__ = ["CIFAR10_CLASSES", "DataNotFound", "data_dir", "cache_dir", "load_cifar10", "ImageSubset", "cifar10_subset"]

_ARCHIVE = "cifar10-jpeg.tar.gz"


def data_dir() -> Path:
    """``$NB201_DATA_DIR``, else ``shared/data`` beside the repository (as the tests use)."""
    env = os.environ.get("NB201_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def cache_dir() -> Path:
    env = os.environ.get("NB201_CACHE_DIR")
    return Path(env) if env else default_cache_dir()


def load_cifar10(split: str = "train", data: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images N x 32 x 32 x 3, int64 labels) of ``train`` (50k) or ``test`` (10k), cached."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: use 'train' or 'test'")
    archive = (data or data_dir()) / _ARCHIVE
    if not archive.exists():
        raise DataNotFound(f"{archive} not found: set NB201_DATA_DIR to the folder holding {_ARCHIVE}")
    train, test = read_cifar10_jpeg(archive, cache_dir())  # ordered by path = (class, file name)
    arrays = train if split == "train" else test
    return arrays.images, arrays.labels


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
    x = normalize(torch.from_numpy(images[picked]), spec.mean, spec.std)
    if resolution != 32:
        x = F.avg_pool2d(x, 32 // resolution)
    if flatten:
        x = x.flatten(1)
    return ImageSubset(x.contiguous(), torch.from_numpy(labels[picked]), resolution, tuple(int(i) for i in picked))
