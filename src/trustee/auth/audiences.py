"""Audiences: other parties known by the key they sign with, and encryption to them.

A party is registered from any JWT it signed (ES256K, ES256K-R or a legacy trustee token):
verifying the signature recovers its public key, whose keccak hash is its address, so the
stored key is a fact, not a claim. The token may name an audience (it is usually addressed to
us); its signature and times must still hold.

Encryption is ECIES on secp256k1 (:mod:`trustee.crypto.ecies`: ephemeral key ‖ nonce ‖ tag ‖
AES-256-GCM ciphertext). There is no sender authentication: the JWT that carries encrypted
claims is what says who sent them.

Encrypted claims (:func:`encrypt_claims_for`): each claim value is encoded as compact JSON
(UTF-8, sorted keys), encrypted to the audience's key, and written as the unpadded base64url
of the ECIES bytes, so ``{"plate": "KITT"}`` becomes ``{"plate": "BPx3…"}``; the claim names
stay in clear. :func:`decrypt_claims` reverses it with the audience's private key.

``claim`` with ``encrypt_for`` (:func:`seal_claims`) also adds a clear claim saying what was
done, so a recipient knows which values to open and whether they are meant for it::

    "encrypted": {"alg": "ECIES-secp256k1", "to": "<recipient address>", "claims": ["plate"]}

:func:`open_claims` takes a whole payload like that and gives it back with those values
decrypted and the ``encrypted`` claim removed. The JWT's signature covers the ciphertexts, so
the issuer vouches for them as for any claim.

Free-form ciphertexts (``trustee/trustees/:name/encrypt``) are ``trustee:v1:`` followed by the
base64url ECIES bytes, versioned as Vault's transit ciphertexts are.
"""

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from trustee.auth.trust_lists import check_name
from trustee.crypto.address import address_from_public_key
from trustee.crypto.ecies import decrypt_with, encrypt_to
from trustee.crypto.encoding import b64url_decode, b64url_encode, hex_decode
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import public_key_from_private
from trustee.custody.trustees import TrusteeService
from trustee.errors import AlreadyExists, InvalidRequest, NotFound
from trustee.storage import Database
from trustee.storage.schema_auth import audiences as _A
from trustee.tokens import KeyCache, Reason, verify_token

CIPHERTEXT_PREFIX = "trustee:v1:"
MAX_PLAINTEXT_BYTES = 1024 * 1024
ENCRYPTED_CLAIM = "encrypted"
ENCRYPTION_ALGORITHM = "ECIES-secp256k1"


@dataclass(frozen=True)
class AudienceInfo:
    name: str
    address: str
    public_key: str
    created_time: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "public_key": self.public_key,
            "created_time": self.created_time,
        }


def key_from_token(token: str, *, at: float | None = None) -> tuple[str, bytes]:
    """The signer's address and uncompressed public key, from a JWT it signed."""
    cache = KeyCache(max_entries=4)
    result = verify_token(token, at=at, key_cache=cache)
    # The audience is checked last but one: a token addressed to someone passed every
    # signature and time check before the audience refused it.
    if not result.valid and result.reason != Reason.AUDIENCE_MISMATCH:
        raise InvalidRequest(f"the token does not verify: {result.reason}")
    address = result.address or ""
    key = cache.get(address.lower())
    if key is None:  # pragma: no cover - every accepted algorithm fills the cache
        raise InvalidRequest("the signer's key could not be recovered")
    return address, key.public_key


class AudienceService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"<AudienceService {self._db!r}>"

    def register(self, name: str, token: str, *, replace: bool = True) -> AudienceInfo:
        check_name(name, "audience")
        address, public_key = key_from_token(token)
        info = AudienceInfo(name, address, "0x" + public_key.hex(), time.time())
        with self._db.begin() as conn:
            exists = conn.execute(sa.select(_A.c.name).where(_A.c.name == name)).first()
            if exists is not None and not replace:
                raise AlreadyExists(f"an audience named {name!r} already exists")
            if exists is not None:
                conn.execute(sa.delete(_A).where(_A.c.name == name))
            conn.execute(sa.insert(_A).values(**info.to_dict()))
        return info

    def get(self, name: str) -> AudienceInfo:
        check_name(name, "audience")
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_A).where(_A.c.name == name)).first()
        if row is None:
            raise NotFound(f"no audience named {name!r}")
        return AudienceInfo(row.name, row.address, row.public_key, row.created_time)

    def public_key(self, name: str) -> bytes:
        return hex_decode(self.get(name).public_key, what="public key")

    def seal_claims(self, name: str, claims: dict[str, Any]) -> dict[str, Any]:
        """``claims`` encrypted for the audience ``name`` (:func:`seal_claims`)."""
        info = self.get(name)
        return seal_claims(hex_decode(info.public_key, what="public key"), info.address, claims)

    def delete(self, name: str) -> None:
        check_name(name, "audience")
        with self._db.begin() as conn:
            conn.execute(sa.delete(_A).where(_A.c.name == name))

    def list_names(self) -> list[str]:
        with self._db.connect() as conn:
            return sorted(conn.execute(sa.select(_A.c.name)).scalars().all())


# -- encrypted claims --------------------------------------------------------------------


def encrypt_claims_for(public_key: bytes, claims: dict[str, Any]) -> dict[str, str]:
    """Each claim value → compact JSON → ECIES to ``public_key`` → base64url (no padding)."""
    if not isinstance(claims, dict):
        raise InvalidRequest("claims must be an object")
    out: dict[str, str] = {}
    for name, value in claims.items():
        encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        out[name] = b64url_encode(encrypt_to(public_key, encoded.encode("utf-8")))
    return out


def decrypt_claims(private_key: bytes, claims: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`encrypt_claims_for`; :class:`CryptoError` on any wrong value."""
    out: dict[str, Any] = {}
    for name, value in claims.items():
        if not isinstance(value, str):
            raise CryptoError(f"claim {name!r} is not an encrypted value")
        try:
            plaintext = decrypt_with(private_key, b64url_decode(value))
        except UnicodeEncodeError:
            raise CryptoError(f"claim {name!r} is not an encrypted value") from None
        try:
            out[name] = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CryptoError(f"claim {name!r} does not decrypt to JSON") from None
    return out


def seal_claims(public_key: bytes, recipient: str, claims: dict[str, Any]) -> dict[str, Any]:
    """Every claim encrypted to ``public_key``, plus the clear ``encrypted`` descriptor."""
    if not isinstance(claims, dict) or not claims:
        raise InvalidRequest("encrypt_for needs claims to encrypt")
    if ENCRYPTED_CLAIM in claims:
        raise InvalidRequest(f"the claim {ENCRYPTED_CLAIM!r} is set when claims are encrypted")
    sealed: dict[str, Any] = encrypt_claims_for(public_key, claims)
    sealed[ENCRYPTED_CLAIM] = {
        "alg": ENCRYPTION_ALGORITHM,
        "to": recipient,
        "claims": sorted(claims),
    }
    return sealed


def open_claims(private_key: bytes, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with the claims its ``encrypted`` descriptor names decrypted.

    :class:`CryptoError` when the descriptor is missing or malformed, names another recipient,
    or a value does not decrypt with ``private_key``.
    """
    descriptor = payload.get(ENCRYPTED_CLAIM) if isinstance(payload, dict) else None
    if not isinstance(descriptor, dict):
        raise CryptoError(f"the payload has no {ENCRYPTED_CLAIM!r} claim")
    names = descriptor.get("claims")
    if (
        descriptor.get("alg") != ENCRYPTION_ALGORITHM
        or not isinstance(names, list)
        or not all(isinstance(name, str) and name in payload for name in names)
    ):
        raise CryptoError(f"the {ENCRYPTED_CLAIM!r} claim is not understood")
    recipient = descriptor.get("to")
    mine = address_from_public_key(public_key_from_private(private_key))
    if not isinstance(recipient, str) or recipient.lower() != mine.lower():
        raise CryptoError(f"the claims are encrypted for {recipient!r}, not for {mine}")
    opened = decrypt_claims(private_key, {name: payload[name] for name in names})
    rest = {key: value for key, value in payload.items() if key != ENCRYPTED_CLAIM}
    return rest | opened


# -- free-form encryption to and by trustees ---------------------------------------------


def encrypt(public_key: bytes, plaintext: bytes) -> str:
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise InvalidRequest(f"plaintext is at most {MAX_PLAINTEXT_BYTES} bytes")
    return CIPHERTEXT_PREFIX + b64url_encode(encrypt_to(public_key, plaintext))


@dataclass(frozen=True)
class Sealed:
    """A ciphertext and the address of the key that opens it."""

    ciphertext: str
    recipient: str


def trustee_encrypt(
    trustees: TrusteeService,
    audiences: AudienceService,
    name: str,
    plaintext: bytes,
    audience: str | None = None,
) -> Sealed:
    """Encrypt on behalf of the trustee ``name``: to the audience's key when one is named, else
    to the trustee's own key (so only it can decrypt).

    The trustee must exist either way: the request is made on its behalf, and an unknown
    trustee is refused before any audience is looked up.
    """
    trustee = trustees.read(name)
    if audience is not None:
        info = audiences.get(audience)
        public_key, recipient = hex_decode(info.public_key), info.address
    else:
        public_key, recipient = hex_decode(trustee.public_key), trustee.address
    return Sealed(encrypt(public_key, plaintext), recipient)


def trustee_decrypt(trustees: TrusteeService, name: str, ciphertext: str) -> bytes:
    """Decrypt a ``trustee:v1:`` ciphertext with the trustee ``name``'s key.

    Uses the service's internal ``_private_key`` until custody grows a public decrypt; the key
    is dropped before returning. Wrong key, tampering and bad encoding all say the same.
    """
    if not isinstance(ciphertext, str) or not ciphertext.startswith(CIPHERTEXT_PREFIX):
        raise InvalidRequest(f"a ciphertext starts with {CIPHERTEXT_PREFIX!r}")
    private_key, _address = trustees._private_key(name)
    try:
        return decrypt_with(private_key, b64url_decode(ciphertext[len(CIPHERTEXT_PREFIX) :]))
    except (CryptoError, ValueError):
        raise InvalidRequest("the ciphertext does not decrypt with this trustee's key") from None
    finally:
        del private_key


def trustee_decrypt_claims(
    trustees: TrusteeService, name: str, claims: dict[str, Any]
) -> dict[str, Any]:
    """Encrypted claims addressed to the trustee ``name``, decrypted with its key.

    A whole payload with an ``encrypted`` descriptor is opened with :func:`open_claims`;
    otherwise every value must be an encrypted claim.
    """
    if not isinstance(claims, dict) or not claims:
        raise InvalidRequest("claims must be a non-empty object")
    private_key, _address = trustees._private_key(name)
    try:
        if ENCRYPTED_CLAIM in claims:
            return open_claims(private_key, claims)
        return decrypt_claims(private_key, claims)
    except (CryptoError, ValueError):
        raise InvalidRequest("the claims do not decrypt with this trustee's key") from None
    finally:
        del private_key
