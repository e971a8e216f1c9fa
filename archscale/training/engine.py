"""``train_run``: one NB201 cell trained under one protocol and scaling, read top to bottom.

1. validate the spec, resolve the LR, load the setting, compute the fingerprint;
2. seed, build + initialise the model (the scaling), optimizer, cosine schedule per epoch;
3. resume from ``checkpoint_dir/latest.pt`` when it is there (same fingerprint only);
4. per epoch: shuffle, batched crop/flip/normalise on the data's device, SGD steps (the last
   partial batch kept), eval on every split, checkpoint, then ``on_epoch`` (may raise Cancelled).

Fast path (``fast=True``): the dataset lives on the device as uint8, channels_last, cudnn
autotune, no host sync inside an epoch (losses and hits accumulate on the device). Optional:
bf16 autocast (``precision='bf16'``), ``torch.compile`` (``compile=True``), both off by default.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from archscale.datasets import DatasetSpec, get_dataset
from archscale.protocols import get_protocol, run_fingerprint, run_key
from archscale.space import format_arch, index_of

from .augment import Normalizer, crop_flip, sample_crop_flip
from archscale.base_lrs import CRITERION, pick_base_lr
from archscale.recipes import get_recipe

from .base_lr import default_grid, resolve_base_lr, search_lr_grid, search_replicas
from .checkpoint import TrainState, load_checkpoint, save_checkpoint
from .datafiles import ImageArrays
from .provenance import code_version, pick_device, provenance
from .scalings import BASE_LR_SCALINGS, RECIPE_SCALINGS, check_not_degenerate, prepare
from .settings import load_setting
from .spec import EpochMetrics, RunSpec, TrainResult

__all__ = ["train_run", "cosine_factor", "DeviceData", "evaluate", "train_epoch"]

EVAL_BATCH = 1024


def cosine_factor(epoch: int, epochs: int) -> float:
    """NB201's schedule: LR(e) = LR * (1 + cos(pi * e / epochs)) / 2 for epoch e = 0..epochs-1."""
    return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


@dataclass
class DeviceData:
    images: torch.Tensor  # uint8 (N, H, W, 3) on the device
    labels: torch.Tensor  # int64 (N,)

    @classmethod
    def of(cls, arrays: ImageArrays, device: torch.device) -> DeviceData:
        return cls(torch.from_numpy(arrays.images).to(device), torch.from_numpy(arrays.labels).to(device))

    def __len__(self) -> int:
        return len(self.labels)


def train_epoch(model, optimizer, data: DeviceData, spec: DatasetSpec, batch_size: int, norm: Normalizer,
                generator: torch.Generator, autocast: bool, on_step: Callable[[int, int], None] | None = None
                ) -> tuple[float, float]:
    """One pass over ``data`` in a fresh random order; returns (mean loss, accuracy %)."""
    model.train()
    n = len(data)
    order = torch.randperm(n, generator=generator, device=generator.device)
    loss_sum = torch.zeros((), device=data.labels.device)
    hits = torch.zeros((), dtype=torch.int64, device=data.labels.device)
    steps = math.ceil(n / batch_size)
    for step in range(steps):
        idx = order[step * batch_size:(step + 1) * batch_size]  # the last partial batch is kept
        crop = sample_crop_flip(len(idx), spec.pad, generator)
        x = norm(crop_flip(data.images[idx], spec.pad, crop))
        y = data.labels[idx]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
        hits += (logits.argmax(1) == y).sum()
        if on_step is not None:
            on_step(step + 1, steps)
    return loss_sum.item() / n, 100.0 * hits.item() / n


@torch.inference_mode()
def evaluate(model, data: DeviceData, norm: Normalizer, autocast: bool) -> dict[str, float]:
    """Mean cross-entropy and true top-1 accuracy (%) over all classes, eval mode, no augmentation."""
    model.eval()
    loss_sum = torch.zeros((), device=data.labels.device)
    hits = torch.zeros((), dtype=torch.int64, device=data.labels.device)
    for start in range(0, len(data), EVAL_BATCH):
        x = norm(data.images[start:start + EVAL_BATCH])
        y = data.labels[start:start + EVAL_BATCH]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
        hits += (logits.argmax(1) == y).sum()
    n = max(len(data), 1)
    return {"loss": loss_sum.item() / n, "acc": 100.0 * hits.item() / n}


def train_run(spec: RunSpec, checkpoint_dir: str | Path | None = None,
              on_epoch: Callable[[EpochMetrics], None] | None = None, *,
              on_step: Callable[[int, int], None] | None = None, splits_dir: str | Path | None = None) -> TrainResult:
    """Train one run; resume from ``checkpoint_dir`` if it holds this run's checkpoint."""
    t_start = time.perf_counter()
    spec = spec.validate()
    cell, protocol, dataset = spec.arch, get_protocol(spec.protocol), get_dataset(spec.dataset)
    epochs = spec.epochs or protocol.epochs
    if spec.scaling in RECIPE_SCALINGS:
        check_not_degenerate(cell)  # before any data is read: the LR rule is undefined for S = 0
    if spec.scaling in BASE_LR_SCALINGS:
        base_lr, lr_source = resolve_base_lr(spec.dataset, protocol, spec.base_lr, spec.cache_dir, spec.scaling)
        if spec.base_lr is not None and spec.base_lr_origin:
            lr_source = spec.base_lr_origin
    else:
        base_lr, lr_source = None, "protocol"
    device = pick_device(spec.device)
    setting = load_setting(spec.dataset, spec.data_root, cache_dir=spec.cache_dir, splits_dir=splits_dir,
                           download=spec.download, train_subset=spec.train_subset or protocol.train_subset,
                           eval_subset=protocol.eval_subset)
    extra = {"arch": index_of(cell), "init_degree": spec.init_degree, "data_source": setting.source,
             "epochs": epochs, "train_subset": spec.train_subset, "compile": spec.compile}
    if spec.scaling in RECIPE_SCALINGS or spec.scaling == "per-arch-searched":
        extra["recipe"] = get_recipe(RECIPE_SCALINGS.get(spec.scaling, "arch-aware")).fingerprint
    lr_search = None
    if spec.scaling == "per-arch-searched":  # the cell's own 1-epoch maximal LR, searched first (seeded)
        grid = default_grid()
        losses = search_lr_grid(cell, spec.scaling, spec.dataset, protocol, grid=grid, seed=spec.seed,
                                device=spec.device, setting=setting, max_replicas=search_replicas(device))
        base_lr, lr_source = pick_base_lr(grid, {str(spec.seed): losses}), "per-arch-search"
        lr_search = {"grid": grid, "losses": [v if math.isfinite(v) else None for v in losses],
                     "seed": spec.seed, "lr": base_lr, "criterion": CRITERION}
        extra["lr_search_grid"] = grid
    hashed = dict(protocol=protocol, scaling=spec.scaling, dataset=spec.dataset, seed=spec.seed, base_lr=base_lr,
                  precision=spec.precision, code_version=code_version(), split=setting.split, extra=extra)
    fingerprint = run_fingerprint(**hashed)
    is_benchmark = protocol.benchmark and spec.train_subset is None and epochs == protocol.epochs

    # -- model, optimizer, schedule: seeded, so a run is a function of its spec -------------
    torch.manual_seed(spec.seed)
    prepared = prepare(spec.scaling, cell, dataset.num_classes, protocol, base_lr, spec.init_degree)
    model, optimizer = prepared.model, prepared.optimizer
    if lr_search is not None:
        prepared.lr_info["search"] = lr_search
    fast_cuda = spec.fast and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = spec.fast
        torch.backends.cudnn.deterministic = not spec.fast
    model.to(device, memory_format=torch.channels_last if spec.fast else torch.contiguous_format)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: cosine_factor(e, epochs))
    forward = torch.compile(model) if spec.compile else model
    generator = torch.Generator(device=device)
    generator.manual_seed(spec.seed)

    train = DeviceData.of(setting.train, device)
    evals = {name: DeviceData.of(arrays, device) for name, arrays in setting.evals.items()}
    norm = Normalizer(dataset.mean, dataset.std, device, channels_last=spec.fast)
    autocast = spec.precision == "bf16"

    state = load_checkpoint(checkpoint_dir, fingerprint)
    history: list[dict] = []
    done, wall_before = 0, 0.0
    if state is not None:
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
        generator.set_state(state.data_rng.to(generator.get_state().device))
        torch.set_rng_state(state.torch_rng)
        if state.cuda_rng is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state.cuda_rng)
        history, done, wall_before = list(state.history), state.epoch, state.wall_seconds
    resumed_from = done
    info = provenance(device, seed=spec.seed, protocol=protocol.key, data_source=setting.source,
                      split=setting.split, fast=spec.fast, fast_cuda=fast_cuda, precision=spec.precision)

    for epoch in range(done, epochs):
        t0 = time.perf_counter()
        lr_now = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train_epoch(forward, optimizer, train, dataset, protocol.batch_size, norm,
                                            generator, autocast, on_step)
        t_train = time.perf_counter() - t0
        scheduler.step()
        results = {name: evaluate(forward, data, norm, autocast) for name, data in evals.items()}
        metrics = EpochMetrics(epoch + 1, epochs, lr_now, train_loss, train_acc, results,
                               time.perf_counter() - t0, len(train) / max(t_train, 1e-9))
        history.append(metrics.to_dict())
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, TrainState(
                fingerprint, epoch + 1, model.state_dict(), optimizer.state_dict(), scheduler.state_dict(),
                generator.get_state(), torch.get_rng_state(),
                torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                history, wall_before + time.perf_counter() - t_start))
        if on_epoch is not None:
            on_epoch(metrics)  # may raise Cancelled: the checkpoint above already holds this epoch

    return TrainResult(
        run_key=run_key(index_of(cell), spec.dataset, spec.scaling, protocol, spec.seed),
        fingerprint=fingerprint, arch_index=index_of(cell), arch_str=format_arch(cell), dataset=spec.dataset,
        scaling=spec.scaling, protocol=protocol.key, seed=spec.seed, lr=prepared.lr, base_lr=base_lr,
        base_lr_source=lr_source, init={**prepared.init, "lr_rule": prepared.lr_info}, epochs=history,
        final=history[-1]["eval"] if history else {},
        wall_seconds=wall_before + time.perf_counter() - t_start,
        provenance=info, benchmark=is_benchmark, resumed_from_epoch=resumed_from,
        fingerprint_fields={**hashed, "protocol": protocol.as_dict()})
