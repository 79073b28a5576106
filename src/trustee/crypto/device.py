"""Device keys for the signed-records ledger: parse every common form once, verify many times.

A device (a car's telematics unit, a sensor) signs the UTF-8 bytes of its evidence with one of:

* ``ES256K``: ECDSA secp256k1 over SHA-256 of the message, 64 bytes ``r‖s`` or 65 bytes
  ``r‖s‖v`` (v the recovery id, 0..3 or 27..30). The key may also be an Ethereum address; the
  signature is then checked by recovering the public key and comparing addresses, as wallets
  prove control of an address (a 64-byte signature tries every recovery id that can exist).
  For a public key, v must be the id that recovers that key: a signature whose ``r‖s`` is
  right but whose v is not is refused with its own reason, so each signature has one form.
* ``EdDSA``: Ed25519 (RFC 8032), 64-byte signatures.
* ``ES256``: ECDSA P-256 over SHA-256, 64 bytes ``r‖s`` as JOSE writes it (RFC 7518 §3.4).
  DER is refused: one encoding per signature keeps "same signature, same bytes" true.

Keys arrive as hex, PEM SubjectPublicKeyInfo or a JWK and are kept in one canonical form:
lower-case hex without ``0x`` of the uncompressed point (``04…``) or of the raw Ed25519 key,
or the EIP-55 address. So ``0x`` at the front means "an address", and two spellings of one key
never look like two keys in the key history.

:meth:`DeviceKey.verify` answers True or False and never raises on a bad signature;
:func:`verify_evidence` also says why, in a closed vocabulary an operator can act on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from trustee.crypto.address import address_from_public_key, parse_address
from trustee.crypto.encoding import b64url_decode, b64url_decode_padded, b64url_encode, hex_decode
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import (
    VerifyingKey,
    es256k_recover_candidates,
    parse_public_key,
    recover_public_key,
    recovers_to,
)

__all__ = [
    "ALGORITHMS",
    "EDDSA",
    "ES256",
    "ES256K",
    "MAX_KEY_INPUT",
    "REASONS",
    "DeviceKey",
    "check_ed25519_public_key",
    "parse_device_key",
    "parse_pem_device_key",
    "verify_evidence",
]

ES256K = "ES256K"
EDDSA = "EdDSA"
ES256 = "ES256"
ALGORITHMS = (ES256K, EDDSA, ES256)
MAX_KEY_INPUT = 8 * 1024
"""Bytes of key text (PEM, hex, JSON) we are willing to parse: real keys are under 1 KiB."""

REASON_OK = "ok"
REASON_NOT_BASE64URL = "signature_not_base64url"
REASON_WRONG_LENGTH = "signature_wrong_length"
REASON_MISMATCH = "signature_mismatch"
REASON_RECOVERY_ID_MISMATCH = "recovery_id_mismatch"
REASON_EVIDENCE_NOT_TEXT = "evidence_not_text"
REASONS = (
    REASON_OK,
    REASON_NOT_BASE64URL,
    REASON_WRONG_LENGTH,
    REASON_MISMATCH,
    REASON_RECOVERY_ID_MISMATCH,
    REASON_EVIDENCE_NOT_TEXT,
)

_SIGNATURE_LENGTHS = {ES256K: (64, 65), EDDSA: (64,), ES256: (64,)}
_EXPECTED = {
    ES256K: "a secp256k1 public key (hex of 33, 64 or 65 bytes, PEM, or a JWK with "
    "kty EC and crv secp256k1) or an Ethereum address (0x and 40 hex digits)",
    EDDSA: "an Ed25519 public key (hex of 32 bytes, PEM, or a JWK with kty OKP and crv Ed25519)",
    ES256: "a P-256 public key (hex of 33 or 65 bytes, PEM, or a JWK with kty EC and crv P-256)",
}
_ADDRESS_SHAPE = re.compile(r"^0[xX][0-9a-fA-F]{40}$")
_P = 2**255 - 19
# y-coordinates (little-endian, x-sign bit cleared) of every Ed25519 point of order dividing 8,
# including the non-canonical spellings p and p + 1: libsodium's ge25519_has_small_order list.
# A device key among them would accept a forged signature for any message.
_SMALL_ORDER_Y = frozenset(
    bytes.fromhex(h)
    for h in (
        "00" * 32,
        "01" + "00" * 31,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
)


@dataclass(frozen=True)
class DeviceKey:
    """A device's public key in canonical form; build it with :func:`parse_device_key`.

    Constructing it directly accepts only the canonical ``public_key`` (as stored), so a row read
    back from storage round-trips without reinterpretation.
    """

    alg: str
    public_key: str
    _verifier: Any = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.alg not in ALGORITHMS:
            raise CryptoError(f"alg must be one of {', '.join(ALGORITHMS)}")
        canonical, verifier = _parse_text(self.alg, self.public_key)
        if canonical != self.public_key:
            raise CryptoError("public_key is not in canonical form; use parse_device_key")
        object.__setattr__(self, "_verifier", verifier)

    @property
    def is_address(self) -> bool:
        """True for an ES256K key known only by its Ethereum address."""
        return self.public_key.startswith("0x")

    @property
    def signature_lengths(self) -> tuple[int, ...]:
        return _SIGNATURE_LENGTHS[self.alg]

    def to_dict(self) -> dict[str, str]:
        """The ``device_key`` object of the API: ``{"alg", "public_key"}``."""
        return {"alg": self.alg, "public_key": self.public_key}

    def jwk(self) -> dict[str, str]:
        """The public JWK (members in RFC 7638 thumbprint order). Addresses have none."""
        if self.is_address:
            raise CryptoError("an Ethereum address is not a public key and has no JWK")
        raw = bytes.fromhex(self.public_key)
        if self.alg == EDDSA:
            return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}
        crv = "secp256k1" if self.alg == ES256K else "P-256"
        return {
            "crv": crv,
            "kty": "EC",
            "x": b64url_encode(raw[1:33]),
            "y": b64url_encode(raw[33:65]),
        }

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's over ``message``; False for anything else."""
        return self.check(message, signature) == REASON_OK

    def check(self, message: bytes, signature: bytes) -> str:
        """``ok``, or why ``signature`` is not this key's over ``message``; never raises.

        The reasons are ``signature_wrong_length``, ``signature_mismatch`` and, for a 65-byte
        ES256K signature under a public key whose ``r‖s`` verifies but whose v is not the
        recovery id of this key, ``recovery_id_mismatch``.
        """
        if not isinstance(message, bytes | bytearray) or not isinstance(
            signature, bytes | bytearray
        ):
            return REASON_MISMATCH
        message, signature = bytes(message), bytes(signature)
        if len(signature) not in self.signature_lengths:
            return REASON_WRONG_LENGTH
        try:
            return self._check(message, signature)
        except (CryptoError, InvalidSignature, ValueError, TypeError, OverflowError):
            return REASON_MISMATCH

    def _check(self, message: bytes, signature: bytes) -> str:
        if self.alg == EDDSA:
            self._verifier.verify(signature, message)
            return REASON_OK
        if self.alg == ES256:
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            if r == 0 or s == 0:
                return REASON_MISMATCH
            der = encode_dss_signature(r, s)
            self._verifier.verify(der, message, ec.ECDSA(hashes.SHA256()))
            return REASON_OK
        verifier = self._verifier
        if isinstance(verifier, VerifyingKey):
            if len(signature) == 64:
                return REASON_OK if verifier.verify_es256k(signature, message) else REASON_MISMATCH
            # One recovery decides a good signature: the key it recovers is one the signature
            # verifies under. Only a refusal pays a second operation, to say which part is wrong.
            digest = hashlib.sha256(message).digest()
            if recovers_to(digest, signature, verifier.public_key):
                return REASON_OK
            if verifier.verify_digest(signature[:64], digest):
                return REASON_RECOVERY_ID_MISMATCH
            return REASON_MISMATCH
        # An address: recover, then compare addresses. With v the recovery byte names the key,
        # so a wrong v recovers another key and is a mismatch like any other.
        if len(signature) == 65:
            digest = hashlib.sha256(message).digest()
            candidates = [recover_public_key(digest, signature)]
        else:
            candidates = es256k_recover_candidates(message, signature)
        if any(address_from_public_key(key) == verifier for key in candidates):
            return REASON_OK
        return REASON_MISMATCH


def parse_device_key(alg: str, public_key: str | dict[str, Any]) -> DeviceKey:
    """Accept a device key in any supported form and return it canonical.

    Raises :class:`CryptoError` naming what was expected for the algorithm. A private key (a PEM
    private key or a JWK with ``d``) is refused outright rather than silently reduced to its
    public half: it should never have left the device.
    """
    if alg not in ALGORITHMS:
        raise CryptoError(f"alg must be one of {', '.join(ALGORITHMS)}, got {str(alg)[:20]!r}")
    if isinstance(public_key, dict):
        canonical, _ = _parse_jwk(alg, public_key)
    elif isinstance(public_key, str):
        canonical, _ = _parse_text(alg, public_key)
    else:
        raise CryptoError(f"{alg} device key must be {_EXPECTED[alg]}")
    return DeviceKey(alg, canonical)


def parse_pem_device_key(text: str) -> DeviceKey:
    """A device key from a PEM SubjectPublicKeyInfo alone, its algorithm read from the key.

    DataTrails names a device's key with a PEM and no algorithm (the asset attribute
    ``arc_evidence_signing_pubkey``); the key's type says it: Ed25519 is EdDSA, an EC key on
    secp256k1 ES256K and on P-256 ES256. Anything else is refused naming what it holds.
    """
    if not isinstance(text, str) or not text.strip().startswith("-----BEGIN"):
        raise CryptoError("a signing public key must be a PEM SubjectPublicKeyInfo")
    if len(text) > MAX_KEY_INPUT:
        raise CryptoError(f"the PEM is larger than {MAX_KEY_INPUT} bytes")
    if "PRIVATE KEY" in text:
        raise CryptoError("that is a private key: send only the device's public key")
    try:
        key = serialization.load_pem_public_key(text.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise CryptoError("not a PEM SubjectPublicKeyInfo") from exc
    if isinstance(key, Ed25519PublicKey):
        return parse_device_key(EDDSA, text)
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256k1":
        return parse_device_key(ES256K, text)
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return parse_device_key(ES256, text)
    raise CryptoError(f"PEM holds {_describe(key)}; expected Ed25519, P-256 or secp256k1")


def verify_evidence(key: DeviceKey, evidence: str, signature_b64url: str) -> tuple[bool, str]:
    """Check a device signature over the UTF-8 bytes of ``evidence``; say why when it fails.

    Reasons: ``ok``, ``signature_not_base64url`` (strict base64url, with its exact ``=``
    padding or none),
    ``signature_wrong_length`` (e.g. truncated), ``signature_mismatch`` (forged, altered
    evidence or another key), ``recovery_id_mismatch`` (ES256K under a public key: ``r‖s``
    verifies but the 65th byte is not the recovery id that gives this key),
    ``evidence_not_text``.
    """
    if not isinstance(signature_b64url, str):
        return False, REASON_NOT_BASE64URL
    try:
        signature = b64url_decode_padded(signature_b64url)
    except (CryptoError, UnicodeEncodeError):
        return False, REASON_NOT_BASE64URL
    if len(signature) not in key.signature_lengths:
        return False, REASON_WRONG_LENGTH
    if not isinstance(evidence, str):
        return False, REASON_EVIDENCE_NOT_TEXT
    try:
        message = evidence.encode("utf-8")
    except UnicodeEncodeError:
        return False, REASON_EVIDENCE_NOT_TEXT
    reason = key.check(message, signature)
    return reason == REASON_OK, reason


def check_ed25519_public_key(raw: bytes) -> bytes:
    """Refuse Ed25519 keys that verify forgeries: non-canonical or of small order.

    OpenSSL, like RFC 8032, accepts them; with the identity as public key a zero signature
    verifies for every message. Checked by encoding, so no curve arithmetic is needed here.
    """
    if len(raw) != 32:
        raise CryptoError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    y = raw[:31] + bytes([raw[31] & 0x7F])
    if y in _SMALL_ORDER_Y:
        raise CryptoError("Ed25519 public key is a small-order point")
    if int.from_bytes(y, "little") >= _P:
        raise CryptoError("Ed25519 public key is not canonically encoded")
    return bytes(raw)


# --- parsing -------------------------------------------------------------------------------


def _parse_text(alg: str, text: str) -> tuple[str, Any]:
    if not isinstance(text, str):
        raise CryptoError(f"{alg} device key must be {_EXPECTED[alg]}")
    if len(text) > MAX_KEY_INPUT:
        raise CryptoError(f"{alg} device key is larger than {MAX_KEY_INPUT} bytes")
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return _parse_pem(alg, text)
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:  # 8 KiB of "[" nests too deep for json
            raise CryptoError(f"{alg} device key looks like a JWK but is not JSON") from exc
        if not isinstance(value, dict):
            raise CryptoError(f"{alg} device key must be {_EXPECTED[alg]}")
        return _parse_jwk(alg, value)
    if _ADDRESS_SHAPE.match(text):
        if alg != ES256K:
            raise CryptoError(f"an Ethereum address is only a key for ES256K, not {alg}")
        address = parse_address(text)
        return address, address
    try:
        raw = hex_decode(text, what=f"{alg} public key")
    except CryptoError as exc:
        raise CryptoError(f"{alg} device key must be {_EXPECTED[alg]}") from exc
    return _from_raw(alg, raw)


def _from_raw(alg: str, raw: bytes) -> tuple[str, Any]:
    if alg == ES256K:
        if len(raw) not in (33, 64, 65):
            raise CryptoError(f"ES256K hex key must be 33, 64 or 65 bytes, got {len(raw)}")
        point = parse_public_key(raw)
        return point.hex(), VerifyingKey(point)
    if alg == EDDSA:
        if len(raw) != 32:
            raise CryptoError(f"EdDSA hex key must be the raw 32-byte key, got {len(raw)} bytes")
        return check_ed25519_public_key(raw).hex(), Ed25519PublicKey.from_public_bytes(raw)
    if len(raw) not in (33, 65) or raw[0] not in ((2, 3) if len(raw) == 33 else (4,)):
        raise CryptoError(f"ES256 hex key must be a 33- or 65-byte SEC1 point, got {len(raw)}")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise CryptoError("not a P-256 public key (point is not on the curve)") from exc
    return _uncompressed(key).hex(), key


def _parse_pem(alg: str, text: str) -> tuple[str, Any]:
    if "PRIVATE KEY" in text:
        raise CryptoError("that is a private key: send only the device's public key")
    try:
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise CryptoError(f"{alg} device key is not a PEM SubjectPublicKeyInfo") from exc
    if alg == EDDSA:
        if not isinstance(key, Ed25519PublicKey):
            raise CryptoError(f"PEM holds {_describe(key)}, expected an Ed25519 key")
        return _from_raw(alg, key.public_bytes_raw())
    want = "secp256k1" if alg == ES256K else "secp256r1"
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != want:
        raise CryptoError(f"PEM holds {_describe(key)}, expected an EC key on {want}")
    return _from_raw(alg, _uncompressed(key))


def _parse_jwk(alg: str, jwk: dict[str, Any]) -> tuple[str, Any]:
    if len(jwk) > 32 or not all(isinstance(name, str) for name in jwk):
        raise CryptoError("a JWK is a small JSON object with string member names")
    if "d" in jwk:
        raise CryptoError("that JWK holds a private key (d): send only the public members")
    if "alg" in jwk and jwk["alg"] != alg:
        raise CryptoError(f"the JWK says alg {str(jwk['alg'])[:20]!r}, but {alg} was given")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if alg == EDDSA:
        if kty != "OKP" or crv != "Ed25519":
            raise CryptoError("EdDSA JWK must have kty OKP and crv Ed25519")
        return _from_raw(alg, _jwk_coordinate(jwk, "x"))
    want = "secp256k1" if alg == ES256K else "P-256"
    if kty != "EC" or crv != want:
        raise CryptoError(f"{alg} JWK must have kty EC and crv {want}")
    x, y = _jwk_coordinate(jwk, "x"), _jwk_coordinate(jwk, "y")
    try:
        return _from_raw(alg, b"\x04" + x + y)
    except CryptoError as exc:
        raise CryptoError(f"{alg} JWK x, y is not a point on {want}") from exc


def _jwk_coordinate(jwk: dict[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or len(value) > 64:
        raise CryptoError(f"JWK member {name} must be base64url of 32 bytes")
    try:
        raw = b64url_decode(value)
    except (CryptoError, UnicodeEncodeError) as exc:
        raise CryptoError(f"JWK member {name} is not base64url") from exc
    if len(raw) != 32:
        raise CryptoError(f"JWK member {name} must be 32 bytes, got {len(raw)}")
    return raw


def _uncompressed(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _describe(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    return f"a key of type {type(key).__name__.removeprefix('_').replace('PublicKey', '')}"
