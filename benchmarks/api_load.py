"""Load test of the REST API on PostgreSQL with a full, SYNTHETIC set of re-scaled results.

    .venv/bin/python benchmarks/api_load.py [--duration 60] [--connections 32] [--keep] [--reuse]

1. Creates a separate benchmark database (``rebench_bench_api``, dropped first; never a user's
   database), migrates it, imports the real ``nb201_original.csv.gz`` (timed: the < 10 s target).
2. Writes SYNTHETIC re-scaled results: every non-degenerate arch (15,284; arch-aware refuses
   the 341 degenerate cells) x seeds 777/888/999 x the four settings, scaling arch-aware,
   protocol nb201-200, as succeeded runs with ``code_version = "SYNTHETIC-benchmark"`` and
   ``extra = {"synthetic": true}``. Values are the original accuracy plus seeded noise: made-up
   numbers whose only purpose is to give the API realistic volume. They are never shown as
   results anywhere else.
3. Starts ``uvicorn service.main:app`` (one worker, uvloop + httptools, no access log) and times
   the cold start: process start to the first /healthz answer and to the first arch lookup.
4. Drives each scenario with ``wrk`` (C, one thread, N connections, a Lua script that picks
   random archs / pages / settings), so the load generator does not starve the server on a
   2-core machine: first closed loop (every connection sends its next request as soon as the
   answer arrives: the saturation throughput, where latency ~ connections / throughput), then
   paced (exponential think times offering a fixed rate). Reports p50 / p99 latency,
   requests/s and errors (non-2xx + socket errors).
5. Reads the server's peak RSS (VmHWM) from /proc.

Needs PostgreSQL at 127.0.0.1:5432 (user postgres) and ``wrk`` (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archscale.datasets import DATASETS, get_dataset  # noqa: E402
from archscale.protocols import NB201_SEEDS, get_protocol, run_key  # noqa: E402
from service.storage.bulk import bump_counter, copy_rows  # noqa: E402
from service.storage.database import Database  # noqa: E402
from service.storage.originals import import_csv  # noqa: E402
from service.storage.reference import ensure_protocol  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
#: Think-time rate of the paced runs. A connection waits its think time after each answer, so
#: the achieved rate is a little lower (reported): 1,700 gives the lookup target's ~1,500 req/s.
PACED_RATES = {"arch lookup": 1700.0, "leaderboard page (100 rows)": 500.0, "kendall, all K": 500.0}
DB_NAME = "rebench_bench_api"
PORT = 8765

WRK_COMMON = """
math.randomseed(12345)
done = function(summary, latency, requests)
  io.stderr:write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, '
    .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"max_us": %d}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""
SCENARIOS = {
    "arch lookup": """
request = function()
  return wrk.format("GET", "/v1/archs/" .. math.random(0, 15624))
end
""",
    "leaderboard page (100 rows)": """
local datasets = {"cifar10", "cifar10-valid", "cifar100", "ImageNet16-120"}
local sorts = {"rescaled", "original", "rank_change"}
request = function()
  local path = string.format("/v1/leaderboard?dataset=%s&sort=%s&limit=100&offset=%d",
    datasets[math.random(1, 4)], sorts[math.random(1, 3)], 100 * math.random(0, 155))
  return wrk.format("GET", path)
end
""",
    "kendall, all K": """
local datasets = {"cifar10", "cifar10-valid", "cifar100", "ImageNet16-120"}
local selects = {"original", "rescaled", "union"}
request = function()
  local path = string.format("/v1/rankings/kendall?dataset=%s&select_by=%s",
    datasets[math.random(1, 4)], selects[math.random(1, 3)])
  return wrk.format("GET", path)
end
""",
    # The HTML pages (service/web): the same read model, plus templates and inline SVG.
    "web leaderboard (50 rows)": """
local datasets = {"cifar10", "cifar10-valid", "cifar100", "ImageNet16-120"}
local sorts = {"rescaled", "original", "rank_change"}
request = function()
  local path = string.format("/web/leaderboard?dataset=%s&sort=%s&page=%d",
    datasets[math.random(1, 4)], sorts[math.random(1, 3)], math.random(1, 300))
  return wrk.format("GET", path)
end
""",
    "web arch page": """
request = function()
  return wrk.format("GET", "/web/archs/" .. math.random(0, 15624))
end
""",
    "web plots (scatter of all archs)": """
local datasets = {"cifar10", "cifar10-valid", "cifar100", "ImageNet16-120"}
request = function()
  return wrk.format("GET", "/web/plots?dataset=" .. datasets[math.random(1, 4)] .. "&b=arch-aware@nb201-200")
end
""",
}
WEB_PACED_RATES = {"web leaderboard (50 rows)": 100.0, "web arch page": 100.0, "web plots (scatter of all archs)": 10.0}
PACED_RATES.update(WEB_PACED_RATES)


def create_database() -> str:
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return f"{PG}/{DB_NAME}"


def synthetic_results(db: Database) -> int:
    """COPY succeeded runs + final results (clearly labelled synthetic) for every arch x seed x setting."""
    protocol = get_protocol("nb201-200")
    rng = random.Random(201)
    with db.engine.begin() as conn:
        protocol_id = ensure_protocol(conn, protocol)
        degenerate = {i for (i,) in conn.execute(sa.text('SELECT "index" FROM architectures WHERE degenerate'))}
        originals = {(a, d, s): v for a, d, s, v in conn.execute(sa.text(
            "SELECT arch_index, dataset, split, value FROM original_results WHERE source = 'nb201'"))}
        now = time.strftime("%Y-%m-%d %H:%M:%S+00")
        runs, results, metrics = [], [], []
        run_id = 0
        for dataset in DATASETS:
            splits = list(get_dataset(dataset).eval_splits)
            for arch in range(15_625):
                if arch in degenerate:
                    continue
                for seed in NB201_SEEDS:
                    run_id += 1
                    runs.append((run_id, run_key(arch, dataset, "arch-aware", protocol, seed), "fp32", arch, dataset,
                                 "arch-aware", protocol_id, seed, "succeeded", protocol.epochs, protocol.epochs, 1,
                                 False, now, now, now, now))
                    fingerprint = hashlib.sha256(f"SYNTHETIC-{run_id}".encode()).hexdigest()
                    results.append((run_id, run_id, fingerprint, "SYNTHETIC-benchmark", '{"synthetic": true}', now))
                    identity = (run_id, arch, dataset, "arch-aware", protocol_id, "fp32", seed)
                    for split in splits:
                        value = min(100.0, max(0.0, originals[(arch, dataset, split)] + rng.gauss(0.5, 0.8)))
                        metrics.append((run_id, split, "acc", round(value, 3), *identity))
                    metrics.append((run_id, "train", "acc", round(rng.uniform(60, 100), 3), *identity))
        copy_rows(conn, sa.table("runs"), ("id", "key", "precision", "arch_index", "dataset", "scaling",
                                          "protocol_id", "seed", "status", "progress_epoch", "total_epochs",
                                          "attempts", "cancel_requested", "created_at", "started_at",
                                          "finished_at", "updated_at"), runs)
        copy_rows(conn, sa.table("final_results"), ("id", "run_id", "fingerprint", "code_version", "extra",
                                                   "created_at"), results)
        copy_rows(conn, sa.table("final_metrics"), ("result_id", "split", "metric", "value", "run_id", "arch_index",
                                                   "dataset", "scaling", "protocol_id", "precision", "seed"), metrics)
        conn.execute(sa.text("SELECT setval('runs_id_seq', :n), setval('final_results_id_seq', :n)"), {"n": run_id})
        bump_counter(conn)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return run_id


def get(url: str, timeout: float = 5.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return response.status


def wait_for(url: str, deadline: float) -> float:
    while time.perf_counter() < deadline:
        try:
            if get(url, timeout=2) == 200:
                return time.perf_counter()
        except OSError:
            time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer in time")


def start_server(url: str) -> tuple[subprocess.Popen, float, float]:
    # prefixed names: they win over anything the shell exports (service/settings.py)
    env = {**os.environ, "REBENCH_DATABASE_URL": url, "REBENCH_BROKER_URL": "", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.main:app", "--host", "127.0.0.1", "--port", str(PORT),
         "--workers", "1", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{PORT}"
    health = wait_for(f"{base}/healthz", started + 60) - started
    lookup = wait_for(f"{base}/v1/archs/6111", started + 60) - started
    return server, health, lookup


def paced(rate: float, connections: int) -> str:
    """Each connection waits an exponential think time before its next request, so the offered
    load is about ``rate`` req/s whatever the latency (wrk's delay(); not coordinated-omission
    free: a stalled server delays the next sends)."""
    return f"""
delay = function()
  return -math.log(1 - math.random()) * 1000 * {connections} / {rate}
end
"""


def run_wrk(name: str, script: str, duration: int, connections: int, rate: float | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + WRK_COMMON + (paced(rate, connections) if rate else ""))
    done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", handle.name,
                           f"http://127.0.0.1:{PORT}"], capture_output=True, text=True, timeout=duration + 60)
    os.unlink(handle.name)
    line = next(x for x in done.stderr.splitlines() if x.startswith("WRKJSON "))
    stats = json.loads(line[len("WRKJSON "):])
    stats["name"] = name
    stats["mode"] = f"paced (think time for {rate:.0f}/s)" if rate else "closed loop (saturation)"
    stats["req_per_s"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["errors"] = sum(stats[k] for k in ("status_errors", "connect_errors", "read_errors", "write_errors",
                                             "timeouts"))
    return stats


def cpu_seconds(pid: int) -> float:
    """utime + stime of the server process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the kept benchmark database (skip steps 1-2)")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), metavar="SCENARIO",
                        help=f"run only these scenarios (default: all): {', '.join(SCENARIOS)}")
    parser.add_argument("--csv", default=str(ROOT.parent / "shared" / "data" / "nb201_original.csv.gz"))
    args = parser.parse_args()

    if args.reuse:
        url, t_migrate, t_import, n_runs = f"{PG}/{DB_NAME}", None, None, None
    else:
        url = create_database()
        db = Database(url)
        t0 = time.perf_counter()
        db.init(sync=False)
        t_migrate = time.perf_counter() - t0
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            report = import_csv(conn, args.csv)
        t_import = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_runs = synthetic_results(db)
        t_synth = time.perf_counter() - t0
        db.dispose()
        print(f"migrations {t_migrate:.2f} s; import {sum(report.rows.values()):,} rows (incl. reference sync) "
              f"{t_import:.2f} s; synthetic runs {n_runs:,} in {t_synth:.1f} s", flush=True)

    server, cold_health, cold_lookup = start_server(url)
    try:
        print(f"cold start: /healthz {cold_health:.2f} s, first arch lookup {cold_lookup:.2f} s", flush=True)
        results = []
        for name, script in SCENARIOS.items():
            if args.only and name not in args.only:
                continue
            run_wrk(name, script, 5, args.connections)  # warm-up: fills memoised pages / taus
            for rate in (None, PACED_RATES[name]):
                cpu_before = cpu_seconds(server.pid)
                stats = run_wrk(name, script, args.duration, args.connections, rate)
                # The machine may be shared: the server's own CPU time per request does not depend
                # on how much CPU other processes took, and bounds its throughput on one core.
                stats["server_cpu_us_per_request"] = (cpu_seconds(server.pid) - cpu_before) / stats["requests"] * 1e6
                stats["load_avg_1m"] = os.getloadavg()[0]
                results.append(stats)
                print(f"{name:32s} {stats['mode']:26s} p50 {stats['p50_us'] / 1000:6.2f} ms  "
                      f"p99 {stats['p99_us'] / 1000:6.2f} ms  {stats['req_per_s']:7.0f} req/s  "
                      f"errors {stats['errors']}  server CPU {stats['server_cpu_us_per_request']:.0f} us/req  "
                      f"load {stats['load_avg_1m']:.1f}", flush=True)
        rss, peak = rss_mb(server.pid)
        print(f"server RSS {rss:.0f} MB (peak {peak:.0f} MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not (args.keep or args.reuse):
            admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            admin.dispose()
    summary = {"date": date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
               "load_avg_after": os.getloadavg(), "import_s": t_import, "migrate_s": t_migrate,
               "synthetic_runs": n_runs, "cold_start_healthz_s": cold_health, "cold_start_lookup_s": cold_lookup,
               "rss_mb": rss, "rss_peak_mb": peak, "connections": args.connections, "duration_s": args.duration,
               "scenarios": results}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
