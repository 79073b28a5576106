"""secp256k1 keys and ECDSA over libsecp256k1 (coincurve).

Two signature shapes appear in our formats:

* recoverable, 65 bytes ``r‖s‖v``: Ethereum (EIP-191/712 with v = 27/28) and ES256K-R;
* compact, 64 bytes ``r‖s``: ES256K per RFC 8812, over SHA-256 of the message.

A recovery id is 0..3: bit 0 is the parity of the nonce point R's y, bit 1 says R's x is
r + n rather than r. Ids 2 and 3 exist only when r + n is still below the field prime p, i.e.
r < p − n (about 2⁻¹²⁸ of random signatures, but a signer can pick such a nonce, and
Wycheproof does). The byte v carries the id as 0..3 or as 27..30 (27 + id: Ethereum's
pre-EIP-155 27/28, continued the way Bitcoin's signed-message header byte continues it for
uncompressed keys); nothing else is a recovery byte.

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
FIELD_PRIME = 2**256 - 2**32 - 977
# p − n = 0x14551231950b75fc4402da1722fc9baee: an r below it may have come from a nonce point
# whose x is r + n (recovery ids 2 and 3). Bytes, so the test is one comparison of 32 bytes.
_P_MINUS_N_BYTES = (FIELD_PRIME - CURVE_ORDER).to_bytes(32, "big")
RECOVERY_BYTES = (0, 1, 2, 3, 27, 28, 29, 30)
"""Every accepted ``v``: the recovery id itself, or 27 + the id."""


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
    """Accept compressed (33) or uncompressed (65, or 64 without 0x04) keys; return 65 bytes.

    SEC 1 encodings only: libsecp256k1 also parses the "hybrid" form (prefix 0x06 or 0x07),
    which OpenSSL and the Ethereum tools refuse; a second spelling of one key is refused here
    rather than stored beside the first."""
    if len(data) == 64:
        data = b"\x04" + data
    if not ((len(data) == 33 and data[:1] in (b"\x02", b"\x03")) or data[:1] == b"\x04"):
        raise CryptoError("not a secp256k1 public key")
    try:
        return PublicKey(bytes(data)).format(compressed=False)
    except (ValueError, TypeError) as exc:
        raise CryptoError("not a secp256k1 public key") from exc


def sign_recoverable(digest: bytes, private_key: bytes) -> bytes:
    """Sign a 32-byte digest; returns ``r‖s‖v`` with v the recovery id (0..3).

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
    recid = ffi.new("int *")
    lib.secp256k1_ecdsa_recoverable_signature_serialize_compact(_CTX, output, recid, parsed)
    return bytes(ffi.buffer(output, 64)) + bytes([recid[0]])


def recovery_id(v: int) -> int | None:
    """The recovery id a byte ``v`` stands for (0..3 or 27..30), or None for any other byte."""
    if 0 <= v <= 3:
        return v
    if 27 <= v <= 30:
        return v - 27
    return None


def recover_public_key(digest: bytes, signature: bytes) -> bytes:
    """Public key from a 65-byte ``r‖s‖v`` signature, v ∈ {0..3, 27..30}.

    Ids 2 and 3 recover only when r < p − n; otherwise libsecp256k1 finds no point and this
    raises, like any signature that recovers nothing.
    """
    _check_digest(digest)
    if len(signature) != 65:
        raise CryptoError("a recoverable signature is 65 bytes")
    recovery = recovery_id(signature[64])
    if recovery is None:
        raise CryptoError("recovery byte v must be 0..3 or 27..30")
    return _recover(digest, signature[:64], recovery)


def es256k_sign(message: bytes, private_key: bytes) -> bytes:
    """RFC 8812 ES256K: ECDSA over SHA-256(message), 64 bytes ``r‖s``, low-s."""
    return sign_recoverable(hashlib.sha256(message).digest(), private_key)[:64]


def es256k_recover_candidates(message: bytes, signature: bytes) -> list[bytes]:
    """The public keys (recovery ids 0..3) for which a 64-byte signature is valid."""
    if len(signature) != 64:
        raise CryptoError("an ES256K signature is 64 bytes")
    return list(iter_recovered_keys(hashlib.sha256(message).digest(), signature))


def recovery_ids(signature: bytes) -> tuple[int, ...]:
    """The recovery ids that can exist for a 64-byte ``r‖s``: 0 and 1, and 2 and 3 when
    r < p − n. One bytes comparison, so a bad signature costs no more recoveries than before."""
    return (0, 1, 2, 3) if signature[:32] < _P_MINUS_N_BYTES else (0, 1)


def iter_recovered_keys(digest: bytes, signature: bytes) -> Iterator[bytes]:
    """Every key a 64-byte ``r‖s`` recovers to, lazily, in recovery-id order.

    The caller usually stops at the first key, saving half a recovery.
    """
    for recovery in recovery_ids(signature):
        try:
            yield _recover(digest, signature, recovery)
        except CryptoError:
            continue


def recovers_to(digest: bytes, signature: bytes, public_key: bytes) -> bool:
    """Whether a 65-byte ``r‖s‖v`` recovers exactly the 65-byte uncompressed ``public_key``.

    A recovered key is one for which the signature verifies (high s included), so this is a
    full verification that also checks the recovery byte.
    """
    try:
        return recover_public_key(digest, signature) == public_key
    except CryptoError:
        return False


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


def _recover(digest: bytes, signature64: bytes, recovery: int) -> bytes:
    parsed = ffi.new("secp256k1_ecdsa_recoverable_signature *")
    if not lib.secp256k1_ecdsa_recoverable_signature_parse_compact(
        _CTX, parsed, signature64, recovery
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
