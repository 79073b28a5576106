"""``auth/token/``: server tokens (Vault's token store), stored only as hashes."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from trustee.auth.policy_names import ROOT
from trustee.auth.token_rules import child_token_policies
from trustee.auth.token_store import IssuedServerToken, TokenEntry
from trustee.errors import InvalidRequest
from trustee.server.faces.vault.common import Body, write
from trustee.server.faces.vault.envelope import ORJSONResponse, no_content, ok
from trustee.server.faces.vault.guard import client_token, core_of, requires

router = APIRouter(tags=["auth/token"])


class CreateTokenRequest(Body):
    policies: list[str] | None = Field(None, max_length=64)
    ttl: str | int | None = None
    explicit_max_ttl: str | int | None = None
    renewable: bool = True
    display_name: str = Field("token", max_length=128)
    meta: dict[str, str] | None = None
    no_parent: bool = False
    no_default_policy: bool = False
    num_uses: int = Field(0, ge=0, description="Only 0 (unlimited) is supported.")
    type: str | None = Field(None, pattern="^(service|default)$")


class RenewRequest(Body):
    increment: str | int | None = None


def auth_block(issued: IssuedServerToken, *, orphan: bool) -> dict[str, Any]:
    return {
        "client_token": issued.client_token,
        "accessor": issued.accessor,
        "policies": issued.policies,
        "token_policies": issued.policies,
        "metadata": issued.metadata,
        "lease_duration": issued.lease_duration,
        "renewable": issued.renewable,
        "entity_id": "",
        "token_type": "service",
        "orphan": orphan,
    }


def lookup_data(entry: TokenEntry, token: str) -> dict[str, Any]:
    """Vault's ``lookup-self`` fields. ``id`` is the caller's own token, as Vault answers it:
    the caller sent it, and the audit device hashes it like every other string."""
    return {
        "id": token,
        "accessor": entry.accessor,
        "policies": entry.policies,
        "meta": entry.metadata,
        "display_name": entry.display_name,
        "creation_time": int(entry.created_time),
        "issue_time": _rfc3339(entry.created_time),
        "expire_time": None if entry.expire_time is None else _rfc3339(entry.expire_time),
        "ttl": entry.remaining(),
        "creation_ttl": entry.ttl,
        "explicit_max_ttl": entry.explicit_max_ttl,
        "renewable": entry.renewable,
        "orphan": entry.parent_accessor is None,
        "path": _creation_path(entry),
        "num_uses": 0,
        "entity_id": "",
        "type": "service",
    }


def _rfc3339(seconds: float) -> str:
    """Vault's time format: RFC 3339 in UTC with the fraction it has (``…T12:00:00.5Z``)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _creation_path(entry: TokenEntry) -> str:
    """The path that made the token, as Vault reports it. The store keeps no path, so it is
    read from what each path writes: ``sys/init`` (and ``--dev``) make the one root token
    with display name ``root`` and no parent; a login puts ``role`` and ``issuer`` in the
    metadata and names the token ``trustee-…``; everything else came from
    ``auth/token/create``."""
    if entry.display_name == "root" and ROOT in entry.policies and entry.parent_accessor is None:
        return "auth/token/root"
    login_keys = {"role", "issuer"} <= entry.metadata.keys()
    if login_keys and entry.display_name.startswith("trustee-"):
        return "auth/trustee/login"
    return "auth/token/create"


@write(router, "/auth/token/create")
def create_token(
    request: Request, body: CreateTokenRequest, caller: TokenEntry = requires("update")
) -> ORJSONResponse:
    if body.num_uses:
        raise InvalidRequest("num_uses is not supported; use a ttl")
    core = core_of(request)
    policies = child_token_policies(
        caller,
        body.policies,
        no_default_policy=body.no_default_policy,
        no_parent=body.no_parent,
        authorizer=core.authorizer,
    )
    issued = core.tokens.create(
        policies,
        ttl=body.ttl,
        renewable=body.renewable,
        explicit_max_ttl=body.explicit_max_ttl,
        metadata=body.meta,
        display_name=body.display_name,
        parent_accessor=None if body.no_parent else caller.accessor,
    )
    return ok(None, auth=auth_block(issued, orphan=body.no_parent))


@router.get("/auth/token/lookup-self")
@router.post("/auth/token/lookup-self", include_in_schema=False)
def lookup_self(request: Request, caller: TokenEntry = requires("read")) -> ORJSONResponse:
    return ok(lookup_data(caller, client_token(request) or ""))


@write(router, "/auth/token/renew-self")
def renew_self(
    request: Request, body: RenewRequest | None = None, caller: TokenEntry = requires("update")
) -> ORJSONResponse:
    token = client_token(request) or ""
    increment = body.increment if body is not None else None
    entry = core_of(request).tokens.renew(token, increment)
    return ok(
        None,
        auth={
            "accessor": entry.accessor,
            "policies": entry.policies,
            "token_policies": entry.policies,
            "metadata": entry.metadata,
            "lease_duration": entry.remaining(),
            "renewable": entry.renewable,
        },
    )


@write(router, "/auth/token/revoke-self", status_code=204)
def revoke_self(request: Request, _: TokenEntry = requires("update")):
    core_of(request).tokens.revoke(client_token(request) or "")
    return no_content()
