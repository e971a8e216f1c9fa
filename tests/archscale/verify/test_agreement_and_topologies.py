"""Scoring predicted vs measured LRs, and the DAG families the studies use."""

from __future__ import annotations

import math

import pytest

from archscale.dag import DAGError, from_adjacency
from archscale.scaling import sum_l3
from archscale.verify.agreement import agreement, pearson
from archscale.verify.topologies import all_adjacencies, chain, random_dag, spread_by_s, validate_adjacency


def test_agreement_on_the_identity_and_off_it():
    exact = agreement([0.1, 0.2, 0.4, 0.8], [0.1, 0.2, 0.4, 0.8])
    assert exact.r_log == pytest.approx(1) and exact.slope_log == pytest.approx(1)
    assert exact.median_factor == pytest.approx(1) and exact.within_2x == 1
    # off by a constant factor 4: r is blind to it, the factor and within-2x are not
    scaled = agreement([0.1, 0.2, 0.4, 0.8], [0.4, 0.8, 1.6, 3.2])
    assert scaled.r_log == pytest.approx(1) and scaled.median_factor == pytest.approx(4) and scaled.within_2x == 0
    # right order, half the exponent: slope 0.5
    assert agreement([1, 4, 16], [1, 2, 4]).slope_log == pytest.approx(0.5)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="positive"):
        agreement([0.1, 0.2], [0.1, 0.0])


def test_chain_and_the_released_offset():
    assert chain(0) == "1" and chain(3) == "2_02_002"
    assert sum_l3(from_adjacency(chain(0)), offset=3) == 27  # the released DEPTHS_BASE = [3]
    assert sum_l3(from_adjacency(chain(4)), offset=3) == 7 ** 3


def test_enumeration_and_spread():
    assert sum(1 for _ in all_adjacencies(4)) == 3 ** 6
    picked = spread_by_s(4, 4, offset=3, seed=0)
    s = [sum_l3(from_adjacency(a), 3) for a in picked]
    assert s == sorted(s) and len(set(s)) == 4
    assert s[0] == 27 and s[-1] == sum_l3(from_adjacency("2_22_222"), 3)  # the extremes are included
    with pytest.raises(ValueError, match="distinct S"):
        spread_by_s(2, 5, offset=3)


def test_random_dag_feeds_every_vertex():
    import random

    for seed in range(20):
        dag = from_adjacency(random_dag(random.Random(seed), 7, 0.1))
        assert all(d >= 1 for d in dag.in_degrees()[1:])


def test_validate_adjacency_names_the_problem():
    assert validate_adjacency("2_02") == "2_02"
    with pytest.raises(DAGError, match="no input->output path"):
        validate_adjacency("2_00")
    with pytest.raises(DAGError, match="no incoming edge"):
        validate_adjacency("2_00_012", every_vertex_fed=True)  # vertex 2 has no input
    with pytest.raises(DAGError, match="digits 0/1/2"):
        validate_adjacency("2_3")
