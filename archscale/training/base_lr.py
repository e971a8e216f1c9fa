"""The base LR of the arch-aware rule: where it comes from, and the 1-epoch grid search.

Precedence in ``resolve_base_lr``: an explicit value > the search cache > the built-in
``archscale.scaling.NB201_BASE_LRS`` (the paper's 0.46 for CIFAR-10) > an error that says to
run ``rebench base-lr``. The cache is one JSON file (default
``~/.cache/nb201-rebench/base_lr.json``, or ``$REBENCH_CACHE_DIR/base_lr.json``) keyed by
``"<dataset>|<protocol fingerprint>"``.

Search (paper §4 step 1): train the base cell (``NB201_BASE_CELL``, S = 1) for one epoch of the
protocol at each LR of a log-spaced grid, 10^(-2 + k/6) for k = 0..14 (0.01 ... 2.15, six points
per decade; the paper's 0.46 = 10^(-1/3) is on it). The base LR is the largest LR whose final
training loss (mean over that epoch) is the smallest; diverged (non-finite) runs never win.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from archscale.protocols import Protocol
from archscale.scaling import NB201_BASE_CELL, NB201_BASE_LRS

from .datafiles import default_cache_dir

__all__ = ["default_grid", "cache_path", "cache_key", "read_cache", "write_cache", "resolve_base_lr",
           "pick_base_lr", "search_base_lr", "BaseLRSearch", "NoBaseLR"]


class NoBaseLR(LookupError):
    pass


def default_grid(points: int = 15, start_exp: float = -2.0, per_decade: int = 6) -> list[float]:
    return [round(10 ** (start_exp + k / per_decade), 6) for k in range(points)]


def cache_path(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "base_lr.json"


def cache_key(dataset: str, protocol: Protocol) -> str:
    return f"{dataset}|{protocol.fingerprint}"


def read_cache(cache_dir: str | Path | None = None) -> dict[str, dict]:
    path = cache_path(cache_dir)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"base-LR cache {path} is not valid JSON ({exc}); delete it and rerun "
                         "`rebench base-lr`") from None


def write_cache(entry: dict, dataset: str, protocol: Protocol, cache_dir: str | Path | None = None) -> Path:
    path = cache_path(cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = read_cache(cache_dir)
    data[cache_key(dataset, protocol)] = entry
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)  # atomic: concurrent readers see the old or the new file
    return path


def resolve_base_lr(dataset: str, protocol: Protocol, explicit: float | None = None,
                    cache_dir: str | Path | None = None) -> tuple[float, str]:
    """(base LR, where it came from: explicit | cache | builtin)."""
    if explicit is not None:
        return float(explicit), "explicit"
    entry = read_cache(cache_dir).get(cache_key(dataset, protocol))
    if entry is not None:
        return float(entry["base_lr"]), "cache"
    if dataset in NB201_BASE_LRS:
        return NB201_BASE_LRS[dataset], "builtin"
    raise NoBaseLR(f"base_lr: none known for dataset {dataset!r} under protocol {protocol.key}; run "
                   f"`rebench base-lr --dataset {dataset} --protocol {protocol.name} --data-root PATH` "
                   f"(cached in {cache_path(cache_dir)}) or pass base_lr explicitly (--base-lr)")


def pick_base_lr(losses: dict[float, float]) -> float:
    """The largest LR whose final training loss equals the smallest finite one."""
    finite = {lr: loss for lr, loss in losses.items() if math.isfinite(loss)}
    if not finite:
        raise ValueError("every grid LR diverged (non-finite loss); lower the grid (--grid-start)")
    best = min(finite.values())
    return max(lr for lr, loss in finite.items() if loss == best)


@dataclass
class BaseLRSearch:
    dataset: str
    protocol: str
    protocol_fingerprint: str
    base_lr: float
    grid: list[float]
    losses: dict[str, float]  # str(lr) -> final training loss
    seed: int
    data_source: str
    date: str
    code_version: str


def search_base_lr(dataset: str, protocol: Protocol, data_root: str | Path, *, grid: list[float] | None = None,
                   seed: int = 777, device: str = "auto", cache_dir: str | Path | None = None,
                   write: bool = True, on_point: Callable[[float, float], None] | None = None,
                   **spec_overrides) -> BaseLRSearch:
    """Train the base cell one epoch per grid LR (scaling arch-aware, so init matches the targets)."""
    from .engine import train_run
    from .provenance import code_version
    from .spec import RunSpec

    grid = sorted(grid or default_grid())
    base = RunSpec(arch=NB201_BASE_CELL, dataset=dataset, scaling="arch-aware", protocol=protocol.name,
                   seed=seed, data_root=data_root, device=device, epochs=1, cache_dir=cache_dir, **spec_overrides)
    losses: dict[float, float] = {}
    source = ""
    for lr in grid:
        result = train_run(replace(base, base_lr=lr))
        losses[lr] = result.epochs[-1]["train_loss"]
        source = result.provenance.get("data_source", "")
        if on_point:
            on_point(lr, losses[lr])
    found = BaseLRSearch(dataset, protocol.key, protocol.fingerprint, pick_base_lr(losses), grid,
                         {str(k): v for k, v in losses.items()}, seed, source,
                         _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), code_version())
    if write:
        write_cache(found.__dict__, dataset, protocol, cache_dir)
    return found
