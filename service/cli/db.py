"""``rebench db upgrade|current`` and ``rebench import-nb201 PATH``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ._common import fail as _fail

app = typer.Typer(no_args_is_help=True, help="Database schema: migrations and reference data.")

DatabaseUrl = typer.Option(None, "--database-url", envvar=["REBENCH_DATABASE_URL", "DATABASE_URL"],
                           help="SQLAlchemy URL (default: the embedded SQLite file under REBENCH_HOME).")


def open_database(url: str | None):  # type: ignore[no-untyped-def]
    from service.settings import get_settings
    from service.storage.database import Database

    settings = get_settings(database_url=url) if url else get_settings()
    try:
        return Database(settings.resolved_database_url)
    except Exception as exc:  # bad URL, missing driver
        _fail(f"--database-url: cannot open {settings.resolved_database_url!r}: {exc}")


@app.command("upgrade")
def upgrade(database_url: Optional[str] = DatabaseUrl) -> None:
    """Apply the migrations and fill datasets, protocols and the 15,625 architectures."""
    db = open_database(database_url)
    started = time.perf_counter()
    try:
        revision = db.init()
    except Exception as exc:
        _fail(f"cannot migrate {db.url}: {exc}")
    finally:
        db.dispose()
    typer.echo(f"database at revision {revision}, reference data in sync ({time.perf_counter() - started:.1f} s)")


@app.command("current")
def current(database_url: Optional[str] = DatabaseUrl) -> None:
    """Print the schema revision of the database and whether it is the latest."""
    from service.storage.migrate import current_revision, head_revision

    db = open_database(database_url)
    try:
        revision, head = current_revision(db.engine), head_revision()
    except Exception as exc:
        _fail(f"cannot read {db.url}: {exc}")
    finally:
        db.dispose()
    state = "up to date" if revision == head else f"behind {head}: run `rebench db upgrade`"
    typer.echo(f"{revision or 'empty'} ({state})")


def import_nb201(
    path: Path = typer.Argument(..., help="nb201_original.csv.gz (then nb201_tss_hp200_perseed_valid.csv.gz, "
                                "nb201_tss_hp200_cost.csv.gz), an NB201 .pth, or a NATS-Bench tss archive."),
    fmt: str = typer.Option("auto", "--format", help="auto | csv | pth | nats"),
    per_seed: bool = typer.Option(True, help="pth/nats: also import each seed's numbers."),
    database_url: Optional[str] = DatabaseUrl,
) -> None:
    """Import the published NB201 numbers (idempotent: a re-import replaces them)."""
    from service.storage.errors import StorageError
    from service.storage.nb201_seeds import import_nb201_csv
    from service.storage.originals import import_bench_api, load_nas201_api, load_nats_tss

    if fmt == "auto":
        name = path.name.lower()
        fmt = "csv" if name.endswith((".csv", ".csv.gz")) else "pth" if name.endswith(".pth") else "nats"
    if fmt not in ("csv", "pth", "nats"):
        _fail(f"--format {fmt!r}: use auto, csv, pth or nats")
    if not path.exists():
        _fail(f"PATH {path} does not exist; pass the file to import (e.g. ../shared/data/nb201_original.csv.gz)")
    db = open_database(database_url)
    started = time.perf_counter()
    try:
        db.init()
        with db.engine.begin() as conn:
            if fmt == "csv":
                report = import_nb201_csv(conn, path)  # the three shared/data CSVs, told apart by header
            elif fmt == "pth":
                report = import_bench_api(conn, load_nas201_api(path), "nb201", "nas_201_api", str(path), per_seed)
            else:
                report = import_bench_api(conn, load_nats_tss(path), "nats-tss", "nats_bench", str(path), per_seed)
    except StorageError as exc:  # ImportFileError included: file, line, column and the fix, one line
        _fail(str(exc))
    except Exception as exc:  # a reader library's own error (pth/nats): still one line naming the file
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        _fail(f"{path.name}: cannot import it as {fmt} ({type(exc).__name__}: {first}); pass the file in the "
              f"format --format {fmt} expects (see `rebench import-nb201 --help`); nothing was written")
    finally:
        db.dispose()
    rows = ", ".join(f"{source}: {n:,} rows" for source, n in report.rows.items())
    typer.echo(f"imported {path.name} ({fmt}): {rows} in {time.perf_counter() - started:.1f} s")
