"""Fault tests with real Redis, real PostgreSQL and real Celery worker processes.

Each run trains a tiny net on tiny data in the official CIFAR-10 format; the protocols
come from tests/worker/protocols.py. Time-bounded: every wait has a timeout.
"""

from __future__ import annotations

import signal
import threading

import pytest
import sqlalchemy as sa

from archscale.protocols import get_protocol
from service.storage import runs as run_repo
from service.storage.models import EpochMetric, FinalResult, Run
from worker.reaper import reap_once
from tests.worker.conftest import Cluster, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def submit(cluster: Cluster, protocol: str, arch: int = 6111, seed: int = 777, scaling: str = "standard") -> int:
    spec = run_repo.RunSpec(arch, "cifar10", scaling, get_protocol(protocol), seed)
    with cluster.db.transaction() as session:
        run_id = run_repo.create_runs(session, [spec])[0].id
    assert cluster.dispatcher.enqueue([run_id])  # after the commit, as the API does
    return run_id


def run_row(cluster: Cluster, run_id: int) -> Run:
    with cluster.db.transaction() as session:
        run = session.get(Run, run_id)
        session.expunge(run)
        return run


def counts(cluster: Cluster, run_id: int) -> tuple[int, int, int]:
    """(final results, epoch rows, distinct epochs) of a run."""
    with cluster.db.transaction() as session:
        results = session.scalar(sa.select(sa.func.count()).select_from(FinalResult).where(FinalResult.run_id == run_id))
        epochs = session.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(EpochMetric.epoch)))
                                 .where(EpochMetric.run_id == run_id)).one()
    return results, epochs[0], epochs[1]


def status_is(cluster: Cluster, run_id: int, *statuses: str):
    return lambda: run_row(cluster, run_id).status in statuses


class Reaper(threading.Thread):
    """The reaper loop of `rebench worker`, in this process, with test timings."""

    def __init__(self, cluster: Cluster, stale_after_s: float = 3.0, resend_after_s: float = 1.0):
        super().__init__(daemon=True)
        self.cluster, self.stale_after_s, self.resend_after_s = cluster, stale_after_s, resend_after_s
        self.stop = threading.Event()
        self.reports = []

    def backlog(self, queue: str) -> int:
        import redis

        client = redis.Redis.from_url(self.cluster.env["BROKER_URL"])
        try:
            return client.llen(queue)
        finally:
            client.close()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.reports.append(reap_once(self.cluster.db, self.cluster.dispatcher, self.stale_after_s,
                                          self.resend_after_s, self.backlog))


def test_sigkill_mid_run_resumes_from_checkpoint_and_stores_one_result(cluster):
    first = cluster.start_worker()
    run_id = submit(cluster, "fault-slow")
    wait_for(lambda: run_row(cluster, run_id).progress_epoch >= 2, 120, "two epochs", cluster.logs)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = run_row(cluster, run_id).progress_epoch
    assert run_row(cluster, run_id).status == "running"  # nobody told the database

    reaper = Reaper(cluster)
    reaper.start()
    cluster.start_worker()  # "after a worker restarts"
    try:
        wait_for(status_is(cluster, run_id, "succeeded", "failed"), 180, "the run to finish", cluster.logs)
    finally:
        reaper.stop.set()
    run = run_row(cluster, run_id)
    assert run.status == "succeeded", run.error
    assert run.attempts >= 2
    assert counts(cluster, run_id) == (1, 8, 8)  # one result; 8 epochs, none duplicated
    with cluster.db.transaction() as session:
        extra = session.scalar(sa.select(FinalResult.extra).where(FinalResult.run_id == run_id))
    assert 1 <= extra["resumed_from_epoch"] <= killed_at + 1  # resumed, not restarted from scratch
    assert any(run_id in r.requeued for r in reaper.reports)


def test_broker_flush_with_runs_queued_loses_nothing(cluster, broker):
    run_ids = [submit(cluster, "fault-fast", arch=arch) for arch in (6111, 1, 2)]
    assert broker.llen(cluster.queue) == 3
    broker.flushdb()  # every message is gone; Postgres still says "queued"
    assert broker.llen(cluster.queue) == 0
    reaper = Reaper(cluster)
    reaper.start()
    cluster.start_worker()
    try:
        for run_id in run_ids:
            wait_for(status_is(cluster, run_id, "succeeded", "failed"), 120, f"run {run_id}", cluster.logs)
    finally:
        reaper.stop.set()
    for run_id in run_ids:
        assert run_row(cluster, run_id).status == "succeeded"
        assert counts(cluster, run_id) == (1, 2, 2)


def test_postgres_connections_dropped_during_a_run(cluster):
    cluster.start_worker()
    run_id = submit(cluster, "fault-slow")
    wait_for(lambda: run_row(cluster, run_id).progress_epoch >= 1, 120, "the first epoch", cluster.logs)
    database = cluster.db.engine.url.database
    admin = sa.create_engine(cluster.db.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    dropped = 0
    try:
        while run_row(cluster, run_id).status == "running" and dropped < 6:
            with admin.connect() as conn:
                dropped += conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid() AND application_name NOT LIKE 'pytest%'"),
                    {"db": database}).scalar()
            cluster.db.engine.dispose()  # our own pool lost its connections too
            threading.Event().wait(0.7)
    finally:
        admin.dispose()
    assert dropped >= 1, "no worker connection was dropped: the test did not disturb anything"
    wait_for(status_is(cluster, run_id, "succeeded", "failed"), 180, "the run to finish", cluster.logs)
    run = run_row(cluster, run_id)
    assert run.status == "succeeded", run.error
    assert counts(cluster, run_id) == (1, 8, 8)


def test_cancel_while_running_keeps_checkpoint_and_frees_the_worker(cluster):
    cluster.start_worker()
    run_id = submit(cluster, "fault-slow")
    wait_for(lambda: run_row(cluster, run_id).progress_epoch >= 1, 120, "the first epoch", cluster.logs)
    with cluster.db.transaction() as session:
        run_repo.request_cancel(session, run_id)  # what DELETE /v1/runs/{id} does
    wait_for(status_is(cluster, run_id, "cancelled", "succeeded", "failed"), 60, "the cancellation", cluster.logs)
    assert run_row(cluster, run_id).status == "cancelled"
    results, epochs, _ = counts(cluster, run_id)
    assert results == 0 and 1 <= epochs < 8
    assert (cluster.home / "artifacts" / "runs" / str(run_id)).exists()  # checkpoint kept
    next_id = submit(cluster, "fault-fast", arch=1)
    wait_for(status_is(cluster, next_id, "succeeded", "failed"), 120, "the next run", cluster.logs)
    assert run_row(cluster, next_id).status == "succeeded"
