"""GET /v1/leaderboard: original vs re-scaled ranks, filters, paging, JSON or CSV."""

from __future__ import annotations

import csv
import io
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.schemas.common import ERROR_RESPONSES
from service.schemas.rankings import LeaderboardOut, LeaderboardQuery
from service.storage.readmodel import SeriesKey, Snapshot

from ..deps import snapshot_of
from ..query import openapi_parameters, parse_query
from ..rankings import filter_mask, leaderboard_rows, leaderboard_view, sorted_order
from ..sources import parse_source, rescaled_origin, source_info

__all__ = ["router", "view_keys", "leaderboard_page", "provenance", "CSV_COLUMNS"]

router = APIRouter(tags=["rankings"])
LEADERBOARD_PAGES = 2048
CSV_COLUMNS = ("index", "arch_str", "original", "rescaled", "rescaled_std", "rescaled_n", "rescaled_served",
               "served_from", "original_rank", "rescaled_rank", "rank_change", "params", "flops", "lr")


@router.get("/v1/leaderboard", response_model=LeaderboardOut, responses={
    **ERROR_RESPONSES, 200: {"content": {"text/csv": {"example": ",".join(CSV_COLUMNS) + "\n6111,|nor_conv_3x3~0|..."}},
                             "description": "JSON page, or CSV of the filtered view with format=csv (plain CSV: the "
                                            "provenance is in the X-Rebench-Original / X-Rebench-Rescaled headers)",
                             "headers": {"X-Rebench-Original": {"schema": {"type": "string"}, "description":
                                                                "with format=csv: what the original column is"},
                                         "X-Rebench-Rescaled": {"schema": {"type": "string"}, "description":
                                                                "with format=csv: what the rescaled column is"}}}},
    summary="Architectures ranked by original or re-scaled accuracy, or by how far they moved",
    openapi_extra={"parameters": openapi_parameters(LeaderboardQuery)})
async def leaderboard(request: Request) -> Response:
    q = parse_query(request, LeaderboardQuery)
    a_key, b_key = view_keys(q)
    snapshot = await snapshot_of(request)
    if q.format == "csv":
        return _csv(*leaderboard_page(snapshot, q, a_key, b_key)[:3])
    # JSON pages are memoised per snapshot (zlib-packed, ~5 kB): most traffic asks for the
    # first pages of a few views, and a page costs ~0.3 ms to build.
    packed = snapshot.remember("leaderboard-page", (a_key, b_key, q.model_dump_json()),
                               lambda: zlib.compress(orjson.dumps(leaderboard_page(snapshot, q, a_key, b_key)[3]), 1),
                               limit=LEADERBOARD_PAGES)
    return Response(zlib.decompress(packed), media_type="application/json")


def view_keys(q: LeaderboardQuery) -> tuple[SeriesKey, SeriesKey]:
    """Name the view's two series (original, re-scaled). An empty params range is no error here
    (it selects no arch: a schema-valid request is answered); the web form says "swap them"."""
    a_key = parse_source(q.original, q.dataset, ["query", "split"], q.split)
    b_key = parse_source(rescaled_origin(q.scaling, q.protocol, q.precision, ["query", "protocol"]), q.dataset,
                         ["query", "split"], q.split)
    return a_key, b_key


def leaderboard_page(snapshot: Snapshot, q: LeaderboardQuery, a_key: SeriesKey, b_key: SeriesKey
                     ) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(rows, original source info, rescaled source info, JSON body) of one leaderboard view."""
    dataset = q.dataset
    a, a_info = source_info(snapshot, a_key)
    b, b_info = source_info(snapshot, b_key)
    view = leaderboard_view(snapshot, a, b)
    order_all = sorted_order(snapshot, view, q.sort, q.order)
    mask = filter_mask(snapshot, dataset, view, q.ops, q.exclude_ops, q.params_min, q.params_max, q.has_results)
    chosen = order_all if mask is None else order_all[mask[order_all]]
    size = q.limit if q.limit is not None else (100 if q.format == "json" else len(chosen))
    rows = leaderboard_rows(snapshot, dataset, view, chosen[q.offset:q.offset + size])
    filters: dict[str, Any] = {"ops": q.ops, "exclude_ops": q.exclude_ops, "params_min": q.params_min,
                               "params_max": q.params_max, "has_results": q.has_results}
    body = {"dataset": dataset, "split": a_key.split, "metric": q.metric, "original": a_info, "rescaled": b_info,
            "sort": q.sort, "order": q.order, "filters": filters, "total": int(len(chosen)),
            "n_common": view.n_common, "rank_basis": view.rank_basis, "limit": size, "offset": q.offset,
            "rows": rows}
    return rows, a_info, b_info, body


def provenance(label: str, info: dict[str, Any]) -> str:
    """One line saying what a column's numbers are (as every answer says it)."""
    protocol = (info["protocol"] or {}).get("key")
    return (f"{label}: source={info['source']} dataset={info['dataset']} split={info['split']} "
            f"metric={info['metric']} protocol={protocol} seeds={info['seeds'] or 'not itemised'} "
            f"aggregation={info['aggregation']}")


def _csv(rows: list[dict[str, Any]], a_info: dict[str, Any], b_info: dict[str, Any]) -> Response:
    """A plain CSV (pandas.read_csv and spreadsheets read it as it is): the header row, then one
    row per arch. What the numbers are goes in the HTTP headers X-Rebench-Original / -Rescaled
    (and the same query with format=json answers it in full), not in comment lines."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="leaderboard.csv"',
                             "X-Rebench-Original": provenance("original", a_info).encode().decode("latin-1"),
                             "X-Rebench-Rescaled": provenance("rescaled", b_info).encode().decode("latin-1")})
