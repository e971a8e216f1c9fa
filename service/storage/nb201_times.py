"""NB201's recorded training time per arch: the one place campaigns read it from.

Today it reads ``nb201_tss_hp200_cost.csv.gz`` (``shared/data/README.md``): column
``train_all_time`` = the sum of NB201's 200 per-epoch *training* times (no evaluation), one
value per arch and setting, on NB201's own GPUs. The file has ``cifar10-valid``, ``cifar100``
and ``ImageNet16-120``; ``cifar10`` (NB201 trained it on all 50k images) is not in the source,
so it is **estimated** as 2 x ``cifar10-valid`` (25k images), the same factor the file shows
between cifar100 (50k) and cifar10-valid. :class:`RecordedTimes` says which it is.

The imported table comes first: ``rebench import-nb201 nb201_tss_hp200_cost.csv.gz`` stores
the same column in ``original_costs`` (source ``nb201``); the file is read only where nothing
was imported (a server that has the data folder but never ran the importer).
"""

from __future__ import annotations

import csv
import functools
import gzip
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

__all__ = ["COST_FILE", "RecordedTimes", "recorded_train_seconds", "find_cost_file"]

COST_FILE = "nb201_tss_hp200_cost.csv.gz"
#: NB201 trained every setting for 200 epochs; ``train_all_time`` covers all of them.
RECORDED_EPOCHS = 200


@dataclass(frozen=True)
class RecordedTimes:
    dataset: str
    seconds: dict[int, float]  # arch index -> NB201's 200-epoch training seconds
    note: str  # where the numbers come from, and whether they are estimated


def find_cost_file(*candidates: Path | None) -> Path | None:
    """The first existing cost file among ``candidates`` (files, or folders holding COST_FILE)."""
    for candidate in candidates:
        if candidate is None:
            continue
        path = Path(candidate).expanduser()
        path = path / COST_FILE if path.is_dir() else path
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("train_all_time"):
                out.setdefault(row["dataset"], {})[int(row["arch_index"])] = float(row["train_all_time"])
    return out


def _imported(conn: sa.Connection, dataset: str) -> dict[str, dict[int, float]]:
    """The imported times of ``dataset`` (and of cifar10-valid, which estimates cifar10): one
    setting's 15,625 rows, not the whole table, per status request."""
    from .models import OriginalCost

    c = OriginalCost.__table__.c
    out: dict[str, dict[int, float]] = {}
    rows = conn.execute(sa.select(c.dataset, c.arch_index, c.train_all_time).where(
        c.source == "nb201", c.epochs == RECORDED_EPOCHS, c.train_all_time.is_not(None),
        c.dataset.in_({dataset, "cifar10-valid"} if dataset == "cifar10" else {dataset})))
    for dataset, arch, seconds in rows:
        out.setdefault(dataset, {})[int(arch)] = float(seconds)
    return out


def recorded_train_seconds(dataset: str, path: Path | None, conn: sa.Connection | None = None
                           ) -> RecordedTimes | None:
    """NB201's recorded 200-epoch training seconds per arch for ``dataset``: from the imported
    ``original_costs`` (with ``conn``), else from the file at ``path``; None when neither has them."""
    table = _imported(conn, dataset) if conn is not None else {}
    where = "imported by rebench import-nb201"
    if not table:
        if path is None or not Path(path).is_file():
            return None
        table, where = _read(str(path), Path(path).stat().st_mtime), Path(path).name
    if dataset in table:
        return RecordedTimes(dataset, table[dataset], f"NB201 train_all_time ({where}), recorded")
    if dataset == "cifar10" and "cifar10-valid" in table:
        return RecordedTimes(dataset, {a: 2.0 * s for a, s in table["cifar10-valid"].items()},
                             "estimated: 2 x NB201's recorded cifar10-valid time (50k vs 25k train images; "
                             "cifar10 is not in the source)")
    return None
