"""A small HTTP client for the nb201-rebench API (httpx; no torch, no server code).

    from service.client import RebenchClient
    c = RebenchClient("http://127.0.0.1:8000", api_key="rb_...")
    accepted = c.submit(6111, dataset="cifar10", protocol="smoke", seeds=[777])
    runs = c.wait([r["id"] for r in accepted["runs"]])
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["RebenchClient", "ApiError", "FINAL_STATUSES"]

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class ApiError(RuntimeError):
    """A 4xx/5xx answer; ``detail`` is the API's error body (field + fix)."""

    def __init__(self, status: int, detail: Any):
        self.status, self.detail = status, detail
        messages = [d.get("msg", str(d)) for d in detail] if isinstance(detail, list) else [str(detail)]
        super().__init__(f"HTTP {status}: " + "; ".join(messages))


#: Read timeout of ``POST /v1/batches``: the largest accepted batch (1,000 archs x 16 seeds =
#: 16,000 runs) is answered in ~4 s on a loaded 2-core machine (docs/benchmarks.md); a slow
#: or busy database must not make the client give up while the server goes on creating
#: the runs. A resubmission after a timeout is harmless: batches are idempotent.
BATCH_TIMEOUT_S = 180.0


class RebenchClient:
    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 30.0):
        self.timeout = timeout
        self.url = (url or os.environ.get("REBENCH_URL", "http://127.0.0.1:8000")).rstrip("/")
        key = api_key or os.environ.get("REBENCH_API_KEY")
        self.http = httpx.Client(base_url=self.url, timeout=timeout, headers={"X-API-Key": key} if key else {})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RebenchClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, detail)
        return response.json()

    # -- writes ---------------------------------------------------------------------------
    def submit(self, arch: int | str, *, dataset: str = "cifar10", scaling: str = "arch-aware",
               protocol: str = "nb201-200", seeds: Sequence[int] = (777, 888, 999), precision: str = "fp32") -> dict:
        body = {"arch": arch, "dataset": dataset, "scaling": scaling, "protocol": protocol, "seeds": list(seeds),
                "precision": precision}
        return self._call("POST", "/v1/runs", json=body)

    def submit_batch(self, archs: Iterable[int | str], *, dedup: str = "exact", **options: Any) -> dict:
        """``dedup``: exact | isomorphic | nb201 (one trained run per class; docs/workers.md)."""
        return self._call("POST", "/v1/batches", json={"archs": list(archs), "dedup": dedup, **options},
                          timeout=httpx.Timeout(self.timeout, read=max(self.timeout, BATCH_TIMEOUT_S)))

    def cancel(self, run_id: int) -> dict:
        return self._call("DELETE", f"/v1/runs/{run_id}")

    def create_campaign(self, selector: dict[str, Any], datasets: Sequence[str], **options: Any) -> dict:
        """A bulk re-benchmark (``selector``: {"all": true} or filters); idempotent."""
        return self._call("POST", "/v1/campaigns", json={"selector": selector, "datasets": list(datasets), **options})

    def campaign(self, campaign_id: int) -> dict:
        return self._call("GET", f"/v1/campaigns/{campaign_id}")

    def cancel_campaign(self, campaign_id: int) -> dict:
        return self._call("DELETE", f"/v1/campaigns/{campaign_id}")

    # -- reads ----------------------------------------------------------------------------
    def run(self, run_id: int) -> dict:
        return self._call("GET", f"/v1/runs/{run_id}")

    def arch(self, arch: int | str, dataset: str | None = None) -> dict:
        params = {"dataset": dataset} if dataset else None
        return self._call("GET", f"/v1/archs/{quote(str(arch), safe='')}", params=params)

    def arch_runs(self, arch: int | str, **filters: Any) -> dict:
        """The runs of one cell; filters: dataset, scaling, protocol, precision, status."""
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", f"/v1/archs/{quote(str(arch), safe='')}/runs", params=params)

    def leaderboard(self, **params: Any) -> dict:
        return self._call("GET", "/v1/leaderboard", params=params)

    def kendall(self, **params: Any) -> dict:
        return self._call("GET", "/v1/rankings/kendall", params=params)

    def wait(self, run_ids: Sequence[int], *, poll_s: float = 1.0, timeout_s: float | None = None,
             on_update: Callable[[dict], None] | None = None) -> list[dict]:
        """Poll until every run is final; ``on_update`` sees each run at each poll."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            runs = [self.run(run_id) for run_id in run_ids]
            for run in runs:
                if on_update:
                    on_update(run)
            if all(run["status"] in FINAL_STATUSES for run in runs):
                return runs
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"runs {[r['id'] for r in runs if r['status'] not in FINAL_STATUSES]} "
                                   f"not finished after {timeout_s} s")
            time.sleep(poll_s)
