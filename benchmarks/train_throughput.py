"""Training throughput: our engine vs the reference NB201 pipeline, side by side in one process.

Reference: xautodl's TinyNetwork + torchvision per-image transforms (RandomHorizontalFlip,
RandomCrop(32, padding=4), ToTensor, Normalize) on PIL images through a DataLoader with 4
workers, SGD(0.1, momentum 0.9, Nesterov, wd 5e-4), cross-entropy: NB201's recipe.
Ours: ``archscale.training.engine.train_epoch`` (uint8 dataset in memory, batched crop/flip,
channels_last, shared ReLU, no workers), same cell, same batch, same recipe.

Both train the full-size C=16, N=5 network on real CIFAR-10 (the JPEG set, decoded once).
Rounds alternate reference / ours so that load from other processes hits both alike; each
round reports wall-clock img/s (the target) and images per CPU-second (main process plus the
DataLoader workers, from /proc): the second is what each pipeline costs, and does not depend on
how the OS shares a loaded machine between 1 and 5 processes. Needs torchvision, which does not import beside the
local torch 2.13.0 CPU build: run it from the benchmark venv (docs/benchmarks.md):

    .venv-bench/bin/python benchmarks/train_throughput.py --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from archscale.datasets import get_dataset
from archscale.protocols import get_protocol
from archscale.space import format_arch, resolve_arch
from archscale.training.augment import Normalizer
from archscale.training.datafiles import find_cifar10_jpeg, read_cifar10_jpeg
from archscale.training.engine import DeviceData, train_epoch
from archscale.training.provenance import git_revision, hardware
from archscale.training.scalings import prepare


class _PILDataset(torch.utils.data.Dataset):
    """torchvision-CIFAR10-style: uint8 HWC array -> PIL image -> per-image transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def _cpu_seconds(pids: list[int]) -> float:
    """user+sys CPU time of other processes (the DataLoader workers), from /proc."""
    total = 0
    for pid in pids:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def reference_round(cell_str: str, images, labels, batch: int, steps: int, warmup: int,
                    workers: int) -> tuple[float, float]:
    import torchvision.transforms as T
    from xautodl.models.cell_infers.tiny_network import TinyNetwork
    from xautodl.models.cell_searchs.genotypes import Structure

    spec = get_dataset("cifar10")
    transform = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(32, padding=spec.pad), T.ToTensor(),
                           T.Normalize(spec.mean, spec.std)])
    loader = torch.utils.data.DataLoader(_PILDataset(images, labels, transform), batch_size=batch, shuffle=True,
                                         num_workers=workers, drop_last=False, persistent_workers=False)
    model = TinyNetwork(16, 5, Structure.str2structure(cell_str), 10)
    opt = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    it = iter(loader)
    for i in range(warmup + steps):
        if i == warmup:
            pids = [w.pid for w in getattr(it, "_workers", [])]
            t0, c0 = time.perf_counter(), time.process_time() + _cpu_seconds(pids)
        x, y = next(it)
        _features, logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # NB201 logs every step's loss (AverageMeter)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() + _cpu_seconds(pids) - c0
    del it
    return steps * batch / seconds, steps * batch / cpu


def ours_round(cell_str: str, images, labels, batch: int, steps: int, warmup: int) -> tuple[float, float]:
    spec = get_dataset("cifar10")
    prepared = prepare("standard", resolve_arch(cell_str), 10, get_protocol("nb201-200"))
    model = prepared.model.to(memory_format=torch.channels_last)
    norm = Normalizer(spec.mean, spec.std, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    warm = DeviceData(torch.from_numpy(images[:warmup * batch]), torch.from_numpy(labels[:warmup * batch]))
    timed = DeviceData(torch.from_numpy(images[:steps * batch]), torch.from_numpy(labels[:steps * batch]))
    train_epoch(model, prepared.optimizer, warm, spec, batch, norm, gen, autocast=False)
    t0, c0 = time.perf_counter(), time.process_time()
    train_epoch(model, prepared.optimizer, timed, spec, batch, norm, gen, autocast=False)
    return steps * batch / (time.perf_counter() - t0), steps * batch / (time.process_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--cell", default="6111", help="index or cell string (default: NB201's best cell)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=24,
                    help="timed steps per round; keep it well above workers x prefetch_factor (8)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    cell_str = format_arch(resolve_arch(args.cell))
    source = find_cifar10_jpeg(Path(args.data_root))
    if source is None:
        raise SystemExit(f"--data-root {args.data_root}: no cifar10-jpeg.tar.gz there")
    train, _test = read_cifar10_jpeg(source, args.cache_dir)
    order = np.random.default_rng(0).permutation(len(train))
    images, labels = train.images[order], train.labels[order]
    ref, ours, ref_cpu, ours_cpu = [], [], [], []
    for r in range(args.rounds):
        wall, cpu = reference_round(cell_str, images, labels, args.batch, args.steps, args.warmup, args.workers)
        ref.append(wall), ref_cpu.append(cpu)
        wall, cpu = ours_round(cell_str, images, labels, args.batch, args.steps, args.warmup)
        ours.append(wall), ours_cpu.append(cpu)
        print(f"round {r + 1} (load {os.getloadavg()[0]:.2f}): reference {ref[-1]:.1f} img/s, ours {ours[-1]:.1f} "
              f"img/s, ratio {ours[-1] / ref[-1]:.2f}x | per CPU-second: reference {ref_cpu[-1]:.1f}, "
              f"ours {ours_cpu[-1]:.1f} img, ratio {ours_cpu[-1] / ref_cpu[-1]:.2f}x", flush=True)
    ref_m, ours_m = statistics.median(ref), statistics.median(ours)
    cpu_ratio = statistics.median(ours_cpu) / statistics.median(ref_cpu)
    report = {"date": dt.date.today().isoformat(), "cell": cell_str, "batch": args.batch, "steps": args.steps,
              "rounds": args.rounds, "workers": args.workers, "reference_img_s": ref, "ours_img_s": ours,
              "reference_img_per_cpu_s": ref_cpu, "ours_img_per_cpu_s": ours_cpu,
              "reference_median": ref_m, "ours_median": ours_m, "ratio": ours_m / ref_m, "cpu_ratio": cpu_ratio,
              "torch": torch.__version__, "hardware": hardware(torch.device("cpu")), "git": git_revision()}
    print(f"median: reference {ref_m:.1f} img/s, ours {ours_m:.1f} img/s, ratio {ours_m / ref_m:.2f}x; "
          f"images per CPU-second ratio {cpu_ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
