"""The largest accepted batch (1,000 archs x 16 seeds) and its resubmission (defects 4 and 7).

Real app, private PostgreSQL and Redis. The speed target (<= 5 s server-side) is measured by
``benchmarks/bulk_submit.py`` (docs/benchmarks.md), not timed here; this test checks what
the fix must keep true: every run created once in one transaction, every message handed to
the broker (in the background for a large batch), no run id burnt by an identical
resubmission, and a client whose timeout fits the request.
"""

from __future__ import annotations

import time

import httpx
import pytest
import redis
import sqlalchemy as sa

from service.api import create_app
from service.client import RebenchClient
from service.settings import Settings
from service.storage.keys import create_key
from tests.service.conftest import serve_app

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

BATCH = {"archs": list(range(1, 1001)), "dataset": "cifar10", "scaling": "standard", "protocol": "nb201-200",
         "seeds": list(range(16))}


def test_largest_batch_once_every_message_sent_and_no_id_burnt_by_resubmission(fault_db, redis_server):
    with fault_db.transaction() as session:
        key = create_key(session, "bulk").secret
    settings = Settings(database_url=fault_db.url, broker_url=redis_server.url, queue="bulk-test")
    broker = redis.Redis.from_url(redis_server.url)
    broker.delete("bulk-test")
    seen_timeouts: list[float] = []
    with serve_app(create_app(settings, watch=False)) as url, RebenchClient(url, key) as client:
        client.http.event_hooks["request"].append(
            lambda request: seen_timeouts.append(request.extensions["timeout"]["read"]))
        first = client.submit_batch(BATCH["archs"], **{k: v for k, v in BATCH.items() if k != "archs"})
        assert first["runs_created"] == 16_000 and first["runs_existing"] == 0
        assert first["dispatched"] is None  # large: handed over in the background
        deadline = time.monotonic() + 120
        while broker.llen("bulk-test") < 16_000 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert broker.llen("bulk-test") == 16_000
        with fault_db.engine.connect() as conn:
            last_id = conn.execute(sa.text("SELECT last_value FROM runs_id_seq")).scalar()
        again = client.submit_batch(BATCH["archs"], **{k: v for k, v in BATCH.items() if k != "archs"})
        assert again["runs_created"] == 0 and again["runs_existing"] == 16_000
        assert again["dispatched"] is True  # nothing new to send
    assert seen_timeouts and min(seen_timeouts) >= 120  # the client waits long enough for the largest batch
    with fault_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_value FROM runs_id_seq")).scalar() == last_id  # no id burnt
        assert conn.execute(sa.text("SELECT count(*), count(DISTINCT key), min(id), max(id) FROM runs")).one() == (
            16_000, 16_000, 1, 16_000)
        assert conn.execute(sa.text("SELECT count(*) FROM batch_runs")).scalar() == 32_000
        assert conn.execute(sa.text("SELECT count(DISTINCT queue), min(queue) FROM runs")).one() == (1, "bulk-test")
    assert broker.llen("bulk-test") == 16_000  # the resubmission sent nothing again
    broker.delete("bulk-test")
    broker.close()


def test_idempotent_resubmission_through_post_runs_burns_no_id(fault_db):
    with fault_db.transaction() as session:
        key = {"X-API-Key": create_key(session, "runs").secret}
    app = create_app(Settings(database_url=fault_db.url, broker_url=None), watch=False)
    body = {"arch": 6111, "dataset": "cifar10", "scaling": "standard", "protocol": "smoke", "seeds": [1, 2, 3]}
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        ids = [[r["id"] for r in client.post("/v1/runs", json=body, headers=key).json()["runs"]] for _ in range(5)]
        fresh = client.post("/v1/runs", json={**body, "seeds": [4]}, headers=key).json()["runs"][0]["id"]
    assert ids == [[1, 2, 3]] * 5
    assert fresh == 4  # the four identical resubmissions consumed no id
