"""GET /v1/rankings/kendall: how rankings move, top-K% by top-K%, with a seed noise floor."""

from __future__ import annotations

import anyio
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.schemas.common import ERROR_RESPONSES
from service.schemas.rankings import KendallOut, KendallQuery

from ..deps import snapshot_of
from ..errors import ApiError
from ..query import openapi_parameters, parse_query
from ..rankings import kendall_rows, seed_floor_series
from ..sources import parse_source, source_info

router = APIRouter(tags=["rankings"])
NOTE = ("Kendall tau between sources a and b over the top-K% of the archs that have both; the top-K% is "
        "picked by a, by b, or is the union of both picks (select_by); ties at the boundary by index. "
        "ties_a/ties_b count tied pairs. noise_floor: tau between two seeds of one source over the same "
        "archs, for sources with per-seed numbers; a published source without them on the compared split "
        "(NB201's test numbers are seed-means) shows the noise floor of its valid split, named in `split`; "
        "a comparison without nb201 also shows NB201's own seed noise (valid split) over the same archs.")


def nothing_to_compare(a: dict, b: dict, n_common: int) -> str | None:
    """Why τ is null everywhere: which source has no numbers for the dataset and split, or too few
    archs in common. None when there is something to compare."""
    if n_common >= 2:
        return None
    empty = [f"{name} ({info['source']})" for name, info in (("a", a), ("b", b)) if info["archs"] == 0]
    where = f"{a['dataset']}, split {a['split']}" + ("" if a["split"] == b["split"] else f" / {b['split']}")
    if empty:
        return (f"{' and '.join(empty)} {'have' if len(empty) > 1 else 'has'} no numbers for {where}: "
                "import them (rebench import-nb201) or submit runs for this setting")
    return (f"only {n_common} arch(s) have numbers in both a ({a['archs']} archs) and b ({b['archs']} archs) for "
            f"{where}: τ needs at least 2")


@router.get("/v1/rankings/kendall", response_model=KendallOut, responses=ERROR_RESPONSES,
            summary="Kendall tau (b or c) between any two result sources over the top-K% of archs",
            openapi_extra={"parameters": openapi_parameters(KendallQuery)})
async def kendall(request: Request) -> Response:
    q = parse_query(request, KendallQuery)
    dataset, k, variant = q.dataset, q.k, q.variant
    for i, value in enumerate(k):
        if not 0 < value <= 100:
            raise ApiError(422, f"k = {value} is outside (0, 100]: give top-K percentages like 100, 10, 1",
                           ["query", "k", i])
    if len(k) > 50:
        raise ApiError(422, f"{len(k)} values of k; ask for at most 50", ["query", "k"])
    a_key = parse_source(q.a, dataset, ["query", "a"], q.split)
    b_key = parse_source(q.b, dataset, ["query", "b"], q.split)
    by = {"original": "a", "rescaled": "b"}.get(q.select_by, q.select_by)
    ks = tuple(float(x) for x in k)
    snapshot = await snapshot_of(request)

    def compute() -> bytes:
        a_series, a_info = source_info(snapshot, a_key)
        b_series, b_info = source_info(snapshot, b_key)
        extra = seed_floor_series(snapshot, a_key, b_key)
        n_common, rows = kendall_rows(a_series, b_series, ks, by, variant, extra)
        return orjson.dumps({"dataset": dataset, "a": a_info, "b": b_info, "select_by": by,
                             "variant": f"tau-{variant}", "n_common": n_common,
                             "reason": nothing_to_compare(a_info, b_info, n_common), "rows": rows, "note": NOTE})

    key = (a_key, b_key, ks, by, variant)
    if snapshot.remembered("kendall", key):
        body = snapshot.remember("kendall", key, compute)
    else:  # a miss costs up to ~100 ms of scipy: keep it off the event loop
        body = await anyio.to_thread.run_sync(lambda: snapshot.remember("kendall", key, compute, limit=512))
    return Response(body, media_type="application/json")
