"""Storage: one schema, two engines (SQLite embedded by default, PostgreSQL for replicas).

Services get a :class:`Database` from :func:`open_database` and use the Core tables in
:mod:`trustee.storage.schema`; the faces (CLI, server) never touch storage directly.
"""

from trustee.storage.database import Database, open_database

__all__ = ["Database", "open_database"]
