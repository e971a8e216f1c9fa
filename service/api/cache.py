"""The API's in-memory read model: one :class:`Snapshot`, replaced when results change.

A watcher thread reads ``meta.results_version`` every ``cache_check_s`` seconds (one
indexed row) and, when it moved (a run succeeded, an import ran), loads a new snapshot
and swaps it in; requests keep answering from the old one meanwhile. Derived answers
(rank orders, Kendall tables, arch pages) are memoised on the snapshot, so swapping it
invalidates them all at once. Reads therefore never touch the database.
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa

from service.storage.bulk import read_counter
from service.storage.readmodel import Snapshot, load_snapshot

__all__ = ["SnapshotCache", "NotReady"]

log = logging.getLogger("service.api.cache")


class NotReady(RuntimeError):
    """No snapshot yet: the database is not initialised or still loading."""


class SnapshotCache:
    def __init__(self, engine: sa.Engine, check_every_s: float = 1.0):
        self.engine, self.check_every_s = engine, check_every_s
        self._snapshot: Snapshot | None = None
        self._loaded = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.loads = 0

    def refresh(self) -> Snapshot:
        """Load a snapshot now (synchronously) and swap it in."""
        with self._lock:
            started = time.perf_counter()
            with self.engine.connect() as conn:
                snapshot = load_snapshot(conn)
            self._snapshot, self.last_error = snapshot, None
            self.loads += 1
            self._loaded.set()
            log.info("snapshot v%d loaded in %.2f s", snapshot.version, time.perf_counter() - started)
            return snapshot

    def _current_version(self) -> int:
        with self.engine.connect() as conn:
            return read_counter(conn)

    def _watch(self) -> None:
        warmed = False
        while not self._stop.is_set():
            try:
                if self._snapshot is None or self._current_version() != self._snapshot.version:
                    self.refresh()
                if not warmed:  # import scipy.stats (~0.3 s) here, not in the first Kendall request
                    import scipy.stats  # noqa: F401

                    warmed = True
            except Exception as exc:  # keep serving the old snapshot; /readyz reports the error
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                self._loaded.set()  # wake waiters: they get NotReady(last_error) instead of hanging
                log.warning("snapshot refresh failed: %s", self.last_error)
            self._stop.wait(self.check_every_s)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="snapshot-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def get(self, wait_s: float = 30.0) -> Snapshot:
        """The current snapshot; waits for the first load (raises NotReady after ``wait_s``)."""
        snapshot = self._snapshot
        if snapshot is not None:
            return snapshot
        if self._thread is None:  # no watcher (e.g. a script): load inline
            try:
                return self.refresh()
            except Exception as exc:  # e.g. an empty database: say so, as the watcher would
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                raise NotReady(self.last_error) from None
        if not self._loaded.wait(wait_s) or self._snapshot is None:
            raise NotReady(self.last_error or "the read model is still loading")
        return self._snapshot

    @property
    def ready(self) -> bool:
        return self._snapshot is not None
