"""Recovery of a killed worker's run (defect 8) and re-sending to the run's own queue (defect 6).

Liveness comes from a heartbeat thread that beats during an epoch: an epoch longer than the
stale limit is not mistaken for a dead worker, while a killed worker's run is re-queued
within stale_after_s + reaper_interval_s. The defaults keep that within 60 s.
"""

from __future__ import annotations

import signal
import time

import pytest
import redis
import sqlalchemy as sa

from archscale.protocols import get_protocol
from service.dispatch import CeleryDispatcher
from service.settings import Settings
from service.storage import runs as run_repo
from service.storage.models import Run
from tests.worker.conftest import Cluster, wait_for
from tests.worker.test_faults import Reaper, run_row, submit
from worker.reaper import reap_once

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_defaults_requeue_a_dead_workers_run_within_60_s():
    settings = Settings()
    # Worst case: the worker dies right after a beat; the run is stale stale_after_s later and
    # the reaper's next pass (at most reaper_interval_s after that) re-queues it.
    assert settings.stale_after_s + settings.reaper_interval_s <= 60
    # At least three beats per stale window: one lost beat or a slow commit is no death.
    assert settings.heartbeat_s * 3 <= settings.stale_after_s


@pytest.mark.slow
def test_slow_epoch_is_not_requeued_but_a_killed_worker_is_within_the_bound(cluster: Cluster):
    stale_after_s, interval_s = 3.0, 0.5
    # Every epoch lasts over 4 s: longer than stale_after_s, alive only through beats inside it.
    worker = cluster.start_worker(REBENCH_TEST_EPOCH_SLEEP_S="4")
    reaper = Reaper(cluster, stale_after_s=stale_after_s, resend_after_s=60)
    reaper.start()
    try:
        run_id = submit(cluster, "fault-slow")
        wait_for(lambda: run_row(cluster, run_id).progress_epoch >= 1, 120, "a slow epoch", cluster.logs)
        assert run_row(cluster, run_id).attempts == 1
        assert not any(run_id in r.requeued for r in reaper.reports), "a live worker's slow epoch was re-queued"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed = time.monotonic()
        wait_for(lambda: any(run_id in r.requeued for r in reaper.reports), 30, "the re-queue", cluster.logs)
        recovery_s = time.monotonic() - killed
    finally:
        reaper.stop.set()
    assert run_row(cluster, run_id).status in ("queued", "running")
    assert recovery_s <= stale_after_s + interval_s + 3.0, recovery_s  # slack: a loaded CI machine


def test_reaper_resends_a_run_to_the_queue_it_was_sent_to(fault_db, redis_server):
    broker = redis.Redis.from_url(redis_server.url)
    broker.delete("gpu-a100", "cpu-only")
    spec = run_repo.RunSpec(6111, "cifar10", "standard", get_protocol("smoke"), 7)
    with fault_db.transaction() as session:
        [run] = run_repo.create_runs(session, [spec], queue="gpu-a100")
        assert run_repo.claim_run(session, run.id, "dead-worker") is not None
        session.execute(sa.update(Run).where(Run.id == run.id).values(heartbeat_at=sa.func.now() - sa.text(
            "interval '1 hour'")))
    # The reaper of a worker that consumes another queue.
    report = reap_once(fault_db, CeleryDispatcher(redis_server.url, "cpu-only"), 60, 600,
                       lambda queue: broker.llen(queue))
    assert report.requeued == [run.id]
    assert broker.llen("gpu-a100") == 1 and broker.llen("cpu-only") == 0
    broker.delete("gpu-a100", "cpu-only")
