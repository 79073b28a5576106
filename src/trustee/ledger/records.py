"""Event records: what a caller may send, and the exact bytes the log keeps (no I/O).

Checking and serialising an event is most of an append's work, and none of it depends on the
log index, so :func:`prepare_event` does it in the caller's thread, before any lock. What the
log adds (identity, index, acceptance time) is assembled afterwards by :func:`compose_entry`,
by concatenating canonical parts (JCS is compositional: an object is its members sorted by
name, each ``"name":value``): the result is exactly ``canonical_json(record)``, which is what
anyone recomputing a leaf does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from trustee.errors import InvalidRequest
from trustee.ids import new_event_id
from trustee.ledger.canonical import CanonicalJSONError, canonical_json
from trustee.ledger.models import Event, asset_identity, event_identity

__all__ = [
    "MAX_ATTRIBUTES_BYTES",
    "MAX_KEY_CHARS",
    "MAX_TEXT_CHARS",
    "EventRequest",
    "PreparedEvent",
    "canonical",
    "check_attributes",
    "compose_entry",
    "dumps",
    "parse_time",
    "prepare_event",
    "rfc3339",
]

MAX_ATTRIBUTES_BYTES = 64 * 1024
MAX_KEY_CHARS = 256
MAX_TEXT_CHARS = 256


@dataclass
class EventRequest:
    """One event to append: what the device and the caller declared, and who is calling."""

    asset_uuid: str
    event_attributes: dict[str, Any] = field(default_factory=dict)
    asset_attributes: dict[str, Any] = field(default_factory=dict)
    operation: str = "Record"
    behaviour: str = "RecordEvidence"
    timestamp_declared: str | None = None
    principal_declared: dict[str, Any] | None = None
    principal_accepted: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    """A retry with the same key and request answers the first event (see
    :mod:`trustee.ledger.idempotency`)."""

    def declared(self) -> dict[str, Any]:
        """What the client asked for, the caller's identity aside: what a retry must repeat."""
        return {
            "asset": self.asset_uuid,
            "event_attributes": self.event_attributes,
            "asset_attributes": self.asset_attributes,
            "operation": self.operation,
            "behaviour": self.behaviour,
            "timestamp_declared": self.timestamp_declared,
            "principal_declared": self.principal_declared,
        }


@dataclass
class PreparedEvent:
    """An event checked and serialised, waiting only for its place in the log.

    ``head + log_index + middle + timestamp_accepted + tail`` (each canonical) is the entry.
    """

    request: EventRequest
    uuid: str
    head: bytes
    middle: bytes
    tail: bytes


def rfc3339(seconds: float) -> str:
    """UTC RFC 3339 with microseconds, e.g. ``2025-01-02T03:04:05.678901Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | float | int | None, what: str) -> float | None:
    """Unix seconds from a number or an RFC 3339 string; None passes through."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRequest(f"{what} must be RFC 3339 or unix seconds") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def canonical(value: Any) -> bytes:
    """RFC 8785 bytes, or a 400 naming what JSON cannot hold exactly."""
    try:
        return canonical_json(value)
    except CanonicalJSONError as exc:
        raise InvalidRequest(str(exc)) from exc


def dumps(value: Any) -> str:
    return canonical(value).decode("utf-8")


def check_attributes(attributes: Any, what: str) -> bytes:
    """Refuse what does not fit an attributes object; return its canonical bytes."""
    if not isinstance(attributes, dict):
        raise InvalidRequest(f"{what} must be an object")
    for key in attributes:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            raise InvalidRequest(f"{what}: keys are 1 to {MAX_KEY_CHARS} characters")
    encoded = canonical(attributes)
    if len(encoded) > MAX_ATTRIBUTES_BYTES:
        raise InvalidRequest(f"{what} are larger than {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    return encoded


def _check_text(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise InvalidRequest(f"{what} must be text of at most {MAX_TEXT_CHARS} characters")


def _string(value: str) -> bytes:
    """JCS bytes of a string: orjson writes exactly JCS's escapes (see canonical.py)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise InvalidRequest("not a JSON value: a string is not valid Unicode") from exc


# The record's members in JCS order (sorted; all ASCII). The caller decides all but three:
# log_index and timestamp_accepted come from the log, and identity is made here.
_MEMBERS = (
    "asset_attributes",
    "asset_identity",
    "behaviour",
    "event_attributes",
    "identity",
    "log_index",
    "operation",
    "principal_accepted",
    "principal_declared",
    "timestamp_accepted",
    "timestamp_declared",
)
assert list(_MEMBERS) == sorted(_MEMBERS)
_NAMES = {name: b'"' + name.encode("ascii") + b'":' for name in _MEMBERS}
_BEFORE = _MEMBERS[: _MEMBERS.index("log_index")]
_BETWEEN = _MEMBERS[_MEMBERS.index("log_index") + 1 : _MEMBERS.index("timestamp_accepted")]
_AFTER = _MEMBERS[_MEMBERS.index("timestamp_accepted") + 1 :]


def prepare_event(request: EventRequest) -> PreparedEvent:
    """Check ``request`` and serialise what it decides; raise :class:`InvalidRequest` if bad."""
    if not isinstance(request.asset_uuid, str) or not 0 < len(request.asset_uuid) <= 64:
        raise InvalidRequest("bad asset id")
    _check_text(request.operation, "operation")
    _check_text(request.behaviour, "behaviour")
    _check_text(request.timestamp_declared, "timestamp_declared", optional=True)
    event_attributes = check_attributes(request.event_attributes, "event_attributes")
    asset_attributes = check_attributes(request.asset_attributes, "asset_attributes")
    if len(event_attributes) + len(asset_attributes) > MAX_ATTRIBUTES_BYTES:
        raise InvalidRequest(f"attributes are larger than {MAX_ATTRIBUTES_BYTES} bytes in total")
    if request.principal_declared is not None:
        principal_declared = check_attributes(request.principal_declared, "principal_declared")
    else:
        principal_declared = b"null"
    declared = request.timestamp_declared
    event = new_event_id()
    identity = event_identity(request.asset_uuid, event)
    parts = {
        "asset_attributes": asset_attributes,
        "asset_identity": _string(asset_identity(request.asset_uuid)),
        "behaviour": _string(request.behaviour),
        "event_attributes": event_attributes,
        "identity": _string(identity),
        "operation": _string(request.operation),
        "principal_accepted": canonical(dict(request.principal_accepted)),
        "principal_declared": principal_declared,
        "timestamp_declared": b"null" if declared is None else _string(declared),
    }
    return PreparedEvent(
        request=request,
        uuid=event,
        head=b"{" + _join(_BEFORE, parts) + b"," + _NAMES["log_index"],
        middle=b"," + _join(_BETWEEN, parts) + b"," + _NAMES["timestamp_accepted"],
        tail=b"," + _join(_AFTER, parts) + b"}",
    )


def _join(names: tuple[str, ...], parts: dict[str, bytes]) -> bytes:
    return b",".join([_NAMES[name] + parts[name] for name in names])


def compose_entry(
    prepared: PreparedEvent, log_index: int, timestamp_accepted: str
) -> tuple[Event, bytes]:
    """The stored event and its leaf bytes, once the log has given it an index and a time."""
    request = prepared.request
    event = Event(
        uuid=prepared.uuid,
        asset_uuid=request.asset_uuid,
        operation=request.operation,
        behaviour=request.behaviour,
        event_attributes=request.event_attributes,
        asset_attributes=request.asset_attributes,
        timestamp_declared=request.timestamp_declared,
        principal_declared=request.principal_declared,
        principal_accepted=request.principal_accepted,
        timestamp_accepted=timestamp_accepted,
        log_index=log_index,
    )
    entry = b"".join(
        (
            prepared.head,
            str(log_index).encode("ascii"),
            prepared.middle,
            _string(timestamp_accepted),
            prepared.tail,
        )
    )
    return event, entry
