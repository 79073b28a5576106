"""Small, strict codecs shared by the token, custody and ledger formats."""

import base64
import binascii
import re

from trustee.crypto.errors import CryptoError

_B64URL = re.compile(rb"^[A-Za-z0-9_-]*$")
_HEX = re.compile(r"^[0-9a-fA-F]*$")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Strict base64url: no padding, no whitespace, no standard-alphabet characters.

    Strictness matters: a lenient decoder lets many strings denote the same bytes, which
    breaks the one-token-one-signature property verifiers rely on.
    """
    raw = text.encode("ascii", "strict") if isinstance(text, str) else bytes(text)
    if len(raw) % 4 == 1 or not _B64URL.match(raw):
        raise CryptoError("not base64url")
    try:
        decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("not base64url") from exc
    if b64url_encode(decoded).encode("ascii") != raw:
        raise CryptoError("non-canonical base64url")
    return decoded


def hex_decode(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Hex with or without ``0x``; ``length`` in bytes when the size is fixed."""
    if not isinstance(text, str):
        raise CryptoError(f"{what} must be a hex string")
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if len(body) % 2 or not _HEX.match(body):
        raise CryptoError(f"{what} is not hex")
    data = bytes.fromhex(body)
    if length is not None and len(data) != length:
        raise CryptoError(f"{what} must be {length} bytes, got {len(data)}")
    return data


def hex_encode(data: bytes) -> str:
    return "0x" + data.hex()
