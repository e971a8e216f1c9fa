"""The FastAPI application factory. Never imports torch (a test proves it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from service.dispatch import make_dispatcher
from service.settings import Settings, get_settings
from service.storage.database import Database

from .cache import SnapshotCache
from .contract import install_contract
from .deps import AppState
from .docs import install_docs
from .errors import install_error_handlers
from .middleware import BodyLimit, Metrics
from .outages import Outages
from .routes import arch_runs, archs, base_lrs, batches, bulk, campaigns, health, leaderboard, queue, rankings, runs

__all__ = ["create_app", "API_VERSION"]

API_VERSION = "1.0.0"
DESCRIPTION = """\
NAS-Bench-201 numbers as published and re-trained with architecture-aware initialisation and
learning rates (Chen et al., ICLR 2024). Every number states its protocol, split, seeds and
aggregation. Reads are public; writes need an `X-API-Key` (`rebench api-key create`). Errors
are `{"detail": [{"type", "loc", "msg"}]}` with the field in `loc` and the fix in `msg`.
"""


def create_app(settings: Settings | None = None, *, watch: bool = True, warm_bulk: bool = False) -> FastAPI:
    """Build the app. ``watch=False`` skips the snapshot watcher thread (scripts, some tests);
    ``warm_bulk=True`` (the served app) builds the published bulk tables at start-up."""
    settings = settings or get_settings()
    db = Database(settings.resolved_database_url)
    registry = CollectorRegistry()
    state = AppState(settings=settings, db=db, snapshots=SnapshotCache(db.engine, settings.cache_check_s),
                     dispatcher=make_dispatcher(settings), registry=registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            db.init()
        if watch:
            state.snapshots.start()
            if warm_bulk:  # NB201's published tables for RebenchAPI, built before the first client asks
                bulk.warm_published(state)
        try:
            yield
        finally:
            state.snapshots.stop()
            state.dispatcher.close()  # background hand-offs finish before the process exits
            db.dispose()

    app = FastAPI(title="nb201-rebench", version=API_VERSION, description=DESCRIPTION, lifespan=lifespan,
                  openapi_tags=[{"name": t} for t in ("runs", "batches", "campaigns", "archs", "rankings", "ops")],
                  docs_url=None, redoc_url=None)  # served offline by install_docs
    app.state.rebench = state
    install_error_handlers(app)
    for module in (archs, leaderboard, rankings, runs, arch_runs, queue, batches, campaigns, health, bulk,
                   base_lrs):  # hot reads first: matched in order
        app.include_router(module.router)
    from service.web import install_web  # here, not at the top: service.web imports service.api (a cycle)

    install_web(app)
    install_docs(app)
    install_contract(app)  # last: it reads every route (statuses, repeated query parameters)
    # The last added is the outermost: metrics see every answer, CORS headers go on 413s too.
    app.add_middleware(Outages)  # innermost: a database/broker outage anywhere -> 503 + Retry-After
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Content-Type", "X-API-Key"])
    app.add_middleware(Metrics, registry=registry)
    return app
