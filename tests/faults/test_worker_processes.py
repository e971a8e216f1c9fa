"""`rebench worker` with no configuration: the default worker consumes the API's default
queue, /readyz reports a queue with work and no consumer (defect 6), and the supervisor's
Celery child never outlives it, one consumer per slot whatever is killed (defect 3).

Real processes through the real CLI, on the private PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.api import create_app
from service.settings import Settings
from service.storage.keys import create_key
from service.storage.models import Run
from tests.faults.procs import alive, children_of, cmdline
from tests.service.conftest import serve_app
from tests.worker.conftest import ROOT, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def worker_env(db_url: str, broker_url: str, home: Path, data_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QUEUE", "REBENCH_QUEUE", "CUDA_VISIBLE_DEVICES")}
    return {**env, "DATABASE_URL": db_url, "BROKER_URL": broker_url, "REBENCH_HOME": str(home),
            "DATA_ROOT": str(data_root), "DEVICE": "cpu", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
            "LOCK_DIR": str(home / "locks"), "PYTHONPATH": str(ROOT)}


def start_supervisor(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], cwd=ROOT, env=env,
                            stdout=open(log, "a"), stderr=subprocess.STDOUT)


def celery_children(pid: int) -> list[int]:
    return [c for c in children_of(pid) if "celery" in cmdline(c)]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_default_worker_consumes_the_default_queue_and_readyz_reports_a_queue_without_consumer(
        fault_db, redis_server, data_root, tmp_path):
    import redis

    redis.Redis.from_url(redis_server.url).flushdb()
    with fault_db.transaction() as session:
        key = {"X-API-Key": create_key(session, "queues").secret}
    app = create_app(Settings(database_url=fault_db.url, broker_url=redis_server.url), watch=False)  # no QUEUE
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        submitted = client.post("/v1/runs", json={"arch": 6111, "dataset": "cifar10", "scaling": "standard",
                                                  "protocol": "smoke", "seeds": [5]}, headers=key)
        assert submitted.status_code == 202 and submitted.json()["dispatched"] is True
        run_id = submitted.json()["runs"][0]["id"]
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "queue 'rebench' has 1 queued run(s) and no live worker" in ready.json()["checks"]["consumers"]

        log = tmp_path / "worker.log"
        supervisor = start_supervisor(worker_env(fault_db.url, redis_server.url, tmp_path, data_root), log)
        try:
            from service.consumers import live_consumers

            broker = redis.Redis.from_url(redis_server.url)
            wait_for(lambda: live_consumers(broker, "rebench") == 1 or supervisor.poll() is not None, 90,
                     "a consumer on the default queue", log.read_text)
            assert supervisor.poll() is None, log.read_text()
            wait_for(lambda: client.get(f"/v1/runs/{run_id}").json()["status"] != "queued", 90,
                     "the default worker to take the run", log.read_text)
            assert client.get("/readyz").json()["checks"]["consumers"] == "ok"
        finally:
            stop(supervisor)
    with fault_db.transaction() as session:
        assert session.get(Run, run_id).queue == "rebench"


def test_supervisor_children_die_with_it_and_one_consumer_per_slot(fault_db, redis_server, data_root, tmp_path):
    env = worker_env(fault_db.url, redis_server.url, tmp_path, data_root)
    log = tmp_path / "supervisor.log"
    first = start_supervisor(env, log)
    second = third = None
    try:
        [child] = wait_for(lambda: celery_children(first.pid), 60, "the Celery child", log.read_text)

        # A child killed: the supervisor starts exactly one new one.
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: [c for c in celery_children(first.pid) if c != child], 60, "the restarted child",
                 log.read_text)
        [child] = celery_children(first.pid)

        # A second supervisor on the same machine waits for the slot instead of adding a consumer.
        second = subprocess.Popen([sys.executable, "-c", "from worker.supervisor import Supervisor, worker_commands;"
                                   "from service.settings import get_settings;"
                                   "raise SystemExit(Supervisor(get_settings(), worker_commands(0, 1, None), "
                                   "reaper=False, slot_wait_s=2).run())"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 2 and "worker slot cpu-0 is held by process" in err, err

        # The supervisor SIGKILLed (no chance to clean up): its child dies with it.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        wait_for(lambda: not alive(child), 10, "the orphaned Celery child to die", log.read_text)
        orphan_lifetime = time.monotonic() - killed_at

        # A restarted supervisor: one consumer again.
        third = start_supervisor(env, log)
        wait_for(lambda: celery_children(third.pid), 60, "the new supervisor's child", log.read_text)
        time.sleep(1.5)
        assert len(celery_children(third.pid)) == 1
        assert orphan_lifetime < 5
    finally:
        for proc in (first, third):
            if proc is not None:
                stop(proc)
