"""``auth/trustee/login``: a JWT from a trusted address, exchanged for a server token.

The checks, in order (each refusal carries a reason code):

1. the role exists (``unknown_role``), its policy names are valid (``invalid_policy``, 403) and
   do not include ``root`` in any spelling (``root_policy``, 403);
2. the token verifies against the role's issuers (trust list and/or ``bound_issuers``) and
   audiences with :func:`~trustee.tokens.verify_token`: the reasons of docs/api.md §7, with
   ``untrusted_issuer`` answered 403 and the others 400. With several bound audiences, the token
   passes when its ``aud`` names any of them;
3. the token has a ``jti`` and an ``exp`` (``missing_jti``, ``missing_exp``) and the role's
   ``user_claim`` (``missing_user_claim``);
4. every bound claim holds (``claim_mismatch``);
5. the ``jti`` of this issuer was never accepted before (``replayed``): it is recorded until
   ``exp`` plus the leeway, in one insert that fails on a duplicate, so two replicas cannot
   both accept it;
6. a server token is issued with the role's policies (plus ``default``, as Vault adds it; never
   ``root``, as in Vault) and TTLs; its metadata holds the mapped claims, ``role`` and
   ``issuer`` (the address).
"""

import contextlib
import time
from dataclasses import dataclass

import sqlalchemy as sa

from trustee.auth.policy_names import DEFAULT, ROOT, policy_names
from trustee.auth.roles import Role, RoleService, claim_matches, claim_text
from trustee.auth.token_store import IssuedServerToken, TokenStore
from trustee.auth.trust_lists import TrustListService
from trustee.errors import InvalidRequest, NotFound, PermissionDenied
from trustee.storage import Database
from trustee.storage.schema_auth import used_jtis as _J
from trustee.tokens import DEFAULT_LEEWAY_SECONDS, Reason, TrustList, verify_token

MAX_JTI_LENGTH = 200
PURGE_INTERVAL_SECONDS = 60.0
"""How often, at most, a login also deletes the recorded jtis of tokens that have expired."""


class LoginError(InvalidRequest):
    """A refused login (400); ``reason`` is the code, also at the end of the message."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"login refused: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason


class LoginDenied(PermissionDenied):
    """A login from an issuer the role does not trust (403)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"login refused: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason


@dataclass(frozen=True)
class LoginResult:
    issued: IssuedServerToken
    role: Role
    address: str


def role_of(roles: RoleService, name: str) -> Role:
    """The role a login names (``unknown_role``)."""
    try:
        return roles.get(name)
    except NotFound:
        raise LoginError("unknown_role", f"no role named {name!r}") from None


def role_policies(role: Role) -> list[str]:
    """The policies a login on this role grants (``invalid_policy``, ``root_policy``: 403)."""
    # The role's policies in their one form: a role stored by an older version may have
    # kept another spelling (" root") that the token store would have read as root.
    try:
        policies = policy_names([*role.token_policies, DEFAULT], "token_policies")
    except InvalidRequest as exc:
        raise LoginDenied("invalid_policy", f"role {role.name!r}: {exc.message}") from None
    if ROOT in policies:
        raise LoginDenied("root_policy", f"role {role.name!r} may not issue root tokens")
    return policies


def trusted_by(role: Role, trust_lists: TrustListService) -> TrustList:
    """The addresses a role trusts: its ``bound_issuers`` and its trust list's."""
    addresses = list(role.bound_issuers)
    if role.trust_list is not None:
        # A role naming a deleted list trusts only its own bound_issuers.
        with contextlib.suppress(NotFound):
            addresses.extend(trust_lists.resolve(role.trust_list))
    return TrustList(addresses)


class TrusteeLogin:
    def __init__(
        self,
        db: Database,
        tokens: TokenStore,
        roles: RoleService,
        trust_lists: TrustListService,
        *,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        self._db = db
        self._tokens = tokens
        self._roles = roles
        self._trust_lists = trust_lists
        self.leeway = leeway
        self.purge_interval = PURGE_INTERVAL_SECONDS
        self._next_purge = 0.0

    def __repr__(self) -> str:
        return f"<TrusteeLogin {self._db!r}>"

    def login(self, role_name: str, jwt: str, *, now: float | None = None) -> LoginResult:
        current = time.time() if now is None else now
        # 1. role
        role = role_of(self._roles, role_name)
        policies = role_policies(role)

        # 2. verification: signature, time, audience, trust
        trusted = trusted_by(role, self._trust_lists)
        audience = role.bound_audiences[0] if role.bound_audiences else None
        result = verify_token(
            jwt, trusted=trusted, audience=audience, at=current, leeway=self.leeway
        )
        if result.reason == Reason.AUDIENCE_MISMATCH and result.claims is not None:
            aud = result.claims.get("aud")
            named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            matching = [item for item in role.bound_audiences if item in named]
            if matching:
                result = verify_token(
                    jwt, trusted=trusted, audience=matching[0], at=current, leeway=self.leeway
                )
        if not result.valid:
            reason = str(result.reason)
            if result.reason == Reason.UNTRUSTED_ISSUER:
                raise LoginDenied(reason, f"{result.address} is not trusted by role {role.name!r}")
            raise LoginError(reason, result.detail)
        claims = result.claims or {}
        address = result.address or ""

        # 3. required claims
        jti, exp = claims.get("jti"), claims.get("exp")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise LoginError("missing_jti", "the token needs a jti to be accepted once")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise LoginError("missing_exp", "the token needs a numeric exp")
        user = claims.get(role.user_claim)
        user_text = claim_text(user) if user is not None else None
        if not user_text:
            raise LoginError("missing_user_claim", f"no {role.user_claim!r} claim")

        # 4. bound claims
        for name, allowed in role.bound_claims.items():
            if name not in claims or not claim_matches(claims[name], allowed):
                raise LoginError("claim_mismatch", f"claim {name!r} is not one of {allowed}")

        # 5. once only
        self._record_jti(f"{address.lower()}:{jti}", float(exp) + self.leeway, current)

        # 6. the server token
        metadata = {"role": role.name, "issuer": address}
        for claim, key in role.claim_mappings.items():
            if claim in claims:
                text = claim_text(claims[claim])
                if text is not None:
                    metadata[key] = text
        issued = self._tokens.create(
            policies,
            ttl=role.token_ttl or None,
            explicit_max_ttl=role.token_max_ttl or None,
            metadata=metadata,
            display_name=f"trustee-{user_text}"[:255],
            now=current,
        )
        return LoginResult(issued, role, address)

    def purge_used(self, now: float | None = None) -> int:
        """Forget every recorded jti whose token has expired; returns how many."""
        current = time.time() if now is None else now
        with self._db.begin() as conn:
            return conn.execute(sa.delete(_J).where(_J.c.expire_time <= current)).rowcount

    def _record_jti(self, key: str, expire_time: float, now: float) -> None:
        try:
            with self._db.begin() as conn:
                conn.execute(sa.delete(_J).where(_J.c.jti == key, _J.c.expire_time <= now))
                conn.execute(sa.insert(_J).values(jti=key, expire_time=expire_time))
        except sa.exc.IntegrityError:
            raise LoginError(str(Reason.REPLAYED), "this jti was already used") from None
        # The table holds only live tokens' ids: an expired token is refused as expired before
        # its jti is looked at, so its row can go. Once a minute keeps the table small without
        # a delete on every login.
        if now >= self._next_purge:
            self._next_purge = now + self.purge_interval
            self.purge_used(now)
