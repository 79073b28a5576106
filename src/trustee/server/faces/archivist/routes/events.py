"""``/archivist/v2/assets/{uuid}/events``: post (a hot route), list and read events; ``-`` for
the asset lists every asset's events."""

from fastapi import APIRouter, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from trustee.core import Core
from trustee.errors import NotFound
from trustee.ledger.service import EventRequest
from trustee.server.asgi.gate import MISSING, parsed_body
from trustee.server.faces.archivist.errors import error_response, error_response_for
from trustee.server.faces.archivist.guard import authorize, bearer_token
from trustee.server.faces.archivist.routes.assets import principal
from trustee.server.faces.archivist.routes.common import (
    core_of,
    json,
    listing,
    size_or_default,
    tenant,
    wants_count,
)
from trustee.server.faces.archivist.wire import EventFilters, PostEvent, event_json, page_of

router = APIRouter(tags=["events"])

EVENTS_PATH = "/archivist/v2/assets/{asset}/events"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def post_event_route(core: Core) -> Route:
    """The gate's route for event posts: the operation clients call most skips FastAPI's
    per-request machinery, as the Vault face's does. A retry with the same ``Idempotency-Key``
    and body answers the event first appended."""

    async def endpoint(request: Request) -> Response:
        try:
            data = parsed_body(request)
            if data is MISSING:
                return error_response(400, "a JSON body is required")
            token = bearer_token(request.headers)
            if token is not None and core.tokens.cached(token) is not None:
                entry = authorize(core, request, "create")
            else:
                entry = await run_in_threadpool(authorize, core, request, "create")
            body = PostEvent.model_validate(data)
            if body.public:
                return error_response(400, "public events are not supported")
            event = await core.ledger.post_event_async(
                EventRequest(
                    asset_uuid=request.path_params["asset"],
                    event_attributes=body.event_attributes,
                    asset_attributes=body.asset_attributes,
                    operation=body.operation,
                    behaviour=body.behaviour,
                    timestamp_declared=body.timestamp_declared,
                    principal_declared=body.principal_declared,
                    principal_accepted=principal(entry),
                    idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
                )
            )
            return json(event_json(event, tenant(core)))
        except Exception as exc:  # mapped by the face's one table; 500 logs the type only
            return error_response_for(request, _validation(exc))

    return Route(EVENTS_PATH, endpoint, methods=["POST"])


@router.post(EVENTS_PATH)
def create_event(
    asset: str,
    body: PostEvent,
    idempotency_key: str | None = Header(None, alias=IDEMPOTENCY_HEADER),
) -> Response:
    """Appends an event to the asset's history and the log; a retry with the same
    ``Idempotency-Key`` and body answers the event first appended.

    Served by the request gate (:func:`post_event_route`); this route only puts the operation
    in the OpenAPI document, and fails loudly if a request ever reaches it."""
    raise RuntimeError(f"{EVENTS_PATH} is served by the request gate")


def _validation(exc: Exception) -> Exception:
    if isinstance(exc, ValidationError):
        return RequestValidationError(exc.errors())
    return exc


@router.get(EVENTS_PATH)
def list_events(request: Request, asset: str) -> Response:
    core = core_of(request)
    authorize(core, request, "list")
    filters = EventFilters(request.query_params)
    size, token = page_of(request.query_params)
    scope = None if asset == "-" else asset
    count = None
    if filters.none:
        if scope is not None:
            core.ledger.read_asset(scope)  # a missing asset is 404 whatever the filter
        events, next_token = [], None
        count = 0 if wants_count(request) else None
    else:
        events, next_token = core.ledger.list_events(
            scope,
            **filters.service_filters(),
            page_size=size_or_default(size),
            page_token=token,
        )
        if wants_count(request):
            count = core.ledger.count_events(scope, **filters.service_filters(), page_token=token)
    rendered = [event_json(event, tenant(core)) for event in events]
    return listing("events", rendered, next_token, count)


@router.get("/archivist/v2/assets/{asset}/events/{event}")
def read_event(request: Request, asset: str, event: str) -> Response:
    core = core_of(request)
    authorize(core, request, "read")
    found = core.ledger.read_event(event)
    if found.asset_uuid != asset:
        raise NotFound(f"no event {event!r} on asset {asset!r}")
    return json(event_json(found, tenant(core)))
