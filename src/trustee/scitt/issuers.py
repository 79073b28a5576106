"""Registered issuer keys: the SCITT issuers an operator vouches for, by key.

A trust list names Ethereum addresses, so it can only admit ES256K statements. Issuers that
sign with EdDSA, ES256 or ES384 are admitted by registering their public key here: the
registration policy then admits a statement whose signing key (the one it carries, or the
one recovered from an ES256K ``kid``) has the RFC 9679 thumbprint of a registered key, and,
when the registration sets one, whose CWT ``iss`` is that value.

A key is given as PEM (a public key or a certificate, whose subject key is taken) or as a
COSE_Key in base64 CBOR; it is checked on its curve (:class:`~trustee.scitt.keys.CoseKey`)
and stored as a COSE_Key with its thumbprint, so matching a statement is one indexed lookup.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from trustee.auth.trust_lists import check_name
from trustee.errors import InvalidRequest, NotFound
from trustee.scitt import cbor
from trustee.scitt.keys import ALGORITHMS, KEY_ALG, BadKey, CoseKey
from trustee.storage import Database
from trustee.storage.schema_scitt import scitt_issuers as issuers_t
from trustee.storage.upsert import upsert

__all__ = ["MAX_ISS_CHARS", "MAX_KEY_CHARS", "IssuerKey", "IssuerKeys", "parse_issuer_key"]

MAX_KEY_CHARS = 16 * 1024
"""A PEM certificate with its extensions fits; anything longer is not one issuer key."""
MAX_ISS_CHARS = 1024


@dataclass(frozen=True)
class IssuerKey:
    """One registered issuer key, as stored."""

    name: str
    key: CoseKey
    alg: str
    iss: str | None
    updated_time: float

    @property
    def thumbprint(self) -> bytes:
        return self.key.thumbprint()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "alg": self.alg,
            "thumbprint": self.thumbprint.hex(),
            "cose_key": base64.b64encode(cbor.encode(self.key.to_map())).decode("ascii"),
            "iss": self.iss,
            "updated_time": self.updated_time,
        }


def parse_issuer_key(text: object) -> CoseKey:
    """A PEM public key or certificate, or a base64 COSE_Key; :class:`InvalidRequest` else."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("public_key must be a PEM key or certificate, or a base64 COSE_Key")
    if len(text) > MAX_KEY_CHARS:
        raise InvalidRequest(f"public_key is at most {MAX_KEY_CHARS} characters")
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN CERTIFICATE-----"):
            certificate = x509.load_pem_x509_certificate(stripped.encode("ascii"))
            return CoseKey.from_public_key(certificate.public_key())
        if stripped.startswith("-----BEGIN"):
            return CoseKey.from_public_key(load_pem_public_key(stripped.encode("ascii")))
        return _cose_key(stripped)
    except BadKey as exc:
        raise InvalidRequest(f"public_key: {exc}") from None
    except (ValueError, TypeError, UnicodeError) as exc:
        # cryptography's messages name the parsing step, never key material.
        raise InvalidRequest(f"public_key: not a PEM public key or certificate ({exc})") from None


def _cose_key(text: str) -> CoseKey:
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        raise InvalidRequest("public_key: not PEM, and not base64") from None
    try:
        value = cbor.decode(data)
    except cbor.CBORError as exc:
        raise InvalidRequest(f"public_key: not a COSE_Key ({exc})") from None
    key = CoseKey.from_map(value)
    alg = value.get(KEY_ALG) if isinstance(value, dict) else None
    if alg is not None and (alg not in ALGORITHMS or not key.fits(alg)):
        raise InvalidRequest("public_key: the COSE_Key's alg is not one of its curve")
    return key


class IssuerKeys:
    """Registered issuer keys over one database; every read goes to the database, so a key
    deleted through one worker is refused by all of them at once."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def put(self, name: str, public_key: object, iss: object = None) -> IssuerKey:
        """Create or replace the key ``name``."""
        check_name(name, "issuer key")
        key = parse_issuer_key(public_key)
        if iss is not None and (not isinstance(iss, str) or not 0 < len(iss) <= MAX_ISS_CHARS):
            raise InvalidRequest(f"iss must be a string of 1 to {MAX_ISS_CHARS} characters")
        stored = IssuerKey(name, key, ALGORITHMS[key.alg], iss, self._clock())
        with self._db.begin() as conn:
            upsert(
                conn,
                issuers_t,
                {
                    "name": name,
                    "thumbprint": stored.thumbprint,
                    "alg": stored.alg,
                    "public_key": cbor.encode(key.to_map()),
                    "iss": iss,
                    "updated_time": stored.updated_time,
                },
            )
        return stored

    def get(self, name: str) -> IssuerKey:
        check_name(name, "issuer key")
        with self._db.connect() as conn:
            row = conn.execute(sa.select(issuers_t).where(issuers_t.c.name == name)).first()
        if row is None:
            raise NotFound(f"no issuer key named {name!r}")
        return _issuer(row)

    def delete(self, name: str) -> None:
        check_name(name, "issuer key")
        with self._db.begin() as conn:
            conn.execute(sa.delete(issuers_t).where(issuers_t.c.name == name))

    def list_names(self) -> list[str]:
        with self._db.connect() as conn:
            return sorted(conn.execute(sa.select(issuers_t.c.name)).scalars().all())

    def matching(self, key: CoseKey) -> list[IssuerKey]:
        """The registrations of ``key`` (by thumbprint): none, one, or several names."""
        with self._db.connect() as conn:
            rows = conn.execute(
                sa.select(issuers_t).where(issuers_t.c.thumbprint == key.thumbprint())
            ).all()
        return [_issuer(row) for row in rows]


def _issuer(row: Any) -> IssuerKey:
    return IssuerKey(
        row.name,
        CoseKey.from_map(cbor.decode(bytes(row.public_key))),
        row.alg,
        row.iss,
        float(row.updated_time),
    )
