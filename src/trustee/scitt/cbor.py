"""Deterministic CBOR out, strict CBOR in: the two rules every SCITT structure here follows.

Out: RFC 8949 §4.2.1 core deterministic encoding: shortest integer and length forms (cbor2
writes those), definite lengths, and map keys sorted by the bytes of their encoding. cbor2's
``canonical`` flag sorts keys length-first (RFC 7049), which differs for keys such as ``24``
and ``-1``, so maps are sorted here before cbor2 writes them in the order given.

In: one definite-length data item and nothing after it, no duplicate map keys, nesting and
sizes bounded, and the result as plain ``dict``/``list`` values (cbor2 6 answers frozen
mappings and tuples inside tags), so callers match on ordinary types.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

__all__ = ["MAX_DEPTH", "CBORError", "decode", "encode"]

MAX_DEPTH = 16
"""Nesting no structure here needs more than: COSE headers, CWT claims, a COSE_Key, a proof."""


class CBORError(ValueError):
    """The bytes are not one well-formed data item under the rules above."""


def encode(value: Any) -> bytes:
    """``value`` in core deterministic encoding (maps sorted by encoded key)."""
    return cbor2.dumps(_sorted(value))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        items = [
            (cbor2.dumps(_sorted(key)), _sorted(key), _sorted(item)) for key, item in value.items()
        ]
        items.sort(key=lambda entry: entry[0])
        return {key: item for _, key, item in items}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, _sorted(value.value))
    return value


def decode(data: bytes) -> Any:
    """The one data item of ``data``; :class:`CBORError` for anything else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CBORError("CBOR input must be bytes")
    stream = io.BytesIO(bytes(data))
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            allow_duplicate_keys=False,
            allow_indefinite=False,
            max_depth=MAX_DEPTH,
            semantic_decoders=_REFUSED_TAGS,
        )
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CBORError(f"not well-formed CBOR: {_first_line(exc)}") from None
    if stream.read(1):
        raise CBORError("not one CBOR data item: bytes follow it")
    return plain(value)


def _refuse(decoder: Any) -> Any:
    raise CBORError("a CBOR tag that no SCITT structure uses")


# String references and shared values would let a few bytes stand for much more; a regular
# expression is compiled as it is decoded. None of them belongs in a statement.
_REFUSED_TAGS = {tag: _refuse for tag in (25, 28, 29, 35, 256, 21065)}


def plain(value: Any) -> Any:
    """``value`` with every mapping a ``dict`` and every array a ``list``; a value of a type
    that no SCITT structure holds (a date, a decimal, a set: cbor2's readings of semantic
    tags) is refused, so later checks see only the CBOR data model."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, plain(value.value))
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "items"):
        mapping = {}
        for key, item in value.items():
            if not isinstance(key, int | str | bytes):
                raise CBORError("map keys must be integers or strings")
            mapping[key] = plain(item)
        return mapping
    raise CBORError(f"unsupported CBOR value ({type(value).__name__})")


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
