"""The canonical bytes of a JSON value (RFC 8785, JCS), for hashing and signing records.

Two parties that agree on a JSON value must agree on its bytes, or a leaf hash changes when a
client reorders keys or writes ``1.0`` for ``1``. JCS fixes the bytes: members sorted by UTF-16
code units, ECMAScript number formatting, minimal string escapes, UTF-8. The serialiser is the
``rfc8785`` package (Trail of Bits), adapted from the RFC author's reference implementation.

What JCS cannot represent is refused rather than approximated: NaN and infinities, integers
beyond ±(2^53 − 1) (I-JSON: a double cannot hold them exactly, so two parsers would
disagree), non-string member names, lone surrogates, and any Python type that is not JSON.
One exception: an integer beyond that range which is exactly how JCS writes some double is
that double. A stored float such as ``1e18`` or ``-5.189982366516377e16`` reads back as one
(JCS writes them ``1000000000000000000`` and ``-51899823665163770``), and refusing it made a
stored value impossible to write again.

Records are hashed on the append path, where the pure-Python serialiser is the largest cost.
For the common shape (ASCII member names, strings, in-range integers, booleans, null; no floats)
orjson's sorted output is byte for byte the JCS output: the same escapes, and code-point order
equals UTF-16 order when every name is ASCII. Everything else takes the reference path. The
property tests compare the two on arbitrary values.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

__all__ = ["CanonicalJSONError", "canonical_json"]

_MAX_SAFE_INTEGER = 2**53 - 1
_FAST_DEPTH = 32


class CanonicalJSONError(ValueError):
    """The value has no RFC 8785 form; the message says which part."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a dict, list, tuple, str, int, float, bool or None, nested freely."""
    if _plain(value, 0):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # e.g. a lone surrogate: the reference path says what is wrong
    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError as exc:
        try:
            as_doubles = _exact_doubles(value, 0)
        except ValueError:
            raise CanonicalJSONError(
                "integer outside ±(2**53 - 1): JSON numbers are doubles; send it as a string"
            ) from exc
        return canonical_json(as_doubles)
    except rfc8785.FloatDomainError as exc:
        raise CanonicalJSONError("NaN and Infinity are not JSON numbers") from exc
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalJSONError(f"not a JSON value: {exc}") from exc
    except UnicodeError as exc:
        # A lone surrogate in a member name fails while sorting by UTF-16.
        raise CanonicalJSONError("not a JSON value: a string is not valid Unicode") from exc
    except RecursionError as exc:
        raise CanonicalJSONError("not a JSON value: nested too deeply (or cyclic)") from exc


def _plain(value: Any, depth: int) -> bool:
    """True when orjson's sorted output is already the JCS output for ``value``."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    if depth >= _FAST_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _plain(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item, depth + 1) for item in value)
    return False


def _exact_doubles(value: Any, depth: int) -> Any:
    """``value`` with every integer beyond ±(2^53 − 1) replaced by the double JCS writes as
    that integer; ValueError if there is none."""
    kind = type(value)
    if kind is int and not -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
        try:
            double = float(value)
        except OverflowError:
            raise ValueError("no double is this large") from None
        if rfc8785.dumps(double) != str(value).encode():
            raise ValueError("no double is written as this integer")
        return double
    if depth > 1000:  # the reference path says so
        return value
    if kind is dict:
        return {key: _exact_doubles(item, depth + 1) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_exact_doubles(item, depth + 1) for item in value]
    return value
