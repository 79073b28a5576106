"""Stored ACL policies and the authorizer that checks tokens against them.

:class:`PolicyStore` keeps each policy's text as written and its parsed rules (checked when
written, so a stored policy always loads). ``root`` and ``default`` are built in: they are
answered on read but cannot be written or deleted.

:class:`AclAuthorizer` is the :class:`~trustee.auth.authorizer.Authorizer` every server uses.
Parsed policies are cached in-process for at most
``cache_seconds`` (and dropped at once on a write through the same store), so a change made by
another replica is honoured within that many seconds.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from trustee.auth.policy import DEFAULT_POLICY, Policy, allows, parse_policy
from trustee.auth.policy_names import DEFAULT, ROOT, policy_name
from trustee.auth.token_store import TokenEntry
from trustee.errors import InvalidRequest, NotFound
from trustee.storage import Database
from trustee.storage.schema_auth import acl_policies as _P
from trustee.storage.upsert import upsert

BUILTIN = (DEFAULT, ROOT)
DEFAULT_POLICY_TEXT = """# Every token may look itself up, renew and revoke itself.
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
"""
ROOT_POLICY_TEXT = "# root: every capability on every path (built in, not a rule set)\n"


@dataclass(frozen=True)
class StoredPolicy:
    name: str
    text: str
    policy: Policy | None
    """None for ``root``, which is not expressed as rules."""


class PolicyStore:
    """Create, read, list and delete ACL policies."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"<PolicyStore {self._db!r}>"

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def put(self, name: str, text: str) -> StoredPolicy:
        name = policy_name(name)
        if name in BUILTIN:
            raise InvalidRequest(f"the {name!r} policy is built in and cannot be changed")
        policy = parse_policy(text)
        values = {
            "text": text,
            "parsed": json.dumps(policy.to_json(), sort_keys=True),
            "updated_time": self._clock(),
        }
        with self._db.begin() as conn:
            upsert(conn, _P, {"name": name, **values})
        self._changed()
        return StoredPolicy(name, text, policy)

    def get(self, name: str) -> StoredPolicy:
        name = policy_name(name)
        if name == ROOT:
            return StoredPolicy(ROOT, ROOT_POLICY_TEXT, None)
        if name == DEFAULT:
            return StoredPolicy(DEFAULT, DEFAULT_POLICY_TEXT, DEFAULT_POLICY)
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_P.c.text, _P.c.parsed).where(_P.c.name == name)).first()
        if row is None:
            raise NotFound(f"no policy named {name!r}")
        return StoredPolicy(name, row.text, Policy.from_json(json.loads(row.parsed)))

    def load(self, names: list[str]) -> list[Policy]:
        """The parsed policies among ``names`` that exist (unknown names grant nothing)."""
        found: list[Policy] = []
        wanted = [name for name in names if name not in BUILTIN]
        if DEFAULT in names:
            found.append(DEFAULT_POLICY)
        if wanted:
            with self._db.connect() as conn:
                rows = conn.execute(sa.select(_P.c.parsed).where(_P.c.name.in_(wanted))).all()
            found.extend(Policy.from_json(json.loads(row.parsed)) for row in rows)
        return found

    def list_names(self) -> list[str]:
        with self._db.connect() as conn:
            names = conn.execute(sa.select(_P.c.name)).scalars().all()
        return sorted({*names, *BUILTIN})

    def delete(self, name: str) -> None:
        """Delete a policy; deleting one that does not exist is no error (as in Vault)."""
        name = policy_name(name)
        if name in BUILTIN:
            raise InvalidRequest(f"the {name!r} policy is built in and cannot be deleted")
        with self._db.begin() as conn:
            conn.execute(sa.delete(_P).where(_P.c.name == name))
        self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


class AclAuthorizer:
    """``root`` may do anything; otherwise the token's policies decide (deny by default)."""

    def __init__(
        self,
        store: PolicyStore,
        *,
        cache_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, list[Policy]]] = {}
        self._lock = threading.Lock()
        store.on_change(self.invalidate)

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def policies(self, names: list[str]) -> list[Policy]:
        key = tuple(sorted(set(names)))
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        loaded = self._store.load(list(key))
        with self._lock:
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[key] = (now, loaded)
        return loaded

    def allowed(self, token: TokenEntry, path: str, capability: str) -> bool:
        if ROOT in token.policies:
            return True
        return allows(self.policies(token.policies), path, capability)
