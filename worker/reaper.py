"""The reaper: Postgres is the source of truth, the broker may forget.

Every ``interval`` it
- puts ``running`` runs whose heartbeat is older than ``stale_after_s`` back to ``queued``
  (their worker died: SIGKILL, a lost machine), or to ``cancelled`` if a cancel was asked;
- re-sends the ``queued`` runs that have waited longer than ``resend_after_s`` when the
  broker holds fewer messages than there are such runs (messages were lost: a Redis
  FLUSHALL, or a restart without persistence). A normal backlog is left alone, so a long
  queue does not fill up with duplicates.
Re-sending is safe: ``claim_run`` is atomic, so a duplicate message finds the run taken or
finished and is dropped.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from service.dispatch import Dispatcher
from service.storage import runs as run_repo
from service.storage.campaigns import campaign_run_ids
from service.storage.database import Database

__all__ = ["ReapReport", "reap_once", "run_reaper"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReapReport:
    requeued: list[int]
    cancelled: list[int]
    resent: list[int]


def reap_once(db: Database, dispatcher: Dispatcher, stale_after_s: float, resend_after_s: float,
              broker_backlog: Callable[[], int] | None = None) -> ReapReport:
    """One pass. ``broker_backlog`` counts the messages waiting in the broker (None: never
    re-send waiting runs, e.g. for the embedded runner, which polls the database)."""
    requeued, cancelled = [], []
    with db.transaction() as session:
        for run in run_repo.list_stale_runs(session, stale_after_s, statuses=("running",)):
            outcome = run_repo.requeue_run(session, run.id, stale_after_s)
            (requeued if outcome == "queued" else cancelled if outcome == "cancelled" else []).append(run.id)
    waiting: list[int] = []
    if broker_backlog is not None:
        with db.transaction() as session:
            waiting = [run.id for run in run_repo.list_stale_runs(session, resend_after_s, statuses=("queued",))]
        if waiting and broker_backlog() >= len(waiting):
            waiting = []
    resend = sorted(set(requeued) | set(waiting))
    if resend:
        with db.engine.connect() as conn:  # campaign runs go back to the bulk queue
            bulk = campaign_run_ids(conn, resend)
        interactive = [r for r in resend if r not in bulk]
        if interactive:
            dispatcher.enqueue(interactive)  # after the commits above: workers can read what they get
        if bulk:
            getattr(dispatcher, "enqueue_bulk", dispatcher.enqueue)(sorted(bulk))
        log.info("reaper: requeued %s, re-sent %s", requeued, resend)
    return ReapReport(requeued, cancelled, resend)


def run_reaper(db: Database, dispatcher: Dispatcher, stale_after_s: float, resend_after_s: float,
               interval_s: float, stop: threading.Event, broker_backlog: Callable[[], int] | None = None) -> None:
    """Loop until ``stop`` is set; errors are logged and the loop goes on."""
    while not stop.wait(interval_s):
        try:
            reap_once(db, dispatcher, stale_after_s, resend_after_s, broker_backlog)
        except Exception:  # a database blip must not kill the reaper
            log.exception("reaper pass failed; retrying in %.0f s", interval_s)
