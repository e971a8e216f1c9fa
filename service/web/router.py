"""HTML pages served by the API process: leaderboard, architecture, plots, live queue.

Pages are rendered on the server (Jinja2 + inline SVG) and work with JavaScript off; only
the live queue polls ``GET /v1/runs``. Every view calls the functions behind the JSON API,
and a bad query value gets the API's message (the field and the fix) in an HTML error box.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from archscale.datasets import DATASETS
from archscale.protocols import PRECISIONS, PROTOCOLS, SCALINGS
from archscale.space import NUM_CELLS, OPS
from service.api.deps import AppState, path_arch_index, snapshot_of
from service.api.errors import ApiError, validation_items  # the API's own wording of 422s
from service.api.routes.queue import recent_runs
from service.schemas.rankings import ORIGINAL_SOURCES, LeaderboardQuery

from . import svg
from .defaults import leaderboard_default, plots_default
from .views import PlotsQuery, WebPage, arch_runs, arch_view, leaderboard_view, plots_view, validate

__all__ = ["router", "install_web"]

HERE = Path(__file__).parent
router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)
templates.globals.update(OPS=OPS, OP_STYLE=svg.OP_STYLE, DATASETS=list(DATASETS), SCALINGS=list(SCALINGS),
                         PROTOCOLS=list(PROTOCOLS), PRECISIONS=list(PRECISIONS), ORIGINAL_SOURCES=ORIGINAL_SOURCES)
#: web-only parameters; limit/offset/format belong to the export links, not to the page
PAGE_FIELDS = ("page", "per_page")
API_ONLY = ("limit", "offset", "format")


def install_web(app: FastAPI) -> None:
    from .campaigns import router as campaign_pages  # here: it imports this module's render()

    app.include_router(router)
    app.include_router(campaign_pages)
    app.mount("/web/static", StaticFiles(directory=HERE / "static"), name="web-static")


def render(template: str, code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(template).render(**context), status_code=code)


def error_page(exc: Exception, title: str) -> HTMLResponse:
    """The API's error items (field + fix) in an HTML box, with the API's status code."""
    if isinstance(exc, RequestValidationError):
        status, items = 422, validation_items(exc)
    else:
        assert isinstance(exc, ApiError)
        status, items = exc.status, [{"type": exc.type, "loc": exc.loc, "msg": exc.msg}]
    for item in items:
        item["field"] = ".".join(str(p) for p in item["loc"] if p not in ("query", "path"))
    return render("error.html", status, nav=title.lower(), title=title, status=status, errors=items)


def _query_dict(request: Request, list_fields: set[str]) -> dict[str, Any]:
    """Query parameters with empty form fields dropped (a blank 'min params' means no filter)."""
    data: dict[str, Any] = {}
    for name in request.query_params:
        values = [v for v in request.query_params.getlist(name) if v != ""]
        if values:
            data[name] = values if name in list_fields else values[-1]
    return data


def link(path: str, state: dict[str, Any], **changes: Any) -> str:
    """``path?state`` with ``changes`` applied (None removes a key): the page's shareable URL."""
    merged = {**state, **changes}
    pairs = [(k, v) for k, value in merged.items() if value is not None
             for v in (value if isinstance(value, list) else [value])]
    return f"{path}?{urlencode(pairs)}" if pairs else path


templates.globals["link"] = link


@functools.lru_cache(maxsize=NUM_CELLS)
def cell_chips(arch_str: str) -> Markup:
    """The op chips of one cell, grouped by target node: one ``<span class="op">`` per edge."""
    nodes = []
    for part in arch_str.strip("|").split("|+|"):
        chips = "".join(f'<span class="op op-{escape(tok.split("~")[0])}" title="{escape(tok)}">'
                        f'{escape(svg.OP_STYLE[tok.split("~")[0]][0])}</span>' for tok in part.split("|"))
        nodes.append(f'<span class="node-ops">{chips}</span>')
    return Markup(f'<span class="cell">{"".join(nodes)}</span>')


templates.globals["cell_chips"] = cell_chips


@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/web/leaderboard", status_code=307)


@router.get("/web", response_class=RedirectResponse)
@router.get("/web/", response_class=RedirectResponse)
async def web_home() -> RedirectResponse:
    return RedirectResponse("/web/leaderboard", status_code=307)


@router.get("/web/leaderboard", response_class=HTMLResponse)
async def leaderboard_page(request: Request) -> HTMLResponse:
    data = _query_dict(request, {"ops", "exclude_ops"})
    default = None
    try:
        if not set(data) - set(PAGE_FIELDS):  # nothing chosen but the paging: show numbers that exist
            default = leaderboard_default(await snapshot_of(request))
            data = {**default.params, **data}
        paging = validate(WebPage, {k: data.pop(k) for k in PAGE_FIELDS if k in data})
        for name in API_ONLY:
            data.pop(name, None)
        offset = min((paging.page - 1) * paging.per_page, NUM_CELLS)  # past the end: the check below names `page`
        q = validate(LeaderboardQuery, {**data, "limit": paging.per_page, "offset": offset})
        snapshot = await snapshot_of(request)
    except (RequestValidationError, ApiError) as exc:
        return error_page(exc, "Leaderboard")
    state = {**data, "page": paging.page if paging.page > 1 else None,
             "per_page": paging.per_page if paging.per_page != 50 else None}
    api_state = {**data, "limit": paging.per_page, "offset": (paging.page - 1) * paging.per_page}

    def html() -> bytes:
        body = leaderboard_view(snapshot, q)
        pages = max(1, -(-body["total"] // paging.per_page))
        if paging.page > pages:
            raise ApiError(422, f"page {paging.page}: this view has {body['total']} architectures, {pages} page(s) "
                                f"of {paging.per_page}; use a page from 1 to {pages}", ["query", "page"])
        page = templates.get_template("leaderboard.html").render(
            nav="leaderboard", q=q, body=body, state=state, page=paging.page, per_page=paging.per_page,
            default_note=default.note if default else None,
            pages=pages, export_csv=link("/v1/leaderboard", api_state, format="csv"),
            export_json=link("/v1/leaderboard", api_state, format="json"),
            export_all=link("/v1/leaderboard", data, format="csv"))
        return zlib.compress(page.encode(), 1)

    # The page depends only on the snapshot and the query: building and rendering 50 rows costs
    # ~6 ms, a memoised page (zlib-packed, a few kB) ~0.1 ms. Keyed by the URL's query string;
    # an error is not memoised (remember() stores only answers).
    try:
        packed = snapshot.remember("web-leaderboard", str(request.query_params), html, limit=512)
    except ApiError as exc:
        return error_page(exc, "Leaderboard")
    return HTMLResponse(zlib.decompress(packed))


@router.get("/web/archs/{arch}", response_class=HTMLResponse)
async def arch_page(request: Request, arch: str) -> HTMLResponse:
    try:
        index = path_arch_index(arch)
        snapshot = await snapshot_of(request)
    except ApiError as exc:
        return error_page(exc, "Architecture")
    state: AppState = request.app.state.rebench
    payload = arch_view(snapshot, index)

    def load() -> dict[str, Any]:
        with state.db.transaction() as session:
            return arch_runs(session, index)

    runs = await anyio.to_thread.run_sync(load)
    return render("arch.html", nav="leaderboard", arch=payload, runs=runs["runs"], charts=runs["charts"])


@router.get("/web/plots", response_class=HTMLResponse)
async def plots_page(request: Request) -> HTMLResponse:
    data = _query_dict(request, set())
    default = None
    try:
        if not any(name in data for name in ("dataset", "a", "b", "split")):  # nothing chosen: data that exist
            default = plots_default(await snapshot_of(request))
            data = {**default.params, **data}
        q = validate(PlotsQuery, data)
        snapshot = await snapshot_of(request)
        # scipy's Kendall over up to 15,625 archs x 12 K values: keep it off the event loop
        view = await anyio.to_thread.run_sync(lambda: snapshot.remember(
            "web-plots", q.model_dump_json(), lambda: plots_view(snapshot, q), limit=16))  # up to ~1 MB each
    except (RequestValidationError, ApiError) as exc:
        return error_page(exc, "Plots")
    return render("plots.html", nav="plots", q=q, view=view, state=data, default_note=default.note if default else None)


@router.get("/web/queue", response_class=HTMLResponse)
async def queue_page(request: Request) -> HTMLResponse:
    state: AppState = request.app.state.rebench

    def load() -> dict[str, Any]:
        with state.db.transaction() as session:
            return recent_runs(session, [], 100)

    return render("queue.html", nav="queue", queue=await anyio.to_thread.run_sync(load))
