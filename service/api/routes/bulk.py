"""GET /v1/bulk/{dataset}: a whole source's numbers for one setting, gzip JSON, ETag / 304.

What ``service.nb201_client.RebenchAPI`` loads once per setting and answers from in memory:
all archs, every metric and seed held (layout: ``service.storage.source_numbers``), sent
gzip-compressed (``Content-Encoding: gzip``); ``If-None-Match`` with the ETag gets 304.

Published sources change only when an import runs, so their answers are cached for the app
(keyed on the imports, not on results_version: a finished run does not rebuild them) and built
in the background when the API starts (:func:`warm_published`), so a client's first request
does not wait for ~0.5-2 s of building. Re-trained answers are memoised per snapshot.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from archscale.datasets import DATASETS, get_dataset
from service.schemas.common import ERROR_RESPONSES, DatasetName
from service.schemas.patterns import ORIGIN_PATTERN
from service.schemas.rankings import ORIGINAL_SOURCES
from service.storage.source_numbers import nb201_splits, published_numbers, published_signature, retrained_numbers

from ..deps import snapshot_of
from ..sources import rescaled_origin

__all__ = ["router", "warm_published"]

router = APIRouter(tags=["archs"])
log = logging.getLogger("service.api.bulk")
_LOCK = threading.Lock()


def _origin(source: str) -> str:
    if source in ORIGINAL_SOURCES:
        return source
    scaling, _, rest = source.partition("@")
    protocol, _, precision = rest.partition("/")
    return rescaled_origin(scaling, protocol or "nb201-200", precision or "fp32", ["query", "source"])


def _pack(body: dict[str, Any], origin: str, dataset: str, protocol: dict[str, Any] | None) -> tuple[str, bytes]:
    spec = get_dataset(dataset)
    original = origin in ORIGINAL_SOURCES
    body.update(dataset=dataset, source=origin, kind="original" if original else "rescaled", protocol=protocol,
                splits={p: s for p, s in (("valid", spec.original_valid), ("test", spec.original_test)) if s}
                if original else nb201_splits(dataset))
    raw = orjson.dumps(body)
    return '"' + hashlib.sha256(raw).hexdigest()[:32] + '"', gzip.compress(raw, 1)  # level 1: 5x faster than 6


def _published(state: Any, origin: str, dataset: str) -> tuple[str, bytes]:
    """The app-wide cached answer for a published source, rebuilt when an import changed it."""
    cache = state.__dict__.setdefault("bulk_published", {})
    with state.db.engine.connect() as conn:
        signature = published_signature(conn)
        hit = cache.get((origin, dataset))
        if hit is not None and hit[0] == signature:
            return hit[1]
        with _LOCK:  # one build at a time: concurrent first requests wait for it instead of repeating it
            hit = cache.get((origin, dataset))
            if hit is not None and hit[0] == signature:
                return hit[1]
            packed = _pack(published_numbers(conn, origin, dataset), origin, dataset,
                           {"key": "nb201-200@v1", "epochs": 200})
            cache[(origin, dataset)] = (signature, packed)
            return packed


def warm_published(state: Any) -> threading.Thread:
    """Build NB201's four published answers in a background thread (API start-up)."""
    def run() -> None:
        try:
            for dataset in DATASETS:
                _published(state, "nb201", dataset)
        except Exception as exc:  # a database not migrated yet: the first request builds instead
            log.info("bulk warm-up skipped: %s", exc)

    thread = threading.Thread(target=run, name="bulk-warm-up", daemon=True)
    thread.start()
    return thread


@router.get("/v1/bulk/{dataset}", responses={
    **ERROR_RESPONSES, 304: {"description": "not modified (If-None-Match matched the ETag)"},
    200: {"description": "gzip JSON: index, seeds, mean, per_seed, costs (service/storage/source_numbers.py)"}},
    summary="Every number of one source on one setting (all archs, metrics, seeds), for clients that cache")
async def bulk(
    request: Request,
    dataset: DatasetName = Path(description="the NB201 setting"),
    source: str = Query("nb201", max_length=100, json_schema_extra={"pattern": f"^{ORIGIN_PATTERN}$"},
                        description="nb201, nats-tss, or <scaling>[@<protocol>[@v<n>]][/<precision>]"),
) -> Response:
    origin = _origin(source)
    snapshot = await snapshot_of(request)  # 503 until the read model (hence the schema) is there
    state = request.app.state.rebench

    def rescaled() -> tuple[str, bytes]:
        scaling, rest = origin.split("@", 1)
        key, precision = rest.rsplit("/", 1)
        found = [p for p in snapshot.protocols.values() if p.key == key]
        if not found:  # a protocol no run ever used: nothing held
            body: dict[str, Any] = {"index": [], "seeds": [], "mean": {}, "per_seed": {}, "costs": {},
                                    "version": snapshot.version}
            return _pack(body, origin, dataset, {"key": key, "epochs": None})
        with state.db.engine.connect() as conn:
            body = retrained_numbers(conn, scaling, found[0].id, precision, dataset)
        return _pack(body, origin, dataset, {"key": key, "epochs": found[0].epochs})

    if origin in ORIGINAL_SOURCES:
        etag, packed = await anyio.to_thread.run_sync(lambda: _published(state, origin, dataset))
    elif snapshot.remembered("bulk", (origin, dataset)):
        etag, packed = snapshot.remember("bulk", (origin, dataset), rescaled)
    else:  # a miss reads every number of the series: off the event loop
        etag, packed = await anyio.to_thread.run_sync(
            lambda: snapshot.remember("bulk", (origin, dataset), rescaled, limit=32))
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return Response(gzip.decompress(packed), media_type="application/json", headers=headers)
    return Response(packed, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
