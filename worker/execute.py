"""Execute one run by id: the body shared by the Celery task and the embedded runner.

    claim (atomic; skip if finished, cancelled or held by a live worker) -> a lease
      (run id, worker id, attempt token: ``service.storage.lease``)
      -> train via archscale.training.train_run in an attempt-specific checkpoint dir seeded
         from the run's published checkpoint (``worker.checkpoints``)
         * after every epoch, one transaction that opens by holding the lease: heartbeat +
           progress, the epoch's metrics, then the checkpoint published into place; a cancel
           request raises Cancelled there (the epoch's checkpoint is kept)
         * a heartbeat thread beats (under the lease) inside long epochs for the reaper
      -> store the final result exactly once, under the lease (all rows or none)

Fencing: every write (epoch rows, checkpoint, final result, status) happens only while the
lease holds. A worker that lost it (frozen, its run re-queued and claimed by another) gets
LeaseLost at the next step boundary and stops: it writes nothing more.

Errors: database/broker outages are *transient* (:class:`TransientError`: the caller
retries later and training resumes from the checkpoint, nothing partial is committed);
anything else marks the run failed with its message and a traceback id whose full text
is written to ``<artifacts>/tracebacks/<id>.txt``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlalchemy.exc

from archscale.protocols import get_protocol
from service.settings import Settings
from service.storage.base_lrs import base_lr_value
from service.storage import results as result_repo
from service.storage import runs as run_repo
from service.storage.database import Database
from service.storage.lease import Lease, LeaseLost, hold, lease_of
from service.storage.models import Protocol as ProtocolRow

from .checkpoints import AttemptCheckpoint

__all__ = ["TransientError", "Outcome", "execute_run", "worker_identity", "TRANSIENT_ERRORS"]

log = logging.getLogger(__name__)

#: Exceptions that mean "the database or broker is unreachable", not "this run is broken".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, ConnectionError, TimeoutError)


class TransientError(RuntimeError):
    """Infrastructure failed mid-run; retry the run later (it resumes from its checkpoint)."""


@dataclass(frozen=True)
class Outcome:
    run_id: int
    status: str  # succeeded | failed | cancelled | skipped | lost
    detail: str = ""


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _retrying(fn: Callable[[], object], attempts: int = 3, delay_s: float = 0.5) -> object:
    """Run a short DB transaction, riding out a blip; re-raise as TransientError after that."""
    for attempt in range(attempts):
        try:
            return fn()
        except TRANSIENT_ERRORS as exc:
            if attempt == attempts - 1:
                raise TransientError(f"database unreachable: {exc}") from exc
            time.sleep(delay_s * 2 ** attempt)
    raise AssertionError("unreachable")


class _Heartbeat(threading.Thread):
    """Beats every ``every_s`` while an epoch runs (liveness inside long epochs), under the
    lease: once it is lost the thread stops beating and the epoch callback stops the run."""

    def __init__(self, db: Database, lease: Lease, every_s: float):
        super().__init__(name=f"heartbeat-{lease.run_id}", daemon=True)
        self.db, self.lease, self.every_s = db, lease, every_s
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                with self.db.transaction() as session:
                    hold(session, self.lease)
            except LeaseLost:
                self.lost = True
                return
            except TRANSIENT_ERRORS as exc:  # the epoch callback decides; keep trying
                log.warning("heartbeat of run %s failed: %s", self.lease.run_id, exc)


def execute_run(run_id: int, db: Database, settings: Settings, worker_id: str | None = None) -> Outcome:
    """Claim and train run ``run_id``; see the module docstring for the guarantees."""
    from archscale.training import Cancelled, RunSpec, train_run  # torch: only in worker processes

    worker_id = worker_id or worker_identity()

    def claim():
        with db.transaction() as session:
            run = run_repo.claim_run(session, run_id, worker_id, settings.stale_after_s)
            if run is None:
                return None
            protocol = session.get(ProtocolRow, run.protocol_id)
            if protocol.fingerprint != get_protocol(protocol.name).fingerprint:
                # This code would train another recipe than the one submitted: refuse, loudly.
                run_repo.mark_failed(session, run_id, f"run {run_id} asks for {protocol.name}@v{protocol.version}, "
                                     f"this worker trains {get_protocol(protocol.name).key}: upgrade the worker")
                return "mismatch"
            return (lease_of(run, worker_id), run.arch_index, run.dataset, run.scaling, protocol.name, run.seed,
                    run.precision)

    claimed = _retrying(claim)
    if claimed is None:
        return Outcome(run_id, "skipped", "finished, cancelled or held by a live worker")
    if claimed == "mismatch":
        return Outcome(run_id, "failed", "protocol version mismatch")
    lease, arch_index, dataset, scaling, protocol, seed, precision = claimed
    base_lr, base_lr_origin = _retrying(lambda: base_lr_value(db, dataset, scaling, protocol))  # as the API checked
    spec = RunSpec(arch=arch_index, dataset=dataset, scaling=scaling, protocol=protocol, seed=seed,
                   precision=precision, data_root=settings.resolved_data_root, device=settings.device,
                   cache_dir=settings.resolved_cache_dir, base_lr=base_lr, base_lr_origin=base_lr_origin)
    checkpoint = AttemptCheckpoint(settings.resolved_artifact_dir / "runs" / str(run_id), lease.token)
    beat = _Heartbeat(db, lease, settings.heartbeat_s)

    def on_epoch(metrics) -> None:
        if beat.lost:
            raise LeaseLost(f"run {run_id}: lease lost (heartbeat)", "run_id")

        def record():
            with db.transaction() as session:
                held = hold(session, lease, epoch=metrics.epoch, total_epochs=metrics.epochs)  # locks the row
                result_repo.append_epoch(session, run_id, metrics.epoch, train_loss=metrics.train_loss,
                                         train_acc=metrics.train_acc, lr=metrics.lr, seconds=metrics.seconds,
                                         evals=metrics.eval)
                checkpoint.publish()  # still inside the locked transaction: only under the lease
                return held

        if _retrying(record).cancel_requested:
            raise Cancelled()

    beat.start()
    try:
        result = train_run(spec, checkpoint.prepare(), on_epoch)
    except Cancelled:
        try:
            _retrying(lambda: _in_tx(db, run_repo.mark_cancelled, run_id, lease))
        except LeaseLost:
            return _lost(run_id, checkpoint)
        return Outcome(run_id, "cancelled", f"checkpoint kept in {checkpoint.run_dir}")
    except LeaseLost:
        return _lost(run_id, checkpoint)
    except TransientError:
        checkpoint.discard()  # the retry claims a new attempt, resuming from what was published
        raise
    except TRANSIENT_ERRORS as exc:
        checkpoint.discard()
        raise TransientError(str(exc)) from exc
    except Exception as exc:  # deterministic: the run itself is broken
        checkpoint.discard()
        trace_id = _save_traceback(settings.resolved_artifact_dir)
        message = f"{type(exc).__name__}: {exc}"
        try:
            _retrying(lambda: _in_tx(db, run_repo.mark_failed, run_id, message, trace_id, lease))
        except LeaseLost:
            return _lost(run_id, checkpoint)
        return Outcome(run_id, "failed", message)
    finally:
        beat.stopped.set()

    last = result.epochs[-1] if result.epochs else {}
    metrics = {**result.final, "train": {"loss": last.get("train_loss"), "acc": last.get("train_acc")}}
    metrics["train"] = {k: v for k, v in metrics["train"].items() if v is not None}
    extra = {k: v for k, v in result.to_dict().items() if k != "epochs"}

    def store():
        with db.transaction() as session:
            # The whole curve again (idempotent upserts): an epoch trained before a database
            # outage and restored from the checkpoint was never reported by on_epoch.
            hold(session, lease)  # first: the row stays locked for every write below
            for row in result.epochs:
                result_repo.append_epoch(session, run_id, row["epoch"], train_loss=row["train_loss"],
                                         train_acc=row["train_acc"], lr=row["lr"], seconds=row["seconds"],
                                         evals=row["eval"])
            checkpoint.publish()
            return result_repo.store_final_result(session, run_id, fingerprint=result.fingerprint,
                                                  code_version=result.provenance.get("code_version", ""),
                                                  metrics=metrics, seconds=result.wall_seconds, extra=extra)

    try:
        _retrying(store)
    except LeaseLost:
        return _lost(run_id, checkpoint)
    checkpoint.discard()
    return Outcome(run_id, "succeeded", f"{result.wall_seconds:.1f} s")


def _lost(run_id: int, checkpoint: AttemptCheckpoint) -> Outcome:
    """The lease is gone: drop this attempt's unpublished checkpoint and stop, writing nothing."""
    checkpoint.discard()
    log.warning("run %s: lease lost; this attempt stops without writing", run_id)
    return Outcome(run_id, "lost", "another attempt holds the run now; this one wrote nothing more")


def _in_tx(db: Database, fn, *args):
    with db.transaction() as session:
        return fn(session, *args)


def _save_traceback(artifact_dir: Path) -> str:
    trace_id = uuid.uuid4().hex
    folder = artifact_dir / "tracebacks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{trace_id}.txt").write_text(traceback.format_exc())
    log.error("run failed; traceback %s\n%s", trace_id, traceback.format_exc())
    return trace_id
