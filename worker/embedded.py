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
from service.storage.campaigns import next_queued_run_id
from service.storage.database import Database

from .execute import TransientError, execute_run, worker_identity
from .reaper import reap_once

__all__ = ["next_queued_run", "run_embedded", "main"]

log = logging.getLogger(__name__)


def next_queued_run(db: Database) -> int | None:
    """The oldest queued interactive run, else the oldest queued campaign (bulk) run."""
    with db.transaction() as session:
        return next_queued_run_id(session)


def run_embedded(settings: Settings, stop: threading.Event, poll_s: float = 1.0) -> None:
    db = Database(settings.resolved_database_url)
    worker_id = f"embedded:{worker_identity()}"
    while not stop.is_set():
        try:
            reap_once(db, EmbeddedDispatcher(), settings.stale_after_s, resend_after_s=0.0, broker_backlog=None)
            run_id = next_queued_run(db)
            if run_id is None:
                stop.wait(poll_s)
                continue
            outcome = execute_run(run_id, db, settings, worker_id)
            log.info("run %s: %s %s", run_id, outcome.status, outcome.detail)
        except TransientError as exc:
            log.warning("database unavailable (%s); retrying in %.0f s", exc, 5 * poll_s)
            stop.wait(5 * poll_s)
        except Exception:
            log.exception("embedded runner pass failed")
            stop.wait(5 * poll_s)
    db.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s embedded-worker %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_embedded(get_settings(), stop)


if __name__ == "__main__":
    main()
