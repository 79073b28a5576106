"""The tables, as SQLAlchemy Core objects: one schema for SQLite and PostgreSQL.

Types are the portable ones (String, Text, LargeBinary, BigInteger, Float, Boolean). Times are
unix seconds as floats; JSON is stored as text that the services encode and decode, so both
engines hold the same bytes. Every table is created by a numbered step in
:mod:`trustee.storage.migrations`; a table defined here and not yet created by a step does not
exist in any database.

Once a migration has shipped, the shape it created is history: change a table by adding a new
step (``ALTER TABLE``) and keep the earlier step creating what it always created.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_time", sa.Float, nullable=False),
)
"""One row per applied migration step; the highest ``version`` is the schema's."""

barrier = sa.Table(
    "barrier",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("secret_shares", sa.Integer, nullable=False),
    sa.Column("secret_threshold", sa.Integer, nullable=False),
    sa.Column("sealed_barrier_key", sa.LargeBinary, nullable=False),
    sa.Column("created_time", sa.Float, nullable=False),
    sa.CheckConstraint("id = 1", name="barrier_singleton"),
)
"""The one row written by initialisation: the barrier key sealed under the unseal key."""

server_tokens = sa.Table(
    "server_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("accessor", sa.String(64), nullable=False, unique=True),
    sa.Column("policies", sa.Text, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("created_time", sa.Float, nullable=False),
    sa.Column("expire_time", sa.Float, nullable=True),
    sa.Column("ttl", sa.BigInteger, nullable=False),
    sa.Column("explicit_max_ttl", sa.BigInteger, nullable=False),
    sa.Column("renewable", sa.Boolean, nullable=False),
    sa.Column("parent_accessor", sa.String(64), nullable=True, index=True),
    sa.Index("ix_server_tokens_expire_time", "expire_time"),
)
"""Server tokens, keyed by the SHA-256 hex of the token: the clear token is never stored."""

trustees = sa.Table(
    "trustees",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("address", sa.String(42), nullable=False, index=True),
    sa.Column("public_key", sa.String(132), nullable=False),
    sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created_time", sa.Float, nullable=False),
)
"""Named secp256k1 identities; ``address`` is EIP-55, ``public_key`` is 0x04‖X‖Y hex."""

kv_config = sa.Table(
    "kv_config",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
"""Small settings that belong to the data rather than to a configuration file."""
