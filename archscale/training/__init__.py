"""The torch layer: the NB201 network, the three scalings, NB201 data and the training engine.

Nothing in ``archscale`` core imports this package; it needs the ``worker`` extra (torch, pillow).

    from archscale.training import RunSpec, train_run
    result = train_run(RunSpec(arch=6111, dataset="cifar10", scaling="arch-aware", protocol="smoke",
                               data_root="../shared/data"), checkpoint_dir="runs/6111")

Conventions (init per module, muP widths, fast path, fingerprint): docs/training.md.
"""

from .base_lr import NoBaseLR, pick_base_lr, resolve_base_lr, search_base_lr
from .checkpoint import CheckpointMismatch
from .engine import cosine_factor, train_run
from .init import arch_aware_init
from .network import NB201Network, build_network
from .scalings import SCALERS, prepare
from .settings import Setting, load_setting
from .spec import (
    Cancelled,
    DataNotFound,
    DegenerateArchitecture,
    EpochMetrics,
    RunSpec,
    RunSpecError,
    TrainResult,
)

__all__ = [
    "RunSpec",
    "train_run",
    "TrainResult",
    "EpochMetrics",
    "Cancelled",
    "DegenerateArchitecture",
    "DataNotFound",
    "RunSpecError",
    "CheckpointMismatch",
    "NoBaseLR",
    "build_network",
    "NB201Network",
    "arch_aware_init",
    "prepare",
    "SCALERS",
    "load_setting",
    "Setting",
    "resolve_base_lr",
    "search_base_lr",
    "pick_base_lr",
    "cosine_factor",
]
