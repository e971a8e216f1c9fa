"""One error shape for every non-2xx answer: ``{"detail": [{"type", "loc", "msg"}]}``.

That is FastAPI's validation shape, so clients parse one format; ``msg`` always says
what is wrong and how to fix it, ``loc`` names the field.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.storage.errors import StorageError

__all__ = ["ApiError", "error_response", "field_errors", "install_error_handlers", "validation_items"]

log = logging.getLogger("service.api")


class ApiError(Exception):
    def __init__(self, status: int, msg: str, loc: list[str | int] | None = None, type: str = "invalid_value",
                 headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status, self.msg, self.loc, self.type, self.headers = status, msg, loc or [], type, headers


def error_response(status: int, msg: str, loc: list[Any] | None = None, type: str = "invalid_value",
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": [{"type": type, "loc": loc or [], "msg": msg}]}, status_code=status,
                        headers=headers)


@contextmanager
def field_errors(where: str) -> Iterator[None]:
    """Turn storage/validation errors raised inside into ApiErrors located in ``where``
    (``body``, ``query`` or ``path``)."""
    try:
        yield
    except StorageError as exc:
        loc: list[str | int] = [where, exc.field] if exc.field else [where]
        raise ApiError(exc.status_code, exc.message, loc, exc.kind) from None


_FIXES = {
    "json_invalid": "the request body is not valid JSON; send a JSON object with Content-Type: application/json",
    "model_attributes_type": "the request body must be a JSON object with the documented fields",
    "dict_type": "the request body must be a JSON object with the documented fields",
    "missing": "this field is required",
    "extra_forbidden": "unknown field: remove it (see the schema at /docs)",
    "too_long": "send fewer items (a batch takes at most 1,000 archs: split it into several batches)",
}


def validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    items = []
    for error in exc.errors():
        msg = str(error.get("msg", "invalid value"))
        fix = _FIXES.get(str(error.get("type")))
        if fix and fix not in msg:
            msg = f"{msg}: {fix}"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        field = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
        if field and field not in msg:
            msg = f"{field}: {msg}"
        items.append({"type": str(error.get("type", "invalid_value")),
                      "loc": [p if isinstance(p, (str, int)) else str(p) for p in error.get("loc", ())], "msg": msg})
    return items


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.msg, exc.loc, exc.type, exc.headers)

    @app.exception_handler(StorageError)
    async def _storage_error(_: Request, exc: StorageError) -> JSONResponse:
        return error_response(exc.status_code, exc.message, [exc.field] if exc.field else [], exc.kind)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_items(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            msg = f"no endpoint {request.method} {request.url.path}; the API is described at /docs"
        elif exc.status_code == 405:
            from .contract import allowed_methods  # a cycle at import time: contract uses error_response

            methods = allowed_methods(request.app, request.url.path)
            allow = ", ".join(methods) if methods else (exc.headers or {}).get("Allow", "")
            msg = f"{request.method} is not allowed on {request.url.path}; use {allow} (see /docs)"
            return error_response(405, msg, [], "http_error", {"Allow": allow})
        else:
            msg = str(exc.detail)
        return error_response(exc.status_code, msg, [], "http_error", getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.url.path)
        return error_response(500, f"internal error {error_id}: this is a bug, report it with this id", [],
                              "internal_error")
