"""Campaigns: a whole-space (or filtered) re-benchmark created server-side in bulk."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Response

from service.schemas.campaigns import CampaignAccepted, CampaignCreate, CampaignOut
from service.schemas.common import ERROR_RESPONSES
from service.storage.campaign_status import campaign_status
from service.storage.base_lrs import require_base_lr
from service.storage.campaigns import cancel_campaign, create_campaign, get_campaign, normalise_request
from service.storage.errors import StorageError
from service.storage.nb201_times import find_cost_file
from service.storage.runs import resolve_protocol

from ..deps import AppState, Writer, get_state, require_api_key, require_writer
from ..errors import ApiError

router = APIRouter(tags=["campaigns"])
CampaignId = Path(ge=1, le=2**31 - 1)


def _storage_error(exc: StorageError, where: str) -> ApiError:
    """``selector.ops`` -> loc ["body", "selector", "ops"]."""
    loc: list[str | int] = [where, *exc.field.split(".")] if exc.field else [where]
    return ApiError(exc.status_code, exc.message, loc, exc.kind)


def dispatch_bulk(state: AppState, run_ids: list[int]) -> None:
    """After the response: tens of thousands of messages must not hold the request open. A
    failure loses nothing (the runs are queued in the database; the reaper re-sends)."""
    state.dispatcher.enqueue_campaign(run_ids)


def _status(state: AppState, campaign_id: int) -> dict[str, Any]:
    cost = find_cost_file(state.settings.nb201_cost_file, state.settings.resolved_data_root)
    with state.db.transaction() as session:
        try:
            s = campaign_status(session, campaign_id, cost)
        except StorageError as exc:
            raise _storage_error(exc, "path") from None
    finished = s.total - s.counts["queued"] - s.counts["running"]
    return {"id": s.id, "status": s.status, "request": s.request, "created_at": s.created_at,
            "cancelled_at": s.cancelled_at, "n_archs": s.n_archs, "total": s.total, "counts": s.counts,
            "trained": s.trained, "served": s.served, "done": s.done, "progress": finished / max(s.total, 1),
            "runs_per_hour": s.runs_per_hour, "eta_s": s.eta_s, "gpu_hours": s.gpu_hours, "nb201": s.nb201}


@router.post("/v1/campaigns", status_code=201, response_model=CampaignAccepted, responses={
    **ERROR_RESPONSES, 200: {"model": CampaignAccepted, "description": "the same request again: the campaign as it is"},
    403: ERROR_RESPONSES[422] | {"description": "over this server's MAX_CAMPAIGN_RUNS (over_limit)"},
    404: ERROR_RESPONSES[422] | {"description": "the selector matches no trainable arch"},
    409: ERROR_RESPONSES[422] | {"description": "no base LR stored for a dataset and recipe (no_base_lr)"}},
             summary="Create a campaign (all archs or a filter) in bulk; the same request again returns it (200)")
def create(body: CampaignCreate, response: Response, background: BackgroundTasks,
           state: AppState = Depends(get_state), key_id: int = Depends(require_api_key)) -> dict[str, Any]:
    try:
        protocol = resolve_protocol(body.protocol)
        request = normalise_request(body.model_dump(exclude_none=False) | {
            "selector": body.selector.model_dump(exclude_none=True)}, protocol)
        with state.db.transaction() as session:
            for dataset in request["datasets"]:  # 409 now, not NoBaseLR in a worker for every run later
                for scaling in request["scalings"]:
                    require_base_lr(session, dataset, scaling, protocol.name)
            made = create_campaign(session, request, protocol, key_id, state.settings.max_campaign_runs,
                                       queue=state.dispatcher.campaign_queue)
    except StorageError as exc:
        raise _storage_error(exc, "body") from None
    if not made.created:
        response.status_code = 200
    if made.to_dispatch:
        background.add_task(dispatch_bulk, state, made.to_dispatch)
    return {"id": made.id, "created": made.created, "runs_created": made.runs_created,
            "runs_linked": made.runs_linked, "runs_served": made.runs_served, "skipped": made.skipped,
            "dispatched": len(made.to_dispatch), "status_url": f"/v1/campaigns/{made.id}"}


@router.get("/v1/campaigns/{campaign_id}", response_model=CampaignOut, responses=ERROR_RESPONSES,
            summary="Progress, measured rate, ETA, GPU-hours, and our time vs NB201's recorded time")
def read(campaign_id: int = CampaignId, state: AppState = Depends(get_state)) -> dict[str, Any]:
    return _status(state, campaign_id)


@router.delete("/v1/campaigns/{campaign_id}", response_model=CampaignOut, responses={
    **ERROR_RESPONSES, 403: ERROR_RESPONSES[422] | {"description": "created by another API key (admin keys may)"}},
               summary="Cancel: queued runs now, running ones after their epoch; runs others hold are kept")
def cancel(campaign_id: int = CampaignId, state: AppState = Depends(get_state),
           writer: Writer = Depends(require_writer)) -> dict[str, Any]:
    """The key that created a campaign cancels it; an admin key any campaign (as runs)."""
    with state.db.transaction() as session:
        try:
            if not writer.may_cancel(get_campaign(session, campaign_id).api_key_id):
                raise ApiError(403, f"campaign {campaign_id} was created by another API key; only that key or an "
                                    "admin key (`rebench api-key create --admin`) can cancel it",
                               ["path", "campaign_id"], "forbidden")
            cancel_campaign(session, campaign_id)
        except StorageError as exc:
            raise _storage_error(exc, "path") from None
    return _status(state, campaign_id)
