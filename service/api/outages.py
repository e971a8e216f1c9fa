"""Outages of the database or the broker answer 503 with ``Retry-After``, not 500.

A dependency outage is not a bug in the request or the service: the client should retry,
and the kept-alive connection should stay usable. :class:`Outages` is a pure ASGI
middleware (innermost of ours) that turns an outage raised anywhere in a request -- a route,
a dependency such as the API-key check, a storage call -- into the JSON error format with
status 503 and ``Retry-After``. Exceptions are recognised by class name along their MRO, so
the API process does not import redis or kombu just to name their errors. The engine checks
each pooled connection before use (``pool_pre_ping``), so once the server is back the next
request succeeds without restarting the API.
"""

from __future__ import annotations

import logging
from typing import Any

from .middleware import _send_json

__all__ = ["Outages", "outage_of", "RETRY_AFTER_S"]

RETRY_AFTER_S = 5
log = logging.getLogger("service.api")

#: "module.Class" of the exceptions that mean "a server we depend on is unreachable"
_DATABASE = {"sqlalchemy.exc.OperationalError", "sqlalchemy.exc.InterfaceError", "sqlalchemy.exc.TimeoutError",
             "sqlalchemy.exc.DisconnectionError", "psycopg.OperationalError", "psycopg.errors.OperationalError"}
_BROKER = {"redis.exceptions.ConnectionError", "redis.exceptions.TimeoutError", "redis.exceptions.BusyLoadingError",
           "kombu.exceptions.OperationalError", "amqp.exceptions.ConnectionError"}


def outage_of(exc: BaseException) -> str | None:
    """"database" or "broker" when ``exc`` says that server is unreachable, else None."""
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}
    if names & _DATABASE or getattr(exc, "connection_invalidated", False):
        return "database"
    if names & _BROKER:
        return "broker"
    return None


class Outages:
    def __init__(self, app: Any, retry_after_s: int = RETRY_AFTER_S):
        self.app, self.retry_after_s = app, retry_after_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            what = outage_of(exc)
            if what is None or started:
                raise
            log.warning("%s unavailable on %s %s: %s", what, scope.get("method"), scope.get("path"),
                        str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
            fix = ("the database is unreachable or restarting" if what == "database"
                   else "the message broker is unreachable or restarting")
            await _send_json(send, 503, {"detail": [{
                "type": f"{what}_unavailable", "loc": [],
                "msg": f"{fix}; nothing was changed by this request unless it says so. Retry in "
                       f"{self.retry_after_s} s (Retry-After); /readyz shows when the service is back"}]},
                headers=[(b"retry-after", str(self.retry_after_s).encode())])
