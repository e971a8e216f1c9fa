"""What routes share: the app's state, the snapshot, and the write-key check."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from prometheus_client import CollectorRegistry

from archscale.space import ArchIndexError, ArchStringError, resolve_arch
from service.dispatch import CeleryDispatcher, EmbeddedDispatcher
from service.settings import Settings
from service.storage.database import Database
from service.storage.keys import authenticate
from service.storage.models import utcnow
from service.storage.readmodel import Snapshot

from .cache import NotReady, SnapshotCache
from .errors import ApiError

__all__ = ["AppState", "Writer", "get_state", "snapshot_of", "require_writer", "require_api_key", "path_arch_index",
           "API_KEY_HEADER"]

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="write key from `rebench api-key create`; reads need none")


@dataclass
class AppState:
    settings: Settings
    db: Database
    snapshots: SnapshotCache
    dispatcher: CeleryDispatcher | EmbeddedDispatcher
    registry: CollectorRegistry


# Dependencies are async so that FastAPI calls them on the event loop: a sync dependency
# costs a thread-pool hop (~150 us) per request, more than an arch lookup itself.
async def get_state(request: Request) -> AppState:
    return request.app.state.rebench


async def snapshot_of(request: Request) -> Snapshot:
    """The read model. Hot read routes call this directly instead of through ``Depends``:
    solving a dependency costs ~50 us a request, a fifth of an arch lookup."""
    state: AppState = request.app.state.rebench
    try:
        if state.snapshots.ready:
            return state.snapshots.get()
        return await anyio.to_thread.run_sync(state.snapshots.get)  # the first load may take a second
    except NotReady as exc:
        raise ApiError(503, f"the read model is not available ({exc}); if the database is new run "
                            "`rebench db upgrade`, else retry in a few seconds", [], "not_ready",
                       {"Retry-After": "5"}) from None


@dataclass(frozen=True)
class Writer:
    """Who writes: the API key's id, and whether it is an admin key (may cancel any run)."""

    key_id: int
    admin: bool

    def may_cancel(self, owner_key_id: int | None) -> bool:
        return self.admin or owner_key_id == self.key_id


def require_writer(key: str | None = Depends(API_KEY_HEADER), state: AppState = Depends(get_state)) -> Writer:
    """The live API key sent in X-API-Key, else 401."""
    if not key:
        raise ApiError(401, "writes need an API key in the X-API-Key header; create one with "
                            "`rebench api-key create --name <who>`", ["header", "X-API-Key"], "unauthorized")
    with state.db.transaction() as session:
        found = authenticate(session, key)
        if found is None:
            raise ApiError(401, "X-API-Key is unknown or revoked; list keys with `rebench api-key list` or create "
                                "a new one with `rebench api-key create`", ["header", "X-API-Key"], "unauthorized")
        found.last_used_at = utcnow()
        return Writer(found.id, bool(found.admin))


def require_api_key(writer: Writer = Depends(require_writer)) -> int:
    """The id of a live API key sent in X-API-Key, else 401."""
    return writer.key_id


def path_arch_index(arch: str) -> int:
    """The ``{arch}`` path segment (index or cell string) as an index: 404 outside the space,
    422 for a malformed string (the parser's message says how to write one)."""
    try:
        return resolve_arch(arch).index
    except ArchIndexError as exc:
        raise ApiError(404, f"{exc}; use an index 0..15624 or a cell string", ["path", "arch"], "not_found") from None
    except ArchStringError as exc:
        raise ApiError(422, str(exc), ["path", "arch"], "arch_string") from None
