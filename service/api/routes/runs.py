"""Runs: submit (idempotent), inspect, cancel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path

from archscale.space import cell_at, format_arch
from service.schemas.common import ERROR_RESPONSES, NO_BASE_LR_RESPONSES
from service.schemas.runs import RunCreate, RunOut, RunsAccepted
from service.storage.models import Protocol, Run
from service.storage.base_lrs import require_base_lr
from service.storage.results import get_curve, get_final_result
from service.storage.dedup import create_runs_dedup
from service.storage.runs import RunSpec, get_run, request_cancel

from ..deps import AppState, Writer, get_state, require_api_key, require_writer
from ..errors import ApiError, field_errors

router = APIRouter(tags=["runs"])
RunId = Path(ge=1, le=2**31 - 1, description="id from POST /v1/runs or /v1/batches")


def protocol_out(protocol: Protocol) -> dict[str, Any]:
    return {"name": protocol.name, "version": protocol.version, "key": f"{protocol.name}@v{protocol.version}",
            "fingerprint": protocol.fingerprint, "benchmark": protocol.benchmark,
            "epochs": int(protocol.spec.get("epochs", 0)), "description": protocol.spec.get("description", "")}


@router.post("/v1/runs", status_code=202, response_model=RunsAccepted, responses=NO_BASE_LR_RESPONSES,
             summary="Queue one arch x setting x scaling x protocol, one run per seed (idempotent)")
def submit_runs(body: RunCreate, state: AppState = Depends(get_state),
                key_id: int = Depends(require_api_key)) -> dict[str, Any]:
    """The same request again returns the same runs (``created: false``), never duplicates:
    a run is identified by ``archscale.protocols.run_key`` and its precision. A run that a
    ``dedup=nb201`` batch served (an approximation) becomes a run of its own to train."""
    with field_errors("body"):
        specs = [RunSpec.resolve(body.arch, body.dataset, body.scaling, body.protocol, seed, body.precision)
                 for seed in dict.fromkeys(body.seeds)]
    with state.db.transaction() as session, field_errors("body"):  # 422 now, not NoBaseLR in the worker later
        require_base_lr(session, specs[0].dataset, specs[0].scaling, specs[0].protocol.name)
    with state.db.transaction() as session:
        created = create_runs_dedup(session, specs, "exact", api_key_id=key_id, queue=state.dispatcher.queue)
        protocol = session.get(Protocol, session.get(Run, created[0].id).protocol_id)  # type: ignore[union-attr]
        protocol_json = protocol_out(protocol)  # type: ignore[arg-type]
    # After the commit: a worker must be able to read every id it receives.
    dispatched = state.dispatcher.enqueue([run.id for run in created if run.created])
    first = specs[0]
    return {"arch_index": first.arch_index, "arch_str": format_arch(cell_at(first.arch_index)),
            "dataset": first.dataset, "scaling": first.scaling, "protocol": protocol_json,
            "precision": first.precision, "dispatched": dispatched,
            "runs": [{"id": r.id, "seed": r.seed, "status": r.status, "created": r.created} for r in created]}


SERVED_NOTES = {
    "isomorphic": "the same network as this arch up to renaming hidden vertices 1 and 2 (same parameters, init, "
                  "S and LR; only the random draw order differs): trained once, served for both",
    "nb201": "equal under NB201's isomorphism rule only: NOT training-equivalent (a conv fed by an all-zero vertex "
             "still outputs BN's bias and its weights get weight decay; folded skips change in-degrees, hence the "
             "arch-aware init and S, hence the LR). The number is an approximation for this arch",
}


def run_out(session: Any, run: Run) -> dict[str, Any]:
    protocol = session.get(Protocol, run.protocol_id)
    # A served run is resolved at read time: progress, curve and result are its representative's.
    source = get_run(session, run.served_from_run_id) if run.served_from_run_id is not None else run
    final = get_final_result(session, source.id) if run.status == "succeeded" or source is run else None
    result = None
    if final is not None:
        row, metrics = final
        result = {"fingerprint": row.fingerprint, "code_version": row.code_version, "seconds": row.seconds,
                  "metrics": metrics, "created_at": row.created_at,
                  "served_from_run_id": None if source is run else source.id}
    served_from = None if source is run else {
        "run_id": source.id, "arch_index": source.arch_index, "arch_str": format_arch(cell_at(source.arch_index)),
        "dedup": run.served_by, "note": SERVED_NOTES.get(run.served_by or "", "served from another run")}
    return {
        "id": run.id, "key": run.key, "arch_index": run.arch_index, "arch_str": format_arch(cell_at(run.arch_index)),
        "dataset": run.dataset, "scaling": run.scaling, "protocol": protocol_out(protocol), "seed": run.seed,
        "precision": run.precision, "status": run.status,
        "progress": {"epoch": source.progress_epoch, "total": run.total_epochs}, "heartbeat_at": source.heartbeat_at,
        "attempts": run.attempts, "cancel_requested": run.cancel_requested, "error": run.error,
        "traceback_id": run.traceback_id, "served_from_run_id": run.served_from_run_id, "served_from": served_from,
        "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at,
        "curve": [{"epoch": e.epoch, "train_loss": e.train_loss, "train_acc": e.train_acc, "lr": e.lr,
                   "seconds": e.seconds, "evals": e.evals} for e in get_curve(session, source.id)],
        "result": result,
    }


@router.get("/v1/runs/{run_id}", response_model=RunOut, responses=ERROR_RESPONSES,
            summary="Status, progress (epoch / total), per-epoch curve, error and final result")
def read_run(run_id: int = RunId, state: AppState = Depends(get_state)) -> dict[str, Any]:
    with state.db.transaction() as session, field_errors("path"):
        return run_out(session, get_run(session, run_id))


@router.delete("/v1/runs/{run_id}", status_code=202, response_model=RunOut,
               responses={**ERROR_RESPONSES, 409: ERROR_RESPONSES[422] | {"description": "run already finished"},
                          403: ERROR_RESPONSES[422] | {"description": "the run was submitted by another key"}},
               summary="Cancel: a queued run at once, a running one at its next heartbeat")
def cancel_run(run_id: int = RunId, state: AppState = Depends(get_state),
               writer: Writer = Depends(require_writer)) -> dict[str, Any]:
    """A key cancels the runs it created; an admin key (`rebench api-key create --admin`) any run."""
    with state.db.transaction() as session, field_errors("path"):
        owner = get_run(session, run_id).api_key_id
        if not writer.may_cancel(owner):
            raise ApiError(403, f"run {run_id} was submitted by another API key; only that key or an admin key "
                                "(`rebench api-key create --admin`) can cancel it", ["path", "run_id"], "forbidden")
        return run_out(session, request_cancel(session, run_id))
