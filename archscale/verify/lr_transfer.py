"""Predicted vs grid-searched maximal learning rates (paper §4 steps 1-3, Fig. 2, 3, 5).

1. Grid-search the base network's maximal LR (:mod:`.max_lr`), per seed.
2. Predict every target's LR from the base LR with the rule (:class:`archscale.scaling.LRRule`):
   eta = eta_base * sqrt(S_base / S) (* q_base / q for CNNs).
3. Grid-search every target's own maximal LR with the same criterion and compare.

The base LR is the geometric mean of its per-seed maxima; a target's measured LR is the
geometric mean of its per-seed maxima, and their spread (std of log2 over seeds) is the
dot radius of the paper's plots. Everything is kept raw in the result so any other
tolerance or L-offset can be re-scored from the JSON.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from archscale.dag import from_adjacency
from archscale.scaling import LRRule, sum_l3

from .agreement import agreement, pearson
from .dagnet import InitScheme
from .init_scale import expected_ratios
from .max_lr import ReplicatedNet, SearchConfig, SearchResult, grid_search

__all__ = ["Candidate", "TransferStudy", "run_study", "score", "rule_predictor", "TOLERANCES"]

#: tolerances re-scored from the same raw losses, to show how much the criterion matters
TOLERANCES = (0.0, 0.005, 0.01, 0.02, 0.05)


@dataclass(frozen=True)
class Candidate:
    """One network of a study: a DAG (adjacency string) and its kernel size."""

    adjacency: str
    kernel: int = 1
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or (self.adjacency if self.kernel == 1 else f"{self.adjacency} q={self.kernel}")


@dataclass(frozen=True)
class TransferStudy:
    base: Candidate
    targets: tuple[Candidate, ...]
    make_net: Callable[[Candidate], ReplicatedNet]
    rule: LRRule  # its offset is the L-convention; kernel_factor for CNNs
    search: SearchConfig
    seeds: tuple[int, ...]
    alt_offset: int = 1  # a second L-convention scored from the same measurements
    init: InitScheme = "target"  # only for the output-scale diagnostic; make_net does the init


def _geomean(values: list[float]) -> float:
    return float(math.exp(np.mean(np.log(values))))


Predictor = Callable[[Candidate, float], float]  # (network, base LR) -> predicted LR


def rule_predictor(study: TransferStudy, offset: int | None = None) -> Predictor:
    """The paper's rule via LRRule, with the study's L-offset or another one."""
    rule = study.rule if offset is None else replace(
        study.rule, offset=offset, s_base=sum_l3(from_adjacency(study.base.adjacency), offset))

    def predict(c: Candidate, base_lr: float) -> float:
        dag = from_adjacency(c.adjacency, kernel=c.kernel)
        return rule.lr(dag, base_lr, q=c.kernel).lr  # type: ignore[return-value]

    return predict


def score(study: TransferStudy, searches: dict[str, list[SearchResult]], tolerance: float,
          predict: Predictor | None = None) -> dict:
    """Predicted vs measured at one tolerance (by default with the study's rule)."""
    predict = predict or rule_predictor(study)
    base_maxima = [r.max_lr(tolerance) for r in searches[study.base.name]]
    if any(lr is None for lr in base_maxima):
        raise RuntimeError("the base network failed at every LR of the grid for some seed: widen the grid")
    base_lr = _geomean(base_maxima)  # type: ignore[arg-type]
    rows, per_seed = [], {i: ([], []) for i in range(len(study.seeds))}
    for cand in study.targets:
        maxima = [r.max_lr(tolerance) for r in searches[cand.name]]
        if any(lr is None for lr in maxima):
            rows.append({"name": cand.name, "excluded": "failed at every LR for some seed"})
            continue
        pred = predict(cand, base_lr)
        rows.append({"name": cand.name, "predicted": pred, "measured": _geomean(maxima),  # type: ignore[arg-type]
                     "seed_max_lr": maxima, "log2_spread": float(np.std(np.log2(maxima))),
                     "at_top_edge": any(r.at_top_edge(study.search.grid, tolerance) for r in searches[cand.name]),
                     "at_bottom_edge": any(r.at_bottom_edge(study.search.grid) for r in searches[cand.name])})
        for i, lr in enumerate(maxima):
            per_seed[i][0].append(pred)
            per_seed[i][1].append(lr)
    kept = [row for row in rows if "predicted" in row]
    overall = agreement([r["predicted"] for r in kept], [r["measured"] for r in kept])
    seeds = [agreement(p, m).r_log for p, m in per_seed.values() if len(p) >= 3]
    return {"tolerance": tolerance, "base_lr": base_lr, "base_seed_max_lr": base_maxima,
            "agreement": overall.as_json(), "r_log_per_seed": [round(r, 4) for r in seeds], "rows": rows}


def _without_rows(scored: dict) -> dict:
    return {k: v for k, v in scored.items() if k != "rows"}


def _diagnostics(main: dict, networks: list[dict]) -> dict:
    """Does the rule's miss, log2(measured / predicted), track the output's scale at init?"""
    scale = {n["name"]: n["output_scale"] for n in networks}
    rows = [r for r in main["rows"] if "predicted" in r]
    misses = [math.log2(r["measured"] / r["predicted"]) for r in rows]
    return {"log2_miss": {r["name"]: round(m, 3) for r, m in zip(rows, misses)},
            "r_log2_miss_vs_log2_output_scale": round(pearson(misses, [math.log2(scale[r["name"]]) for r in rows]), 4)}


def run_study(study: TransferStudy, x: torch.Tensor, y: torch.Tensor,
              log: Callable[[str], None] = lambda _: None) -> dict:
    """Grid-search every network and seed; score at the configured tolerance and re-score the rest."""
    started = time.perf_counter()
    searches: dict[str, list[SearchResult]] = {}
    networks = [study.base, *study.targets]
    for cand in networks:
        net = study.make_net(cand)
        searches[cand.name] = [grid_search(net, x, y, seed, study.search) for seed in study.seeds]
        maxima = [r.max_lr(study.search.tolerance) for r in searches[cand.name]]
        log(f"{cand.name:28s} max LR per seed {maxima}  ({sum(r.seconds for r in searches[cand.name]):.1f}s)")
    tol = study.search.tolerance
    main = score(study, searches, tol)
    networks_json = []
    for cand in networks:
        dag = from_adjacency(cand.adjacency, kernel=cand.kernel)
        networks_json.append({
            "name": cand.name, "adjacency": cand.adjacency, "kernel": cand.kernel, "base": cand == study.base,
            "S": sum_l3(dag, study.rule.offset), "S_alt_offset": sum_l3(dag, study.alt_offset),
            # exact E||z_out||^2 / E||x||^2 at init: skip edges are not normalised by the init rule
            "output_scale": round(float(expected_ratios(dag, study.init)[-1]), 4),
            "layer_edges": len(dag.layer_edges), "searches": [r.as_json() for r in searches[cand.name]]})
    return {
        "main": main,
        "tolerance_sensitivity": [{"tolerance": t, **score(study, searches, t)["agreement"]} for t in TOLERANCES],
        # the same measurements scored with other predictions (diagnostics, not the paper's rule)
        "alt_offset": {"offset": study.alt_offset, **_without_rows(
            score(study, searches, tol, rule_predictor(study, study.alt_offset)))},
        "diagnostics": _diagnostics(main, networks_json),
        "networks": networks_json,
        "search_seconds": round(time.perf_counter() - started, 1),
    }
