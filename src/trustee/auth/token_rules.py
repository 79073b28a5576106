"""Which policies a new token gets, and whether its caller may make it (no I/O).

Vault's rules for ``auth/token/create``, kept out of the route so every face that creates
tokens decides the same way: only a root token makes a root token, a child token carries no
policy its parent lacks, and an orphan (which outlives its creator, so escapes the parent's
revocation) needs ``sudo`` on ``auth/token/create``.
"""

from trustee.auth.authorizer import Authorizer
from trustee.auth.policy_names import DEFAULT, ROOT, policy_names
from trustee.auth.token_store import TokenEntry
from trustee.errors import PermissionDenied

__all__ = ["CREATE_PATH", "child_token_policies"]

CREATE_PATH = "auth/token/create"
"""The ACL path whose ``sudo`` capability allows orphan tokens."""


def child_token_policies(
    caller: TokenEntry,
    requested: list[str] | None,
    *,
    no_default_policy: bool,
    no_parent: bool,
    authorizer: Authorizer,
) -> list[str]:
    """The policies of the token ``caller`` asks for, or :class:`PermissionDenied`.

    ``requested`` None inherits the caller's policies; ``default`` is added unless refused or
    the token is root. The authorizer is consulted only for an orphan made by a non-root caller.
    """
    policies = policy_names(requested if requested is not None else caller.policies)
    if not no_default_policy and ROOT not in policies:
        policies = policy_names([*policies, DEFAULT])
    if ROOT in caller.policies:
        return policies
    if not set(policies) <= {*caller.policies, DEFAULT}:
        raise PermissionDenied("child token policies must be a subset of the caller's")
    if no_parent and not authorizer.allowed(caller, CREATE_PATH, "sudo"):
        raise PermissionDenied(f"permission denied: no_parent needs sudo on {CREATE_PATH}")
    return policies
