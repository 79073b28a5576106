"""Verdicts on device evidence, shared by the server and the offline auditor (no I/O).

An event carries ``event_attributes.arc_evidence`` (text) and
``event_attributes.arc_evidence_signature`` (base64url of the device's signature over the UTF-8
bytes of the evidence), as in the RKVST signed-records sample. The verdict is one of:

* ``GOOD``: the signature verifies with the asset's key valid at the event's log index;
* ``BAD``: a signature is there but does not verify (truncated, forged, other key, no evidence);
* ``UNSIGNED``: no signature;
* ``NO_KEY``: signed, but the asset had no device key when the event was accepted.

The key in force for an event is the history entry with the largest ``valid_from_index`` not
above the event's ``log_index``: a rotation never changes the verdict of an older event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trustee.crypto.device import DeviceKey, parse_device_key, verify_evidence
from trustee.crypto.errors import CryptoError

__all__ = [
    "BAD",
    "EVIDENCE",
    "GOOD",
    "NO_KEY",
    "SIGNATURE",
    "STATUSES",
    "UNSIGNED",
    "DeviceKeys",
    "KeyRecord",
    "Verdict",
    "check_evidence",
    "key_for_index",
]

GOOD, BAD, UNSIGNED, NO_KEY = "GOOD", "BAD", "UNSIGNED", "NO_KEY"
STATUSES = (GOOD, BAD, UNSIGNED, NO_KEY)
EVIDENCE = "arc_evidence"
SIGNATURE = "arc_evidence_signature"


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str

    @property
    def good(self) -> bool:
        return self.status == GOOD

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class KeyRecord:
    """One entry of an asset's key history, as stored and as written in audit bundles."""

    seq: int
    alg: str
    public_key: str
    valid_from: str
    valid_from_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "alg": self.alg,
            "public_key": self.public_key,
            "valid_from": self.valid_from,
            "valid_from_index": self.valid_from_index,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyRecord:
        return cls(
            seq=int(data["seq"]),
            alg=str(data["alg"]),
            public_key=str(data["public_key"]),
            valid_from=str(data["valid_from"]),
            valid_from_index=int(data["valid_from_index"]),
        )

    def device_key(self) -> DeviceKey:
        return parse_device_key(self.alg, self.public_key)


class DeviceKeys:
    """Parsed device keys by ``(alg, public_key)``: parsing a key costs more than checking a
    signature with it, and the same few keys sign most events. Bounded; safe between threads
    (a race parses a key twice, which is harmless)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._keys: dict[tuple[str, str], DeviceKey] = {}

    def of(self, record: KeyRecord | None) -> DeviceKey | None:
        if record is None:
            return None
        slot = (record.alg, record.public_key)
        key = self._keys.get(slot)
        if key is None:
            key = DeviceKey(record.alg, record.public_key)
            if len(self._keys) >= self._limit:
                self._keys.clear()
            self._keys[slot] = key
        return key


def key_for_index(history: Sequence[KeyRecord], log_index: int) -> KeyRecord | None:
    """The key in force at ``log_index``: latest ``valid_from_index`` ≤ index (ties: latest seq)."""
    best: KeyRecord | None = None
    for record in history:
        if record.valid_from_index <= log_index and (
            best is None
            or (record.valid_from_index, record.seq) > (best.valid_from_index, best.seq)
        ):
            best = record
    return best


def check_evidence(event_attributes: Any, key: DeviceKey | KeyRecord | None) -> Verdict:
    """The verdict on one event's evidence under ``key`` (the key in force, or None)."""
    attributes = event_attributes if isinstance(event_attributes, Mapping) else {}
    signature = attributes.get(SIGNATURE)
    if signature is None or signature == "":
        return Verdict(UNSIGNED, "no arc_evidence_signature")
    if key is None:
        return Verdict(NO_KEY, "the asset had no device key when the event was accepted")
    if isinstance(key, KeyRecord):
        try:
            key = key.device_key()
        except CryptoError:
            return Verdict(BAD, "device_key_unusable")
    evidence = attributes.get(EVIDENCE)
    if evidence is None:
        return Verdict(BAD, "evidence_missing")
    ok, reason = verify_evidence(key, evidence, signature)
    return Verdict(GOOD if ok else BAD, reason)
