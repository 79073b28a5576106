"""Idempotency keys: a retried post gets the first answer, never a second record.

A client that sent an event and never heard back (its replica died after the commit, a proxy
timed out) cannot know whether the event is in the log. Retrying, on any replica, is right
only if the retry cannot append it twice. So a post may carry a key the client chose; the key
is recorded in the same transaction as what it created, with a hash of the request. A later
post with the same key and the same request answers the record the first one made (the same
uuid and log index); with another request it is refused (:class:`~trustee.errors.AlreadyExists`,
409), since answering either record would mislead. Keys are kept for :data:`WINDOW_SECONDS`;
after that the key is free again.

Event keys are scoped by asset, asset-creation keys by the creation itself. The lookups run
inside the writing transaction: events under the log's lock, which orders every append of the
cluster; asset creation under the key row's primary key, which makes a concurrent duplicate
fail and retry into the lookup.
"""

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.errors import AlreadyExists, InvalidRequest
from trustee.storage.schema_ledger import ledger_idempotency as keys_t

__all__ = [
    "WINDOW_SECONDS",
    "check_key",
    "conflict",
    "find",
    "purge",
    "record",
    "request_hash",
]

WINDOW_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255
_KEY = re.compile(r"[\x21-\x7e]{1,255}", re.ASCII)


def check_key(key: object) -> str:
    """A key as clients send them (``Idempotency-Key``): 1 to 255 visible ASCII characters."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidRequest(
            f"an idempotency key is 1 to {MAX_KEY_LENGTH} visible ASCII characters"
        )
    return key


def request_hash(request: Mapping[str, Any]) -> bytes:
    """SHA-256 of what the client asked for, in one canonical form (sorted keys)."""
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).digest()


def conflict(key: str) -> AlreadyExists:
    return AlreadyExists(
        f"idempotency key {key!r} was used with another request; use a new key for a new one"
    )


def find(conn: Connection, scope: str, key: str, now: float) -> tuple[bytes, str] | None:
    """The live ``(request hash, result uuid)`` recorded under the key, if any."""
    row = conn.execute(
        sa.select(keys_t.c.request_hash, keys_t.c.result).where(
            keys_t.c.scope == scope, keys_t.c.key == key, keys_t.c.expire_time > now
        )
    ).first()
    return None if row is None else (bytes(row[0]), row[1])


def record(conn: Connection, scope: str, key: str, digest: bytes, result: str, now: float) -> None:
    """Record the key in the caller's transaction (replacing an expired record of it)."""
    conn.execute(
        sa.delete(keys_t).where(
            keys_t.c.scope == scope, keys_t.c.key == key, keys_t.c.expire_time <= now
        )
    )
    conn.execute(
        sa.insert(keys_t).values(
            scope=scope,
            key=key,
            request_hash=digest,
            result=result,
            expire_time=now + WINDOW_SECONDS,
        )
    )


def purge(conn: Connection, now: float, limit: int = 1000) -> int:
    """Delete up to ``limit`` expired keys (oldest first); the number deleted."""
    expired = (
        sa.select(keys_t.c.scope, keys_t.c.key)
        .where(keys_t.c.expire_time <= now)
        .order_by(keys_t.c.expire_time)
        .limit(limit)
    )
    rows = conn.execute(expired).all()
    for scope, key in rows:
        conn.execute(sa.delete(keys_t).where(keys_t.c.scope == scope, keys_t.c.key == key))
    return len(rows)
