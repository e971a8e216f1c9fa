"""Fault injection on private servers: a PostgreSQL cluster and a redis-server of the tests'
own (``tests/servers.py``), never the machine's shared ones, so stopping, restarting and
flushing them disturbs nobody.

One database is migrated once per session and used as a TEMPLATE: each test gets a fresh
copy in ~0.2 s instead of running the migrations and the reference-data sync (~4 s).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.storage.database import Database
from tests.archscale.training.conftest import write_cifar10
from tests.servers import PrivatePostgres, PrivateRedis, private_postgres, private_redis
from tests.worker.conftest import Cluster
from tests.worker.protocols import register

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="session", autouse=True)
def _test_protocols() -> None:
    register()


@pytest.fixture(scope="session")
def pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        template = Database(server.create_database("rebench_template"))
        template.init()
        template.dispose()
        yield server


def fresh_db(pg: PrivatePostgres) -> Database:
    return Database(pg.create_database(f"fault_{uuid.uuid4().hex[:10]}", template="rebench_template"))


@pytest.fixture
def fault_db(pg: PrivatePostgres) -> Iterator[Database]:
    db = fresh_db(pg)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, per_batch=50, test=50)
    return root


@pytest.fixture
def cluster(fault_db: Database, redis_server: PrivateRedis, data_root: Path, tmp_path: Path) -> Iterator[Cluster]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    c = Cluster(fault_db, data_root, tmp_path, redis_server.url)
    yield c
    c.stop()
