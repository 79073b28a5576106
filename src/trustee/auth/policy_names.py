"""Policy names: one validated form wherever a name enters, so ``root`` has one spelling.

A token's power is decided by the names in its policy list, and the ``root`` name alone grants
everything. If a name could be spelt two ways (``" root"``, ``"root\\t"``, ``"Root"``), a check
made on one spelling would be passed by the other and honoured under the first. Every way in
(policy writes, roles, token creation, login) therefore takes names through
:func:`policy_name`, which does what Vault does (trims, lower-cases) and then allows only a
closed alphabet; the checks on ``root`` run after it, on the only spelling there is.
"""

import re

from trustee.errors import InvalidRequest

__all__ = [
    "DEFAULT",
    "MAX_POLICIES",
    "ROOT",
    "grantable_policy_names",
    "policy_name",
    "policy_names",
]

ROOT = "root"
DEFAULT = "default"
MAX_POLICIES = 64
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}", re.ASCII)


def policy_name(value: object) -> str:
    """The one form of a policy name: trimmed, lower-cased, from ``a-z 0-9 _ . -``."""
    name = value.strip().lower() if isinstance(value, str) else None
    if name is None or not _NAME.fullmatch(name):
        raise InvalidRequest(
            "a policy name is 1 to 128 letters, digits, '_', '.' or '-', not starting with "
            "a punctuation mark (names are trimmed and lower-cased)"
        )
    return name


def policy_names(values: object, what: str = "policies") -> list[str]:
    """A list of policy names in their one form, sorted, each once."""
    if not isinstance(values, list | tuple) or len(values) > MAX_POLICIES:
        raise InvalidRequest(f"{what} must be a list of at most {MAX_POLICIES} policy names")
    return sorted({policy_name(value) for value in values})


def grantable_policy_names(values: object, what: str) -> list[str]:
    """:func:`policy_names` for what a role or another grantor hands out: never ``root``.

    Only a root token makes a root token (``sys/init``, or a root caller of
    ``auth/token/create``); no configuration can.
    """
    names = policy_names(values, what)
    if ROOT in names:
        raise InvalidRequest(f"{what} cannot grant the root policy")
    return names
