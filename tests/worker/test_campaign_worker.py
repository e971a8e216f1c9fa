"""Campaigns with real training on tiny nets: the embedded runner (SQLite) and a Celery worker
(PostgreSQL + Redis) train interactive runs before campaign runs; the status's rate, ETA,
GPU-hours and NB201 ratio come from the runs as measured; cancel stops what is queued."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from archscale.protocols import get_protocol
from service.dispatch import bulk_queue
from service.storage.campaigns import create_campaign, normalise_request
from service.storage.database import Database
from service.storage.models import FinalResult, Run
from tests.conftest import data_dir
from tests.service.conftest import Api
from tests.worker.conftest import ROOT, Cluster, wait_for
from worker.embedded import run_embedded

pytestmark = pytest.mark.slow
CAMPAIGN = {"selector": {"indices": [0, 11, 284, 6111, 9999]}, "datasets": ["cifar10"], "scalings": ["standard"],
            "protocol": "fault-fast", "seeds": [777], "dedup": "exact"}


def statuses(db: Database) -> dict[int, tuple[str, object]]:
    with db.engine.connect() as conn:
        return {r.id: (r.status, r.started_at) for r in conn.execute(sa.select(Run.id, Run.status, Run.started_at))}


def test_embedded_runner_trains_interactive_runs_first_and_the_status_is_measured(tmp_path: Path, data_root: Path):
    db = Database(f"sqlite:///{tmp_path / 'rebench.db'}")
    db.init()
    cost = data_dir() / "nb201_tss_hp200_cost.csv.gz"
    api = Api(db, data_root=data_root, cache_dir=tmp_path / "cache", artifact_dir=tmp_path / "artifacts",
              device="cpu", heartbeat_s=0.5, nb201_cost_file=cost)
    made = api.post("/v1/campaigns", json=CAMPAIGN).json()
    campaign_runs = set(statuses(db))
    assert made["runs_created"] == len(campaign_runs) == 5
    # Submitted AFTER the campaign, trained BEFORE any of its runs.
    interactive = api.post("/v1/runs", json={"arch": 1835, "dataset": "cifar10", "scaling": "standard",
                                             "protocol": "fault-fast", "seeds": [777]}).json()["runs"][0]["id"]
    # The live queue lists them in pick-up order: the interactive run first.
    queued = [r["id"] for r in api.get("/v1/runs?status=queued").json()["runs"]]
    assert queued[0] == interactive and set(queued[1:]) == campaign_runs
    stop = threading.Event()
    runner = threading.Thread(target=run_embedded, args=(api.app.state.rebench.settings, stop, 0.1), daemon=True)
    runner.start()
    try:
        wait_for(lambda: sum(statuses(db)[r][0] == "succeeded" for r in campaign_runs) >= 2, 240,
                 "two campaign runs to succeed")
    finally:
        stop.set()
        runner.join(timeout=120)
    runs = statuses(db)
    assert runs[interactive][0] == "succeeded"
    started = [runs[r][1] for r in campaign_runs if runs[r][1] is not None]
    assert started and all(runs[interactive][1] < s for s in started)

    t_before = time.time()
    status = api.get(made["status_url"]).json()
    t_after = time.time()
    trained = status["trained"]
    done, left = trained["succeeded"] + trained["failed"], trained["queued"] + trained["running"]
    assert done >= 2 and left >= 1 and trained["failed"] == 0  # the runner stopped with runs still queued
    first = min(started).timestamp()
    # The measured rate: finished runs per hour since the first start (now lies between the two clocks).
    assert done / ((t_after - first) / 3600) <= status["runs_per_hour"] <= done / ((t_before - first) / 3600)
    assert status["eta_s"] == pytest.approx(left / status["runs_per_hour"] * 3600)
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(Run.arch_index, Run.total_epochs, FinalResult.seconds)
                            .join(FinalResult, FinalResult.run_id == Run.id)
                            .where(Run.id.in_(campaign_runs))).all()
    assert status["gpu_hours"] == pytest.approx(sum(r.seconds for r in rows) / 3600)
    # Ours vs NB201's recorded time for the same archs (cifar10: 2 x cifar10-valid, 200 -> our epochs).
    with gzip.open(cost, "rt") as f:
        recorded = {int(r["arch_index"]): float(r["train_all_time"]) for r in csv.DictReader(f)
                    if r["dataset"] == "cifar10-valid"}
    theirs = sum(2 * recorded[r.arch_index] * r.total_epochs / 200 for r in rows)
    assert status["nb201"]["ratio"] == pytest.approx(sum(r.seconds for r in rows) / theirs)
    assert "estimated" in status["nb201"]["per_dataset"]["cifar10"]["source"]

    cancelled = api.client.delete(made["status_url"], headers=api.headers).json()
    assert cancelled["done"] and cancelled["counts"]["cancelled"] == left and cancelled["counts"]["queued"] == 0
    db.dispose()


@pytest.mark.postgres
@pytest.mark.redis
def test_celery_worker_drains_the_interactive_queue_before_the_bulk_queue(cluster: Cluster, broker: redis.Redis):
    protocol = get_protocol("fault-fast")
    with cluster.db.transaction() as session:
        made = create_campaign(session, normalise_request(CAMPAIGN | {"selector": {"indices": [0, 11]}}, protocol),
                               protocol)
    with cluster.db.transaction() as session:
        from service.storage.runs import RunSpec, create_runs

        interactive = [r.id for r in create_runs(session, [RunSpec(a, "cifar10", "standard", protocol, 777)
                                                           for a in (1835, 6111)])]
    # Sent first to the bulk queue, then the interactive runs: the worker must take both of those
    # first (a round-robin consumer would alternate: interactive, bulk, interactive, bulk).
    assert cluster.dispatcher.enqueue_campaign(made.to_dispatch) and cluster.dispatcher.enqueue(interactive)
    assert broker.llen(bulk_queue(cluster.queue)) == 2 and broker.llen(cluster.queue) == 2
    log = open(cluster.home / "worker-bulk.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.worker.celery_main", "-A", "worker.celery_app", "worker", "--pool", "solo",
         "--concurrency", "1", "-Q", f"{cluster.queue},{bulk_queue(cluster.queue)}", "-n", f"{cluster.queue}@%h",
         "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT, env={**os.environ, **cluster.env}, stdout=log, stderr=subprocess.STDOUT)
    cluster.processes.append(proc)
    every = [*interactive, *made.to_dispatch]
    wait_for(lambda: all(statuses(cluster.db)[r][0] == "succeeded" for r in every), 240, "all four runs",
             cluster.logs)
    runs = statuses(cluster.db)
    assert max(runs[i][1] for i in interactive) < min(runs[r][1] for r in made.to_dispatch)
