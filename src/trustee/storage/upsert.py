"""Insert-or-replace of one row by its primary key, atomic on both engines.

"UPDATE, and INSERT when no row changed" is a race once several processes share a PostgreSQL
database: under READ COMMITTED two writers of a new key both update nothing, both insert, and
the second fails on the primary key. (SQLite never shows it: ``BEGIN IMMEDIATE`` lets one
writer at a time in.) ``INSERT … ON CONFLICT (key) DO UPDATE`` is one statement that both
engines run atomically, so concurrent writers of one key each succeed and the last one wins.
"""

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["upsert"]


def upsert(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> None:
    """Write the row ``values`` (every primary-key column included), replacing any row with
    the same primary key."""
    keys = [column.name for column in table.primary_key.columns]
    missing = [name for name in keys if name not in values]
    if missing:
        raise ValueError(f"upsert into {table.name} needs its key: {', '.join(missing)}")
    dialect = conn.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise ValueError(f"upsert is not written for {dialect}")
    statement = statement.values(**values)
    changes = {name: statement.excluded[name] for name in values if name not in keys}
    if changes:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=changes)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    conn.execute(statement)
