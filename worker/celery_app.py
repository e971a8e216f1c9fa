"""The Celery application: Redis broker, one task by explicit name, queues per device class.

Reliability settings, and why:
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only
  after the run finished, so a worker that dies mid-run leaves it in Redis to be
  redelivered (the run resumes from its checkpoint).
- ``worker_prefetch_multiplier = 1``: a GPU worker holds one run at a time; queued runs
  stay available to idle workers.
- ``visibility_timeout`` (broker and result backend) longer than the longest run: Redis
  would otherwise redeliver a message whose run is still training.
Postgres stays the source of truth: the reaper re-sends runs whose messages were lost.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready, worker_shutdown
from kombu import Queue

from service.dispatch import TRAIN_TASK, bulk_queue
from service.settings import DEFAULT_QUEUE, Settings, get_settings

__all__ = ["make_celery", "QUEUES", "TRAIN_TASK"]

#: Declared queues: the default one, and optional device classes a deployment may route to
#: (``QUEUE=gpu`` on the API and ``rebench worker --queue gpu``). A run goes to ``settings.queue``.
QUEUES = (DEFAULT_QUEUE, "gpu", "cpu")


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    if not settings.broker_url:
        raise RuntimeError("BROKER_URL is not set: Celery workers need a broker (e.g. redis://127.0.0.1:6379/0); "
                           "without one, `rebench serve` runs the embedded worker instead")
    app = Celery("rebench", broker=settings.broker_url, backend=settings.broker_url, include=["worker.tasks"])
    transport = {"visibility_timeout": int(settings.visibility_timeout_s),
                 # Consume queues in the order given (-Q gpu,gpu-bulk): campaign runs wait in
                 # <queue>-bulk until the interactive queue is empty (kombu's Redis transport).
                 "queue_order_strategy": "priority"}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        task_ignore_result=True,  # results live in the database, not in Redis
        task_default_queue=settings.queue,
        task_queues=[Queue(name) for name in dict.fromkeys(
            q for base in (*QUEUES, settings.queue) for q in (base, bulk_queue(base)))],
        task_routes={TRAIN_TASK: {"queue": settings.queue}},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,  # for flower
        task_send_sent_event=True,
    )
    return app


# The module-level app for `celery -A worker.celery_app worker` (built from the environment
# when a worker process starts; the API never imports this module).
app = make_celery() if get_settings().broker_url else None

_presence: list = []


@worker_ready.connect
def _announce(sender=None, **_: object) -> None:
    """Tell /readyz which queues this process consumes (``service.consumers``)."""
    from .presence import Presence

    celery_app = getattr(sender, "app", None) or app
    queues = sorted(celery_app.amqp.queues.consume_from or {get_settings().queue: None})
    beat = Presence(get_settings().broker_url, queues, getattr(sender, "hostname", None) or "worker")
    beat.start()
    _presence.append(beat)


@worker_shutdown.connect
def _sign_off(**_: object) -> None:
    while _presence:
        _presence.pop().stop()
