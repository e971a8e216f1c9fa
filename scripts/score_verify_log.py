"""Score an LR-transfer run from its progress log (when the run died before writing its JSON).

``rebench verify topology|nb201-lr`` prints one line per network with its grid-searched maximal
LR per seed before scoring. On 2026-12-01 three runs finished every search and then died at
the scoring step (another process reinstalled numpy in the shared virtualenv under them);
their logs are in ``docs/verification/logs/``. This scores those lines exactly as the
experiments do (same rule, same agreement statistics, same trivial-DAG split, the output
scale measured by the same function), so the numbers in docs/verification.md can be checked.

    PYTHONPATH=. python scripts/score_verify_log.py topology released docs/verification/logs/topology-variant-released.log \
        docs/verification/topology-variant-released-from-log.png
    PYTHONPATH=. python scripts/score_verify_log.py nb201-lr - docs/verification/logs/nb201-lr.log
"""

from __future__ import annotations

import ast
import json
import math
import re
import sys

LINE = re.compile(r"^(?P<name>base(?: \d+)?|[0-9_]+)\s+(?:S=\s*\d+\s+)?max LR per seed (?P<lrs>\[[^\]]*\])")


def parse(path: str) -> dict[str, list[float | None]]:
    out = {}
    for line in open(path, encoding="utf-8"):
        m = LINE.match(line.strip())
        if m:
            out[m["name"]] = ast.literal_eval(m["lrs"].replace("None", "None"))
    return out


def _geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def score_topology(variant: str, maxima: dict) -> dict:
    from archscale.dag import from_adjacency
    from archscale.scaling import LRRule, sum_l3
    from archscale.verify.data import cifar10_subset
    from archscale.verify.experiments import OFFSET
    from archscale.verify.mlp_variants import VARIANTS, VariantMLP
    from archscale.verify.topologies import chain
    from archscale.verify.topology_sample import TOPOLOGY_SETUP, is_trivial, output_scale, split_agreement

    setup = TOPOLOGY_SETUP[False]
    rule = LRRule(s_base=sum_l3(from_adjacency(chain(0)), OFFSET), offset=OFFSET)
    base = _geomean(maxima.pop("base"))
    probe = cifar10_subset(setup.images, seed=0, flatten=True).x[:1000]  # as run_topology: the first 1,000
    rows, scales = [], {}
    for adj, lrs in maxima.items():
        dag = from_adjacency(adj)
        scales[adj] = output_scale(VariantMLP(dag, setup.width, VARIANTS[variant]), probe)
        if any(v is None for v in lrs):
            rows.append({"name": adj, "excluded": "failed at every LR"})
            continue
        rows.append({"name": adj, "predicted": rule.lr(dag, base).lr, "measured": _geomean(lrs),
                     "seed_max_lr": lrs, "log2_spread": 0.0})
    trivial = {a for a in maxima if is_trivial(a)}
    split = split_agreement(rows, trivial)
    nontriv = sorted(scales[a]["output_scale"] for a in maxima if a not in trivial)
    return {"variant": variant, "base_lr": round(base, 4), "dags": len(maxima), "trivial": sorted(trivial),
            "excluded": [r["name"] for r in rows if "excluded" in r], "agreement": split,
            "output_scale_non_trivial": {"min": round(nontriv[0], 3), "median": round(nontriv[len(nontriv) // 2], 3),
                                         "max": round(nontriv[-1], 3)},
            "logit_rms_base": round(output_scale(VariantMLP(from_adjacency(chain(0)), setup.width, VARIANTS[variant]),
                                                 probe)["logit_rms"], 3),
            "rows": rows, "base_lr_raw": base, "scales": scales}


def plot_topology(result: dict, path: str) -> None:
    """The experiment's own figure (plots.plot_lr) drawn from the scored log."""
    from pathlib import Path

    from archscale.verify.plots import plot_lr

    nets = [{"name": n, "kernel": 1, "output_scale": v["output_scale"]} for n, v in result["scales"].items()]
    plot_lr({"title": f"MLP topology, {result['variant']} network (scored from its log)", "cnn": False,
             "main": {"rows": [r for r in result["rows"] if "predicted" in r], "base_lr": result["base_lr_raw"],
                      "agreement": result["agreement"]["all"]},
             "networks": nets + [{"name": "base", "kernel": 1, "output_scale": 1.0}],
             "config": {"init": "source degree" if result["variant"] == "released" else "target degree",
                        "readout": "full" if result["variant"] == "released" else "mup"}}, Path(path))


def score_nb201(maxima: dict) -> dict:
    from archscale.scaling import nb201_lr
    from archscale.space import cell_at, format_arch
    from archscale.verify.agreement import agreement
    from archscale.verify.lr_transfer import Candidate
    from archscale.verify.nb201_lr import NB201_SETUPS, _registry_predictor

    base_key = next(k for k in maxima if k.startswith("base"))
    base = _geomean(maxima.pop(base_key))
    predict = _registry_predictor(NB201_SETUPS["cpu"])
    rows = []
    for index, lrs in maxima.items():
        arch = format_arch(cell_at(int(index)))
        rows.append({"index": int(index), "S": nb201_lr(arch, base_lr=1.0).s,
                     "predicted": predict(Candidate(arch), base), "measured": _geomean(lrs)})
    a = agreement([r["predicted"] for r in rows], [r["measured"] for r in rows]).as_json()
    return {"base_lr": round(base, 4), "cells": len(rows), "agreement": a, "rows": rows}


if __name__ == "__main__":
    kind, variant, path = sys.argv[1:4]
    maxima = parse(path)
    result = score_topology(variant, maxima) if kind == "topology" else score_nb201(maxima)
    if kind == "topology" and len(sys.argv) > 4:  # optional: where to draw the figure
        plot_topology(result, sys.argv[4])
    result.pop("scales", None)
    print(json.dumps(result, indent=1, default=float))
