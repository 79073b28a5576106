"""What the ledger services answer: typed, immutable records that faces render (no I/O).

The services speak of assets and events by uuid; how a record looks on the wire (Vault's
``"identity": "assets/…"`` strings, DataTrails' field names, SCITT's CBOR) is each face's
business. The one fixed serialisation here is an event's stored entry: its RFC 8785 bytes are
the log leaf, so :meth:`Event.to_record` and :meth:`Event.from_record` are the leaf format,
not a wire shape. The offline audit
bundle, a document with its own version, is :mod:`trustee.ledger.bundle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trustee.ledger.evidence import STATUSES, KeyRecord, Verdict

__all__ = ["Asset", "AssetVerdicts", "Event", "EventVerdict", "asset_identity", "event_identity"]


def asset_identity(asset_uuid: str) -> str:
    """The asset's name inside stored entries (``asset_identity``), fixed by the leaf format."""
    return f"assets/{asset_uuid}"


def event_identity(asset_uuid: str, event_uuid: str) -> str:
    """The event's name inside its stored entry (``identity``), fixed by the leaf format."""
    return f"assets/{asset_uuid}/events/{event_uuid}"


@dataclass(frozen=True, slots=True)
class Asset:
    """An asset as stored: its attributes, signing rule, key history and who created it."""

    uuid: str
    attributes: dict[str, Any]
    require_signature: bool
    key_history: tuple[KeyRecord, ...]
    created_time: str  # RFC 3339, as key history times are
    principal: dict[str, Any]

    @property
    def device_key(self) -> KeyRecord | None:
        """The key in force for the next event (the latest of the history), if any."""
        return self.key_history[-1] if self.key_history else None


@dataclass(frozen=True, slots=True)
class Event:
    """One accepted event: what its caller declared and what the log added (index and time).

    The members are those of the stored entry; ``uuid`` and ``asset_uuid`` are its
    ``identity`` and ``asset_identity`` without their fixed prefixes.
    """

    uuid: str
    asset_uuid: str
    operation: str
    behaviour: str
    event_attributes: dict[str, Any]
    asset_attributes: dict[str, Any]
    timestamp_declared: str | None
    principal_declared: dict[str, Any] | None
    principal_accepted: dict[str, Any]
    timestamp_accepted: str
    log_index: int

    def to_record(self) -> dict[str, Any]:
        """The stored entry as JSON, members in their RFC 8785 order: its canonical bytes are
        the log leaf (:func:`trustee.ledger.records.compose_entry` writes them directly)."""
        return {
            "asset_attributes": self.asset_attributes,
            "asset_identity": asset_identity(self.asset_uuid),
            "behaviour": self.behaviour,
            "event_attributes": self.event_attributes,
            "identity": event_identity(self.asset_uuid, self.uuid),
            "log_index": self.log_index,
            "operation": self.operation,
            "principal_accepted": self.principal_accepted,
            "principal_declared": self.principal_declared,
            "timestamp_accepted": self.timestamp_accepted,
            "timestamp_declared": self.timestamp_declared,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Event:
        """The event a stored entry (parsed JSON) describes; the entry is trusted: it was
        written by :func:`trustee.ledger.records.compose_entry`."""
        return cls(
            uuid=record["identity"].rsplit("/", 1)[-1],
            asset_uuid=record["asset_identity"].removeprefix("assets/"),
            operation=record["operation"],
            behaviour=record["behaviour"],
            event_attributes=record["event_attributes"],
            asset_attributes=record["asset_attributes"],
            timestamp_declared=record["timestamp_declared"],
            principal_declared=record["principal_declared"],
            principal_accepted=record["principal_accepted"],
            timestamp_accepted=record["timestamp_accepted"],
            log_index=record["log_index"],
        )


@dataclass(frozen=True, slots=True)
class EventVerdict:
    """The device-signature verdict on one stored event, recomputed from the log's bytes."""

    asset_uuid: str
    event_uuid: str
    log_index: int
    verdict: Verdict

    @property
    def status(self) -> str:
        return self.verdict.status

    @property
    def reason(self) -> str:
        return self.verdict.reason


@dataclass(frozen=True, slots=True)
class AssetVerdicts:
    """Every event of one asset with its verdict, in log order."""

    asset_uuid: str
    events: tuple[EventVerdict, ...]

    @property
    def counts(self) -> dict[str, int]:
        """How many events have each status; every status is named, zeros included."""
        counts = dict.fromkeys(STATUSES, 0)
        for event in self.events:
            counts[event.status] += 1
        return counts
