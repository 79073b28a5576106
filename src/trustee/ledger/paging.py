"""Listing helpers: page sizes, opaque page tokens and attribute filters (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.crypto.errors import CryptoError
from trustee.errors import InvalidRequest

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "decode_token",
    "encode_token",
    "matches",
    "page_size",
]

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def page_size(value: Any) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("page_size must be an integer") from exc
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
    return size


def encode_token(value: dict[str, Any]) -> str:
    """A token that resumes a listing; versioned, so its shape can change later."""
    return b64url_encode(orjson.dumps({"v": 1, **value}))


def decode_token(token: str) -> dict[str, Any]:
    try:
        value = orjson.loads(b64url_decode(token))
    except (CryptoError, ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidRequest("next_page_token is not one this server made") from exc
    if not isinstance(value, dict) or value.get("v") != 1:
        raise InvalidRequest("next_page_token is not one this server made")
    return value


def matches(record: Mapping[str, Any], wanted: list[tuple[str, dict[str, Any]]]) -> bool:
    """Attribute equality, comparing a query's text with the value or its JSON text."""
    for section, equal in wanted:
        values = record.get(section) or {}
        for key, expected in equal.items():
            if key not in values:
                return False
            actual = values[key]
            if actual != expected and _as_text(actual) != str(expected):
                return False
    return True


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode("utf-8")
