"""Trustees: named secp256k1 identities whose private keys never leave the barrier in clear.

Each private key is stored as ``barrier.encrypt(key, aad)`` with
``aad = b"trustee:trustee-key:v1:" ‖ name ‖ 0x00 ‖ address``, so a ciphertext copied into
another row (another name or address) fails to open instead of signing as the wrong identity.
Keys are decrypted inside one operation, held in locals and dropped when it ends; every method
returns a small frozen record holding public material only.

The sealed row a key operation reads is remembered in-process for at most ``cache_seconds``
(ciphertext only: every use still opens and checks it under the barrier), because reading it
costs more than the signature. A deletion through the same service drops the memory at once;
one made by another server process is honoured within ``cache_seconds``.
"""

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from trustee.crypto.address import address_from_public_key, parse_address
from trustee.crypto.encoding import hex_decode
from trustee.crypto.errors import CryptoError
from trustee.crypto.keccak import keccak256
from trustee.crypto.keystore import DEFAULT_SCRYPT_N, decrypt_keystore, encrypt_keystore
from trustee.crypto.messages import eip191_hash, eip712_hash
from trustee.crypto.secp256k1 import (
    check_private_key,
    generate_private_key,
    public_key_from_private,
    recover_public_key,
    sign_recoverable,
)
from trustee.custody.barrier import Barrier
from trustee.durations import parse_duration
from trustee.errors import AlreadyExists, InvalidRequest, NotFound, TooLarge, TrusteeError
from trustee.scitt.keys import ES256K
from trustee.scitt.sign import sign_statement as sign_cose_statement
from trustee.scitt.statement import MAX_STATEMENT_BYTES
from trustee.storage import Database
from trustee.storage.schema import trustees as trustees_table
from trustee.tokens import IssuedToken, TokenError, issue_token
from trustee.tokens.issue import ISSUER_FORMATS, IssuerFormat

Scheme = Literal["eip191", "keccak256", "eip712"]
Encoding = Literal["utf8", "hex", "base64"]

SCHEMES = ("eip191", "keccak256", "eip712")
ENCODINGS = ("utf8", "hex", "base64")
MAX_DATA_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024
MAX_STATEMENT_TEXT = 1024
"""Longest ``iss``, ``sub`` or content type a trustee writes into a statement."""
KEY_AAD_PREFIX = b"trustee:trustee-key:v1:"
KEY_CACHE_SECONDS = 2.0
MAX_CACHED_KEYS = 10_000

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)
_T = trustees_table


class CorruptedKey(TrusteeError):
    """A stored key does not open under its own name and address: the row was altered."""


@dataclass(frozen=True)
class TrusteeInfo:
    name: str
    address: str
    public_key: str
    created_time: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class AddressInfo:
    address: str
    names: list[str]
    public_key: str


@dataclass(frozen=True)
class SignResult:
    signature: str
    hash: str
    address: str


@dataclass(frozen=True)
class StatementResult:
    statement: bytes
    """A tagged COSE_Sign1, ES256K, ``kid`` = the address (EIP-55 text, ASCII bytes)."""
    address: str


@dataclass(frozen=True)
class VerifyResult:
    verified: bool
    address: str
    recovered: str | None


def key_aad(name: str, address: str) -> bytes:
    """The associated data that binds a stored key to its trustee's name and address."""
    return KEY_AAD_PREFIX + name.encode("ascii") + b"\0" + address.encode("ascii")


class TrusteeService:
    """Create, import, export, sign and issue tokens as named trustees."""

    def __init__(
        self,
        db: Database,
        barrier: Barrier,
        *,
        cache_seconds: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._barrier = barrier
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._sealed: dict[str, tuple[float, Any]] = {}  # name -> (when, sealed key row)
        # Rows whose key was decrypted and found to be their public key's: decryption is
        # deterministic, so the same row under the same barrier gives the same key again.
        self._matched: set[tuple[str, str, str, bytes]] = set()
        self._generation = 0  # bumped by every deletion, so a read that raced one is not kept
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TrusteeService {self._db!r}>"

    # -- life cycle ----------------------------------------------------------------------

    def create(self, name: str, metadata: dict[str, Any] | None = None) -> TrusteeInfo:
        """A new trustee with a key from the OS CSPRNG; :class:`AlreadyExists` if taken."""
        _check_name(name)
        private_key = generate_private_key()
        try:
            return self._store(name, private_key, metadata)
        finally:
            del private_key

    def import_private_key(
        self, name: str, private_key_hex: str, metadata: dict[str, Any] | None = None
    ) -> TrusteeInfo:
        _check_name(name)
        try:
            private_key = check_private_key(hex_decode(private_key_hex, length=32))
        except CryptoError:
            raise InvalidRequest(
                "private_key must be 32 bytes of hex, a valid secp256k1 key"
            ) from None
        try:
            return self._store(name, private_key, metadata)
        finally:
            del private_key

    def import_keystore(
        self,
        name: str,
        keystore: dict[str, Any] | str,
        passphrase: str,
        metadata: dict[str, Any] | None = None,
    ) -> TrusteeInfo:
        """Import an Ethereum V3 keystore (object or JSON text) opened with ``passphrase``."""
        _check_name(name)
        if not isinstance(keystore, dict | str):
            raise InvalidRequest("keystore must be a V3 keystore JSON object")
        if not isinstance(passphrase, str):
            raise InvalidRequest("passphrase must be a string")
        # Refuse what would fail anyway before the KDF spends a second or so.
        self._barrier.check_unsealed()
        with self._db.connect() as conn:
            if conn.execute(sa.select(_T.c.name).where(_T.c.name == name)).first() is not None:
                raise AlreadyExists(f"a trustee named {name!r} already exists")
        try:
            private_key = decrypt_keystore(keystore, passphrase)
        except CryptoError as exc:
            raise InvalidRequest(f"cannot import keystore: {exc}") from None
        try:
            return self._store(name, private_key, metadata)
        finally:
            del private_key

    def export_keystore(
        self, name: str, passphrase: str, scrypt_n: int = DEFAULT_SCRYPT_N
    ) -> dict[str, Any]:
        """The trustee's key as a V3 keystore (scrypt) locked with ``passphrase``."""
        if not isinstance(passphrase, str) or not passphrase:
            raise InvalidRequest("passphrase must be a non-empty string")
        private_key, _address = self._private_key(name)
        try:
            return encrypt_keystore(private_key, passphrase, scrypt_n=scrypt_n)
        except CryptoError as exc:
            raise InvalidRequest(f"cannot export keystore: {exc}") from None
        finally:
            del private_key

    def read(self, name: str) -> TrusteeInfo:
        _check_name(name)
        with self._db.connect() as conn:
            row = conn.execute(_info_select().where(_T.c.name == name)).first()
        if row is None:
            raise NotFound(f"no trustee named {name!r}")
        return _info(row)

    # Sorting happens here, not in SQL, so that SQLite and PostgreSQL (whose collations
    # differ) answer in the same code-point order.

    def list_names(self) -> list[str]:
        with self._db.connect() as conn:
            return sorted(conn.execute(sa.select(_T.c.name)).scalars())

    def list_all(self) -> list[TrusteeInfo]:
        """Every trustee's public record, by name (for a JWK set)."""
        with self._db.connect() as conn:
            rows = conn.execute(_info_select()).all()
        return sorted((_info(row) for row in rows), key=lambda info: info.name)

    def delete(self, name: str) -> None:
        _check_name(name)
        with self._db.begin() as conn:
            deleted = conn.execute(sa.delete(_T).where(_T.c.name == name)).rowcount
        with self._lock:
            self._generation += 1
            self._sealed.clear()
        if not deleted:
            raise NotFound(f"no trustee named {name!r}")

    # -- addresses -----------------------------------------------------------------------

    def names_for_address(self, address: str) -> list[str]:
        """Names of the trustees holding ``address`` (any case), sorted; may be empty."""
        checksummed = _parse_address(address)
        with self._db.connect() as conn:
            query = sa.select(_T.c.name).where(_T.c.address == checksummed)
            return sorted(conn.execute(query).scalars())

    def list_addresses(self) -> list[str]:
        """Distinct EIP-55 addresses of all trustees, sorted."""
        with self._db.connect() as conn:
            return sorted(conn.execute(sa.select(_T.c.address).distinct()).scalars())

    def read_address(self, address: str) -> AddressInfo:
        """The names and public key behind an address; :class:`NotFound` if no trustee has it."""
        checksummed = _parse_address(address)
        with self._db.connect() as conn:
            rows = conn.execute(
                sa.select(_T.c.name, _T.c.public_key).where(_T.c.address == checksummed)
            ).all()
        if not rows:
            raise NotFound(f"no trustee has address {checksummed}")
        return AddressInfo(checksummed, sorted(row.name for row in rows), rows[0].public_key)

    # -- operations with the private key -------------------------------------------------

    def sign(
        self, name: str, data: bytes | dict[str, Any], scheme: Scheme = "eip191"
    ) -> SignResult:
        """An Ethereum signature (65 bytes, v = 27 + recovery id: 27/28, and 29/30 with
        probability 2⁻¹²⁸) over ``data`` hashed per ``scheme``.

        ``eip191`` and ``keccak256`` sign bytes; ``eip712`` signs a typed-data object.
        """
        digest = message_hash(data, scheme)
        private_key, address = self._private_key(name)
        try:
            signature = sign_recoverable(digest, private_key)
        finally:
            del private_key
        signature = signature[:64] + bytes((signature[64] + 27,))
        return SignResult("0x" + signature.hex(), "0x" + digest.hex(), address)

    def sign_statement(
        self,
        name: str,
        payload: bytes,
        *,
        content_type: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
    ) -> StatementResult:
        """A SCITT signed statement (COSE_Sign1, ES256K) by the trustee over ``payload``.

        ``kid`` is the trustee's address as its EIP-55 text, the form a JWT's ``kid`` has, and
        ``iss`` is that address unless ``issuer`` is given: a verifier recovers the key from
        the signature and compares addresses, so the statement needs no key of its own. The
        statement is at most what ``POST /entries`` registers, so anything signed here can be
        registered.
        """
        if not isinstance(payload, bytes | bytearray):
            raise InvalidRequest("a statement's payload is bytes; decode the data first")
        if len(payload) > MAX_DATA_BYTES:
            raise TooLarge(f"data is larger than {MAX_DATA_BYTES} bytes")
        texts = {"content_type": content_type, "issuer": issuer, "subject": subject}
        for what, value in texts.items():
            _check_statement_text(what, value)
        private_key, address = self._private_key(name)
        try:
            statement = sign_cose_statement(
                bytes(payload),
                private_key,
                ES256K,
                content_type=content_type,
                issuer=address if issuer is None else issuer,
                subject=subject,
                kid=address.encode("ascii"),
            )
        finally:
            del private_key
        if len(statement) > MAX_STATEMENT_BYTES:
            raise TooLarge(
                f"the statement would be larger than {MAX_STATEMENT_BYTES} bytes, "
                "more than a transparency service registers"
            )
        return StatementResult(statement, address)

    def claim(
        self,
        name: str,
        *,
        claims: dict[str, Any] | None = None,
        subject: str | None = None,
        audience: str | list[str] | None = None,
        ttl: int | str = 3600,
        not_before: int | None = None,
        now: int | None = None,
        legacy_eth_claim: bool = False,
        issuer_format: IssuerFormat = "address",
    ) -> IssuedToken:
        """A JWT signed by the trustee (docs/api.md §7); ``ttl`` takes seconds or ``"1h"``;
        ``issuer_format`` ``"did:ethr"`` names the trustee as ``did:ethr:0x…`` in ``iss``."""
        seconds = parse_duration(ttl, what="ttl")
        if claims is not None and not isinstance(claims, dict):
            raise InvalidRequest("claims must be an object")
        if issuer_format not in ISSUER_FORMATS:
            raise InvalidRequest(f"issuer_format must be one of {', '.join(ISSUER_FORMATS)}")
        private_key, address = self._private_key(name)
        try:
            return issue_token(
                private_key,
                claims=claims,
                subject=subject,
                audience=audience,
                ttl=seconds,
                not_before=not_before,
                now=now,
                legacy_eth_claim=bool(legacy_eth_claim),
                address=address,
                issuer_format=issuer_format,
            )
        except TokenError as exc:
            raise InvalidRequest(str(exc)) from None
        finally:
            del private_key

    def verify(
        self, name: str, data: bytes | dict[str, Any], scheme: Scheme, signature_hex: str
    ) -> VerifyResult:
        """:func:`verify_signature` against the address of the trustee ``name``."""
        return verify_signature(self.read(name).address, data, scheme, signature_hex)

    # -- internals -----------------------------------------------------------------------

    def _store(self, name: str, private_key: bytes, metadata: dict[str, Any] | None) -> TrusteeInfo:
        metadata_json = _metadata_json(metadata)
        public_key = public_key_from_private(private_key)
        address = address_from_public_key(public_key)
        sealed = self._barrier.encrypt(private_key, key_aad(name, address))
        created = time.time()
        try:
            with self._db.begin() as conn:
                conn.execute(
                    sa.insert(_T).values(
                        name=name,
                        address=address,
                        public_key="0x" + public_key.hex(),
                        sealed_private_key=sealed,
                        metadata=metadata_json,
                        created_time=created,
                    )
                )
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"a trustee named {name!r} already exists") from None
        return TrusteeInfo(name, address, "0x" + public_key.hex(), created, dict(metadata or {}))

    def _private_key(self, name: str) -> tuple[bytes, str]:
        """The clear key and address of ``name``; callers ``del`` the key when done."""
        _check_name(name)
        self._barrier.check_unsealed()
        row = self._sealed_row(name)
        corrupted = CorruptedKey(
            f"the stored key of trustee {name!r} does not match its name and address; "
            "the database row was altered or damaged, so nothing was signed"
        )
        try:
            private_key = self._barrier.decrypt(
                bytes(row.sealed_private_key), key_aad(name, row.address)
            )
        except CryptoError:
            raise corrupted from None
        # The associated data already binds the key to this address; re-deriving it is a
        # second check that no code path can ever sign under the wrong identity. Made once
        # per stored row: it costs an elliptic-curve multiplication, a tenth of a claim.
        checked = (name, row.address, row.public_key, bytes(row.sealed_private_key))
        if checked not in self._matched:
            if "0x" + public_key_from_private(private_key).hex() != row.public_key:
                del private_key
                raise corrupted
            with self._lock:
                if len(self._matched) >= MAX_CACHED_KEYS:
                    self._matched.clear()
                self._matched.add(checked)
        return private_key, row.address

    def key_cached(self, name: str) -> bool:
        """Whether a key operation on ``name`` would read no database (its row is remembered)."""
        hit = self._sealed.get(name)
        return hit is not None and self._clock() - hit[0] < self._cache_seconds

    def _sealed_row(self, name: str) -> Any:
        """Address, public key and sealed key of ``name``, remembered; :class:`NotFound` if none."""
        hit = self._sealed.get(name)
        if hit is not None and self._clock() - hit[0] < self._cache_seconds:
            return hit[1]
        generation = self._generation
        with self._db.connect() as conn:
            row = conn.execute(
                sa.select(_T.c.address, _T.c.public_key, _T.c.sealed_private_key).where(
                    _T.c.name == name
                )
            ).first()
        if row is None:
            raise NotFound(f"no trustee named {name!r}")
        with self._lock:
            if generation == self._generation:
                if len(self._sealed) >= MAX_CACHED_KEYS:
                    self._sealed.clear()
                self._sealed[name] = (self._clock(), row)
        return row


def message_hash(data: bytes | dict[str, Any] | str, scheme: str) -> bytes:
    """The 32-byte digest a signature covers: EIP-191, plain keccak-256 or EIP-712."""
    if scheme == "eip712":
        if isinstance(data, str | bytes | bytearray):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError):
                raise InvalidRequest("eip712 data must be a typed-data JSON object") from None
        if not isinstance(data, dict):
            raise InvalidRequest("eip712 data must be a typed-data JSON object")
        try:
            return eip712_hash(data)
        except CryptoError as exc:
            raise InvalidRequest(str(exc)) from None
    if scheme not in SCHEMES:
        raise InvalidRequest(f"scheme must be one of {', '.join(SCHEMES)}")
    if not isinstance(data, bytes | bytearray):
        raise InvalidRequest(f"{scheme} signs bytes; decode the data first")
    if len(data) > MAX_DATA_BYTES:
        raise TooLarge(f"data is larger than {MAX_DATA_BYTES} bytes")
    return eip191_hash(bytes(data)) if scheme == "eip191" else keccak256(bytes(data))


def verify_signature(
    address: str, data: bytes | dict[str, Any], scheme: Scheme, signature_hex: str
) -> VerifyResult:
    """Whether ``signature_hex`` (65 bytes r‖s‖v) over ``data`` recovers ``address``.

    v is the recovery id, 0..3 or 27..30 (:data:`~trustee.crypto.secp256k1.RECOVERY_BYTES`):
    ids 2 and 3 are tried only when r < p − n, the only signatures that can have them.

    Input that is not a signature at all (not hex, not 65 bytes) is :class:`InvalidRequest`;
    a well-formed signature that does not match, or recovers nothing, is ``verified=False``.
    """
    expected = _parse_address(address)
    try:
        signature = hex_decode(signature_hex, length=65, what="signature")
    except CryptoError as exc:
        raise InvalidRequest(str(exc)) from None
    digest = message_hash(data, scheme)
    try:
        recovered = address_from_public_key(recover_public_key(digest, signature))
    except CryptoError:
        return VerifyResult(False, expected, None)
    return VerifyResult(recovered == expected, expected, recovered)


def decode_data(data: str, encoding: Encoding = "utf8") -> bytes:
    """The bytes a request's ``data`` string stands for; at most 1 MiB."""
    if not isinstance(data, str):
        raise InvalidRequest("data must be a string")
    if len(data) > 2 * MAX_DATA_BYTES + 2:
        raise TooLarge(f"data is larger than {MAX_DATA_BYTES} bytes")
    if encoding == "utf8":
        try:
            decoded = data.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("data is not valid UTF-8 text") from None
    elif encoding == "hex":
        try:
            decoded = hex_decode(data.strip(), what="data")
        except CryptoError as exc:
            raise InvalidRequest(str(exc)) from None
    elif encoding == "base64":
        decoded = _base64(data.strip())
    else:
        raise InvalidRequest(f"encoding must be one of {', '.join(ENCODINGS)}")
    if len(decoded) > MAX_DATA_BYTES:
        raise TooLarge(f"data is larger than {MAX_DATA_BYTES} bytes")
    return decoded


def _base64(text: str) -> bytes:
    """Standard or URL-safe alphabet, padding optional; anything else is refused."""
    if not text.isascii():
        raise InvalidRequest("data is not base64")
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        raise InvalidRequest("data is not base64")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("data is not base64") from None


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidRequest(
            "a trustee name is 1 to 128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )


def _check_statement_text(what: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{what} must be a non-empty string")
    if len(value) > MAX_STATEMENT_TEXT:
        raise TooLarge(f"{what} is longer than {MAX_STATEMENT_TEXT} characters")


def _parse_address(address: object) -> str:
    try:
        return parse_address(address)  # type: ignore[arg-type]
    except CryptoError as exc:
        raise InvalidRequest(str(exc)) from None


def _metadata_json(metadata: object) -> str:
    if metadata is None:
        return "{}"
    if not isinstance(metadata, dict) or not all(isinstance(key, str) for key in metadata):
        raise InvalidRequest("metadata must be an object")
    try:
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise InvalidRequest("metadata must hold JSON values only") from None
    if len(text) > MAX_METADATA_BYTES:
        raise TooLarge(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return text


def _info_select() -> sa.Select:
    return sa.select(_T.c.name, _T.c.address, _T.c.public_key, _T.c.created_time, _T.c.metadata)


def _info(row: sa.Row) -> TrusteeInfo:
    return TrusteeInfo(
        row.name, row.address, row.public_key, row.created_time, json.loads(row.metadata)
    )
