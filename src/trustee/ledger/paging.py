"""Listing helpers: page sizes, page tokens that keep their query, attribute filters (no I/O).

A page token carries everything needed to continue the listing that made it: the query (the
listing's scope, such as its asset, and its filters) and the position after the last item
answered. Clients such as DataTrails' SDK send only ``page_token`` and ``page_size`` for the
next page, so a token that held only a position would continue an unfiltered listing. Tokens
are authenticated with a key derived from the barrier (the same on every replica), so a
client cannot edit the query or the position in one: the server answers only what the query
it checked on the first page allows. A request that repeats its filters with the token must
repeat them exactly; one that sends none continues the token's query.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from hashlib import sha256
from typing import Any

import orjson

from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.crypto.errors import CryptoError
from trustee.errors import InvalidRequest

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "PageTokens",
    "matches",
    "page_size",
]

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
_VERSION = 2
_TAG_BYTES = 16
_NOT_OURS = "next_page_token is not one this server made for this listing"


def page_size(value: Any) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("page_size must be an integer") from exc
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
    return size


class PageTokens:
    """Makes and checks page tokens under one key (asked for at each use: the barrier may be
    sealed and reopened in between)."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    def encode(self, listing: str, query: Mapping[str, Any], position: Any) -> str:
        """A token continuing ``listing`` (e.g. ``"events"``) with ``query`` after ``position``."""
        body = orjson.dumps(
            {"v": _VERSION, "l": listing, "q": query, "p": position}, option=orjson.OPT_SORT_KEYS
        )
        return b64url_encode(body) + "." + b64url_encode(self._tag(body))

    def resume(
        self,
        listing: str,
        token: str | None,
        scope: Mapping[str, Any],
        filters: Mapping[str, Any],
    ) -> tuple[dict[str, Any], Any]:
        """The query to run (``scope`` and filters merged) and the position to continue after
        (None for a first page). With a token, its scope must be ``scope`` and ``filters`` must
        be its filters or empty (the filters then come from the token)."""
        query = {**filters, **scope}
        if not token:
            return query, None
        body = self._open(token)
        if body.get("l") != listing or not isinstance(body.get("q"), dict):
            raise InvalidRequest(_NOT_OURS)
        carried: dict[str, Any] = body["q"]
        if any(carried.get(name) != value for name, value in scope.items()):
            raise InvalidRequest("next_page_token belongs to another listing")
        if _given(filters) and _canonical(query) != _canonical(carried):
            raise InvalidRequest("next_page_token belongs to a listing with other filters")
        return carried, body.get("p")

    def _open(self, token: str) -> dict[str, Any]:
        text, _, tag = token.partition(".")
        try:
            body = b64url_decode(text)
            given = b64url_decode(tag)
        except (CryptoError, UnicodeEncodeError) as exc:
            raise InvalidRequest(_NOT_OURS) from exc
        if not hmac.compare_digest(given, self._tag(body)):
            raise InvalidRequest(_NOT_OURS)
        value = orjson.loads(body)
        if not isinstance(value, dict) or value.get("v") != _VERSION:
            raise InvalidRequest(_NOT_OURS)
        return value

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key(), b"page-token\0" + body, sha256).digest()[:_TAG_BYTES]


def _given(filters: Mapping[str, Any]) -> bool:
    return any(value not in (None, "", {}, []) for value in filters.values())


def _canonical(query: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {name: value for name, value in query.items() if value not in (None, "", {}, [])},
        option=orjson.OPT_SORT_KEYS,
    )


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
