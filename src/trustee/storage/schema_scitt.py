"""Tables of the SCITT transparency service: registered statements and the receipt key
(migration 8), and registered issuer keys (migration 11).

Statements are leaves of the ledger's one log: ``log_index`` is unique across events and
statements because both are appended under the log's lock. ``entry`` is the exact leaf bytes
(the statement with an empty unprotected header); ``tree_size`` is the size of the tree the
statement's registration made, the size of every receipt for it.
"""

import sqlalchemy as sa

from trustee.storage.schema import metadata

scitt_statements = sa.Table(
    "scitt_statements",
    metadata,
    sa.Column("log_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("entry", sa.LargeBinary, nullable=False),
    sa.Column("registered_time", sa.Float, nullable=False, index=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("issuer", sa.Text, nullable=True),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("content_type", sa.Text, nullable=True),
    sa.Column("key_thumbprint", sa.LargeBinary(32), nullable=False),
)
"""Registered statements, one per log leaf that is a statement."""

scitt_receipt_key = sa.Table(
    "scitt_receipt_key",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("sealed_private", sa.LargeBinary, nullable=False),
    sa.Column("created_time", sa.Float, nullable=False),
    sa.CheckConstraint("id = 1", name="scitt_receipt_key_singleton"),
)
"""The receipt key (P-256): PKCS #8, sealed by the barrier (``trustee:scitt-receipt-key:v1``)."""

TABLES: tuple[sa.Table, ...] = (scitt_statements, scitt_receipt_key)
"""The tables of migration 8, as it made them."""

scitt_issuers = sa.Table(
    "scitt_issuers",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("thumbprint", sa.LargeBinary(32), nullable=False, index=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("iss", sa.Text, nullable=True),
    sa.Column("updated_time", sa.Float, nullable=False),
)
"""Issuer keys an operator registered, by name: the RFC 9679 thumbprint a statement's signing
key is matched by, the key's algorithm, the key itself (a COSE_Key, deterministic CBOR) and
the ``iss`` its statements must carry, when one is set."""
