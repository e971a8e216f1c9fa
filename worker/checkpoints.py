"""Attempt-specific checkpoints, published into place only under the run's lease.

A run's published checkpoint is ``<artifacts>/runs/<id>/latest.pt``: what any attempt
resumes from. An attempt never writes it directly. It trains with its own directory
``<artifacts>/runs/<id>/attempt-<token>/`` (the training engine checkpoints there each
epoch, atomically), and :meth:`AttemptCheckpoint.publish` moves that file over the
published one with ``os.replace`` (atomic on one filesystem) -- called by the worker inside
the transaction that holds the lease (``service.storage.lease.hold`` locks the run's row),
so a worker that lost its run can never roll the published checkpoint back.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

__all__ = ["AttemptCheckpoint", "CHECKPOINT_FILE"]

CHECKPOINT_FILE = "latest.pt"  # archscale.training.checkpoint.CHECKPOINT_NAME (torch-free import here)
log = logging.getLogger(__name__)


class AttemptCheckpoint:
    def __init__(self, run_dir: Path, token: int):
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / f"attempt-{token}"
        self.published = self.run_dir / CHECKPOINT_FILE

    def prepare(self) -> Path:
        """A fresh attempt directory seeded with a copy of the published checkpoint (so the
        engine resumes from it); returns the directory to train with."""
        shutil.rmtree(self.dir, ignore_errors=True)  # a leftover of this token: never published, stale
        self.dir.mkdir(parents=True)
        if self.published.is_file():
            tmp = self.dir / f".{CHECKPOINT_FILE}.seed"
            shutil.copyfile(self.published, tmp)
            os.replace(tmp, self.dir / CHECKPOINT_FILE)
        return self.dir

    def publish(self) -> bool:
        """Move this attempt's checkpoint into place. Only call it while holding the lease.
        False when there is nothing new (already published by a retried transaction)."""
        source = self.dir / CHECKPOINT_FILE
        if not source.is_file():
            return False
        os.replace(source, self.published)
        return True

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
