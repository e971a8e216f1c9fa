"""The one Celery task, registered under an explicit name the API sends by.

It takes a run id only. Transient infrastructure errors retry with exponential backoff;
deterministic failures are recorded on the run by ``execute_run`` and not retried.
"""

from __future__ import annotations

import functools
import logging

from service.dispatch import TRAIN_TASK
from service.settings import get_settings
from service.storage.database import Database

from .celery_app import app
from .execute import TransientError, execute_run

log = logging.getLogger(__name__)


@functools.cache
def _database() -> Database:
    """One engine per worker process, created on first use (after fork)."""
    return Database(get_settings().resolved_database_url)


@app.task(name=TRAIN_TASK, bind=True, max_retries=None, acks_late=True)
def train_run_task(self, run_id: int) -> str:
    settings = get_settings()
    try:
        outcome = execute_run(int(run_id), _database(), settings)
    except TransientError as exc:
        delay = min(settings.retry_max_s, 2.0 * 2 ** self.request.retries)
        log.warning("run %s: transient error (%s); retry in %.0f s", run_id, exc, delay)
        raise self.retry(exc=exc, countdown=delay)
    log.info("run %s: %s %s", run_id, outcome.status, outcome.detail)
    return outcome.status
