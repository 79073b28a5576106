"""Tables of delegated authentication (migration 3): policies, trust lists, roles, used jtis,
audiences."""

import sqlalchemy as sa  # noqa: F401

from trustee.storage.schema import metadata  # noqa: F401

#: Created by migration 3, in this order.
TABLES: tuple[sa.Table, ...] = ()
