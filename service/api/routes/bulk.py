"""GET /v1/bulk/{dataset}: a whole source's numbers for one setting, gzip JSON, ETag / 304.

What ``service.nb201_client.RebenchAPI`` loads once per setting and answers from in memory:
all archs, every metric and seed held (layout: ``service.storage.source_numbers``). The
answer is built from the database once per results version (memoised on the snapshot) and
sent gzip-compressed (``Content-Encoding: gzip``); ``If-None-Match`` with the ETag gets 304.
"""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from archscale.datasets import get_dataset
from service.schemas.common import ERROR_RESPONSES, DatasetName
from service.schemas.rankings import ORIGINAL_SOURCES
from service.storage.source_numbers import nb201_splits, published_numbers, retrained_numbers

from ..deps import snapshot_of
from ..errors import ApiError
from ..sources import rescaled_origin

__all__ = ["router"]

router = APIRouter(tags=["archs"])


def _origin(source: str) -> str:
    if source in ORIGINAL_SOURCES:
        return source
    scaling, _, rest = source.partition("@")
    protocol, _, precision = rest.partition("/")
    return rescaled_origin(scaling, protocol or "nb201-200", precision or "fp32", ["query", "source"])


@router.get("/v1/bulk/{dataset}", responses={
    **ERROR_RESPONSES, 304: {"description": "not modified (If-None-Match matched the ETag)"},
    200: {"description": "gzip JSON: index, seeds, mean, per_seed, costs (service/storage/source_numbers.py)"}},
    summary="Every number of one source on one setting (all archs, metrics, seeds), for clients that cache")
async def bulk(
    request: Request,
    dataset: DatasetName = Path(description="the NB201 setting"),
    source: str = Query("nb201", max_length=100,
                        description="nb201, nats-tss, or <scaling>[@<protocol>[@v<n>]][/<precision>]"),
) -> Response:
    origin = _origin(source)
    snapshot = await snapshot_of(request)
    state = request.app.state.rebench

    def build() -> tuple[str, bytes]:
        with state.db.engine.connect() as conn:
            if origin in ORIGINAL_SOURCES:
                body = published_numbers(conn, origin, dataset)
                flops = snapshot.settings[dataset]["flops"]  # computed from the cell, in M as NB201 gives them
                body["costs"]["flops"] = [float(flops[i]) / 1e6 for i in body["index"]]
                protocol: dict[str, Any] | None = {"key": "nb201-200@v1", "epochs": 200}
            else:
                scaling, rest = origin.split("@", 1)
                key, precision = rest.rsplit("/", 1)
                found = [p for p in snapshot.protocols.values() if p.key == key]
                protocol = {"key": key, "epochs": found[0].epochs} if found else None
                body = (retrained_numbers(conn, scaling, found[0].id, precision, dataset) if found else
                        {"index": [], "seeds": [], "mean": {}, "per_seed": {}, "costs": {}, "version": snapshot.version})
        spec = get_dataset(dataset)
        body.update(dataset=dataset, source=origin, kind="original" if origin in ORIGINAL_SOURCES else "rescaled",
                    protocol=protocol, splits=nb201_splits(dataset) if origin not in ORIGINAL_SOURCES else
                    {p: s for p, s in (("valid", spec.original_valid), ("test", spec.original_test)) if s})
        raw = orjson.dumps(body)
        etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
        return etag, gzip.compress(raw, 6)

    key = (origin, dataset)
    if snapshot.remembered("bulk", key):
        etag, packed = snapshot.remember("bulk", key, build)
    else:  # a miss reads up to ~120k rows: off the event loop
        etag, packed = await anyio.to_thread.run_sync(lambda: snapshot.remember("bulk", key, build, limit=32))
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return Response(gzip.decompress(packed), media_type="application/json", headers=headers)
    return Response(packed, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
