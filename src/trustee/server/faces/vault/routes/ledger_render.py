"""How the Vault face writes the ledger's records (docs/api.md §9): the JSON shapes of ``ledger/``.

The services answer typed records (:mod:`trustee.ledger.models`); names such as
``"identity": "assets/<uuid>"`` and the order of members are this face's choice, made here
once, and what the browser explorer and the CLI read. An event is written as its stored
entry (:meth:`trustee.ledger.models.Event.to_record`), so what a client reads is what the log
holds. Bundles are a document of their own (:meth:`trustee.ledger.bundle.Bundle.to_json`).
"""

from typing import Any

from trustee.ledger.evidence import KeyRecord
from trustee.ledger.models import (
    Asset,
    AssetVerdicts,
    Event,
    EventVerdict,
    asset_identity,
    event_identity,
)

__all__ = ["asset_json", "asset_verdicts_json", "event_json", "event_verdict_json"]


def asset_json(asset: Asset) -> dict[str, Any]:
    return {
        "identity": asset_identity(asset.uuid),
        "uuid": asset.uuid,
        "attributes": asset.attributes,
        "require_signature": asset.require_signature,
        "device_key": _device_key(asset.device_key),
        "key_history": [record.to_dict() for record in asset.key_history],
        "created_time": asset.created_time,
        "principal": asset.principal,
    }


def event_json(event: Event) -> dict[str, Any]:
    """An event as its stored entry spells it: this face shows clients what the log holds."""
    return event.to_record()


def event_verdict_json(verdict: EventVerdict) -> dict[str, Any]:
    return {
        "identity": event_identity(verdict.asset_uuid, verdict.event_uuid),
        "log_index": verdict.log_index,
        "status": verdict.status,
        "reason": verdict.reason,
    }


def asset_verdicts_json(verdicts: AssetVerdicts) -> dict[str, Any]:
    return {
        "identity": asset_identity(verdicts.asset_uuid),
        "events": [event_verdict_json(event) for event in verdicts.events],
        "counts": verdicts.counts,
    }


def _device_key(record: KeyRecord | None) -> dict[str, str] | None:
    return None if record is None else {"alg": record.alg, "public_key": record.public_key}
