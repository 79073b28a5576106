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

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.storage import schema, schema_apps, schema_auth, schema_ledger, schema_scitt

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


def _v5_policy_names(conn: Connection) -> None:
    """Policy names in their one form (trimmed, lower-case), as every way in now writes them.

    Stored policies and the policy lists of live tokens are rewritten. A name that only now
    reads as ``root`` (``"Root"`` granted nothing before) is dropped, never promoted; tokens
    that a login issued with ``root`` (a role's ``" root"`` was read as root by the token
    store) are revoked with their children, since no login may yield root.
    """
    policies_t, tokens_t = schema_auth.acl_policies, schema.server_tokens
    names = conn.execute(sa.select(policies_t.c.name)).scalars().all()
    for name in names:
        normal = name.strip().lower()
        if normal == name:
            continue
        if normal in names or normal in ("root", "default"):
            raise RuntimeError(
                f"policies {name!r} and {normal!r} differ only in case; policy names are now "
                "case-insensitive: rename or delete one with the previous version, then upgrade"
            )
        conn.execute(sa.update(policies_t).where(policies_t.c.name == name).values(name=normal))
    revoked: list[str] = []
    rows = conn.execute(sa.select(tokens_t.c.accessor, tokens_t.c.policies, tokens_t.c.metadata))
    for accessor, stored, metadata in rows.all():
        policies = json.loads(stored)
        if "root" in policies and "role" in json.loads(metadata):
            revoked.append(accessor)
            continue
        normal = sorted(
            {p.strip().lower() for p in policies if p == "root" or p.strip().lower() != "root"}
        )
        if normal != policies:
            conn.execute(
                sa.update(tokens_t)
                .where(tokens_t.c.accessor == accessor)
                .values(policies=json.dumps(normal))
            )
    while revoked:
        children = conn.execute(
            sa.select(tokens_t.c.accessor).where(tokens_t.c.parent_accessor.in_(revoked))
        ).scalars()
        children = list(children)
        conn.execute(sa.delete(tokens_t).where(tokens_t.c.accessor.in_(revoked)))
        revoked = children


def _v6_idempotency(conn: Connection) -> None:
    _create(conn, schema_ledger.ledger_idempotency)


def _v7_applications(conn: Connection) -> None:
    _create(conn, schema_apps.applications)


def _v8_scitt(conn: Connection) -> None:
    _create(conn, *schema_scitt.TABLES)


def _v9_siwe_nonces(conn: Connection) -> None:
    _create(conn, schema_auth.siwe_nonces)


def _v10_attribute_index(conn: Connection) -> None:
    """The attribute index (:mod:`trustee.ledger.terms`), empty: the events already stored are
    indexed by the indexer behind the appends (:mod:`trustee.ledger.indexer`, in the server,
    or ``trustee ledger index`` with a progress bar), which resumes where it stopped; until
    then queries scan what is not indexed yet."""
    _create(
        conn,
        schema_ledger.ledger_event_terms,
        schema_ledger.ledger_asset_terms,
        schema_ledger.ledger_index_state,
    )
    conn.execute(sa.insert(schema_ledger.ledger_index_state).values(id=1, **_nothing_indexed(conn)))


def _nothing_indexed(conn: Connection) -> dict[str, Any]:
    """The index's marker before any indexing: no event below it, every asset still to do
    (none if there is no asset)."""
    any_asset = conn.execute(sa.select(schema_ledger.ledger_assets.c.uuid).limit(1)).first()
    return {"events_below": 0, "assets_after": None, "assets_done": any_asset is None}


def _v11_scitt_issuers(conn: Connection) -> None:
    _create(conn, schema_scitt.scitt_issuers)


def _v12_terms_by_epoch(conn: Connection) -> None:
    """The events' index is keyed by epoch first, and terms spell the key with its UTF-8
    length instead of as JSON (:mod:`trustee.ledger.terms`): the old index is dropped and built
    again behind the appends, as after step 10; queries scan what is not indexed yet."""
    schema_ledger.ledger_event_terms.drop(conn)
    schema_ledger.ledger_event_terms.create(conn)
    conn.execute(sa.delete(schema_ledger.ledger_asset_terms))
    conn.execute(sa.update(schema_ledger.ledger_index_state).values(**_nothing_indexed(conn)))


def _v13_term_segments(conn: Connection) -> None:
    """The events' index is filed by segment (:mod:`trustee.ledger.segments`): epochs, merged
    in tiers into larger segments; terms of up to 128 bytes (80 before) are kept as they are.
    Both indexes are dropped and built again behind the appends, as after step 10; queries
    scan what is not indexed yet."""
    conn.execute(sa.text("DROP TABLE ledger_event_terms"))
    conn.execute(sa.text("DROP TABLE ledger_asset_terms"))
    _create(
        conn,
        schema_ledger.ledger_event_terms,
        schema_ledger.ledger_asset_terms,
        schema_ledger.ledger_term_segments,
    )
    conn.execute(sa.update(schema_ledger.ledger_index_state).values(**_nothing_indexed(conn)))


MIGRATIONS: tuple[Migration, ...] = (
    _v1_core,
    _v2_ledger,
    _v3_auth,
    _v4_no_acceptance_verdict,
    _v5_policy_names,
    _v6_idempotency,
    _v7_applications,
    _v8_scitt,
    _v9_siwe_nonces,
    _v10_attribute_index,
    _v11_scitt_issuers,
    _v12_terms_by_epoch,
    _v13_term_segments,
)


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
