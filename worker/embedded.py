"""The embedded runner: the same ``execute_run`` without a broker, for the zero-config setup.

``rebench serve`` with no ``BROKER_URL`` starts this loop in a child process
(``python -m worker.embedded``), not in a thread of the API process: the API process never
imports torch, and a training run cannot starve the event loop. It polls the database
for the oldest queued run, trains it, and repeats; a stale ``running`` run (the previous
process was killed) goes back to the queue and resumes from its checkpoint.
"""

from __future__ import annotations

import logging
import signal
import threading

from service.dispatch import EmbeddedDispatcher
from service.settings import Settings, get_settings
from service.storage import runs as run_repo
from service.storage.campaigns import next_queued_run_id
from service.storage.database import Database

from .execute import TransientError, execute_run, worker_identity
from .reaper import reap_once

__all__ = ["next_queued_run", "run_embedded", "Shutdown", "release", "main"]

log = logging.getLogger(__name__)


def next_queued_run(db: Database) -> int | None:
    """The oldest queued interactive run, else the oldest queued campaign (bulk) run."""
    with db.transaction() as session:
        return next_queued_run_id(session)


def run_embedded(settings: Settings, stop: threading.Event, poll_s: float = 1.0,
                 current: dict[str, int | None] | None = None) -> None:
    """Train queued runs until ``stop`` is set; ``current["run_id"]`` names the run in training."""
    current = {} if current is None else current
    db = Database(settings.resolved_database_url)
    worker_id = f"embedded:{worker_identity()}"
    try:
        while not stop.is_set():
            current["run_id"] = None
            try:
                reap_once(db, EmbeddedDispatcher(), settings.stale_after_s, resend_after_s=0.0, broker_backlog=None)
                run_id = next_queued_run(db)
                if run_id is None:
                    stop.wait(poll_s)
                    continue
                current["run_id"] = run_id
                outcome = execute_run(run_id, db, settings, worker_id)
                current["run_id"] = None
                log.info("run %s: %s %s", run_id, outcome.status, outcome.detail)
            except TransientError as exc:
                log.warning("database unavailable (%s); retrying in %.0f s", exc, 5 * poll_s)
                stop.wait(5 * poll_s)
            except Exception:
                log.exception("embedded runner pass failed")
                stop.wait(5 * poll_s)
    finally:
        db.dispose()


class Shutdown(BaseException):
    """SIGTERM/SIGINT: unwinds the runner wherever it is (a wait, an epoch). A BaseException, so
    that the runner's ``except Exception`` (which logs and goes on) does not swallow it."""


def _on_signal(signum: int, _frame: object) -> None:
    # A handler runs in the main thread between two bytecodes, possibly while that thread holds a
    # lock: Event.wait() holds the Event's condition lock around its checks, so stop.set() from
    # here could deadlock on it (seen: `rebench demo` hung on SIGTERM). Raise instead, and ignore
    # the signals from now on so a repeated Ctrl-C or SIGTERM cannot interrupt the cleanup.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise Shutdown(signum)


def release(settings: Settings, run_id: int) -> str | None:
    """The run this process was training goes back to the queue now (not after ``stale_after_s``):
    the next runner resumes it from its last epoch checkpoint."""
    db = Database(settings.resolved_database_url)  # a fresh engine: the signal may have cut a transaction
    try:
        with db.transaction() as session:
            return run_repo.requeue_run(session, run_id, older_than_s=0.0)
    finally:
        db.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s embedded-worker %(levelname)s %(message)s")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    settings, current = get_settings(), {"run_id": None}
    try:
        run_embedded(settings, threading.Event(), current=current)
    except Shutdown as exc:
        run_id = current.get("run_id")
        moved = release(settings, run_id) if run_id is not None else None
        log.info("stopping on signal %s%s", exc.args[0],
                 f"; run {run_id} {moved or 'left as is'} (resumes from its checkpoint)" if run_id else "")


if __name__ == "__main__":
    main()
