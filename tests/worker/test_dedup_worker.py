"""Batch dedup with real training: the representative trains (a Celery worker on PostgreSQL,
or the embedded runner on SQLite), the served run is never touched by a worker and
succeeds with it. Tiny nets on tiny data in the official CIFAR-10 format."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from archscale.protocols import get_protocol
from service.settings import Settings
from service.storage.batches import BatchItem, create_batch
from service.storage.database import Database
from service.storage.models import EpochMetric, FinalResult, Run
from service.storage.readmodel import SeriesKey, load_snapshot
from service.storage.runs import RunSpec
from tests.worker.conftest import Cluster, wait_for
from worker.embedded import run_embedded

pytestmark = pytest.mark.slow
PAIR = (3, 14483)  # the same network, hidden vertices 1 and 2 renamed


def submit_pair(db: Database) -> tuple[int, int, list[int]]:
    """(representative, served, ids to send to a worker), as POST /v1/batches does."""
    items = [BatchItem(i, (RunSpec(arch, "cifar10", "standard", get_protocol("fault-fast"), 777),))
             for i, arch in enumerate(PAIR)]
    with db.transaction() as session:
        _, per_item = create_batch(session, {}, items, [], len(items), dedup="isomorphic")
    (_, [rep]), (_, [served]) = per_item
    assert served.served_from_run_id == rep.id
    return rep.id, served.id, [r.id for _, runs in per_item for r in runs if r.created and not r.served_from_run_id]


def succeeded(db: Database, run_id: int) -> bool:
    with db.engine.connect() as conn:
        return conn.execute(sa.select(Run.status).where(Run.id == run_id)).scalar_one() == "succeeded"


def check_served(db: Database, rep: int, served: int) -> None:
    with db.transaction() as session:
        row = session.get(Run, served)
        assert (row.status, row.attempts, row.worker_id, row.started_at) == ("succeeded", 0, None, None)
        for run_id, results in ((rep, 1), (served, 0)):
            assert session.scalar(sa.select(sa.func.count()).select_from(FinalResult)
                                  .where(FinalResult.run_id == run_id)) == results
        assert session.scalar(sa.select(sa.func.count()).select_from(EpochMetric)
                              .where(EpochMetric.run_id == served)) == 0
    with db.engine.connect() as conn:
        snapshot = load_snapshot(conn)
    series = snapshot.series[SeriesKey(f"standard@{get_protocol('fault-fast').key}/fp32", "cifar10", "test")]
    assert series.mean[PAIR[1]] == series.mean[PAIR[0]] and series.served_from[PAIR[1]] == PAIR[0]
    assert series.served_n[PAIR[1]] == 1 and series.served_n[PAIR[0]] == 0
    assert series.own.n[PAIR[1]] == 0 and series.own.n[PAIR[0]] == 1  # Kendall's view: measured archs only


@pytest.mark.postgres
@pytest.mark.redis
def test_celery_trains_the_representative_and_the_served_run_follows(cluster: Cluster):
    rep, served, send = submit_pair(cluster.db)
    assert send == [rep]
    assert cluster.dispatcher.enqueue(send)
    cluster.start_worker()
    wait_for(lambda: succeeded(cluster.db, served), 180, "the served run to succeed with its representative",
             cluster.logs)
    check_served(cluster.db, rep, served)


def test_embedded_runner_on_sqlite_never_picks_a_served_run(tmp_path: Path, data_root: Path):
    db = Database(f"sqlite:///{tmp_path / 'rebench.db'}")
    db.init()
    settings = Settings(database_url=db.url, data_root=data_root, cache_dir=tmp_path / "cache",
                        artifact_dir=tmp_path / "artifacts", device="cpu", heartbeat_s=0.5)
    rep, served, _ = submit_pair(db)
    stop = threading.Event()
    runner = threading.Thread(target=run_embedded, args=(settings, stop, 0.2), daemon=True)
    runner.start()
    try:
        wait_for(lambda: succeeded(db, served), 180, "the served run to succeed with its representative")
    finally:
        stop.set()
        runner.join(timeout=60)
    check_served(db, rep, served)
    db.dispose()
