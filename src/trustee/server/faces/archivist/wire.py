"""DataTrails' wire shapes: request bodies, query filters, and assets, events and application
registrations as the SDK reads them (plain JSON, no envelope).

trustee commits an event to its transparency log before it answers, so every object is
``CONFIRMED`` from its first read and the SDK's ``confirm=True`` returns at once. Fields that
describe DataTrails' own infrastructure (blockchain transaction ids and the like) are answered
empty; ``trustee_log_index`` says where an event is in trustee's log.
"""

from __future__ import annotations

import uuid as uuid_module
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import QueryParams

from trustee.auth.applications import Application
from trustee.errors import InvalidRequest
from trustee.ledger.models import Asset, Event, asset_identity, event_identity
from trustee.ledger.records import rfc3339

__all__ = [
    "CONFIRMED",
    "AssetFilters",
    "CreateAsset",
    "EventFilters",
    "PostEvent",
    "application_json",
    "asset_json",
    "event_json",
    "tenant_of",
]

CONFIRMED = "CONFIRMED"
_FINAL = frozenset({"CONFIRMED", "COMMITTED", "UNEQUIVOCAL"})
_NEVER = frozenset({"PENDING", "STORED", "FAILED"})
_PAGING = frozenset({"page_size", "page_token", "next_page_token", "order_by"})


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateAsset(_Body):
    attributes: dict[str, Any] = Field(default_factory=dict)
    behaviours: list[str] = Field(default_factory=list, max_length=16)
    public: bool = False
    proof_mechanism: str | None = Field(None, max_length=64)
    storage_integrity: str | None = Field(None, max_length=64)
    chain_id: str | None = Field(None, max_length=64)


class PostEvent(_Body):
    operation: str = Field("Record", max_length=256)
    behaviour: str = Field("RecordEvidence", max_length=256)
    event_attributes: dict[str, Any] = Field(default_factory=dict)
    asset_attributes: dict[str, Any] = Field(default_factory=dict)
    timestamp_declared: str | None = Field(None, max_length=64)
    principal_declared: dict[str, Any] | None = None
    public: bool = False


def tenant_of(origin: str) -> str:
    """This deployment as a DataTrails tenant: one stable identity per log origin."""
    return f"tenant/{uuid_module.uuid5(uuid_module.NAMESPACE_URL, origin)}"


def asset_json(asset: Asset, tenant: str) -> dict[str, Any]:
    return {
        "identity": asset_identity(asset.uuid),
        "behaviours": ["RecordEvidence"],
        "attributes": asset.attributes,
        "confirmation_status": CONFIRMED,
        "tracked": "TRACKED",
        "owner": "",
        "at_time": rfc3339(datetime.now(UTC).timestamp()),
        "storage_integrity": "TENANT_STORAGE",
        "proof_mechanism": "SIMPLE_HASH",
        "chain_id": "",
        "public": False,
        "tenant_identity": tenant,
        "created_time": asset.created_time,
        "trustee_key_history": [record.to_dict() for record in asset.key_history],
    }


def event_json(event: Event, tenant: str) -> dict[str, Any]:
    accepted = event.principal_accepted
    return {
        "identity": event_identity(event.asset_uuid, event.uuid),
        "asset_identity": asset_identity(event.asset_uuid),
        "operation": event.operation,
        "behaviour": event.behaviour,
        "event_attributes": event.event_attributes,
        "asset_attributes": event.asset_attributes,
        "timestamp_declared": event.timestamp_declared or event.timestamp_accepted,
        "timestamp_accepted": event.timestamp_accepted,
        "timestamp_committed": event.timestamp_accepted,
        "principal_declared": event.principal_declared or {},
        "principal_accepted": {
            "issuer": "trustee",
            "subject": accepted.get("accessor", ""),
            "display_name": accepted.get("display_name", ""),
            "email": "",
        },
        "confirmation_status": CONFIRMED,
        "transaction_id": "",
        "block_number": 0,
        "transaction_index": 0,
        "from": "",
        "tenant_identity": tenant,
        "trustee_log_index": event.log_index,
    }


def application_json(app: Application, tenant: str) -> dict[str, Any]:
    """A registration; ``credentials`` holds the secret only in the answer that made it."""
    credential: dict[str, Any] = {
        "valid_from": rfc3339(app.secret_valid_from),
        "expiry_time": rfc3339(app.secret_expiry),
    }
    if app.secret is not None:
        credential["secret"] = app.secret
    return {
        "identity": f"applications/{app.uuid}",
        "display_name": app.display_name,
        "client_id": app.client_id,
        "tenant_id": tenant,
        "credentials": [credential],
        "custom_claims": app.custom_claims,
        "policies": app.policies,
    }


class AssetFilters:
    """``attributes.K=V`` (ANDed), ``confirmation_status``, ``tracked``; anything else is
    refused rather than ignored, so a filter is never silently dropped."""

    def __init__(self, query: QueryParams) -> None:
        self.attributes: dict[str, str] = {}
        self.none = False
        for name, value in query.multi_items():
            if name.startswith("attributes."):
                self.attributes[name.removeprefix("attributes.")] = value
            elif name == "confirmation_status":
                self.none |= _status_excludes(value)
            elif name == "tracked":
                self.none |= value != "TRACKED"
            elif name not in _PAGING:
                raise InvalidRequest(f"unsupported filter {name!r}")


class EventFilters:
    """``event_attributes.K=V``, ``asset_attributes.K=V``, ``operation``, ``behaviour``,
    ``confirmation_status``, ``timestamp_accepted_since``/``_before``."""

    def __init__(self, query: QueryParams) -> None:
        self.attributes: dict[str, str] = {}
        self.asset_attributes: dict[str, str] = {}
        self.options: dict[str, str | None] = {
            "operation": None,
            "behaviour": None,
            "since": None,
            "before": None,
        }
        self.none = False
        for name, value in query.multi_items():
            if name.startswith("event_attributes."):
                self.attributes[name.removeprefix("event_attributes.")] = value
            elif name.startswith("asset_attributes."):
                self.asset_attributes[name.removeprefix("asset_attributes.")] = value
            elif name in ("operation", "behaviour"):
                self.options[name] = value
            elif name in ("timestamp_accepted_since", "timestamp_accepted_before"):
                self.options[name.removeprefix("timestamp_accepted_")] = value
            elif name == "confirmation_status":
                self.none |= _status_excludes(value)
            elif name not in _PAGING:
                raise InvalidRequest(f"unsupported filter {name!r}")

    def service_filters(self) -> dict[str, Any]:
        return {
            "attributes": self.attributes,
            "asset_attributes": self.asset_attributes,
            **self.options,
        }


def _status_excludes(value: str) -> bool:
    """Whether a ``confirmation_status`` filter excludes everything (all is confirmed)."""
    if value in _FINAL:
        return value != CONFIRMED
    if value in _NEVER:
        return True
    raise InvalidRequest(f"unknown confirmation_status {value!r}")


def page_of(query: QueryParams) -> tuple[int | None, str | None]:
    """``page_size`` (None: the service's default) and the token, by either name."""
    size = query.get("page_size")
    token = query.get("page_token") or query.get("next_page_token")
    if size in (None, ""):
        return None, token
    try:
        return int(size), token
    except ValueError as exc:
        raise InvalidRequest("page_size must be an integer") from exc
