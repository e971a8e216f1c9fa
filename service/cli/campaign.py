"""``rebench campaign create|status|cancel``: whole-space (or filtered) re-benchmarks over the API."""

from __future__ import annotations

import json
import time
from typing import Any, Optional

import typer

from ._common import fail as _fail

app = typer.Typer(no_args_is_help=True, help="Re-benchmark many archs at once (runs created server-side in bulk, "
                                             "trained after interactive submissions).")
URL = typer.Option(None, envvar="REBENCH_URL", help="API base URL.")
KEY = typer.Option(None, envvar="REBENCH_API_KEY", help="Write key.")


def _client(url: str | None, api_key: str | None):  # type: ignore[no-untyped-def]
    from service.client import RebenchClient

    return RebenchClient(url, api_key)


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no run finished yet)"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def summary(c: dict[str, Any]) -> str:
    """One paragraph: what the status says, the measured numbers and where they come from."""
    counts, rate = c["counts"], c["runs_per_hour"]
    ratio = c["nb201"].get("ratio")
    lines = [f"campaign {c['id']} ({c['status']}): {c['total']} runs over {c['n_archs']} archs, "
             f"{c['served']} served (dedup {c['request'].get('dedup')})",
             "  " + ", ".join(f"{k} {v}" for k, v in counts.items()),
             f"  rate {rate:.1f} runs/h (measured)" if rate else "  rate: not measured yet",
             f"  ETA {_hours(c['eta_s'])}; GPU-hours spent {c['gpu_hours']:.2f}",
             f"  ours / NB201's recorded time: {ratio:.3f} over {c['nb201']['runs_compared']} runs" if ratio
             else f"  ours / NB201's recorded time: n/a ({c['nb201'].get('note')})"]
    return "\n".join(lines)


def create(
    datasets: list[str] = typer.Option(["cifar10"], "--dataset", help="Repeat for several settings."),
    all_: bool = typer.Option(False, "--all", help="Every one of the 15,625 cells."),
    ops: list[str] = typer.Option([], "--op", help="Keep cells in which this op is present (repeat)."),
    exclude_ops: list[str] = typer.Option([], "--exclude-op", help="Keep cells without this op (repeat)."),
    params_min: Optional[int] = typer.Option(None, help="At least this many parameters."),
    params_max: Optional[int] = typer.Option(None, help="At most this many parameters."),
    index: list[int] = typer.Option([], "--index", help="Official indices (repeat)."),
    top_percent: Optional[float] = typer.Option(None, help="The best K% of --top-source."),
    top_source: Optional[str] = typer.Option(None, help="nb201 (default) or nats-tss."),
    scalings: list[str] = typer.Option(["arch-aware"], "--scaling", help="Repeat for several."),
    protocol: str = typer.Option("nb201-200"),
    seeds: list[int] = typer.Option([777, 888, 999], "--seed", help="Repeat for several seeds."),
    precision: str = typer.Option("fp32"),
    dedup: str = typer.Option("isomorphic", help="isomorphic (default) | exact | nb201"),
    as_json: bool = typer.Option(False, "--json"),
    url: Optional[str] = URL, api_key: Optional[str] = KEY,
) -> None:
    """Create a campaign; the same options again return the same campaign."""
    from service.client import ApiError

    selector: dict[str, Any] = {"all": all_} if all_ else {}
    for name, value in (("ops", ops or None), ("exclude_ops", exclude_ops or None), ("params_min", params_min), ("params_max", params_max),
                        ("indices", index or None), ("top_percent", top_percent), ("top_source", top_source)):
        if value is not None:
            selector[name] = value
    if not selector:
        _fail("choose archs: --all, or filters (--op, --exclude-op, --params-min/--params-max, --index, "
              "--top-percent)")
    with _client(url, api_key) as client:
        try:
            made = client.create_campaign(selector, datasets, scalings=scalings, protocol=protocol, seeds=seeds,
                                          precision=precision, dedup=dedup)
        except ApiError as exc:
            _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(made))
        return
    what = "created" if made["created"] else "exists already (same request): nothing new created"
    typer.echo(f"campaign {made['id']} {what}: {made['runs_linked']} runs ({made['runs_created']} new, "
               f"{made['runs_served']} served); follow it with `rebench campaign status {made['id']} --watch`")
    for why, n in made["skipped"].items():
        typer.echo(f"skipped {n}: {why}")


def status(
    campaign_id: int = typer.Argument(..., help="The id from `rebench campaign create`."),
    watch: bool = typer.Option(False, "--watch", help="A live progress bar until no run is queued or running."),
    poll_s: float = typer.Option(5.0, help="Seconds between polls with --watch."),
    as_json: bool = typer.Option(False, "--json"),
    url: Optional[str] = URL,
) -> None:
    """Progress, measured runs/hour, ETA, GPU-hours and our time vs NB201's recorded time."""
    from service.client import ApiError

    with _client(url, None) as client:
        try:
            c = client.campaign(campaign_id)
            if watch and not c["done"]:
                c = _watch(client, campaign_id, c, poll_s)
        except ApiError as exc:
            _fail(str(exc))
    typer.echo(json.dumps(c) if as_json else summary(c))


def _watch(client: Any, campaign_id: int, c: dict[str, Any], poll_s: float) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    def finished(c: dict[str, Any]) -> int:
        return c["total"] - c["counts"]["queued"] - c["counts"]["running"]

    def text(c: dict[str, Any]) -> str:
        rate = f"{c['runs_per_hour']:.1f} runs/h" if c["runs_per_hour"] else "rate n/a"
        return (f"running {c['counts']['running']} | failed {c['counts']['failed']} | {rate} | "
                f"ETA {_hours(c['eta_s'])} | {c['gpu_hours']:.2f} GPU-h")

    with Progress(TextColumn(f"campaign {campaign_id}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}")) as bar:
        task = bar.add_task(text(c), total=c["total"], completed=finished(c))
        while not c["done"]:
            time.sleep(poll_s)
            c = client.campaign(campaign_id)
            bar.update(task, completed=finished(c), description=text(c))
    return c


def cancel(campaign_id: int = typer.Argument(...), url: Optional[str] = URL, api_key: Optional[str] = KEY) -> None:
    """Cancel queued runs now, running ones after their epoch; runs a batch also holds are kept."""
    from service.client import ApiError

    with _client(url, api_key) as client:
        try:
            c = client.cancel_campaign(campaign_id)
        except ApiError as exc:
            _fail(str(exc))
    typer.echo(summary(c))


app.command("create")(create)
app.command("status")(status)
app.command("cancel")(cancel)
