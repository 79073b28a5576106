"""Numbered schema migrations, applied in order, once, inside one transaction.

Step *n* is ``MIGRATIONS[n - 1]``: a function that takes a :class:`~sqlalchemy.engine.Connection`
already inside the migration transaction. Adding a step is two lines: a function and its
entry at the end of the list (steps are never reordered, edited or removed once shipped)::

    def _v2_ledger(conn): _create(conn, schema.assets, schema.events)
    MIGRATIONS = (_v1_core, _v2_ledger)

:func:`migrate` records each applied step in ``schema_version``. On PostgreSQL it first takes
a transaction-level advisory lock, so replicas starting together apply each step once; on
SQLite the caller's ``BEGIN IMMEDIATE`` takes the database's write lock for the same effect.
DDL is transactional on both engines, so a failing step leaves no half-made schema.
"""

import sqlite3
import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.storage import schema, schema_auth, schema_ledger

Migration = Callable[[Connection], None]

# Any fixed 64-bit number works as long as nothing else in the database uses it.
MIGRATION_LOCK_ID = 0x7472757374656501  # b"trustee\x01"


def _create(conn: Connection, *tables: sa.Table) -> None:
    for table in tables:
        table.create(conn, checkfirst=False)


def _v1_core(conn: Connection) -> None:
    _create(conn, schema.barrier, schema.server_tokens, schema.trustees, schema.kv_config)


# The columns (name, width) in which step 2 kept each event's verdict, and step 4 dropped.
_ACCEPTANCE_VERDICT = (("verdict", 16), ("reason", 64))


def _v2_ledger(conn: Connection) -> None:
    # The events table as this step always made it: with the verdict reached at acceptance,
    # which step 4 drops.
    events = schema_ledger.ledger_events.to_metadata(sa.MetaData())
    for name, width in _ACCEPTANCE_VERDICT:
        events.append_column(sa.Column(name, sa.String(width), nullable=False))
    _create(
        conn,
        *(
            events if table is schema_ledger.ledger_events else table
            for table in schema_ledger.TABLES
        ),
    )


def _v3_auth(conn: Connection) -> None:
    _create(conn, *schema_auth.TABLES)


def _v4_no_acceptance_verdict(conn: Connection) -> None:
    """Events keep no verdict: readers recompute it from the entry and the key history, and
    checking every signature at the door, for a column nothing read, took two fifths of the
    append rate."""
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        raise RuntimeError(f"SQLite 3.35 or newer is needed (this is {sqlite3.sqlite_version})")
    table = conn.dialect.identifier_preparer.format_table(schema_ledger.ledger_events)
    for name, _ in _ACCEPTANCE_VERDICT:
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {name}")


MIGRATIONS: tuple[Migration, ...] = (_v1_core, _v2_ledger, _v3_auth, _v4_no_acceptance_verdict)


def current_version(conn: Connection) -> int:
    """The highest applied step, 0 for an empty database."""
    if not sa.inspect(conn).has_table(schema.schema_version.name):
        return 0
    return conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar() or 0


def migrate(conn: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the steps the database lacks; return their numbers (empty when up to date).

    Must run inside a transaction. A database newer than this code is refused rather than
    used, because an older program would misread columns it does not know.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    schema.schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    if version > len(migrations):
        raise RuntimeError(
            f"the database schema is version {version}, newer than this trustee "
            f"({len(migrations)}); upgrade trustee before opening it"
        )
    applied = []
    for number, step in enumerate(migrations, start=1):
        if number <= version:
            continue
        step(conn)
        conn.execute(
            sa.insert(schema.schema_version).values(version=number, applied_time=time.time())
        )
        applied.append(number)
    return applied
