"""The ``base_lrs`` table: store, list and resolve base LRs with their provenance.

Rows come from the shipped reference entries (``archscale/data/base_lrs.json``, synced by
``sync_base_lrs`` on every ``Database.init``) and from ``rebench base-lr`` (``store_entry``).
One row per (dataset, recipe, protocol, origin); the one in force for a (dataset, recipe,
protocol) is chosen by ``archscale.base_lrs.precedence``: a hand-set value, then a complete
(3-seed) search done under this code, then the released code's default argument, then a partial
search.
The API and the workers both call :func:`active_base_lr`, so what is listed is what trains.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archscale.base_lrs import (BASE_LR_RECIPES, ORIGIN_PRECEDENCE, BaseLREntry, fix_command, precedence,
                                reference_entries)

from .errors import InvalidField, NoBaseLRStored
from .models import BaseLR, utcnow

__all__ = ["ORIGIN_PRECEDENCE", "base_lr_value", "store_entry", "sync_base_lrs", "active_base_lr", "list_base_lrs",
           "require_base_lr", "row_out", "lr_used"]


def _json_losses(losses: dict[str, list[float]]) -> dict[str, list[float | None]]:
    # JSON has no NaN: a diverged LR is stored as null
    return {seed: [v if math.isfinite(v) else None for v in values] for seed, values in losses.items()}


def _row(entry: BaseLREntry) -> dict[str, Any]:
    return {"dataset": entry.dataset, "recipe": entry.recipe, "protocol": entry.protocol,
            "protocol_key": entry.protocol_key, "value": float(entry.value), "origin": entry.origin,
            "grid": list(entry.grid), "losses": _json_losses(entry.losses), "seeds": list(entry.seeds),
            "criterion": entry.criterion, "code_version": entry.code_version, "hardware": entry.hardware,
            "note": entry.note, "extra": dict(entry.extra), "searched_at": entry.created_at}


def store_entry(conn: sa.Connection, entry: BaseLREntry) -> None:
    """Insert or replace the row of (dataset, recipe, protocol, origin)."""
    if entry.recipe not in BASE_LR_RECIPES:
        raise InvalidField(f"recipe {entry.recipe!r} takes no base LR; use one of {', '.join(BASE_LR_RECIPES)}",
                           "recipe")
    table = BaseLR.__table__
    row = _row(entry)
    key = (table.c.dataset == entry.dataset) & (table.c.recipe == entry.recipe) & \
        (table.c.protocol == entry.protocol) & (table.c.origin == entry.origin)
    if conn.execute(sa.select(table.c.id).where(key)).scalar() is None:
        conn.execute(table.insert().values(**row, created_at=utcnow()))
    else:
        conn.execute(table.update().where(key).values(**row))


def sync_base_lrs(conn: sa.Connection) -> None:
    """Make the shipped reference entries present (a few rows: cheap on every start)."""
    table = BaseLR.__table__
    stored = {(r.dataset, r.recipe, r.protocol, r.origin): r for r in conn.execute(sa.select(table)).all()}
    for entry in reference_entries():
        have = stored.get((*entry.key, entry.origin))
        if have is None or have.value != entry.value or have.grid != list(entry.grid) or \
                have.losses != _json_losses(entry.losses):
            store_entry(conn, entry)


def _candidates(session: Session | sa.Connection, dataset: str, recipe: str, protocol: str) -> list[BaseLR]:
    stmt = sa.select(BaseLR).where(BaseLR.dataset == dataset, BaseLR.recipe == recipe, BaseLR.protocol == protocol)
    if isinstance(session, Session):
        return list(session.scalars(stmt))
    return list(session.execute(sa.select(BaseLR.__table__).where(
        BaseLR.__table__.c.dataset == dataset, BaseLR.__table__.c.recipe == recipe,
        BaseLR.__table__.c.protocol == protocol)).all())


def active_base_lr(session: Session | sa.Connection, dataset: str, recipe: str, protocol: str):
    """The row in force for (dataset, recipe, protocol name), or None."""
    rows = _candidates(session, dataset, recipe, protocol)
    rows.sort(key=lambda r: precedence(r.origin, r.seeds))
    return rows[0] if rows else None


def base_lr_value(db, dataset: str, scaling: str, protocol: str) -> tuple[float | None, str | None]:
    """For the worker: (value in force, "table:<origin>"), (None, None) when the scaling takes none or
    none is known (the engine then falls back to its cache / reference entries, or fails with NoBaseLR)."""
    if scaling not in BASE_LR_RECIPES:
        return None, None
    with db.transaction() as session:
        row = active_base_lr(session, dataset, scaling, protocol)
        return (None, None) if row is None else (float(row.value), f"table:{row.origin}")


def require_base_lr(session: Session, dataset: str, scaling: str, protocol: str) -> float | None:
    """The base LR a run of ``scaling`` will use, or NoBaseLRStored (HTTP 409) naming the fix."""
    if scaling not in BASE_LR_RECIPES:
        return None
    row = active_base_lr(session, dataset, scaling, protocol)
    if row is None:
        raise NoBaseLRStored(
            f"no base LR is known for dataset {dataset!r} under recipe {scaling!r} and protocol {protocol!r}, so "
            f"this run could not train; find one with `{fix_command(dataset, scaling, protocol)} --data-root PATH` "
            "(GET /v1/base-lrs lists the known ones)", "dataset")
    return float(row.value)


def row_out(row: BaseLR, active: bool) -> dict[str, Any]:
    return {"dataset": row.dataset, "recipe": row.recipe, "protocol": row.protocol, "protocol_key": row.protocol_key,
            "value": row.value, "origin": row.origin, "active": active, "grid": row.grid, "losses": row.losses,
            "seeds": row.seeds, "criterion": row.criterion, "code_version": row.code_version,
            "hardware": row.hardware, "note": row.note, "searched_at": row.searched_at or None,
            "created_at": row.created_at}


def list_base_lrs(session: Session, dataset: str | None = None, recipe: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(BaseLR).order_by(BaseLR.dataset, BaseLR.recipe, BaseLR.protocol, BaseLR.origin)
    if dataset:
        stmt = stmt.where(BaseLR.dataset == dataset)
    if recipe:
        stmt = stmt.where(BaseLR.recipe == recipe)
    rows = list(session.scalars(stmt))
    active = {}
    for row in rows:
        key = (row.dataset, row.recipe, row.protocol)
        if key not in active or precedence(row.origin, row.seeds) < precedence(active[key].origin, active[key].seeds):
            active[key] = row
    return [row_out(r, active[(r.dataset, r.recipe, r.protocol)] is r) for r in rows]


def lr_used(extra: dict[str, Any] | None) -> dict[str, Any]:
    """Which base LR (and where it came from) and which LR a finished run trained with, from its
    stored result (``final_results.extra``); None for runs without a result yet."""
    extra = extra or {}
    rule = (extra.get("init") or {}).get("lr_rule") or {}
    return {"base_lr": extra.get("base_lr"), "base_lr_source": extra.get("base_lr_source"), "lr": extra.get("lr"),
            "lr_search": rule.get("search")}  # per-arch-searched: the run's own grid and losses
