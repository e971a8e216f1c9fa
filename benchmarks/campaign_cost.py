"""The cost model of a whole-space re-benchmark: NB201's recorded GPU-hours vs ours (estimated).

    .venv/bin/python benchmarks/campaign_cost.py [--cost ../shared/data/nb201_tss_hp200_cost.csv.gz]
        [--median-cell-s 90] [--packing 1.0] [--seeds 3]

Recorded: NB201's ``train_all_time`` per arch (200 epochs of training, no evaluation, on NB201's
GPUs; cifar10 is not in the source and is estimated as 2 x cifar10-valid: twice the images).
Ours, ESTIMATED (no GPU was measured): a 200-epoch cifar10 run of the median cell takes
``--median-cell-s`` (the issue's target, 90 s on one H100, train + evaluation); another arch or
setting costs that x (NB201's recorded time for it / NB201's median cifar10 time), i.e. we
assume our per-arch and per-setting costs are proportional to NB201's; ``--packing`` divides
GPU time (k runs per GPU with that aggregate speed-up). Replace the two inputs with
``benchmarks/gpu_suite.py``'s stage 5 and 4 numbers when they exist.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
from collections import defaultdict
from pathlib import Path

from archscale.isomorphism import relabel_key
from archscale.scaling import nb201_lr
from archscale.space import NUM_CELLS, cell_at


def recorded(path: Path) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = defaultdict(dict)
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            out[row["dataset"]][int(row["arch_index"])] = float(row["train_all_time"])
    out["cifar10"] = {a: 2 * s for a, s in out["cifar10-valid"].items()}  # estimated: 50k vs 25k images
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cost", type=Path, default=Path("../shared/data/nb201_tss_hp200_cost.csv.gz"))
    ap.add_argument("--median-cell-s", type=float, default=90.0)
    ap.add_argument("--packing", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    times = recorded(args.cost)
    median_c10 = statistics.median(times["cifar10"].values())
    scale = args.median_cell_s / median_c10
    reps = {}  # relabel class -> lowest index (isomorphic dedup trains one per class)
    for i in range(NUM_CELLS):
        reps.setdefault(relabel_key(cell_at(i)), i)
    trained = set(reps.values())
    degenerate = {i for i in range(NUM_CELLS) if nb201_lr(i, base_lr=1.0).degenerate}
    print(f"ours = NB201's recorded time x {scale:.4f} (median cifar10 cell: NB201 {median_c10:.0f} s recorded/"
          f"estimated -> ours {args.median_cell_s:.0f} s assumed), packing x{args.packing}, {args.seeds} seeds\n")
    print("| setting | NB201 median run (s) | NB201 1 seed (GPU-h) | NB201 x seeds | ours x seeds, all archs | "
          "ours, isomorphic dedup | ours, dedup, arch-aware (no S=0) |")
    print("|---|---|---|---|---|---|---|")
    for dataset in ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"):
        t = times[dataset]
        one = sum(t.values()) / 3600
        ours_all = one * args.seeds * scale / args.packing
        ours_dedup = sum(t[a] for a in trained) / 3600 * args.seeds * scale / args.packing
        ours_aa = sum(t[a] for a in trained - degenerate) / 3600 * args.seeds * scale / args.packing
        note = " (est. 2x c10-valid)" if dataset == "cifar10" else ""
        print(f"| {dataset}{note} | {statistics.median(t.values()):,.0f} | {one:,.0f} | {one * args.seeds:,.0f} | "
              f"{ours_all:,.0f} | {ours_dedup:,.0f} | {ours_aa:,.0f} |")


if __name__ == "__main__":
    main()
