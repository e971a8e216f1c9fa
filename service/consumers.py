"""Which broker queues have a live consumer: the check that catches "runs wait forever".

Every Celery worker process (``worker.presence``) records itself in a Redis sorted set per
queue it consumes, ``rebench:consumers:<queue>``, member = its node name, score = the time
of its last beat (every ``BEAT_S``). A member whose beat is older than ``LIVE_S`` is gone
(killed, machine lost). ``/readyz`` compares that with the runs waiting in the database
per queue (``runs.queue``): work and no consumer is a configuration error worth a 503 --
the API sends somewhere no worker reads -- not "ready".
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

__all__ = ["KEY_PREFIX", "BEAT_S", "LIVE_S", "presence_key", "live_consumers", "stranded_queues"]

KEY_PREFIX = "rebench:consumers:"
BEAT_S = 10.0
LIVE_S = 3 * BEAT_S


def presence_key(queue: str) -> str:
    return f"{KEY_PREFIX}{queue}"


def live_consumers(client: Any, queue: str, now: float | None = None) -> int:
    """How many worker processes beat on ``queue`` within the last ``LIVE_S`` seconds."""
    now = time.time() if now is None else now
    return int(client.zcount(presence_key(queue), now - LIVE_S, "+inf"))


def stranded_queues(conn: sa.Connection, client: Any, default_queue: str) -> dict[str, int]:
    """queue -> queued runs, for the queues that have waiting runs and no live consumer.
    Runs with no recorded queue count for ``default_queue``."""
    from service.storage.models import Run

    waiting: dict[str, int] = {}
    for queue, n in conn.execute(sa.select(Run.queue, sa.func.count())
                                 .where(Run.status == "queued", Run.served_from_run_id.is_(None))
                                 .group_by(Run.queue)):
        waiting[queue or default_queue] = waiting.get(queue or default_queue, 0) + int(n)
    return {queue: n for queue, n in waiting.items() if n and live_consumers(client, queue) == 0}
