"""``rebench api-key create|list|revoke``: write keys for the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Optional

import typer

from .db import DatabaseUrl, _fail, open_database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(no_args_is_help=True, help="API keys for writes (stored hashed; shown once).")


@contextmanager
def _key_session(database_url: str | None) -> Iterator[Session]:
    """One transaction on a migrated database (no reference sync: keys need none)."""
    db = open_database(database_url)
    try:
        db.init(sync=False)
        with db.transaction() as session:
            yield session
    finally:
        db.dispose()


@app.command("create")
def create(name: str = typer.Option(..., "--name", help="Who or what uses the key."),
           admin: bool = typer.Option(False, "--admin", help="May cancel any run (others: only their own)."),
           database_url: Optional[str] = DatabaseUrl) -> None:
    """Create a key and print it once: only its hash is stored."""
    from service.storage.errors import StorageError
    from service.storage.keys import create_key

    try:
        with _key_session(database_url) as session:
            key = create_key(session, name, admin=admin)
    except StorageError as exc:
        _fail(f"--name: {exc}")
    typer.echo(key.secret)
    kind = "admin key" if admin else "key"
    typer.echo(f"{kind} {key.id} ({key.prefix}) for {key.name!r}: send it as the X-API-Key header; "
               "it is not shown again", err=True)


@app.command("list")
def list_(database_url: Optional[str] = DatabaseUrl) -> None:
    """id, prefix, name, admin, created, last used, revoked."""
    from service.storage.keys import list_keys

    with _key_session(database_url) as session:
        rows = [(k.id, k.prefix, k.name, "admin" if k.admin else "-", k.created_at, k.last_used_at, k.revoked_at)
                for k in list_keys(session)]
    typer.echo("id\tprefix\tname\tadmin\tcreated\tlast_used\trevoked")
    for row in rows:
        typer.echo("\t".join("-" if v is None else (v.isoformat(timespec="seconds") if hasattr(v, "isoformat")
                                                    else str(v)) for v in row))


@app.command("revoke")
def revoke(key: str = typer.Argument(..., help="Key id or prefix (from `rebench api-key list`)."),
           database_url: Optional[str] = DatabaseUrl) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from service.storage.errors import StorageError
    from service.storage.keys import revoke_key

    try:
        with _key_session(database_url) as session:
            revoked = revoke_key(session, key)
            typer.echo(f"revoked key {revoked.id} ({revoked.prefix}, {revoked.name!r})")
    except StorageError as exc:
        _fail(f"KEY: {exc}")
