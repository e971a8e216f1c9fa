import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archscale.dag import DAG, DAGError, Edge, EdgeKind, from_adjacency, from_edges, from_nb201, path_moments
from archscale.space import all_cells


def enumerate_path_depths(dag: DAG, offset: int) -> list[int]:
    """Brute force, tests only: L of every input->output path."""
    out = {}
    for e in dag.live_edges:
        out.setdefault(e.src, []).append(e)
    depths = []

    def walk(v: int, depth: int) -> None:
        if v == dag.output:
            depths.append(depth)
            return
        for e in out.get(v, []):
            walk(e.dst, depth + e.depth)

    walk(0, offset)
    return depths


@st.composite
def random_dags(draw):
    n = draw(st.integers(min_value=2, max_value=12))
    edges = []
    for dst in range(1, n):
        for src in range(dst):
            kind = draw(st.sampled_from(list(EdgeKind)))
            edges.append(Edge(src, dst, kind, draw(st.sampled_from([1, 3, 5]))))
    return DAG(n, tuple(edges))


@settings(max_examples=300, deadline=None)
@given(dag=random_dags(), offset=st.integers(min_value=0, max_value=4))
def test_dynamic_programming_equals_path_enumeration(dag, offset):
    depths = enumerate_path_depths(dag, offset)
    top = path_moments(dag, offset)[dag.output]
    assert top.count == len(depths)
    assert top.s1 == sum(depths)
    assert top.s2 == sum(d ** 2 for d in depths)
    assert top.s3 == sum(d ** 3 for d in depths)


def test_dense_200_vertex_dag_is_exact_with_big_ints():
    n = 200
    dag = from_edges(n, [(s, d, "layer") for d in range(1, n) for s in range(d)])
    top = path_moments(dag, offset=1)[dag.output]
    # A path is a subset of the 198 hidden vertices; k hidden vertices -> k+1 layers.
    assert top.count == 2 ** 198 > 10 ** 50
    assert top.s3 == sum(math.comb(198, k) * (1 + k + 1) ** 3 for k in range(199))


def test_nb201_cell_dag_kinds():
    dag = from_nb201("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    kinds = {(e.src, e.dst): (e.kind, e.kernel) for e in dag.edges}
    assert kinds[(0, 1)] == (EdgeKind.LAYER, 3)
    assert kinds[(0, 2)][0] is EdgeKind.ZERO
    assert kinds[(1, 2)][0] is EdgeKind.IDENTITY  # avg pool: parameter-free, adds 0 to L
    assert kinds[(1, 3)] == (EdgeKind.LAYER, 1)
    assert dag.in_degrees() == [0, 1, 1, 2]


def test_adjacency_forms_agree():
    a = from_adjacency("2_12_202")
    b = from_adjacency([[2], [1, 2], [2, 0, 2]])
    c = from_adjacency([[0, 2, 1, 2], [0, 0, 2, 0], [0, 0, 0, 2], [0, 0, 0, 0]])
    assert a == b == c
    assert a.in_degrees() == [0, 1, 2, 2]
    assert path_moments(a)[a.output].count == 3


@pytest.mark.parametrize("spec, message", [
    ("2_3_002", "digits 0/1/2"),
    ("2_0_002", "vertex 2 must list 2 edge codes"),
    ([[2], [0, 7]], r"use 0 \(none\), 1 \(skip\) or 2 \(layer\)"),
    ([[0, 2], [2, 0]], "strictly upper triangular"),
])
def test_bad_adjacency_is_explained(spec, message):
    with pytest.raises(DAGError, match=message):
        from_adjacency(spec)


def test_bad_edges_are_explained():
    with pytest.raises(DAGError, match="0 <= src < dst"):
        from_edges(3, [(2, 1, "layer")])
    with pytest.raises(DAGError, match="appears twice"):
        from_edges(3, [(0, 1, "layer"), (0, 1, "identity")])
    with pytest.raises(DAGError, match="use one of"):
        from_edges(3, [(0, 1, "conv")])
    with pytest.raises(DAGError, match="at least 2 vertices"):
        DAG(1, ())


def test_kernel_size():
    assert from_adjacency("2_02", kernel=5).kernel_size() == 5
    with pytest.raises(DAGError, match="several kernel sizes"):
        from_nb201("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|").kernel_size()


def test_341_cells_have_no_input_output_path():
    assert sum(path_moments(from_nb201(c))[3].count == 0 for c in all_cells()) == 341
