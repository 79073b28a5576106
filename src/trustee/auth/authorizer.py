"""Whether a token's policies allow a capability on a path: the one place every route asks.

Handlers never look at policies. The server holds an :class:`Authorizer`; the built-in one
knows the ``root`` and ``default`` policies, and ACL policies plug in behind the same method.
"""

from typing import Protocol

from trustee.auth.token_store import TokenEntry

CAPABILITIES = frozenset({"create", "read", "update", "delete", "list", "sudo", "deny"})

#: What every token may do to itself, as Vault's ``default`` policy allows.
SELF_SERVICE_PATHS = frozenset(
    {"auth/token/lookup-self", "auth/token/renew-self", "auth/token/revoke-self"}
)


class Authorizer(Protocol):
    def allowed(self, token: TokenEntry, path: str, capability: str) -> bool: ...


class BuiltinAuthorizer:
    """``root`` may do anything; ``default`` may manage its own token; nothing else is granted."""

    def allowed(self, token: TokenEntry, path: str, capability: str) -> bool:
        if "root" in token.policies:
            return True
        return "default" in token.policies and path in SELF_SERVICE_PATHS
