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

import re
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.schemas.common import ERROR_RESPONSES, ErrorResponse
from service.schemas.patterns import degenerate_component

from .errors import error_response

__all__ = ["install_contract", "allowed_methods", "RefuseRepeatedQuery", "ERROR_TEXT", "finish_schema"]

ERROR_TEXT = {
    400: "malformed request body (not JSON, or not an object)",
    401: "writes need a live key in X-API-Key (`rebench api-key create`)",
    404: "unknown id or arch, or no numbers for this dataset and split",
    413: "request body or batch too large",
    422: "invalid field: the message names it and the fix",
    503: "database or broker unavailable, or the read model is loading: retry after Retry-After seconds",
}
_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
#: the descriptions of service.schemas.common.ERROR_RESPONSES (a route's own declarations are kept)
_SHARED_TEXT = {str(entry["description"]) for entry in ERROR_RESPONSES.values()}
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
            statuses = _statuses(path, op)
            for code in (400, 404, 413):  # from the routes' shared ERROR_RESPONSES: kept only where they apply
                if code not in statuses and responses.get(str(code), {}).get("description") in _SHARED_TEXT:
                    del responses[str(code)]
            for code in sorted(statuses):
                entry = responses.setdefault(str(code), {"description": ERROR_TEXT[code],
                                                         "content": {"application/json": {"schema": _ERROR}}})
                if entry.get("description") in (None, "", *_SHARED_TEXT):
                    entry["description"] = ERROR_TEXT[code]
                if code == 503:
                    entry.setdefault("headers", _RETRY_AFTER)
            for (p, m, status), links in LINKS.items():
                if (p, m) == (path, method) and status in responses:
                    responses[status]["links"] = links
    return schema


class _Paths:
    """The schema's paths as regexes: the methods of each and their single-valued query parameters."""

    def __init__(self, schema: dict[str, Any]):
        self.entries = []
        for path, methods in schema.get("paths", {}).items():
            regex = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")
            single = {m.upper(): frozenset(p["name"] for p in op.get("parameters", [])
                                           if p["in"] == "query" and p.get("schema", {}).get("type") != "array")
                      for m, op in methods.items()}
            self.entries.append((regex, single))

    def lookup(self, path: str) -> dict[str, frozenset[str]] | None:
        return next((single for regex, single in self.entries if regex.match(path)), None)


def _paths(app: Any) -> _Paths:
    found = getattr(app.state, "contract_paths", None)
    if found is None:
        found = app.state.contract_paths = _Paths(app.openapi())
    return found


def allowed_methods(app: FastAPI, path: str) -> list[str] | None:
    """Every method the schema documents at this path, with HEAD beside GET (Starlette's own 405
    lists only the methods of the first route whose path matches); None off the schema."""
    methods = _paths(app).lookup(path)
    if methods is None:
        return None
    return sorted({*methods, *(("HEAD",) if "GET" in methods else ())})


class RefuseRepeatedQuery:
    """Pure ASGI: ``?a=x&a=y`` for a single-valued ``a`` is a 422, not "the last one wins". A query
    string without '&' costs one byte search; with one, a split on '&'; when a name repeats, the
    verdict is memoised per method, path and names. ``benchmarks/contract_overhead.py``."""

    def __init__(self, app: Any, api: FastAPI):
        self.app, self.api = app, api
        self._verdicts: dict[tuple[str, str, tuple[bytes, ...]], str | None] = {}

    def refused(self, method: str, path: str, names: tuple[bytes, ...]) -> str | None:
        """The first single-valued name that repeats, memoised per method, path and names."""
        key = (method, path, names)
        if key not in self._verdicts:
            if len(self._verdicts) > 4096:  # arch paths and name lists vary: keep the memo bounded
                self._verdicts.clear()
            single = (_paths(self.api).lookup(path) or {}).get(method, frozenset())
            repeated = {unquote_plus(n.decode("latin-1")) for n in names if names.count(n) > 1}
            self._verdicts[key] = min(repeated & single, default=None)
        return self._verdicts[key]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"&" in raw:
            names = tuple(part.partition(b"=")[0] for part in raw.split(b"&"))
            if len(set(names)) < len(names):
                name = self.refused(scope["method"], scope["path"], names)
                if name is not None:
                    response = error_response(422, f"{name}: given more than once; it takes one value (send it "
                                                   "once)", ["query", name], "repeated_parameter")
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def install_contract(app: FastAPI) -> None:
    """The statuses and links in the schema, and the refusal of repeated single-valued parameters."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_schema(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(RefuseRepeatedQuery, api=app)
