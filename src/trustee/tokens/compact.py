"""Parsing of compact JWS (RFC 7515 §7.1) with the limits a verifier needs.

The size cap is checked before any decoding so a hostile token costs nothing. Headers are
parsed with duplicate-member detection: two ``alg`` members read differently by two parsers
is a classic confusion attack. Payloads are signed bytes, parsed with orjson for speed.
"""

import json
from dataclasses import dataclass
from typing import Any

import orjson

from trustee.crypto.encoding import b64url_decode
from trustee.crypto.errors import CryptoError

MAX_TOKEN_BYTES = 16 * 1024


class CompactError(ValueError):
    """Not a well-formed compact JWS; the message says which part."""


@dataclass(frozen=True, slots=True)
class CompactJWS:
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise CompactError("duplicate member in JOSE header")
    return result


def parse_compact(token: str) -> CompactJWS:
    parts = token.split(".")
    if len(parts) != 3:
        raise CompactError("a compact JWS has three dot-separated parts")
    header_b64, payload_b64, signature_b64 = parts
    try:
        header_raw = b64url_decode(header_b64)
        payload_raw = b64url_decode(payload_b64)
        signature = b64url_decode(signature_b64)
    except CryptoError as exc:
        raise CompactError("a part is not canonical base64url") from exc
    try:
        header = json.loads(header_raw, object_pairs_hook=_reject_duplicates)
        payload = orjson.loads(payload_raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, CompactError):
            raise
        raise CompactError("header or payload is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise CompactError("header and payload must be JSON objects")
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    return CompactJWS(header, payload, signing_input, signature)
