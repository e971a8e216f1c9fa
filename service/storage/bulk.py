"""Bulk writes that stay fast and portable: COPY on PostgreSQL, executemany on SQLite,
and dialect-native ``INSERT ... ON CONFLICT`` for upserts and idempotent inserts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .models import Meta

__all__ = ["dialect_insert", "copy_rows", "upsert_rows", "bump_counter", "read_counter", "RESULTS_VERSION"]

#: Meta key bumped in the same transaction as any change to results the API ranks.
RESULTS_VERSION = "results_version"


def dialect_insert(conn: sa.Connection, table: Any) -> Any:
    """``INSERT`` with ``on_conflict_do_nothing/update`` for the connection's backend."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"backend {conn.dialect.name!r} is not supported: use PostgreSQL or SQLite")


def copy_rows(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many rows inside the caller's transaction; returns how many were written."""
    n = 0
    if conn.dialect.name == "postgresql":
        # psycopg 3 COPY through the same DBAPI connection, hence the same transaction.
        raw = conn.connection.driver_connection
        sql = f'COPY {table.name} ({", ".join(f"{c!s}" for c in columns)}) FROM STDIN'
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
                n += 1
        return n
    placeholders = ", ".join("?" for _ in columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 20_000:
            cursor.executemany(f'INSERT INTO {table.name} ({quoted}) VALUES ({placeholders})', batch)
            n += len(batch)
            batch.clear()
    if batch:
        cursor.executemany(f'INSERT INTO {table.name} ({quoted}) VALUES ({placeholders})', batch)
        n += len(batch)
    cursor.close()
    return n


def upsert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert ``rows``; on a key conflict overwrite the non-key columns (one executemany)."""
    if not rows:
        return
    stmt = dialect_insert(conn, table)
    update = [c for c in rows[0] if c not in keys]
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                          set_={c: getattr(stmt.excluded, c) for c in update})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, rows)


def bump_counter(conn: sa.Connection, key: str = RESULTS_VERSION) -> None:
    table = Meta.__table__
    stmt = dialect_insert(conn, table).values(key=key, value=1)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": table.c.value + 1}))


def read_counter(conn: sa.Connection, key: str = RESULTS_VERSION) -> int:
    value = conn.execute(sa.select(Meta.value).where(Meta.key == key)).scalar_one_or_none()
    return int(value or 0)
