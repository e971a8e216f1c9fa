"""Bulk submission: the largest accepted batch (1,000 archs x 16 seeds = 16,000 runs).

    .venv/bin/python benchmarks/bulk_submit.py [--archs 1000] [--seeds 16] [--repeat 2]

The real app under uvicorn on real PostgreSQL (a throw-away database) and real Redis
(a throw-away queue name; the key is deleted at the end, nothing is flushed). Times
``POST /v1/batches`` end to end as the client sees it (an upper bound of the server-side
time) and until every message is in the broker (the hand-off of more than 1,000 new runs
continues in the background after the answer), then submits the same batch again
(idempotent: 0 created) and reports whether any run id was burnt by the duplicates (the id
sequence must not move).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG = os.environ.get("REBENCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("REBENCH_BENCH_REDIS", "redis://127.0.0.1:6379/8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archs", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2, help="fresh databases, one timing each")
    args = parser.parse_args()
    import httpx
    import redis
    import sqlalchemy as sa
    import uvicorn

    from service.api import create_app
    from service.settings import Settings
    from service.storage.database import Database
    from service.storage.keys import create_key

    body = {"archs": list(range(1, args.archs + 1)), "dataset": "cifar10", "scaling": "standard",
            "protocol": "nb201-200", "seeds": list(range(args.seeds))}
    for attempt in range(args.repeat):
        name = f"bench_bulk_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        try:
            db = Database(f"{PG}/{name}")
            db.init()
            with db.transaction() as session:
                key = create_key(session, "bench").secret
            app = create_app(Settings(database_url=db.url, broker_url=REDIS, queue=queue), watch=False)
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                              headers={"X-API-Key": key}) as client:
                t0 = time.perf_counter()
                first = client.post("/v1/batches", json=body)
                t_first = time.perf_counter() - t0
                assert first.status_code == 202, first.text[:500]
                broker = redis.Redis.from_url(REDIS)
                while broker.llen(queue) < first.json()["runs_created"] and time.perf_counter() - t0 < 300:
                    time.sleep(0.05)
                t_handoff = time.perf_counter() - t0
                with db.engine.connect() as conn:
                    ids_before = conn.execute(sa.text("SELECT last_value FROM runs_id_seq")).scalar()
                t0 = time.perf_counter()
                again = client.post("/v1/batches", json=body)
                t_again = time.perf_counter() - t0
                with db.engine.connect() as conn:
                    ids_after = conn.execute(sa.text("SELECT last_value FROM runs_id_seq")).scalar()
                    runs = conn.execute(sa.text("SELECT count(*) FROM runs")).scalar()
            waiting = redis.Redis.from_url(REDIS).llen(queue)
            print(f"[{attempt + 1}] {args.archs} archs x {args.seeds} seeds: first POST {t_first:.2f} s "
                  f"(created {first.json()['runs_created']}, dispatched {first.json()['dispatched']}, "
                  f"all {waiting} messages in the broker {t_handoff:.2f} s after the request began); "
                  f"resubmission {t_again:.2f} s "
                  f"(created {again.json()['runs_created']}); runs {runs}; "
                  f"ids burnt by the duplicates: {ids_after - ids_before}")
            server.should_exit = True
            thread.join(timeout=30)
            db.dispose()
        finally:
            redis.Redis.from_url(REDIS).delete(queue)
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
