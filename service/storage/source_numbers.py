"""One source's numbers for one setting, every arch at once: what ``GET /v1/bulk/{dataset}`` serves.

Columnar and keyed by nas_201_api's names, so a client answers ``get_more_info`` from memory:

``index``      the archs with at least one number (official indices, ascending)
``seeds``      the itemised seeds (columns of ``per_seed``)
``mean``       key -> one value per arch in ``index`` (None: not held for that arch)
``per_seed``   key -> per arch, one value per seed (None: that seed is not held)
``costs``      key -> one value per arch in ``index``

Published sources (``nb201``, ``nats-tss``): ``valid-accuracy`` / ``test-accuracy`` seed-means
exactly as published, per-seed valid accuracies where imported, and NB201's recorded
``train-all-time``, ``latency``, ``params`` (MB) and ``mean-seeds``. Re-trained sources
(``<scaling>@<protocol>@v<n>/<precision>``): every final metric of every succeeded run
(train/valid/test x loss/accuracy) and ``train-all-time`` (the sum of the per-epoch wall
times, evaluation included), per seed, and their means over the seeds present. Runs served
by batch dedup are not included: they have no measurement of their own.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from archscale.datasets import get_dataset

from .bulk import read_counter
from .readmodel import _fetch

__all__ = ["published_numbers", "published_signature", "retrained_numbers", "nb201_splits"]

_METRIC = {"acc": "accuracy", "loss": "loss"}


def nb201_splits(dataset: str) -> dict[str, str]:
    """nas_201_api's key prefix -> the split stored here (its ``ori-test`` is never stored)."""
    spec = get_dataset(dataset)
    names = {"valid": ("valid", "x-valid"), "test": ("test", "x-test")}
    return {prefix: split for prefix, options in names.items() for split in options if split in spec.eval_splits}


def _q(conn: sa.Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows as plain tuples through the DBAPI cursor (SQLAlchemy rows cost ~5 us each: 0.5 s here);
    ``:name`` placeholders become positional ones."""
    names = re.findall(r":(\w+)", sql)
    return _fetch(conn, re.sub(r":\w+", "?", sql), tuple(params[name] for name in names))


def _columns(numbers: dict[tuple[str, int, int | None], float | None], seeds: list[int]) -> dict[str, Any]:
    """(key, arch, seed or None for a mean) -> the columnar layout; means filled from seeds."""
    by_key: dict[str, dict[int, dict[int | None, float | None]]] = {}
    for (key, arch, seed), value in numbers.items():  # one pass, then per-key lookups only
        by_key.setdefault(key, {}).setdefault(arch, {})[seed] = value
    index = sorted({arch for archs in by_key.values() for arch in archs})
    mean: dict[str, list[float | None]] = {}
    per_seed: dict[str, list[list[float | None]]] = {}
    empty: dict[int | None, float | None] = {}
    for key in sorted(by_key):
        archs = by_key[key]
        itemised = any(seed is not None and value is not None for values in archs.values()
                       for seed, value in values.items())
        column: list[float | None] = []
        rows: list[list[float | None]] = []
        for arch in index:
            values = archs.get(arch, empty)
            value = values.get(None)
            if itemised:
                row = [values.get(seed) for seed in seeds]
                rows.append(row)
                if value is None:
                    present = [v for v in row if v is not None]
                    value = sum(present) / len(present) if present else None
            column.append(value)
        mean[key] = column
        if itemised:
            per_seed[key] = rows
    return {"index": index, "seeds": seeds, "mean": mean, "per_seed": per_seed}


def published_numbers(conn: sa.Connection, source: str, dataset: str) -> dict[str, Any]:
    version = read_counter(conn)
    spec = get_dataset(dataset)
    keys = {spec.original_valid: "valid-accuracy", spec.original_test: "test-accuracy"}
    rows = _q(conn, "SELECT arch_index, split, seed, value FROM original_results WHERE source = :s AND "
                    "dataset = :d AND epochs = 200 AND metric = 'acc'", {"s": source, "d": dataset})
    numbers = {(keys[split], arch, seed): value for arch, split, seed, value in rows if split in keys}
    seeds = sorted({seed for _, _, seed in numbers if seed is not None})
    out = _columns(numbers, seeds)
    costs = {a: r for a, *r in _q(conn, "SELECT arch_index, train_all_time, latency, params_mb, mean_seeds, n_seeds "
                                        "FROM original_costs WHERE source = :s AND dataset = :d AND epochs = 200",
                                  {"s": source, "d": dataset})}
    names = ("train-all-time", "latency", "params", "mean-seeds", "n-seeds")
    out["costs"] = {name: [costs[a][i] if a in costs else None for a in out["index"]] for i, name in enumerate(names)
                    } if costs else {}
    flops = dict(_q(conn, "SELECT arch_index, flops FROM arch_settings WHERE dataset = :d", {"d": dataset}))
    out["costs"]["flops"] = [flops[a] / 1e6 for a in out["index"]]  # computed from the cell, in M as NB201 gives them
    out["version"] = version
    return out


def published_signature(conn: sa.Connection) -> tuple[Any, ...]:
    """Changes exactly when an import changes the published numbers (every import adds a row)."""
    return tuple(_q(conn, "SELECT count(*), max(id) FROM result_imports", {})[0])


def retrained_numbers(conn: sa.Connection, scaling: str, protocol_id: int, precision: str,
                      dataset: str) -> dict[str, Any]:
    version = read_counter(conn)
    prefixes = {split: prefix for prefix, split in nb201_splits(dataset).items()}
    prefixes["train"] = "train"
    series = {"d": dataset, "sc": scaling, "p": protocol_id, "pr": precision}
    rows = _q(conn, "SELECT arch_index, seed, split, metric, value FROM final_metrics WHERE dataset = :d AND "
                    "scaling = :sc AND protocol_id = :p AND precision = :pr", series)
    numbers: dict[tuple[str, int, int | None], float | None] = {
        (f"{prefixes[split]}-{_METRIC[metric]}", arch, seed): value
        for arch, seed, split, metric, value in rows if split in prefixes and metric in _METRIC}
    times = _q(conn, "SELECT r.arch_index, r.seed, SUM(e.seconds), COUNT(e.seconds), COUNT(*) FROM runs r JOIN "
                     "epoch_metrics e ON e.run_id = r.id WHERE r.status = 'succeeded' AND r.dataset = :d AND "
                     "r.scaling = :sc AND r.protocol_id = :p AND r.precision = :pr AND r.served_from_run_id IS NULL "
                     "GROUP BY r.id, r.arch_index, r.seed", series)
    finished = {(arch, seed) for _, arch, seed in numbers}
    for arch, seed, total, timed, epochs in times:
        if (arch, seed) in finished:  # a result exists: the run's curve is complete
            numbers[("train-all-time", arch, seed)] = float(total) if timed == epochs else None
    # a final result without train numbers (older workers): the last epoch's are the same numbers
    last = _q(conn, "SELECT r.arch_index, r.seed, e.train_loss, e.train_acc FROM runs r JOIN epoch_metrics e ON "
                    "e.run_id = r.id AND e.epoch = r.total_epochs WHERE r.status = 'succeeded' AND r.dataset = :d "
                    "AND r.scaling = :sc AND r.protocol_id = :p AND r.precision = :pr AND r.served_from_run_id IS NULL",
              series)
    for arch, seed, loss, acc in last:
        for key, value in (("train-loss", loss), ("train-accuracy", acc)):
            if (arch, seed) in finished and numbers.get((key, arch, seed)) is None and value is not None:
                numbers[(key, arch, seed)] = value
    seeds = sorted({seed for _, _, seed in numbers if seed is not None})
    out = _columns(numbers, seeds)
    out["costs"] = {}
    out["version"] = version
    return out
