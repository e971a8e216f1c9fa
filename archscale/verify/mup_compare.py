"""arch-aware vs muP vs standard on a handful of NB201 cells (paper App. E.3, Fig. 8).

Every (cell, scaling, seed) is one :func:`archscale.training.train_run` on CIFAR-10 (the
JPEG archive) under the ``smoke`` protocol by default: C = 8, N = 1, 1,024 training
images, 4 epochs, evaluated on 1,000 test images. That is a CPU smoke check of the three
scalings on identical data and seeds, *not* Fig. 8 (200 epochs, C = 16, N = 5, all data):
the protocol is part of every row. ``run_mup(..., protocol="nb201-12", device="cuda")`` on a
GPU is the real thing.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from archscale.space import format_arch, index_of, parse_arch

from .data import data_dir
from .plots import plot_mup
from .registry import Experiment, register

__all__ = ["MUP_CELLS", "SCALINGS", "run_mup", "search_protocol_base_lr"]

#: ResNet-like, all conv3x3, a mixed cell, all conv1x1, and index 0 (pooling + 1x1 convs)
MUP_CELLS = (
    "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
)
SCALINGS = ("arch-aware", "mup", "standard")


def search_protocol_base_lr(protocol: str, log: Callable[[str], None] = lambda _: None,
                            device: str = "cpu") -> dict[str, Any]:
    """The base LR of ``protocol`` on CIFAR-10 by the training engine's 1-epoch search (paper §4 step 1).

    The built-in 0.46 was found for NB201's 200-epoch recipe (batch 256); the smoke protocol
    (batch 32, 1,024 images) needs its own. Not written to the shared base-LR cache.
    """
    from archscale.protocols import get_protocol
    from archscale.training import search_base_lr

    def on_chunk(lrs: list[float], losses: list[float]) -> None:
        for lr, loss in zip(lrs, losses):
            log(f"base-LR search {protocol}: lr {lr:.4g} -> loss {loss:.4f}")

    # one seed, the released arch-aware recipe (the scaling this experiment compares against mup)
    found = search_base_lr("cifar10", "arch-aware", get_protocol(protocol), data_dir(), seeds=(777,),
                           device=device, on_chunk=on_chunk)
    return {"base_lr": found.value, "protocol": found.protocol_key, "seed": found.seeds[0], "grid": found.grid,
            "losses": dict(zip(map(str, found.grid), found.losses[str(found.seeds[0])])),
            "criterion": found.criterion}


def run_mup(cells: tuple[str, ...], seeds: tuple[int, ...], protocol: str, *, base_lr: float | None = None,
            epochs: int | None = None, train_subset: int | None = None, device: str = "cpu",
            log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Train every (cell, scaling, seed); rows of final test accuracy and loss.

    ``base_lr`` is arch-aware's (None: the engine resolves it, e.g. the built-in 0.46);
    ``epochs`` / ``train_subset`` override the protocol's (the fast variant: a wiring check).
    """
    try:
        from archscale.training import RunSpec, train_run
    except ImportError as exc:  # the training engine is another package of this repository
        return {"status": f"not run: archscale.training is not importable ({exc})", "rows": []}
    rows = []
    for arch in cells:
        for scaling in SCALINGS:
            for seed in seeds:
                started = time.perf_counter()
                result = train_run(RunSpec(arch=arch, dataset="cifar10", scaling=scaling, protocol=protocol,
                                           seed=seed, data_root=data_dir(), device=device, epochs=epochs,
                                           train_subset=train_subset,
                                           base_lr=base_lr if scaling == "arch-aware" else None))
                split, metrics = next(iter(result.final.items()))
                rows.append({"arch_index": result.arch_index, "arch_str": result.arch_str, "scaling": scaling,
                             "seed": seed, "lr": result.lr, "base_lr": result.base_lr,
                             "base_lr_source": result.base_lr_source, "protocol": result.protocol,
                             "eval_split": split, "accuracy": metrics["acc"], "loss": metrics["loss"],
                             "train_loss": result.epochs[-1]["train_loss"],
                             "seconds": round(time.perf_counter() - started, 1)})
                log(f"{result.arch_index:6d} {scaling:10s} seed {seed}: acc {metrics['acc']:.2f} % "
                    f"(lr {result.lr:.4g}, {rows[-1]['seconds']} s)")
    return {"status": "run", "rows": rows}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {}
    mean = {s: round(float(np.mean([r["accuracy"] for r in rows if r["scaling"] == s])), 2) for s in SCALINGS}
    cells = sorted({r["arch_index"] for r in rows})

    def cell_mean(cell: int, scaling: str) -> float:
        return float(np.mean([r["accuracy"] for r in rows if r["arch_index"] == cell and r["scaling"] == scaling]))

    wins = {f"arch-aware > {other}": sum(cell_mean(c, "arch-aware") > cell_mean(c, other) for c in cells)
            for other in ("mup", "standard")}
    return {"mean_accuracy": mean, "cells": len(cells), "cells_where": wins,
            "reproduced": bool(mean["arch-aware"] > mean["mup"])}


def _run(fast: bool, dags: list[str] | None, log: Callable[[str], None]) -> dict[str, Any]:
    cells = MUP_CELLS[:1] if fast else MUP_CELLS
    seeds = (777,) if fast else (777, 888)
    protocol = "smoke"
    overrides = {"epochs": 1, "train_subset": 256} if fast else {}
    # full: arch-aware gets the smoke protocol's own base LR; fast: the built-in 0.46 (no search)
    base_search = None if fast else search_protocol_base_lr(protocol, log)
    payload = run_mup(cells, seeds, protocol, base_lr=base_search and base_search["base_lr"], log=log, **overrides)
    command = "rebench verify mup" + (" --fast" if fast else "")
    summary = {"status": payload["status"], **_summary(payload["rows"])}
    if payload["status"] != "run":
        summary["command"] = command
    return {"summary": summary, "rows": payload["rows"], "base_lr_search": base_search,
            "accuracy_name": "test accuracy (%) on 1,000 images",
            "config": {"cells": [{"index": index_of(parse_arch(c)), "arch": format_arch(parse_arch(c))} for c in cells],
                       "seeds": list(seeds), "protocol": protocol, "protocol_overrides": overrides,
                       "dataset": "cifar10 (JPEG archive)",
                       "scalings": list(SCALINGS), "device": "cpu"}}


register(Experiment("mup", "NB201 cells: arch-aware vs muP vs standard (smoke protocol)", "App. E.3, Fig. 8",
                    "arch-aware above muP on every setting (200 epochs)",
                    "arch-aware mean accuracy above muP's (smoke: indicative only)", _run, plot_mup))
