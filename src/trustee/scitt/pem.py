"""PEM keys as issuers and verifiers hold them: a private key signs statements, a public key
(or certificate) checks receipts.

An issuer's key file decides the algorithm, as a device's key does in the ledger: Ed25519 →
EdDSA, P-256 → ES256, P-384 → ES384, secp256k1 → ES256K. The statement carries the public key
where a verifier finds it without asking anyone: in the CWT ``cnf`` claim, or for secp256k1 as
the signer's Ethereum address in ``kid`` (the bytes of its EIP-55 text), recovered from the
signature as trustee's own trustees are (:func:`~trustee.scitt.statement.verify_statement`).

Parsing is ``cryptography``'s; nothing here reads key material by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from trustee.scitt.keys import ES256K, BadKey, CoseKey
from trustee.scitt.sign import sign_statement

__all__ = ["MAX_PEM_BYTES", "SigningKey", "load_signing_key", "load_verifying_key"]

MAX_PEM_BYTES = 64 * 1024
"""A key or certificate chain is a few kilobytes; more is not a key file."""


@dataclass(frozen=True)
class SigningKey:
    """A private key that signs statements, with its public half as a :class:`CoseKey`."""

    alg: int
    public: CoseKey
    _private: Any = field(repr=False)
    """A ``cryptography`` private key, or the 32 bytes of a secp256k1 key (coincurve signs)."""

    def __repr__(self) -> str:  # never the key, whatever a log line formats
        return f"SigningKey(alg={self.alg}, public={self.public.thumbprint().hex()[:16]}…)"

    @property
    def address(self) -> str | None:
        """The Ethereum address of a secp256k1 key (what ``kid`` names); None otherwise."""
        return self.public.address()

    def sign_statement(
        self,
        payload: bytes,
        *,
        content_type: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
    ) -> bytes:
        """A tagged COSE_Sign1 statement over ``payload`` that names its own key.

        secp256k1 names its address in ``kid`` and leaves the key to recovery, as trustee's
        trustees do; the other curves carry the public key in the CWT ``cnf`` claim.
        """
        kid: bytes | None = None
        public_key: CoseKey | None = self.public
        if self.alg == ES256K:
            address = self.address
            assert address is not None  # a secp256k1 key always has one
            kid, public_key = address.encode("ascii"), None
        return sign_statement(
            payload,
            self._private,
            self.alg,
            content_type=content_type,
            issuer=issuer,
            subject=subject,
            kid=kid,
            public_key=public_key,
        )


def load_signing_key(pem: bytes, password: bytes | None = None) -> SigningKey:
    """A PEM private key (PKCS#8, or SEC 1 ``EC PRIVATE KEY``; encrypted with ``password``).

    :class:`BadKey` says what is wrong without echoing the file.
    """
    _check_size(pem)
    try:
        private = serialization.load_pem_private_key(pem, password=password)
    except TypeError as exc:  # a password given for a clear key, or none for an encrypted one
        raise BadKey(f"PEM private key: {exc}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise BadKey("not a PEM private key of a supported type") from None
    public = CoseKey.from_public_key(private.public_key())
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return SigningKey(public.alg, public, private)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        if isinstance(private.curve, ec.SECP256K1):
            secret = private.private_numbers().private_value.to_bytes(32, "big")
            return SigningKey(ES256K, public, secret)
        return SigningKey(public.alg, public, private)
    raise BadKey(f"unsupported key type ({type(private).__name__})")  # pragma: no cover


def load_verifying_key(pem: bytes) -> CoseKey:
    """The public key of a PEM ``PUBLIC KEY``, a ``CERTIFICATE`` (its subject key) or a private
    key (its public half): a service's receipt key, say, given instead of its key set."""
    _check_size(pem)
    if b"-----BEGIN CERTIFICATE-----" in pem:
        try:
            return CoseKey.from_public_key(x509.load_pem_x509_certificate(pem).public_key())
        except ValueError as exc:
            raise BadKey(f"not a PEM certificate ({exc})") from None
    if b"PRIVATE KEY-----" in pem:
        return load_signing_key(pem).public
    try:
        public = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise BadKey("not a PEM public key, certificate or private key") from None
    return CoseKey.from_public_key(public)


def _check_size(pem: bytes) -> None:
    if not isinstance(pem, bytes):
        raise BadKey("a PEM key is bytes")
    if len(pem) > MAX_PEM_BYTES:
        raise BadKey(f"a PEM key file is at most {MAX_PEM_BYTES} bytes")
