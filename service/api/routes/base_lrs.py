"""GET /v1/base-lrs: which base LR each (dataset, recipe, protocol) trains with, and why."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from archscale.base_lrs import fix_command
from service.schemas.base_lrs import BaseLRList
from service.schemas.common import ERROR_RESPONSES
from service.storage.base_lrs import list_base_lrs

from ..deps import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["runs"])


@router.get("/v1/base-lrs", response_model=BaseLRList, responses=ERROR_RESPONSES,
            summary="Base LRs with provenance (grid, per-seed losses, seeds, criterion, origin)")
def base_lrs(dataset: str | None = Query(None, description="only this dataset"),
             recipe: str | None = Query(None, description="only this recipe (arch-aware, arch-aware-derived, "
                                                          "standard-tuned)"),
             state: AppState = Depends(get_state)) -> dict[str, Any]:
    with state.db.transaction() as session:
        rows = list_base_lrs(session, dataset, recipe)
    return {"base_lrs": rows, "how_to_add": fix_command("DATASET", "RECIPE", "PROTOCOL") + " --data-root PATH"}
