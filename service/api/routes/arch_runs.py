"""GET /v1/archs/{arch}/runs: the runs of one cell, so that a client can find their curves.

``/v1/archs/{arch}`` serves final evaluation accuracies from the read model; losses, times and
per-epoch curves live with each run (``GET /v1/runs/{id}``). Without this listing a reader would
have no way from an arch to its run ids except re-submitting (a write). It reads the database,
not the read model: it is a cold path (one indexed query on ``ix_runs_arch_dataset``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query

from archscale.space import cell_at, format_arch
from service.schemas.patterns import ARCH_REF_PATTERN
from service.schemas.common import ERROR_RESPONSES, EXAMPLE_ARCH, DatasetName, PrecisionName, ScalingName
from service.storage.models import FinalResult, Protocol, Run
from service.schemas.patterns import PROTOCOL_PATTERN
from service.storage.base_lrs import lr_used
from service.storage.runs import resolve_protocol

from ..deps import AppState, get_state, path_arch_index
from ..errors import field_errors
from .queue import RunStatusName
from .runs import protocol_out

__all__ = ["router"]

router = APIRouter(tags=["archs"])


@router.get("/v1/archs/{arch}/runs", responses=ERROR_RESPONSES,
            summary="The runs of one cell (ids, seeds, status), filtered by setting, scaling, protocol, precision")
def list_arch_runs(
    arch: str = Path(description="cell string (URL-encoded) or official index 0..15624",
                     json_schema_extra={"pattern": ARCH_REF_PATTERN},
                     examples=[EXAMPLE_ARCH, "6111"], max_length=300),
    dataset: DatasetName | None = Query(None, description="only this setting"),
    scaling: ScalingName | None = Query(None, description="only this scaling"),
    protocol: str | None = Query(None, max_length=64, description="only this protocol (`nb201-200`, `smoke@v2`)",
                                 json_schema_extra={"pattern": PROTOCOL_PATTERN}),
    precision: PrecisionName | None = Query(None, description="only this precision"),
    status: RunStatusName | None = Query(None, description="only runs in this status"),
    state: AppState = Depends(get_state),
) -> dict[str, Any]:
    index = path_arch_index(arch)  # as GET /v1/archs/{arch}: 404 outside the space, 422 malformed
    with field_errors("query"):
        spec = resolve_protocol(protocol, "protocol") if protocol is not None else None
    query = (sa.select(Run, Protocol, FinalResult.extra).join(Protocol, Protocol.id == Run.protocol_id)
             .outerjoin(FinalResult, FinalResult.run_id == Run.id)
             .where(Run.arch_index == index)
             .order_by(Run.dataset, Run.scaling, Protocol.name, Run.precision, Run.seed))
    if dataset is not None:
        query = query.where(Run.dataset == dataset)
    if scaling is not None:
        query = query.where(Run.scaling == scaling)
    if spec is not None:
        query = query.where(Protocol.name == spec.name, Protocol.version == spec.version)
    if precision is not None:
        query = query.where(Run.precision == precision)
    if status is not None:
        query = query.where(Run.status == status)
    with state.db.transaction() as session:
        rows = session.execute(query).all()
        runs = [{"id": run.id, "dataset": run.dataset, "scaling": run.scaling, "protocol": protocol_out(proto),
                 "seed": run.seed, "precision": run.precision, "status": run.status,
                 "served_from_run_id": run.served_from_run_id,
                 "progress": {"epoch": run.progress_epoch, "total": run.total_epochs},
                 **lr_used(extra)}  # which base LR (and origin) each number used
                for run, proto, extra in rows]
    return {"arch_index": index, "arch_str": format_arch(cell_at(index)), "runs": runs}
