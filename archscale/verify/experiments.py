"""The registered experiments and their configurations (full and ``--fast``).

Full sizes are chosen to run on the 2-core development CPU in minutes (docs/verification.md
records each run's wall time); the paper's are larger (full CIFAR-10, GPU). Everything a
number depends on is written into the result's ``config``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import numpy as np

from archscale.scaling import LRRule, sum_l3
from archscale.dag import from_adjacency

from .data import cifar10_subset
from .dagnet import INIT_SCHEMES, DagCNN, DagMLP, InitScheme
from .init_scale import InitConfig, random_init_dags, run_init
from .lr_transfer import Candidate, TransferStudy, run_study
from .max_lr import SearchConfig, log_grid
from .plots import plot_init, plot_lr
from .registry import Experiment, register
from .topologies import chain, spread_by_s, validate_adjacency

__all__ = ["LRSetup", "MLP_SETUP", "CNN_SETUP", "OFFSET", "init_summary"]

READOUTS = ("mup", "full")

#: The released code's L-convention for MLPs/CNNs: L_p = 3 + number of layer edges on p;
#: the base network (stem -> readout, no DAG layer) has L = 3 (`DEPTHS_BASE = [3]`).
OFFSET = 3


@dataclass(frozen=True)
class LRSetup:
    """Data and training sizes of one LR study variant."""

    width: int
    images: int
    seeds: tuple[int, ...]
    grid: tuple[float, ...]
    resolution: int = 32
    batch_size: int = 128
    tolerance: float = 0.01
    #: "mup": the readout trains at eta / width, muP's SGD output-layer LR (the rule is about
    #: hidden layers under a mean-field readout, §3.3); "full": eta like every other layer
    readout: str = "mup"
    init: InitScheme = "target"

    def search(self) -> SearchConfig:
        if self.readout not in READOUTS:
            raise ValueError(f"readout={self.readout!r}: use one of {', '.join(READOUTS)}")
        return SearchConfig(self.grid, batch_size=self.batch_size, tolerance=self.tolerance,
                            lr_multipliers={"readout": 1.0 / self.width if self.readout == "mup" else 1.0})


MLP_SETUP = {False: LRSetup(width=256, images=10_000, seeds=(0, 1, 2), grid=log_grid(1 / 32, 16)),
             True: LRSetup(width=64, images=2_000, seeds=(0,), grid=log_grid(1 / 64, 32, per_octave=1))}
CNN_SETUP = {False: LRSetup(width=8, images=10_000, seeds=(0, 1, 2), grid=log_grid(1 / 32, 32), resolution=8),
             True: LRSetup(width=8, images=4_000, seeds=(0,), grid=log_grid(1 / 16, 64, per_octave=1), resolution=8,
                           batch_size=64)}


def _lr_experiment(setup: LRSetup, base: Candidate, targets: list[Candidate], rule: LRRule, cnn: bool,
                   log: Callable[[str], None]) -> dict[str, Any]:
    data = cifar10_subset(setup.images, seed=0, resolution=setup.resolution, flatten=not cnn)

    def make_net(c: Candidate):
        dag = from_adjacency(c.adjacency, kernel=c.kernel)
        if cnn:
            return DagCNN(dag, setup.width, kernel=c.kernel, init=setup.init)
        return DagMLP(dag, setup.width, in_features=data.x.shape[1], num_classes=10, init=setup.init)

    study = TransferStudy(base, tuple(targets), make_net, rule, setup.search(), setup.seeds, init=setup.init)
    result = run_study(study, data.x, data.y, log)
    a = result["main"]["agreement"]
    config = {**asdict(setup), "grid": [round(v, 6) for v in setup.grid], "offset": rule.offset,
              "kernel_factor": rule.kernel_factor, "q_base": rule.q_base, "base": base.name,
              "init": f"{setup.init} degree" if setup.init != "he" else "plain He",
              "optimizer": "SGD, no momentum, no weight decay, 1 epoch",
              "data": f"CIFAR-10 JPEG train, class-balanced subset of {setup.images} (subset seed 0), "
                      f"{setup.resolution}x{setup.resolution}" + ("" if cnn else ", flattened")}
    summary = {"r_log": a["r_log"], "r_linear": a["r_linear"], "slope_log": a["slope_log"], "n": a["n"],
               "within_2x": a["within_2x"], "median_factor": a["median_factor"],
               "base_lr": round(result["main"]["base_lr"], 4), "reproduced": bool(a["r_log"] >= 0.8),
               "r_log_alt_offset": result["alt_offset"]["agreement"]["r_log"],
               "r_miss_vs_output_scale": result["diagnostics"]["r_log2_miss_vs_log2_output_scale"]}
    return {"summary": summary, "config": config, "cnn": cnn, **result}


def _mlp_rule() -> LRRule:
    return LRRule(s_base=sum_l3(from_adjacency(chain(0)), OFFSET), offset=OFFSET)


def _run_mlp_depth(fast: bool, dags: list[str] | None, log: Callable[[str], None],
                   init: InitScheme = "target", readout: str = "mup") -> dict[str, Any]:
    depths = [1, 4, 10] if fast else list(range(1, 11))
    targets = [Candidate(chain(k), label=f"depth {k}") for k in depths]
    setup = replace(MLP_SETUP[fast], init=init, readout=readout)
    return _lr_experiment(setup, Candidate(chain(0), label="depth 0 (base)"), targets, _mlp_rule(), False, log)


def _run_mlp_topology(fast: bool, dags: list[str] | None, log: Callable[[str], None],
                      init: InitScheme = "target", readout: str = "mup") -> dict[str, Any]:
    if dags:
        adjs = [validate_adjacency(a) for a in dags]
    else:  # fast: a chain, all ten edges layers, and a skip-heavy DAG (output scale 36x at init)
        adjs = ["2_02_002_0002", "2_22_222_2222", "1_11_111_0011"] if fast else spread_by_s(5, 12, OFFSET, seed=0)
    targets = [Candidate(a) for a in adjs]
    setup = replace(MLP_SETUP[fast], init=init, readout=readout)
    return _lr_experiment(setup, Candidate(chain(0), label="base"), targets, _mlp_rule(), False, log)


def _run_cnn(fast: bool, dags: list[str] | None, log: Callable[[str], None],
             init: InitScheme = "target", readout: str = "mup") -> dict[str, Any]:
    if dags:
        adjs = [validate_adjacency(a) for a in dags]
    else:
        adjs = spread_by_s(4, 3, OFFSET, seed=0)
    pairs = [("2", 1), ("2", 7), ("2_22_222", 7)] if fast and not dags else [(a, q) for a in adjs for q in (1, 3, 5, 7)]
    targets = [Candidate(a, q, label=f"{a} q={q}") for a, q in pairs]
    rule = LRRule(s_base=sum_l3(from_adjacency(chain(0)), OFFSET), offset=OFFSET, q_base=3, kernel_factor=True)
    setup = replace(CNN_SETUP[fast], init=init, readout=readout)
    return _lr_experiment(setup, Candidate(chain(0), 3, label="base q=3"), targets, rule, True, log)


INIT_DAGS_FAST = ["2_22_222_2222", "2_20_222_0222_22022", "2_12_112_2121"]


def init_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst deviation from the input's second moment per scheme, layer-only and skip DAGs apart."""
    out: dict[str, Any] = {}
    for label, has_skip in (("layer_only", False), ("with_skips", True)):
        for scheme in INIT_SCHEMES:
            dev, dev3, theory_gap, within = [], [], [], []
            for row in (r for r in rows if r["scheme"] == scheme and r["has_skip"] == has_skip):
                for d, m, e in list(zip(row["in_degree"], row["measured"], row["exact"]))[1:]:
                    dev.append(abs(m - 1))
                    within.append(abs(m - 1) <= 0.05)
                    theory_gap.append(abs(m - e) / e)
                    if d >= 3:
                        dev3.append(abs(m - 1))
            if dev:
                out[f"{label}.{scheme}"] = {
                    "max_abs_dev": round(max(dev), 4),
                    "max_abs_dev_in_degree_ge3": round(max(dev3), 4) if dev3 else None,
                    "fraction_within_5pct": round(float(np.mean(within)), 3), "vertices": len(dev),
                    "max_rel_gap_to_exact": round(max(theory_gap), 4)}
    target = out.get("layer_only.target")
    out["reproduced"] = bool(target and target["max_abs_dev"] <= 0.05)
    return out


def _run_init(fast: bool, dags: list[str] | None, log: Callable[[str], None]) -> dict[str, Any]:
    config = InitConfig(width=256, draws=16, inputs=4) if fast else InitConfig()
    if dags:
        adjs = [validate_adjacency(a, every_vertex_fed=True) for a in dags]
    elif fast:
        adjs = INIT_DAGS_FAST
    else:
        adjs = random_init_dags(12, seed=0, codes=(2,)) + random_init_dags(4, seed=1, codes=(1, 2))
    rows = run_init(adjs, config, log)
    return {"summary": init_summary(rows), "config": {**asdict(config), "dags": adjs,
            "input": "x ~ N(0, I_width) at vertex 0 (paper eq. 1: no stem)"}, "rows": rows}


register(Experiment("init", "E||z||^2 per vertex at init", "§3.2 eq. 4 / App. A eq. 12",
                    "every vertex keeps the input's scale", "target degree: every vertex within 5 %",
                    _run_init, plot_init, accepts_dags=True))
register(Experiment("mlp-depth", "MLP depth: predicted vs max LR", "App. D, Fig. 5", "r = 0.962",
                    "r(log) >= 0.8", _run_mlp_depth, plot_lr, options=("init", "readout")))
register(Experiment("mlp-topology", "MLP topology: predicted vs max LR", "§4.1, Fig. 2", "r = 0.838",
                    "r(log) >= 0.8", _run_mlp_topology, plot_lr, accepts_dags=True, options=("init", "readout")))
register(Experiment("cnn", "CNN topology x kernel: predicted vs max LR", "§4.2, Fig. 3", "r = 0.856",
                    "r(log) >= 0.8", _run_cnn, plot_lr, accepts_dags=True, options=("init", "readout")))
