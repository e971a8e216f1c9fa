"""A key cancels only the runs it created; an admin key any run (defect 9)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from service.api import create_app
from service.settings import Settings
from service.storage.keys import create_key
from tests.service.conftest import serve_app
from tests.worker.conftest import ROOT

pytestmark = [pytest.mark.postgres]

RUN = {"dataset": "cifar10", "scaling": "standard", "protocol": "smoke", "seeds": [1]}


def test_a_key_cancels_its_own_runs_only_unless_admin(fault_db):
    with fault_db.transaction() as session:
        alice, bob = ({"X-API-Key": create_key(session, who).secret} for who in ("alice", "bob"))
    created = subprocess.run([sys.executable, "-m", "service.cli", "api-key", "create", "--name", "ops", "--admin",
                              "--database-url", fault_db.url], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    admin = {"X-API-Key": created.stdout.strip()}
    assert "admin key" in created.stderr
    app = create_app(Settings(database_url=fault_db.url, broker_url=None), watch=False)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        alices = client.post("/v1/runs", json={"arch": 6111, **RUN}, headers=alice).json()["runs"][0]["id"]
        bobs = client.post("/v1/runs", json={"arch": 1, **RUN}, headers=bob).json()["runs"][0]["id"]
        # Bob resubmitting Alice's run gets it back (idempotent) but does not own it.
        assert client.post("/v1/runs", json={"arch": 6111, **RUN}, headers=bob).json()["runs"][0]["id"] == alices

        refused = client.delete(f"/v1/runs/{alices}", headers=bob)
        assert refused.status_code == 403, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["path", "run_id"] and "--admin" in error["msg"]
        assert client.get(f"/v1/runs/{alices}").json()["status"] == "queued"  # untouched

        assert client.delete(f"/v1/runs/{alices}", headers=alice).status_code == 202
        assert client.delete(f"/v1/runs/{bobs}", headers=admin).status_code == 202
        assert client.get(f"/v1/runs/{bobs}").json()["status"] == "cancelled"
        assert client.delete(f"/v1/runs/{bobs}", headers={"X-API-Key": "nope"}).status_code == 401
