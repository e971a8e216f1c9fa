"""Run lifecycle in the database: idempotent creation, atomic claim, heartbeats, cancellation.

Functions take a :class:`~sqlalchemy.orm.Session` whose transaction the caller owns
(``with storage.transaction() as session: ...``). Every state change is one conditional
``UPDATE ... WHERE ... RETURNING`` so that two workers, or a worker and the API, can race
without a lock: the database decides, and the loser gets ``None`` / ``False``.

    queued --claim--> running --store_final_result--> succeeded
       |                 |----mark_failed-----------> failed
       |                 |----mark_cancelled--------> cancelled   (after request_cancel)
       +--request_cancel--------------------------->  cancelled
    running (stale heartbeat) --requeue--> queued     (the reaper)

A *served* run (batch dedup, ``serving.py``) is never claimed, listed as queued work or
trained; each transition above of its representative is copied onto it (``sync_served``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from .bulk import copy_rows, dialect_insert
from .errors import Conflict, InvalidField, NotFound
from .lease import Lease, beat_values, hold
from .models import ACTIVE_STATUSES, Run, utcnow
from .reference import ensure_protocol
from .runspec import (RunSpec, check_trainable, resolve_arch_index, resolve_dataset, resolve_precision,
                      resolve_protocol, resolve_scaling, resolve_seed)
from .serving import is_trained, sync_served

__all__ = ["RunSpec", "CreatedRun", "Served", "Heartbeat", "resolve_protocol", "resolve_arch_index",
           "resolve_dataset", "resolve_scaling", "resolve_seed", "resolve_precision", "check_trainable",
           "create_runs", "get_run", "claim_run", "heartbeat", "request_cancel", "cancel_requested",
           "mark_cancelled", "mark_failed", "list_stale_runs", "requeue_run"]

_runs = Run.__table__


@dataclass(frozen=True)
class CreatedRun:
    id: int
    key: str
    seed: int
    status: str
    created: bool  # False: the run already existed (idempotent resubmission)
    served_from_run_id: int | None = None  # not trained: its result is that run's


@dataclass(frozen=True)
class Served:
    """How a new run is served instead of trained (``service.storage.dedup``)."""

    rep_id: int
    rep_status: str
    by: str  # "isomorphic" | "nb201"


def create_runs(session: Session, specs: Sequence[RunSpec], served: Sequence[Served | None] | None = None, *,
                api_key_id: int | None = None, queue: str | None = None) -> list[CreatedRun]:
    """Create each run unless its (key, precision) exists; returns them in input order.

    The bulk path for any number of runs (16,000 in about a second on PostgreSQL), inside
    the caller's transaction: one read of the runs that already exist, then one multi-row
    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` of the missing ones only, so an
    idempotent resubmission inserts nothing and burns no id (a sequence value is spent by
    every attempted insert, even one that conflicts). Concurrent identical submissions
    stay safe: the UNIQUE (key, precision) constraint lets exactly one insert win and the
    loser reads the winner's row back. ``served[i]`` makes a *new* run i a served run
    (status = its representative's); a run that already exists is returned as it is.
    ``api_key_id`` is the submitting key (it may cancel the runs it created), ``queue`` the
    broker queue they are sent to (the reaper re-sends there).
    """
    if not specs:
        return []
    conn = session.connection()
    protocol_ids = {fp: ensure_protocol(conn, protocol)
                    for fp, protocol in {s.protocol.fingerprint: s.protocol for s in specs}.items()}
    found = _existing(conn, {(s.key, s.precision) for s in specs})
    now = utcnow()
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for position, s in enumerate(specs):
        pair = (s.key, s.precision)
        if pair in found or pair in rows:
            continue
        row: dict[str, object] = {
            "key": s.key, "precision": s.precision, "arch_index": s.arch_index, "dataset": s.dataset,
            "scaling": s.scaling, "protocol_id": protocol_ids[s.protocol.fingerprint], "seed": s.seed,
            "status": "queued", "progress_epoch": 0, "total_epochs": s.protocol.epochs, "attempts": 0,
            "cancel_requested": False, "served_from_run_id": None, "served_by": None, "finished_at": None,
            "api_key_id": api_key_id, "queue": queue, "created_at": now, "updated_at": now}
        how = served[position] if served is not None else None
        if how is not None:
            final = how.rep_status not in ACTIVE_STATUSES
            row.update(served_from_run_id=how.rep_id, served_by=how.by, status=how.rep_status,
                       finished_at=now if final else None)
        rows[pair] = row
    inserted: set[tuple[str, str]] = set()
    if rows:
        returned = _insert_missing(conn, list(rows.values()))
        inserted = {(r.key, r.precision) for r in returned}
        found.update({(r.key, r.precision): r for r in returned})
        raced = set(rows) - inserted  # inserted meanwhile by a concurrent submission: read them
        if raced:
            found.update(_existing(conn, raced))
    return [CreatedRun(found[(s.key, s.precision)].id, s.key, s.seed, found[(s.key, s.precision)].status,
                       (s.key, s.precision) in inserted, found[(s.key, s.precision)].served_from_run_id)
            for s in specs]


_RETURNED = (_runs.c.id, _runs.c.key, _runs.c.precision, _runs.c.status, _runs.c.served_from_run_id)


def _existing(conn: sa.Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], sa.Row]:
    """(key, precision) -> the stored run, for those of ``pairs`` that exist."""
    keys = sorted({key for key, _ in pairs})
    found: dict[tuple[str, str], sa.Row] = {}
    if conn.dialect.name == "postgresql":
        # One array parameter, not 16,000 placeholders (the driver would parse them all).
        chunks = [sa.select(*_RETURNED).where(_runs.c.key == sa.func.any(
            sa.bindparam("keys", keys, type_=postgresql.ARRAY(sa.String))))]
    else:
        chunks = [sa.select(*_RETURNED).where(_runs.c.key.in_(keys[start:start + 500]))
                  for start in range(0, len(keys), 500)]
    for query in chunks:
        found.update({(r.key, r.precision): r for r in conn.execute(query) if (r.key, r.precision) in pairs})
    return found


def _insert_missing(conn: sa.Connection, rows: list[dict[str, object]]) -> list[sa.Row]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` the new runs; the returned ones are ours.

    On PostgreSQL the rows are COPYed into a temporary table and inserted with one
    ``INSERT ... SELECT``: 16,000 rows in well under a second, where one parameterised
    statement per row takes ~10 s."""
    if conn.dialect.name != "postgresql":
        stmt = dialect_insert(conn, _runs).on_conflict_do_nothing(index_elements=["key", "precision"])
        return list(conn.execute(stmt.returning(*_RETURNED), rows).all())
    columns = list(rows[0])
    names = ", ".join(columns)
    conn.execute(sa.text(f"CREATE TEMPORARY TABLE _new_runs ON COMMIT DROP AS SELECT {names} FROM runs WITH NO DATA"))
    copy_rows(conn, sa.table("_new_runs"), columns, ([row[c] for c in columns] for row in rows))
    returning = ", ".join(c.name for c in _RETURNED)
    inserted = conn.execute(sa.text(f"INSERT INTO runs ({names}) SELECT {names} FROM _new_runs "
                                    f"ON CONFLICT (key, precision) DO NOTHING RETURNING {returning}")).all()
    conn.execute(sa.text("DROP TABLE _new_runs"))  # a second call in the same transaction creates it again
    return list(inserted)


def get_run(session: Session, run_id: int) -> Run:
    """The run as stored now (state changes are Core UPDATEs, so refresh the identity map)."""
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        raise NotFound(f"no run with id {run_id}; ids come from POST /v1/runs or POST /v1/batches", "run_id")
    return run


def claim_run(session: Session, run_id: int, worker_id: str, stale_after_s: float = 300.0) -> Run | None:
    """queued -> running for ``worker_id``, atomically. None when the run is finished, cancelled
    (or cancellation requested), served from another run, or running under another worker
    whose heartbeat is fresh."""
    now = utcnow()
    stale = now - timedelta(seconds=stale_after_s)
    claimable = sa.or_(
        _runs.c.status == "queued",
        sa.and_(_runs.c.status == "running",
                sa.or_(_runs.c.worker_id == worker_id, _runs.c.heartbeat_at.is_(None), _runs.c.heartbeat_at < stale)),
    )
    stmt = (sa.update(_runs).where(_runs.c.id == run_id, claimable, _runs.c.cancel_requested.is_(False),
                                   is_trained)
            .values(status="running", worker_id=worker_id, heartbeat_at=now, updated_at=now,
                    started_at=sa.func.coalesce(_runs.c.started_at, now), attempts=_runs.c.attempts + 1, error=None)
            .returning(_runs.c.id))
    if session.execute(stmt).scalar() is None:
        return None
    sync_served(session.connection(), run_id)
    return get_run(session, run_id)


@dataclass(frozen=True)
class Heartbeat:
    owned: bool  # False: the run is no longer this worker's (reclaimed, finished or cancelled): stop
    cancel_requested: bool


def heartbeat(session: Session, run_id: int, worker_id: str, epoch: int | None = None,
              total_epochs: int | None = None) -> Heartbeat:
    """Refresh the heartbeat (and progress) of a run this worker holds; says whether to stop."""
    values = beat_values(epoch, total_epochs)
    stmt = (sa.update(_runs).where(_runs.c.id == run_id, _runs.c.status == "running", _runs.c.worker_id == worker_id)
            .values(**values).returning(_runs.c.cancel_requested))
    flag = session.execute(stmt).scalar()
    if flag is None:
        return Heartbeat(owned=False, cancel_requested=cancel_requested(session, run_id))
    return Heartbeat(owned=True, cancel_requested=bool(flag))


def request_cancel(session: Session, run_id: int) -> Run:
    """Cancel a queued run now; flag a running one for its worker to stop; 409 on a finished run.
    A served run is cancelled at once (no worker holds it); its representative goes on. A
    representative's cancellation reaches the runs it serves."""
    now = utcnow()
    session.execute(sa.update(_runs).where(_runs.c.id == run_id, ~is_trained, _runs.c.status.in_(ACTIVE_STATUSES))
                    .values(status="cancelled", cancel_requested=True, finished_at=now, updated_at=now))
    session.execute(sa.update(_runs).where(_runs.c.id == run_id, _runs.c.status == "queued")
                    .values(status="cancelled", cancel_requested=True, finished_at=now, updated_at=now))
    session.execute(sa.update(_runs).where(_runs.c.id == run_id, _runs.c.status == "running")
                    .values(cancel_requested=True, updated_at=now))
    sync_served(session.connection(), run_id)
    run = get_run(session, run_id)
    if run.status in ("succeeded", "failed"):
        raise Conflict(f"run {run_id} already {run.status}: there is nothing to cancel", "run_id")
    return run


def cancel_requested(session: Session, run_id: int) -> bool:
    flag = session.execute(sa.select(_runs.c.cancel_requested).where(_runs.c.id == run_id)).scalar()
    if flag is None:
        raise NotFound(f"no run with id {run_id}", "run_id")
    return bool(flag)


def _finish(session: Session, run_id: int, status: str, lease: Lease | None = None, **values: object) -> bool:
    if lease is not None:
        hold(session, lease)  # LeaseLost: another attempt owns the run's ending now
    now = utcnow()
    stmt = (sa.update(_runs).where(_runs.c.id == run_id, _runs.c.status.in_(ACTIVE_STATUSES))
            .values(status=status, finished_at=now, updated_at=now, **values).returning(_runs.c.id))
    done = session.execute(stmt).scalar() is not None
    if done:
        sync_served(session.connection(), run_id)
    else:
        get_run(session, run_id)  # NotFound for an unknown id; else it was already final: a no-op
    return done


def mark_cancelled(session: Session, run_id: int, lease: Lease | None = None) -> bool:
    """The worker stopped after a cancel request. False if the run was already final."""
    return _finish(session, run_id, "cancelled", lease)


def mark_failed(session: Session, run_id: int, error: str, traceback_id: str | None = None,
                lease: Lease | None = None) -> bool:
    """Record a failure (message + id of the stored traceback). False if the run was already final."""
    if not error:
        raise InvalidField("error must say what went wrong (the exception's message)", "error")
    return _finish(session, run_id, "failed", lease, error=error[:10_000], traceback_id=traceback_id)


def list_stale_runs(session: Session, older_than_s: float, statuses: Sequence[str] = ACTIVE_STATUSES,
                    limit: int = 1000) -> list[Run]:
    """Active runs whose last sign of life (heartbeat, else creation) is older than ``older_than_s``."""
    bad = set(statuses) - set(ACTIVE_STATUSES)
    if bad:
        raise InvalidField(f"statuses {sorted(bad)} are final, never stale; use {ACTIVE_STATUSES}", "statuses")
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    last_seen = sa.func.coalesce(Run.heartbeat_at, Run.created_at)
    # Served runs are never trained, so never queued work for a runner or the reaper.
    query = (sa.select(Run).where(Run.status.in_(list(statuses)), last_seen < cutoff, is_trained)
             .order_by(Run.id).limit(limit))
    return list(session.scalars(query))


def requeue_run(session: Session, run_id: int, older_than_s: float) -> str | None:
    """The reaper's move for a stale running run: back to ``queued`` -- or to ``cancelled`` when
    a cancel was requested (no worker would claim it again). None: the run came back to life
    (fresh heartbeat) or is not running."""
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_s)
    stale = (_runs.c.id == run_id, _runs.c.status == "running",
             sa.func.coalesce(_runs.c.heartbeat_at, _runs.c.created_at) < cutoff)
    # A locked row is being written by its worker under its lease (service.storage.lease):
    # alive, so skip it rather than wait (a worker frozen mid-transaction would stall the reaper).
    locked = sa.select(_runs.c.id).where(*stale).with_for_update(skip_locked=True)
    if session.execute(locked).scalar() is None:
        return None
    cancelled = session.execute(sa.update(_runs).where(*stale, _runs.c.cancel_requested.is_(True))
                                .values(status="cancelled", finished_at=now, updated_at=now)
                                .returning(_runs.c.id)).scalar()
    if cancelled is not None:
        sync_served(session.connection(), run_id)
        return "cancelled"
    queued = session.execute(sa.update(_runs).where(*stale).values(status="queued", worker_id=None, updated_at=now)
                             .returning(_runs.c.id)).scalar()
    if queued is None:
        return None
    sync_served(session.connection(), run_id)
    return "queued"
