"""The one reading of a JSON request body, made by the request gate before any route sees it.

Every route, FastAPI's and the gate's own, then reads the same text, and a body is refused
(400) for what would otherwise fail later, after something was stored:

- JSON is UTF-8 (RFC 8259 §8.1). One leading UTF-8 byte order mark is dropped, as RFC 8259
  lets a parser do; any other encoding (UTF-16 and UTF-32, with or without a mark) is refused
  instead of being guessed, as Python's ``json`` would.
- Nesting is capped (:data:`~trustee.server.asgi.json_depth.MAX_JSON_DEPTH`) on exactly the
  text that is parsed: a byte order mark in front no longer hides the brackets.
- Strings must be storable and readable back: no lone surrogate (``"\\ud800"``), which no
  UTF-8 encoder writes, and no U+0000, which PostgreSQL text cannot hold.
- Numbers are finite: ``NaN``, ``Infinity`` and ``1e400`` have no JSON rendering to read back.

orjson is the parser: it refuses all of the above except U+0000 by itself.
"""

from typing import Any

import orjson

from trustee.server.asgi.json_depth import MAX_JSON_DEPTH, json_depth_exceeds

__all__ = ["BodyRefused", "decode_json_body"]

_UTF8_BOM = b"\xef\xbb\xbf"
_NUL_ESCAPE = b"\\u0000"


class BodyRefused(ValueError):
    """A body no route may read; the message says why, and never quotes the body."""


def decode_json_body(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> tuple[bytes, Any]:
    """The text to hand on (its byte order mark dropped) and its value; BodyRefused if none.

    ``body`` must not be empty: an empty body is no JSON, and routes report a missing body
    themselves.
    """
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]
    if b"\x00" in body or body[:2] in (b"\xfe\xff", b"\xff\xfe"):
        raise BodyRefused("request body must be JSON in UTF-8")
    if json_depth_exceeds(body, max_depth):
        raise BodyRefused(f"request body nests JSON deeper than {max_depth} levels")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BodyRefused("request body is not valid JSON") from None
    if _NUL_ESCAPE in body and _NUL_ESCAPE in body.replace(b"\\\\", b""):
        raise BodyRefused("request body has a string with U+0000, which cannot be stored")
    return body, value
