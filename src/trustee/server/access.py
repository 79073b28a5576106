"""The access layer every face goes through: a token, a resource, the capabilities it needs.

Faces differ in where the token travels and in how their paths name resources; once a face
has both, the decision is this one, the same for every face: the barrier is open, the token
is live, and its policies grant every capability on the resource (deny by default).
"""

from trustee.auth.token_store import TokenEntry
from trustee.core import Core
from trustee.errors import PermissionDenied, Unauthenticated

__all__ = ["authorize"]


def authorize(core: Core, token: str, resource: str, *capabilities: str) -> TokenEntry:
    """The token's entry once the barrier is open and every capability on ``resource`` is
    granted; :class:`~trustee.errors.Sealed` or :class:`~trustee.errors.PermissionDenied`."""
    core.barrier.check_unsealed()
    entry = core.tokens.lookup(token)
    if entry is None:
        raise Unauthenticated("permission denied: invalid or expired token")
    for capability in capabilities:
        if not core.authorizer.allowed(entry, resource, capability):
            raise PermissionDenied(f"permission denied: {capability} on {resource}")
    return entry
