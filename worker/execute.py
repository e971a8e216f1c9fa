"""Execute one run by id: the body shared by the Celery task and the embedded runner.

    claim (atomic; skip if finished, cancelled or held by a live worker)
      -> train via archscale.training.train_run, resuming from the run's checkpoint dir
         * after every epoch: per-epoch metrics + heartbeat + progress, one transaction;
           a cancel request raises Cancelled there (the epoch's checkpoint is kept)
         * a heartbeat thread keeps long epochs alive for the reaper
      -> store the final result exactly once (one transaction: all rows or none)

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
from service.storage.models import Protocol as ProtocolRow

__all__ = ["TransientError", "Outcome", "execute_run", "worker_identity", "TRANSIENT_ERRORS"]

log = logging.getLogger(__name__)

#: Exceptions that mean "the database or broker is unreachable", not "this run is broken".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, ConnectionError, TimeoutError)


class TransientError(RuntimeError):
    """Infrastructure failed mid-run; retry the run later (it resumes from its checkpoint)."""


class _LostOwnership(Exception):
    """The run is no longer ours (reclaimed by another worker after a stale heartbeat)."""


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
    """Beats every ``every_s`` while an epoch runs, so the reaper never takes a live run."""

    def __init__(self, db: Database, run_id: int, worker_id: str, every_s: float):
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.db, self.run_id, self.worker_id, self.every_s = db, run_id, worker_id, every_s
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                with self.db.transaction() as session:
                    beat = run_repo.heartbeat(session, self.run_id, self.worker_id)
                self.lost = not beat.owned
            except TRANSIENT_ERRORS as exc:  # the epoch callback decides; keep trying
                log.warning("heartbeat of run %s failed: %s", self.run_id, exc)


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
            return run.arch_index, run.dataset, run.scaling, protocol.name, run.seed, run.precision

    claimed = _retrying(claim)
    if claimed is None:
        return Outcome(run_id, "skipped", "finished, cancelled or held by a live worker")
    if claimed == "mismatch":
        return Outcome(run_id, "failed", "protocol version mismatch")
    arch_index, dataset, scaling, protocol, seed, precision = claimed
    base_lr, base_lr_origin = _retrying(lambda: base_lr_value(db, dataset, scaling, protocol))  # as the API checked
    spec = RunSpec(arch=arch_index, dataset=dataset, scaling=scaling, protocol=protocol, seed=seed,
                   precision=precision, data_root=settings.resolved_data_root, device=settings.device,
                   cache_dir=settings.resolved_cache_dir, base_lr=base_lr, base_lr_origin=base_lr_origin)
    checkpoint_dir = settings.resolved_artifact_dir / "runs" / str(run_id)
    beat = _Heartbeat(db, run_id, worker_id, settings.heartbeat_s)

    def on_epoch(metrics) -> None:
        def record():
            with db.transaction() as session:
                result_repo.append_epoch(session, run_id, metrics.epoch, train_loss=metrics.train_loss,
                                         train_acc=metrics.train_acc, lr=metrics.lr, seconds=metrics.seconds,
                                         evals=metrics.eval)
                return run_repo.heartbeat(session, run_id, worker_id, epoch=metrics.epoch,
                                          total_epochs=metrics.epochs)

        state = _retrying(record)
        if not state.owned or beat.lost:
            raise _LostOwnership()
        if state.cancel_requested:
            raise Cancelled()

    beat.start()
    try:
        result = train_run(spec, checkpoint_dir, on_epoch)
    except Cancelled:
        _retrying(lambda: _in_tx(db, run_repo.mark_cancelled, run_id))
        return Outcome(run_id, "cancelled", f"checkpoint kept in {checkpoint_dir}")
    except _LostOwnership:
        return Outcome(run_id, "lost", "another worker holds the run now")
    except TransientError:
        raise
    except TRANSIENT_ERRORS as exc:
        raise TransientError(str(exc)) from exc
    except Exception as exc:  # deterministic: the run itself is broken
        trace_id = _save_traceback(settings.resolved_artifact_dir)
        message = f"{type(exc).__name__}: {exc}"
        _retrying(lambda: _in_tx(db, run_repo.mark_failed, run_id, message, trace_id))
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
            for row in result.epochs:
                result_repo.append_epoch(session, run_id, row["epoch"], train_loss=row["train_loss"],
                                         train_acc=row["train_acc"], lr=row["lr"], seconds=row["seconds"],
                                         evals=row["eval"])
            return result_repo.store_final_result(session, run_id, fingerprint=result.fingerprint,
                                                  code_version=result.provenance.get("code_version", ""),
                                                  metrics=metrics, seconds=result.wall_seconds, extra=extra)

    _retrying(store)
    return Outcome(run_id, "succeeded", f"{result.wall_seconds:.1f} s")


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
