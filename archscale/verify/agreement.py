"""How well predicted learning rates agree with grid-searched ones.

Pearson r (the paper's number) is blind to a constant factor, so r on log LRs says
nothing about whether the points sit on the identity line. We therefore also report the
least-squares slope of log(measured) on log(predicted) (1 = the rule's exponent is right)
and the typical factor between the two (the grid spacing bounds how small it can be).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = ["Agreement", "agreement", "pearson"]


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or has fewer than 3 points."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"pearson: {len(x)} vs {len(y)} values; pass paired sequences")
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


@dataclass(frozen=True)
class Agreement:
    n: int
    r_log: float  # Pearson r of log LRs (the paper plots log-log)
    r_linear: float  # Pearson r of the LRs themselves
    slope_log: float  # d log(measured) / d log(predicted); 1 on the identity line
    median_factor: float  # median of max(pred/meas, meas/pred)
    within_2x: float  # fraction of networks whose prediction is within a factor 2

    def as_json(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in asdict(self).items()}


def agreement(predicted: Sequence[float], measured: Sequence[float]) -> Agreement:
    """Compare paired positive learning rates."""
    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    if len(p) != len(m) or len(p) == 0:
        raise ValueError(f"agreement: need paired non-empty sequences, got {len(p)} and {len(m)}")
    if (p <= 0).any() or (m <= 0).any():
        raise ValueError("agreement: learning rates must be positive (drop networks that diverged at every LR)")
    lp, lm = np.log(p), np.log(m)
    slope = float(np.polyfit(lp, lm, 1)[0]) if len(p) >= 2 and np.ptp(lp) > 0 else math.nan
    factor = np.exp(np.abs(lp - lm))
    return Agreement(n=len(p), r_log=pearson(lp, lm), r_linear=pearson(p, m), slope_log=slope,
                     median_factor=float(np.median(factor)), within_2x=float(np.mean(factor <= 2.0 + 1e-9)))
