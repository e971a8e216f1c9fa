"""Download the official CIFAR archives (torchvision's URLs), md5-checked, then extract.

Only CIFAR-10/100 have public URLs; ImageNet16 must be fetched by hand (NB201 README).
``fetch`` is injectable so tests exercise the logic with a local file:// URL.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Archive", "ARCHIVES", "download_archive", "md5sum", "ChecksumMismatch"]


class ChecksumMismatch(IOError):
    pass


@dataclass(frozen=True)
class Archive:
    url: str
    filename: str
    md5: str
    folder: str  # what the archive extracts to


ARCHIVES: dict[str, Archive] = {
    "cifar10": Archive("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                       "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py"),
    "cifar100": Archive("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz",
                        "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python"),
}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _urlopen_fetch(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def download_archive(archive: Archive, root: Path, fetch: Callable[[str, Path], None] | None = None) -> Path:
    """Fetch (unless a file with the right md5 is already there), verify, extract; return the folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / archive.filename
    if not (target.is_file() and md5sum(target) == archive.md5):
        partial = root / f".{archive.filename}.{os.getpid()}.part"
        try:
            (fetch or _urlopen_fetch)(archive.url, partial)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise OSError(f"could not download {archive.url} ({exc}); download it by hand into {root} "
                          f"(md5 {archive.md5}) and extract it there") from exc
        got = md5sum(partial)
        if got != archive.md5:
            partial.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{archive.url}: md5 {got} != expected {archive.md5}; the download is "
                                   "corrupt or the URL serves another file: retry, or fetch it by hand")
        os.replace(partial, target)
    with tarfile.open(target, "r:gz") as tar:
        tar.extractall(root, filter="data")
    folder = root / archive.folder
    if not folder.is_dir():
        raise ChecksumMismatch(f"{target} did not contain the folder {archive.folder}/")
    return folder
