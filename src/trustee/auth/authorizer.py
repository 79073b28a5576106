"""Whether a token's policies allow a capability on a path: the one place every route asks.

Handlers never look at policies. The server holds an :class:`Authorizer`
(:class:`~trustee.auth.acl.AclAuthorizer`), so how policies are stored and matched can change
without touching a route.
"""

from typing import Protocol

from trustee.auth.token_store import TokenEntry

CAPABILITIES = frozenset({"create", "read", "update", "delete", "list", "sudo", "deny"})


class Authorizer(Protocol):
    def allowed(self, token: TokenEntry, path: str, capability: str) -> bool: ...
