"""The HTTP contract that the routes share, stated once: which statuses each operation can
answer (in the OpenAPI schema), the methods a 405 lists in ``Allow``, and the refusal of a
single-valued query parameter sent twice.

Statuses are derived from what an operation takes, not written route by route, so a new
router follows the same rules:

- every operation: 503 (database or broker unavailable, read model warming; ``Retry-After``);
- with any parameter or a body: 422 (a field is invalid: the message names it and the fix);
- with a path parameter, a ``split`` or a source: 404 (no such id, arch, or numbers);
- with a request body: 400 (malformed body) and 413 (body too large, see ``BodyLimit``);
- with a write key (``X-API-Key``): 401.

Stateful clients (and schemathesis' stateful phase) follow the OpenAPI ``links``: a submitted
run or batch can be read or cancelled by the id in the 202 answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import Match

from service.schemas.common import ErrorResponse
from service.schemas.patterns import degenerate_component

from .errors import error_response

__all__ = ["install_contract", "allowed_methods", "ERROR_TEXT"]

ERROR_TEXT = {
    400: "malformed request body (not JSON, or not an object)",
    401: "writes need a live key in X-API-Key (`rebench api-key create`)",
    404: "unknown id or arch, or no numbers for this dataset and split",
    413: "request body or batch too large",
    422: "invalid field: the message names it and the fix",
    503: "database or broker unavailable, or the read model is loading: retry after Retry-After seconds",
}
_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
LINKS = {  # (path, method, status) -> links of that answer
    ("/v1/runs", "post", "202"): {
        "ReadRun": {"operationId": "read_run_v1_runs__run_id__get", "parameters": {"run_id": "$response.body#/runs/0/id"}},
        "CancelRun": {"operationId": "cancel_run_v1_runs__run_id__delete",
                      "parameters": {"run_id": "$response.body#/runs/0/id"}}},
    ("/v1/batches", "post", "202"): {
        "ReadBatch": {"operationId": "read_batch_v1_batches__batch_id__get",
                      "parameters": {"batch_id": "$response.body#/id"}}},
}


def _statuses(path: str, op: dict[str, Any]) -> set[int]:
    params = op.get("parameters", [])
    codes = {503}
    if params or "requestBody" in op:
        codes.add(422)
    if any(p["in"] == "path" for p in params) or any(p["name"] in ("split", "a", "b") for p in params):
        codes.add(404)
    if "requestBody" in op:
        codes |= {400, 413}
    if op.get("security"):
        codes.add(401)
    return codes


def finish_schema(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorResponse", ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}"))
    components["DegenerateArch"] = degenerate_component()
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            responses = op.setdefault("responses", {})
            for code in (400, 401, 404, 413, 422):  # the routes' shared list: replaced by what applies
                if code not in _statuses(path, op):
                    responses.pop(str(code), None)
            for code in sorted(_statuses(path, op)):
                entry = responses.setdefault(str(code), {"description": ERROR_TEXT[code],
                                                         "content": {"application/json": {"schema": _ERROR}}})
                if code in ERROR_TEXT and entry.get("description") in (None, "", "bad request", "unknown id or arch",
                                                                       "body or batch too large",
                                                                       "database not ready or warming up"):
                    entry["description"] = ERROR_TEXT[code]
                if code == 503:
                    entry.setdefault("headers", _RETRY_AFTER)
            for (p, m, status), links in LINKS.items():
                if (p, m) == (path, method) and status in responses:
                    responses[status]["links"] = links
    return schema


def allowed_methods(app: FastAPI, scope: dict[str, Any]) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        if getattr(route, "methods", None) and route.matches({**scope, "method": "GET"})[0] is not Match.NONE:
            methods |= set(route.methods)  # type: ignore[arg-type]
    return sorted(methods)


def _single_valued(route: APIRoute) -> frozenset[str]:
    """The route's query parameters that take one value (from its signature and openapi_extra)."""
    names = set()
    for param in route.dependant.query_params:
        if getattr(param.field_info, "annotation", None) is not None and "list" in str(param.field_info.annotation):
            continue
        names.add(param.alias)
    for param in (route.openapi_extra or {}).get("parameters", []):
        if param.get("in") == "query" and param.get("schema", {}).get("type") != "array":
            names.add(param["name"])
    return frozenset(names)


def _refuse_repeats(route: APIRoute, names: frozenset[str]) -> None:
    """Wrap the route's ASGI app: ``?a=x&a=y`` for a single-valued ``a`` is a 422, not "the last one wins"."""
    inner = route.app

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = scope.get("query_string", b"")
        if raw:
            from urllib.parse import parse_qsl

            seen: set[str] = set()
            for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
                if name in names:
                    if name in seen:
                        response = error_response(
                            422, f"{name}: given more than once; it takes one value (send it once)",
                            ["query", name], "repeated_parameter")
                        await response(scope, receive, send)
                        return
                    seen.add(name)
        await inner(scope, receive, send)

    route.app = app


def install_contract(app: FastAPI) -> None:
    """Call after every router is included."""
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            names = _single_valued(route)
            if names:
                _refuse_repeats(route, names)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_schema(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
