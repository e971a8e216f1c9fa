"""Served runs: a run whose result is another run's (``runs.served_from_run_id``).

A batch submitted with ``dedup=isomorphic`` or ``dedup=nb201`` trains one representative
per equivalence class and creates *served* runs for the other members
(``service.storage.dedup``). A served run is never trained: ``claim_run`` refuses it and
``list_stale_runs`` (the embedded runner's queue and the reaper) never returns it.

Its status follows its representative's. Every transition of a representative calls
:func:`sync_served` in the same transaction, so a served run can never be seen in a state
its representative has left. Its result is *not* copied: it is resolved at read time
(``GET /v1/runs/{id}``, the read model), so a trained run keeps exactly one final result
and the served ones cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from .models import ACTIVE_STATUSES, Run, utcnow

__all__ = ["DEDUP_MODES", "sync_served", "is_trained", "arch_of_runs"]

#: ``exact``: one run per (arch, dataset, scaling, protocol, seed, precision), nothing served.
#: ``isomorphic``: one run per ``archscale.isomorphism.relabel_key`` class (the same network).
#: ``nb201``: one run per ``nb201_unique_key`` class (NB201's 6,466; an approximation).
DEDUP_MODES = ("exact", "isomorphic", "nb201")

_runs = Run.__table__

#: A run a worker may train: not served from another run.
is_trained = _runs.c.served_from_run_id.is_(None)


def sync_served(conn: sa.Connection, rep_id: int) -> int:
    """Copy the representative's status (and its end: error, finish time) onto the runs it
    serves that are still active. A served run someone cancelled on its own stays cancelled.
    Returns how many served runs moved."""
    rep = conn.execute(sa.select(_runs.c.status, _runs.c.error, _runs.c.traceback_id, _runs.c.finished_at)
                       .where(_runs.c.id == rep_id)).one_or_none()
    if rep is None:
        return 0
    values: dict[str, object] = {"status": rep.status, "updated_at": utcnow()}
    if rep.status not in ACTIVE_STATUSES:
        values["finished_at"] = rep.finished_at or utcnow()
        if rep.status == "failed":
            values["error"] = f"representative run {rep_id} failed: {rep.error or ''}"[:10_000]
            values["traceback_id"] = rep.traceback_id
        elif rep.status == "cancelled":
            values["error"] = f"representative run {rep_id} was cancelled"
    stmt = (sa.update(_runs).where(_runs.c.served_from_run_id == rep_id, _runs.c.status.in_(ACTIVE_STATUSES),
                                   _runs.c.status != rep.status).values(**values))
    return conn.execute(stmt).rowcount or 0


def arch_of_runs(conn: sa.Connection, run_ids: Iterable[int]) -> dict[int, int]:
    """run id -> arch index (e.g. the representatives' archs, for a batch answer)."""
    ids = sorted(set(run_ids))
    out: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(sa.select(_runs.c.id, _runs.c.arch_index).where(_runs.c.id.in_(ids[start:start + 500])))
        out.update({run_id: arch for run_id, arch in rows})
    return out
