"""``rebench worker``: one Celery worker process per GPU, plus the reaper.

The parent never imports torch or touches CUDA (a CUDA context does not survive fork and
would pin memory on GPU 0): it counts GPUs with ``nvidia-smi -L`` (or reads
``CUDA_VISIBLE_DEVICES``), then starts ``celery -A worker.celery_app worker`` children,
each with ``CUDA_VISIBLE_DEVICES`` set to its GPU, the ``solo`` pool and concurrency 1
(one run per process; several processes may share a GPU with ``--per-gpu``). A child that
exits is restarted after a short backoff. The reaper runs in the parent.

One consumer per GPU slot, whatever is killed:

- a child dies with its supervisor: ``PR_SET_PDEATHSIG`` = SIGKILL (Linux), so a supervisor
  killed with SIGKILL (or crashing) leaves no orphan consuming the queue; its run goes stale
  and the reaper re-queues it (it resumes from its published checkpoint). A supervisor
  asked to stop (SIGTERM/SIGINT/SIGHUP) stops its children gracefully first;
- each (GPU, slot) has a lock file (``flock``) that the supervisor takes before starting the
  slot's child and that the child inherits: a second ``rebench worker`` on the same machine,
  or one restarted while an old child still exits, waits for the slot instead of adding a
  second process on the GPU.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from service.dispatch import bulk_queue, make_dispatcher
from service.settings import DEFAULT_QUEUE, Settings
from service.storage.database import Database

from .reaper import run_reaper

__all__ = ["count_gpus", "visible_gpu_ids", "worker_commands", "Supervisor", "SlotBusy", "lock_dir"]

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def visible_gpu_ids() -> list[str]:
    """The GPU ids this machine offers: ``CUDA_VISIBLE_DEVICES`` if set, else nvidia-smi's."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(l for l in out.splitlines() if l.startswith("GPU "))]


def count_gpus() -> int:
    return len(visible_gpu_ids())


@dataclass
class WorkerCommand:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    slot: str = "cpu-0"  # the lock name: one process per (device, slot) on this machine


def worker_commands(gpus: int, per_gpu: int, queue: str | None, loglevel: str = "INFO") -> list[WorkerCommand]:
    """One Celery process per (GPU, slot); with no GPU, ``per_gpu`` CPU processes. All consume
    ``queue`` (default: the API's default queue)."""
    host = socket.gethostname()
    base = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool", "solo",
            "--concurrency", "1", "--loglevel", loglevel, "--without-gossip", "--without-mingle"]
    ids = visible_gpu_ids()
    commands = []
    for gpu in range(gpus) if gpus else [None]:
        # The physical id (CUDA_VISIBLE_DEVICES=2,3 means GPUs 2 and 3, not 0 and 1).
        device_id = (ids[gpu] if gpu < len(ids) else str(gpu)) if gpu is not None else None
        for slot in range(per_gpu):
            device = f"gpu{gpu}" if gpu is not None else "cpu"
            env = {"CUDA_VISIBLE_DEVICES": device_id if device_id is not None else ""}
            lock = f"gpu{device_id}-{slot}" if device_id is not None else f"cpu-{slot}"
            name = f"rebench-{device}-{slot}@{host}"
            interactive = queue or DEFAULT_QUEUE
            # The bulk queue (campaign runs) second: Redis' priority order drains the first one first.
            commands.append(WorkerCommand(name, base + ["-Q", f"{interactive},{bulk_queue(interactive)}", "-n", name],
                                          env, lock))
    return commands


class SlotBusy(RuntimeError):
    """Another process (a second supervisor, or a child still exiting) holds a slot."""


def lock_dir(settings: Settings) -> Path:
    """Machine-local (never the shared artifact dir: flock over NFS is unreliable)."""
    return settings.lock_dir or Path(tempfile.gettempdir()) / f"rebench-{os.getuid()}-worker-locks"


def _take_slot(directory: Path, slot: str, wait_s: float) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise SlotBusy(f"worker slot {slot} is held by process {holder} (another `rebench worker`, or a "
                               f"child of one still exiting): stop it, or give this one other GPUs "
                               f"(CUDA_VISIBLE_DEVICES / --gpu) or another LOCK_DIR") from None
            time.sleep(0.2)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the supervisor dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the slot locks still keep one consumer per slot
        pass


class Supervisor:
    """Start the children, restart those that die, run the reaper, stop on SIGTERM/SIGINT/SIGHUP."""

    def __init__(self, settings: Settings, commands: list[WorkerCommand], reaper: bool = True,
                 slot_wait_s: float = 30.0):
        self.settings, self.commands, self.reaper, self.slot_wait_s = settings, commands, reaper, slot_wait_s
        self.stop = threading.Event()
        self.children: dict[str, subprocess.Popen] = {}
        self.locks: dict[str, int] = {}

    def _spawn(self, command: WorkerCommand) -> None:
        log.info("starting %s: %s", command.name, " ".join(command.argv))
        lock = self.locks[command.name]
        # The child inherits the slot's lock (pass_fds): while it lives, nobody else takes the slot.
        self.children[command.name] = subprocess.Popen(command.argv, env={**os.environ, **command.env},
                                                       preexec_fn=_die_with_parent, pass_fds=(lock,))

    def _backlog(self, queue: str) -> int:
        import redis

        client = redis.Redis.from_url(self.settings.broker_url, socket_timeout=2)
        try:
            return int(client.llen(queue)) + int(client.llen(bulk_queue(queue)))
        finally:
            client.close()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: self.stop.set())
        try:
            for command in self.commands:
                self.locks[command.name] = _take_slot(lock_dir(self.settings), command.slot, self.slot_wait_s)
        except SlotBusy as exc:
            log.error("%s", exc)
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for command in self.commands:
            self._spawn(command)
        if self.reaper:
            db = Database(self.settings.resolved_database_url)
            backlog = self._backlog if self.settings.broker_url.startswith(("redis://", "rediss://")) else None
            threading.Thread(target=run_reaper, daemon=True, args=(
                db, make_dispatcher(self.settings), self.settings.stale_after_s, self.settings.resend_after_s,
                self.settings.reaper_interval_s, self.stop, backlog)).start()
        by_name = {c.name: c for c in self.commands}
        while not self.stop.wait(1.0):
            for name, child in list(self.children.items()):
                if child.poll() is not None:
                    log.warning("%s exited with %s; restarting in 2 s", name, child.returncode)
                    if self.stop.wait(2):
                        break
                    self._spawn(by_name[name])
        for child in self.children.values():
            child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for fd in self.locks.values():
            os.close(fd)
        return 0
