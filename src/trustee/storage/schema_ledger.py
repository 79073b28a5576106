"""Tables of the signed-records ledger (migrations 2 and 4): assets, key history, events, the log.

The log is stored as RFC 9162 *complete subtrees* (see :mod:`trustee.ledger.merkle`): a node
``(level, node_index)`` is written once, when the tree first covers its leaves, and never
changes. ``ledger_log_state`` holds the current size and root; the events table holds each
leaf's exact bytes (``entry``), so anyone can recompute every hash from what the API serves.
"""

import sqlalchemy as sa

from trustee.storage.schema import metadata

ledger_assets = sa.Table(
    "ledger_assets",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("require_signature", sa.Boolean, nullable=False),
    sa.Column("created_time", sa.Float, nullable=False, index=True),
    sa.Column("principal", sa.Text, nullable=False),
)
"""Assets; ``attributes`` and ``principal`` are JSON text (the creator, never a token)."""

ledger_asset_keys = sa.Table(
    "ledger_asset_keys",
    metadata,
    sa.Column("asset_uuid", sa.String(36), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("valid_from", sa.Float, nullable=False),
    sa.Column("valid_from_index", sa.BigInteger, nullable=False),
)
"""Device key history: key ``seq`` checks every event with ``log_index >= valid_from_index``
until the next key's ``valid_from_index``. ``public_key`` is canonical (see crypto.device)."""

ledger_events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("asset_uuid", sa.String(36), nullable=False),
    sa.Column("log_index", sa.BigInteger, nullable=False, unique=True),
    sa.Column("entry", sa.LargeBinary, nullable=False),
    sa.Column("timestamp_accepted", sa.Float, nullable=False, index=True),
    sa.Column("operation", sa.String(256), nullable=False),
    sa.Column("behaviour", sa.String(256), nullable=False),
    sa.Index("ix_ledger_events_asset_log_index", "asset_uuid", "log_index"),
)
"""Events; ``entry`` is the RFC 8785 bytes of the record, i.e. the log leaf. No verdict is
stored: it is a function of the entry and the key history, and readers recompute it."""

ledger_log_nodes = sa.Table(
    "ledger_log_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("node_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)
"""Complete perfect subtrees of the log: insert-only."""

ledger_log_state = sa.Table(
    "ledger_log_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("updated_time", sa.Float, nullable=False),
    sa.CheckConstraint("id = 1", name="ledger_log_state_singleton"),
)
"""The log's size and root; appenders lock this row (PostgreSQL) or the database (SQLite)."""

ledger_log_key = sa.Table(
    "ledger_log_key",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("origin", sa.String(255), nullable=False),
    sa.Column("public_key", sa.LargeBinary(32), nullable=False),
    sa.Column("sealed_seed", sa.LargeBinary, nullable=False),
    sa.Column("created_time", sa.Float, nullable=False),
    sa.CheckConstraint("id = 1", name="ledger_log_key_singleton"),
)
"""The log's Ed25519 checkpoint key: the seed sealed by the barrier (``trustee:log-key:v1``)."""

ledger_idempotency = sa.Table(
    "ledger_idempotency",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("result", sa.String(36), nullable=False),
    sa.Column("expire_time", sa.Float, nullable=False, index=True),
)
"""Idempotency keys of posts (migration 6): what each key's first request created, kept until
``expire_time`` (:mod:`trustee.ledger.idempotency`)."""

#: Created by migration 2, in this order.
TABLES: tuple[sa.Table, ...] = (
    ledger_assets,
    ledger_asset_keys,
    ledger_events,
    ledger_log_nodes,
    ledger_log_state,
    ledger_log_key,
)

ledger_event_terms = sa.Table(
    "ledger_event_terms",
    metadata,
    sa.Column("segment", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("term", sa.String(128), primary_key=True),
    sa.Column("log_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)
"""The attribute index of events (migrations 10, 12 and 13, :mod:`trustee.ledger.terms`),
written behind the appends by :mod:`trustee.ledger.indexer`: one row per event and filterable
fact (an event or asset attribute's key and the string form of its value, the operation, the
behaviour); a term longer than the column is its SHA-256. ``segment`` is first in the key: the
log index's epoch (a run of 8,192) where the indexer files it, so that new rows land among
recent ones, and later the merged segment holding that epoch
(:mod:`trustee.ledger.segments`), so that a look-up seeks few of them."""

ledger_term_segments = sa.Table(
    "ledger_term_segments",
    metadata,
    sa.Column("segment", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("claim", sa.String(32), nullable=True),
    sa.Column("touched", sa.Float, nullable=False),
    sa.CheckConstraint("state IN ('building', 'live', 'dropping')", name="segment_state"),
)
"""The merged segments of ``ledger_event_terms`` (migration 13, :mod:`trustee.ledger.compaction`):
``live`` ones serve look-ups, ``building`` one is being written under ``claim`` (a token of the
indexer that writes it, ``touched`` at each of its transactions), ``dropping`` ones (merged
segments or epochs) have rows left to delete."""

ledger_asset_terms = sa.Table(
    "ledger_asset_terms",
    metadata,
    sa.Column("term", sa.String(128), primary_key=True),
    sa.Column("asset_uuid", sa.String(36), primary_key=True),
    sqlite_with_rowid=False,
)
"""The attribute index of assets: one row per asset and current attribute (migration 10)."""

ledger_index_state = sa.Table(
    "ledger_index_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("events_below", sa.BigInteger, nullable=False),
    sa.Column("assets_after", sa.String(36), nullable=True),
    sa.Column("assets_done", sa.Boolean, nullable=False),
    sa.CheckConstraint("id = 1", name="ledger_index_state_singleton"),
)
"""How far the attribute index has come (migration 10): every event below log index
``events_below`` is in ``ledger_event_terms`` (the indexer behind the appends advances it in
the transaction that writes the terms); assets up to uuid ``assets_after`` of those stored
before the migration, ``assets_done`` once all (assets written since index themselves)."""
