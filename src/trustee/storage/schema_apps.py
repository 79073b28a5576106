"""Application registrations of the DataTrails face (migration 7): machine credentials that
exchange a client id and secret for a server token with the registration's policies.

The secret is stored only as its SHA-256 (it is 32 random bytes: a slow hash adds nothing), and
shown once, when made or regenerated.
"""

import sqlalchemy as sa

from trustee.storage.schema import metadata

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("custom_claims", sa.Text, nullable=False),
    sa.Column("policies", sa.Text, nullable=False),
    sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("secret_valid_from", sa.Float, nullable=False),
    sa.Column("secret_expiry", sa.Float, nullable=False),
    sa.Column("created_time", sa.Float, nullable=False),
)
"""One row per registration; ``custom_claims`` and ``policies`` are JSON text."""
