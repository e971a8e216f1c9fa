"""Time creating a whole-space campaign: 15,625 archs x 3 seeds (cifar10, arch-aware), bulk.

    .venv/bin/python benchmarks/campaign_create.py [--backend postgres|sqlite|both] [--dedup isomorphic]

Each repeat starts from a fresh database (PostgreSQL: a new database on REBENCH_TEST_PG's
server, dropped afterwards; SQLite: a new file) migrated and filled with the reference rows,
then times ``POST /v1/campaigns`` through the real app (FastAPI TestClient: validation,
selection, dedup, the staged bulk insert and the commit; dispatch runs after the response
and is not timed: with no broker it is a no-op). Then it times the idempotent resubmission.
Target (issue 15): <= 10 s for the whole space x 3 seeds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

BODY = {"selector": {"all": True}, "datasets": ["cifar10"], "scalings": ["arch-aware"], "protocol": "nb201-200",
        "seeds": [777, 888, 999]}
PG = os.environ.get("REBENCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def one(url: str, dedup: str) -> tuple[float, float, dict]:
    from fastapi.testclient import TestClient

    from service.api import create_app
    from service.settings import Settings
    from service.storage.database import Database
    from service.storage.keys import create_key

    db = Database(url)
    db.init()
    with db.transaction() as session:
        key = create_key(session, "bench").secret
    app = create_app(Settings(database_url=url, broker_url=None), watch=False)
    client = TestClient(app)
    t0 = time.perf_counter()
    answer = client.post("/v1/campaigns", json={**BODY, "dedup": dedup}, headers={"X-API-Key": key})
    t1 = time.perf_counter()
    again = client.post("/v1/campaigns", json={**BODY, "dedup": dedup}, headers={"X-API-Key": key})
    t2 = time.perf_counter()
    assert answer.status_code == 201 and again.status_code == 200, (answer.text, again.text)
    db.dispose()
    return t1 - t0, t2 - t1, answer.json()


def backend_url(backend: str, tmp: Path) -> tuple[str, object]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}", None
    name = f"rebench_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG}/{name}", drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    ap.add_argument("--dedup", default="isomorphic", choices=["exact", "isomorphic", "nb201"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{platform.node()} {os.cpu_count()} CPUs, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in (["postgres", "sqlite"] if args.backend == "both" else [args.backend]):
            times, again = [], []
            for _ in range(args.repeats):
                url, cleanup = backend_url(backend, Path(tmp))
                try:
                    t, t_again, body = one(url, args.dedup)
                finally:
                    if cleanup:
                        cleanup()
                times.append(t)
                again.append(t_again)
            print(f"{backend:8s} dedup={args.dedup}: {body['runs_linked']} runs ({body['runs_created']} new, "
                  f"{body['runs_served']} served): create median {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}); resubmit median {statistics.median(again):.3f} s")


if __name__ == "__main__":
    main()
