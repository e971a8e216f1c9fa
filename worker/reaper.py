"""The reaper: Postgres is the source of truth, the broker may forget.

Every ``interval`` it
- puts ``running`` runs whose heartbeat is older than ``stale_after_s`` back to ``queued``
  (their worker died: SIGKILL, a lost machine), or to ``cancelled`` if a cancel was asked;
- re-sends the ``queued`` runs that have waited longer than ``resend_after_s`` when the
  broker holds fewer messages than there are such runs (messages were lost: a Redis
  FLUSHALL, or a restart without persistence). A normal backlog is left alone, so a long
  queue does not fill up with duplicates.
Re-sending is safe: ``claim_run`` is atomic, so a duplicate message finds the run taken or
finished and is dropped. A run is re-sent to the queue it was first sent to (``runs.queue``),
not to this reaper's own: a reaper of a ``cpu`` worker must not move a ``gpu`` run. Runs
with no recorded queue (created before revision 0003) go to the dispatcher's queue.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from service.dispatch import Dispatcher
from service.storage import runs as run_repo
from service.storage.database import Database

__all__ = ["ReapReport", "reap_once", "run_reaper"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReapReport:
    requeued: list[int]
    cancelled: list[int]
    resent: list[int]


def reap_once(db: Database, dispatcher: Dispatcher, stale_after_s: float, resend_after_s: float,
              broker_backlog: Callable[[str], int] | None = None) -> ReapReport:
    """One pass. ``broker_backlog(queue)`` counts the messages waiting in that queue of the
    broker (None: never re-send waiting runs, e.g. for the embedded runner, which polls the
    database)."""
    default = getattr(dispatcher, "queue", None) or ""
    requeued, cancelled = [], []
    queue_of: dict[int, str] = {}
    with db.transaction() as session:
        for run in run_repo.list_stale_runs(session, stale_after_s, statuses=("running",)):
            outcome = run_repo.requeue_run(session, run.id, stale_after_s)
            (requeued if outcome == "queued" else cancelled if outcome == "cancelled" else []).append(run.id)
            queue_of[run.id] = run.queue or default
    waiting: dict[str, list[int]] = defaultdict(list)
    if broker_backlog is not None:
        with db.transaction() as session:
            for run in run_repo.list_stale_runs(session, resend_after_s, statuses=("queued",)):
                waiting[run.queue or default].append(run.id)
        for queue, ids in list(waiting.items()):
            if broker_backlog(queue) >= len(ids):  # a normal backlog: its messages are there
                del waiting[queue]
            else:
                queue_of.update(dict.fromkeys(ids, queue))
    resend = sorted(set(requeued) | {run_id for ids in waiting.values() for run_id in ids})
    by_queue: dict[str, list[int]] = defaultdict(list)
    for run_id in resend:
        by_queue[queue_of[run_id]].append(run_id)
    for queue, ids in by_queue.items():  # after the commits above: workers can read what they get
        dispatcher.enqueue(ids, queue or None)
    if resend:
        log.info("reaper: requeued %s, re-sent %s", requeued, dict(by_queue))
    return ReapReport(requeued, cancelled, resend)


def run_reaper(db: Database, dispatcher: Dispatcher, stale_after_s: float, resend_after_s: float,
               interval_s: float, stop: threading.Event, broker_backlog: Callable[[str], int] | None = None) -> None:
    """Loop until ``stop`` is set; errors are logged and the loop goes on."""
    while not stop.wait(interval_s):
        try:
            reap_once(db, dispatcher, stale_after_s, resend_after_s, broker_backlog)
        except Exception:  # a database blip must not kill the reaper
            log.exception("reaper pass failed; retrying in %.0f s", interval_s)
