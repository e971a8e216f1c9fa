"""``rebench campaign create|status|cancel`` against the live app (uvicorn, PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from service.storage.keys import create_key

from .conftest import serve_app, settings_for, wipe_runs

ROOT = Path(__file__).resolve().parents[2]


def rebench(*args: str, url: str, key: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REBENCH_URL": url}
    if key:
        env["REBENCH_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "service.cli", "campaign", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_campaign_cli_creates_follows_and_cancels(pg_db):
    from service.api import create_app

    wipe_runs(pg_db)
    with pg_db.transaction() as session:
        key = create_key(session, "cli").secret
    with serve_app(create_app(settings_for(pg_db), watch=False)) as url:
        made = rebench("create", "--index", "6111", "--index", "0", "--dataset", "cifar10", "--seed", "777",
                       "--scaling", "standard", "--dedup", "exact", "--json", url=url, key=key)
        assert made.returncode == 0, made.stderr
        body = json.loads(made.stdout)
        assert body["created"] and body["runs_linked"] == 2
        again = rebench("create", "--index", "0", "--index", "6111", "--dataset", "cifar10", "--seed", "777",
                        "--scaling", "standard", "--dedup", "exact", url=url, key=key)
        assert again.returncode == 0 and f"campaign {body['id']} exists already" in again.stdout
        status = rebench("status", str(body["id"]), url=url)
        assert status.returncode == 0 and "queued 2" in status.stdout and "rate: not measured yet" in status.stdout
        cancelled = rebench("cancel", str(body["id"]), url=url, key=key)
        assert cancelled.returncode == 0 and "(cancelled)" in cancelled.stdout and "cancelled 2" in cancelled.stdout
        watch = rebench("status", str(body["id"]), "--watch", "--json", url=url)  # done: returns at once
        assert watch.returncode == 0 and json.loads(watch.stdout)["done"]
        bad = rebench("create", "--dataset", "cifar10", url=url, key=key)
        assert bad.returncode == 2 and "--all" in bad.stderr
        missing = rebench("status", "999999", url=url)
        assert missing.returncode == 2 and "no campaign with id 999999" in missing.stderr
