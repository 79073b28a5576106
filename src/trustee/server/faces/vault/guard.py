"""The dependency every protected route declares: unsealed, a live token, and permission.

The ACL path is the request path below ``/v1/``, as in Vault, so a policy names exactly what a
client calls, with one exception that keeps it one path per resource: a path parameter that
has several spellings of one resource (an address in any case, a policy name) is written in
its one form first, so a policy on ``trustee/addresses/<EIP-55>`` is not bypassed by the
lower-case spelling of the same address.
"""

from collections.abc import Callable

from fastapi import Depends, Request

from trustee.auth.policy_names import policy_name
from trustee.auth.token_store import TokenEntry
from trustee.core import Core
from trustee.crypto.address import parse_address
from trustee.errors import PermissionDenied, TrusteeError
from trustee.server import access
from trustee.server.faces.vault import conventions

_CANONICAL: dict[str, Callable[[str], str]] = {"address": parse_address, "policy": policy_name}
"""Path parameters whose value has one form, by name, and the function that gives it."""


def core_of(request: Request) -> Core:
    return request.app.state.core


def client_token(request: Request) -> str | None:
    return conventions.client_token(request.headers)


def acl_path(request: Request) -> str:
    """The request path below ``/v1/``, each aliasing parameter in its one form."""
    scope = request.scope
    path: str = scope["path"]
    params = scope.get("path_params") or {}
    route = scope.get("route")
    if route is not None and not _CANONICAL.keys().isdisjoint(params):
        # The route's template may lack the prefix of the router that mounts it: it names the
        # last segments of the path, so each parameter is replaced where the template has it.
        template = route.path_format.strip("/").split("/")
        segments = path.strip("/").split("/")
        offset = len(segments) - len(template)
        for index, part in enumerate(template):
            name = part[1:-1] if part.startswith("{") and part.endswith("}") else None
            if name in _CANONICAL and name in params and offset + index >= 0:
                segments[offset + index] = _canonical(name, params[name])
        path = "/" + "/".join(segments)
    return path.removeprefix("/v1/")


def _canonical(name: str, value: str) -> str:
    canonical = _CANONICAL.get(name)
    if canonical is None:
        return value
    try:
        return canonical(value)
    except (ValueError, TrusteeError):  # not a valid one: the route refuses it anyway
        return value


def authorize(request: Request, *capabilities: str) -> TokenEntry:
    """The caller's token entry once the barrier is open and every capability is granted."""
    core = core_of(request)
    token = client_token(request)
    if token is None:
        core.barrier.check_unsealed()  # sealed comes first, as in Vault
        raise PermissionDenied("permission denied: no token (X-Vault-Token or Bearer)")
    entry = access.authorize(core, token, acl_path(request), *capabilities)
    request.state.token_entry = entry
    return entry


def requires(*capabilities: str) -> Callable[..., TokenEntry]:
    """A dependency that yields the caller's token entry once every capability is granted."""

    def guard(request: Request) -> TokenEntry:
        return authorize(request, *capabilities)

    guard.wants_token = True  # type: ignore[attr-defined]  # read by the OpenAPI document
    return Depends(guard)


def unsealed(request: Request) -> Core:
    """For routes that need no token but do need the barrier open."""
    core = core_of(request)
    core.barrier.check_unsealed()
    return core
