"""/healthz, /readyz, /metrics, the Celery hand-off through real Redis, and what the API imports."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid

import pytest
import redis

from service.dispatch import TRAIN_TASK
from service.settings import Settings

from .conftest import REDIS_URL, Api


def test_health_ready_and_metrics(api):
    assert api.get("/healthz").json()["status"] == "ok"
    api.get("/v1/archs/6111")  # waits for the read model's first load
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["broker"] == "ok (embedded)"
    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    assert 'rebench_http_requests_total{method="GET",route="/v1/archs/{arch}",status="200"}' in metrics.text
    assert 'rebench_runs{status="queued"}' in metrics.text


def test_readyz_reports_an_uninitialised_database(tmp_path):
    from fastapi.testclient import TestClient

    from service.api import create_app

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"), watch=False)
    client = TestClient(app, raise_server_exceptions=False)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "rebench db upgrade" in ready.json()["checks"]["database"]
    lookup = client.get("/v1/archs/1")
    assert lookup.status_code == 503 and "rebench db upgrade" in lookup.json()["detail"][0]["msg"]
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        import os

        if os.environ.get("REBENCH_REQUIRE_DATA") == "1":
            pytest.fail(f"Redis unavailable: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    yield client
    client.close()


@pytest.mark.redis
def test_post_runs_sends_the_task_by_name_to_the_queue(db, redis_client):
    queue = f"rebench-test-{uuid.uuid4().hex[:8]}"
    api = Api(db, broker_url=REDIS_URL, queue=queue)
    try:
        seeds = [uuid.uuid4().int % 10**9, uuid.uuid4().int % 10**9]
        response = api.post("/v1/runs", json={"arch": 6111, "dataset": "cifar10", "protocol": "smoke",
                                              "seeds": seeds})
        assert response.status_code == 202 and response.json()["dispatched"]
        ids = [r["id"] for r in response.json()["runs"]]
        messages = [json.loads(m) for m in redis_client.lrange(queue, 0, -1)]
        assert len(messages) == 2
        sent = set()
        for message in messages:
            assert message["headers"]["task"] == TRAIN_TASK
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            assert kwargs == {} and len(args) == 1
            sent.add(args[0])
        assert sent == set(ids)
        again = api.post("/v1/runs", json={"arch": 6111, "dataset": "cifar10", "protocol": "smoke", "seeds": seeds})
        assert again.status_code == 202 and redis_client.llen(queue) == 2  # existing runs are not re-sent
        assert api.get("/readyz").json()["checks"]["broker"] == "ok (celery)"
    finally:
        redis_client.delete(queue)


def test_an_unreachable_broker_keeps_runs_queued(db):
    api = Api(db, broker_url="redis://127.0.0.1:1/0")
    response = api.post("/v1/runs", json={"arch": 6111, "dataset": "cifar10", "protocol": "smoke",
                                          "seeds": [uuid.uuid4().int % 10**9]})
    assert response.status_code == 202 and response.json()["dispatched"] is False
    run = api.get(f"/v1/runs/{response.json()['runs'][0]['id']}").json()
    assert run["status"] == "queued"
    assert api.get("/readyz").status_code == 503


def test_the_api_process_never_imports_torch(tmp_path):
    script = f"""
import sys
from fastapi.testclient import TestClient
from service.settings import Settings
from service.api import create_app
import service.main
app = create_app(Settings(database_url="sqlite:///{tmp_path / 'x.db'}"))
with TestClient(app) as client:
    client.get("/healthz")
    client.get("/openapi.json")
assert "torch" not in sys.modules, "the API imported torch"
import service.storage.database, service.storage.runs, service.storage.results, service.storage.readmodel
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_storage_imports_neither_fastapi_nor_torch():
    script = """
import sys
import service.storage.database, service.storage.runs, service.storage.results, service.storage.batches
import service.storage.keys, service.storage.originals, service.storage.readmodel, service.storage.migrate
import service.dispatch
bad = sorted({"fastapi", "starlette", "torch"} & set(sys.modules))
assert not bad, bad
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
