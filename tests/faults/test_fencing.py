"""Fencing: a worker that lost its run writes nothing more to it (defect 1).

A worker is frozen with SIGSTOP mid-run; the reaper hands the run to a second worker, which
finishes it; the first is thawed. Its epoch rows, checkpoint and result must not change one
byte: every write is conditional on its lease (run id + attempt token).
"""

from __future__ import annotations

import hashlib
import signal

import pytest
import sqlalchemy as sa

from service.storage.models import EpochMetric, FinalMetric, FinalResult, Run
from tests.worker.conftest import Cluster, wait_for
from tests.worker.test_faults import Reaper, run_row, status_is, submit

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def stored(cluster: Cluster, run_id: int) -> dict:
    """Everything the run's workers wrote: rows (every column) and the published checkpoint's bytes."""
    with cluster.db.engine.connect() as conn:
        def rows(table, *where):
            return [tuple(r) for r in conn.execute(sa.select(table).where(*where).order_by(*table.primary_key))]

        state = {"run": rows(Run.__table__, Run.id == run_id),
                 "epochs": rows(EpochMetric.__table__, EpochMetric.run_id == run_id),
                 "result": rows(FinalResult.__table__, FinalResult.run_id == run_id),
                 "metrics": rows(FinalMetric.__table__, FinalMetric.run_id == run_id)}
    checkpoint = cluster.home / "artifacts" / "runs" / str(run_id) / "latest.pt"
    state["checkpoint"] = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    return state


def test_thawed_worker_writes_nothing_to_a_run_finished_elsewhere(cluster: Cluster):
    frozen = cluster.start_worker()
    run_id = submit(cluster, "fault-slow")
    wait_for(lambda: run_row(cluster, run_id).progress_epoch >= 2, 120, "two epochs", cluster.logs)
    frozen.send_signal(signal.SIGSTOP)
    reaper = Reaper(cluster)
    reaper.start()
    try:
        cluster.start_worker()
        wait_for(status_is(cluster, run_id, "succeeded", "failed"), 180, "the second worker to finish",
                 cluster.logs)
    finally:
        reaper.stop.set()
        frozen.send_signal(signal.SIGCONT) if frozen.poll() is not None else None
    assert run_row(cluster, run_id).status == "succeeded", run_row(cluster, run_id).error
    assert run_row(cluster, run_id).attempts == 2
    before = stored(cluster, run_id)
    assert len(before["epochs"]) == 8 and len(before["result"]) == 1

    frozen.send_signal(signal.SIGCONT)  # it finishes its epoch, then tries to write
    log = cluster.home / "worker-0.log"
    wait_for(lambda: f"run {run_id}: lost" in log.read_text(), 120, "the thawed worker to give up", cluster.logs)
    after = stored(cluster, run_id)
    for part in before:
        assert after[part] == before[part], f"the thawed worker changed the run's {part}"
    assert "lease lost" in log.read_text()
    # Its unpublished attempt checkpoint is gone; the published one is the finished run's.
    assert not (cluster.home / "artifacts" / "runs" / str(run_id) / "attempt-1").exists()
