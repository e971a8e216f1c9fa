"""NB201 settings as arrays: which images train, and one array per evaluation split.

- ``cifar10``: train 50k, eval ``test`` (10k). From the python pickles, else the JPEG set.
- ``cifar10-valid``: train / ``valid`` = the two 25k halves of the train set by NB201's
  ``cifar-split.txt``; needs the original batch order, so only the python pickles work.
- ``cifar100``: train 50k, eval ``x-valid`` / ``x-test`` (5k halves of test, ``cifar100-test-split.txt``).
- ``ImageNet16-120``: train 151,700, eval ``x-valid`` / ``x-test`` (3k halves of val).

Split files are looked for in ``splits_dir``, else ``data_root/nb201_splits`` and ``data_root``,
as ``NAME.txt`` or ``NAME.txt.gz`` (JSON ``{"train": ["int", ["0", ...]], ...}``).
A protocol's ``train_subset`` / ``eval_subset`` keep the first k images of a permutation
drawn with the fixed seed 0 (independent of the run's seed): the same images in every run.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archscale.datasets import get_dataset

from . import datafiles
from .datafiles import ImageArrays
from .download import ARCHIVES, download_archive
from .spec import DataNotFound

__all__ = ["Setting", "load_setting", "read_split_file", "SUBSET_SEED"]

SUBSET_SEED = 0
_SPLIT_FILES = {"cifar10-valid": ("cifar-split", "train", {"valid": "valid"}),
                "cifar100": ("cifar100-test-split", None, {"x-valid": "xvalid", "x-test": "xtest"}),
                "ImageNet16-120": ("imagenet-16-120-test-split", None, {"x-valid": "xvalid", "x-test": "xtest"})}


@dataclass
class Setting:
    name: str
    train: ImageArrays
    evals: dict[str, ImageArrays]
    source: str  # which files the images came from, for provenance
    split: str  # how train/eval were cut, for the fingerprint


def read_split_file(name: str, dirs: list[Path]) -> dict[str, np.ndarray]:
    for folder in dirs:
        for path in (folder / f"{name}.txt", folder / f"{name}.txt.gz"):
            if path.is_file():
                opener = gzip.open if path.suffix == ".gz" else open
                with opener(path, "rt") as f:
                    raw = json.load(f)
                return {key: np.asarray([int(i) for i in value[1]], dtype=np.int64) for key, value in raw.items()}
    where = ", ".join(str(d) for d in dirs)
    raise DataNotFound(f"NB201 split file {name}.txt(.gz) not found in {where}; copy it from NB201's "
                       "configs/nas-benchmark/ (shared/data/nb201_splits here) or pass splits_dir")


def _subset(arrays: ImageArrays, k: int | None) -> ImageArrays:
    if k is None or k >= len(arrays):
        return arrays
    order = np.random.default_rng(SUBSET_SEED).permutation(len(arrays))[:k]
    return arrays.take(np.sort(order))


def _cifar10_arrays(root: Path, cache_dir: Path | None, download: bool, need_order: bool,
                    dataset: str) -> tuple[ImageArrays, ImageArrays, str]:
    if (root / "cifar-10-batches-py").is_dir():
        return (*datafiles.read_cifar10(root), "cifar-10-batches-py")
    jpeg = None if need_order else datafiles.find_cifar10_jpeg(root)
    if jpeg is not None:
        return (*datafiles.read_cifar10_jpeg(jpeg, cache_dir), f"jpeg:{jpeg.name}")
    if download:
        download_archive(ARCHIVES["cifar10"], root)
        return (*datafiles.read_cifar10(root), "cifar-10-batches-py (downloaded)")
    if need_order and datafiles.find_cifar10_jpeg(root) is not None:
        raise DataNotFound(f"{dataset} needs the official python-format CIFAR-10 ({root}/cifar-10-batches-py/): "
                           "its split file indexes the original batch order, which the JPEG set "
                           "(cifar10-jpeg.tar.gz) does not keep. Use dataset 'cifar10' with the JPEG set, or add "
                           "the python files (download=True / --download)")
    raise DataNotFound(f"no CIFAR-10 under {root}: expected cifar-10-batches-py/ (python version) or "
                       "cifar10-jpeg.tar.gz; pass download=True (--download) to fetch the official archive")


def load_setting(dataset: str, data_root: str | Path, *, cache_dir: str | Path | None = None,
                 splits_dir: str | Path | None = None, download: bool = False,
                 train_subset: int | None = None, eval_subset: int | None = None) -> Setting:
    spec = get_dataset(dataset)
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DataNotFound(f"data_root {root} does not exist; pass the folder that holds the dataset files "
                           "(--data-root PATH)")
    split_dirs = ([Path(splits_dir)] if splits_dir else []) + [root / "nb201_splits", root]
    cache = Path(cache_dir) if cache_dir else None
    if dataset in ("cifar10", "cifar10-valid"):
        train, test, source = _cifar10_arrays(root, cache, download, dataset == "cifar10-valid", dataset)
        if dataset == "cifar10":
            setting = Setting(dataset, train, {"test": test}, source, "train 50k / test 10k")
        else:
            idx = read_split_file("cifar-split", split_dirs)
            setting = Setting(dataset, train.take(idx["train"]), {"valid": train.take(idx["valid"])}, source,
                              "cifar-split.txt train/valid")
    elif dataset == "cifar100":
        if not (root / "cifar-100-python").is_dir() and download:
            download_archive(ARCHIVES["cifar100"], root)
        train, test = datafiles.read_cifar100(root)
        setting = _split_eval(dataset, train, test, split_dirs, "cifar-100-python")
    else:
        train, val = datafiles.read_imagenet16(root, spec.num_classes)
        setting = _split_eval(dataset, train, val, split_dirs, "ImageNet16")
    setting.train = _subset(setting.train, train_subset)
    setting.evals = {name: _subset(arrays, eval_subset) for name, arrays in setting.evals.items()}
    if train_subset or eval_subset:
        setting.split += f"; subsets train={train_subset} eval={eval_subset} (seed {SUBSET_SEED})"
    _check(setting, spec.num_classes, spec.resolution)
    return setting


def _split_eval(dataset: str, train: ImageArrays, held: ImageArrays, split_dirs: list[Path],
                source: str) -> Setting:
    name, _train_key, evals = _SPLIT_FILES[dataset]
    idx = read_split_file(name, split_dirs)
    for key in evals.values():
        if key not in idx or (len(idx[key]) and idx[key].max() >= len(held)):
            raise DataNotFound(f"{name}: split {key!r} is missing or indexes past the {len(held)} evaluation "
                               "images; is the split file for this dataset?")
    return Setting(dataset, train, {ours: held.take(idx[key]) for ours, key in evals.items()}, source,
                   f"{name}.txt {'/'.join(evals.values())}")


def _check(setting: Setting, num_classes: int, resolution: int) -> None:
    for name, arrays in {"train": setting.train, **setting.evals}.items():
        if arrays.images.shape[1:3] != (resolution, resolution):
            raise ValueError(f"{setting.name} {name}: images are {arrays.images.shape[1:3]}, expected "
                             f"{resolution}x{resolution}; wrong files for this dataset?")
        if len(arrays) and (arrays.labels.min() < 0 or arrays.labels.max() >= num_classes):
            raise ValueError(f"{setting.name} {name}: labels outside 0..{num_classes - 1}")
