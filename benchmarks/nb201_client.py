"""RebenchAPI (the nas_201_api drop-in) against a local server: first answer, memory, query speed.

1. Builds a PostgreSQL database (default) or SQLite file with NB201's three ``shared/data``
   files imported (published seed-means, per-seed valid accuracies, recorded costs).
2. Starts ``uvicorn service.main:app`` (one worker) and waits until the read model answers.
3. Runs each client measurement in a fresh Python process, so RSS is the client's alone:
   - construction -> first ``get_more_info`` answer (the bulk table of one setting loaded);
     first right after the server started, then again;
   - RSS (VmRSS and peak) after all four settings are loaded, and before (imports only);
   - 10,000 ``get_more_info`` calls after loading (random archs and settings, hp='200',
     is_random False and True), wall time.
Targets (issue 12): first answer <= 1 s, RSS <= 150 MB with four settings, 10k calls <= 0.5 s.

    .venv/bin/python benchmarks/nb201_client.py --data ../shared/data [--backend sqlite] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("REBENCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
PORT = 8877

CLIENT = r"""
import json, random, resource, sys, time
started = time.perf_counter()
from service.nb201_client import RebenchAPI
imported = time.perf_counter()

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

url, mode = sys.argv[1], sys.argv[2]
out = {"import_s": imported - started, "rss_after_import_mb": rss_mb()}
t0 = time.perf_counter()
api = RebenchAPI(url)
value = api.get_more_info(6111, "cifar10-valid", None, hp="200", is_random=False)["valid-accuracy"]
out["construct_to_first_answer_s"] = time.perf_counter() - t0
out["first_value"] = value
if mode == "full":
    t0 = time.perf_counter()
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        api.get_more_info(0, dataset, hp="200", is_random=False)
    out["load_other_three_s"] = time.perf_counter() - t0
    out["rss_four_settings_mb"] = rss_mb()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rng = random.Random(0)
    calls = [(rng.randrange(15625), rng.choice(("cifar10-valid", "cifar100", "ImageNet16-120")), rng.random() < 0.5)
             for _ in range(10_000)]
    random.seed(0)
    t0 = time.perf_counter()
    for index, dataset, draw in calls:
        api.get_more_info(index, dataset, None, hp="200", is_random=draw)
    out["get_more_info_10k_s"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def prepare(backend: str, data: Path, workdir: Path) -> str:
    import sqlalchemy as sa

    from service.storage.database import Database
    from service.storage.nb201_seeds import import_nb201_csv

    if backend == "postgres":
        admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text('DROP DATABASE IF EXISTS "rebench_bench_client" WITH (FORCE)'))
            conn.execute(sa.text('CREATE DATABASE "rebench_bench_client"'))
        admin.dispose()
        url = f"{PG}/rebench_bench_client"
    else:
        url = f"sqlite:///{workdir / 'client.db'}"
    db = Database(url)
    db.init()
    for name in ("nb201_original.csv.gz", "nb201_tss_hp200_perseed_valid.csv.gz", "nb201_tss_hp200_cost.csv.gz"):
        with db.engine.begin() as conn:
            import_nb201_csv(conn, data / name)
    db.dispose()
    return url


def wait_for(url: str, deadline: float) -> None:
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer in time")


def client(base: str, mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CLIENT, base, mode], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs of the full client measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        url = prepare(args.backend, args.data, Path(tmp))
        print(f"database {args.backend} prepared in {time.perf_counter() - started:.1f} s", flush=True)
        env = {**os.environ, "REBENCH_DATABASE_URL": url, "REBENCH_BROKER_URL": "", "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.main:app", "--host", "127.0.0.1",
                                   "--port", str(PORT), "--workers", "1", "--no-access-log", "--log-level", "warning"],
                                  cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{PORT}"
        try:
            wait_for(f"{base}/v1/archs/6111", time.perf_counter() + 120)  # the read model is loaded
            cold = client(base, "first")
            print("first client after the server started (published tables warmed at start-up):", json.dumps(cold), flush=True)
            for run in range(args.repeat):
                print(f"warm run {run + 1}:", json.dumps(client(base, "full")), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
