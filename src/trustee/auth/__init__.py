"""Authentication and authorisation: server tokens, ACL policies, roles and JWT login.

Server tokens (:mod:`trustee.auth.token_store`) are random 32-byte secrets stored only as
SHA-256 hashes; policies deny by default.

:func:`install` plugs the stored ACL policies and trust lists into a
:class:`~trustee.core.Core`.
"""

from typing import Any


def install(core: Any) -> None:
    """Make ``core`` check tokens against stored ACL policies and resolve named trust lists.

    Sets ``core.authorizer`` (an :class:`~trustee.auth.acl.AclAuthorizer`), ``core.policies``,
    ``core.trust_lists``, ``core.trust_list`` (name → :class:`~trustee.tokens.TrustList`, what
    ``trustee/verify`` looks up), ``core.roles``, ``core.login`` and ``core.audiences``.
    """
    from trustee.auth.acl import AclAuthorizer, PolicyStore
    from trustee.auth.audiences import AudienceService
    from trustee.auth.login import TrusteeLogin
    from trustee.auth.roles import RoleService
    from trustee.auth.trust_lists import TrustListService

    core.policies = PolicyStore(core.db)
    core.authorizer = AclAuthorizer(core.policies)
    core.trust_lists = TrustListService(core.db)
    core.trust_list = core.trust_lists.resolve
    core.roles = RoleService(core.db)
    core.login = TrusteeLogin(core.db, core.tokens, core.roles, core.trust_lists)
    core.audiences = AudienceService(core.db)
