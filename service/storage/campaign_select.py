"""Which archs a campaign trains: all of them, or a filter (ops, params range, index list, top-K%).

A selector is a plain dict (the API's ``CampaignSelector`` dumped), normalised by
:func:`normalise_selector` so that two requests meaning the same selection hash alike
(idempotent resubmission). Filters intersect. Parameters and the top-K% ranking are per
dataset (the classifier's width and the published numbers differ by setting), so
:func:`select_archs` answers per dataset.

- ``all``: every one of the 15,625 cells (no other filter allowed beside it).
- ``ops``: cells in which every listed op is present; ``exclude_ops``: cells in which none is
  (the leaderboard's filters of the same names, ``GET /v1/leaderboard``).
- ``params_min`` / ``params_max``: trainable parameters of the full-size network, inclusive.
- ``indices``: an explicit list of official indices.
- ``top_percent`` of ``top_source``: the best K% by the source's published accuracy at the
  dataset's NB201 reporting split (``test`` for cifar10, ``valid`` for cifar10-valid, ``x-test``
  otherwise); ties at the cut are kept. Sources are the imported ones (``nb201``, ``nats-tss``).
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from archscale.datasets import get_dataset
from archscale.space import NUM_CELLS, OPS

from .errors import InvalidField
from .models import Architecture, ArchSetting, OriginalResult

__all__ = ["TOP_SOURCES", "normalise_selector", "select_archs", "reporting_split"]

TOP_SOURCES = ("nb201", "nats-tss")
_KEYS = ("all", "ops", "exclude_ops", "params_min", "params_max", "indices", "top_percent", "top_source")


def _field(name: str) -> str:
    return f"selector.{name}"


def normalise_selector(raw: dict[str, Any]) -> dict[str, Any]:
    """Check a selector and put it in canonical form (sorted lists, defaults filled)."""
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise InvalidField(f"unknown selector field(s) {unknown}; use {', '.join(_KEYS)}", _field(unknown[0]))
    sel: dict[str, Any] = {k: raw.get(k) for k in _KEYS}
    sel["all"] = bool(sel["all"])
    if sel["top_source"] is not None and sel["top_percent"] is None:
        raise InvalidField("top_source is set without top_percent: add top_percent (e.g. 10)", _field("top_source"))
    filters = [k for k in _KEYS[1:] if k != "top_source" and sel[k] is not None]
    if sel["all"] and filters:  # the whole space intersected with the filters is the filters
        sel["all"] = False
    if not sel["all"] and not filters:
        raise InvalidField("the selector selects nothing: set all=true for the whole space, or a filter (ops, "
                           "exclude_ops, params_min/params_max, indices, top_percent)", _field("all"))
    for name in ("ops", "exclude_ops"):
        if sel[name] is not None:
            bad = [op for op in sel[name] if op not in OPS]
            if bad or not sel[name]:
                raise InvalidField(f"{name} {bad or '[]'}: list ops among {', '.join(OPS)}", _field(name))
            sel[name] = sorted(set(sel[name]), key=OPS.index)
    for name in ("params_min", "params_max"):
        value = sel[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise InvalidField(f"{name} {value!r} must be a non-negative integer (parameters)", _field(name))
    # params_min > params_max selects nothing: create_campaign answers 404 (as an empty
    # leaderboard page answers an empty range), which names the range.
    if sel["indices"] is not None:
        bad = [i for i in sel["indices"] if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < NUM_CELLS]
        if bad or not sel["indices"]:
            raise InvalidField(f"indices {bad[:5] or '[]'}: give official indices 0..{NUM_CELLS - 1}",
                               _field("indices"))
        sel["indices"] = sorted(set(sel["indices"]))
    if sel["top_percent"] is not None:
        value = sel["top_percent"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
            raise InvalidField(f"top_percent {value!r} must be in (0, 100], e.g. 10 for the best 10%",
                               _field("top_percent"))
        sel["top_percent"] = float(value)
        sel["top_source"] = sel["top_source"] or "nb201"
        if sel["top_source"] not in TOP_SOURCES:
            raise InvalidField(f"top_source {sel['top_source']!r}: use one of {', '.join(TOP_SOURCES)}",
                               _field("top_source"))
    return sel


def reporting_split(dataset: str) -> str:
    """The split NB201 reports for a setting (test where it has one, else valid)."""
    spec = get_dataset(dataset)
    return spec.original_test or spec.original_valid or next(iter(spec.eval_splits))


def _top(conn: sa.Connection, dataset: str, source: str, percent: float) -> set[int]:
    results = OriginalResult.__table__
    pairs = list(conn.execute(sa.select(results.c.arch_index, results.c.value).where(
        results.c.source == source, results.c.dataset == dataset, results.c.split == reporting_split(dataset),
        results.c.metric == "acc", results.c.seed.is_(None))))
    if not pairs:
        raise InvalidField(f"no published {source} numbers for {dataset} are imported: run `rebench db upgrade` "
                           "(it imports them) or drop top_percent", _field("top_source"))
    ranked = sorted((value for _, value in pairs), reverse=True)
    cut = ranked[max(1, math.ceil(len(ranked) * percent / 100.0)) - 1]
    return {arch for arch, value in pairs if value >= cut}


def select_archs(conn: sa.Connection, selector: dict[str, Any], datasets: list[str]) -> dict[str, list[int]]:
    """dataset -> sorted official indices selected by the (normalised) selector."""
    if selector["all"]:
        return {dataset: list(range(NUM_CELLS)) for dataset in datasets}
    base = set(selector["indices"]) if selector["indices"] is not None else set(range(NUM_CELLS))
    archs = Architecture.__table__
    if selector["ops"] is not None:  # every listed op present
        need = sum(1 << OPS.index(op) for op in selector["ops"])
        base &= {i for (i,) in conn.execute(sa.select(archs.c["index"]).where(archs.c.ops_mask.op("&")(need) == need))}
    if selector["exclude_ops"] is not None:  # none of them present
        banned = sum(1 << OPS.index(op) for op in selector["exclude_ops"])
        base &= {i for (i,) in conn.execute(sa.select(archs.c["index"]).where(archs.c.ops_mask.op("&")(banned) == 0))}
    out: dict[str, list[int]] = {}
    for dataset in datasets:
        chosen = set(base)
        if selector["params_min"] is not None or selector["params_max"] is not None:
            settings = ArchSetting.__table__
            query = sa.select(settings.c.arch_index).where(settings.c.dataset == dataset)
            if selector["params_min"] is not None:
                query = query.where(settings.c.params >= selector["params_min"])
            if selector["params_max"] is not None:
                query = query.where(settings.c.params <= selector["params_max"])
            chosen &= {index for (index,) in conn.execute(query)}
        if selector["top_percent"] is not None:
            chosen &= _top(conn, dataset, selector["top_source"], selector["top_percent"])
        out[dataset] = sorted(chosen)
    return out
