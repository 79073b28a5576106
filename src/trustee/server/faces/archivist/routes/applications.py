"""``/archivist/iam/v1/applications`` (registrations) and ``/archivist/iam/v1/appidp/token``
(their client credentials exchanged for a bearer token)."""

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from trustee.auth.applications import TOKEN_TTL
from trustee.errors import InvalidRequest, Unauthenticated
from trustee.server.faces.archivist.guard import authorize
from trustee.server.faces.archivist.routes.common import core_of, json, listing, tenant
from trustee.server.faces.archivist.wire import application_json

router = APIRouter(tags=["applications"])

APPLICATIONS = "/archivist/iam/v1/applications"


class ApplicationBody(BaseModel):
    """DataTrails' fields, and ``policies``: the trustee policies its tokens carry (never
    ``root``). Without them the application's tokens have only ``default``."""

    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(None, max_length=200)
    custom_claims: dict[str, str] | None = None
    policies: list[str] | None = None


@router.post(APPLICATIONS)
def create_application(request: Request, body: ApplicationBody) -> Response:
    core = core_of(request)
    authorize(core, request, "create")
    if body.display_name is None:
        raise InvalidRequest("display_name is required")
    app = core.applications.create(body.display_name, body.custom_claims, body.policies)
    return json(application_json(app, tenant(core)))


@router.get(APPLICATIONS)
def list_applications(request: Request) -> Response:
    core = core_of(request)
    authorize(core, request, "list")
    apps = core.applications.list(request.query_params.get("display_name"))
    rendered = [application_json(app, tenant(core)) for app in apps]
    return listing("applications", rendered, None, len(rendered))


@router.get(APPLICATIONS + "/{uuid}")
def read_application(request: Request, uuid: str) -> Response:
    core = core_of(request)
    authorize(core, request, "read")
    return json(application_json(core.applications.read(uuid), tenant(core)))


@router.patch(APPLICATIONS + "/{uuid}")
def update_application(request: Request, uuid: str, body: ApplicationBody) -> Response:
    core = core_of(request)
    authorize(core, request, "update")
    app = core.applications.update(
        uuid,
        display_name=body.display_name,
        custom_claims=body.custom_claims,
        policies=body.policies,
    )
    return json(application_json(app, tenant(core)))


@router.delete(APPLICATIONS + "/{uuid}")
def delete_application(request: Request, uuid: str) -> Response:
    core = core_of(request)
    authorize(core, request, "delete")
    core.applications.delete(uuid)
    return json({})


@router.post(APPLICATIONS + "/{uuid}:regenerate-secret")
def regenerate_secret(request: Request, uuid: str) -> Response:
    core = core_of(request)
    authorize(core, request, "update")
    return json(application_json(core.applications.regenerate(uuid), tenant(core)))


@router.post("/archivist/iam/v1/appidp/token")
async def token(request: Request) -> Response:
    """OAuth 2 client credentials (RFC 6749 §4.4), form-encoded as the SDK sends them."""
    core = core_of(request)
    core.barrier.check_unsealed()
    form = _form(await request.body())
    if form.get("grant_type") != "client_credentials":
        raise InvalidRequest("grant_type must be client_credentials")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if not client_id or not secret:
        raise Unauthenticated("invalid client credentials")
    issued = core.applications.exchange(client_id, secret)
    return json(
        {
            "access_token": issued.client_token,
            "token_type": "Bearer",
            "expires_in": issued.lease_duration or TOKEN_TTL,
        }
    )


def _form(body: bytes) -> dict[str, Any]:
    try:
        parsed = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=10)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the body must be a form (application/x-www-form-urlencoded)") from exc
    return {name: values[0] for name, values in parsed.items()}
