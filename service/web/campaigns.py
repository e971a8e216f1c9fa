"""Campaign pages: the list and one campaign's progress, rate, ETA and cost (no JavaScript:
an unfinished campaign's page refreshes itself every 10 s)."""

from __future__ import annotations

from typing import Any

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from service.api.deps import AppState
from service.api.errors import ApiError
from service.api.routes.campaigns import _status
from service.storage.models import Campaign

from .router import error_page, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/web/campaigns", response_class=HTMLResponse)
async def campaigns_page(request: Request) -> HTMLResponse:
    state: AppState = request.app.state.rebench

    def load() -> list[dict[str, Any]]:
        with state.db.transaction() as session:
            rows = session.execute(sa.select(Campaign.id).order_by(Campaign.id.desc()).limit(50)).scalars().all()
        return [_status(state, campaign_id) for campaign_id in rows]

    return render("campaigns.html", nav="campaigns", campaigns=await anyio.to_thread.run_sync(load))


@router.get("/web/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, campaign_id: str) -> HTMLResponse:
    state: AppState = request.app.state.rebench
    try:
        if not campaign_id.isdigit() or not 1 <= int(campaign_id) < 2**31:
            raise ApiError(422, f"campaign id {campaign_id!r} must be a positive integer (see /web/campaigns)",
                           ["path", "campaign_id"])
        c = await anyio.to_thread.run_sync(lambda: _status(state, int(campaign_id)))
    except ApiError as exc:
        return error_page(exc, "Campaign")
    return render("campaign.html", nav="campaigns", c=c)
