"""Parsing of compact JWS (RFC 7515 §7.1) with the limits a verifier needs.

The size cap is checked before any decoding so a hostile token costs nothing. Headers are
parsed with duplicate-member detection: two ``alg`` members read differently by two parsers
is a classic confusion attack. An issuer sends the same header every time, so parsed headers
are remembered (bounded); payloads are signed bytes, parsed with orjson for speed.
"""

import json
from typing import Any, NamedTuple

import orjson

from trustee.crypto.encoding import b64url_decode
from trustee.crypto.errors import CryptoError

MAX_TOKEN_BYTES = 16 * 1024


class CompactError(ValueError):
    """Not a well-formed compact JWS; the message says which part."""


class CompactJWS(NamedTuple):
    """A parsed token; a named tuple, as it is built once per verification on the hot path."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise CompactError("duplicate member in JOSE header")
    return result


_HEADER_CACHE: dict[str, dict[str, Any]] = {}
_HEADER_CACHE_MAX = 4096


def parse_compact(token: str) -> CompactJWS:
    parts = token.split(".")
    if len(parts) != 3:
        raise CompactError("a compact JWS has three dot-separated parts")
    header_b64, payload_b64, signature_b64 = parts
    header = _HEADER_CACHE.get(header_b64)
    if header is None:
        header = _parse_header(header_b64)
    try:
        payload = orjson.loads(b64url_decode(payload_b64))
        signature = b64url_decode(signature_b64)
    except CryptoError as exc:
        raise CompactError("a part is not canonical base64url") from exc
    except orjson.JSONDecodeError as exc:
        raise CompactError("payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise CompactError("payload must be a JSON object")
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    # Callers may read but must not change the header: it is shared through the cache.
    return CompactJWS(header, payload, signing_input, signature)


def _parse_header(header_b64: str) -> dict[str, Any]:
    try:
        header = json.loads(b64url_decode(header_b64), object_pairs_hook=_reject_duplicates)
    except CryptoError as exc:
        raise CompactError("header is not canonical base64url") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: a 16 KiB header can nest arrays deeper than the json module allows.
        if isinstance(exc, CompactError):
            raise
        raise CompactError("header is not JSON") from exc
    if not isinstance(header, dict):
        raise CompactError("header must be a JSON object")
    if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
        _HEADER_CACHE.clear()
    _HEADER_CACHE[header_b64] = header
    return header
