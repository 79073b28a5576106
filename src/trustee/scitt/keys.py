"""COSE keys (RFC 9052 §7), the algorithms a statement may use, and RFC 9679 thumbprints.

A :class:`CoseKey` is a public key as COSE names it (``kty``, ``crv``, ``x``, ``y``), checked
on the curve when it is made, so a key that exists is one that can verify. Signatures are
checked by the libraries: Ed25519, P-256 and P-384 by ``cryptography``, secp256k1 by
``coincurve`` (:mod:`trustee.crypto.secp256k1`), as for trustee's tokens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from trustee.crypto.address import address_from_public_key
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import VerifyingKey, es256k_sign
from trustee.scitt import cbor

__all__ = [
    "ALGORITHMS",
    "EDDSA",
    "ES256",
    "ES256K",
    "ES384",
    "BadKey",
    "CoseKey",
    "sign",
]

# COSE algorithm identifiers (IANA "COSE Algorithms").
EDDSA, ED25519, ES256, ES384, ES256K = -8, -19, -7, -35, -47
# Key types and curves (IANA "COSE Key Types", "COSE Elliptic Curves").
KTY_OKP, KTY_EC2 = 1, 2
CRV_P256, CRV_P384, CRV_ED25519, CRV_SECP256K1 = 1, 2, 6, 8
# COSE_Key labels.
KEY_KTY, KEY_KID, KEY_ALG, KEY_CRV, KEY_X, KEY_Y = 1, 2, 3, -1, -2, -3

ALGORITHMS: dict[int, str] = {
    EDDSA: "EdDSA",
    ED25519: "Ed25519",
    ES256: "ES256",
    ES384: "ES384",
    ES256K: "ES256K",
}
"""The statement algorithms this service verifies, by COSE identifier."""

_CURVE_OF_ALG = {EDDSA: CRV_ED25519, ED25519: CRV_ED25519, ES256: CRV_P256, ES384: CRV_P384}
_CURVE_OF_ALG[ES256K] = CRV_SECP256K1
_EC_CURVES: dict[int, tuple[type[ec.EllipticCurve], int, type[hashes.HashAlgorithm]]] = {
    CRV_P256: (ec.SECP256R1, 32, hashes.SHA256),
    CRV_P384: (ec.SECP384R1, 48, hashes.SHA384),
}
_ALG_OF_CURVE = {CRV_ED25519: EDDSA, CRV_P256: ES256, CRV_P384: ES384, CRV_SECP256K1: ES256K}


class BadKey(ValueError):
    """A key that is malformed, not on its curve, or of a type this service does not use."""


@dataclass(frozen=True)
class CoseKey:
    """A public key: OKP Ed25519 (``x``) or EC2 P-256, P-384, secp256k1 (``x``, ``y``)."""

    kty: int
    crv: int
    x: bytes
    y: bytes = b""

    def __post_init__(self) -> None:
        self._verifier()  # a key that cannot verify is refused where it is made

    # -- making keys ---------------------------------------------------------------------------

    @classmethod
    def from_map(cls, value: object) -> CoseKey:
        """A COSE_Key map; other parameters (``kid``, ``alg``, ``key_ops``) are ignored here."""
        if not isinstance(value, dict):
            raise BadKey("a COSE_Key is a map")
        kty, crv, x, y = (value.get(label) for label in (KEY_KTY, KEY_CRV, KEY_X, KEY_Y))
        if kty == KTY_OKP and crv == CRV_ED25519 and isinstance(x, bytes) and y is None:
            return cls(kty, crv, x)
        if kty == KTY_EC2 and crv in (CRV_P256, CRV_P384, CRV_SECP256K1):
            if isinstance(x, bytes) and isinstance(y, bytes):
                return cls(kty, crv, x, y)
            raise BadKey("an EC2 COSE_Key needs x and y as byte strings (no point compression)")
        raise BadKey("a COSE_Key must be OKP Ed25519 or EC2 P-256, P-384 or secp256k1")

    @classmethod
    def from_public_key(cls, key: object) -> CoseKey:
        """A ``cryptography`` public key (Ed25519 or an EC key on a supported curve)."""
        if isinstance(key, ed25519.Ed25519PublicKey):
            return cls(KTY_OKP, CRV_ED25519, key.public_bytes_raw())
        if isinstance(key, ec.EllipticCurvePublicKey):
            numbers = key.public_numbers()
            for crv, (curve, size, _) in _EC_CURVES.items():
                if isinstance(key.curve, curve):
                    return cls(KTY_EC2, crv, _be(numbers.x, size), _be(numbers.y, size))
            if isinstance(key.curve, ec.SECP256K1):
                return cls(KTY_EC2, CRV_SECP256K1, _be(numbers.x, 32), _be(numbers.y, 32))
        raise BadKey(f"unsupported key type ({type(key).__name__})")

    @classmethod
    def from_secp256k1(cls, public_key: bytes) -> CoseKey:
        """A 65-byte uncompressed secp256k1 key (``04‖x‖y``)."""
        if len(public_key) != 65 or public_key[0] != 4:
            raise BadKey("a secp256k1 key here is 65 bytes, uncompressed")
        return cls(KTY_EC2, CRV_SECP256K1, public_key[1:33], public_key[33:])

    @classmethod
    def from_certificate(cls, der: bytes) -> CoseKey:
        """The subject key of a DER X.509 certificate (the leaf of an ``x5chain``)."""
        try:
            certificate = x509.load_der_x509_certificate(der)
            key = certificate.public_key()
        except (ValueError, TypeError) as exc:
            raise BadKey(f"x5chain: not a DER certificate ({exc})") from None
        return cls.from_public_key(key)

    # -- using keys ------------------------------------------------------------------------------

    @property
    def alg(self) -> int:
        """The one statement algorithm this key signs with."""
        return _ALG_OF_CURVE[self.crv]

    def fits(self, alg: int) -> bool:
        """Whether ``alg`` is an algorithm of this key's curve."""
        return _CURVE_OF_ALG.get(alg) == self.crv

    def to_map(self, *, kid: bytes | None = None, alg: int | None = None) -> dict[int, Any]:
        """The COSE_Key map, with ``kid`` and ``alg`` when given."""
        value: dict[int, Any] = {KEY_KTY: self.kty, KEY_CRV: self.crv, KEY_X: self.x}
        if self.kty == KTY_EC2:
            value[KEY_Y] = self.y
        if kid is not None:
            value[KEY_KID] = kid
        if alg is not None:
            value[KEY_ALG] = alg
        return value

    def thumbprint(self) -> bytes:
        """RFC 9679: SHA-256 of the deterministic CBOR of the required parameters only."""
        return hashlib.sha256(cbor.encode(self.to_map())).digest()

    def address(self) -> str | None:
        """The Ethereum address of a secp256k1 key; None for other curves."""
        if self.crv != CRV_SECP256K1:
            return None
        return address_from_public_key(b"\x04" + self.x + self.y)

    def verify(self, alg: int, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (COSE form: raw Ed25519, or fixed-width ``r‖s``) is good."""
        if not self.fits(alg):
            return False
        verifier = self._verifier()
        if isinstance(verifier, ed25519.Ed25519PublicKey):
            try:
                verifier.verify(signature, message)
            except InvalidSignature:
                return False
            return True
        if isinstance(verifier, VerifyingKey):
            return verifier.verify_es256k(signature, message)
        _, size, digest = _EC_CURVES[self.crv]
        if len(signature) != 2 * size:
            return False
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        try:
            verifier.verify(encode_dss_signature(r, s), message, ec.ECDSA(digest()))
        except InvalidSignature:
            return False
        return True

    def _verifier(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | VerifyingKey:
        try:
            if self.kty == KTY_OKP and self.crv == CRV_ED25519 and len(self.x) == 32:
                return ed25519.Ed25519PublicKey.from_public_bytes(self.x)
            secp256k1 = self.kty == KTY_EC2 and self.crv == CRV_SECP256K1
            if secp256k1 and len(self.x) == 32 and len(self.y) == 32:
                return VerifyingKey(b"\x04" + self.x + self.y)
            if self.kty == KTY_EC2 and self.crv in _EC_CURVES:
                curve, size, _ = _EC_CURVES[self.crv]
                if len(self.x) == size and len(self.y) == size:
                    point = b"\x04" + self.x + self.y
                    return ec.EllipticCurvePublicKey.from_encoded_point(curve(), point)
        except (ValueError, CryptoError) as exc:
            raise BadKey(f"not a point of the key's curve ({exc})") from None
        raise BadKey("key coordinates of the wrong length for its curve")


def sign(alg: int, private_key: object, message: bytes) -> bytes:
    """A COSE signature by ``private_key``: a ``cryptography`` Ed25519 or EC private key, or
    the 32 bytes of a secp256k1 key (signed by coincurve, low s)."""
    if alg in (EDDSA, ED25519) and isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(message)
    if alg == ES256K and isinstance(private_key, bytes):
        return es256k_sign(message, private_key)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        for crv, (curve, size, digest) in _EC_CURVES.items():
            if isinstance(private_key.curve, curve) and _ALG_OF_CURVE[crv] == alg:
                r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(digest())))
                return _be(r, size) + _be(s, size)
    raise BadKey(f"cannot sign {ALGORITHMS.get(alg, alg)} with this key")


def _be(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")
