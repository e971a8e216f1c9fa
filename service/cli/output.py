"""How the CLI prints: tables, not reprs; no wrapping when the output is a log, not a terminal.

Rich wraps at 80 columns when stdout is not a terminal, which breaks URLs and cell strings in
the middle in logs and CI output. ``console()`` keeps rich's layout on a terminal and prints
long lines whole elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["console", "import_table", "results_table"]


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    # not a terminal: no wrapping, tables as wide as their content
    return Console(stderr=stderr, soft_wrap=True, width=1_000)


def import_table(report: Any) -> Any:
    """An ImportReport as a table: source, rows written, file and checksum."""
    from rich.table import Table

    table = Table(title="NB201 original numbers imported", title_justify="left")
    for column in ("source", "rows written", "file", "sha256"):
        table.add_column(column, overflow="fold" if column == "sha256" else "ellipsis", no_wrap=True)
    for source, n in report.rows.items():
        table.add_row(source, f"{n:,}", str(report.path), (report.sha256 or "")[:16])
    return table


def results_table(runs: Sequence[dict], title: str = "results") -> Any:
    """The final state of runs: status and test accuracy (GET /v1/runs/{id} answers)."""
    from rich.table import Table

    from service.client import test_accuracy

    table = Table(title=title, title_justify="left")
    for column in ("run", "arch", "dataset", "scaling", "protocol", "seed", "status", "test acc %"):
        table.add_column(column, justify="right" if column in ("run", "arch", "seed", "test acc %") else "left",
                         no_wrap=True)
    for r in runs:
        acc = test_accuracy(r)
        table.add_row(str(r["id"]), str(r["arch_index"]), r["dataset"], r["scaling"],
                      (r.get("protocol") or {}).get("key", ""), str(r["seed"]),
                      r["status"] + (f" ({r['error']})" if r.get("error") else ""),
                      "" if acc is None else f"{acc:.2f}")
    return table
