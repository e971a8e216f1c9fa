"""Everything the read endpoints rank, loaded from the database into numpy arrays at once.

A :class:`Snapshot` is immutable and carries the ``results_version`` it was read at; the
API keeps one and swaps in a new one when that counter moves. Arrays are indexed by the
official NB201 index (0..15624); a missing number is NaN.

A :class:`Series` is one column of numbers per architecture for one source, setting,
split and metric: the published original numbers (``nb201``, ``nats-tss``) or the re-scaled
results of one (scaling, protocol, precision).

Served runs (batch dedup, ``service.storage.serving``) have no result of their own: their
cells are filled here from their representative's result and flagged (``Series.served``,
``served_from``). Rankings show them, marked; :attr:`Series.own` drops them, for Kendall's
tau, which must count only independent measurements.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from itertools import groupby
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from archscale.space import NUM_CELLS

from .bulk import read_counter
from .models import Protocol

__all__ = ["Series", "SeriesKey", "ProtocolRow", "Snapshot", "load_snapshot"]


@dataclass(frozen=True)
class ProtocolRow:
    id: int
    name: str
    version: int
    fingerprint: str
    benchmark: bool
    description: str
    epochs: int

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True)
class SeriesKey:
    """``origin`` is an original source (``nb201``) or ``<scaling>@<protocol>@v<n>/<precision>``."""

    origin: str
    dataset: str
    split: str
    metric: str = "acc"


@dataclass
class Series:
    key: SeriesKey
    kind: str  # "original" | "rescaled"
    mean: np.ndarray  # the number that is ranked (NaN: none)
    std: np.ndarray  # sample std over seeds (NaN when < 2 seeds or unknown)
    n: np.ndarray  # seeds behind `mean` (0: a published aggregate whose seeds are not itemised)
    seeds: tuple[int, ...]  # columns of per_seed
    per_seed: np.ndarray  # shape (NUM_CELLS, len(seeds)), NaN where absent
    aggregation: str
    scaling: str
    protocol: ProtocolRow | None
    precision: str | None = None
    provenance: str = ""
    served: np.ndarray | None = None  # like per_seed, True where the number was served (None: nothing served)
    served_from: np.ndarray | None = None  # per arch: the representative's arch of a served seed, else -1

    @functools.cached_property
    def count(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.mean)))

    @functools.cached_property
    def served_n(self) -> np.ndarray:
        """Per arch, how many of the seeds behind ``mean`` were served, not trained on it."""
        if self.served is None:
            return np.zeros(len(self.mean), np.int64)
        return np.count_nonzero(self.served, axis=1)

    @functools.cached_property
    def served_count(self) -> int:
        """Archs whose number includes at least one served seed."""
        return int(np.count_nonzero(self.served_n))

    @functools.cached_property
    def own(self) -> Series:
        """This series without served numbers: only measurements made on each arch itself."""
        if self.served is None or not self.served.any():
            return self
        per_seed = np.where(self.served, np.nan, self.per_seed)
        n = np.count_nonzero(~np.isnan(per_seed), axis=1)
        return Series(self.key, self.kind, _mean(per_seed), _std(per_seed), n, self.seeds, per_seed, self.aggregation,
                      self.scaling, self.protocol, self.precision, self.provenance + " (served numbers left out)")


@dataclass
class Snapshot:
    version: int
    arch_str: list[str]
    unique_key: list[str]
    relabel_key: list[str]
    num_paths: np.ndarray
    sum_l3: np.ndarray
    degenerate: np.ndarray
    ops_mask: np.ndarray
    settings: dict[str, dict[str, np.ndarray]]  # dataset -> {"lr", "base_lr", "params", "flops"}
    series: dict[SeriesKey, Series]
    protocols: dict[int, ProtocolRow]
    memo: dict[str, OrderedDict[Any, Any]] = field(default_factory=dict)
    memo_lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[Any, threading.Event] = field(default_factory=dict)

    def remember(self, space: str, key: Any, compute: Any, limit: int = 1024) -> Any:
        """Memoise a derived answer for this snapshot: an LRU of ``limit`` entries per ``space``
        (so cheap, numerous arch pages cannot evict costly Kendall tables). Thread-safe, and
        concurrent misses on one key compute it once: the others wait for that answer."""
        with self.memo_lock:
            table = self.memo.setdefault(space, OrderedDict())
            if key in table:
                table.move_to_end(key)
                return table[key]
            pending = self._pending.get((space, key))
            owner = pending is None
            if owner:
                pending = self._pending[(space, key)] = threading.Event()
        if not owner:
            pending.wait()
            with self.memo_lock:
                if key in table:
                    return table[key]
            return compute()  # the owner failed: try ourselves
        try:
            value = compute()
            with self.memo_lock:
                table[key] = value
                while len(table) > limit:
                    table.popitem(last=False)
            return value
        finally:
            with self.memo_lock:
                del self._pending[(space, key)]
            pending.set()

    def remembered(self, space: str, key: Any) -> bool:
        return key in self.memo.get(space, ())

    def series_for(self, dataset: str, kind: str | None = None) -> list[Series]:
        return [s for k, s in self.series.items() if k.dataset == dataset and (kind is None or s.kind == kind)]


def _nan(n: int = NUM_CELLS) -> np.ndarray:
    return np.full(n, np.nan)


def _mean(per_seed: np.ndarray) -> np.ndarray:
    """Mean over the seeds present; NaN where an arch has none."""
    some = np.count_nonzero(~np.isnan(per_seed), axis=1) > 0
    out = _nan(per_seed.shape[0])
    out[some] = np.nanmean(per_seed[some], axis=1)
    return out


def _std(per_seed: np.ndarray) -> np.ndarray:
    counts = np.count_nonzero(~np.isnan(per_seed), axis=1)
    out = _nan(per_seed.shape[0])
    many = counts >= 2
    if many.any():
        out[many] = np.nanstd(per_seed[many], axis=1, ddof=1)
    return out


def _fetch(conn: sa.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows as plain tuples through the DBAPI cursor (SQLAlchemy Row objects cost ~1 us each).
    ``sql`` uses ``?`` placeholders, rewritten for psycopg."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    driver = conn.connection.driver_connection
    # psycopg: binary results, so the server's arrays (array_agg) arrive without text parsing
    cursor = driver.cursor(binary=True) if conn.dialect.name == "postgresql" else driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def _grouped(conn: sa.Connection, keys: str, columns: tuple[str, str, str], source: str
             ) -> list[tuple[tuple[Any, ...], np.ndarray, np.ndarray, np.ndarray]]:
    """Rows of ``source`` grouped by ``keys``, as (key, arch, seed, value) arrays per group.

    ``columns`` are the SQL of (arch, seed or -1, value). PostgreSQL aggregates each group into
    arrays server-side (one row per series instead of one per number: ~10x less Python work);
    SQLite groups sorted rows here.
    """
    n_keys = keys.count(",") + 1
    if conn.dialect.name == "postgresql":
        arch, seed, value = columns
        rows = _fetch(conn, f"SELECT {keys}, array_agg({arch}), array_agg({seed}), array_agg({value}) {source} "
                            f"GROUP BY {keys}")
        return [(tuple(r[:n_keys]), np.asarray(r[n_keys], np.int64), np.asarray(r[n_keys + 1], np.int64),
                 np.asarray(r[n_keys + 2], np.float64)) for r in rows]
    out = []
    rows = _fetch(conn, f"SELECT {keys}, {', '.join(columns)} {source} ORDER BY {keys}")
    for key, group in groupby(rows, key=lambda r: tuple(r[:n_keys])):
        data = np.array([r[n_keys:] for r in group], dtype=np.float64)
        out.append((key, data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), data[:, 2]))
    return out


def _matrix(arch: np.ndarray, seed: np.ndarray, value: np.ndarray) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """Per-number arrays (seed -1 = a published aggregate) -> (seeds, per-seed matrix, aggregate column)."""
    aggregate = seed < 0
    mean = _nan()
    mean[arch[aggregate]] = value[aggregate]
    seeds = np.unique(seed[~aggregate])
    per_seed = np.full((NUM_CELLS, len(seeds)), np.nan)
    per_seed[arch[~aggregate], np.searchsorted(seeds, seed[~aggregate])] = value[~aggregate]
    return tuple(int(x) for x in seeds), per_seed, mean


def load_snapshot(conn: sa.Connection) -> Snapshot:
    """Read architectures, per-setting facts, original and re-scaled results (~1 s for 300k numbers)."""
    version = read_counter(conn)
    archs = _fetch(conn, 'SELECT "index", arch_str, unique_key, relabel_key, num_paths, sum_l3, degenerate, '
                         'ops_mask FROM architectures ORDER BY "index"')
    if len(archs) != NUM_CELLS:
        raise RuntimeError(f"the architectures table has {len(archs)} rows, not {NUM_CELLS}: run `rebench db upgrade`")
    settings: dict[str, dict[str, np.ndarray]] = {}
    for (dataset,) in _fetch(conn, "SELECT DISTINCT dataset FROM arch_settings"):
        rows = _fetch(conn, "SELECT arch_index, lr, base_lr, params, flops FROM arch_settings WHERE dataset = ? "
                            "ORDER BY arch_index", (dataset,))
        data = np.array(rows, dtype=np.float64)  # None -> nan
        if len(data) != NUM_CELLS or not np.array_equal(data[:, 0], np.arange(NUM_CELLS)):
            raise RuntimeError(f"arch_settings for {dataset} is incomplete: run `rebench db upgrade`")
        settings[dataset] = {"lr": data[:, 1], "base_lr": data[:, 2], "params": data[:, 3].astype(np.int64),
                             "flops": data[:, 4].astype(np.int64)}
    table = Protocol.__table__
    protocols = {row.id: ProtocolRow(row.id, row.name, row.version, row.fingerprint, bool(row.benchmark),
                                     row.spec.get("description", ""), int(row.spec.get("epochs", 0)))
                 for row in conn.execute(sa.select(table))}
    series: dict[SeriesKey, Series] = {}
    _load_originals(conn, protocols, series)
    _load_rescaled(conn, protocols, series)
    return Snapshot(
        version=version, arch_str=[r[1] for r in archs], unique_key=[r[2] for r in archs],
        relabel_key=[r[3] for r in archs], num_paths=np.array([r[4] for r in archs], np.int64),
        sum_l3=np.array([r[5] for r in archs], np.int64), degenerate=np.array([bool(r[6]) for r in archs]),
        ops_mask=np.array([r[7] for r in archs], np.int64), settings=settings, series=series,
        protocols=protocols)


def _load_originals(conn: sa.Connection, protocols: dict[int, ProtocolRow], out: dict[SeriesKey, Series]) -> None:
    provenance = dict(_fetch(conn, "SELECT source, provenance FROM result_imports ORDER BY imported_at"))
    # The published numbers were trained with NB201's 200-epoch recipe and its own init/LR.
    nb201 = next((p for p in protocols.values() if p.name == "nb201-200"), None)
    for (source, dataset, split, metric), arch, seed, value in _grouped(
            conn, "source, dataset, split, metric", ("arch_index", "COALESCE(seed, -1)", "value"),
            "FROM original_results WHERE epochs = 200"):
        key = SeriesKey(source, dataset, split, metric)
        seeds, per_seed, mean = _matrix(arch, seed, value)
        n = np.count_nonzero(~np.isnan(per_seed), axis=1)
        fill = np.isnan(mean) & (n > 0)  # per-seed rows without a published mean: average them
        if fill.any():
            mean[fill] = _mean(per_seed)[fill]
        out[key] = Series(key, "original", mean, _std(per_seed), n, seeds, per_seed,
                          "seed-mean as published by the source", "standard", nb201, None,
                          provenance.get(source, ""))


_SERIES = "scaling, protocol_id, precision, dataset, split, metric"


def _served_numbers(conn: sa.Connection) -> dict[tuple[Any, ...], list[tuple[int, int, float, int]]]:
    """Series key -> (arch, seed, value, representative's arch) of succeeded served runs."""
    rows = _fetch(conn, "SELECT s.scaling, s.protocol_id, s.precision, s.dataset, m.split, m.metric, s.arch_index, "
                        "s.seed, m.value, m.arch_index FROM runs s JOIN final_metrics m ON m.run_id = "
                        "s.served_from_run_id WHERE s.served_from_run_id IS NOT NULL AND s.status = 'succeeded' "
                        "AND m.metric = 'acc' AND m.split <> 'train'")  # IS NOT NULL: lets PostgreSQL start
    # from ix_runs_served_from_run_id (7 ms) instead of hashing every final metric (130 ms, 183k runs)
    out: dict[tuple[Any, ...], list[tuple[int, int, float, int]]] = {}
    for row in rows:
        out.setdefault(tuple(row[:6]), []).append((int(row[6]), int(row[7]), float(row[8]), int(row[9])))
    return out


def _load_rescaled(conn: sa.Connection, protocols: dict[int, ProtocolRow], out: dict[SeriesKey, Series]) -> None:
    """Evaluation-split accuracies of succeeded runs (a final result exists only for those),
    plus the numbers their served runs take from them (flagged)."""
    own = {key: (arch, seed, value) for key, arch, seed, value in _grouped(
        conn, _SERIES, ("arch_index", "seed", "value"), "FROM final_metrics WHERE metric = 'acc' AND split <> 'train'")}
    served = _served_numbers(conn)
    empty = np.empty(0, np.int64)
    for group in own.keys() | served.keys():
        scaling, protocol_id, precision, dataset, split, metric = group
        protocol = protocols[protocol_id]
        key = SeriesKey(f"{scaling}@{protocol.key}/{precision}", dataset, split, metric)
        arch, seed, value = own.get(group, (empty, empty, np.empty(0)))
        extra = np.array(served.get(group, []), dtype=np.float64).reshape(-1, 4)
        s_arch, s_seed = extra[:, 0].astype(np.int64), extra[:, 1].astype(np.int64)
        seeds = tuple(int(x) for x in np.union1d(seed, s_seed))
        per_seed = np.full((NUM_CELLS, len(seeds)), np.nan)
        flags = None
        if len(extra):  # served first, then the arch's own measurement wins where both exist
            per_seed[s_arch, np.searchsorted(seeds, s_seed)] = extra[:, 2]
            flags = np.zeros(per_seed.shape, bool)
            flags[s_arch, np.searchsorted(seeds, s_seed)] = True
        per_seed[arch, np.searchsorted(seeds, seed)] = value
        served_from = None
        if flags is not None:
            flags[arch, np.searchsorted(seeds, seed)] = False
            served_from = np.full(NUM_CELLS, -1, np.int64)
            served_from[s_arch] = extra[:, 3].astype(np.int64)
            served_from[~flags.any(axis=1)] = -1
        n = np.count_nonzero(~np.isnan(per_seed), axis=1)
        mean = _mean(per_seed)
        provenance = f"final results of succeeded runs ({scaling}, {protocol.key}, {precision})"
        if flags is not None and flags.any():
            provenance += ("; some numbers are served from a representative of the arch's isomorphism class "
                           "(batch dedup), marked per arch and left out of Kendall tau")
        out[key] = Series(key, "rescaled", mean, _std(per_seed), n, seeds, per_seed,
                          "mean and sample std (ddof=1) over the seeds present", scaling, protocol, precision,
                          provenance, flags, served_from)
