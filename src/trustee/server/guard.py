"""The dependency every protected route declares: unsealed, a live token, and permission.

The ACL path is the request path below ``/v1/``, as in Vault, so a policy names exactly what a
client calls.
"""

from collections.abc import Callable

from fastapi import Depends, Request

from trustee.auth.token_store import TokenEntry
from trustee.core import Core
from trustee.errors import PermissionDenied


def core_of(request: Request) -> Core:
    return request.app.state.core


def client_token(request: Request) -> str | None:
    token = request.headers.get("x-vault-token")
    if token:
        return token
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    # The scheme is no secret; compare_digest would also raise on non-ASCII header text.
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return None


def acl_path(request: Request) -> str:
    return request.scope["path"].removeprefix("/v1/")


def authorize(request: Request, *capabilities: str) -> TokenEntry:
    """The caller's token entry once the barrier is open and every capability is granted."""
    core = core_of(request)
    core.barrier.check_unsealed()
    token = client_token(request)
    if token is None:
        raise PermissionDenied("permission denied: no token (X-Vault-Token or Bearer)")
    entry = core.tokens.lookup(token)
    if entry is None:
        raise PermissionDenied("permission denied: invalid or expired token")
    path = acl_path(request)
    for capability in capabilities:
        if not core.authorizer.allowed(entry, path, capability):
            raise PermissionDenied(f"permission denied: {capability} on {path}")
    request.state.token_entry = entry
    return entry


def requires(*capabilities: str) -> Callable[..., TokenEntry]:
    """A dependency that yields the caller's token entry once every capability is granted."""

    def guard(request: Request) -> TokenEntry:
        return authorize(request, *capabilities)

    return Depends(guard)


def unsealed(request: Request) -> Core:
    """For routes that need no token but do need the barrier open."""
    core = core_of(request)
    core.barrier.check_unsealed()
    return core
