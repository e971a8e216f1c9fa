"""Apply the Alembic migrations (top-level ``migrations/``, shipped as a package), from any working directory."""

from __future__ import annotations

import functools
from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

__all__ = ["alembic_config", "upgrade", "current_revision", "head_revision"]


def alembic_config() -> Config:
    """An Alembic config that needs no ini file: the scripts are located through the package."""
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> str:
    """Migrate ``engine``'s database to ``revision``; returns the revision it ends at."""
    config = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # Batch mode rebuilds a table on SQLite (copy, DROP, rename). With foreign keys on, the
            # DROP of `runs` cascades to every epoch row and result: off for the migration (it is a
            # no-op inside a transaction, hence before BEGIN), checked after, on again.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if broken:
                    raise RuntimeError(f"the migration left {len(broken)} rows pointing at missing parents, "
                                       f"e.g. {broken[:3]}: restore the database file from its backup")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    return current_revision(engine) or ""


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache  # the shipped scripts cannot change while the process runs; /readyz asks often
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("migrations/ has no revisions: the package is incomplete, reinstall it")
    return head
