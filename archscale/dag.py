"""DAG networks (paper §3.1) and their path moments.

Vertices are 0..L+1: 0 is the input, L+1 the output; every vertex sums its incoming
edges. An edge is ``zero`` (absent), ``identity`` (parameter-free: skip, and NB201's
average pool) or ``layer`` (ReLU -> Linear/Conv with kernel size ``kernel``).

The learning-rate rule needs S = sum over input->output paths p of L_p^3, where L_p is
``offset`` plus the number of ``layer`` edges on p. Path counts grow exponentially with
depth, so :func:`path_moments` carries per-vertex moments (count, sum L, sum L^2,
sum L^3) through the DAG in topological order: O(V + E), exact with Python ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Sequence

from .space import CONV_OPS, Cell, resolve_arch

__all__ = [
    "EdgeKind",
    "Edge",
    "DAG",
    "DAGError",
    "PathMoments",
    "path_moments",
    "from_nb201",
    "from_adjacency",
    "from_edges",
]


class DAGError(ValueError):
    """An invalid DAG specification; the message says which edge and how to fix it."""


class EdgeKind(str, Enum):
    ZERO = "zero"
    IDENTITY = "identity"
    LAYER = "layer"


@dataclass(frozen=True, slots=True)
class Edge:
    src: int
    dst: int
    kind: EdgeKind
    kernel: int = 1  # kernel size q of a layer edge (1 for Linear)
    label: str | None = None  # e.g. the NB201 op name

    @property
    def is_live(self) -> bool:
        return self.kind is not EdgeKind.ZERO

    @property
    def depth(self) -> int:
        """How much this edge adds to a path's L."""
        return 1 if self.kind is EdgeKind.LAYER else 0


@dataclass(frozen=True, slots=True)
class PathMoments:
    """Moments of L over the input->v paths: count, sum L, sum L^2, sum L^3."""

    count: int
    s1: int
    s2: int
    s3: int

    def shifted(self, w: int) -> PathMoments:
        """Moments after appending an edge that adds ``w`` to every path's L."""
        c, s1, s2, s3 = self.count, self.s1, self.s2, self.s3
        return PathMoments(c, s1 + w * c, s2 + 2 * w * s1 + w * w * c,
                           s3 + 3 * w * s2 + 3 * w * w * s1 + w ** 3 * c)

    def __add__(self, other: PathMoments) -> PathMoments:
        return PathMoments(self.count + other.count, self.s1 + other.s1,
                           self.s2 + other.s2, self.s3 + other.s3)


_NO_PATHS = PathMoments(0, 0, 0, 0)


@dataclass(frozen=True)
class DAG:
    """A DAG network with vertices 0..num_vertices-1 and edges src < dst."""

    num_vertices: int
    edges: tuple[Edge, ...]

    def __post_init__(self) -> None:
        if self.num_vertices < 2:
            raise DAGError(f"a DAG needs at least 2 vertices (input and output), got {self.num_vertices}")
        seen = set()
        for e in self.edges:
            if not (0 <= e.src < e.dst < self.num_vertices):
                raise DAGError(f"edge {e.src}->{e.dst} must satisfy 0 <= src < dst <= {self.num_vertices - 1}; "
                               "number vertices in topological order")
            if (e.src, e.dst) in seen:
                raise DAGError(f"edge {e.src}->{e.dst} appears twice; give each vertex pair one edge")
            if e.kind is EdgeKind.LAYER and e.kernel < 1:
                raise DAGError(f"edge {e.src}->{e.dst} has kernel size {e.kernel}; use a positive int")
            seen.add((e.src, e.dst))
        # Topological order by construction: keep edges sorted by target, then source.
        object.__setattr__(self, "edges", tuple(sorted(self.edges, key=lambda e: (e.dst, e.src))))

    @property
    def output(self) -> int:
        return self.num_vertices - 1

    @property
    def live_edges(self) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.is_live)

    @property
    def layer_edges(self) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.kind is EdgeKind.LAYER)

    def in_degrees(self) -> list[int]:
        """Number of live (non-zero) edges into each vertex."""
        degrees = [0] * self.num_vertices
        for e in self.live_edges:
            degrees[e.dst] += 1
        return degrees

    def kernel_size(self) -> int:
        """The common kernel size q of the layer edges (1 for an MLP)."""
        kernels = {e.kernel for e in self.layer_edges}
        if len(kernels) > 1:
            raise DAGError(f"layer edges use several kernel sizes {sorted(kernels)}; the kernel factor q^-1 "
                           "of the LR rule assumes one q: pass q explicitly")
        return kernels.pop() if kernels else 1


def path_moments(dag: DAG, offset: int = 1) -> list[PathMoments]:
    """Per-vertex moments of L over all input->vertex paths (L = offset + #layers)."""
    moments = [_NO_PATHS] * dag.num_vertices
    moments[0] = PathMoments(1, offset, offset ** 2, offset ** 3)
    for e in dag.live_edges:  # sorted by dst: every source is final before it is read
        moments[e.dst] = moments[e.dst] + moments[e.src].shifted(e.depth)
    return moments


def from_nb201(arch: Cell | str | int) -> DAG:
    """The cell as a DAG: ``none`` -> zero, skip and avg-pool -> identity, convs -> layer."""
    cell = resolve_arch(arch)
    edges = []
    for src, dst, op in cell.edges():
        if op == "none":
            kind = EdgeKind.ZERO
        elif op in CONV_OPS:
            kind = EdgeKind.LAYER
        else:
            kind = EdgeKind.IDENTITY
        edges.append(Edge(src, dst, kind, CONV_OPS.get(op, 1), op))
    return DAG(4, tuple(edges))


_ADJ_KINDS = {0: EdgeKind.ZERO, 1: EdgeKind.IDENTITY, 2: EdgeKind.LAYER}


def from_adjacency(spec: str | Sequence[Sequence[int]], kernel: int = 1) -> DAG:
    """The paper's convention: 0 = no edge, 1 = skip, 2 = Linear/Conv + ReLU.

    ``spec`` lists, for each vertex 1..L+1, the codes of its edges from vertices 0..v-1:
    either the released code's string ``"2_02_002"`` or ``[[2], [0, 2], [0, 0, 2]]``.
    A square matrix ``A[src][dst]`` (upper triangular) is accepted too.
    """
    rows = _adjacency_rows(spec)
    edges = []
    for dst, row in enumerate(rows, start=1):
        if len(row) != dst:
            raise DAGError(f"vertex {dst} must list {dst} edge codes (from vertices 0..{dst - 1}), got {len(row)}")
        for src, code in enumerate(row):
            if code not in _ADJ_KINDS:
                raise DAGError(f"edge {src}->{dst} has code {code!r}; use 0 (none), 1 (skip) or 2 (layer)")
            if code:
                edges.append(Edge(src, dst, _ADJ_KINDS[code], kernel))
    return DAG(len(rows) + 1, tuple(edges))


def _adjacency_rows(spec: str | Sequence[Sequence[int]]) -> list[list[int]]:
    if isinstance(spec, str):
        if not spec or any(ch not in "012_" for ch in spec):
            raise DAGError(f"adjacency string {spec!r} must be digits 0/1/2 grouped by '_', e.g. '2_02_002'")
        return [[int(ch) for ch in group] for group in spec.split("_")]
    rows = [list(r) for r in spec]
    n = len(rows)
    if n > 1 and all(len(r) == n for r in rows):  # square matrix A[src][dst]
        if any(rows[i][j] for i in range(n) for j in range(i + 1)):
            raise DAGError("a square adjacency matrix must be strictly upper triangular (A[src][dst], src < dst)")
        return [[rows[src][dst] for src in range(dst)] for dst in range(1, n)]
    return rows


def from_edges(num_vertices: int, edges: Iterable[tuple]) -> DAG:
    """From ``(src, dst, kind)`` or ``(src, dst, kind, kernel)`` tuples; kind is an EdgeKind or its name."""
    built = []
    for item in edges:
        src, dst, kind, *rest = item
        try:
            kind = EdgeKind(kind)
        except ValueError:
            raise DAGError(f"edge {src}->{dst} has kind {kind!r}; use one of "
                           f"{[k.value for k in EdgeKind]}") from None
        built.append(Edge(int(src), int(dst), kind, int(rest[0]) if rest else 1))
    return DAG(num_vertices, tuple(built))
