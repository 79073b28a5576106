"""The offline audit bundle: one type for the server that writes it and the auditor that reads
it (no I/O).

A bundle is a JSON document with its own ``kind`` and version ``v``, so it outlives the API that
served it: a file fetched today must audit with tomorrow's ``trustee ledger audit``. Its members,
in the order they are written::

    v, kind, origin, log_key, checkpoint, size, root_hash,
    asset (the asset as described when bundled, its key history apart),
    keys (that history), events ({log_index, entry (base64 of the leaf bytes),
    event (the entry as JSON, for people), inclusion_proof (hex)}),
    consistency ({first, hashes}: only when asked for with an older size)

:meth:`Bundle.from_json` is lenient below the header, because an auditor reports every fault of
a bundle rather than the first: an unreadable event item is kept as an :class:`UnreadableEvent`
in its place, malformed key history entries are skipped and named in ``problems``, and absent
pieces read as empty. Nothing read is trusted: the auditor checks the checkpoint with a key it
was given, and the entries against the checkpoint.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from trustee.ledger.evidence import KeyRecord
from trustee.ledger.models import Asset, asset_identity

__all__ = [
    "BUNDLE_KIND",
    "BUNDLE_VERSION",
    "Bundle",
    "BundleError",
    "BundleEvent",
    "ConsistencyProof",
    "UnreadableEvent",
    "describe_asset",
]

BUNDLE_KIND = "trustee.ledger.bundle"
BUNDLE_VERSION = 1
UNREADABLE_ENTRY = "entry is not base64 of JSON"


class BundleError(ValueError):
    """Not a bundle this code can read at all: another kind, or another version."""


@dataclass(frozen=True, slots=True)
class BundleEvent:
    """One event: its leaf bytes and their inclusion proof under the bundle's checkpoint.

    ``inclusion_proof`` is None when a file's proof is not a list (the audit calls that a bad
    proof); a list is kept as read, without a pass over its elements, because the inclusion
    check takes anything that is not the hex of a hash for no hash.
    """

    log_index: int | None
    entry: bytes
    inclusion_proof: list[str] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "log_index": self.log_index,
            "entry": base64.b64encode(self.entry).decode("ascii"),
            "event": orjson.loads(self.entry),
            "inclusion_proof": self.inclusion_proof,
        }

    @classmethod
    def from_json(cls, item: Any) -> BundleEvent | UnreadableEvent:
        """The event an ``events`` item holds; the ``event`` member is ignored (the entry is
        what the log signed)."""
        if not isinstance(item, Mapping):
            return UnreadableEvent("malformed event item")
        try:
            entry = base64.b64decode(str(item.get("entry", "")), validate=True)
        except (binascii.Error, ValueError):
            return UnreadableEvent(UNREADABLE_ENTRY)
        index = item.get("log_index")
        proof = item.get("inclusion_proof")
        return cls(
            log_index=index if isinstance(index, int) and not isinstance(index, bool) else None,
            entry=entry,
            inclusion_proof=proof if isinstance(proof, list) else None,
        )


@dataclass(frozen=True, slots=True)
class UnreadableEvent:
    """An ``events`` item a reader could not decode, kept in its place with the reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Hex hashes proving the tree of ``first`` leaves is a prefix of the bundle's tree."""

    first: int
    hashes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first, "hashes": list(self.hashes)}


@dataclass(frozen=True, slots=True)
class Bundle:
    """An asset's events with inclusion proofs, its key history and a signed checkpoint."""

    origin: str
    log_key: str
    checkpoint: str | None  # the signed note; None when a file has none
    size: int
    root_hash: str
    asset: dict[str, Any]  # see describe_asset
    keys: tuple[KeyRecord, ...]
    events: tuple[BundleEvent | UnreadableEvent, ...]
    consistency: ConsistencyProof | None = None
    problems: tuple[str, ...] = ()  # what a reader skipped; empty for a bundle the server made

    @property
    def asset_identity(self) -> str | None:
        """The identity every entry must name as its ``asset_identity``, when the bundle says."""
        identity = self.asset.get("identity")
        return identity if isinstance(identity, str) else None

    def to_json(self) -> dict[str, Any]:
        """The document, members in the order above; events that could not be read are not
        written (a bundle the server made has none)."""
        data: dict[str, Any] = {
            "v": BUNDLE_VERSION,
            "kind": BUNDLE_KIND,
            "origin": self.origin,
            "log_key": self.log_key,
            "checkpoint": self.checkpoint,
            "size": self.size,
            "root_hash": self.root_hash,
            "asset": self.asset,
            "keys": [key.to_dict() for key in self.keys],
            "events": [e.to_json() for e in self.events if isinstance(e, BundleEvent)],
        }
        if self.consistency is not None:
            data["consistency"] = self.consistency.to_json()
        return data

    @classmethod
    def from_json(cls, data: Any) -> Bundle:
        """Read a bundle document; :class:`BundleError` when it is not one of this version."""
        if not isinstance(data, Mapping) or data.get("kind") != BUNDLE_KIND:
            raise BundleError(f"not a ledger bundle (kind must be {BUNDLE_KIND!r})")
        if data.get("v") != BUNDLE_VERSION:
            raise BundleError("unsupported bundle version")
        problems: list[str] = []
        items = data.get("events")
        if not isinstance(items, list):
            problems.append("bundle has no events list")
            items = []
        keys: list[KeyRecord] = []
        listed = data.get("keys") or []
        for item in listed if isinstance(listed, list) else [listed]:
            try:
                keys.append(KeyRecord.from_dict(item))
            except (KeyError, TypeError, ValueError):
                problems.append("malformed key history entry")
        asset = data.get("asset")
        checkpoint = data.get("checkpoint")
        return cls(
            origin=_text(data.get("origin")),
            log_key=_text(data.get("log_key")),
            checkpoint=checkpoint if isinstance(checkpoint, str) else None,
            size=_count(data.get("size")),
            root_hash=_text(data.get("root_hash")),
            asset=dict(asset) if isinstance(asset, Mapping) else {},
            keys=tuple(keys),
            events=tuple(BundleEvent.from_json(item) for item in items),
            consistency=_consistency(data.get("consistency")),
            problems=tuple(problems),
        )


def describe_asset(asset: Asset) -> dict[str, Any]:
    """The bundle's ``asset`` member: the asset as the server described it when bundling.

    Part of the bundle format, not of any API, so a change to how a face renders assets does
    not change what a bundle file holds.
    """
    key = asset.device_key
    return {
        "identity": asset_identity(asset.uuid),
        "uuid": asset.uuid,
        "attributes": asset.attributes,
        "require_signature": asset.require_signature,
        "device_key": {"alg": key.alg, "public_key": key.public_key} if key else None,
        "created_time": asset.created_time,
        "principal": asset.principal,
    }


def _consistency(value: Any) -> ConsistencyProof | None:
    if not isinstance(value, Mapping):
        return None
    first, hashes = value.get("first"), value.get("hashes")
    if not isinstance(first, int) or isinstance(first, bool):
        return None
    return ConsistencyProof(first, _texts(hashes) if isinstance(hashes, list) else [])


def _texts(items: list[Any]) -> list[str]:
    """Hex strings as given; anything else as ``""``, which decodes to no hash either."""
    return [item if isinstance(item, str) else "" for item in items]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
