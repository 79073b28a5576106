"""AES-256-GCM envelopes bound to their context by associated data.

The blob is versioned so the format can change without guessing::

    0x01 ‖ nonce (12 bytes, os.urandom) ‖ ciphertext ‖ tag (16 bytes)

The associated data is not stored: the caller supplies it again to open, so a ciphertext
copied to another row (another trustee's name or address) fails to open instead of
decrypting under the wrong identity. Random 96-bit nonces are safe for far more messages
than one key will ever seal here (NIST SP 800-38D's 2**32 bound per key).

Every failure to open (wrong key, wrong associated data, any flipped bit, unknown version,
truncation) raises the same :class:`CryptoError`, so a caller cannot be turned into an oracle
that tells which part was wrong.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trustee.crypto.errors import CryptoError

__all__ = ["KEY_SIZE", "NONCE_SIZE", "OVERHEAD", "TAG_SIZE", "VERSION", "open_sealed", "seal"]

VERSION = 1
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE
"""Bytes a sealed blob adds to its plaintext."""

_DECRYPTION_FAILED = "decryption failed"


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext``, binding it to ``associated_data``."""
    aesgcm = AESGCM(_check_key(key))
    nonce = os.urandom(NONCE_SIZE)
    return bytes((VERSION,)) + nonce + aesgcm.encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    """Decrypt a blob from :func:`seal`; raise ``CryptoError("decryption failed")`` otherwise.

    A malformed key is a programming error and says so; everything about the blob and the
    associated data collapses into the one message.
    """
    aesgcm = AESGCM(_check_key(key))
    if not isinstance(blob, bytes | bytearray) or len(blob) < OVERHEAD or blob[0] != VERSION:
        raise CryptoError(_DECRYPTION_FAILED)
    nonce = bytes(blob[1 : 1 + NONCE_SIZE])
    try:
        return aesgcm.decrypt(nonce, bytes(blob[1 + NONCE_SIZE :]), associated_data)
    except InvalidTag:
        raise CryptoError(_DECRYPTION_FAILED) from None


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise CryptoError("an AES-256-GCM key is 32 bytes")
    return bytes(key)
