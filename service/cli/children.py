"""The embedded worker child of `rebench serve` / `rebench demo`, and how both stop.

The child dies with its parent (PR_SET_PDEATHSIG), the parent stops it on SIGINT/SIGTERM
(once or repeated) through its ``finally`` blocks, and neither signal handler takes a lock
(see ``worker.embedded``): ``tests/service/test_shutdown.py`` checks that no process remains.
"""

from __future__ import annotations

import signal
import subprocess
import sys

__all__ = ["start_embedded_worker", "stop_child", "exit_on_signals"]


def start_embedded_worker() -> subprocess.Popen:
    """The embedded runner in a child process: the API process itself never imports torch."""

    def die_with_parent() -> None:  # Linux: the child gets SIGTERM when `rebench serve` dies
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass

    return subprocess.Popen([sys.executable, "-m", "worker.embedded"], preexec_fn=die_with_parent)


def stop_child(child: subprocess.Popen | None, timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``: the child releases its run and exits (it resumes
    from the last epoch checkpoint when the server starts again)."""
    if child is None or child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def exit_on_signals() -> None:
    """SIGTERM and SIGINT end this process through its ``finally`` blocks (which stop the children).

    The handler only raises (never takes a lock: see worker.embedded) and ignores the signals
    from then on, so a repeated Ctrl-C or SIGTERM cannot cut the cleanup short. uvicorn installs
    its own handlers while it serves and re-raises the signal after its graceful shutdown: it then
    lands here."""

    def handler(signum: int, _frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
