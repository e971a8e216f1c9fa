"""Readers for the official on-disk formats, into uint8 NHWC arrays.

Layouts under ``data_root`` (torchvision / NB201 compatible):
- ``cifar-10-batches-py/``  data_batch_1..5, test_batch   (python pickles, 'data' N x 3072 CHW, 'labels')
- ``cifar-100-python/``     train, test                   ('data', 'fine_labels')
- ``ImageNet16/``           train_data_batch_1..10, val_data ('data' N x 3072 CHW, 'labels' 1..1000)
- ``cifar10-jpeg.tar.gz``   train/<class>/*.jpg, test/<class>/*.jpg (or the extracted folder
  ``cifar10-jpeg/``); decoded once and cached as .npy under the cache dir.

The python pickles keep the original image order, which NB201's split files index into.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .spec import DataNotFound

__all__ = [
    "ImageArrays",
    "CIFAR10_CLASSES",
    "read_cifar10",
    "read_cifar100",
    "read_imagenet16",
    "read_cifar10_jpeg",
    "find_cifar10_jpeg",
    "default_cache_dir",
]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class ImageArrays:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64, 0-based

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {self.images.dtype} {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> ImageArrays:
        return ImageArrays(self.images[index], self.labels[index])


def default_cache_dir() -> Path:
    return Path(os.environ.get("REBENCH_CACHE_DIR", Path.home() / ".cache" / "nb201-rebench"))


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DataNotFound(f"{path} is missing")
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _batches(folder: Path, names: list[str], label_key: str, side: int) -> ImageArrays:
    data, labels = [], []
    for name in names:
        entry = _unpickle(folder / name)
        if label_key not in entry or "data" not in entry:
            raise ValueError(f"{folder / name}: expected keys 'data' and {label_key!r}, found {sorted(entry)}")
        data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, side, side))
        labels.extend(entry[label_key])
    images = np.ascontiguousarray(np.concatenate(data).transpose(0, 2, 3, 1))  # CHW -> HWC
    return ImageArrays(images, np.asarray(labels, dtype=np.int64))


def _require_dir(root: Path, name: str, what: str) -> Path:
    folder = Path(root) / name
    if not folder.is_dir():
        raise DataNotFound(f"{what} not found: expected the folder {folder}. Put the official python-format "
                           f"files there (or pass download=True / --download where the data can be downloaded).")
    return folder


def read_cifar10(root: Path) -> tuple[ImageArrays, ImageArrays]:
    """(train 50k in original batch order, test 10k)."""
    folder = _require_dir(root, "cifar-10-batches-py", "CIFAR-10 (python version)")
    train = _batches(folder, [f"data_batch_{i}" for i in range(1, 6)], "labels", 32)
    return train, _batches(folder, ["test_batch"], "labels", 32)


def read_cifar100(root: Path) -> tuple[ImageArrays, ImageArrays]:
    folder = _require_dir(root, "cifar-100-python", "CIFAR-100 (python version)")
    return _batches(folder, ["train"], "fine_labels", 32), _batches(folder, ["test"], "fine_labels", 32)


def read_imagenet16(root: Path, num_classes: int = 120) -> tuple[ImageArrays, ImageArrays]:
    """ImageNet16-``num_classes``: keep labels 1..num_classes and shift them to 0-based."""
    folder = _require_dir(root, "ImageNet16", "ImageNet16 (NB201's downsampled ImageNet)")
    out = []
    for names in ([f"train_data_batch_{i}" for i in range(1, 11)], ["val_data"]):
        arrays = _batches(folder, names, "labels", 16)
        keep = (arrays.labels >= 1) & (arrays.labels <= num_classes)
        out.append(ImageArrays(arrays.images[keep], arrays.labels[keep] - 1))
    return out[0], out[1]


# ---- JPEG CIFAR-10 -----------------------------------------------------------------------

def find_cifar10_jpeg(root: Path) -> Path | None:
    for candidate in (Path(root) / "cifar10-jpeg.tar.gz", Path(root) / "cifar10-jpeg"):
        if candidate.exists():
            return candidate
    return None


def _source_id(source: Path) -> str:
    """Content hash of a tarball (19 MB: fast), or name+size+mtime listing of a folder."""
    h = hashlib.sha256()
    if source.is_file():
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    else:
        for p in sorted(source.rglob("*.jpg")):
            st = p.stat()
            h.update(f"{p.relative_to(source)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _label_of(parts: tuple[str, ...]) -> tuple[str, int] | None:
    """('train'|'test', class index) from a member path like '.../train/cat/0001.jpg'."""
    for i in range(len(parts) - 2):
        if parts[i] in ("train", "test") and parts[i + 1] in CIFAR10_CLASSES:
            return parts[i], CIFAR10_CLASSES.index(parts[i + 1])
    return None


def _decode_all(source: Path) -> dict[str, ImageArrays]:
    from PIL import Image

    found: dict[str, list[tuple[str, int, np.ndarray]]] = {"train": [], "test": []}

    def add(name: str, raw: bytes) -> None:
        where = _label_of(Path(name).parts)
        if where is None:
            return
        with Image.open(io.BytesIO(raw)) as img:
            found[where[0]].append((name, where[1], np.asarray(img.convert("RGB"), dtype=np.uint8)))

    if source.is_file():
        with tarfile.open(source, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.lower().endswith(".jpg"):
                    add(member.name, tar.extractfile(member).read())
    else:
        for p in source.rglob("*.jpg"):
            add(str(p.relative_to(source)), p.read_bytes())
    out = {}
    for split, items in found.items():
        if not items:
            raise DataNotFound(f"{source}: no {split}/<class>/*.jpg images found; expected the layout "
                               f"train/<class>/*.jpg and test/<class>/*.jpg with classes {', '.join(CIFAR10_CLASSES)}")
        items.sort(key=lambda t: t[0])  # fixed order: by path
        out[split] = ImageArrays(np.stack([t[2] for t in items]), np.array([t[1] for t in items], dtype=np.int64))
    return out


def read_cifar10_jpeg(source: Path, cache_dir: Path | None = None) -> tuple[ImageArrays, ImageArrays]:
    """(train, test) from the JPEG folders, ordered by path; decoded arrays cached as .npy."""
    cache = Path(cache_dir or default_cache_dir()) / f"cifar10-jpeg-{_source_id(Path(source))}"
    files = {f"{s}_{k}": cache / f"{s}_{k}.npy" for s in ("train", "test") for k in ("images", "labels")}
    if not all(p.is_file() for p in files.values()):
        decoded = _decode_all(Path(source))
        cache.mkdir(parents=True, exist_ok=True)
        for split, arrays in decoded.items():
            for kind, array in (("images", arrays.images), ("labels", arrays.labels)):
                tmp = cache / f".{split}_{kind}.{os.getpid()}.npy"
                np.save(tmp, array)
                os.replace(tmp, files[f"{split}_{kind}"])  # atomic: a crash never leaves half a cache
    load = {k: np.load(p) for k, p in files.items()}
    return (ImageArrays(load["train_images"], load["train_labels"]),
            ImageArrays(load["test_images"], load["test_labels"]))
