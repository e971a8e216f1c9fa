"""Time S = sum L^3 and the architecture-aware LR for all 15,625 NB201 cells.

    .venv/bin/python benchmarks/scaling_all_archs.py [--repeats 7]

Measures the science core only (parse-free: cells come from the packaged index table),
then the whole `summary_row` (keys, LR, params, FLOPs) that `rebench arch --all` prints.
Reports the best and the median of the repeats; the target is < 0.5 s for S + LR.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from archscale.dag import from_nb201, path_moments
from archscale.report import summary_row
from archscale.scaling import NB201_RULE
from archscale.space import all_cells


def s_and_lr(cells) -> int:
    distinct = set()
    for cell in cells:
        top = path_moments(from_nb201(cell), NB201_RULE.offset)[3]
        distinct.add(NB201_RULE.lr_from_moments(top, 0.46).lr)
    return len(distinct)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    cells = all_cells()
    load = time.perf_counter() - start
    assert s_and_lr(cells) == 47  # 46 LRs + None for the 341 degenerate cells
    lr_times = timed(lambda: s_and_lr(cells), args.repeats)
    row_times = timed(lambda: [summary_row(c) for c in cells], max(1, args.repeats // 2))
    print(f"python {platform.python_version()} on {platform.processor() or platform.machine()}")
    print(f"load 15,625 cells from the index table: {load * 1e3:.1f} ms")
    print(f"S + LR, all cells: best {min(lr_times) * 1e3:.0f} ms, median {statistics.median(lr_times) * 1e3:.0f} ms")
    print(f"full summary rows (keys, S, LR, params, FLOPs): best {min(row_times) * 1e3:.0f} ms, "
          f"median {statistics.median(row_times) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
