"""``nb201-lr``: does the LR rule predict each NB201 cell's own 1-epoch maximal LR?

The paper never showed this for NB201 (it applied the rule there and reported accuracies).
For cells spread evenly in log S (S = sum over the cell's input->output paths of L_p^3, the
quantity the rule uses), grid-search each cell's maximal LR with the paper's §4 step 1
criterion (:mod:`.max_lr`) and compare it with the rule's prediction from the base cell's
own measured maximal LR, eta = eta_base * sqrt(S_base / S).

Init and rule come from the scalings registry by name (``prepare("arch-aware", ...)``), so
this experiment measures whatever recipe ``arch-aware`` is in this checkout; the result's
``config.recipe`` records the init the registry applied. Optimiser: NB201's (SGD momentum
0.9, Nesterov, weight decay 5e-4, random crop + flip), constant LR for the one epoch (the
cosine schedule steps per epoch, so epoch 1 runs at the full LR).
"""

from __future__ import annotations

import functools
import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

from archscale.scaling import nb201_lr
from archscale.space import all_cells, format_arch, index_of, parse_arch, resolve_arch

from .data import cifar10_subset
from .lr_transfer import TOLERANCES, Candidate, TransferStudy, score
from .max_lr import SearchConfig, SearchResult, grid_search, log_grid
from .nb201_replicas import ReplicatedNB201, arch_aware_network
from .plots import plot_lr
from .registry import Experiment, register

__all__ = ["BASE_CELL", "NB201Setup", "NB201_SETUPS", "spread_cells", "run_nb201_lr"]

BASE_CELL = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"  # S = 1


@dataclass(frozen=True)
class NB201Setup:
    C: int
    N: int
    resolution: int
    images: int
    batch_size: int
    seeds: tuple[int, ...]
    grid: tuple[float, ...]
    cells: int
    device: str = "cpu"
    tolerance: float = 0.01

    def search(self) -> SearchConfig:
        return SearchConfig(self.grid, batch_size=self.batch_size, tolerance=self.tolerance, momentum=0.9,
                            nesterov=True, weight_decay=5e-4, augment_pad=max(1, self.resolution // 8))


#: ``cpu``: the size this 2-core machine can afford; ``paper``: NB201's own network and data
#: (C = 16, N = 5, all 50k images at 32 x 32, batch 256, seeds 777/888/999): a GPU job.
NB201_SETUPS = {
    "fast": NB201Setup(C=4, N=1, resolution=8, images=640, batch_size=64, seeds=(0,),
                       grid=log_grid(1 / 16, 8, per_octave=1), cells=3),
    "cpu": NB201Setup(C=8, N=1, resolution=16, images=3_000, batch_size=64, seeds=(0,),
                      grid=log_grid(1 / 128, 2), cells=20),
    "paper": NB201Setup(C=16, N=5, resolution=32, images=50_000, batch_size=256, seeds=(777, 888, 999),
                        grid=log_grid(1 / 128, 8), cells=20, device="cuda"),
}


def spread_cells(count: int, seed: int = 0) -> list[str]:
    """``count`` cells (not the base cell) whose S spread evenly in log S over NB201's non-zero S values.

    For each log-spaced target between the smallest and largest S, the nearest S value not
    taken yet, then one cell with that S at random (seeded).
    """
    by_s = _cells_by_s()
    values = sorted(by_s)
    if not 1 <= count <= len(values):
        raise ValueError(f"cells={count}: use 1..{len(values)} (distinct non-zero S values in NB201)")
    rng = random.Random(seed)
    lo, hi = math.log(values[0]), math.log(values[-1])
    picked, taken = [], set()
    for i in range(count):
        target = lo + (hi - lo) * i / max(count - 1, 1)
        s = min((v for v in values if v not in taken), key=lambda v: abs(math.log(v) - target))
        taken.add(s)
        picked.append(rng.choice(sorted(by_s[s])))
    return sorted(picked, key=lambda a: nb201_lr(a, base_lr=1.0).s)


@functools.lru_cache(maxsize=1)
def _cells_by_s() -> dict[int, list[str]]:
    """Every NB201 cell with S > 0 except the base, grouped by S (computed once: 15,625 cells)."""
    by_s: dict[int, list[str]] = {}
    for cell in all_cells():
        s = nb201_lr(cell, base_lr=1.0).s
        text = format_arch(cell)
        if s > 0 and text != BASE_CELL:
            by_s.setdefault(s, []).append(text)
    return by_s


def _registry_predictor(setup: NB201Setup) -> Callable[[Candidate, float], float]:
    """The rule's LR as the ``arch-aware`` scaling computes it (registry by name)."""
    from archscale.protocols import get_protocol
    from archscale.training.scalings import prepare
    from dataclasses import replace

    protocol = replace(get_protocol("nb201-200"), C=setup.C, N=setup.N)

    def predict(c: Candidate, base_lr: float) -> float:
        return prepare("arch-aware", resolve_arch(c.adjacency), 10, protocol, base_lr=base_lr).lr

    return predict


def run_nb201_lr(setup: NB201Setup, cells: list[str], log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    device = torch.device(setup.device)
    data = cifar10_subset(setup.images, seed=0, resolution=setup.resolution)
    x, y = data.x.to(device), data.y.to(device)
    base = Candidate(BASE_CELL, label="base " + str(index_of(parse_arch(BASE_CELL))))
    targets = tuple(Candidate(c, label=str(index_of(parse_arch(c)))) for c in cells)
    search = setup.search()
    started = time.perf_counter()
    searches: dict[str, list[SearchResult]] = {}
    for cand in (base, *targets):
        net = ReplicatedNB201(cand.adjacency, setup.C, setup.N)
        searches[cand.name] = [grid_search(net, x, y, seed, search) for seed in setup.seeds]
        log(f"{cand.name:10s} S={nb201_lr(cand.adjacency, base_lr=1.0).s:4d} max LR per seed "
            f"{[r.max_lr(search.tolerance) for r in searches[cand.name]]} "
            f"({sum(r.seconds for r in searches[cand.name]):.1f}s)")
    # TransferStudy only carries what score() reads; the rule itself is the registry's
    study = TransferStudy(base, targets, make_net=lambda c: None, rule=None, search=search,  # type: ignore[arg-type]
                          seeds=setup.seeds)
    predict = _registry_predictor(setup)
    main = score(study, searches, search.tolerance, predict)
    _model, recipe = arch_aware_network(resolve_arch(targets[-1].adjacency), setup.C, setup.N)  # a cell with convs
    networks = [{"name": c.name, "arch": c.adjacency, "index": index_of(parse_arch(c.adjacency)),
                 "base": c == base, "S": nb201_lr(c.adjacency, base_lr=1.0).s, "kernel": 1,
                 "searches": [r.as_json() for r in searches[c.name]]} for c in (base, *targets)]
    a = main["agreement"]
    summary = {"r_log": a["r_log"], "r_linear": a["r_linear"], "slope_log": a["slope_log"], "n": a["n"],
               "within_2x": a["within_2x"], "median_factor": a["median_factor"],
               "base_lr": round(main["base_lr"], 4), "reproduced": bool(a["r_log"] >= 0.8)}
    config = {**asdict(setup), "grid": [round(v, 6) for v in setup.grid], "base": BASE_CELL,
              "recipe": {"scaling": "arch-aware (archscale.training.scalings registry)", **recipe},
              "optimizer": "SGD momentum 0.9 Nesterov, weight decay 5e-4, constant LR, 1 epoch",
              "augmentation": f"random crop (zero pad {search.augment_pad} on normalised images) + flip",
              "batchnorm": "batch statistics (training mode; running averages unused in a loss search)",
              "init": "arch-aware", "readout": "one LR for all parameters",
              "data": f"CIFAR-10 JPEG train, class-balanced subset of {setup.images} (subset seed 0), "
                      f"{setup.resolution}x{setup.resolution}"}
    return {"summary": summary, "config": config, "cnn": False, "main": main,
            "tolerance_sensitivity": [{"tolerance": t, **score(study, searches, t, predict)["agreement"]}
                                      for t in TOLERANCES],
            "networks": networks, "search_seconds": round(time.perf_counter() - started, 1)}


def _run(fast: bool, dags: list[str] | None, log: Callable[[str], None], size: str = "cpu",
         device: str | None = None) -> dict[str, Any]:
    from dataclasses import replace

    name = "fast" if fast else size
    if name not in NB201_SETUPS:
        raise ValueError(f"size={size!r}: use one of cpu, paper")
    setup = NB201_SETUPS[name]
    if device is not None:
        setup = replace(setup, device=device)
    if dags:
        cells = [format_arch(parse_arch(a)) for a in dags]
        bad = [c for c in cells if nb201_lr(c, base_lr=1.0).degenerate]
        if bad:
            raise ValueError(f"--dag {bad[0]}: no input->output path (S = 0), the LR rule is undefined for it")
    elif fast:
        cells = ["|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
                 "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    else:
        cells = spread_cells(setup.cells, seed=0)
    return run_nb201_lr(setup, cells, log)


register(Experiment("nb201-lr", "NB201 cells: predicted vs 1-epoch maximal LR",
                    "not in the paper (its rule applied to NB201, §4.3)", "— (never measured)",
                    "r(log) >= 0.8", _run, plot_lr, accepts_dags=True, options=("size", "device")))
