"""Alembic environment: one code path for PostgreSQL and SQLite (batch mode for ALTERs).

The URL comes from, in order: a connection handed in by ``service.storage.migrate``
(``config.attributes["connection"]``), ``sqlalchemy.url`` in the Alembic config, the
service settings (``DATABASE_URL``).
"""

from __future__ import annotations

from alembic import context

from service.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from service.settings import get_settings
    from service.storage.engine import make_engine

    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run `rebench db upgrade` against a database")
run_migrations_online()
