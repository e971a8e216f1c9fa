"""``rebench worker``: one Celery worker process per GPU, plus the reaper.

The parent never imports torch or touches CUDA (a CUDA context does not survive fork and
would pin memory on GPU 0): it counts GPUs with ``nvidia-smi -L`` (or reads
``CUDA_VISIBLE_DEVICES``), then starts ``celery -A worker.celery_app worker`` children,
each with ``CUDA_VISIBLE_DEVICES`` set to its GPU, the ``solo`` pool and concurrency 1
(one run per process; several processes may share a GPU with ``--per-gpu``). A child that
exits is restarted after a short backoff. The reaper runs in the parent.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from service.dispatch import bulk_queue, make_dispatcher
from service.settings import Settings
from service.storage.database import Database

from .reaper import run_reaper

__all__ = ["count_gpus", "worker_commands", "Supervisor"]

log = logging.getLogger(__name__)


def count_gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


@dataclass
class WorkerCommand:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def worker_commands(gpus: int, per_gpu: int, queue: str | None, loglevel: str = "INFO") -> list[WorkerCommand]:
    """One Celery process per (GPU, slot); with no GPU, ``per_gpu`` CPU processes on ``cpu``."""
    host = socket.gethostname()
    base = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool", "solo",
            "--concurrency", "1", "--loglevel", loglevel, "--without-gossip", "--without-mingle"]
    commands = []
    for gpu in range(gpus) if gpus else [None]:
        for slot in range(per_gpu):
            device = f"gpu{gpu}" if gpu is not None else "cpu"
            env = {"CUDA_VISIBLE_DEVICES": str(gpu) if gpu is not None else ""}
            name = queue or ("gpu" if gpu is not None else "cpu")
            # The bulk queue (campaign runs) second: Redis' priority order drains the first one first.
            commands.append(WorkerCommand(f"rebench-{device}-{slot}@{host}",
                                          base + ["-Q", f"{name},{bulk_queue(name)}",
                                                  "-n", f"rebench-{device}-{slot}@{host}"], env))
    return commands


class Supervisor:
    """Start the children, restart those that die, run the reaper, stop on SIGTERM/SIGINT."""

    def __init__(self, settings: Settings, commands: list[WorkerCommand], reaper: bool = True):
        self.settings, self.commands, self.reaper = settings, commands, reaper
        self.stop = threading.Event()
        self.children: dict[str, subprocess.Popen] = {}

    def _spawn(self, command: WorkerCommand) -> None:
        log.info("starting %s: %s", command.name, " ".join(command.argv))
        self.children[command.name] = subprocess.Popen(command.argv, env={**os.environ, **command.env})

    def _backlog(self) -> int:
        import redis

        client = redis.Redis.from_url(self.settings.broker_url, socket_timeout=2)
        try:
            return int(client.llen(self.settings.queue)) + int(client.llen(bulk_queue(self.settings.queue)))
        finally:
            client.close()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        for command in self.commands:
            self._spawn(command)
        threads = []
        if self.reaper:
            db = Database(self.settings.resolved_database_url)
            backlog = self._backlog if self.settings.broker_url.startswith(("redis://", "rediss://")) else None
            thread = threading.Thread(target=run_reaper, daemon=True, args=(
                db, make_dispatcher(self.settings), self.settings.stale_after_s, self.settings.resend_after_s,
                self.settings.reaper_interval_s, self.stop, backlog))
            thread.start()
            threads.append(thread)
        by_name = {c.name: c for c in self.commands}
        while not self.stop.wait(1.0):
            for name, child in list(self.children.items()):
                if child.poll() is not None:
                    log.warning("%s exited with %s; restarting in 2 s", name, child.returncode)
                    time.sleep(2)
                    self._spawn(by_name[name])
        for child in self.children.values():
            child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        return 0
