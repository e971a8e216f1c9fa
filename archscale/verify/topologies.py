"""Families of DAGs for the experiments, written as adjacency strings.

The string is the released code's convention read by :func:`archscale.dag.from_adjacency`:
for each vertex 1..L+1 the codes of its edges from vertices 0..v-1, groups joined by
``_``; 0 = no edge, 1 = skip, 2 = layer. ``"2_02_002"`` is a chain of three layers.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Iterator

from archscale.dag import DAGError, from_adjacency
from archscale.scaling import sum_l3

__all__ = ["chain", "all_adjacencies", "random_dag", "spread_by_s", "validate_adjacency"]


def chain(layers: int) -> str:
    """A chain of ``layers`` layer edges; ``chain(0)`` is one skip edge (the L = 1 base network)."""
    if layers < 0:
        raise ValueError(f"layers={layers}: use 0 (the base network) or more")
    if layers == 0:
        return "1"
    return "_".join("0" * v + "2" for v in range(layers))


def all_adjacencies(vertices: int, codes: tuple[int, ...] = (0, 1, 2)) -> Iterator[str]:
    """Every DAG on ``vertices`` vertices (input and output included) with edge codes from ``codes``."""
    if not 2 <= vertices <= 6:
        raise ValueError(f"vertices={vertices}: enumerate 2..6 vertices (3^15 DAGs at 6 already)")
    sizes = list(range(1, vertices))
    for flat in itertools.product(codes, repeat=sum(sizes)):
        groups, start = [], 0
        for size in sizes:
            groups.append("".join(str(c) for c in flat[start:start + size]))
            start += size
        yield "_".join(groups)


def random_dag(rng: random.Random, vertices: int, edge_prob: float, codes: tuple[int, ...] = (2,)) -> str:
    """A random DAG in which every vertex 1..L+1 has at least one incoming edge.

    Each possible edge is present with ``edge_prob`` (its code drawn from ``codes``); a
    vertex left without inputs gets one edge from a uniformly drawn earlier vertex.
    """
    groups = []
    for v in range(1, vertices):
        row = [rng.choice(codes) if rng.random() < edge_prob else 0 for _ in range(v)]
        if not any(row):
            row[rng.randrange(v)] = rng.choice(codes)
        groups.append("".join(map(str, row)))
    return "_".join(groups)


def spread_by_s(vertices: int, count: int, offset: int, seed: int = 0,
                codes: tuple[int, ...] = (0, 1, 2)) -> list[str]:
    """``count`` DAGs whose S = sum_p L_p^3 spread evenly in log S over all DAGs with a path.

    For each of ``count`` log-spaced targets between the smallest and largest S, the
    nearest S value not taken yet is chosen, then one DAG with that S at random.
    """
    by_s: dict[int, list[str]] = {}
    for adj in all_adjacencies(vertices, codes):
        s = sum_l3(from_adjacency(adj), offset)
        if s > 0:
            by_s.setdefault(s, []).append(adj)
    values = sorted(by_s)
    if count > len(values):
        raise ValueError(f"count={count}: only {len(values)} distinct S values exist on {vertices} vertices")
    rng = random.Random(seed)
    lo, hi = math.log(values[0]), math.log(values[-1])
    picked: list[str] = []
    taken: set[int] = set()
    for i in range(count):
        target = lo + (hi - lo) * i / max(count - 1, 1)
        s = min((v for v in values if v not in taken), key=lambda v: abs(math.log(v) - target))
        taken.add(s)
        picked.append(rng.choice(by_s[s]))
    return sorted(picked, key=lambda adj: sum_l3(from_adjacency(adj), offset))


def validate_adjacency(adj: str, every_vertex_fed: bool = False) -> str:
    """The adjacency string itself if it parses and has an input->output path, else a DAGError saying why.

    ``every_vertex_fed`` also asks every vertex 1..L+1 for an incoming edge (a vertex
    without one is identically zero: nothing to measure at init).
    """
    dag = from_adjacency(adj)
    if every_vertex_fed:
        starved = [v for v, d in enumerate(dag.in_degrees()) if v > 0 and d == 0]
        if starved:
            raise DAGError(f"DAG {adj!r}: vertices {starved} have no incoming edge (always zero); "
                           "give each vertex at least one 1 or 2 in its group")
    if sum_l3(dag, 1) == 0:
        raise DAGError(f"DAG {adj!r} has no input->output path through non-zero edges: the LR rule is undefined; "
                       "give every path at least one skip (1) or layer (2) edge")
    return adj
