"""Real PostgreSQL, real Redis, real Celery worker processes; tiny data in the official format.

The broker is a private ``redis-server`` started for the session (``tests/servers.py``):
these tests flush it, so they must never use the machine's shared Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from service.dispatch import CeleryDispatcher
from service.settings import Settings
from service.storage.database import Database
from tests.archscale.training.conftest import write_cifar10
from tests.servers import private_redis
from tests.service.conftest import fresh_postgres
from tests.worker.protocols import register

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _test_protocols() -> None:
    register()


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, per_batch=50, test=50)
    return root


@pytest.fixture
def worker_db() -> Iterator[Database]:
    """A fresh PostgreSQL database with the real migrations, per test."""
    with fresh_postgres("rebench_worker") as url:
        db = Database(url)
        db.init()
        try:
            yield db
        finally:
            db.dispose()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for the session: flushing it touches nobody else."""
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


class Cluster:
    """Settings shared by the test process and its worker processes, and the processes."""

    def __init__(self, db: Database, data_root: Path, home: Path, redis_url: str, **env: str):
        self.db, self.home, self.redis_url = db, home, redis_url
        self.queue = f"test-{uuid.uuid4().hex[:8]}"
        self.env = {"DATABASE_URL": db.url, "BROKER_URL": redis_url, "QUEUE": self.queue, "REBENCH_HOME": str(home),
                    "DATA_ROOT": str(data_root), "CACHE_DIR": str(home / "cache"), "DEVICE": "cpu",
                    "HEARTBEAT_S": "0.5", "STALE_AFTER_S": "3", "VISIBILITY_TIMEOUT_S": "3600",
                    "RETRY_MAX_S": "2", "OMP_NUM_THREADS": "1", **env}
        self.settings = Settings(**{k.lower(): v for k, v in self.env.items() if k != "REBENCH_HOME"})
        self.dispatcher = CeleryDispatcher(redis_url, self.queue)
        self.processes: list[subprocess.Popen] = []

    def start_worker(self, **env: str) -> subprocess.Popen:
        log = open(self.home / f"worker-{len(self.processes)}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.worker.celery_main", "-A", "worker.celery_app", "worker", "--pool", "solo",
             "--concurrency", "1", "-Q", self.queue, "-n", f"{self.queue}-{len(self.processes)}@%h",
             "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=ROOT, env={**os.environ, **self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.home.glob("worker-*.log")))

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def cluster(worker_db: Database, broker: redis.Redis, redis_url: str, data_root: Path, tmp_path: Path
            ) -> Iterator[Cluster]:
    c = Cluster(worker_db, data_root, tmp_path, redis_url)
    yield c
    c.stop()


def wait_for(condition: Callable[[], object], timeout: float, what: str, logs: Callable[[], str] | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n" + (logs()[-4000:] if logs else ""))
