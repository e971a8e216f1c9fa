"""What each page shows, computed with the same functions the JSON API uses.

The leaderboard calls the API's own page builder, the arch page the API's arch payload,
the plots page :func:`service.api.rankings.kendall_rows`; nothing here ranks anything.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from archscale.datasets import DATASETS
from archscale.space import cell_at
from service.api.errors import ApiError
from service.api.rankings import kendall_rows, seed_floor_series
from service.api.routes.rankings import nothing_to_compare
from service.api.routes.archs import ARCH_PAGES, arch_payload
from service.api.routes.leaderboard import leaderboard_page, view_keys  # the API's own view builder
from service.api.query import validate_query
from service.api.sources import parse_source, resolve_split, source_info
from service.schemas.rankings import DEFAULT_KS, KendallQuery, LeaderboardQuery
from service.storage.base_lrs import lr_used
from service.storage.models import EpochMetric, FinalResult, Protocol, Run
from service.storage.readmodel import Snapshot

from . import svg

__all__ = ["WebPage", "PlotsQuery", "validate", "leaderboard_view", "arch_view", "arch_runs", "plots_view"]


class WebPage(BaseModel):
    """The web leaderboard pages with page/per_page instead of the API's limit/offset."""

    model_config = {"extra": "forbid"}
    page: int = Field(1, ge=1, le=15625)
    per_page: int = Field(50, ge=1, le=500)


class PlotsQuery(KendallQuery):
    """The Kendall query without ``k``: the page always plots the default top-K% grid."""

    k: list[float] = Field(list(DEFAULT_KS), exclude=True)


validate = validate_query  # the API's own query validation (errors located under `query`)


def leaderboard_view(snapshot: Snapshot, q: LeaderboardQuery) -> dict[str, Any]:
    """The same checks and the same page as GET /v1/leaderboard, and the form's own check."""
    if q.params_min is not None and q.params_max is not None and q.params_min > q.params_max:
        raise ApiError(422, f"params_min {q.params_min} > params_max {q.params_max}: swap them",
                       ["query", "params_min"])
    return leaderboard_page(snapshot, q, *view_keys(q))[3]


def arch_view(snapshot: Snapshot, index: int) -> dict[str, Any]:
    """The GET /v1/archs/{arch} answer (shared memo), plus the cell graph."""
    packed = snapshot.remember("arch", (index, None),
                               lambda: zlib.compress(arch_payload(snapshot, index, list(DATASETS)), 1),
                               limit=ARCH_PAGES)
    payload = orjson.loads(zlib.decompress(packed))
    payload["graph"] = svg.cell_graph(cell_at(index).ops, uid=f"cell{index}")
    return payload


def arch_runs(session: Session, index: int, limit: int = 40) -> dict[str, Any]:
    """The runs of one cell (newest first) with final fingerprints, and per-epoch curves as SVG."""
    rows = session.execute(
        sa.select(Run, Protocol.name, Protocol.version, Protocol.fingerprint, FinalResult.fingerprint,
                  FinalResult.extra)
        .join(Protocol, Protocol.id == Run.protocol_id)
        .outerjoin(FinalResult, FinalResult.run_id == Run.id)
        .where(Run.arch_index == index).order_by(Run.id.desc()).limit(limit)).all()
    runs = [{"id": run.id, "dataset": run.dataset, "scaling": run.scaling, "protocol": f"{name}@v{version}",
             "protocol_fingerprint": p_fp, "seed": run.seed, "precision": run.precision, "status": run.status,
             "epoch": run.progress_epoch, "total": run.total_epochs, "fingerprint": r_fp, **lr_used(extra)}
            for run, name, version, p_fp, r_fp, extra in rows]
    curves: dict[int, list[EpochMetric]] = {}
    if runs:
        for metric in session.scalars(sa.select(EpochMetric).where(EpochMetric.run_id.in_([r["id"] for r in runs]))
                                      .order_by(EpochMetric.run_id, EpochMetric.epoch)):
            curves.setdefault(metric.run_id, []).append(metric)
    charts = []
    for dataset in DATASETS:
        split = resolve_split(dataset, None, [])  # the default evaluation split
        acc, loss = [], []
        for r in runs:
            points = curves.get(r["id"], [])
            if r["dataset"] != dataset or not points:
                continue
            label = f"#{r['id']} {r['scaling']} s{r['seed']}"
            acc.append({"label": label, "points": [(m.epoch, m.evals[split]["acc"]) for m in points
                                                   if "acc" in m.evals.get(split, {})]})
            loss.append({"label": label, "points": [(m.epoch, m.train_loss) for m in points
                                                    if m.train_loss is not None]})
        if acc:
            charts.append({"dataset": dataset, "split": split,
                           "acc": svg.line_chart(acc, "epoch", f"{split} accuracy (%)", integer_x=True,
                                                 label=f"{dataset} {split} accuracy per epoch"),
                           "loss": svg.line_chart(loss, "epoch", "train loss", integer_x=True,
                                                  label=f"{dataset} train loss per epoch")})
    return {"runs": runs, "charts": charts}


def plots_view(snapshot: Snapshot, q: PlotsQuery) -> dict[str, Any]:
    """Scatter of a vs b (one dot per arch with both) and Kendall tau vs K% with the noise floor."""
    a_key = parse_source(q.a, q.dataset, ["query", "a"], q.split)
    b_key = parse_source(q.b, q.dataset, ["query", "b"], q.split)
    a, a_info = source_info(snapshot, a_key)
    b, b_info = source_info(snapshot, b_key)
    both = np.flatnonzero(~np.isnan(a.mean) & ~np.isnan(b.mean))
    points = list(zip(both.tolist(), a.mean[both].tolist(), b.mean[both].tolist()))
    by = {"original": "a", "rescaled": "b"}.get(q.select_by, q.select_by)
    extra = seed_floor_series(snapshot, a_key, b_key)  # NB201's own seeds
    n_common, rows = kendall_rows(a, b, DEFAULT_KS, by, q.variant, extra)
    floors = [f["mean_tau"] for r in rows for f in r["noise_floor"] if f["mean_tau"] is not None]
    return {"a": a_info, "b": b_info, "n_common": n_common, "rows": rows, "select_by": by,
            "reason": nothing_to_compare(a_info, b_info, n_common),
            "scatter": svg.scatter(points, f"{a_key.origin} {a_key.split} accuracy (%)",
                                   f"{b_key.origin} {b_key.split} accuracy (%)",
                                   label=f"{a_key.origin} vs {b_key.origin} on {q.dataset}"),
            "kendall": svg.kendall_plot(rows), "n_points": len(points),
            "has_band": bool(floors), "sources": sorted({s.key.origin for s in snapshot.series_for(q.dataset)}),
            "tau_all": next((r["tau"] for r in rows if math.isclose(r["k"], 100.0)), None)}
