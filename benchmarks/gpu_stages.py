"""The training stages of ``benchmarks/gpu_suite.py``: parity, throughput, one full run, a sweep.

Each stage takes a :class:`Ctx` (device, data, caps) and returns a dict of numbers plus a
``note``; the driver times it, catches failures and writes the report. Every stage runs the
same code on CPU under ``--tiny`` (smaller sizes, stated in the result), so CI exercises it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from archscale.datasets import get_dataset
from archscale.protocols import get_protocol
from archscale.space import resolve_arch
from archscale.training.augment import Normalizer, crop_flip, sample_crop_flip
from archscale.training.datafiles import ImageArrays
from archscale.training.engine import DeviceData, train_epoch
from archscale.training.scalings import prepare

__all__ = ["Ctx", "kendall_tau", "stage_parity", "stage_throughput", "stage_full_run", "stage_sweep",
           "BF16_TOL", "COMPILE_TOL", "FP32_TOL"]

FP32_TOL = 1e-3  # max relative difference of per-step losses, CPU vs device, 20 steps (the bound)
BF16_TOL = 0.05  # max relative difference of 20-step windowed mean losses, bf16 autocast vs fp32
COMPILE_TOL = 0.02  # the same for torch.compile vs eager (fp32: only summation order differs)


@dataclass
class Ctx:
    device: torch.device
    tiny: bool
    train: ImageArrays
    test: ImageArrays
    data_root: Path
    cache_dir: Path
    out_dir: Path
    nb201_acc: dict[int, float] = field(default_factory=dict)  # cifar10 test acc, NB201 seed-mean
    cell: int = 0  # the median cell by FLOPs
    deadline: float = math.inf  # this stage's hard end (monotonic clock)
    compile_backend: str = "inductor"

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b (ties in either list handled), O(n^2): n is a few dozen here."""
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b))
    return (concordant - discordant) / denom if denom else float("nan")


def _model(cell: int, seed: int, C: int = 16, N: int = 5):
    """The NB201 network and its SGD (NB201's standard recipe), seeded: same seed, same weights."""
    import dataclasses

    torch.manual_seed(seed)
    protocol = dataclasses.replace(get_protocol("nb201-200"), C=C, N=N)
    prepared = prepare("standard", resolve_arch(cell), 10, protocol)
    return prepared.model, prepared.optimizer


def _fixed_batches(ctx: Ctx, steps: int, batch: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Augmented, normalised batches drawn once on the CPU, so every path sees the same inputs."""
    spec = get_dataset("cifar10")
    gen = torch.Generator().manual_seed(seed)
    images, labels = torch.from_numpy(ctx.train.images), torch.from_numpy(ctx.train.labels)
    norm = Normalizer(spec.mean, spec.std, torch.device("cpu"), channels_last=False)
    out = []
    for _ in range(steps):
        idx = torch.randint(0, len(labels), (batch,), generator=gen)
        out.append((norm(crop_flip(images[idx], spec.pad, sample_crop_flip(batch, spec.pad, gen))), labels[idx]))
    return out


def _losses(model, optimizer, batches, device: torch.device, *, channels_last: bool, bf16: bool = False,
            forward: Callable | None = None, deadline: float = math.inf) -> list[float]:
    model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    forward = model if forward is None else forward
    model.train()
    losses = []
    for x, y in batches:
        if time.monotonic() > deadline:
            break
        x = x.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = forward(x)
        loss = F.cross_entropy(logits.float(), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return [float(v) for v in torch.stack(losses).cpu()] if losses else []


def _windowed(values: list[float], window: int) -> list[float]:
    return [float(np.mean(values[i:i + window])) for i in range(0, len(values) - window + 1, window)]


def _curve_gap(a: list[float], b: list[float], window: int) -> float | None:
    """None when the stage cap cut the curves shorter than one window (reported, not passed)."""
    wa, wb = _windowed(a, window), _windowed(b, window)
    return max(abs(x - y) / abs(y) for x, y in zip(wa, wb)) if wa and wb else None


def stage_parity(ctx: Ctx) -> dict[str, Any]:
    """fp32: 20 steps on the CPU (reference layout) and on the device (fast path). bf16 autocast
    and torch.compile: loss curves over 200 steps against fp32 eager on the device."""
    batch, steps, curve_steps, window = (8, 5, 5, 5) if ctx.tiny else (256, 20, 200, 20)
    C, N = (4, 1) if ctx.tiny else (16, 5)
    torch.backends.cudnn.allow_tf32 = False  # fp32 parity means fp32 arithmetic: no TF32 matmuls/convs
    torch.backends.cuda.matmul.allow_tf32 = False
    batches = _fixed_batches(ctx, max(steps, curve_steps), batch, seed=1)
    ref = _losses(*_model(ctx.cell, 777, C, N), batches[:steps], torch.device("cpu"), channels_last=False)
    fast = _losses(*_model(ctx.cell, 777, C, N), batches[:steps], ctx.device, channels_last=True)
    # The noise floor: the same CPU run in the other memory layout (only summation order changes).
    # SGD amplifies rounding differences step by step; this says how much of the gap is that.
    floor = _losses(*_model(ctx.cell, 777, C, N), batches[:steps], torch.device("cpu"), channels_last=True)
    rels = [abs(a - b) / abs(b) for a, b in zip(fast, ref)]
    rel = max(rels)
    out: dict[str, Any] = {"fp32": {"steps": steps, "batch": batch, "C": C, "N": N, "max_rel_diff": rel,
                                    "first_step_rel_diff": rels[0], "per_step_rel_diff": rels,
                                    "cpu_layout_floor_max_rel_diff": max(abs(a - b) / abs(b) for a, b in zip(floor, ref)),
                                    "tolerance": FP32_TOL, "pass": rel <= FP32_TOL, "cpu_losses": ref,
                                    "device_losses": fast}}
    base = _losses(*_model(ctx.cell, 778, C, N), batches[:curve_steps], ctx.device, channels_last=True,
                   deadline=ctx.deadline)
    bf16 = _losses(*_model(ctx.cell, 778, C, N), batches[:len(base)], ctx.device, channels_last=True, bf16=True,
                   deadline=ctx.deadline)
    gap = _curve_gap(bf16, base[:len(bf16)], window)
    out["bf16"] = {"steps": len(bf16), "window": window, "max_window_rel_diff": gap, "tolerance": BF16_TOL,
                   "pass": gap is not None and gap <= BF16_TOL, "final_window": _windowed(bf16, window)[-1:],
                   "fp32_final_window": _windowed(base, window)[-1:]}
    model, opt = _model(ctx.cell, 778, C, N)
    model.to(ctx.device, memory_format=torch.channels_last)
    compiled = torch.compile(model, backend=ctx.compile_backend)
    t0 = time.perf_counter()
    comp = _losses(model, opt, batches[:len(base)], ctx.device, channels_last=True, forward=compiled,
                   deadline=ctx.deadline)
    gap = _curve_gap(comp, base[:len(comp)], window)
    out["compile"] = {"backend": ctx.compile_backend, "steps": len(comp), "window": window,
                      "max_window_rel_diff": gap, "tolerance": COMPILE_TOL,
                      "pass": gap is not None and gap <= COMPILE_TOL,
                      "seconds_incl_compile": time.perf_counter() - t0}
    out["note"] = ("TF32 off for all parity runs; curves compare 20-step (tiny: 5-step) windowed means on the same "
                   "inputs and initial weights")
    return out


def _ours_img_s(ctx: Ctx, batch: int, seconds: float, bf16: bool, compile_mode: str | None = "off") -> float:
    """Our train step's img/s; ``compile_mode`` other than "off": the model under torch.compile with
    that mode (None: default; "reduce-overhead": CUDA graphs, which cut per-kernel launch cost)."""
    spec = get_dataset("cifar10")
    model, opt = _model(ctx.cell, 0, *((4, 1) if ctx.tiny else (16, 5)))
    model.to(ctx.device, memory_format=torch.channels_last)
    if compile_mode != "off":
        model = torch.compile(model, backend=ctx.compile_backend,
                              **({"mode": compile_mode} if ctx.compile_backend == "inductor" else {}))
    steps = 2 if ctx.tiny else 40
    n = min(len(ctx.train), batch * steps)
    data = DeviceData(torch.from_numpy(ctx.train.images[:n]).to(ctx.device),
                      torch.from_numpy(ctx.train.labels[:n]).to(ctx.device))
    norm, gen = Normalizer(spec.mean, spec.std, ctx.device), torch.Generator(device=ctx.device).manual_seed(0)
    train_epoch(model, opt, data, spec, batch, norm, gen, bf16)  # warm-up: cudnn autotune, allocator
    t0, seen = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        train_epoch(model, opt, data, spec, batch, norm, gen, bf16)  # ends with .item(): synchronised
        seen += n
    return seen / (time.perf_counter() - t0)


def stage_throughput(ctx: Ctx) -> dict[str, Any]:
    from reference_pipeline import reference_img_s

    batch = 16 if ctx.tiny else 256
    seconds = 0.2 if ctx.tiny else max(5.0, min(15.0, ctx.left() / 4))
    workers = 0 if ctx.tiny else 8
    ours = _ours_img_s(ctx, batch, seconds, bf16=False)
    ours_bf16 = _ours_img_s(ctx, batch, seconds, bf16=True)
    ref, used = reference_img_s(ctx, batch, seconds, workers)
    # torch.compile variants (not the protocol's default path; measured to decide whether to make them
    # one): 39,200 steps in 90 s leaves ~2.3 ms a step, near the launch cost of ~600 small kernels.
    compiled: dict[str, Any] = {}
    for mode in (None, "reduce-overhead") if ctx.device.type == "cuda" else (None,):
        if ctx.left() < (20 if not ctx.tiny else 2):
            compiled[str(mode)] = "skipped: stage cap"
            continue
        try:
            compiled[str(mode)] = _ours_img_s(ctx, batch, seconds, bf16=False, compile_mode=mode)
        except Exception as exc:  # a compile failure is a finding, not a crash of the stage
            compiled[str(mode)] = f"failed: {type(exc).__name__}: {exc}"[:300]
    return {"cell": ctx.cell, "batch": batch, "seconds_each": seconds, "ours_fp32_img_s": ours,
            "ours_bf16_img_s": ours_bf16, "ours_compiled_fp32_img_s": compiled, "reference_img_s": ref,
            "ratio_fp32": ours / ref, "target_ratio": 5.0, "reference": used, "reference_workers": workers,
            "note": "ours: device-resident uint8 data, batched crop/flip on the device, channels_last, no sync per "
                    "step; reference: per-image transforms in a DataLoader, NB201's loop (loss.item() per step)"}


def stage_full_run(ctx: Ctx) -> dict[str, Any]:
    """The median cell, nb201-200 on CIFAR-10 (smoke protocol, 1 epoch, under --tiny); stopped early
    (projection reported) when the stage cap would be passed."""
    from archscale.training import Cancelled, RunSpec, train_run

    protocol = "smoke" if ctx.tiny else "nb201-200"
    spec = RunSpec(arch=ctx.cell, dataset="cifar10", scaling="standard", protocol=protocol, seed=777,
                   data_root=ctx.data_root, cache_dir=ctx.cache_dir, device=ctx.device.type, fast=True,
                   epochs=1 if ctx.tiny else None)
    epochs: list[dict] = []
    t0 = time.perf_counter()

    def on_epoch(m) -> None:
        epochs.append({"epoch": m.epoch, "seconds": m.seconds, "acc": m.eval["test"]["acc"], "img_s":
                       m.images_per_second})
        mean = (time.perf_counter() - t0) / m.epoch
        if m.epoch < m.epochs and ctx.left() < 1.5 * mean:
            raise Cancelled

    try:
        result = train_run(spec, on_epoch=on_epoch)
        wall, acc, complete = result.wall_seconds, result.final["test"]["acc"], True
    except Cancelled:
        wall, acc, complete = time.perf_counter() - t0, epochs[-1]["acc"], False
    total = get_protocol(protocol).epochs if not ctx.tiny else 1
    per_epoch = [e["seconds"] for e in epochs[1:]] or [e["seconds"] for e in epochs]
    return {"cell": ctx.cell, "protocol": protocol, "epochs_done": len(epochs), "epochs": total, "complete": complete,
            "wall_s": wall, "projected_wall_s": wall if complete else wall + float(np.median(per_epoch)) * (
                total - len(epochs)), "target_wall_s": 90.0, "test_acc": acc,
            "nb201_test_acc": ctx.nb201_acc.get(ctx.cell), "curve": epochs,
            "note": "standard scaling (NB201's recipe) so the accuracy compares with NB201's; wall includes "
                    "per-epoch evaluation and data loading"}


def stage_sweep(ctx: Ctx, cells: list[int]) -> dict[str, Any]:
    """nb201-12 (smoke, 1 epoch, under --tiny) for each cell under arch-aware and standard, cells
    in order until the cap; Kendall tau over the cells that finished both."""
    from archscale.training import RunSpec, train_run

    protocol, epochs = ("smoke", 1) if ctx.tiny else ("nb201-12", None)
    rows = []
    for cell in cells:
        row: dict[str, Any] = {"cell": cell, "nb201": ctx.nb201_acc.get(cell)}
        for scaling in ("arch-aware", "standard"):
            if ctx.left() < (rows[-1]["seconds"] * 1.2 if rows else 0):
                break
            t0 = time.perf_counter()
            result = train_run(RunSpec(arch=cell, dataset="cifar10", scaling=scaling, protocol=protocol, seed=777,
                                       data_root=ctx.data_root, cache_dir=ctx.cache_dir, device=ctx.device.type,
                                       epochs=epochs))
            row[scaling] = result.final["test"]["acc"]
            row["seconds"] = row.get("seconds", 0.0) + time.perf_counter() - t0
        if "standard" not in row:
            break
        rows.append(row)
    aa, st = [r["arch-aware"] for r in rows], [r["standard"] for r in rows]
    nb = [r["nb201"] for r in rows]
    enough = len(rows) >= 3
    return {"protocol": protocol, "cells_planned": len(cells), "cells_done": len(rows), "rows": rows,
            "tau_arch_aware_vs_standard": kendall_tau(aa, st) if enough else None,
            "tau_standard_vs_nb201": kendall_tau(st, nb) if enough and None not in nb else None,
            "tau_arch_aware_vs_nb201": kendall_tau(aa, nb) if enough and None not in nb else None,
            "note": "seed 777 only: a first look, not a result (NB201's own seed-to-seed tau is ~0.9)"}

