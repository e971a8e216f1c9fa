"""Batches: up to 1,000 archs with common options; per-item errors; aggregated status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path

from service.schemas.batches import BatchAccepted, BatchCreate, BatchOut
from service.schemas.common import ERROR_RESPONSES, NO_BASE_LR_RESPONSES
from service.storage.batches import BatchItem, batch_status, create_batch
from service.storage.errors import InvalidField
from service.storage.base_lrs import require_base_lr
from service.storage.runs import RunSpec, check_trainable, resolve_arch_index, resolve_protocol
from service.storage.runspec import resolve_dataset, resolve_scaling
from service.storage.serving import arch_of_runs

from ..deps import AppState, get_state, require_api_key
from ..errors import ApiError, field_errors

router = APIRouter(tags=["batches"])


@router.post("/v1/batches", status_code=202, response_model=BatchAccepted, responses=NO_BASE_LR_RESPONSES,
             summary="Queue up to 1,000 archs; invalid items are reported, valid ones accepted")
def submit_batch(body: BatchCreate, state: AppState = Depends(get_state),
                 key_id: int = Depends(require_api_key)) -> dict[str, Any]:
    limit = state.settings.max_batch_items
    if len(body.archs) > limit:
        raise ApiError(422, f"archs has {len(body.archs)} items; a batch takes at most {limit}: split it into "
                            f"{-(-len(body.archs) // limit)} batches", ["body", "archs"], "too_long")
    with field_errors("body"):
        protocol = resolve_protocol(body.protocol)
    with state.db.transaction() as session, field_errors("body"):  # 422 now, not NoBaseLR in the worker later
        require_base_lr(session, resolve_dataset(body.dataset), resolve_scaling(body.scaling), protocol.name)
    seeds = list(dict.fromkeys(body.seeds))
    items, errors = [], []
    for position, arch in enumerate(body.archs):
        try:
            index = resolve_arch_index(arch, field="archs")
            check_trainable(index, body.scaling)
        except InvalidField as exc:
            errors.append({"item": position, "arch": str(arch)[:200], "loc": ["body", "archs", position],
                           "msg": exc.message})
            continue
        items.append(BatchItem(position, tuple(RunSpec(index, body.dataset, body.scaling, protocol, seed,
                                                       body.precision) for seed in seeds)))
    # Items are checked one by one, so a batch whose items are all bad is still a valid request
    # (the schema takes any index or string): it is stored with its errors and nothing to train,
    # not refused with a 422 that a schema-driven client could not foresee.
    request = {"dataset": body.dataset, "scaling": body.scaling, "protocol": protocol.key, "seeds": seeds,
               "precision": body.precision, "dedup": body.dedup}
    with state.db.transaction() as session, field_errors("body"):
        batch_id, per_item = create_batch(session, request, items, errors, len(body.archs), key_id, body.dedup,
                                          queue=state.dispatcher.queue)
        every = [run for _, runs in per_item for run in runs]
        rep_arch = arch_of_runs(session.connection(), {r.served_from_run_id for r in every if r.served_from_run_id})
    created = {run.id for run in every if run.created}
    existing = {run.id for run in every} - created
    served = {run.id for run in every if run.served_from_run_id is not None}
    # After the commit; served runs are never sent: nothing trains them.
    dispatched = state.dispatcher.enqueue_bulk(sorted(created - served))
    accepted = [{"item": item.item, "arch_index": item.specs[0].arch_index,
                 "runs": [{"id": r.id, "seed": r.seed, "status": r.status, "created": r.created,
                           "served_from_run_id": r.served_from_run_id,
                           "served_from_arch": rep_arch.get(r.served_from_run_id)} for r in runs]}
                for item, (_, runs) in zip(items, per_item)]
    trained = (created | existing) - served
    return {"id": batch_id, "accepted": accepted, "errors": errors, "dedup": body.dedup,
            "runs_created": len(created), "runs_existing": len(existing), "runs_trained": len(trained),
            "runs_served": len(served), "dispatched": dispatched}


@router.get("/v1/batches/{batch_id}", response_model=BatchOut, responses=ERROR_RESPONSES,
            summary="Runs of a batch and their status counts")
def read_batch(batch_id: int = Path(ge=1, le=2**31 - 1), state: AppState = Depends(get_state)) -> dict[str, Any]:
    with state.db.transaction() as session, field_errors("path"):
        status = batch_status(session, batch_id)
    return {"id": status.id, "created_at": status.created_at, "request": status.request, "n_items": status.n_items,
            "errors": status.errors, "counts": status.counts, "total": status.total, "done": status.done,
            "served": status.served, "runs": status.runs}
