"""``ledger/``: assets, device-signed events and the transparency log (docs/api.md §9)."""

import base64
from typing import Any

from fastapi import APIRouter, Header, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from trustee.auth.token_store import TokenEntry
from trustee.errors import InvalidRequest
from trustee.ledger.paging import DEFAULT_PAGE_SIZE
from trustee.ledger.service import EventRequest, LedgerService
from trustee.server.faces.vault.common import Body, is_list, write
from trustee.server.faces.vault.envelope import ORJSONResponse, ok
from trustee.server.faces.vault.fast import FastOperation
from trustee.server.faces.vault.guard import client_token, core_of, requires
from trustee.server.faces.vault.routes.ledger_render import (
    asset_json,
    asset_verdicts_json,
    event_json,
    event_verdict_json,
)

router = APIRouter(tags=["ledger"])


IDEMPOTENCY_HEADER = "Idempotency-Key"


def ledger_of(request: Request) -> LedgerService:
    return core_of(request).ledger


def principal(entry: TokenEntry) -> dict[str, Any]:
    """Who posted, as the log records it: accessor and display name, never the token."""
    return {"accessor": entry.accessor, "display_name": entry.display_name}


class DeviceKeyBody(Body):
    alg: str = Field(max_length=16)
    public_key: str | dict[str, Any]


class CreateAsset(Body):
    attributes: dict[str, Any] = Field(default_factory=dict)
    device_key: DeviceKeyBody | None = None
    require_signature: bool = False


class RotateKey(Body):
    device_key: DeviceKeyBody


class PostEvent(Body):
    operation: str = Field("Record", max_length=256)
    behaviour: str = Field("RecordEvidence", max_length=256)
    event_attributes: dict[str, Any] = Field(default_factory=dict)
    asset_attributes: dict[str, Any] = Field(default_factory=dict)
    timestamp_declared: str | None = Field(None, max_length=64)
    principal_declared: dict[str, Any] | None = None


def _int(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be an integer") from exc


def _page_size(request: Request) -> int:
    """``page_size`` as given (the service refuses what is out of range), 100 when absent."""
    value = _int(request, "page_size")
    return DEFAULT_PAGE_SIZE if value is None else value


def _required_int(request: Request, name: str) -> int:
    value = _int(request, name)
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


# --- assets --------------------------------------------------------------------------------


@write(router, "/ledger/assets")
def create_asset(
    request: Request,
    body: CreateAsset,
    entry: TokenEntry = requires("create"),
    idempotency_key: str | None = Header(None, alias=IDEMPOTENCY_HEADER, max_length=255),
) -> ORJSONResponse:
    """A retry with the same ``Idempotency-Key`` and body answers the asset first created."""
    asset = ledger_of(request).create_asset(
        body.attributes,
        body.device_key.model_dump() if body.device_key else None,
        require_signature=body.require_signature,
        principal=principal(entry),
        idempotency_key=idempotency_key,
    )
    return ok(asset_json(asset))


@router.get("/ledger/assets")
def list_assets(request: Request, _: TokenEntry = requires("list")) -> ORJSONResponse:
    """Filter: ``attributes.K=v`` (ANDed, equality on the string form of a value); paging with
    ``page_size`` and ``next_page_token`` (the token keeps the filters)."""
    attributes = {
        name.removeprefix("attributes."): value
        for name, value in request.query_params.multi_items()
        if name.startswith("attributes.")
    }
    keys, token = ledger_of(request).list_assets(
        attributes=attributes,
        page_size=_page_size(request),
        page_token=request.query_params.get("next_page_token")
        or request.query_params.get("page_token"),
    )
    return ok({"keys": keys, "next_page_token": token})


@router.get("/ledger/assets/{asset}")
def read_asset(request: Request, asset: str, _: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(asset_json(ledger_of(request).read_asset(asset)))


@write(router, "/ledger/assets/{asset}/keys")
def rotate_key(
    request: Request, asset: str, body: RotateKey, _: TokenEntry = requires("update")
) -> ORJSONResponse:
    return ok(asset_json(ledger_of(request).rotate_key(asset, body.device_key.model_dump())))


@router.get("/ledger/assets/{asset}/verify")
@write(router, "/ledger/assets/{asset}/verify")
def verify_asset(request: Request, asset: str, _: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(asset_verdicts_json(ledger_of(request).verify_asset(asset)))


@router.get("/ledger/assets/{asset}/bundle")
def bundle(request: Request, asset: str, _: TokenEntry = requires("read")) -> ORJSONResponse:
    made = ledger_of(request).bundle(asset, older_size=_int(request, "older_size"))
    return ok(made.to_json())


# --- events --------------------------------------------------------------------------------


def _event_request(
    asset: str, body: PostEvent, entry: TokenEntry, idempotency_key: str | None
) -> EventRequest:
    return EventRequest(
        asset_uuid=asset,
        event_attributes=body.event_attributes,
        asset_attributes=body.asset_attributes,
        operation=body.operation,
        behaviour=body.behaviour,
        timestamp_declared=body.timestamp_declared,
        principal_declared=body.principal_declared,
        principal_accepted=principal(entry),
        idempotency_key=idempotency_key,
    )


async def fast_post_event(operation: FastOperation, request: Request) -> Response:
    """Append an event to the asset's record and the log; answered once it is durable.

    A retry with the same ``Idempotency-Key`` header and body answers the event first appended
    (the same id and log index), on any replica; the same key with another body is 409. The
    caller awaits its batch's commit on the event loop instead of holding a worker thread
    through it.
    """
    data = await operation.data(request)
    core = core_of(request)
    token = client_token(request)
    if token is not None and core.tokens.cached(token) is not None:
        entry = operation.authorize(request)
    else:
        entry = await run_in_threadpool(operation.authorize, request)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    event = _event_request(request.path_params["asset"], operation.validate(data), entry, key)
    return ok(event_json(await core.ledger.post_event_async(event)))


FAST_OPERATIONS = (
    FastOperation(
        "/ledger/assets/{asset}/events",
        PostEvent,
        "create",
        fast_post_event,
        "ledger",
        headers=(IDEMPOTENCY_HEADER,),
    ),
)


@router.get("/ledger/assets/{asset}/events")
def list_events(request: Request, asset: str, _: TokenEntry = requires("read")) -> ORJSONResponse:
    """Filters: ``event_attributes.K=v`` (or ``attr.K=v``), ``asset_attributes.K=v``,
    ``operation``, ``behaviour``, ``since``/``before`` (RFC 3339 or unix seconds); paging with
    ``page_size`` and ``next_page_token``. ``assets/-/events`` lists every asset's events."""
    query = request.query_params
    attributes: dict[str, str] = {}
    asset_attributes: dict[str, str] = {}
    for name, value in query.multi_items():
        if name.startswith("event_attributes."):
            attributes[name.removeprefix("event_attributes.")] = value
        elif name.startswith("attr."):
            attributes[name.removeprefix("attr.")] = value
        elif name.startswith("asset_attributes."):
            asset_attributes[name.removeprefix("asset_attributes.")] = value
    events, token = ledger_of(request).list_events(
        None if asset == "-" else asset,
        attributes=attributes,
        asset_attributes=asset_attributes,
        operation=query.get("operation"),
        behaviour=query.get("behaviour"),
        since=query.get("since") or query.get("timestamp_accepted_since"),
        before=query.get("before") or query.get("timestamp_accepted_before"),
        page_size=_page_size(request),
        page_token=query.get("next_page_token") or query.get("page_token"),
    )
    if is_list(request):
        keys = [event.uuid for event in events]
        return ok({"keys": keys, "next_page_token": token})
    return ok({"events": [event_json(event) for event in events], "next_page_token": token})


@router.get("/ledger/events/{event}")
def read_event(request: Request, event: str, _: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(event_json(ledger_of(request).read_event(event)))


@router.get("/ledger/events/{event}/verify")
@write(router, "/ledger/events/{event}/verify")
def verify_event(request: Request, event: str, _: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(event_verdict_json(ledger_of(request).verify_event(event)))


# --- log -----------------------------------------------------------------------------------


@router.get("/ledger/log/checkpoint")
def checkpoint(request: Request, _: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(ledger_of(request).checkpoint())


@router.get("/ledger/log/proof/inclusion")
def inclusion_proof(request: Request, _: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(
        ledger_of(request).inclusion_proof(_required_int(request, "index"), _int(request, "size"))
    )


@router.get("/ledger/log/proof/consistency")
def consistency_proof(request: Request, _: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(
        ledger_of(request).consistency_proof(
            _required_int(request, "first"), _int(request, "second")
        )
    )


@router.get("/ledger/log/entries")
def entries(request: Request, _: TokenEntry = requires("read")) -> ORJSONResponse:
    start = _required_int(request, "start")
    end = _required_int(request, "end")
    leaves = ledger_of(request).entries(start, end)
    encoded = [base64.b64encode(leaf).decode("ascii") for leaf in leaves]
    return ok({"start": start, "end": start + len(encoded), "entries": encoded})


@router.get("/ledger/log/public-key")
def public_key(request: Request, _: TokenEntry = requires("read")) -> ORJSONResponse:
    service = ledger_of(request)
    return ok({"key": service.public_key(), "origin": service.origin})
