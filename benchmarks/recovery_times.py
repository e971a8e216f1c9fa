"""Recovery time per fault, under the DEFAULT settings (heartbeat 10 s, stale after 45 s,
reaper every 10 s, re-send after 120 s): the numbers of docs/workers.md's fault table.

    .venv/bin/python benchmarks/recovery_times.py [--only kill,freeze,supervisor,postgres,redis]

Everything runs on private servers (a PostgreSQL cluster and a redis-server of its own, as
the fault tests do) with real Celery worker processes (``tests.worker.celery_main``: the
production worker plus the test protocols) training tiny nets on tiny data, and the real
reaper loop (``worker.reaper.run_reaper``) with the default timings. Each scenario prints one
line; takes ~6 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def wait(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="kill,freeze,supervisor,postgres,redis")
    args = parser.parse_args()
    only = set(args.only.split(","))
    import httpx
    import redis
    import sqlalchemy as sa

    from service.api import create_app
    from service.settings import Settings
    from service.storage.models import EpochMetric
    from tests.archscale.training.conftest import write_cifar10
    from tests.faults.procs import alive, children_of, cmdline
    from tests.servers import private_postgres, private_redis
    from tests.service.conftest import serve_app
    from tests.worker.conftest import Cluster
    from tests.worker.protocols import register
    from tests.worker.test_faults import run_row, submit
    from worker.reaper import run_reaper

    register()
    defaults = Settings()
    print(f"defaults: heartbeat_s={defaults.heartbeat_s} stale_after_s={defaults.stale_after_s} "
          f"reaper_interval_s={defaults.reaper_interval_s} resend_after_s={defaults.resend_after_s}")
    home = Path(tempfile.mkdtemp(prefix="rebench-recovery-"))
    data = home / "data"
    write_cifar10(data, per_batch=50, test=50)
    with private_postgres() as pg, private_redis(home / "redis") as rs:
        from service.storage.database import Database

        def new_cluster(name: str) -> Cluster:
            db = Database(pg.create_database(f"rb_{name}"))
            db.init()
            (home / f"cluster-{name}").mkdir()
            cluster = Cluster(db, data, home / f"cluster-{name}", rs.url)
            for key in ("HEARTBEAT_S", "STALE_AFTER_S"):  # the defaults, not the tests' fast timings
                cluster.env.pop(key)
            cluster.settings = Settings(**{k.lower(): v for k, v in cluster.env.items() if k != "REBENCH_HOME"})
            return cluster

        def reaper(cluster: Cluster) -> threading.Event:
            stop = threading.Event()
            backlog = lambda queue: redis.Redis.from_url(rs.url).llen(queue)  # noqa: E731
            threading.Thread(target=run_reaper, daemon=True, args=(
                cluster.db, cluster.dispatcher, defaults.stale_after_s, defaults.resend_after_s,
                defaults.reaper_interval_s, stop, backlog)).start()
            return stop

        if "kill" in only:
            c = new_cluster("kill")
            first = c.start_worker()
            run_id = submit(c, "fault-slow")
            wait(lambda: run_row(c, run_id).progress_epoch >= 2, 180, "two epochs")
            stop = reaper(c)
            first.send_signal(signal.SIGKILL)
            c.start_worker()
            t_requeue = wait(lambda: run_row(c, run_id).status == "queued" or run_row(c, run_id).attempts >= 2,
                             180, "re-queue")
            t_claim = wait(lambda: run_row(c, run_id).attempts >= 2, 180, "claim") + t_requeue
            t_done = wait(lambda: run_row(c, run_id).status == "succeeded", 300, "finish") + t_claim
            stop.set()
            c.stop()
            print(f"worker SIGKILL mid-run: re-queued after {t_requeue:.1f} s, running again after {t_claim:.1f} s, "
                  f"succeeded {t_done:.1f} s after the kill (attempts {run_row(c, run_id).attempts})")

        if "freeze" in only:
            c = new_cluster("freeze")
            frozen = c.start_worker()
            run_id = submit(c, "fault-slow")
            wait(lambda: run_row(c, run_id).progress_epoch >= 2, 180, "two epochs")
            stop = reaper(c)
            frozen.send_signal(signal.SIGSTOP)
            c.start_worker()
            t_claim = wait(lambda: run_row(c, run_id).attempts >= 2, 180, "claim by the other worker")
            t_done = wait(lambda: run_row(c, run_id).status == "succeeded", 300, "finish") + t_claim
            stop.set()

            def snapshot() -> tuple:
                with c.db.engine.connect() as conn:
                    rows = conn.execute(sa.select(EpochMetric.__table__).where(EpochMetric.run_id == run_id)
                                        .order_by(EpochMetric.epoch)).all()
                blob = (c.home / "artifacts" / "runs" / str(run_id) / "latest.pt").read_bytes()
                return [tuple(r) for r in rows], hashlib.sha256(blob).hexdigest()

            before = snapshot()
            frozen.send_signal(signal.SIGCONT)
            t_gave_up = wait(lambda: f"run {run_id}: lost" in (c.home / "worker-0.log").read_text(), 120, "give up")
            same = snapshot() == before
            c.stop()
            print(f"worker SIGSTOP mid-run: taken over after {t_claim:.1f} s, succeeded elsewhere after "
                  f"{t_done:.1f} s; thawed, it gave up within {t_gave_up:.1f} s writing nothing "
                  f"(epoch rows and checkpoint unchanged: {same})")

        if "supervisor" in only:
            c = new_cluster("supervisor")
            env = {**os.environ, **c.env, "LOCK_DIR": str(home / "locks"), "CUDA_VISIBLE_DEVICES": "",
                   "PYTHONPATH": str(ROOT)}
            env.pop("QUEUE")
            sup = subprocess.Popen([sys.executable, "-m", "service.cli", "worker", "--no-reaper"], cwd=ROOT, env=env,
                                   stdout=open(home / "supervisor.log", "w"), stderr=subprocess.STDOUT)
            wait(lambda: [p for p in children_of(sup.pid) if "celery" in cmdline(p)], 120, "child")
            [child] = [p for p in children_of(sup.pid) if "celery" in cmdline(p)]
            sup.send_signal(signal.SIGKILL)
            sup.wait()
            t_gone = wait(lambda: not alive(child), 30, "orphan death")
            print(f"supervisor SIGKILL: its Celery child was gone {t_gone:.1f} s later (first check: 0.2 s "
                  "polling; PR_SET_PDEATHSIG)")

        if "postgres" in only:
            c = new_cluster("postgres")
            app = create_app(Settings(database_url=c.db.url, broker_url=None, cache_check_s=1.0))
            with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
                assert client.get("/v1/runs?limit=1").status_code == 200
                pg.stop()
                down = time.monotonic()
                codes = set()
                while time.monotonic() - down < 15:
                    codes.add(client.get("/v1/runs?limit=1").status_code)
                    time.sleep(0.5)
                pg.start()
                up = time.monotonic()
                t_back = wait(lambda: client.get("/v1/runs?limit=1").status_code == 200, 60, "API back")
            print(f"PostgreSQL stopped 15 s: the API answered {sorted(codes)} meanwhile (with Retry-After), and 200 "
                  f"{t_back:.2f} s after the server was back ({time.monotonic() - up:.1f} s incl. checks), "
                  "no restart")

        if "redis" in only:
            c = new_cluster("redis")
            ids = [submit(c, "fault-fast", arch=arch) for arch in (1, 2, 3)]
            rs.stop(signal.SIGKILL)  # no AOF: the messages are gone
            rs.start()
            lost = time.monotonic()
            stop = reaper(c)
            c.start_worker()
            t_resent = wait(lambda: all(run_row(c, i).attempts >= 1 for i in ids), 400, "re-send")
            t_done = wait(lambda: all(run_row(c, i).status == "succeeded" for i in ids), 300, "finish") + t_resent
            stop.set()
            c.stop()
            print(f"Redis killed without AOF, 3 runs queued: re-sent and claimed within {t_resent:.1f} s "
                  f"(runs were {defaults.resend_after_s:.0f} s old at most + one reaper pass), all succeeded after "
                  f"{time.monotonic() - lost:.1f} s")


if __name__ == "__main__":
    main()
