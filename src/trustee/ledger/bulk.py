"""The append path's SQL, sent straight to the driver inside SQLAlchemy's transaction.

SQLAlchemy's execution layers (compiled-statement caches, execution contexts, result
wrappers, events) cost more than the queries of an append do: profiled under 64 concurrent
posters, they were a third of the commit leader's time holding the interpreter lock. The
statements here are plain text with ``?`` markers (``%s`` for PostgreSQL's driver), run on the
cursor of the connection whose transaction SQLAlchemy began and will commit or roll back.

Inserts are one multi-row ``INSERT … VALUES`` per table: SQLAlchemy's executemany on SQLite
steps the statement once per row, and the sqlite3 module releases the GIL around every step.
A thread that gives the GIL away waits for it to come back, up to the interpreter's switch
interval when other threads are busy; PostgreSQL gains a round trip per row as well.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["driver_rows", "insert_rows"]

# Bound parameters per statement: SQLite allows 32766 since 3.32 (999 before), PostgreSQL 65535.
_MAX_PARAMETERS = 30_000 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_rows(
    conn: Connection,
    table: sa.Table | str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_existing: bool = False,
) -> None:
    """Insert ``rows`` (values in ``columns`` order) with as few statements as the engine allows.

    Values go to the driver as they are (bytes, str, int, float), so only plain column types
    belong here. Table and column names come from the schema (or, given as text, from the
    code: a temporary table), never from input. ``skip_existing``: a row whose key is already
    there is skipped instead of failing the statement.
    """
    if not rows:
        return
    preparer = conn.dialect.identifier_preparer
    width = len(columns)
    one_row = "(" + ", ".join(["?"] * width) + ")"
    sqlite = conn.dialect.name == "sqlite"
    name = table if isinstance(table, str) else preparer.format_table(table)
    head = (
        f"INSERT {'OR IGNORE ' if skip_existing and sqlite else ''}INTO {name} "  # noqa: S608
        f"({', '.join(preparer.quote(column) for column in columns)}) VALUES "
    )
    tail = " ON CONFLICT DO NOTHING" if skip_existing and not sqlite else ""
    per_statement = max(1, _MAX_PARAMETERS // width)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        if any(len(row) != width for row in chunk):
            raise ValueError("every row needs one value per column")
        sql = head + ", ".join([one_row] * len(chunk)) + tail
        driver_rows(conn, sql, [value for row in chunk for value in row])


def driver_rows(conn: Connection, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
    """Run ``sql`` (``?`` markers, no other ``?`` in it) in ``conn``'s transaction; its rows."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(parameters))
        return cursor.fetchall() if cursor.description is not None else []
    finally:
        cursor.close()
