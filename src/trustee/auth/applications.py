"""Application registrations: machine credentials (client id and secret) bound to policies.

DataTrails' clients authenticate a program with an *application registration*: a client id and
a secret exchanged (OAuth 2 ``client_credentials``) for a short-lived bearer token. Here the
token is an ordinary server token whose policies are the registration's, so a registration
grants nothing a policy does not, and a policy can never be ``root``
(:func:`~trustee.auth.policy_names.grantable_policy_names`): writing registrations is an
administrator's act, like writing a login role. The secret is 32 random bytes, shown once and
stored as its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid as uuid_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from trustee.auth.policy_names import grantable_policy_names
from trustee.auth.token_store import IssuedServerToken, TokenStore
from trustee.errors import InvalidRequest, NotFound, Unauthenticated
from trustee.storage import Database
from trustee.storage.schema_apps import applications as apps_t

__all__ = ["SECRET_LIFETIME", "TOKEN_TTL", "Application", "ApplicationStore"]

SECRET_LIFETIME = 365 * 24 * 3600
"""How long a secret works; regenerating makes a new one (the old one stops at once)."""
TOKEN_TTL = 3600
"""Seconds an exchanged token lives; clients exchange again when it ends."""
_MAX_CLAIMS_BYTES = 4096


@dataclass(frozen=True)
class Application:
    """A registration as stored; ``secret`` is set only in the answer that made it."""

    uuid: str
    client_id: str
    display_name: str
    custom_claims: dict[str, str]
    policies: list[str]
    secret_valid_from: float
    secret_expiry: float
    secret: str | None = None


class ApplicationStore:
    """Registrations over one database; safe to share between threads."""

    def __init__(
        self, db: Database, tokens: TokenStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._tokens = tokens
        self._clock = clock

    def create(
        self,
        display_name: str,
        custom_claims: Mapping[str, str] | None = None,
        policies: list[str] | None = None,
    ) -> Application:
        name = _display_name(display_name)
        claims = _claims(custom_claims)
        granted = grantable_policy_names(policies or [], "policies")
        secret, digest = _new_secret()
        now = self._clock()
        uuid = str(uuid_module.uuid4())
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(apps_t).values(
                    uuid=uuid,
                    client_id=str(uuid_module.uuid4()),
                    display_name=name,
                    custom_claims=orjson.dumps(claims).decode(),
                    policies=orjson.dumps(granted).decode(),
                    secret_hash=digest,
                    secret_valid_from=now,
                    secret_expiry=now + SECRET_LIFETIME,
                    created_time=now,
                )
            )
        return _with_secret(self.read(uuid), secret)

    def read(self, uuid: str) -> Application:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(apps_t).where(apps_t.c.uuid == uuid)).first()
        if row is None:
            raise NotFound(f"no application {uuid!r}")
        return _application(row)

    def list(self, display_name: str | None = None) -> list[Application]:
        query = sa.select(apps_t).order_by(apps_t.c.created_time, apps_t.c.uuid)
        if display_name:
            query = query.where(apps_t.c.display_name == display_name)
        with self._db.connect() as conn:
            return [_application(row) for row in conn.execute(query)]

    def update(
        self,
        uuid: str,
        *,
        display_name: str | None = None,
        custom_claims: Mapping[str, str] | None = None,
        policies: list[str] | None = None,
    ) -> Application:
        values: dict[str, Any] = {}
        if display_name is not None:
            values["display_name"] = _display_name(display_name)
        if custom_claims is not None:
            values["custom_claims"] = orjson.dumps(_claims(custom_claims)).decode()
        if policies is not None:
            values["policies"] = orjson.dumps(grantable_policy_names(policies, "policies")).decode()
        if values:
            with self._db.begin() as conn:
                done = conn.execute(sa.update(apps_t).where(apps_t.c.uuid == uuid).values(values))
            if done.rowcount == 0:
                raise NotFound(f"no application {uuid!r}")
        return self.read(uuid)

    def delete(self, uuid: str) -> None:
        with self._db.begin() as conn:
            done = conn.execute(sa.delete(apps_t).where(apps_t.c.uuid == uuid))
        if done.rowcount == 0:
            raise NotFound(f"no application {uuid!r}")

    def regenerate(self, uuid: str) -> Application:
        """A new secret (shown once); the old one stops working at once."""
        secret, digest = _new_secret()
        now = self._clock()
        with self._db.begin() as conn:
            done = conn.execute(
                sa.update(apps_t)
                .where(apps_t.c.uuid == uuid)
                .values(
                    secret_hash=digest,
                    secret_valid_from=now,
                    secret_expiry=now + SECRET_LIFETIME,
                )
            )
        if done.rowcount == 0:
            raise NotFound(f"no application {uuid!r}")
        return _with_secret(self.read(uuid), secret)

    def exchange(self, client_id: str, client_secret: str) -> IssuedServerToken:
        """A server token with the registration's policies for its id and live secret;
        :class:`Unauthenticated` for anything else, without saying which part was wrong."""
        refused = Unauthenticated("invalid client credentials")
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            raise refused
        with self._db.connect() as conn:
            row = conn.execute(sa.select(apps_t).where(apps_t.c.client_id == client_id)).first()
        given = hashlib.sha256(client_secret.encode("utf-8", "replace")).digest()
        stored = row.secret_hash if row is not None else b"\0" * 32
        if not hmac.compare_digest(given, bytes(stored)) or row is None:
            raise refused
        if row.secret_expiry <= self._clock():
            raise refused
        app = _application(row)
        return self._tokens.create(
            app.policies,
            ttl=TOKEN_TTL,
            renewable=False,
            display_name=f"application-{app.display_name}"[:255],
            metadata={"application": app.uuid, "client_id": app.client_id},
        )


def _new_secret() -> tuple[str, bytes]:
    secret = secrets.token_urlsafe(32)
    return secret, hashlib.sha256(secret.encode("ascii")).digest()


def _display_name(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 200:
        raise InvalidRequest("display_name must be 1 to 200 characters")
    return value.strip()


def _claims(value: Mapping[str, str] | None) -> dict[str, str]:
    claims = dict(value or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in claims.items()):
        raise InvalidRequest("custom_claims must map strings to strings")
    if len(orjson.dumps(claims)) > _MAX_CLAIMS_BYTES:
        raise InvalidRequest(f"custom_claims must be at most {_MAX_CLAIMS_BYTES} bytes")
    return claims


def _application(row: Any) -> Application:
    return Application(
        uuid=row.uuid,
        client_id=row.client_id,
        display_name=row.display_name,
        custom_claims=orjson.loads(row.custom_claims),
        policies=orjson.loads(row.policies),
        secret_valid_from=row.secret_valid_from,
        secret_expiry=row.secret_expiry,
    )


def _with_secret(app: Application, secret: str) -> Application:
    return Application(**{**app.__dict__, "secret": secret})
