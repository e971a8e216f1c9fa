"""Outages: a stopped database answers 503 + Retry-After in the JSON error format on every
route (the API-key check included), keeps the connection alive, and the API recovers by
itself when the server is back (defect 2). The PostgreSQL server is the tests' own."""

from __future__ import annotations

import httpx
import pytest

from service.api import create_app
from service.settings import Settings
from service.storage.keys import create_key
from tests.service.conftest import serve_app

pytestmark = [pytest.mark.postgres]

RUN = {"arch": 6111, "dataset": "cifar10", "scaling": "standard", "protocol": "smoke", "seeds": [1]}


def test_database_outage_is_503_with_retry_after_and_recovers_without_restart(pg, fault_db):
    with fault_db.transaction() as session:
        key = {"X-API-Key": create_key(session, "outage").secret}
    app = create_app(Settings(database_url=fault_db.url, broker_url=None, cache_check_s=0.2))
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        assert client.get("/v1/runs/1").status_code == 404
        pg.stop()
        try:
            for method, path, kwargs in (("GET", "/v1/runs/1", {}), ("GET", "/v1/runs", {}),
                                         ("POST", "/v1/runs", {"json": RUN, "headers": key}),
                                         ("DELETE", "/v1/runs/1", {"headers": key}),
                                         ("GET", "/v1/batches/1", {})):
                answer = client.request(method, path, **kwargs)
                assert answer.status_code == 503, (method, path, answer.status_code, answer.text)
                assert answer.headers["retry-after"] == "5"
                assert answer.headers.get("connection", "").lower() != "close"
                [error] = answer.json()["detail"]
                assert error["type"] == "database_unavailable" and "Retry" in error["msg"]
            assert client.get("/readyz").status_code == 503
        finally:
            pg.start()
        # Same process, same client: pooled connections are checked before use.
        assert client.get("/v1/runs/1").status_code == 404
        submitted = client.post("/v1/runs", json=RUN, headers=key)
        assert submitted.status_code == 202, submitted.text
        assert client.get(f"/v1/runs/{submitted.json()['runs'][0]['id']}").json()["status"] == "queued"
