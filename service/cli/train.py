"""``rebench train`` (one run, JSON result) and ``rebench base-lr`` (the 1-epoch grid search).

torch is imported inside the commands only, so ``rebench arch`` never pays for it.
"""

from __future__ import annotations

import json
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
    scaling: str = typer.Option("arch-aware", help="arch-aware | standard | mup."),
    protocol: str = typer.Option("nb201-200", help="nb201-200 | nb201-12 | smoke."),
    seed: int = typer.Option(777, help="NB201 used 777, 888, 999."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder with the dataset files."),
    base_lr: Optional[float] = typer.Option(None, help="arch-aware base LR (default: cache, then built-in)."),
    precision: str = typer.Option("fp32", help="fp32 | bf16 (autocast)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    init_degree: str = typer.Option("target", help="arch-aware init in-degree: target | source."),
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
    dataset: str = typer.Option("cifar10", help="Dataset setting to search the base LR for."),
    protocol: str = typer.Option("nb201-200", help="Protocol whose batch, net size and recipe the search uses."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder with the dataset files."),
    grid: Optional[str] = typer.Option(None, help="Comma-separated LRs (default: 10^(-2+k/6), k=0..14)."),
    seed: int = typer.Option(777),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    cache_dir: Optional[Path] = typer.Option(None, help="Cache dir (default ~/.cache/nb201-rebench)."),
    download: bool = typer.Option(False, "--download", help="Download CIFAR (md5-checked) if missing."),
) -> None:
    """One epoch of the base cell per grid LR; cache the largest LR reaching the smallest training loss."""
    from archscale.protocols import UnknownProtocol, get_protocol
    from archscale.training import DataNotFound, RunSpecError, search_base_lr
    from archscale.training.base_lr import cache_path

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
    try:
        found = search_base_lr(dataset, proto, data_root, grid=values, seed=seed, device=device,
                               cache_dir=cache_dir, download=download,
                               on_point=lambda lr, loss: typer.echo(f"lr {lr:<9.4g} final train loss {loss:.4f}"))
    except RunSpecError as exc:
        _fail(f"--{exc.field.replace('_', '-')} {exc}")
    except (DataNotFound, ValueError) as exc:
        _fail(str(exc))
    typer.echo(f"base LR for {dataset} under {proto.key}: {found.base_lr:g} (cached in {cache_path(cache_dir)})")
