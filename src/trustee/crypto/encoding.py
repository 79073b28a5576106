"""Small, strict codecs shared by the token, custody and ledger formats."""

import base64
import binascii
import re

from trustee.crypto.errors import CryptoError

_HEX = re.compile(r"^[0-9a-fA-F]*$")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Strict base64url: no padding, no whitespace, no standard-alphabet characters, and
    zero unused bits in the last character.

    Strictness matters: a lenient decoder lets many strings denote the same bytes, which
    breaks the one-token-one-signature property verifiers rely on.
    """
    raw = text.encode("ascii", "strict") if isinstance(text, str) else bytes(text)
    remainder = len(raw) & 3
    # Deleting every alphabet character leaves only what does not belong: one C-level pass.
    if remainder == 1 or raw.translate(None, _ALPHABET):
        raise CryptoError("not base64url")
    try:
        decoded = binascii.a2b_base64(raw.translate(_TO_STANDARD) + _PADDING[remainder])
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("not base64url") from exc
    # The last character may carry bits past the data; canonical encodings leave them zero.
    if remainder and _B64URL_VALUE[raw[-1]] & _UNUSED_BITS[remainder]:
        raise CryptoError("non-canonical base64url")
    return decoded


def b64url_decode_padded(text: str | bytes) -> bytes:
    """Base64url with or without its ``=`` padding, each form canonical.

    Device signatures arrive both ways: RKVST's signed-records sample writes Python's
    ``urlsafe_b64encode`` (padded), JOSE tools write no padding. Either is accepted, but only
    exactly: padding, when present, is the one count that completes the last quad (never a
    stray ``=``), and the rest is :func:`b64url_decode`'s strict form, so one signature still
    has one spelling per form and no two byte strings share a text.
    """
    raw = text.encode("ascii", "strict") if isinstance(text, str) else bytes(text)
    body = raw.rstrip(b"=")
    pad = len(raw) - len(body)
    if pad and (len(raw) & 3 or pad != (4 - (len(body) & 3)) & 3):
        raise CryptoError("not base64url: wrong padding")
    return b64url_decode(body)


_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = {0: b"", 2: b"==", 3: b"="}
_UNUSED_BITS = {2: 0x0F, 3: 0x03}
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_VALUE = [0] * 256
for _index, _char in enumerate(_ALPHABET):
    _B64URL_VALUE[_char] = _index


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
