"""Server tokens as Vault has them: random bearer secrets with policies, a TTL and an accessor.

A client token is ``hvs.`` followed by 32 random bytes in base64url. Only its SHA-256 (hex) is
stored, so a copy of the database lets no one act as a client; the *accessor*, a second
random handle, names a token in lists and revocations without being able to use it.

Lifetimes follow Vault: a token lives ``ttl`` seconds from creation (``default_ttl`` when not
given, never above ``max_ttl``); renewing moves the expiry to now + increment, never beyond
creation + ``explicit_max_ttl`` (when set) or creation + ``max_ttl``, and never beyond the
parent's expiry: a child does not outlive the token that made it. The root token never expires
and is not renewable. Revoking a token revokes the tokens it created, recursively.
Expired tokens are deleted when next seen, or in bulk by :meth:`TokenStore.purge_expired`.

A live token found by :meth:`TokenStore.lookup` is remembered in-process for at most
``cache_seconds`` (its expiry still checked on every use), as parsed policies are: every
authenticated request looks its token up, and the database read costs more than the rest of a
typical request. A revocation or renewal through the same store drops the memory at once; one
made by another server process is honoured within ``cache_seconds``.
"""

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from trustee.auth.policy_names import ROOT, policy_names
from trustee.crypto.encoding import b64url_encode
from trustee.durations import parse_duration
from trustee.errors import InvalidRequest, PermissionDenied
from trustee.storage import Database
from trustee.storage.schema import server_tokens as _T

TOKEN_PREFIX = "hvs."
DEFAULT_TTL = 768 * 3600
"""Vault's default: 32 days."""
MAX_TTL = 768 * 3600
MAX_TOKEN_LENGTH = 256
MAX_METADATA_BYTES = 16 * 1024
LOOKUP_CACHE_SECONDS = 2.0
MAX_CACHED_TOKENS = 10_000


@dataclass(frozen=True)
class IssuedServerToken:
    """What token creation answers (Vault's ``auth`` block); ``client_token`` is shown once."""

    client_token: str = field(repr=False)
    accessor: str
    policies: list[str]
    lease_duration: int
    renewable: bool
    metadata: dict[str, str]


@dataclass(frozen=True)
class TokenEntry:
    """A stored token, without its secret; ``expire_time`` is None for tokens that never expire."""

    accessor: str
    policies: list[str]
    metadata: dict[str, str]
    display_name: str
    created_time: float
    expire_time: float | None
    ttl: int
    explicit_max_ttl: int
    renewable: bool
    parent_accessor: str | None

    def remaining(self, now: float | None = None) -> int:
        """Whole seconds left (Vault's ``ttl`` in lookups); 0 for a token that never expires."""
        if self.expire_time is None:
            return 0
        current = time.time() if now is None else now
        return max(0, int(self.expire_time - current))


def hash_token(client_token: str) -> str:
    return hashlib.sha256(client_token.encode("utf-8")).hexdigest()


class TokenStore:
    """Create, look up, renew and revoke server tokens."""

    def __init__(
        self,
        db: Database,
        *,
        default_ttl: int = DEFAULT_TTL,
        max_ttl: int = MAX_TTL,
        cache_seconds: float = LOOKUP_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < default_ttl <= max_ttl:
            raise ValueError("need 0 < default_ttl <= max_ttl")
        self._db = db
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, TokenEntry]] = {}  # token hash -> (when, entry)
        self._generation = 0  # bumped by every write, so a read that raced one is not kept
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TokenStore {self._db!r}>"

    def create(
        self,
        policies: list[str],
        *,
        ttl: int | str | None = None,
        renewable: bool = True,
        explicit_max_ttl: int | str | None = None,
        metadata: dict[str, str] | None = None,
        display_name: str = "token",
        parent_accessor: str | None = None,
        now: float | None = None,
    ) -> IssuedServerToken:
        """A new token; ``ttl`` None or 0 means the default, capped by ``max_ttl``.

        A child (``parent_accessor`` given) never outlives its parent: its expiry is capped at
        the parent's, as Vault revokes children with their parent. Which callers may make
        orphans (no parent) is the caller's decision, not the store's.
        """
        created = time.time() if now is None else now
        explicit = 0
        if explicit_max_ttl is not None:
            explicit = min(parse_duration(explicit_max_ttl, what="explicit_max_ttl"), self.max_ttl)
        requested = parse_duration(ttl, what="ttl") if ttl is not None else 0
        lifetime = min(requested or self.default_ttl, explicit or self.max_ttl)
        if parent_accessor is not None:
            if not isinstance(parent_accessor, str):
                raise InvalidRequest("parent_accessor must be a string")
            parent_expiry = self._parent_expiry(parent_accessor, created)
            if parent_expiry is not None:
                lifetime = min(lifetime, max(0, int(parent_expiry - created)))
        return self._insert(
            policies=policy_names(policies),
            expire_time=created + lifetime,
            ttl=lifetime,
            explicit_max_ttl=explicit,
            renewable=_check_bool(renewable, "renewable"),
            metadata=_check_metadata(metadata),
            display_name=_check_display_name(display_name),
            parent_accessor=parent_accessor,
            created=created,
        )

    def create_root_token(
        self, now: float | None = None, client_token: str | None = None
    ) -> IssuedServerToken:
        """A token with the ``root`` policy that never expires and cannot be renewed.

        ``client_token`` chooses its value, for dev servers only (``--dev-root-token``).
        """
        return self._insert(
            client_token=client_token,
            policies=[ROOT],
            expire_time=None,
            ttl=0,
            explicit_max_ttl=0,
            renewable=False,
            metadata={},
            display_name="root",
            parent_accessor=None,
            created=time.time() if now is None else now,
        )

    def lookup(self, client_token: str, now: float | None = None) -> TokenEntry | None:
        """The live token, or None if unknown or expired (an expired one is deleted)."""
        token_hash = _hash_input(client_token)
        if token_hash is None:
            return None
        current = time.time() if now is None else now
        remembered = self._recall(token_hash, current)
        if remembered is not None:
            return remembered
        generation = self._generation
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.token_hash == token_hash)).first()
        if row is None:
            return None
        if _expired(row.expire_time, current):
            with self._db.begin() as conn:
                conn.execute(
                    sa.delete(_T).where(_T.c.token_hash == token_hash, _T.c.expire_time <= current)
                )
            self._forget()
            return None
        entry = _entry(row)
        with self._lock:
            if generation == self._generation:
                if len(self._cache) >= MAX_CACHED_TOKENS:
                    self._cache.clear()
                self._cache[token_hash] = (self._clock(), entry)
        return entry

    def cached(self, client_token: str, now: float | None = None) -> TokenEntry | None:
        """What :meth:`lookup` answers from memory alone; None when it would ask the database."""
        token_hash = _hash_input(client_token)
        if token_hash is None:
            return None
        return self._recall(token_hash, time.time() if now is None else now)

    def lookup_accessor(self, accessor: str, now: float | None = None) -> TokenEntry | None:
        current = time.time() if now is None else now
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.accessor == accessor)).first()
        if row is None or _expired(row.expire_time, current):
            return None
        return _entry(row)

    def renew(
        self, client_token: str, increment: int | str | None = None, now: float | None = None
    ) -> TokenEntry:
        """Extend a renewable token to now + ``increment`` (default: its creation TTL)."""
        token_hash = _hash_input(client_token)
        current = time.time() if now is None else now
        with self._db.begin() as conn:
            row = None
            if token_hash is not None:
                row = conn.execute(sa.select(_T).where(_T.c.token_hash == token_hash)).first()
            if row is None or _expired(row.expire_time, current):
                raise PermissionDenied("permission denied: the token is unknown or expired")
            if not row.renewable or row.expire_time is None:
                raise InvalidRequest("this token is not renewable")
            wanted = parse_duration(increment, what="increment") if increment is not None else 0
            expire_time = current + (wanted or row.ttl)
            limit = row.created_time + self.max_ttl
            if row.explicit_max_ttl:
                limit = min(limit, row.created_time + row.explicit_max_ttl)
            expire_time = min(expire_time, limit)
            if row.parent_accessor is not None:
                parent_expiry = _live_expiry(conn, row.parent_accessor, current)
                if parent_expiry is not None:
                    expire_time = min(expire_time, parent_expiry)
            conn.execute(
                sa.update(_T).where(_T.c.token_hash == token_hash).values(expire_time=expire_time)
            )
        self._forget()
        return replace(_entry(row), expire_time=expire_time)

    def revoke(self, client_token: str) -> None:
        """Revoke a token and every token created under it; unknown tokens are no error."""
        token_hash = _hash_input(client_token)
        if token_hash is None:
            return
        with self._db.begin() as conn:
            accessor = conn.execute(
                sa.select(_T.c.accessor).where(_T.c.token_hash == token_hash)
            ).scalar()
            if accessor is not None:
                _revoke_tree(conn, accessor)
        self._forget()

    def revoke_accessor(self, accessor: str) -> bool:
        """Revoke by accessor (and the token's children); False when there was none."""
        with self._db.begin() as conn:
            exists = conn.execute(
                sa.select(_T.c.accessor).where(_T.c.accessor == accessor)
            ).scalar()
            if exists is None:
                return False
            _revoke_tree(conn, accessor)
        self._forget()
        return True

    def purge_expired(self, now: float | None = None) -> int:
        """Delete every expired token; returns how many."""
        current = time.time() if now is None else now
        with self._db.begin() as conn:
            return conn.execute(
                sa.delete(_T).where(_T.c.expire_time.is_not(None), _T.c.expire_time <= current)
            ).rowcount

    # -- internals -----------------------------------------------------------------------

    def _parent_expiry(self, accessor: str, now: float) -> float | None:
        """The live parent's expiry (None: never expires); PermissionDenied when it is gone."""
        with self._db.connect() as conn:
            return _live_expiry(conn, accessor, now)

    def _recall(self, token_hash: str, now: float) -> TokenEntry | None:
        hit = self._cache.get(token_hash)
        if hit is None or self._clock() - hit[0] >= self._cache_seconds:
            return None
        return None if _expired(hit[1].expire_time, now) else hit[1]

    def _forget(self) -> None:
        """After a committed write: drop every remembered entry, and any read racing it."""
        with self._lock:
            self._generation += 1
            self._cache.clear()

    def _insert(
        self,
        *,
        policies: list[str],
        expire_time: float | None,
        ttl: int,
        explicit_max_ttl: int,
        renewable: bool,
        metadata: dict[str, str],
        display_name: str,
        parent_accessor: str | None,
        created: float,
        client_token: str | None = None,
    ) -> IssuedServerToken:
        if client_token is None:
            client_token = TOKEN_PREFIX + b64url_encode(secrets.token_bytes(32))
        elif not isinstance(client_token, str) or not 1 <= len(client_token) <= 256:
            raise InvalidRequest("a chosen token is 1 to 256 characters")
        accessor = secrets.token_urlsafe(18)
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(_T).values(
                    token_hash=hash_token(client_token),
                    accessor=accessor,
                    policies=json.dumps(policies),
                    metadata=json.dumps(metadata, sort_keys=True),
                    display_name=display_name,
                    created_time=created,
                    expire_time=expire_time,
                    ttl=ttl,
                    explicit_max_ttl=explicit_max_ttl,
                    renewable=renewable,
                    parent_accessor=parent_accessor,
                )
            )
        return IssuedServerToken(
            client_token=client_token,
            accessor=accessor,
            policies=policies,
            lease_duration=ttl,
            renewable=renewable,
            metadata=metadata,
        )


def _revoke_tree(conn: sa.Connection, accessor: str) -> None:
    """Delete the token with ``accessor`` and its descendants, breadth first."""
    pending = [accessor]
    seen: set[str] = set()
    while pending:
        seen.update(pending)
        children = (
            conn.execute(sa.select(_T.c.accessor).where(_T.c.parent_accessor.in_(pending)))
            .scalars()
            .all()
        )
        conn.execute(sa.delete(_T).where(_T.c.accessor.in_(pending)))
        pending = [child for child in children if child not in seen]


def _live_expiry(conn: sa.Connection, accessor: str, now: float) -> float | None:
    """The expiry of the live token ``accessor`` (None: never); PermissionDenied if none lives."""
    row = conn.execute(sa.select(_T.c.expire_time).where(_T.c.accessor == accessor)).first()
    if row is None or _expired(row.expire_time, now):
        raise PermissionDenied("permission denied: the parent token is revoked or expired")
    return row.expire_time


def _hash_input(client_token: object) -> str | None:
    if not isinstance(client_token, str) or not 0 < len(client_token) <= MAX_TOKEN_LENGTH:
        return None
    return hash_token(client_token)


def _expired(expire_time: float | None, now: float) -> bool:
    return expire_time is not None and expire_time <= now


def _check_metadata(metadata: object) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        raise InvalidRequest("token metadata must map strings to strings")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise InvalidRequest(f"token metadata must be at most {MAX_METADATA_BYTES} bytes")
    return dict(metadata)


def _check_display_name(display_name: object) -> str:
    if not isinstance(display_name, str) or not 0 < len(display_name) <= 255:
        raise InvalidRequest("display_name must be 1 to 255 characters")
    return display_name


def _check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{what} must be true or false")
    return value


def _entry(row: Any) -> TokenEntry:
    return TokenEntry(
        accessor=row.accessor,
        policies=json.loads(row.policies),
        metadata=json.loads(row.metadata),
        display_name=row.display_name,
        created_time=row.created_time,
        expire_time=row.expire_time,
        ttl=row.ttl,
        explicit_max_ttl=row.explicit_max_ttl,
        renewable=bool(row.renewable),
        parent_accessor=row.parent_accessor,
    )
