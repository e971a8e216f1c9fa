"""A Celery worker process announces the queues it consumes (``service.consumers``).

Started by the ``worker_ready`` signal in ``worker.celery_app``; beats every ``BEAT_S``
seconds into ``rebench:consumers:<queue>`` and removes itself at shutdown. A killed worker
simply stops beating and drops out of ``/readyz``'s count after ``LIVE_S``.
"""

from __future__ import annotations

import logging
import threading
import time

from service.consumers import BEAT_S, LIVE_S, presence_key

__all__ = ["Presence"]

log = logging.getLogger(__name__)


class Presence(threading.Thread):
    def __init__(self, broker_url: str, queues: list[str], name: str, every_s: float = BEAT_S):
        super().__init__(name="rebench-presence", daemon=True)
        self.broker_url, self.queues, self.node, self.every_s = broker_url, queues, name, every_s
        self.stopped = threading.Event()

    def _client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis.from_url(self.broker_url, socket_timeout=5, socket_connect_timeout=5)

    def run(self) -> None:
        client = self._client()
        try:
            while True:
                now = time.time()
                try:
                    with client.pipeline(transaction=False) as pipe:
                        for queue in self.queues:
                            pipe.zadd(presence_key(queue), {self.node: now})
                            pipe.zremrangebyscore(presence_key(queue), "-inf", now - 10 * LIVE_S)
                        pipe.execute()
                except Exception as exc:  # a broker blip: Celery itself reconnects; keep beating
                    log.warning("presence beat failed: %s", exc)
                if self.stopped.wait(self.every_s):
                    break
        finally:
            client.close()

    def stop(self) -> None:
        self.stopped.set()
        try:
            client = self._client()
            for queue in self.queues:
                client.zrem(presence_key(queue), self.node)
            client.close()
        except Exception as exc:
            log.warning("presence: could not sign off: %s", exc)
