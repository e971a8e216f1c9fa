"""E||z^(l)||^2 at initialisation, per vertex of random DAG MLPs (paper §3.2, App. A).

Under eq. 1 with x ~ N(0, I) the exact expectation follows from second moments
K[u, w] = E<z^(u), z^(w)> / n, vertex by vertex: a layer edge u -> v adds a fresh
zero-mean W relu(z^(u)), uncorrelated with everything before it and with second moment
(C / 2) K[u, u]; an identity edge adds z^(u) itself, cross terms included. So

    K[v, v] = sum_{layer u->v} C_uv / 2 K[u, u] + sum_{identity u, u' -> v} K[u, u'],
    K[v, w] = sum_{identity u->v} K[u, w]          (w < v).

With layer edges only and C = 2 / d_in(target) every K[v, v] is 1: App. A's claim. We
measure the same quantity by Monte Carlo (independent weight draws, width >= 512) and
report both, for target-degree, source-degree and plain He init.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from archscale.dag import DAG, EdgeKind, from_adjacency

from .dagnet import INIT_SCHEMES, DagMLP, InitScheme, edge_multipliers
from .topologies import random_dag

__all__ = ["expected_ratios", "measured_ratios", "InitConfig", "random_init_dags", "run_init"]


def expected_ratios(dag: DAG, scheme: InitScheme) -> np.ndarray:
    """Exact E||z^(v)||^2 / E||x||^2 for every vertex v (eq. 1, x centred Gaussian)."""
    mult = edge_multipliers(dag, scheme)
    n = dag.num_vertices
    k = np.zeros((n, n))
    k[0, 0] = 1.0
    for v in range(1, n):
        layers = [e for e in dag.live_edges if e.dst == v and e.kind is EdgeKind.LAYER]
        skips = [e.src for e in dag.live_edges if e.dst == v and e.kind is EdgeKind.IDENTITY]
        k[v, v] = (sum(mult[(e.src, v)] / 2 * k[e.src, e.src] for e in layers)
                   + sum(k[a, b] for a in skips for b in skips))
        for w in range(v):
            k[v, w] = k[w, v] = sum(k[u, w] for u in skips)
    return np.diag(k).copy()


def measured_ratios(dag: DAG, scheme: InitScheme, width: int, draws: int, inputs: int, seed: int,
                    chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo mean of ||z^(v)||^2 / ||x||^2 over ``draws`` networks x ``inputs`` inputs, and its standard error.

    The same seed gives every scheme the same standard-normal draws (only the scale
    differs), so schemes are compared on common random numbers.
    """
    net = DagMLP(dag, width, init=scheme)
    gen = torch.Generator().manual_seed(seed)
    per_draw = []
    with torch.no_grad():
        for start in range(0, draws, chunk):
            g = min(chunk, draws - start)
            params = net.init_params(g, gen, shared=False)
            x = torch.randn(g, inputs, width, generator=gen)
            z = net.vertices(params, x)
            sq = torch.stack([zv.pow(2).sum(-1).mean(-1) for zv in z], dim=1).double()  # (g, vertices)
            per_draw.append(sq / sq[:, :1])
    ratios = torch.cat(per_draw).numpy()
    return ratios.mean(0), ratios.std(0, ddof=1) / np.sqrt(len(ratios))


@dataclass(frozen=True)
class InitConfig:
    width: int = 512
    draws: int = 64
    inputs: int = 8
    seed: int = 0


def random_init_dags(count: int, seed: int, codes: tuple[int, ...]) -> list[str]:
    """DAGs of 4..10 vertices and edge densities 0.3..0.9, so depths and in-degrees vary."""
    rng = random.Random(seed)
    shapes = [(v, p) for v in (4, 6, 8, 10) for p in (0.3, 0.6, 0.9)]
    rng.shuffle(shapes)
    return [random_dag(rng, v, p, codes) for v, p in (shapes * 2)[:count]]


def run_init(dags: list[str], config: InitConfig, log=lambda _: None) -> list[dict]:
    """One row per (DAG, scheme): per-vertex in-degree, measured ratio, standard error, exact ratio."""
    rows = []
    for i, adj in enumerate(dags):
        dag = from_adjacency(adj)
        for scheme in INIT_SCHEMES:
            mean, sem = measured_ratios(dag, scheme, config.width, config.draws, config.inputs,  # type: ignore[arg-type]
                                        config.seed + i)
            exact = expected_ratios(dag, scheme)  # type: ignore[arg-type]
            rows.append({"dag": adj, "scheme": scheme, "has_skip": "1" in adj, "in_degree": dag.in_degrees(),
                         "measured": [round(float(v), 5) for v in mean], "stderr": [round(float(v), 5) for v in sem],
                         "exact": [round(float(v), 5) for v in exact]})
        log(f"{adj:40s} target max|dev| {max(abs(v - 1) for v in rows[-3]['measured']):.3f}")
    return rows
