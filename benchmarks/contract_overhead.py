"""Cost per request of the contract's ASGI check for repeated single-valued query parameters
(``service.api.contract.RefuseRepeatedQuery``), against calling the app behind it directly.

    .venv/bin/python benchmarks/contract_overhead.py [--n 200000]

The check parses the query string only when it contains '&' and looks the route up (regexes
over the schema's paths) only when a name repeats; this measures those cases with a no-op inner
app (so only the check is timed), in one process, best of 5 rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time
from datetime import date

from service.api.contract import RefuseRepeatedQuery

QUERIES = {
    "no query (GET /v1/archs/6111)": b"",
    "leaderboard, 8 params, ops repeated (a list)": b"dataset=cifar10&scaling=arch-aware&protocol=smoke&sort=rescaled"
                                            b"&order=desc&ops=nor_conv_3x3&ops=skip_connect&limit=100",
    "kendall, 12 k values (a list: allowed)": b"a=nb201&b=arch-aware&" + b"&".join(b"k=%d" % k for k in range(12)),
}


async def noop(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    return None


async def timed(app, scope, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(n):
        await app(scope, None, None)
    return (time.perf_counter() - start) / n


async def main(n: int) -> None:
    import tempfile

    from service.api import create_app
    from service.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:  # the app is built, never served: its schema is what is read
        api = create_app(Settings(database_url=f"sqlite:///{tmp}/x.db", broker_url=None), watch=False)
    check = RefuseRepeatedQuery(noop, api)
    print(f"{date.today()} {platform.processor() or platform.machine()} python {platform.python_version()}, n={n}")
    print("| request | inner app alone | with the check | overhead |")
    print("|---|---|---|---|")
    for label, query in QUERIES.items():
        scope = {"type": "http", "method": "GET", "path": "/v1/leaderboard", "query_string": query}
        base = min([await timed(noop, scope, n) for _ in range(5)])
        with_check = min([await timed(check, scope, n) for _ in range(5)])
        print(f"| {label} | {base * 1e6:.2f} µs | {with_check * 1e6:.2f} µs | {(with_check - base) * 1e6:.2f} µs |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().n))
