"""One handle on one database: engine, sessions, migrations and reference data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .engine import make_engine, make_session_factory

__all__ = ["Database"]


class Database:
    """``Database(url)``; ``init()`` migrates and syncs reference rows; ``transaction()`` for work.

    Workers use it directly::

        db = Database(get_settings().resolved_database_url)
        with db.transaction() as session:
            run = claim_run(session, run_id, worker_id)
    """

    def __init__(self, url: str, **engine_kwargs: object):
        self.url = url
        self.engine: sa.Engine = make_engine(url, **engine_kwargs)
        self.sessions = make_session_factory(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any exception."""
        with self.sessions.begin() as session:
            yield session

    def init(self, sync: bool = True) -> str:
        """Apply migrations (and sync reference rows); returns the schema revision."""
        from .migrate import upgrade  # lazily: alembic and the science core cost ~0.2 s to import
        from .reference import sync_reference_data

        revision = upgrade(self.engine)
        if sync:
            with self.engine.begin() as conn:
                sync_reference_data(conn)
        return revision

    def is_current(self) -> bool:
        from .migrate import current_revision, head_revision

        return current_revision(self.engine) == head_revision()

    def dispose(self) -> None:
        self.engine.dispose()
