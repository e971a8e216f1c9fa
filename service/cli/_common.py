"""Helpers shared by the CLI command modules."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a red one-line error (it names the field and the fix) and exit with ``code``.

    The message is printed verbatim: rich markup in it is escaped, so "pip install
    'nb201-rebench[import]'" keeps its brackets."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
