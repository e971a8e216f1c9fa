"""LR-search throughput on the base cell: serial runs vs replicas, 2 threads vs 1, on a loaded CPU.

The 1-epoch base-LR search trains the base cell (index 25: three skips, no cell conv; C=16, N=5,
batch 256) once per grid LR. Variants, in alternating rounds so that load from other processes
hits all alike:

- ``serial-2t``: ``engine.train_epoch`` (the training engine), torch's default 2 threads;
- ``serial-1t``: the same with ``torch.set_num_threads(1)``;
- ``replicas-K-1t``: K LRs side by side (``replicas.py``: one grouped-conv network, shared batches), 1 thread.

Each round reports wall-clock LR-images/s (images x LRs per second: what the search waits for) and
LR-images per CPU-second of this process (what it costs, independent of how the OS shares a
loaded machine). Random uint8 images: throughput does not depend on pixel values.

    .venv/bin/python benchmarks/lr_search_throughput.py --rounds 3 --steps 4 --json lr_search.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path

import torch

from archscale.datasets import get_dataset
from archscale.protocols import get_protocol
from archscale.scaling import NB201_BASE_CELL
from archscale.training.augment import Normalizer
from archscale.training.engine import DeviceData, train_epoch
from archscale.training.provenance import git_revision, hardware
from archscale.training.replicas import ReplicaSGD, stack_replicas, train_epoch_replicas
from archscale.training.scalings import prepare


def _round(variant: str, data: DeviceData, steps: int, k: int) -> tuple[float, float]:
    spec, protocol = get_dataset("cifar10"), get_protocol("nb201-200")
    torch.set_num_threads(2 if variant == "serial-2t" else 1)
    norm = Normalizer(spec.mean, spec.std, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    prepared = prepare("arch-aware", NB201_BASE_CELL, 10, protocol, base_lr=0.46)
    n = protocol.batch_size * steps
    images, labels = data.images[:n], data.labels[:n]
    if variant.startswith("serial"):
        model = prepared.model.to(memory_format=torch.channels_last)
        run = lambda: train_epoch(model, prepared.optimizer, DeviceData(images, labels), spec,  # noqa: E731
                                  protocol.batch_size, norm, gen, False)
        lrs = 1
    else:
        model = stack_replicas(prepared.model, k).to(memory_format=torch.channels_last)
        opt = ReplicaSGD(model, [0.46] * k, protocol.momentum, protocol.nesterov, protocol.weight_decay)
        run = lambda: train_epoch_replicas(model, opt, images, labels, spec, protocol.batch_size, norm, gen)  # noqa
        lrs = k
    run()  # warm-up (allocator, oneDNN primitives)
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n * lrs / wall, n * lrs / cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4, help="batches of 256 per timed pass")
    ap.add_argument("--k", type=int, default=12, help="replicas (LRs) per pass")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(0)
    n = 256 * args.steps
    data = DeviceData(torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=gen),
                      torch.randint(0, 10, (n,), generator=gen))
    variants = ["serial-2t", "serial-1t", f"replicas-{args.k}-1t"]
    results: dict[str, dict[str, list[float]]] = {v: {"wall": [], "cpu": []} for v in variants}
    for r in range(args.rounds):
        for v in variants:
            wall, cpu = _round(v, data, args.steps, args.k)
            results[v]["wall"].append(wall)
            results[v]["cpu"].append(cpu)
            print(f"round {r + 1} {v:>16}: {wall:7.0f} LR-img/s wall, {cpu:7.0f} LR-img per CPU-s", flush=True)
    summary = {v: {"median_wall_lr_img_s": statistics.median(x["wall"]),
                   "median_lr_img_per_cpu_s": statistics.median(x["cpu"]), **x} for v, x in results.items()}
    for v, s in summary.items():
        print(f"{v:>16}: median {s['median_wall_lr_img_s']:.0f} LR-img/s wall, "
              f"{s['median_lr_img_per_cpu_s']:.0f} per CPU-s")
    if args.json:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        args.json.write_text(json.dumps({"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                         "git": git_revision(), "hardware": hardware(torch.device("cpu")),
                                         "loadavg_after": load, "args": vars(args) | {"json": str(args.json)},
                                         "results": summary}, indent=2))


if __name__ == "__main__":
    main()
