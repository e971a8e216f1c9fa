"""/healthz (the process answers), /readyz (database, schema, broker, read model), /metrics."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.schemas.health import Health, Ready
from service.storage.models import RUN_STATUSES, Run

from ..deps import AppState, get_state

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers (touches nothing)")
async def healthz() -> dict[str, str]:
    from ..app import API_VERSION

    return {"status": "ok", "version": API_VERSION}


def _check(name: str, checks: dict[str, str], fn: Any) -> bool:
    try:
        detail = fn()
    except Exception as exc:  # report, never raise: readyz must answer
        checks[name] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
        return False
    checks[name] = detail or "ok"
    return True


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "not ready"}},
            summary="Readiness: database reachable and migrated, broker reachable, read model loaded")
def readyz(state: AppState = Depends(get_state)) -> JSONResponse:
    checks: dict[str, str] = {}

    def database() -> str:
        with state.db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        if not state.db.is_current():
            raise RuntimeError("schema is not at the latest migration: run `rebench db upgrade`")
        return f"ok ({state.db.engine.dialect.name})"

    def broker() -> str:
        state.dispatcher.ping()
        return f"ok ({state.dispatcher.kind})"

    def read_model() -> str:
        if not state.snapshots.ready:
            raise RuntimeError(state.snapshots.last_error or "still loading")
        return f"ok (results version {state.snapshots.get().version})"

    def consumers() -> str:
        """Runs waiting on a queue no worker consumes would wait forever: say so."""
        if state.dispatcher.kind != "celery":
            return "ok (the embedded runner polls the database)"
        import redis

        from service.consumers import stranded_queues

        client = redis.Redis.from_url(state.settings.broker_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            with state.db.engine.connect() as conn:
                stranded = stranded_queues(conn, client, state.dispatcher.queue)
        finally:
            client.close()
        if stranded:
            raise RuntimeError("; ".join(
                f"queue {queue!r} has {n} queued run(s) and no live worker: start `rebench worker --queue {queue}` "
                f"(or set QUEUE to the same name for the API and the workers)"
                for queue, n in sorted(stranded.items())))
        return "ok"

    ok = all([_check("database", checks, database), _check("broker", checks, broker),
              _check("read_model", checks, read_model), _check("consumers", checks, consumers)])
    return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(state: AppState = Depends(get_state)) -> Response:
    lines = []
    try:
        with state.db.engine.connect() as conn:
            counts = dict(conn.execute(sa.select(Run.status, sa.func.count()).group_by(Run.status)).all())
        lines.append("# HELP rebench_runs Runs in the database by status\n# TYPE rebench_runs gauge\n")
        for status in RUN_STATUSES:
            lines.append(f'rebench_runs{{status="{status}"}} {counts.get(status, 0)}\n')
    except Exception:  # metrics must answer even when the database does not
        lines.append("# rebench_runs unavailable: database unreachable\n")
    snapshot_version = state.snapshots.get().version if state.snapshots.ready else -1
    lines.append(f"# HELP rebench_results_version Results version of the read model\n"
                 f"# TYPE rebench_results_version gauge\nrebench_results_version {snapshot_version}\n")
    body = generate_latest(state.registry).decode() + "".join(lines)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
