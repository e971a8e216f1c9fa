"""Result sources as strings, so any two can be compared: ``<origin>[:<split>]``.

``origin`` is an original source (``nb201``, ``nats-tss``) or a re-scaled one,
``<scaling>[@<protocol>[@v<n>]][/<precision>]``: ``arch-aware`` means
``arch-aware@nb201-200@v1/fp32``. ``split`` is the setting's split name (``x-test``) or the
aliases ``valid`` / ``test`` (the splits NB201 publishes as valid / test for the setting).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from archscale.datasets import get_dataset
from archscale.protocols import PRECISIONS, PROTOCOLS, SCALINGS
from service.schemas.patterns import SPLIT_NAMES
from service.schemas.rankings import ORIGINAL_SOURCES
from service.storage.readmodel import ProtocolRow, Series, SeriesKey, Snapshot

from .errors import ApiError

__all__ = ["ORIGINAL_SOURCES", "resolve_split", "rescaled_origin", "parse_source", "source_info", "empty_series",
           "protocol_info"]



def resolve_split(dataset: str, split: str | None, loc: list[Any]) -> str:
    spec = get_dataset(dataset)
    if not split:
        return spec.original_test or spec.original_valid or next(iter(spec.eval_splits))
    if split in spec.eval_splits:
        return split
    alias = {"valid": spec.original_valid, "test": spec.original_test}.get(split)
    if alias:
        return alias
    choices = sorted({*spec.eval_splits, *(a for a, s in (("valid", spec.original_valid),
                                                          ("test", spec.original_test)) if s)})
    if split in SPLIT_NAMES:  # a real split name, of another setting: there are no such numbers (404)
        raise ApiError(404, f"split {split!r} is not reported for {dataset}; use one of {', '.join(choices)}", loc,
                       "not_found")
    raise ApiError(422, f"split {split!r} is not reported for {dataset}; use one of {', '.join(choices)}", loc)


def rescaled_origin(scaling: str, protocol: str, precision: str, loc: list[Any]) -> str:
    if scaling not in SCALINGS:
        raise ApiError(422, f"unknown scaling {scaling!r}; use one of {', '.join(SCALINGS)}", loc)
    if precision not in PRECISIONS:
        raise ApiError(422, f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}", loc)
    name, _, version = protocol.partition("@v")
    if name not in PROTOCOLS:
        raise ApiError(422, f"unknown protocol {name!r}; use one of {', '.join(PROTOCOLS)}", loc)
    if version and not version.isdigit():
        raise ApiError(422, f"protocol {protocol!r}: write a version as '{name}@v1'", loc)
    return f"{scaling}@{name}@v{version or PROTOCOLS[name].version}/{precision}"


def parse_source(text: str, dataset: str, loc: list[Any], default_split: str | None = None) -> SeriesKey:
    origin, _, split = text.partition(":")
    split_name = resolve_split(dataset, split or default_split, loc)
    if origin in ORIGINAL_SOURCES:
        return SeriesKey(origin, dataset, split_name)
    head, _, precision = origin.partition("/")  # arch-aware@smoke@v2/bf16, mup/fp32, standard@nb201-12
    scaling, _, protocol = head.partition("@")
    if scaling not in SCALINGS:
        raise ApiError(422, f"unknown result source {origin!r}; use {' or '.join(ORIGINAL_SOURCES)} (published) "
                            f"or <scaling>[@<protocol>][/<precision>] with a scaling from {', '.join(SCALINGS)}, "
                            "e.g. 'arch-aware@nb201-200:test'", loc)
    return SeriesKey(rescaled_origin(scaling, protocol or "nb201-200", precision or "fp32", loc), dataset, split_name)


def empty_series(key: SeriesKey) -> Series:
    """A source with no numbers yet (e.g. no finished runs): answers say so instead of failing."""
    from archscale.space import NUM_CELLS

    kind = "original" if key.origin in ORIGINAL_SOURCES else "rescaled"
    nan = np.full(NUM_CELLS, np.nan)
    if kind == "original":
        scaling, precision, protocol_key = "standard", None, PROTOCOLS["nb201-200"].key
    else:
        scaling, rest = key.origin.split("@", 1)
        protocol_key, precision = rest.rsplit("/", 1)
    name, version = protocol_key.split("@v")
    spec = PROTOCOLS[name]
    protocol = ProtocolRow(-1, name, int(version), spec.fingerprint if spec.version == int(version) else "",
                           spec.benchmark, spec.description, spec.epochs)
    return Series(key, kind, nan, nan, np.zeros(NUM_CELLS, np.int64), (), np.empty((NUM_CELLS, 0)),
                  "none: no numbers from this source yet", scaling, protocol, precision, "no data")


def protocol_info(series: Series) -> dict[str, Any] | None:
    p = series.protocol
    if p is None:
        return None
    return {"name": p.name, "version": p.version, "key": p.key, "fingerprint": p.fingerprint,
            "benchmark": p.benchmark, "epochs": p.epochs, "description": p.description}


def source_info(snapshot: Snapshot, key: SeriesKey) -> tuple[Series, dict[str, Any]]:
    series = snapshot.series.get(key) or snapshot.remember("empty-series", key, lambda: empty_series(key), limit=256)
    info = {"source": key.origin, "kind": series.kind, "dataset": key.dataset, "split": key.split,
            "metric": key.metric, "scaling": series.scaling, "protocol": protocol_info(series),
            "precision": series.precision, "seeds": list(series.seeds), "aggregation": series.aggregation,
            "archs": series.count, "served_archs": series.served_count, "provenance": series.provenance}
    if series.kind == "original" and not series.seeds:
        info["aggregation"] += " (the seeds are not itemised by this source; see provenance)"
    return series, info
