"""secp256k1 keys and ECDSA over libsecp256k1 (coincurve).

Two signature shapes appear in our formats:

* recoverable, 65 bytes ``r‖s‖v``: Ethereum (EIP-191/712 with v = 27/28) and ES256K-R;
* compact, 64 bytes ``r‖s``: ES256K per RFC 8812, over SHA-256 of the message.

Signing is RFC 6979 deterministic and low-s (libsecp256k1 does both). Verification accepts
high-s, because other ES256K signers (OpenSSL via PyJWT, the original Vault trustee plugin)
do not normalise; libsecp256k1's verify rejects high-s, so s is normalised before verifying.
"""

import hashlib
import os
from collections.abc import Iterator

from coincurve import PublicKey
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from trustee.crypto.errors import CryptoError

CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_CTX = GLOBAL_CONTEXT.ctx
_ZERO = bytes(32)
_ORDER_BYTES = CURVE_ORDER.to_bytes(32, "big")  # big-endian bytes compare like the integers


def generate_private_key() -> bytes:
    """32 bytes from the OS CSPRNG, redrawn in the (2**-128) case it is not a valid scalar."""
    while True:
        candidate = os.urandom(32)
        if 0 < int.from_bytes(candidate, "big") < CURVE_ORDER:
            return candidate


def check_private_key(private_key: bytes) -> bytes:
    if not isinstance(private_key, bytes | bytearray) or len(private_key) != 32:
        raise CryptoError("a private key is 32 bytes")
    if not _ZERO < private_key < _ORDER_BYTES:
        raise CryptoError("private key is out of range")
    return bytes(private_key)


def public_key_from_private(private_key: bytes) -> bytes:
    """Uncompressed public key, 65 bytes starting 0x04.

    Calls libsecp256k1 directly: coincurve's PrivateKey would also derive an x-only key pair,
    a second point multiplication (every claim and signature re-derives the key's public half).
    """
    parsed = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ec_pubkey_create(_CTX, parsed, check_private_key(private_key)):
        raise CryptoError("private key is out of range")
    return _uncompressed(parsed)


def parse_public_key(data: bytes) -> bytes:
    """Accept compressed (33) or uncompressed (65, or 64 without 0x04) keys; return 65 bytes."""
    if len(data) == 64:
        data = b"\x04" + data
    try:
        return PublicKey(bytes(data)).format(compressed=False)
    except (ValueError, TypeError) as exc:
        raise CryptoError("not a secp256k1 public key") from exc


def sign_recoverable(digest: bytes, private_key: bytes) -> bytes:
    """Sign a 32-byte digest; returns ``r‖s‖v`` with v ∈ {0, 1}.

    Calls libsecp256k1 directly: coincurve's PrivateKey would first derive the public key,
    an extra point multiplication that doubles the cost of a signature.
    """
    _check_digest(digest)
    check_private_key(private_key)
    parsed = ffi.new("secp256k1_ecdsa_recoverable_signature *")
    if not lib.secp256k1_ecdsa_sign_recoverable(
        _CTX, parsed, digest, private_key, ffi.NULL, ffi.NULL
    ):
        raise CryptoError("signing failed")
    output = ffi.new("unsigned char[64]")
    recovery_id = ffi.new("int *")
    lib.secp256k1_ecdsa_recoverable_signature_serialize_compact(_CTX, output, recovery_id, parsed)
    return bytes(ffi.buffer(output, 64)) + bytes([recovery_id[0]])


def recover_public_key(digest: bytes, signature: bytes) -> bytes:
    """Public key from a 65-byte ``r‖s‖v`` signature, v ∈ {0, 1, 27, 28}."""
    _check_digest(digest)
    if len(signature) != 65:
        raise CryptoError("a recoverable signature is 65 bytes")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        raise CryptoError("recovery id must be 0, 1, 27 or 28")
    return _recover(digest, signature[:64], v)


def es256k_sign(message: bytes, private_key: bytes) -> bytes:
    """RFC 8812 ES256K: ECDSA over SHA-256(message), 64 bytes ``r‖s``, low-s."""
    return sign_recoverable(hashlib.sha256(message).digest(), private_key)[:64]


def es256k_recover_candidates(message: bytes, signature: bytes) -> list[bytes]:
    """The public keys (recovery ids 0 and 1) for which a 64-byte signature is valid."""
    if len(signature) != 64:
        raise CryptoError("an ES256K signature is 64 bytes")
    return list(iter_recovered_keys(hashlib.sha256(message).digest(), signature))


def iter_recovered_keys(digest: bytes, signature: bytes) -> Iterator[bytes]:
    """Recover lazily: the caller usually stops at the first key, saving half a recovery."""
    for recovery_id in (0, 1):
        try:
            yield _recover(digest, signature, recovery_id)
        except CryptoError:
            continue


class VerifyingKey:
    """A parsed public key kept for repeat verification (parsing costs a square root)."""

    __slots__ = ("_cdata", "public_key")

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != 65 or public_key[0] != 4:
            public_key = parse_public_key(public_key)
        try:
            parsed = PublicKey(bytes(public_key))  # validates the point once
        except (ValueError, TypeError) as exc:
            raise CryptoError("not a secp256k1 public key") from exc
        self.public_key = bytes(public_key)
        self._cdata = parsed.public_key

    def verify_digest(self, signature: bytes, digest: bytes) -> bool:
        """Verify a 64-byte ``r‖s`` (high or low s) over a 32-byte digest."""
        if len(signature) != 64 or len(digest) != 32:
            return False
        parsed = ffi.new("secp256k1_ecdsa_signature *")
        if not lib.secp256k1_ecdsa_signature_parse_compact(_CTX, parsed, signature):
            return False
        lib.secp256k1_ecdsa_signature_normalize(_CTX, parsed, parsed)
        return bool(lib.secp256k1_ecdsa_verify(_CTX, parsed, digest, self._cdata))

    def verify_es256k(self, signature: bytes, message: bytes) -> bool:
        return self.verify_digest(signature, hashlib.sha256(message).digest())


def _recover(digest: bytes, signature64: bytes, recovery_id: int) -> bytes:
    parsed = ffi.new("secp256k1_ecdsa_recoverable_signature *")
    if not lib.secp256k1_ecdsa_recoverable_signature_parse_compact(
        _CTX, parsed, signature64, recovery_id
    ):
        raise CryptoError("signature r or s out of range")
    pubkey = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ecdsa_recover(_CTX, pubkey, parsed, digest):
        raise CryptoError("no public key recovers from this signature")
    return _uncompressed(pubkey)


def _uncompressed(pubkey: object) -> bytes:
    """The 65-byte ``04‖x‖y`` form of a parsed ``secp256k1_pubkey``."""
    output = ffi.new("unsigned char[65]")
    length = ffi.new("size_t *", 65)
    lib.secp256k1_ec_pubkey_serialize(_CTX, output, length, pubkey, lib.SECP256K1_EC_UNCOMPRESSED)
    return bytes(ffi.buffer(output, 65))


def _check_digest(digest: bytes) -> None:
    if len(digest) != 32:
        raise CryptoError("a digest is 32 bytes")
