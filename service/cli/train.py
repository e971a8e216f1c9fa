"""``rebench train`` (one run, JSON result) and ``rebench base-lr`` (the 1-epoch grid search).

torch is imported inside the commands only, so ``rebench arch`` never pays for it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from ._common import fail as _fail


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[status]}"), transient=False)


def train(
    arch: str = typer.Argument(..., help="Cell string or official index 0..15624."),
    dataset: str = typer.Option("cifar10", help="cifar10 | cifar10-valid | cifar100 | ImageNet16-120."),
    scaling: str = typer.Option("arch-aware", help="arch-aware | arch-aware-derived | standard | standard-tuned | "
                                                   "per-arch-searched | mup."),
    protocol: str = typer.Option("nb201-200", help="nb201-200 | nb201-12 | smoke."),
    seed: int = typer.Option(777, help="NB201 used 777, 888, 999."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder with the dataset files."),
    base_lr: Optional[float] = typer.Option(None, help="base LR (default: cache, then the shipped table)."),
    precision: str = typer.Option("fp32", help="fp32 | bf16 (autocast)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    init_degree: Optional[str] = typer.Option(None, help="arch-aware-derived only: cell in-degree target | source."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the model (off until parity is shown)."),
    slow: bool = typer.Option(False, "--no-fast", help="Plain NCHW, deterministic cuDNN (same protocol)."),
    download: bool = typer.Option(False, "--download", help="Download CIFAR (md5-checked) if missing."),
    checkpoint_dir: Optional[Path] = typer.Option(None, help="Checkpoint every epoch here; resume if present."),
    cache_dir: Optional[Path] = typer.Option(None, help="Decoded-data and base-LR cache (~/.cache/nb201-rebench)."),
    output: Path = typer.Option(Path("result.json"), "--output", "-o", help="Where to write the JSON result."),
) -> None:
    """Train one cell under a protocol and scaling; write every epoch's metrics and the fingerprint as JSON."""
    from archscale.training import (
        CheckpointMismatch,
        DataNotFound,
        DegenerateArchitecture,
        NoBaseLR,
        RunSpec,
        RunSpecError,
        train_run,
    )

    spec = RunSpec(arch=arch, dataset=dataset, scaling=scaling, protocol=protocol, seed=seed, precision=precision,
                   base_lr=base_lr, data_root=data_root, device=device, fast=not slow, compile=compile_,
                   init_degree=init_degree, download=download, cache_dir=cache_dir)
    try:
        spec.validate()
    except RunSpecError as exc:
        _fail(f"--{exc.field.replace('_', '-')} {exc}" if exc.field != "arch" else f"ARCH {exc}")
    with _progress() as bar:
        epoch_task = bar.add_task("epochs", total=None, status="loading data")
        step_task = bar.add_task("  steps", total=None, status="")

        def on_step(i: int, n: int) -> None:
            bar.update(step_task, completed=i, total=n)

        def on_epoch(m) -> None:
            evals = " ".join(f"{k} {v['acc']:.2f}%" for k, v in m.eval.items())
            bar.update(epoch_task, completed=m.epoch, total=m.epochs,
                       status=f"loss {m.train_loss:.3f} train {m.train_acc:.2f}% {evals} lr {m.lr:.4g}")

        try:
            result = train_run(spec, checkpoint_dir=checkpoint_dir, on_epoch=on_epoch, on_step=on_step)
        except (DataNotFound, NoBaseLR, DegenerateArchitecture, CheckpointMismatch) as exc:
            bar.stop()
            _fail(str(exc))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result.to_dict(), indent=2))
    final = ", ".join(f"{k} acc {v['acc']:.2f}%" for k, v in result.final.items())
    typer.echo(f"{result.arch_str} {dataset} {scaling} {result.protocol} seed {seed}: {final}; "
               f"lr {result.lr:.4g}; {result.wall_seconds:.1f} s -> {output}")


def base_lr(
    ctx: typer.Context,
    dataset: str = typer.Option("cifar10", help="Dataset setting to search the base LR for."),
    recipe: str = typer.Option("arch-aware", help="arch-aware | arch-aware-derived | standard-tuned (whose init)."),
    protocol: str = typer.Option("nb201-200", help="Protocol whose batch, net size and optimiser the search uses."),
    seeds: Optional[list[int]] = typer.Option(None, "--seeds", help="Seeds, e.g. --seeds 777 888 999 (default)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder with the dataset files."),
    grid: Optional[str] = typer.Option(None, help="Comma-separated LRs, run in this order (default: "
                                                  "10^(-1.5+k/6), k=0..11)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    max_replicas: Optional[int] = typer.Option(None, help="LRs trained side by side per pass (default: all on a "
                                                          "GPU, 1 on a CPU)."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads (default on a CPU: 1, which costs 5x less CPU "
                                                     "per image than 2 on a loaded machine; docs/benchmarks.md)."),
    cache_dir: Optional[Path] = typer.Option(None, help="Cache dir (default ~/.cache/nb201-rebench)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the entry (and per-seed "
                                                                        "progress) as JSON here."),
    store: bool = typer.Option(True, "--store/--no-store", help="Store the entry in the service database."),
    database_url: Optional[str] = typer.Option(None, "--database-url", envvar=["REBENCH_DATABASE_URL", "DATABASE_URL"],
                                               help="SQLAlchemy URL (default: the embedded SQLite file)."),
) -> None:
    """Paper §4 step 1: one epoch of the base cell per grid LR and seed; store the largest LR at the smallest
    seed-mean training loss, with its grid, per-seed losses and provenance."""
    from archscale.base_lrs import BASE_LR_RECIPES
    from archscale.protocols import UnknownProtocol, get_protocol
    from archscale.training import DataNotFound, RunSpecError
    from archscale.training.base_lr import cache_path, search_base_lr, write_cache

    # click options take one value each: `--seeds 777 888 999` leaves 888 999 as extra args
    extra = list(ctx.args)
    try:
        all_seeds = list(seeds or []) + [int(v) for v in extra]
    except ValueError:
        _fail(f"--seeds: unexpected argument(s) {' '.join(extra)}; give integers, e.g. --seeds 777 888 999")
    all_seeds = all_seeds or [777, 888, 999]
    if recipe not in BASE_LR_RECIPES:
        _fail(f"--recipe {recipe!r}: use one of {', '.join(BASE_LR_RECIPES)}")
    try:
        proto = get_protocol(protocol)
    except UnknownProtocol as exc:
        _fail(f"--protocol {exc}")
    try:
        values = [float(v) for v in grid.split(",")] if grid else None
    except ValueError:
        _fail(f"--grid {grid!r}: give comma-separated positive numbers, e.g. 0.1,0.2,0.46")
    if values is not None and (not values or min(values) <= 0):
        _fail(f"--grid {grid!r}: every LR must be positive")
    if data_root is None:
        _fail("--data-root is required: the folder holding cifar10-jpeg.tar.gz or cifar-10-batches-py/")
    import torch

    if threads or device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        torch.set_num_threads(threads or 1)
    progress: dict = {"dataset": dataset, "recipe": recipe, "protocol": protocol, "seeds_done": {}}

    def on_seed(seed: int, losses: list[float]) -> None:
        typer.echo(f"seed {seed}: " + ", ".join(f"{lr:g}:{loss:.4f}" for lr, loss in zip(found_grid(), losses)))
        progress["seeds_done"][str(seed)] = losses
        if output:
            output.write_text(json.dumps(progress, indent=2))

    def found_grid() -> list[float]:
        from archscale.training.base_lr import default_grid

        return sorted(values or default_grid())  # the seed lines list LRs sorted, whatever the run order

    progress["grid"] = found_grid()
    progress["chunks"] = []
    t_last = [time.perf_counter()]

    def on_chunk(lrs: list[float], losses: list[float]) -> None:
        now = time.perf_counter()
        progress["chunks"].append({"lrs": lrs, "losses": losses, "seconds": round(now - t_last[0], 1)})
        t_last[0] = now
        typer.echo(f"  lr {', '.join(f'{v:g}' for v in lrs)}: loss {', '.join(f'{v:.4f}' for v in losses)} "
                   f"({progress['chunks'][-1]['seconds']} s)")
        if output:
            output.write_text(json.dumps(progress, indent=2))
    try:
        entry = search_base_lr(dataset, recipe, proto, data_root, seeds=all_seeds, grid=values, device=device,
                               cache_dir=cache_dir, max_replicas=max_replicas, on_seed=on_seed,
                               on_chunk=on_chunk)
    except RunSpecError as exc:
        _fail(f"--{exc.field.replace('_', '-')} {exc}")
    except (DataNotFound, ValueError) as exc:
        _fail(str(exc))
    write_cache(entry, cache_dir)
    if output:
        output.write_text(json.dumps({**progress, "entry": entry.as_dict()}, indent=2))
    where = f"cached in {cache_path(cache_dir)}"
    if store:
        from service.storage.base_lrs import store_entry

        from .db import open_database

        db = open_database(database_url)
        try:
            db.init()
            with db.engine.begin() as conn:
                store_entry(conn, entry)
        except Exception as exc:  # the search result is safe in the cache and --output
            _fail(f"--database-url: could not store in {db.url}: {exc} (the entry is {where})")
        finally:
            db.dispose()
        where += f" and stored in {db.url}"
    typer.echo(f"base LR for {dataset} / {recipe} / {proto.key}: {entry.value:g} over seeds "
               f"{', '.join(map(str, all_seeds))} ({where})")
