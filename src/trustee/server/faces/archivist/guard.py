"""Who is calling and what they may do: ``Authorization: Bearer <server token>``, and the ACL
resource of a request, which is its path without the leading ``/``.

So a policy names exactly what a DataTrails client calls, e.g.::

    path "archivist/v2/assets"            { capabilities = ["create", "list"] }
    path "archivist/v2/assets/+"          { capabilities = ["read"] }
    path "archivist/v2/assets/+/events"   { capabilities = ["create", "list"] }
    path "archivist/v2/assets/-/events"   { capabilities = ["list"] }   # every asset's events
    path "archivist/v2/assets/+/events/+" { capabilities = ["read"] }
    path "archivist/iam/v1/applications*" { capabilities = ["create", "read", "list",
                                                            "update", "delete"] }

A collection is listed with ``list`` and an object read with ``read``; posts ``create``,
``PATCH`` and ``:regenerate-secret`` ``update``, ``DELETE`` ``delete``. The token exchange
(``iam/v1/appidp/token``) takes no token. The decision itself is the one every face makes
(:func:`trustee.server.access.authorize`).
"""

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Scope

from trustee.auth.token_store import TokenEntry
from trustee.core import Core
from trustee.errors import Unauthenticated
from trustee.server import access

__all__ = ["authorize", "bearer_token", "resource_of", "token_of_scope"]


def bearer_token(headers: Headers) -> str | None:
    """The token of ``Authorization: Bearer``; the first of a repeated header."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def token_of_scope(scope: Scope) -> str | None:
    return bearer_token(Headers(scope=scope))


def resource_of(request: Request) -> str:
    return request.url.path.lstrip("/")


def authorize(core: Core, request: Request, *capabilities: str) -> TokenEntry:
    token = bearer_token(request.headers)
    if token is None:
        core.barrier.check_unsealed()
        raise Unauthenticated("no bearer token")
    return access.authorize(core, token, resource_of(request), *capabilities)
