"""Tables of delegated authentication (migration 3): policies, trust lists, roles, used jtis,
audiences.

As in :mod:`trustee.storage.schema`, JSON is stored as text the services encode and decode, and
times are unix seconds as floats, so SQLite and PostgreSQL hold the same bytes.
"""

import sqlalchemy as sa

from trustee.storage.schema import metadata

acl_policies = sa.Table(
    "acl_policies",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("parsed", sa.Text, nullable=False),
    sa.Column("updated_time", sa.Float, nullable=False),
)
"""ACL policies: the text as written (answered on read) and its parsed rules as JSON."""

trust_lists = sa.Table(
    "trust_lists",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("addresses", sa.Text, nullable=False),
    sa.Column("updated_time", sa.Float, nullable=False),
)
"""Named sets of trusted addresses (a JSON list of EIP-55 addresses)."""

auth_roles = sa.Table(
    "auth_roles",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("updated_time", sa.Float, nullable=False),
)
"""Login roles of ``auth/trustee/`` (docs/api.md §8), their settings as a JSON object."""

used_jtis = sa.Table(
    "used_jtis",
    metadata,
    sa.Column("jti", sa.String(255), primary_key=True),
    sa.Column("expire_time", sa.Float, nullable=False, index=True),
)
"""Token ids already accepted by login, kept until the token expires: a second insert of the
same ``jti`` fails on the primary key, which is how a replay is caught atomically."""

audiences = sa.Table(
    "audiences",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("address", sa.String(42), nullable=False),
    sa.Column("public_key", sa.String(132), nullable=False),
    sa.Column("created_time", sa.Float, nullable=False),
)
"""Other parties, registered from a JWT they signed: their address and recovered public key."""

siwe_nonces = sa.Table(
    "siwe_nonces",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(128), nullable=False),
    sa.Column("used", sa.Boolean, nullable=False),
    sa.Column("expire_time", sa.Float, nullable=False, index=True),
)
"""Sign-In with Ethereum nonces handed out (migration 8), each for one role, until they expire.
A login spends its nonce with one ``UPDATE … WHERE used = false``: of two replicas spending the
same nonce, the database lets one update the row, so the other is refused as a replay."""

#: Created by migration 3, in this order.
TABLES: tuple[sa.Table, ...] = (acl_policies, trust_lists, auth_roles, used_jtis, audiences)
