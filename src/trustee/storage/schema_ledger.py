"""Tables of the signed-records ledger (migration 2): assets, key history, events, the log."""

import sqlalchemy as sa  # noqa: F401

from trustee.storage.schema import metadata  # noqa: F401

#: Created by migration 2, in this order.
TABLES: tuple[sa.Table, ...] = ()
