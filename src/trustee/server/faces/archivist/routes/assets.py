"""``/archivist/v2/assets``: create, list (filters, pages, counts) and read assets."""

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from trustee.errors import InvalidRequest
from trustee.server.faces.archivist.guard import authorize
from trustee.server.faces.archivist.routes.common import (
    core_of,
    json,
    listing,
    size_or_default,
    tenant,
    wants_count,
)
from trustee.server.faces.archivist.wire import AssetFilters, CreateAsset, asset_json, page_of

router = APIRouter(tags=["assets"])


def principal(entry: object) -> dict[str, str]:
    return {"accessor": entry.accessor, "display_name": entry.display_name}  # type: ignore[attr-defined]


@router.post("/archivist/v2/assets")
def create_asset(
    request: Request,
    body: CreateAsset,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=255),
) -> Response:
    """``behaviours``, ``proof_mechanism`` and the other DataTrails properties are taken and
    not stored: every asset records evidence on trustee's one log. ``public`` assets (readable
    without a token) do not exist here, so ``public: true`` is refused rather than ignored."""
    core = core_of(request)
    entry = authorize(core, request, "create")
    if body.public:
        raise InvalidRequest("public assets are not supported")
    asset = core.ledger.create_asset(
        body.attributes, principal=principal(entry), idempotency_key=idempotency_key
    )
    return json(asset_json(asset, tenant(core)))


@router.get("/archivist/v2/assets")
def list_assets(request: Request) -> Response:
    core = core_of(request)
    authorize(core, request, "list")
    filters = AssetFilters(request.query_params)
    size, token = page_of(request.query_params)
    count = None
    if filters.none:
        assets, next_token = [], None
        count = 0 if wants_count(request) else None
    else:
        assets, next_token = core.ledger.find_assets(
            attributes=filters.attributes, page_size=size_or_default(size), page_token=token
        )
        if wants_count(request):
            count = core.ledger.count_assets(attributes=filters.attributes, page_token=token)
    rendered = [asset_json(asset, tenant(core)) for asset in assets]
    return listing("assets", rendered, next_token, count)


@router.get("/archivist/v2/assets/{asset}")
def read_asset(request: Request, asset: str) -> Response:
    core = core_of(request)
    authorize(core, request, "read")
    return json(asset_json(core.ledger.read_asset(asset), tenant(core)))
