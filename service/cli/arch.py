"""``rebench arch``: what the science core says about one cell or all of them."""

from __future__ import annotations

import csv
import json
import sys
from typing import Optional

import typer

from ._common import fail as _fail


def arch(
    arch: Optional[str] = typer.Argument(None, help="Cell string or official index 0..15624."),
    all_: bool = typer.Option(False, "--all", help="Every cell, in official index order."),
    dataset: str = typer.Option("cifar10", help="Setting for LR, params and FLOPs."),
    base_lr: Optional[float] = typer.Option(None, help="Override the dataset's base LR."),
    degree: str = typer.Option("target", help="In-degree for the init rule: target | source."),
    as_json: bool = typer.Option(False, "--json", help="JSON output (single cell)."),
    fmt: str = typer.Option("csv", "--format", help="With --all: csv | jsonl."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="With --all: write here, not stdout."),
) -> None:
    """What the science core says about a cell: index, isomorphism keys, paths, S, LR, init, cost."""
    from archscale.datasets import UnknownDataset
    from archscale.space import ArchIndexError, ArchStringError

    if (arch is None) == (not all_):
        _fail("give one ARCH (string or index) or --all")
    if degree not in ("target", "source"):
        _fail(f"--degree {degree!r}: use 'target' or 'source'")
    try:
        if all_:
            _write_all(dataset, base_lr, fmt, output)
        else:
            _show_one(arch, dataset, base_lr, degree, as_json)
    except (ArchStringError, ArchIndexError, UnknownDataset) as exc:
        _fail(str(exc))


def _write_all(dataset: str, base_lr: float | None, fmt: str, output: str | None) -> None:
    from archscale.report import CSV_COLUMNS, summary_row
    from archscale.space import all_cells

    if fmt not in ("csv", "jsonl"):
        _fail(f"--format {fmt!r}: use csv or jsonl")
    handle = open(output, "w", newline="") if output else sys.stdout
    try:
        rows = (summary_row(cell, dataset, base_lr) for cell in all_cells())
        if fmt == "csv":
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    finally:
        if output:
            handle.close()


def _show_one(arch: str, dataset: str, base_lr: float | None, degree: str, as_json: bool) -> None:
    from archscale.report import describe

    info = describe(arch, dataset, base_lr, degree)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(info, indent=2))
        return
    from .output import console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    lr = "undefined" if info["lr"] is None else f"{info['lr']:.6g}"
    for key, value in [
        ("arch", info["arch_str"]), ("index", info["index"]), ("NB201 unique key", info["unique_key"]),
        ("relabel key", info["relabel_key"]), ("paths", info["num_paths"]), ("S = sum L^3", info["sum_l3"]),
        ("dataset", info["dataset"]), ("base LR", info["base_lr"]), (f"LR ({dataset})", lr),
        ("note", info["lr_note"]), ("in-degrees", info["in_degrees"]),
        (f"init C = 2/d_in ({degree})", ", ".join(f"{m['edge']} {m['op']}: {m['C']:.4g}"
                                                   for m in info["init_multipliers"]) or "no conv edges"),
        ("params", f"{info['params']:,}"), ("FLOPs (MACs)", f"{info['flops']:,}"),
    ]:
        if value != "":
            table.add_row(f"[bold]{key}[/]", str(value))
    console().print(table, highlight=False)  # not wrapped at 80 columns in a log

