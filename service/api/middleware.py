"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs ~100 us a request).

``BodyLimit`` answers 413 before a large body reaches the app; ``Metrics`` counts requests
and latencies per route template for Prometheus.
"""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["BodyLimit", "Metrics"]

Scope = dict[str, Any]


async def _send_json(send: Any, status: int, payload: dict[str, Any],
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self) -> dict[str, Any]:
        return {"detail": [{"type": "body_too_large", "loc": ["body"],
                            "msg": f"request body exceeds {self.max_bytes} bytes; send fewer items "
                                   "(POST /v1/batches takes at most 1,000 archs) or split the request"}]}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await _send_json(send, 413, self._too_large())
                    return
        # Read the body now (bounded) and replay it: a missing or lying Content-Length
        # cannot smuggle a larger body past the limit.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_json(send, 413, self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Metrics:
    """``rebench_http_requests_total`` and ``rebench_http_request_seconds`` by method, route, status."""

    def __init__(self, app: Any, registry: CollectorRegistry):
        self.app = app
        self.requests = Counter("rebench_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=registry)
        self.latency = Histogram("rebench_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.requests.labels(scope["method"], template, str(status)).inc()
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - start)
