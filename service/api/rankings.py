"""Leaderboards and rank correlations over a snapshot (numpy; scipy for Kendall's tau).

Ranks are competition ranks on accuracy, best = 1, ties share the best rank. A top-K%
selection takes ceil(K/100 * n) archs of the ranking named by ``select_by``; ties at the
boundary are broken by official index so the answer is deterministic.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np

from archscale.space import OPS
from service.schemas.rankings import DEFAULT_KS
from service.storage.readmodel import Series, Snapshot

__all__ = ["competition_ranks", "LeaderboardView", "leaderboard_view", "sorted_order", "filter_mask",
           "leaderboard_rows", "kendall_rows", "tied_pairs", "DEFAULT_KS", "seed_floor_series", "top_count"]



def competition_ranks(values: np.ndarray, within: np.ndarray | None = None) -> np.ndarray:
    """1 + number of strictly better values among ``within`` (default: all non-NaN); NaN outside."""
    present = ~np.isnan(values) if within is None else within
    ranks = np.full(values.shape, np.nan)
    ascending = np.sort(values[present])
    ranks[present] = len(ascending) - np.searchsorted(ascending, values[present], side="right") + 1
    return ranks


class LeaderboardView:
    """Both columns of a leaderboard with every rank precomputed (one per snapshot and sources)."""

    def __init__(self, original: Series, rescaled: Series):
        self.original, self.rescaled = original, rescaled
        a, b = original.mean, rescaled.mean
        common = ~np.isnan(a) & ~np.isnan(b)
        self.n_common = int(common.sum())
        # One rank basis per view, so that a row adds up (rank_change = original_rank - rescaled_rank):
        # "both": ranks among the archs with both numbers (null for the others); "each": nothing in
        # common (e.g. no re-scaled results yet), each column ranked among its own archs.
        self.rank_basis = "both" if self.n_common else "each"
        within = common if self.n_common else None
        self.rank_original = competition_ranks(a, within)
        self.rank_rescaled = competition_ranks(b, within)
        self.rank_change = self.rank_original - self.rank_rescaled  # NaN unless both ranks exist
        self._orders: dict[tuple[str, str], np.ndarray] = {}

    def column(self, sort: str) -> np.ndarray:
        return {"original": self.original.mean, "rescaled": self.rescaled.mean, "rank_change": self.rank_change}[sort]


def leaderboard_view(snapshot: Snapshot, original: Series, rescaled: Series) -> LeaderboardView:
    return snapshot.remember("leaderboard-view", (original.key, rescaled.key),
                             lambda: LeaderboardView(original, rescaled), limit=64)


def sorted_order(snapshot: Snapshot, view: LeaderboardView, sort: str, order: str) -> np.ndarray:
    """All indices sorted by ``sort`` (missing values last, ties by index); memoised."""
    def compute() -> np.ndarray:
        values = view.column(sort)
        missing = np.isnan(values)
        filled = np.where(missing, 0.0, values)
        primary = -filled if order == "desc" else filled
        return np.lexsort((np.arange(len(values)), primary, missing))
    # ~125 kB each; 4 settings x 3 sorts x 2 orders x a few source pairs fit
    return snapshot.remember("leaderboard-order", (view.original.key, view.rescaled.key, sort, order), compute,
                             limit=128)


def filter_mask(snapshot: Snapshot, dataset: str, view: LeaderboardView, ops: list[str], exclude_ops: list[str],
                params_min: int | None, params_max: int | None, has_results: bool | None) -> np.ndarray | None:
    """Boolean mask of the archs passing every filter (None when there is no filter)."""
    mask: np.ndarray | None = None

    def both(more: np.ndarray) -> None:
        nonlocal mask
        mask = more if mask is None else mask & more

    if ops:
        bits = sum(1 << OPS.index(op) for op in set(ops))
        both((snapshot.ops_mask & bits) == bits)
    if exclude_ops:
        bits = sum(1 << OPS.index(op) for op in set(exclude_ops))
        both((snapshot.ops_mask & bits) == 0)
    params = snapshot.settings[dataset]["params"]
    if params_min is not None:
        both(params >= params_min)
    if params_max is not None:
        both(params <= params_max)
    if has_results is not None:
        both(~np.isnan(view.rescaled.mean) == has_results)
    return mask


def _float(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _column(values: np.ndarray, indices: np.ndarray, integer: bool = False) -> list[Any]:
    """values[indices] as Python numbers with NaN -> None (vectorised: no numpy scalars)."""
    picked = values[indices].tolist()
    if integer:
        return [None if v != v else int(v) for v in picked]
    return [None if v != v else v for v in picked]


def leaderboard_rows(snapshot: Snapshot, dataset: str, view: LeaderboardView, indices: np.ndarray) -> list[dict]:
    settings = snapshot.settings[dataset]
    columns = {
        "index": indices.tolist(),
        "arch_str": [snapshot.arch_str[i] for i in indices.tolist()],
        "original": _column(view.original.mean, indices),
        "rescaled": _column(view.rescaled.mean, indices),
        "rescaled_std": _column(view.rescaled.std, indices),
        "rescaled_n": view.rescaled.n[indices].tolist(),
        # Served numbers (batch dedup) are ranked like the others but marked: seeds served, and from which arch.
        "rescaled_served": view.rescaled.served_n[indices].tolist(),
        "served_from": ([None] * len(indices) if view.rescaled.served_from is None else
                        [None if v < 0 else v for v in view.rescaled.served_from[indices].tolist()]),
        "original_rank": _column(view.rank_original, indices, integer=True),
        "rescaled_rank": _column(view.rank_rescaled, indices, integer=True),
        "rank_change": _column(view.rank_change, indices, integer=True),
        "params": settings["params"][indices].tolist(),
        "flops": settings["flops"][indices].tolist(),
        "lr": _column(settings["lr"], indices),
    }
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def tied_pairs(values: np.ndarray) -> int:
    _, counts = np.unique(values, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def _tau(x: np.ndarray, y: np.ndarray, variant: str) -> tuple[float | None, float | None]:
    from scipy.stats import kendalltau  # lazy: scipy.stats costs ~0.3 s to import

    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return None, None
    result = kendalltau(x, y, variant=variant)
    return _float(result.statistic), _float(result.pvalue)


def top_count(k: float, n: int) -> int:
    """How many of ``n`` archs the top-``k``% holds: ceil(k * n / 100), computed exactly on the
    decimal ``k`` (in floats 7 / 100 * 100 = 7.000000000000001, whose ceiling would be 8)."""
    return math.ceil(Fraction(str(k)) * n / 100)


def _ranked(values: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``candidates`` best first (ties by index): the top m of any K is a prefix of it."""
    return candidates[np.lexsort((candidates, -values[candidates]))]


def _noise_floor(series: Series, selection: np.ndarray, variant: str) -> dict[str, Any] | None:
    if len(series.seeds) < 2:
        return None
    pairs = []
    for i, j in combinations(range(len(series.seeds)), 2):
        x, y = series.per_seed[selection, i], series.per_seed[selection, j]
        both = ~np.isnan(x) & ~np.isnan(y)
        tau, _ = _tau(x[both], y[both], variant)
        pairs.append({"seeds": [series.seeds[i], series.seeds[j]], "tau": tau, "n": int(both.sum())})
    taus = [p["tau"] for p in pairs if p["tau"] is not None]
    floor = {"source": series.key.origin, "split": series.key.split, "pairs": pairs,
              "mean_tau": float(np.mean(taus)) if taus else None}
    if not taus:  # say why there is no number, instead of a bare null
        most = max(p["n"] for p in pairs)
        floor["reason"] = (f"no seed pair of {series.key.origin} has numbers for 2+ of the {len(selection)} selected "
                           f"archs (at most {most}): τ needs two archs measured under both seeds")
    return floor


def seed_floor_series(snapshot: Snapshot, a_key: Any, b_key: Any) -> tuple[Series, ...]:
    """Series whose seed-to-seed tau is shown beside the tau between ``a`` and ``b`` (their split named):

    - a published source without itemised seeds on the compared split (NB201's test numbers are
      seed-means): its valid split when that has them;
    - NB201's own (``nb201``, valid split) when neither side is ``nb201``, so a comparison of
      two re-trained series shows the published benchmark's seed noise on the same archs too.
    Empty when none has two or more seeds (e.g. per-seed numbers not imported)."""
    def valid_of(origin: str, dataset: str, metric: str, not_split: str | None = None) -> Series | None:
        return next((s for s in snapshot.series_for(dataset, "original") if s.key.origin == origin
                     and s.key.metric == metric and s.key.split != not_split and len(s.seeds) >= 2), None)

    out: list[Series] = []
    for key in (a_key, b_key):
        series = snapshot.series.get(key)
        if series is not None and series.kind == "original" and len(series.seeds) < 2:
            found = valid_of(key.origin, key.dataset, key.metric, key.split)
            if found is not None and all(found is not s for s in out):
                out.append(found)
    if "nb201" not in (a_key.origin, b_key.origin):
        found = valid_of("nb201", a_key.dataset, a_key.metric)
        if found is not None and all(found is not s for s in out):
            out.append(found)
    return tuple(out)


def kendall_rows(a: Series, b: Series, ks: tuple[float, ...], select_by: str, variant: str,
                 extra_floors: tuple[Series, ...] = ()) -> tuple[int, list[dict]]:
    """Kendall tau between ``a`` and ``b`` over the top-K% of the archs that have both.

    Only measurements made on each arch count: a served number (batch dedup) repeats its
    representative's measurement, so it is left out (``Series.own``) rather than counted as
    an independent data point; each answer's sources say how many (``served_archs``).
    ``extra_floors``: more series whose seed-to-seed tau is given over the same selection."""
    a, b = a.own, b.own
    common = np.flatnonzero(~np.isnan(a.mean) & ~np.isnan(b.mean))
    rows = []
    by_a = _ranked(a.mean, common) if select_by in ("a", "union") else None  # sorted once, not per K
    by_b = _ranked(b.mean, common) if select_by in ("b", "union") else None
    for k in ks:
        m = top_count(k, len(common))
        if select_by == "a":
            selection = by_a[:m]
        elif select_by == "b":
            selection = by_b[:m]
        else:
            selection = np.union1d(by_a[:m], by_b[:m])
        selection = np.sort(selection)
        x, y = a.mean[selection], b.mean[selection]
        tau, p = _tau(x, y, variant)
        floors = [f for f in (_noise_floor(a, selection, variant), _noise_floor(b, selection, variant),
                              *(_noise_floor(s, selection, variant) for s in extra_floors)) if f]
        rows.append({"k": k, "n": int(len(selection)), "tau": tau, "p_value": p, "ties_a": tied_pairs(x),
                     "ties_b": tied_pairs(y), "noise_floor": floors})
    return len(common), rows
