"""Queue overhead: submit-to-start latency and throughput of 1,000 smoke-sized no-op runs.

    .venv/bin/python benchmarks/queue_overhead.py [--runs 1000] [--workers 2]

Real PostgreSQL (a throw-away database), real Redis, real Celery worker processes running
the production task (`worker.tasks`, claim -> 2 epoch reports -> final result). Only the
training itself is replaced by a no-op that reports 2 epochs, so what is timed is the
queue path: storage inserts, broker hand-off, claim, per-epoch writes, result write.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("REBENCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("REBENCH_BENCH_REDIS", "redis://127.0.0.1:6379/8")


def noop_worker(argv: list[str]) -> None:
    """A Celery worker whose training step does nothing (2 epoch reports, instant result)."""
    import archscale.training as training
    from archscale.protocols import get_protocol, run_fingerprint
    from archscale.training import EpochMetrics

    class Result:
        def __init__(self, spec):
            self.epochs = [{"epoch": e, "train_loss": 1.0, "train_acc": 50.0, "lr": 0.1, "seconds": 0.0,
                            "eval": {"test": {"loss": 1.0, "acc": 50.0}}} for e in (1, 2)]
            self.final = {"test": {"loss": 1.0, "acc": 50.0}}
            self.fingerprint = run_fingerprint(protocol=get_protocol(spec.protocol), scaling=spec.scaling,
                                               dataset=spec.dataset, seed=spec.seed, base_lr=None, precision="fp32",
                                               code_version="noop", split="test")
            self.provenance, self.wall_seconds = {"code_version": "noop"}, 0.0

        def to_dict(self):
            return {"noop": True}

    def train_run(spec, checkpoint_dir=None, on_epoch=None, **_):
        for e in (1, 2):
            on_epoch(EpochMetrics(e, 2, 0.1, 1.0, 50.0, {"test": {"loss": 1.0, "acc": 50.0}}, 0.0, 0.0))
        return Result(spec)

    training.train_run = train_run
    from celery.__main__ import main

    sys.argv = ["celery"] + argv
    main()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--probes", type=int, default=20, help="single runs timed on an idle queue")
    args = parser.parse_args()

    from archscale.protocols import get_protocol
    from service.dispatch import CeleryDispatcher
    from service.storage import runs as run_repo
    from service.storage.database import Database
    from service.storage.models import Run

    name = f"rebench_bench_queue_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    db = Database(f"{PG}/{name}")
    db.init()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    settings = {"DATABASE_URL": db.url, "BROKER_URL": REDIS, "QUEUE": queue, "HEARTBEAT_S": "60", "DEVICE": "cpu"}
    # prefixed names: they win over anything the shell exports (service/settings.py)
    env = {**os.environ, **{f"REBENCH_{k}": v for k, v in settings.items()}, "REBENCH_HOME": f"/tmp/{name}"}
    workers = [subprocess.Popen([sys.executable, __file__, "--noop-worker", "-A", "worker.celery_app", "worker",
                                 "--pool", "solo", "-Q", queue, "-n", f"{queue}-{i}@%h", "--loglevel", "WARNING",
                                 "--without-gossip", "--without-mingle"], cwd=ROOT, env=env)
               for i in range(args.workers)]
    dispatcher = CeleryDispatcher(REDIS, queue)
    protocol = get_protocol("smoke")

    def submit(indices: range, seed: int) -> list[int]:
        specs = [run_repo.RunSpec(i % 15625, "cifar10", "standard", protocol, seed) for i in indices]
        with db.transaction() as session:
            ids = [r.id for r in run_repo.create_runs(session, specs)]
        dispatcher.enqueue(ids)
        return ids

    def wait_done(ids: list[int], poll_s: float = 0.01) -> None:
        while True:
            with db.transaction() as session:
                done = session.scalar(sa.select(sa.func.count()).select_from(Run)
                                      .where(Run.id.in_(ids), Run.status == "succeeded"))
            if done == len(ids):
                return
            time.sleep(poll_s)

    try:
        wait_done(submit(range(args.workers), seed=0), poll_s=0.5)  # warm-up: every worker is consuming
        probes = []
        for k in range(args.probes):  # one run at a time on an idle queue
            run_id = submit(range(k, k + 1), seed=2)[0]
            wait_done([run_id])
            with db.transaction() as session:
                run = session.get(Run, run_id)
                probes.append((run.started_at - run.created_at).total_seconds())
        t0 = time.perf_counter()
        batch_ids: list[int] = []
        for start in range(0, args.runs, 100):  # like POST /v1/batches: 100 archs per request
            batch_ids += submit(range(start, min(start + 100, args.runs)), seed=1)
        submit_s = time.perf_counter() - t0
        while True:
            with db.transaction() as session:
                done = session.scalar(sa.select(sa.func.count()).select_from(Run).where(Run.status == "succeeded"))
            if done >= args.runs + args.workers + args.probes:
                break
            time.sleep(0.5)
        with db.transaction() as session:
            rows = session.execute(sa.select(Run.created_at, Run.started_at, Run.finished_at)
                                   .where(Run.id.in_(batch_ids))).all()
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    latency = sorted((r.started_at - r.created_at).total_seconds() for r in rows)
    span = (max(r.finished_at for r in rows) - min(r.created_at for r in rows)).total_seconds()
    print(f"{args.runs} no-op runs, {args.workers} worker processes (solo pool), smoke protocol (2 epoch reports)")
    print(f"submit (create + enqueue): {submit_s:.2f} s = {args.runs / submit_s:.0f} runs/s")
    print(f"submit-to-start with all {args.runs} queued at once: p50 {statistics.median(latency):.1f} s, "
          f"p99 {latency[int(0.99 * (len(latency) - 1))]:.1f} s (waiting behind the backlog)")
    print(f"throughput, first submit to last result: {args.runs / span:.1f} runs/s ({span:.1f} s)")
    probes.sort()
    print(f"submit-to-start on an idle queue ({len(probes)} single runs): p50 {statistics.median(probes) * 1e3:.0f} ms, "
          f"max {probes[-1] * 1e3:.0f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--noop-worker":
        noop_worker(sys.argv[2:])
    else:
        main()
