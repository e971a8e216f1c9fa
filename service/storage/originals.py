"""Import the published NB201 numbers, with provenance, idempotently.

Three readers, one writer (:func:`replace_original_results`): a re-import replaces the
rows of the same (source, aggregation, epochs) in one transaction, so it never
duplicates and a failed import leaves the previous numbers in place.

Sources (the ``source`` column, what ``/v1`` calls an original result source):

``nb201``     NB201's own numbers (``NASBench201API``, hp='200'): ``valid`` / ``x-valid`` and
              ``test`` / ``x-test`` accuracies, seed-means and, from the ``.pth``, per seed.
``nats-tss``  The same quantity from NATS-Bench tss v1.0 (another seed set, see the data README).

Only the splits ``archscale.datasets`` lists for a setting are stored (e.g. not
cifar10-valid's ``ori-test``); accuracies are in percent, at the last of 200 epochs.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from archscale.datasets import DATASETS, get_dataset
from archscale.space import NUM_CELLS, cell_at, format_arch, parse_arch

from .bulk import bump_counter, copy_rows
from .errors import InvalidField
from .import_errors import ImportFileError, reading, text_lines
from .models import OriginalResult, ResultImport, utcnow
from .reference import sync_reference_data

__all__ = ["ImportReport", "import_csv", "import_bench_api", "load_nas201_api", "load_nats_tss",
           "replace_original_results", "CSV_PROVENANCE"]

EPOCHS = 200
CSV_PROVENANCE = {
    "nb201": "NAS-Bench-201 v1.x via NASBench201API.get_more_info(i, ds, hp='200', is_random=False): mean over "
             "the seeds NB201 trained the cell with (777/888/999, 1-3 per cell); converted by "
             "github.com/milkmilk511/LAPT nasbench201_*.json (commit de0a5534f3c5)",
    "nats-tss": "NATS-Bench tss v1.0 via get_more_info(i, ds, hp='200', is_random=False): seed-mean; from "
                "github.com/v-tao/nats-bench-landscape nats_bench.csv (commit 312680307c44)",
}
_COLUMNS = ("source", "arch_index", "dataset", "split", "metric", "seed", "aggregation", "epochs", "value",
            "import_id")


@dataclass(frozen=True)
class ImportReport:
    rows: dict[str, int]  # source -> rows written
    path: str
    sha256: str | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_arch(index: int, arch_str: str, where: str) -> None:
    expected = format_arch(cell_at(index))
    if arch_str != expected and parse_arch(arch_str) != cell_at(index):
        raise InvalidField(f"{where}: index {index} is {expected} in the official order, not {arch_str}: "
                           "the file uses another index order; convert it or drop the index column", "arch_index")


def replace_original_results(conn: sa.Connection, source: str, importer: str, path: str, sha256: str | None,
                             provenance: str, rows: Iterable[tuple[Any, ...]],
                             aggregations: tuple[str, ...] = ("seed-mean",)) -> int:
    """Replace ``source``'s rows of these aggregations with ``rows`` =
    (arch_index, dataset, split, metric, seed, aggregation, value); returns the count."""
    results, imports = OriginalResult.__table__, ResultImport.__table__
    conn.execute(sa.delete(results).where(results.c.source == source, results.c.epochs == EPOCHS,
                                          results.c.aggregation.in_(aggregations)))
    conn.execute(sa.delete(imports).where(imports.c.source == source,
                                          ~sa.exists().where(results.c.import_id == imports.c.id)))
    import_id = conn.execute(sa.insert(imports).values(
        source=source, importer=importer, path=path, sha256=sha256, rows=0, provenance=provenance,
        imported_at=utcnow()).returning(imports.c.id)).scalar_one()
    written = copy_rows(conn, results, _COLUMNS, ((source, a, d, s, m, seed, agg, EPOCHS, v, import_id)
                                                  for a, d, s, m, seed, agg, v in rows))
    conn.execute(sa.update(imports).where(imports.c.id == import_id).values(rows=written))
    return written


def _csv_rows(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Parse the shared CSV into (nb201 rows, nats-tss rows), checking every index and value.
    Every problem is an :class:`ImportFileError`: file, line, column and the fix."""
    opener = gzip.open if path.suffix == ".gz" else open
    nb201: list[tuple[Any, ...]] = []
    nats: list[tuple[Any, ...]] = []
    seen: set[tuple[int, str]] = set()
    checked: dict[int, str] = {}
    with reading(path) as at, opener(path, "rb") as handle:  # type: ignore[operator]
        reader = csv.DictReader(text_lines(handle, at))
        missing = {"arch_index", "arch_str", "dataset", "epochs", "valid_acc", "test_acc",
                   "test_acc_nats_tss"} - set(reader.fieldnames or ())
        if missing:
            raise at.error(f"missing CSV columns {sorted(missing)}", "use the format of "
                           "shared/data/nb201_original.csv.gz (its README lists the columns)")
        for at.line, row in enumerate(reader, start=2):
            index, dataset = at.number(row, "arch_index", int), row["dataset"]
            if not 0 <= index < NUM_CELLS:
                raise at.error(f"arch_index {index} is outside the space", f"use 0..{NUM_CELLS - 1}", "arch_index")
            if dataset not in DATASETS:
                raise at.error(f"unknown dataset {dataset!r}", f"use one of {', '.join(DATASETS)}", "dataset")
            if at.number(row, "epochs", int) != EPOCHS:
                raise at.error(f"epochs {row['epochs']}", "only 200-epoch numbers are imported: drop the row",
                               "epochs")
            if (index, dataset) in seen:
                raise at.error(f"arch {index} x {dataset} appears twice", "keep one row per arch and setting",
                               "arch_index")
            seen.add((index, dataset))
            if checked.get(index) != row["arch_str"]:
                try:
                    _check_arch(index, row["arch_str"] or "", f"{path.name} line {at.line}")
                except (InvalidField, ValueError) as exc:
                    raise at.error(str(exc).split(": ", 1)[-1], "use NB201's official index order and cell strings",
                                   "arch_str") from None
                checked[index] = row["arch_str"]
            spec = get_dataset(dataset)
            for column, split, out in (("valid_acc", spec.original_valid, nb201),
                                       ("test_acc", spec.original_test, nb201),
                                       ("test_acc_nats_tss", spec.original_test, nats)):
                if row[column] == "":
                    continue
                if split is None:
                    raise at.error(f"{column} given for {dataset}, which has no such split", "leave it empty",
                                   column)
                value = at.number(row, column)
                if not 0.0 <= value <= 100.0:
                    raise at.error(f"{column} = {value} is not a percentage", "write accuracies in percent (0..100)",
                                   column)
                out.append((index, dataset, split, "acc", None, "seed-mean", value))
    if len(seen) != NUM_CELLS * len(DATASETS):
        raise ImportFileError(path, f"{len(seen)} arch x setting rows, expected {NUM_CELLS * len(DATASETS)}",
                              "import the complete file (every arch in every setting)")
    return nb201, nats


def import_csv(conn: sa.Connection, path: str | Path) -> ImportReport:
    """``shared/data/nb201_original.csv.gz`` -> sources ``nb201`` and ``nats-tss`` (seed-means)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidField(f"{path} is not a file; pass the path of nb201_original.csv.gz", "path")
    sha = _sha256(path)
    nb201, nats = _csv_rows(path)
    sync_reference_data(conn)
    counts = {}
    for source, rows in (("nb201", nb201), ("nats-tss", nats)):
        counts[source] = replace_original_results(conn, source, "csv", str(path.resolve()), sha,
                                                  CSV_PROVENANCE[source], rows)
    bump_counter(conn)
    return ImportReport(counts, str(path), sha)


# --- NASBench201API / NATS-Bench tss objects --------------------------------------------------
# Calls made on ``api`` (the same on both packages):
#   len(api); api.arch(i) -> cell string;
#   api.get_more_info(i, dataset, iepoch=None, hp='200', is_random=False) -> seed-mean dict;
#   api.query_meta_info_by_index(i, hp='200').get_dataset_seeds(dataset) -> seeds;
#   api.get_more_info(i, dataset, iepoch=None, hp='200', is_random=seed) -> that seed's dict.
# From each dict: 'valid-accuracy' -> the setting's original_valid split, 'test-accuracy' ->
# its original_test split (absent keys are skipped).


def _bench_rows(api: Any, per_seed: bool) -> Iterator[tuple[Any, ...]]:
    if len(api) != NUM_CELLS:
        raise InvalidField(f"the benchmark object has {len(api)} architectures, expected {NUM_CELLS}: "
                           "pass NB201 / NATS-Bench tss (topology), not sss", "path")
    for index in range(NUM_CELLS):
        _check_arch(index, api.arch(index), f"architecture {index}")
        for dataset, spec in DATASETS.items():
            seeds = list(api.query_meta_info_by_index(index, hp="200").get_dataset_seeds(dataset)) if per_seed else []
            for seed in [None, *seeds]:
                info = api.get_more_info(index, dataset, iepoch=None, hp="200",
                                         is_random=False if seed is None else seed)
                for key, split in (("valid-accuracy", spec.original_valid), ("test-accuracy", spec.original_test)):
                    if split is not None and info.get(key) is not None:
                        yield (index, dataset, split, "acc", seed, "seed-mean" if seed is None else "seed",
                               float(info[key]))


def import_bench_api(conn: sa.Connection, api: Any, source: str, importer: str, path: str,
                     per_seed: bool = True) -> ImportReport:
    """Import seed-means (and per-seed values) from a NASBench201API-like object."""
    sync_reference_data(conn)
    provenance = (f"{importer} object loaded from {path}: get_more_info(i, ds, iepoch=None, hp='200', "
                  f"is_random=False){' and is_random=<seed> for each of get_dataset_seeds(ds)' if per_seed else ''}")
    rows = list(_bench_rows(api, per_seed))
    written = replace_original_results(conn, source, importer, path, None, provenance, rows,
                                       aggregations=("seed-mean", "seed") if per_seed else ("seed-mean",))
    bump_counter(conn)
    return ImportReport({source: written}, path, None)


def load_nas201_api(path: str | Path) -> Any:
    """``NASBench201API`` for an official ``.pth`` (needs ~28 GB RAM and ``nas-bench-201``)."""
    try:
        from nas_201_api import NASBench201API  # type: ignore[import-not-found]
    except ImportError:
        raise InvalidField("reading a .pth needs the nas_201_api package: pip install 'nb201-rebench[import]' "
                           "(or pip install nas-bench-201)", "path") from None
    return NASBench201API(str(path), verbose=False)


def load_nats_tss(path: str | Path) -> Any:
    """NATS-Bench's tss API for an archive directory or file (needs ``nats_bench``)."""
    try:
        import nats_bench  # type: ignore[import-not-found]
    except ImportError:
        raise InvalidField("reading a NATS-Bench archive needs the nats_bench package: "
                           "pip install 'nb201-rebench[import]' (or pip install nats_bench)", "path") from None
    return nats_bench.create(str(path), "tss", fast_mode=True, verbose=False)
