"""Many rows in one statement: the append path's inserts, one driver call per table.

SQLAlchemy's executemany on SQLite steps the statement once per row, and the sqlite3 module
releases the GIL around every step. A thread that gives the GIL away waits for it to come
back, up to the interpreter's switch interval when other threads are busy, so an append of a
few hundred rows could spend most of its time waiting. One multi-row ``INSERT … VALUES`` per
table and batch steps once; PostgreSQL gains a round trip per row as well.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["insert_rows"]

# Bound parameters per statement: SQLite allows 32766 since 3.32 (999 before), PostgreSQL 65535.
_MAX_PARAMETERS = 30_000 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_rows(
    conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in ``columns`` order) with as few statements as the engine allows.

    Values go to the driver as they are (bytes, str, int, float), so only plain column types
    belong here. Table and column names come from the schema, never from input.
    """
    if not rows:
        return
    preparer = conn.dialect.identifier_preparer
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    width = len(columns)
    one_row = "(" + ", ".join([marker] * width) + ")"
    head = (
        f"INSERT INTO {preparer.format_table(table)} "  # noqa: S608 - names from the schema
        f"({', '.join(preparer.quote(name) for name in columns)}) VALUES "
    )
    per_statement = max(1, _MAX_PARAMETERS // width)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        if any(len(row) != width for row in chunk):
            raise ValueError("every row needs one value per column")
        sql = head + ", ".join([one_row] * len(chunk))
        conn.exec_driver_sql(sql, tuple(value for row in chunk for value in row))
