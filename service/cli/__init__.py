"""The ``rebench`` command line.

One module per command group; each registers itself here. Command bodies import what
they need lazily, so ``rebench arch`` starts fast and never imports torch or the web
stack.
"""

from __future__ import annotations

import typer

from . import arch as _arch

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Re-benchmark NAS-Bench-201 with architecture-aware init and learning rates.")


@app.callback()
def _root() -> None:
    """Re-benchmark NAS-Bench-201 with architecture-aware init and learning rates."""


app.command("arch")(_arch.arch)
# Command modules register below, one line each.

__all__ = ["app"]
