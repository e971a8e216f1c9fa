"""Packing runs on one device: aggregate training img/s with k = 1, 2, 4, 8 concurrent runs.

A small NB201 net (C=16, N=5, batch 256) leaves most of an H100 idle, so the worker can run
several trainings per GPU (``rebench worker --per-gpu K``, one process each). This script
measures what that buys: for each k it starts k processes, each builds the full-size network
for one cell with our engine's train step (uint8 data resident on the device, batched
crop/flip, channels_last), waits at a barrier, then trains for ``--seconds`` and counts images.
Aggregate img/s = all images / the wall time of the slowest process. Data are random uint8
images (throughput does not depend on pixel values; no dataset download on the GPU box).

    python benchmarks/gpu_packing.py --device cuda --ks 1 2 4 8 --json packing.json
    python benchmarks/gpu_packing.py --device cpu --C 4 --N 1 --batch 64 --ks 1 2 --seconds 5   # smoke check

The target (issue 5) is >= 3x aggregate at the chosen k over k = 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import multiprocessing as mp
import os
import queue
import statistics
import time
from pathlib import Path


def _one_process(rank: int, args: argparse.Namespace, barrier, results) -> None:
    # torch is imported in the child only: the parent never creates a CUDA context (spawn).
    import torch

    from archscale.datasets import get_dataset
    from archscale.protocols import get_protocol
    from archscale.scaling import NB201_BASE_LRS
    from archscale.space import resolve_arch
    from archscale.training.augment import Normalizer
    from archscale.training.engine import DeviceData, train_epoch
    from archscale.training.scalings import prepare

    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.k))
    base = get_protocol("nb201-200")
    protocol = dataclasses.replace(base, C=args.C, N=args.N)
    spec = get_dataset("cifar10")
    base_lr = NB201_BASE_LRS["cifar10"] if args.scaling == "arch-aware" else None
    prepared = prepare(args.scaling, resolve_arch(args.cell), 10, protocol, base_lr)
    model = prepared.model.to(device=device, memory_format=torch.channels_last)
    gen = torch.Generator(device=device).manual_seed(rank)
    n = args.batch * args.steps_per_chunk
    images = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=gen, device=device)
    labels = torch.randint(0, 10, (n,), generator=gen, device=device)
    data, norm = DeviceData(images, labels), Normalizer(spec.mean, spec.std, device)
    autocast = args.precision == "bf16"
    train_epoch(model, prepared.optimizer, data, spec, args.batch, norm, gen, autocast)  # warm-up
    barrier.wait()
    t0, seen = time.perf_counter(), 0
    while time.perf_counter() - t0 < args.seconds:
        train_epoch(model, prepared.optimizer, data, spec, args.batch, norm, gen, autocast)  # ends in .item(): synced
        seen += n
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    results.put({"rank": rank, "images": seen, "seconds": seconds, "peak_gib": peak})


def measure(args: argparse.Namespace, k: int) -> dict:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(k), ctx.Queue()
    child_args = argparse.Namespace(**{**vars(args), "k": k})
    procs = [ctx.Process(target=_one_process, args=(r, child_args, barrier, results)) for r in range(k)]
    for p in procs:
        p.start()
    rows, deadline = [], time.monotonic() + args.seconds * 4 + 600
    while len(rows) < k:  # poll, so a child that dies is reported instead of waited for
        try:
            rows.append(results.get(timeout=1.0))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                raise SystemExit(f"k={k}: a training process failed (exit codes {dead}) or timed out")
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"k={k}: a training process exited with {p.exitcode}")
    wall = max(r["seconds"] for r in rows)
    total = sum(r["images"] for r in rows)
    return {"k": k, "aggregate_img_s": total / wall, "per_run_img_s": [r["images"] / r["seconds"] for r in rows],
            "peak_gib_per_run": [r["peak_gib"] for r in rows]}


def _hardware(device: str) -> dict:
    import torch

    from archscale.training.provenance import git_revision, hardware

    return {"torch": torch.__version__, "hardware": hardware(torch.device(device)), "git": git_revision()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (one GPU: set CUDA_VISIBLE_DEVICES) or cpu")
    ap.add_argument("--cell", default="6111", help="index or cell string (default: NB201's best cell)")
    ap.add_argument("--scaling", default="arch-aware")
    ap.add_argument("--C", type=int, default=16)
    ap.add_argument("--N", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps-per-chunk", type=int, default=20, help="steps between synchronisations")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--seconds", type=float, default=30.0, help="timed seconds per k")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    rows = []
    for k in args.ks:
        row = measure(args, k)
        rows.append(row)
        speedup = row["aggregate_img_s"] / rows[0]["aggregate_img_s"]
        peaks = [p for p in row["peak_gib_per_run"] if p is not None]
        mem = f", peak {max(peaks):.2f} GiB/run" if peaks else ""
        print(f"k={k}: aggregate {row['aggregate_img_s']:.0f} img/s ({speedup:.2f}x k={rows[0]['k']}), "
              f"per run median {statistics.median(row['per_run_img_s']):.0f} img/s{mem}", flush=True)
    report = {"date": dt.date.today().isoformat(), "args": vars(args) | {"json": None}, "rows": rows,
              **_hardware(args.device)}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
