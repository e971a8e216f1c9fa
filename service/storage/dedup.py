"""Batch deduplication: train one representative per equivalence class, serve the others.

``dedup`` (``service.storage.serving.DEDUP_MODES``):

- ``exact``: today's rule, one run per (arch, dataset, scaling, protocol, seed, precision).
- ``isomorphic``: classes of ``archscale.isomorphism.relabel_key`` (14,125 over 15,625 cells):
  the same network up to the names of hidden vertices 1 and 2. Same parameters, init
  distribution, S and LR; only the RNG draw order differs. Serving is exact up to the seed.
- ``nb201``: classes of ``nb201_unique_key`` (NB201's 6,466). They compute the same function
  family but do *not* train identically (``docs/science.md`` §4): an approximation, marked.

Per class and per (dataset, scaling, protocol, seed, precision) the representative is, in
order: an existing trained run of any class member (succeeded before running before queued,
then the lowest official index), else the batch's member with the lowest official index.
Both keys come from the ``architectures`` table (written from ``archscale.isomorphism``), so
"any class member" includes cells that are not in the batch.

A run served under ``nb201`` is an approximation that only ``dedup=nb201`` asked for: when an
``exact`` or ``isomorphic`` submission (``POST /v1/runs`` included) names its key, it is
*promoted* to a run of its own (queued, trained) instead of being returned as served. A run
served under ``isomorphic`` is the same network, so every mode accepts it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .bulk import bump_counter
from .errors import InvalidField
from .models import Architecture, Protocol, Run, utcnow
from .runs import CreatedRun, RunSpec, Served, create_runs
from .serving import DEDUP_MODES, is_trained

__all__ = ["DEDUP_MODES", "KEY_COLUMNS", "resolve_dedup", "create_runs_dedup"]

#: dedup mode -> the column of ``architectures`` holding its class key
KEY_COLUMNS = {"isomorphic": "relabel_key", "nb201": "unique_key"}
_PREFERENCE = {"succeeded": 0, "running": 1, "queued": 2}  # failed/cancelled runs are never chosen
#: dedup mode -> the served runs (by ``served_by``) a submission in that mode accepts as they are
_ACCEPTS = {"exact": ("isomorphic",), "isomorphic": ("isomorphic",), "nb201": ("isomorphic", "nb201")}
_runs = Run.__table__
_archs = Architecture.__table__


def resolve_dedup(dedup: str, field: str = "dedup") -> str:
    if dedup not in DEDUP_MODES:
        raise InvalidField(f"unknown dedup {dedup!r}; use one of {', '.join(DEDUP_MODES)} (exact: one run per arch; "
                           "isomorphic: one per relabelling class, the same network; nb201: one per NB201 "
                           "isomorphism class, an approximation)", field)
    return dedup


def _class_keys(conn: sa.Connection, column: str, indices: set[int]) -> dict[int, str]:
    col = _archs.c[column]
    out: dict[int, str] = {}
    ordered = sorted(indices)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        rows = conn.execute(sa.select(_archs.c["index"], col).where(_archs.c["index"].in_(chunk)))
        out.update({index: key for index, key in rows})
    return out


def _existing_trained(conn: sa.Connection, column: str, keys: set[str], specs: Sequence[RunSpec]
                      ) -> dict[tuple, int]:
    """(class key, dataset, scaling, protocol fingerprint, seed, precision) -> the best live trained run."""
    col = _archs.c[column]
    datasets = {s.dataset for s in specs}
    scalings = {s.scaling for s in specs}
    best: dict[tuple, tuple[tuple[int, int], int]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        query = (sa.select(col, _runs.c.id, _runs.c.arch_index, _runs.c.dataset, _runs.c.scaling, _runs.c.seed,
                           _runs.c.precision, _runs.c.status, Protocol.__table__.c.fingerprint)
                 .join(_archs, _archs.c["index"] == _runs.c.arch_index)
                 .join(Protocol.__table__, Protocol.__table__.c.id == _runs.c.protocol_id)
                 .where(col.in_(ordered[start:start + 500]), is_trained, _runs.c.status.in_(list(_PREFERENCE)),
                        _runs.c.dataset.in_(datasets), _runs.c.scaling.in_(scalings)))
        for key, run_id, arch, dataset, scaling, seed, precision, status, fingerprint in conn.execute(query):
            group = (key, dataset, scaling, fingerprint, seed, precision)
            rank = (_PREFERENCE[status], arch)
            if group not in best or rank < best[group][0]:
                best[group] = (rank, run_id)
    return {group: run_id for group, (_, run_id) in best.items()}


def _promote(conn: sa.Connection, runs: list[CreatedRun], dedup: str) -> list[CreatedRun]:
    """Existing served runs this mode does not accept become runs to train (``created`` True:
    the caller sends them to a worker like new ones)."""
    ids = sorted({r.id for r in runs if r.served_from_run_id is not None and not r.created})
    if not ids:
        return runs
    stmt = (sa.update(_runs).where(_runs.c.id.in_(ids), _runs.c.served_by.not_in(_ACCEPTS[dedup]))
            .values(served_from_run_id=None, served_by=None, status="queued", progress_epoch=0, error=None,
                    traceback_id=None, cancel_requested=False, finished_at=None, updated_at=utcnow())
            .returning(_runs.c.id))
    promoted = {row[0] for row in conn.execute(stmt)}
    if not promoted:
        return runs
    bump_counter(conn)  # their served numbers leave the rankings
    return [replace(r, status="queued", served_from_run_id=None, created=True) if r.id in promoted else r
            for r in runs]


def create_runs_dedup(session: Session, specs: Sequence[RunSpec], dedup: str = "exact", *,
                      api_key_id: int | None = None, queue: str | None = None) -> list[CreatedRun]:
    """Like :func:`~service.storage.runs.create_runs` (input order, idempotent, bulk; the
    submitting key and the broker queue are stored on new runs), but under
    ``isomorphic``/``nb201`` only each class's representative is a run to train; the other
    members' new runs are served from it (``CreatedRun.served_from_run_id``)."""
    dedup = resolve_dedup(dedup)
    conn = session.connection()
    owner = {"api_key_id": api_key_id, "queue": queue}
    if dedup == "exact" or not specs:
        return _promote(conn, create_runs(session, specs, **owner), dedup)
    column = KEY_COLUMNS[dedup]
    key_of = _class_keys(conn, column, {s.arch_index for s in specs})
    groups: dict[tuple, list[int]] = defaultdict(list)
    for position, s in enumerate(specs):
        groups[(key_of[s.arch_index], s.dataset, s.scaling, s.protocol.fingerprint, s.seed, s.precision)].append(
            position)
    existing = _existing_trained(conn, column, set(key_of.values()), specs)
    # Representatives first: new ones are ordinary runs (queued, to be trained).
    new_reps = {group: min(positions, key=lambda p: specs[p].arch_index)
                for group, positions in groups.items() if group not in existing}
    order = sorted(new_reps.values())
    created = dict(zip(order, _promote(conn, create_runs(session, [specs[p] for p in order], **owner), dedup)))
    rep_of: dict[tuple, int] = dict(existing)
    for group, position in new_reps.items():
        run = created[position]
        # A member's key may already hold a served run: serve from what that one serves.
        rep_of[group] = run.served_from_run_id or run.id
    # Lock the representatives (sorted: no deadlock between batches) so that a representative
    # finishing now waits for this transaction and then updates the served runs it creates.
    rep_ids = sorted(set(rep_of.values()))
    status: dict[int, str] = {}
    for start in range(0, len(rep_ids), 500):
        rows = conn.execute(sa.select(_runs.c.id, _runs.c.status).where(_runs.c.id.in_(rep_ids[start:start + 500]))
                            .order_by(_runs.c.id).with_for_update())
        status.update({run_id: state for run_id, state in rows})
    members = [p for group, positions in groups.items() for p in positions if created.get(p) is None]
    served = [Served(rep_of[g], status[rep_of[g]], dedup) for g in
              ((key_of[specs[p].arch_index], specs[p].dataset, specs[p].scaling, specs[p].protocol.fingerprint,
                specs[p].seed, specs[p].precision) for p in members)]
    served_runs = create_runs(session, [specs[p] for p in members], served, **owner)
    if any(r.created and r.served_from_run_id and r.status == "succeeded" for r in served_runs):
        bump_counter(conn)  # served from a finished run: new numbers for the rankings right away
    created.update(zip(members, _promote(conn, served_runs, dedup)))
    return [created[p] for p in range(len(specs))]
