"""ECIES on secp256k1: encrypt to a recipient who is known only by a public key.

The work is done by ``eciespy`` (on coincurve); this module pins its configuration, so a
change to the library's global ``ECIES_CONFIG`` elsewhere cannot change our bytes, and turns
every failure into :class:`CryptoError`. The format (eciespy 0.4 defaults, verified in the
tests by decrypting with an independent build on pyca/cryptography, and vice versa)::

    ciphertext = E (65) ‖ nonce (16) ‖ tag (16) ‖ AES-256-GCM(plaintext)

* ``E``: a fresh ephemeral public key, uncompressed (0x04 ‖ X ‖ Y), one per message.
* shared point ``S = e·R``, where ``e`` is the ephemeral secret and ``R`` the recipient's key.
* AES key = HKDF-SHA256(IKM = E ‖ S, salt = empty, info = empty, length 32), where both
  ``E`` and ``S`` are 65-byte uncompressed points. Note: the IKM is the whole point ``S``,
  not only its x-coordinate that a plain ECDH returns, and includes ``E`` (binding the key to
  the ephemeral key, as in ECIES-KEM).
* nonce: 16 random bytes. GCM hashes a nonce that is not 12 bytes into its initial
  counter; that is standard GCM, and eciespy's default.
* no associated data.

The overhead is 97 bytes per message. There is no sender authentication: anyone can
encrypt to a public key, so what a recipient decrypts says nothing about who sent it.
"""

from typing import Final

import ecies
from ecies.config import Config

from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import check_private_key, parse_public_key

__all__ = ["OVERHEAD", "decrypt_with", "encrypt_to"]

_EPHEMERAL_SIZE = 65
_NONCE_SIZE: Final = 16
_TAG_SIZE = 16
OVERHEAD = _EPHEMERAL_SIZE + _NONCE_SIZE + _TAG_SIZE
"""Bytes a ciphertext adds to its plaintext."""

_CONFIG = Config(
    elliptic_curve="secp256k1",
    is_ephemeral_key_compressed=False,
    is_hkdf_key_compressed=False,
    symmetric_algorithm="aes-256-gcm",
    symmetric_nonce_length=_NONCE_SIZE,
)


def encrypt_to(public_key: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` so that only the holder of ``public_key``'s private key can read it.

    ``public_key`` is secp256k1, uncompressed (65 bytes, or 64 without the 0x04) or
    compressed (33 bytes).
    """
    if not isinstance(public_key, bytes | bytearray):
        raise CryptoError("a public key is bytes")
    if not isinstance(plaintext, bytes | bytearray):
        raise CryptoError("plaintext must be bytes")
    recipient = parse_public_key(bytes(public_key))
    try:
        return ecies.encrypt(recipient, bytes(plaintext), _CONFIG)
    except (ValueError, TypeError) as exc:
        raise CryptoError("ECIES encryption failed") from exc


def decrypt_with(private_key: bytes, ciphertext: bytes) -> bytes:
    """Decrypt a ciphertext from :func:`encrypt_to`; any failure is ``CryptoError``.

    Wrong key, tampering and malformed input give the same message. The ephemeral key must be
    in the canonical 0x04 form: libsecp256k1 also parses the "hybrid" 0x06/0x07 forms of the
    same point, which would let one ciphertext be rewritten into others that decrypt alike.
    """
    secret = check_private_key(private_key)
    if (
        not isinstance(ciphertext, bytes | bytearray)
        or len(ciphertext) < OVERHEAD
        or ciphertext[0] != 0x04
    ):
        raise CryptoError("ECIES decryption failed")
    try:
        return ecies.decrypt(secret, bytes(ciphertext), _CONFIG)
    except (ValueError, TypeError):
        raise CryptoError("ECIES decryption failed") from None
