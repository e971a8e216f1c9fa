"""The zero-configuration path: SQLite, no broker, the embedded runner in a child process.

Real processes through the real CLI (`rebench serve`, `rebench api-key create`,
`rebench submit --wait`, `rebench demo --exit`) on tiny data in the official CIFAR format.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import free_port
from tests.worker.conftest import ROOT, wait_for

REBENCH = [sys.executable, "-m", "service.cli"]
pytestmark = pytest.mark.slow


def embedded_env(home: Path, data_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL")}
    return {**env, "REBENCH_HOME": str(home), "DATA_ROOT": str(data_root), "DEVICE": "cpu", "OMP_NUM_THREADS": "1"}


@contextmanager
def embedded_server(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """`rebench serve` (embedded) on a free port until the block ends: (process, url, a write key)."""
    port = free_port()
    server = subprocess.Popen(REBENCH + ["serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 60, "the API", log.read_text)
        key = subprocess.run(REBENCH + ["api-key", "create", "--name", "test"], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
        yield server, url, key
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_trains_a_submission_in_its_embedded_worker_without_torch_in_the_api(tmp_path, data_root):
    env = embedded_env(tmp_path, data_root)
    with embedded_server(env, tmp_path / "serve.log") as (server, url, key):
        submit = subprocess.run(REBENCH + ["submit", "6111", "--protocol", "smoke", "--seed", "3", "--wait",
                                           "--url", url, "--api-key", key],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert submit.returncode == 0, submit.stdout + submit.stderr + (tmp_path / "serve.log").read_text()
        assert "succeeded" in submit.stdout
        run = httpx.get(f"{url}/v1/runs/1", timeout=5).json()
        assert run["status"] == "succeeded" and run["result"]["metrics"]["test"]["acc"] >= 0
        assert len(run["curve"]) == run["protocol"]["epochs"]
        # The API process trained nothing itself: libtorch was never mapped into it.
        maps = Path(f"/proc/{server.pid}/maps").read_text()
        assert "libtorch" not in maps


def test_demo_command_runs_end_to_end(tmp_path, data_root):
    env = embedded_env(tmp_path, data_root)
    done = subprocess.run(REBENCH + ["demo", "--data-root", str(data_root), "--exit", "--port", str(free_port())],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("succeeded") >= 2  # arch-aware and standard
    assert "arch-aware" in done.stdout and "standard" in done.stdout


def test_worker_without_broker_says_how_to_fix(tmp_path, data_root):
    env = embedded_env(tmp_path, data_root)
    done = subprocess.run(REBENCH + ["worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "BROKER_URL is not set" in done.stderr
