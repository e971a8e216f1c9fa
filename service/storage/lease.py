"""Leases: the fencing that keeps a worker which lost its run from writing to it.

A worker that claims a run holds the lease ``(run id, worker id, attempt token)``; the token
is ``runs.attempts`` after the claim, a counter that every claim increments, so a later
claim (another worker after the reaper re-queued the run, or the same worker retrying)
makes every earlier token stale. Each write a worker makes opens its transaction with
:func:`hold`: one conditional ``UPDATE ... WHERE id = :run AND status = 'running' AND
worker_id = :worker AND attempts = :token RETURNING``. It refreshes the heartbeat and locks
the run's row until the commit, so the writes that follow in the same transaction (epoch
rows, the checkpoint's publication, the final result, the status) happen only while the
lease holds: a reaper or a new claim waits for the commit, then sees the fresh heartbeat
(or a finished run). When the lease is gone :func:`hold` raises :class:`LeaseLost` and the
caller rolls back: a worker frozen with SIGSTOP and thawed after its run finished
elsewhere writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .errors import Conflict, InvalidField
from .models import Run, utcnow

__all__ = ["Lease", "LeaseLost", "Held", "hold", "lease_of", "beat_values"]

_runs = Run.__table__


@dataclass(frozen=True)
class Lease:
    run_id: int
    worker_id: str
    token: int  # runs.attempts right after this worker's claim


class LeaseLost(Conflict):
    """The run is no longer held under this lease: reclaimed, finished, cancelled or failed."""

    kind = "lease_lost"


@dataclass(frozen=True)
class Held:
    cancel_requested: bool


def lease_of(run: Run, worker_id: str) -> Lease:
    """The lease of a run this worker has just claimed (``claim_run``'s answer)."""
    return Lease(run.id, worker_id, run.attempts)


def beat_values(epoch: int | None = None, total_epochs: int | None = None) -> dict[str, object]:
    """The columns a heartbeat writes: its time and, when given, the progress (checked)."""
    now = utcnow()
    values: dict[str, object] = {"heartbeat_at": now, "updated_at": now}
    if epoch is not None:
        if epoch < 0:
            raise InvalidField(f"epoch {epoch} must be >= 0", "epoch")
        values["progress_epoch"] = epoch
    if total_epochs is not None:
        if total_epochs <= 0:
            raise InvalidField(f"total_epochs {total_epochs} must be > 0", "total_epochs")
        values["total_epochs"] = total_epochs
    return values


def hold(session: Session, lease: Lease, *, epoch: int | None = None, total_epochs: int | None = None) -> Held:
    """Check the lease, refresh the heartbeat (and progress), and lock the row until the
    transaction ends; :class:`LeaseLost` when the lease no longer holds (nothing written)."""
    values = beat_values(epoch, total_epochs)
    stmt = (sa.update(_runs)
            .where(_runs.c.id == lease.run_id, _runs.c.status == "running", _runs.c.worker_id == lease.worker_id,
                   _runs.c.attempts == lease.token)
            .values(**values).returning(_runs.c.cancel_requested))
    flag = session.execute(stmt).scalar()
    if flag is None:
        now_row = session.execute(sa.select(_runs.c.status, _runs.c.worker_id, _runs.c.attempts)
                                  .where(_runs.c.id == lease.run_id)).one_or_none()
        state = "gone" if now_row is None else (f"{now_row.status}, attempt {now_row.attempts} "
                                                f"by {now_row.worker_id or 'nobody'}")
        raise LeaseLost(f"run {lease.run_id}: lease of attempt {lease.token} by {lease.worker_id} lost "
                        f"(now {state}); this worker must stop and write nothing more", "run_id")
    return Held(cancel_requested=bool(flag))
