"""How the API hands runs to workers: ``enqueue(run_ids)``, called AFTER the transaction that
created the runs has committed (a worker must never receive an id it cannot read).

Two dispatchers, chosen by ``BROKER_URL``:

``CeleryDispatcher`` (BROKER_URL set)
    Sends the task **by name** ``rebench.train_run`` with the run id as its only argument to
    the queue ``settings.queue`` (default ``rebench``, which a default ``rebench worker``
    consumes) or to the queue a run was first sent to (``runs.queue``, for the reaper). It
    never imports the worker package or torch: the API process only needs celery's client
    side. Messages go out in pipelined batches (kombu's ``Producer.batch``): one Redis round
    trip per 1,000 runs instead of one per run.

``EmbeddedDispatcher`` (no BROKER_URL)
    Runs stay ``queued`` in the database: the embedded runner (``worker.embedded``, a child
    process of ``rebench serve``) polls the database for them every second and claims them
    with ``service.storage.runs.claim_run``. Nothing is sent anywhere.

A dispatch failure never loses a run: it is already ``queued`` in the database, and the
reaper (``service.storage.runs.list_stale_runs``) re-sends queued runs older than a limit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from .settings import Settings

__all__ = ["Dispatcher", "CeleryDispatcher", "EmbeddedDispatcher", "make_dispatcher", "TRAIN_TASK", "BULK_SUFFIX",
           "bulk_queue"]

#: The worker registers its Celery task under this name.
TRAIN_TASK = "rebench.train_run"
#: Campaign runs go to ``<queue>-bulk``; workers drain ``<queue>`` first (``worker.celery_app``).
BULK_SUFFIX = "-bulk"


def bulk_queue(queue: str) -> str:
    return f"{queue}{BULK_SUFFIX}"

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    kind: str

    def enqueue(self, run_ids: Sequence[int], queue: str | None = None) -> bool:
        """Hand runs to workers (on ``queue``, default the dispatcher's); False when the
        hand-off failed (the runs stay queued)."""

    def enqueue_bulk(self, run_ids: Sequence[int], queue: str | None = None) -> bool | None:
        """Like :meth:`enqueue`; a large hand-off may continue in the background (None)."""

    campaign_queue: str | None  # recorded on campaign runs (None: no broker)

    def enqueue_campaign(self, run_ids: Sequence[int]) -> bool | None:
        """Campaign runs, behind interactive ones (Celery: ``<queue>-bulk``)."""

    def close(self) -> None:
        """Finish background hand-offs (at shutdown)."""

    def ping(self) -> None:
        """Raise if the broker cannot be reached (for /readyz)."""


class EmbeddedDispatcher:
    kind = "embedded"
    queue: str | None = None  # no broker: the runner polls the database
    campaign_queue: str | None = None

    def __init__(self) -> None:
        self.enqueued = 0  # runs handed over (counted for tests and metrics; the runner polls)

    def enqueue(self, run_ids: Sequence[int], queue: str | None = None) -> bool:
        self.enqueued += len(run_ids)
        return True

    def enqueue_bulk(self, run_ids: Sequence[int], queue: str | None = None) -> bool | None:
        return self.enqueue(run_ids, queue)

    def close(self) -> None:
        return None

    def enqueue_campaign(self, run_ids: Sequence[int]) -> bool | None:
        """Campaign runs: the embedded runner takes them after interactive ones by itself."""
        return self.enqueue(run_ids)

    def ping(self) -> None:
        return None


class CeleryDispatcher:
    kind = "celery"

    #: A hand-off of more new runs than this continues in the background after the answer:
    #: 16,000 messages take seconds even pipelined, while the runs are already safe in the
    #: database (and the reaper re-sends any message a crash loses).
    INLINE_MAX = 1000

    def __init__(self, broker_url: str, queue: str):
        self.broker_url, self.queue = broker_url, queue
        self.campaign_queue = bulk_queue(queue)  # recorded on campaign runs: the reaper re-sends them there
        self._app: Any = None
        self._lock = threading.Lock()
        self._background: Any = None  # a one-thread executor, created on the first large hand-off

    @property
    def app(self) -> Any:
        with self._lock:
            if self._app is None:
                import celery  # lazily: keeps API start-up fast

                self._app = celery.Celery("rebench-api", broker=self.broker_url, set_as_current=False)
                self._app.conf.broker_connection_retry_on_startup = False
                self._app.conf.broker_transport_options = {"max_retries": 1}
            return self._app

    def enqueue(self, run_ids: Sequence[int], queue: str | None = None) -> bool:
        queue = queue or self.queue
        if not run_ids:
            return True
        try:
            with self.app.producer_or_acquire() as producer, producer.batch(max_size=1000):
                for run_id in run_ids:
                    self.app.send_task(TRAIN_TASK, args=[int(run_id)], queue=queue, retry=False, producer=producer)
        except Exception:  # the broker is down: the runs stay queued for the reaper
            log.exception("could not send %d run(s) to %s; they stay queued", len(run_ids), queue)
            return False
        return True

    def enqueue_bulk(self, run_ids: Sequence[int], queue: str | None = None) -> bool | None:
        if len(run_ids) <= self.INLINE_MAX:
            return self.enqueue(run_ids, queue)
        with self._lock:
            if self._background is None:
                from concurrent.futures import ThreadPoolExecutor

                self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebench-dispatch")
            self._background.submit(self.enqueue, list(run_ids), queue)
        return None

    def close(self) -> None:
        with self._lock:
            background, self._background = self._background, None
        if background is not None:
            background.shutdown(wait=True)

    def enqueue_campaign(self, run_ids: Sequence[int]) -> bool | None:
        """Campaign runs, to ``<queue>-bulk``: workers take them when ``<queue>`` is empty."""
        return self.enqueue_bulk(run_ids, self.campaign_queue)

    def ping(self) -> None:
        if self.broker_url.startswith(("redis://", "rediss://", "unix://")):
            import redis

            client = redis.Redis.from_url(self.broker_url, socket_connect_timeout=1, socket_timeout=1)
            try:
                client.ping()
            finally:
                client.close()
            return
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)


def make_dispatcher(settings: Settings) -> CeleryDispatcher | EmbeddedDispatcher:
    if settings.broker_url:
        return CeleryDispatcher(settings.broker_url, settings.queue)
    return EmbeddedDispatcher()
