"""GET /v1/runs: recent runs with their progress, for the live queue page (public read)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from archscale.space import cell_at, format_arch
from service.schemas.common import ERROR_RESPONSES
from service.schemas.queue import RunList
from service.storage.models import RUN_STATUSES, CampaignRun, Protocol, Run

from ..deps import AppState, get_state

__all__ = ["router", "recent_runs", "RunStatusName"]

router = APIRouter(tags=["runs"])
RunStatusName = Literal[RUN_STATUSES]  # type: ignore[valid-type]


def _summary(run: Run, protocol_key: str) -> dict[str, Any]:
    total = max(run.total_epochs, 1)
    return {"id": run.id, "arch_index": run.arch_index, "arch_str": format_arch(cell_at(run.arch_index)),
            "dataset": run.dataset, "scaling": run.scaling, "protocol": protocol_key, "seed": run.seed,
            "precision": run.precision, "status": run.status, "served_from_run_id": run.served_from_run_id,
            "progress": {"epoch": run.progress_epoch, "total": run.total_epochs,
                         "fraction": min(run.progress_epoch / total, 1.0)},
            "attempts": run.attempts, "cancel_requested": run.cancel_requested, "heartbeat_at": run.heartbeat_at,
            "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at,
            "updated_at": run.updated_at}


def recent_runs(session: Session, statuses: list[str], limit: int) -> dict[str, Any]:
    """Running runs first, then queued (oldest first: the order they will be picked up is
    roughly FIFO), then finished ones by most recent change. Shared with the web queue page."""
    rank = sa.case((Run.status == "running", 0), (Run.status == "queued", 1), else_=2)
    # Campaign runs are picked up after interactive ones (service.storage.campaigns).
    bulk = sa.case((sa.and_(Run.status == "queued", sa.exists().where(CampaignRun.run_id == Run.id)), 1), else_=0)
    fifo = sa.case((Run.status == "queued", Run.id), else_=0)
    query = sa.select(Run).order_by(rank, bulk, fifo, Run.updated_at.desc(), Run.id.desc()).limit(limit)
    if statuses:
        query = query.where(Run.status.in_(statuses))
    runs = list(session.scalars(query))
    keys = {p.id: f"{p.name}@v{p.version}" for p in session.scalars(
        sa.select(Protocol).where(Protocol.id.in_({r.protocol_id for r in runs})))} if runs else {}
    counts = dict.fromkeys(RUN_STATUSES, 0)
    counts.update({status: n for status, n in session.execute(
        sa.select(Run.status, sa.func.count()).group_by(Run.status))})
    return {"counts": counts, "status": statuses, "limit": limit,
            "runs": [_summary(r, keys.get(r.protocol_id, "?")) for r in runs]}


@router.get("/v1/runs", response_model=RunList, responses=ERROR_RESPONSES,
            summary="Recent runs with progress (running, then queued, then finished): the live queue")
def list_runs(status: list[RunStatusName] = Query([], description="only these statuses (repeat: ?status=queued&status=running)"),
              limit: int = Query(50, ge=1, le=500, description="runs to list"),
              state: AppState = Depends(get_state)) -> dict[str, Any]:
    with state.db.transaction() as session:
        return recent_runs(session, list(dict.fromkeys(status)), limit)
