"""The ``rebench`` command line.

One module per command group; each registers itself here. Command bodies import what
they need lazily, so ``rebench arch`` starts fast and never imports torch or the web
stack.
"""

from __future__ import annotations

import typer

from . import arch as _arch
from . import admin as _admin, db as _db
from . import train as _train
from . import verify as _verify
from . import serve as _serve
from . import campaign as _campaign

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Re-benchmark NAS-Bench-201 with architecture-aware init and learning rates.")


@app.callback()
def _root() -> None:
    """Re-benchmark NAS-Bench-201 with architecture-aware init and learning rates."""


app.command("arch")(_arch.arch)
# Command modules register below, one line each.
app.add_typer(_db.app, name="db")
app.command("import-nb201")(_db.import_nb201)
app.add_typer(_admin.app, name="api-key")
app.command("train")(_train.train)
app.command("base-lr", context_settings={"allow_extra_args": True})(_train.base_lr)
app.command("verify")(_verify.verify)
app.command("serve")(_serve.serve)
app.command("worker")(_serve.worker)
app.command("submit")(_serve.submit)
app.command("demo")(_serve.demo)
app.add_typer(_campaign.app, name="campaign")

__all__ = ["app"]
