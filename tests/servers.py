"""Private PostgreSQL and Redis servers for tests that stop, restart or flush them.

The machine's shared servers (PostgreSQL :5432, Redis :6379) are never touched by these:
each helper starts its own server on a free port in a temporary directory, as the user
running the tests, and stops it (by its own pid) at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["free_port", "PrivatePostgres", "PrivateRedis", "private_postgres", "private_redis", "pg_bin"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(what: str) -> None:
    message = f"{what} not installed: the fault tests start their own server"
    if os.environ.get("REBENCH_REQUIRE_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


def pg_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").is_file():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _wait_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout_s:.0f} s")


def _as_unprivileged() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root: as root, run its tools as the ``postgres`` user
    (or ``nobody``); returns (command prefix, uid, gid) for the data directory's owner."""
    if os.geteuid() != 0:
        return [], None, None
    import pwd

    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root without a 'postgres' or 'nobody' user to run PostgreSQL as")


class PrivatePostgres:
    """``initdb`` once; :meth:`start` / :meth:`stop` as often as a test wants (same port, same data)."""

    def __init__(self) -> None:
        binary = pg_bin()
        if binary is None:
            _missing("PostgreSQL (initdb)")
        self.prefix, uid, gid = _as_unprivileged()
        # Its own directory under /tmp (not pytest's, which is private to the test user).
        self.root = Path(tempfile.mkdtemp(prefix="rebench-pg-"))
        if uid is not None:
            os.chown(self.root, uid, gid)
        self.bin, self.data, self.port = binary, self.root / "pgdata", free_port()
        self.log = self.root / "postgres.log"
        subprocess.run(self.prefix + [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                                      "--auth=trust", "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
        self.socket_dir = self.root

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(self.prefix + [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                                      "-o", options, "-w", "-t", "30", "start"], check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(self.prefix + [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30",
                                      "stop"], check=False, capture_output=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        import sqlalchemy as sa

        admin = sa.create_engine(f"{self.url}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        finally:
            admin.dispose()
        return f"{self.url}/{name}"


class PrivateRedis:
    def __init__(self, root: Path, appendonly: bool = False):
        if shutil.which("redis-server") is None:
            _missing("redis-server")
        self.root, self.port, self.appendonly = root, free_port(), appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root), "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=open(self.root / "redis.log", "a"), stderr=subprocess.STDOUT)
        _wait_port(self.port, 10, "redis-server")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.stop("immediate")
        server.remove()


@contextmanager
def private_redis(root: Path, appendonly: bool = False) -> Iterator[PrivateRedis]:
    root.mkdir(parents=True, exist_ok=True)
    server = PrivateRedis(root, appendonly)
    server.start()
    try:
        yield server
    finally:
        server.stop()
