"""Telling an outage of the database from a bug, in one place.

A database that is down, restarting ("the database system is starting up"), unreachable, out of
connections or locked answers with the driver's *operational* errors. Those are the client's
cue to retry elsewhere or later, so :class:`~trustee.storage.Database` turns them into
:class:`~trustee.errors.StorageUnavailable`, which every face answers 503 with
``Retry-After``; any other database error stays a bug (500).
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

from trustee.errors import StorageUnavailable

__all__ = ["OUTAGES", "outages_as_unavailable"]

OUTAGES: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,  # no pooled connection came free in time
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)
"""Errors of the database's availability, as SQLAlchemy wraps them and as the drivers raise
them to code that talks to the driver directly (the ledger's append)."""


@contextmanager
def outages_as_unavailable() -> Iterator[None]:
    try:
        yield
    except StorageUnavailable:
        raise
    except OUTAGES as exc:
        # The driver's message may name the host or the statement: only the kind goes on.
        raise StorageUnavailable(f"storage unavailable ({type(exc).__name__})") from exc
