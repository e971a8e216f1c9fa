"""The top-K% rule of the Kendall answers, as docs/api.md states it (service.api.rankings)."""

from __future__ import annotations

import numpy as np

from service.api.rankings import kendall_rows, top_count
from service.storage.readmodel import Series, SeriesKey


def series(values: list[float], name: str) -> Series:
    mean = np.array(values, dtype=float)
    return Series(SeriesKey(name, "cifar10", "test"), "original", mean, np.full(len(mean), np.nan),
                  np.zeros(len(mean), np.int64), (), np.empty((len(mean), 0)), "seed-mean", "standard", None)


def test_k_percent_of_n_is_rounded_up_exactly():
    assert [top_count(k, 100) for k in (7, 14, 28, 55, 56)] == [7, 14, 28, 55, 56]  # floats gave 8, 15, 29, 56, 57
    assert top_count(10, 15_625) == 1563 and top_count(1, 15_625) == 157 and top_count(0.5, 3) == 1
    assert top_count(100, 15_625) == 15_625 and top_count(5, 0) == 0


def test_boundary_ties_go_to_the_lower_index_and_union_takes_both_picks():
    a = series([5, 9, 7, 7, 7, 1, np.nan, 3], "a")  # arch 6 has no a number: not a candidate
    b = series([1, 2, 3, 4, 5, 6, 7, 8], "b")
    n_common, rows = kendall_rows(a, b, (30.0,), "a", "b")
    assert n_common == 7  # ceil(0.3 * 7) = 3: arch 1 (9), then the tie at 7 between 2, 3, 4 -> 2, 3
    (row,) = rows
    assert row["n"] == 3 and row["ties_a"] == 1  # archs 1, 2, 3: a = 9, 7, 7
    _, (by_b,) = kendall_rows(a, b, (30.0,), "b", "b")
    assert by_b["n"] == 3 and by_b["ties_a"] == 0  # b's top 3 of the 7 with both: archs 7, 5, 4
    _, (union,) = kendall_rows(a, b, (30.0,), "union", "b")
    assert union["n"] == 6  # {1, 2, 3} | {7, 5, 4}
    assert union["tau"] is not None and -1 <= union["tau"] <= 1
