"""`rebench serve` and `rebench demo` stop with all their children on SIGINT and SIGTERM, once
or repeated, and the embedded worker stops when its parent dies (SIGKILL): no process remains.

Each case starts the real command (embedded: SQLite under a temporary REBENCH_HOME, the worker
child process), waits until the API answers and the child runs, sends the signals, and checks
every process of the tree by pid in /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

from .conftest import free_port

TERM, INT, KILL = signal.SIGTERM, signal.SIGINT, signal.SIGKILL


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def descendants(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat[1]
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def start(command: list[str], home: Path, port: int) -> tuple[subprocess.Popen, set[int]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL")}
    env.update(REBENCH_HOME=str(home), PYTHONPATH=str(ROOT))
    log = open(home / "out.log", "wb")  # noqa: SIM115 (closed with the process)
    # a session of its own: the signals reach only the command, as `kill <pid>` would
    process = subprocess.Popen([sys.executable, "-m", "service.cli", *command, "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=home)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, (home / "out.log").read_text()
        tree = descendants(process.pid)
        if any("worker.embedded" in cmdline(pid) for pid in tree):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    time.sleep(1.0)  # the child is past its imports, in its loop
                    return process, descendants(process.pid)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"did not start: {(home / 'out.log').read_text()}")


def assert_all_gone(process: subprocess.Popen, tree: set[int], home: Path, within_s: float = 40) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and (process.poll() is None or any(alive(pid) for pid in tree)):
        time.sleep(0.1)
    left = {pid: cmdline(pid) for pid in tree if alive(pid)}
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    assert not left and process.returncode != -signal.SIGKILL, (left, (home / "out.log").read_text()[-3000:])


@pytest.mark.parametrize("command,signals", [
    (["serve"], [INT, INT, INT]),
    (["demo", "--data-root", "."], [INT, INT]),
], ids=["serve-int-x3", "demo-int-x2"])  # SIGTERM once: the training and signal-storm tests below
def test_signals_stop_the_command_and_its_children(tmp_path: Path, command: list[str], signals: list) -> None:
    process, tree = start(command, tmp_path, free_port())
    assert tree, "the embedded worker child was not started"
    for sig in signals:
        process.send_signal(sig)
        time.sleep(0.05)
    assert_all_gone(process, tree, tmp_path)


def test_sigterm_while_training_stops_at_once_and_requeues_the_run(tmp_path: Path, cifar10_jpeg: Path) -> None:
    """The demo's child busy in a run (decoding the data, then training): SIGTERM to the demo ends
    it within seconds, not when the run is done, and the run goes back to the queue."""
    import sqlalchemy as sa

    port = free_port()
    process, tree = start(["demo", "--data-root", str(cifar10_jpeg.parent)], tmp_path, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = httpx.get(f"http://127.0.0.1:{port}/v1/runs?status=running", timeout=5).json()["runs"]
        if running:
            break
        time.sleep(0.2)
    assert running, (tmp_path / "out.log").read_text()
    time.sleep(1.0)  # inside execute_run
    process.send_signal(TERM)
    assert_all_gone(process, tree, tmp_path, within_s=20)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'rebench.db'}")
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM runs WHERE id = :id"), {"id": running[0]["id"]}).scalar()
    engine.dispose()
    assert status == "queued", status


def test_a_signal_storm_on_the_embedded_worker_does_not_hang_it(tmp_path: Path) -> None:
    """The old handler called Event.set() from the signal handler, re-entering the Event's lock
    held by the interrupted wait: repeated signals hung the child for good."""
    process, tree = start(["serve"], tmp_path, free_port())
    child = next(pid for pid in tree if "worker.embedded" in cmdline(pid))
    for _ in range(200):
        if not alive(child):
            break
        os.kill(child, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the embedded worker hung on repeated SIGTERM"
    process.send_signal(TERM)
    assert_all_gone(process, tree, tmp_path)


def test_the_embedded_worker_dies_with_its_parent(tmp_path: Path) -> None:
    process, tree = start(["serve"], tmp_path, free_port())
    process.send_signal(KILL)  # no cleanup at all: PR_SET_PDEATHSIG sends the child SIGTERM
    process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in tree if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, [cmdline(pid) for pid in left]
