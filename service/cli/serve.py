"""``rebench serve``, ``rebench worker``, ``rebench submit`` and ``rebench demo``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from . import output
from ._common import fail
from .children import exit_on_signals, start_embedded_worker, stop_child

__all__ = ["serve", "worker", "worker_queue", "submit", "demo"]


def _set_env(**values: object) -> None:
    """CLI flags become the environment, so the settings of every child process agree."""
    from service.settings import ENV_PREFIX

    for name, value in values.items():
        if value is not None:
            os.environ[f"{ENV_PREFIX}{name.upper()}"] = str(value)  # the prefixed name wins over a bare one


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port."),
    data_root: Optional[Path] = typer.Option(None, envvar=["REBENCH_DATA_ROOT", "DATA_ROOT"], help="Datasets for the embedded worker."),
    embedded_worker: bool = typer.Option(True, help="With no BROKER_URL: train queued runs in a child process."),
) -> None:
    """Run the API (and, with no BROKER_URL, the embedded worker). Migrates the database first."""
    import uvicorn

    from service.settings import get_settings
    from service.storage.database import Database

    _set_env(data_root=data_root)
    settings = get_settings()
    try:
        Database(settings.resolved_database_url).init()
    except Exception as exc:
        fail(f"DATABASE_URL: cannot migrate {settings.resolved_database_url!r}: {exc}")
    exit_on_signals()
    child = start_embedded_worker() if embedded_worker and not settings.broker_url else None
    try:
        uvicorn.run("service.main:app", host=host, port=port, log_level="info")
    finally:
        stop_child(child)


def worker(
    gpus: Optional[int] = typer.Option(None, "--gpu", help="GPUs to use (default: all that nvidia-smi lists)."),
    per_gpu: int = typer.Option(1, help="Worker processes per GPU (concurrent runs on one GPU)."),
    queue: Optional[str] = typer.Option(None, help="Queue to consume (default: the QUEUE setting, the queue the API "
                                                    "sends to: rebench unless configured)."),
    reaper: bool = typer.Option(True, help="Also run the reaper (stale runs, lost messages)."),
    data_root: Optional[Path] = typer.Option(None, envvar=["REBENCH_DATA_ROOT", "DATA_ROOT"], help="Datasets."),
) -> None:
    """Start one Celery worker process per GPU (CUDA is never touched in this parent)."""
    from service.settings import get_settings
    from worker.supervisor import Supervisor, count_gpus, worker_commands

    _set_env(data_root=data_root)
    settings = get_settings()
    if not settings.broker_url:
        fail("BROKER_URL is not set: Celery workers need Redis (e.g. BROKER_URL=redis://127.0.0.1:6379/0); "
             "without a broker, `rebench serve` trains in its embedded worker")
    if per_gpu < 1:
        fail(f"--per-gpu {per_gpu}: use 1 or more")
    n = count_gpus() if gpus is None else gpus
    raise typer.Exit(Supervisor(settings, worker_commands(n, per_gpu, worker_queue(queue, settings)),
                                reaper=reaper).run())


def worker_queue(option: str | None, settings) -> str:
    """``--queue``, else the queue the API sends to (``QUEUE``, default ``rebench``): with no
    configuration both sides agree, GPU machine or not."""
    return option or settings.queue


def submit(
    archs: list[str] = typer.Argument(..., help="Cell strings or official indices."),
    dataset: str = typer.Option("cifar10"),
    scaling: str = typer.Option("arch-aware"),
    protocol: str = typer.Option("nb201-200"),
    seed: list[int] = typer.Option([777, 888, 999], help="Repeat for several seeds."),
    wait: bool = typer.Option(False, help="Follow the runs to the end (a progress bar per run on a terminal, a "
                                          "line per change in a log), then print each run's status and test "
                                          "accuracy; exit 1 if one did not succeed."),
    dedup: Optional[str] = typer.Option(
        None, help="Submit the archs as one batch deduplicated by: exact | isomorphic (one trained run per "
                   "relabelling class, the same network) | nb201 (one per NB201 isomorphism class: an "
                   "approximation). Others are served from their class's run and marked as such."),
    url: Optional[str] = typer.Option(None, envvar="REBENCH_URL", help="API base URL."),
    api_key: Optional[str] = typer.Option(None, envvar="REBENCH_API_KEY", help="Write key."),
) -> None:
    """Submit runs to the API; with --wait, follow them and print their final accuracies."""
    from service.client import ApiError, RebenchClient

    with RebenchClient(url, api_key) as client:
        run_ids = []
        try:
            if dedup is not None:  # one POST /v1/batches; the API validates dedup (422 lists the choices)
                batch = client.submit_batch(list(archs), dedup=dedup,
                                            dataset=dataset, scaling=scaling, protocol=protocol, seeds=seed)
                for error in batch["errors"]:
                    typer.echo(f"item {error['item']} ({error['arch']}): {error['msg']}", err=True)
                for item in batch["accepted"]:
                    for run in item["runs"]:
                        state = "new" if run["created"] else "existing"
                        served = (f", served from run {run['served_from_run_id']} (arch {run['served_from_arch']})"
                                  if run["served_from_run_id"] else "")
                        typer.echo(f"run {run['id']}: arch {item['arch_index']} seed {run['seed']} {run['status']} "
                                   f"({state}{served})")
                        run_ids.append(run["id"])
                typer.echo(f"batch {batch['id']}: {batch['runs_trained']} trained, {batch['runs_served']} served "
                           f"(dedup={batch['dedup']})")
            for arch in archs if dedup is None else ():
                accepted = client.submit(arch, dataset=dataset, scaling=scaling,
                                         protocol=protocol, seeds=seed)
                for run in accepted["runs"]:
                    state = "new" if run["created"] else "existing"
                    typer.echo(f"run {run['id']}: arch {accepted['arch_index']} seed {run['seed']} "
                               f"{run['status']} ({state})")
                    run_ids.append(run["id"])
        except ApiError as exc:
            fail(str(exc))
        except Exception as exc:  # connection refused, DNS...
            fail(f"--url {client.url}: {exc}")
        if wait:
            from .output import console, results_table

            runs = follow(client, run_ids)
            console().print(results_table(runs, f"{len(runs)} run(s): final status and test accuracy"))
            failed = [r for r in runs if r["status"] != "succeeded"]
            for run in failed:
                typer.echo(f"run {run['id']}: {run['status']} {run.get('error') or ''}", err=True)
            raise typer.Exit(1 if failed else 0)


def follow(client, run_ids: list[int]) -> list[dict]:  # type: ignore[no-untyped-def]
    """Rich progress bars, one per run, fed by GET /v1/runs/{id}; not on a terminal (a log), a
    line whenever the runs' state changes instead (bars would print nothing until the end)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .output import console

    out = console()
    if not out.is_terminal:  # progress lines only; the caller prints the results table
        return client.wait(run_ids, progress=lambda line: out.print(line, markup=False, highlight=False))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=out) as progress:
        tasks = {rid: progress.add_task(f"run {rid}", total=None, status="queued") for rid in run_ids}

        def update(run: dict) -> None:
            p = run["progress"]
            progress.update(tasks[run["id"]], completed=p["epoch"], total=p["total"], status=run["status"])

        return client.wait(run_ids, on_update=update, progress=False)


def demo(
    data_root: Path = typer.Option(Path("../shared/data"), envvar=["REBENCH_DATA_ROOT", "DATA_ROOT"],
                                   help="Folder with cifar10-jpeg.tar.gz (or cifar-10-batches-py/) and "
                                        "nb201_original.csv.gz."),
    archs: list[str] = typer.Option(["6111"], "--arch", help="Cells to train (repeatable; default: the best "
                                                              "CIFAR-10 cell)."),
    port: int = typer.Option(8000, help="Port of the API."),
    exit_after: bool = typer.Option(False, "--exit", help="Stop when the runs are done (default: keep serving)."),
) -> None:
    """The newcomer's tour, embedded: migrate, import NB201's numbers, serve the API, train one cell
    (6111, the best on CIFAR-10) under two scalings, arch-aware and standard, with the tiny `smoke`
    protocol, and print both beside NB201's number.

    Stays in the foreground serving the API after the table (unless --exit)."""
    import threading
    import time

    import uvicorn
    from rich.table import Table

    from archscale.protocols import get_protocol
    from service.client import RebenchClient
    from service.settings import get_settings
    from service.storage.database import Database
    from service.storage.keys import create_key

    console = output.console()
    data_root = data_root.expanduser().resolve()
    if not data_root.is_dir():
        fail(f"--data-root {data_root} does not exist: point it at a folder holding cifar10-jpeg.tar.gz "
             "(e.g. ../shared/data) or the official cifar-10-batches-py/")
    _set_env(data_root=data_root)
    settings = get_settings()
    db = Database(settings.resolved_database_url)
    console.print(f"database: {settings.resolved_database_url}  (migrating...)")
    db.init()
    csv_path = data_root / "nb201_original.csv.gz"
    if csv_path.exists():
        from service.storage.originals import import_csv

        with db.engine.begin() as conn:
            report = import_csv(conn, csv_path)
        console.print(output.import_table(report))
    else:
        console.print(f"[yellow]no {csv_path.name} in {data_root}: the leaderboard has no original numbers[/]")
    with db.transaction() as session:
        key = create_key(session, "demo").secret

    server = uvicorn.Server(uvicorn.Config("service.main:app", host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)  # no signal handlers off the main thread
    exit_on_signals()
    child = None
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        child = start_embedded_worker() if not settings.broker_url else None
        with RebenchClient(url, key) as client:
            for _ in range(100):
                if server.started:
                    break
                time.sleep(0.1)
            console.print(f"web pages at {url}/  (API: {url}/v1/..., OpenAPI: {url}/docs)")
            submitted = []
            for arch in archs:
                for scaling in ("arch-aware", "standard"):
                    accepted = client.submit(arch, dataset="cifar10",
                                             scaling=scaling, protocol="smoke", seeds=[777])
                    submitted += [(accepted["arch_index"], scaling, run["id"]) for run in accepted["runs"]]
            console.print(f"training {len(archs)} cell(s) under 2 scalings: {len(submitted)} smoke runs (the first use "
                          "decodes the JPEG data once)...")
            runs = {run["id"]: run for run in follow(client, [rid for *_, rid in submitted])}
            table = Table(title="smoke protocol (a demo, not benchmark numbers) beside NB201 (200 epochs)")
            for column in ("arch", "scaling", "LR", "status", "smoke test acc %", "NB201 test acc %", "run id"):
                table.add_column(column)
            for arch_index, scaling, rid in submitted:
                run, facts = runs[rid], client.arch(arch_index)["datasets"]["cifar10"]
                original = next((n["value"] for n in facts["original"] if n["source"] == "nb201"
                                 and n["split"] == "test"), None)
                result = (run.get("result") or {}).get("metrics", {}).get("test", {}).get("acc")
                lr = facts["lr"] if scaling == "arch-aware" else get_protocol("smoke").lr  # standard: NB201's
                table.add_row(str(arch_index), scaling, "" if lr is None else f"{lr:.4g}", run["status"],
                              "" if result is None else f"{result:.2f}",
                              "" if original is None else f"{original:.2f}", str(rid))
            console.print(table)
            console.print(f"leaderboard: {url}/web/leaderboard?dataset=cifar10&protocol=smoke&has_results=true"
                          f"  (JSON: {url}/v1/leaderboard?dataset=cifar10&protocol=smoke&has_results=true)")
        if not exit_after:
            console.print("serving; Ctrl-C to stop")
            thread.join()
    finally:
        server.should_exit = True
        stop_child(child)
        thread.join(timeout=10)

