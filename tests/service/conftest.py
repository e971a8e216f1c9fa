"""Databases for the service tests: a fresh PostgreSQL database per session (real Alembic
migrations, dropped at the end) and an embedded SQLite file, both holding the real
imported NB201 numbers. No mocks: the broker tests use the local Redis.

Without a PostgreSQL server the postgres tests skip, except under REBENCH_REQUIRE_DATA=1
(CI), where they fail: CI must exercise the production backend.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from archscale.protocols import get_protocol, run_fingerprint
from service.settings import Settings
from service.storage.database import Database

PG_SERVER = os.environ.get("REBENCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("REBENCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKENDS = ("postgres", "sqlite")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} unavailable: {exc}"
    if os.environ.get("REBENCH_REQUIRE_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def fresh_postgres(prefix: str = "rebench_test") -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration of the block; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _unavailable("PostgreSQL", exc)
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with fresh_postgres() as url:
        yield url


def _prepared(url: str, csv_path: Path) -> Database:
    from service.storage.originals import import_csv

    db = Database(url)
    db.init()
    with db.engine.begin() as conn:
        import_csv(conn, csv_path)
    return db


@pytest.fixture(scope="session")
def pg_db(pg_url: str, nb201_csv: Path) -> Iterator[Database]:
    db = _prepared(pg_url, nb201_csv)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory, nb201_csv: Path) -> Iterator[Database]:
    db = _prepared(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'rebench.db'}", nb201_csv)
    yield db
    db.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Database:
    """Each test using it runs on PostgreSQL and on SQLite."""
    return request.getfixturevalue({"postgres": "pg_db", "sqlite": "sqlite_db"}[request.param])


RUN_TABLES = ("campaign_runs", "campaigns", "final_metrics", "final_results", "epoch_metrics", "batch_runs", "batches",
              "runs")


def wipe_runs(db: Database) -> None:
    """Delete runs, results and batches (not the reference data or the imported numbers)."""
    from service.storage.bulk import bump_counter

    with db.engine.begin() as conn:
        for table in RUN_TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))
        bump_counter(conn)


@pytest.fixture
def clean_db(db: Database) -> Database:
    wipe_runs(db)
    return db


def settings_for(db: Database, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": db.url, "broker_url": None, "cache_check_s": 0.05, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


def finish_run(db: Database, run_id: int, metrics: dict, worker: str = "test-worker") -> None:
    """Drive a queued run to succeeded through the storage API the worker uses."""
    from service.storage.results import store_final_result
    from service.storage.runs import claim_run, get_run

    with db.transaction() as session:
        run = claim_run(session, run_id, worker)
        assert run is not None, f"run {run_id} could not be claimed"
        fingerprint = run_fingerprint(protocol=get_protocol("nb201-200"), scaling=run.scaling, dataset=run.dataset,
                                      seed=run.seed, base_lr=0.46, precision=run.precision, code_version="test",
                                      split="test")
        store_final_result(session, run_id, fingerprint=fingerprint, code_version="test", metrics=metrics)
        assert get_run(session, run_id).status == "succeeded"


class Api:
    """A TestClient on the real app (lifespan, snapshot watcher) plus a live write key."""

    def __init__(self, db: Database, **settings: object):
        from fastapi.testclient import TestClient

        from service.api import create_app
        from service.storage.keys import create_key

        self.db = db
        self.app = create_app(settings_for(db, **settings))
        self.client = TestClient(self.app, raise_server_exceptions=False)
        with db.transaction() as session:
            self.key = create_key(session, "tests").secret
        self.headers = {"X-API-Key": self.key}

    def refresh(self) -> None:
        """Results changed: load the read model now instead of waiting for the watcher."""
        self.app.state.rebench.snapshots.refresh()

    def post(self, path: str, headers: dict[str, str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.post(path, headers={**self.headers, **(headers or {})}, **kwargs)

    def get(self, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, **kwargs)


@pytest.fixture(scope="session")
def api(db: Database) -> Iterator[Api]:
    client = Api(db)
    with client.client:  # runs the lifespan: watcher thread, then shutdown
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(app, timeout_s: float = 30.0) -> Iterator[str]:
    """The real app under uvicorn in a background thread on a free port; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
