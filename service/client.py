"""A small HTTP client for the nb201-rebench API (httpx; no torch, no server code).

    from service.client import RebenchClient
    c = RebenchClient("http://127.0.0.1:8000", api_key="rb_...")
    accepted = c.submit(6111, dataset="cifar10", protocol="smoke", seeds=[777])
    runs = c.wait([r["id"] for r in accepted["runs"]])   # progress lines, then each run's accuracy
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["RebenchClient", "ApiError", "FINAL_STATUSES", "progress_line", "results_text", "test_accuracy"]

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
             on_update: Callable[[dict], None] | None = None,
             progress: bool | Callable[[str], None] = True) -> list[dict]:
        """Poll until every run is final; ``on_update`` sees each run at each poll.

        ``progress``: a line on stderr whenever the batch's state changes (``3/6 finished
        (succeeded 3); running 1 at epoch 2/4; queued 2``) and, at the end, one line per run with
        its test accuracy (``results_text``); False for silence, or a function that takes each
        progress line (and no results text)."""
        say = (lambda line: print(line, file=sys.stderr, flush=True)) if progress is True else progress or None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last = ""
        while True:
            runs = [self.run(run_id) for run_id in run_ids]
            for run in runs:
                if on_update:
                    on_update(run)
            line = progress_line(runs)
            if say and line != last:
                say(line)
                last = line
            if all(run["status"] in FINAL_STATUSES for run in runs):
                if progress is True:  # a function gets the progress lines only; it prints results its way
                    say(results_text(runs))
                return runs
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"runs {[r['id'] for r in runs if r['status'] not in FINAL_STATUSES]} "
                                   f"not finished after {timeout_s} s")
            time.sleep(poll_s)


def test_accuracy(run: dict) -> float | None:
    """The run's final accuracy on its setting's test split (``x-test`` / ``test``), else its
    valid split (cifar10-valid reports only ``valid``); None before it succeeds."""
    metrics = (run.get("result") or {}).get("metrics") or {}
    for split in ("test", "x-test", "valid", "x-valid"):
        if "acc" in metrics.get(split, {}):
            return float(metrics[split]["acc"])
    return None


def progress_line(runs: Sequence[dict]) -> str:
    """``3/6 finished (succeeded 3); running 1 at epoch 2/4; queued 2``: one line for a batch."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run["status"]] = counts.get(run["status"], 0) + 1
    done = sum(n for status, n in counts.items() if status in FINAL_STATUSES)
    parts = [f"{done}/{len(runs)} finished"
             + (" (" + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()) if s in FINAL_STATUSES) + ")"
                if done else "")]
    running = [r for r in runs if r["status"] == "running"]
    if running:
        epochs = ", ".join(f"run {r['id']} epoch {r['progress']['epoch']}/{r['progress']['total']}" for r in running[:4])
        parts.append(f"running {len(running)}: {epochs}{' ...' if len(running) > 4 else ''}")
    if counts.get("queued"):
        parts.append(f"queued {counts['queued']}")
    return "; ".join(parts)


def results_text(runs: Sequence[dict]) -> str:
    """One aligned line per run: id, arch, dataset, scaling, protocol, seed, status, test accuracy."""
    header = ("run", "arch", "dataset", "scaling", "protocol", "seed", "status", "test acc %")
    rows = [header] + [(str(r["id"]), str(r["arch_index"]), r["dataset"], r["scaling"],
                        (r.get("protocol") or {}).get("key", ""), str(r["seed"]), r["status"],
                        "" if test_accuracy(r) is None else f"{test_accuracy(r):.2f}") for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
