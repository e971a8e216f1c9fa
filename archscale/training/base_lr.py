"""The 1-epoch LR grid search (paper §4 step 1), and where a run's base LR comes from.

``search_lr_grid`` trains one cell for one epoch of the protocol at every LR of a grid, the
LRs side by side as replicas of one network (``replicas.py``: the same init, batches and
crop/flip draws as serial runs with the same seed). ``search_base_lr`` does that on the base
cell (``NB201_BASE_CELL``, S = 1) for each seed and combines the seeds as
``archscale.base_lrs`` says (mean loss per LR, largest LR at the minimum). The init is the
recipe's (the scaling's), so the base LR belongs to that recipe.

``resolve_base_lr`` (the standalone ``rebench train``; the service reads its table instead):
an explicit value > the local cache written by ``rebench base-lr`` (``<cache dir>/base_lr.json``,
keyed ``dataset|recipe|protocol``) > the shipped reference entries > NoBaseLR naming the command.

Grid: 10^(-1.5 + k/6), k = 0..11 (0.0316 ... 2.15, six points per decade; the released 0.46 =
10^(-1/3) is on it): twelve LRs, from well below to well above the released value.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from pathlib import Path
from typing import Callable

import torch

from archscale.base_lrs import (CRITERION, SEED_COMBINATION, BaseLREntry, NoBaseLR, fix_command, lookup_reference,
                                pick_base_lr)
from archscale.datasets import get_dataset
from archscale.protocols import Protocol
from archscale.scaling import NB201_BASE_CELL
from archscale.space import Cell

from .datafiles import default_cache_dir

__all__ = ["search_replicas", "default_grid", "cache_path", "read_cache", "write_cache", "resolve_base_lr", "search_lr_grid",
           "search_base_lr", "NoBaseLR", "INIT_SCALING"]

#: The scaling whose init the base cell gets when searching a recipe's base LR.
INIT_SCALING = {"arch-aware": "arch-aware", "arch-aware-derived": "arch-aware-derived", "standard-tuned": "standard",
                "per-arch-searched": "per-arch-searched"}  # the released init, no S needed (degenerate cells too)


def search_replicas(device: torch.device) -> int | None:
    """LRs per pass: all on a GPU; one on a CPU, where a grouped conv of K replicas runs no faster
    than K plain convs (docs/benchmarks.md, "LR search")."""
    return None if device.type == "cuda" else 1


def default_grid(points: int = 12, start_exp: float = -1.5, per_decade: int = 6) -> list[float]:
    return [round(10 ** (start_exp + k / per_decade), 6) for k in range(points)]


def cache_path(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "base_lr.json"


def read_cache(cache_dir: str | Path | None = None) -> dict[str, dict]:
    path = cache_path(cache_dir)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"base-LR cache {path} is not valid JSON ({exc}); delete it and rerun "
                         "`rebench base-lr`") from None


def write_cache(entry: BaseLREntry, cache_dir: str | Path | None = None) -> Path:
    path = cache_path(cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = read_cache(cache_dir)
    data["|".join(entry.key)] = entry.as_dict()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)  # atomic: concurrent readers see the old or the new file
    return path


def resolve_base_lr(dataset: str, protocol: Protocol, explicit: float | None = None,
                    cache_dir: str | Path | None = None, recipe: str = "arch-aware") -> tuple[float, str]:
    """(base LR, where it came from: explicit | cache | reference:<origin>)."""
    if explicit is not None:
        return float(explicit), "explicit"
    entry = read_cache(cache_dir).get(f"{dataset}|{recipe}|{protocol.name}")
    if entry is not None:
        return float(entry["value"]), "cache"
    try:
        found = lookup_reference(dataset, recipe, protocol.name)
    except NoBaseLR:
        raise NoBaseLR(f"base_lr: none known for dataset {dataset!r}, recipe {recipe!r}, protocol {protocol.key}; "
                       f"run `{fix_command(dataset, recipe, protocol.name)} --data-root PATH` or pass --base-lr"
                       ) from None
    return found.value, f"reference:{found.origin}"


def search_lr_grid(cell: Cell, scaling: str, dataset: str, protocol: Protocol, data_root: str | Path | None = None,
                   grid: list[float] | None = None, seed: int = 777, *, device: str = "auto",
                   cache_dir: str | Path | None = None, max_replicas: int | None = None,
                   setting=None, train_subset: int | None = None,
                   on_chunk: Callable[[list[float], list[float]], None] | None = None) -> list[float]:
    """Mean training loss of one epoch at each grid LR (NaN: diverged), for one seed."""
    from .augment import Normalizer
    from .engine import DeviceData
    from .provenance import pick_device
    from .replicas import ReplicaSGD, stack_replicas, train_epoch_replicas
    from .scalings import prepare
    from .settings import load_setting

    grid = list(grid or default_grid())
    spec, dev = get_dataset(dataset), pick_device(device)
    if setting is None:
        setting = load_setting(dataset, data_root, cache_dir=cache_dir,
                               train_subset=train_subset or protocol.train_subset, eval_subset=1)
    train = DeviceData.of(setting.train, dev)
    norm = Normalizer(spec.mean, spec.std, dev, channels_last=True)
    chunk = max_replicas or search_replicas(dev) or len(grid)
    losses: list[float] = []
    for start in range(0, len(grid), chunk):
        lrs = grid[start:start + chunk]
        torch.manual_seed(seed)  # every replica starts from the init a serial run with this seed gets
        template = prepare(INIT_SCALING[scaling], cell, spec.num_classes, protocol, base_lr=1.0).model
        model = stack_replicas(template, len(lrs)).to(dev, memory_format=torch.channels_last)
        opt = ReplicaSGD(model, lrs, protocol.momentum, protocol.nesterov, protocol.weight_decay)
        generator = torch.Generator(device=dev)
        generator.manual_seed(seed)  # the same batches and crop/flip draws for every chunk
        chunk_losses = train_epoch_replicas(model, opt, train.images, train.labels, spec, protocol.batch_size,
                                            norm, generator)
        losses += chunk_losses
        if on_chunk:
            on_chunk(lrs, chunk_losses)
    return losses


def search_base_lr(dataset: str, recipe: str, protocol: Protocol, data_root: str | Path, *,
                   seeds: list[int] | tuple[int, ...] = (777, 888, 999), grid: list[float] | None = None,
                   device: str = "auto", cache_dir: str | Path | None = None, max_replicas: int | None = None,
                   on_seed: Callable[[int, list[float]], None] | None = None,
                   on_chunk: Callable[[list[float], list[float]], None] | None = None) -> BaseLREntry:
    """Paper §4 step 1 on the base cell under ``recipe``'s init, one 1-epoch run per (LR, seed)."""
    from .provenance import code_version, hardware, pick_device
    from .settings import load_setting

    if recipe not in INIT_SCALING or recipe == "per-arch-searched":
        raise ValueError(f"recipe: {recipe!r} has no base LR; use one of arch-aware, arch-aware-derived, "
                         "standard-tuned")
    order = list(grid or default_grid())  # run order as given (most informative LRs first, if cut short)
    grid = sorted(order)
    t0 = time.perf_counter()
    setting = load_setting(dataset, data_root, cache_dir=cache_dir, train_subset=protocol.train_subset, eval_subset=1)
    losses: dict[str, list[float]] = {}
    for seed in seeds:
        ran = search_lr_grid(NB201_BASE_CELL, recipe, dataset, protocol, grid=order, seed=seed, device=device,
                             max_replicas=max_replicas, setting=setting, on_chunk=on_chunk)
        by_lr = dict(zip(order, ran))
        losses[str(seed)] = [by_lr[lr] for lr in grid]
        if on_seed:
            on_seed(seed, losses[str(seed)])
    hw = hardware(pick_device(device))
    return BaseLREntry(
        dataset=dataset, recipe=recipe, protocol=protocol.name, protocol_key=protocol.key,
        value=pick_base_lr(grid, losses), origin="searched", grid=grid, losses=losses, seeds=list(seeds),
        criterion=f"{CRITERION}; seeds: {SEED_COMBINATION}", code_version=code_version(),
        hardware=json.dumps(hw, sort_keys=True),
        created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        note=f"base cell {NB201_BASE_CELL.index}, 1 epoch per LR, {len(setting.train)} training images "
             f"({setting.source}), threads {torch.get_num_threads()}",
        extra={"protocol_fingerprint": protocol.fingerprint, "seconds": round(time.perf_counter() - t0, 1),
               "data_source": setting.source,
               "max_replicas": max_replicas or search_replicas(pick_device(device)) or len(grid)})
