"""Per-epoch checkpoints, written atomically, with everything an exact resume needs.

``<checkpoint_dir>/latest.pt`` holds: the run fingerprint (a resume must match it), the
number of epochs done, model / optimizer / LR-scheduler state, the data generator's state
(shuffling + augmentation), the global torch RNG states, the per-epoch history and the wall
time so far. It is written to a temporary file and renamed over the old one, so a crash
mid-write leaves the previous epoch's checkpoint intact.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = ["CHECKPOINT_NAME", "TrainState", "save_checkpoint", "load_checkpoint", "CheckpointMismatch"]

CHECKPOINT_NAME = "latest.pt"


class CheckpointMismatch(ValueError):
    pass


@dataclass
class TrainState:
    fingerprint: str
    epoch: int
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    data_rng: torch.Tensor
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0


def save_checkpoint(directory: str | Path, state: TrainState) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / CHECKPOINT_NAME
    tmp = directory / f".{CHECKPOINT_NAME}.{os.getpid()}.tmp"
    torch.save(state.__dict__, tmp)
    with open(tmp, "rb") as f:  # make the bytes durable before the rename publishes them
        os.fsync(f.fileno())
    os.replace(tmp, final)
    return final


def load_checkpoint(directory: str | Path | None, fingerprint: str) -> TrainState | None:
    """The state in ``directory/latest.pt``, or None; raise if it belongs to another run."""
    if directory is None:
        return None
    path = Path(directory) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    raw = torch.load(path, map_location="cpu", weights_only=False)
    if raw.get("fingerprint") != fingerprint:
        raise CheckpointMismatch(
            f"checkpoint {path} belongs to another run (fingerprint {str(raw.get('fingerprint'))[:12]}..., this run "
            f"{fingerprint[:12]}...); use a fresh checkpoint_dir for this run or delete the old checkpoint")
    return TrainState(**raw)
