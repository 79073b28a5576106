"""Login roles of ``auth/trustee/`` (docs/api.md §8): whom a role trusts and what its tokens may do.

A role names the issuers it accepts (``bound_issuers``: addresses, and/or ``trust_list``: the
name of a stored trust list), the audiences (``bound_audiences``: a token must name one of them
when any is set, and must carry no ``aud`` when none is), claims that must hold
(``bound_claims``: claim → allowed values; a list-valued claim matches when any element does;
``*`` in an allowed value matches any run of characters), the claims copied into the server
token's metadata (``claim_mappings``: claim → metadata key), and the server token it yields
(``token_policies``, ``token_ttl``, ``token_max_ttl``; ``user_claim`` names the token's user,
``sub`` by default).

Wallets log in with Sign-In with Ethereum (EIP-4361, :mod:`trustee.auth.siwe_login`) on a role
that names the sites they sign in to: ``bound_domains`` (the message's ``domain``, exactly, case
aside; a role without any refuses wallet logins, so a message signed for another site never
logs in), ``bound_uris`` (the message's ``uri`` must match one when any is set; ``*`` as in
bound claims), ``bound_chain_ids`` (the message's chain id must be one when any is set) and
``bound_resources`` (when set, one of the message's resources must match one of them, as a
list-valued claim does).
"""

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from trustee.auth.policy_names import grantable_policy_names
from trustee.auth.trust_lists import check_name, trust_list_of
from trustee.durations import parse_duration
from trustee.errors import InvalidRequest, NotFound
from trustee.storage import Database
from trustee.storage.schema_auth import auth_roles as _R
from trustee.storage.upsert import upsert

RESERVED_METADATA = frozenset({"role", "issuer"})
MAX_LIST = 1000
MAX_VALUE_LENGTH = 1024


@dataclass(frozen=True)
class Role:
    name: str
    bound_issuers: list[str] = field(default_factory=list)
    trust_list: str | None = None
    bound_audiences: list[str] = field(default_factory=list)
    bound_claims: dict[str, list[str]] = field(default_factory=dict)
    claim_mappings: dict[str, str] = field(default_factory=dict)
    token_policies: list[str] = field(default_factory=list)
    token_ttl: int = 0
    token_max_ttl: int = 0
    user_claim: str = "sub"
    bound_domains: list[str] = field(default_factory=list)
    bound_uris: list[str] = field(default_factory=list)
    bound_chain_ids: list[int] = field(default_factory=list)
    bound_resources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_role(name: str, config: dict[str, Any]) -> Role:
    """A validated role; :class:`InvalidRequest` names the first bad field."""
    check_name(name, "role")
    known = set(Role.__dataclass_fields__) - {"name"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise InvalidRequest(f"unknown role fields: {unknown}")
    issuers = list(trust_list_of(config.get("bound_issuers") or []).addresses)
    trust_list = config.get("trust_list")
    if trust_list is not None:
        check_name(trust_list)
    if not issuers and trust_list is None:
        raise InvalidRequest("a role needs bound_issuers (addresses) or a trust_list")
    audiences = _strings(config.get("bound_audiences") or [], "bound_audiences")
    bound_claims: dict[str, list[str]] = {}
    raw_claims = config.get("bound_claims") or {}
    if not isinstance(raw_claims, dict) or len(raw_claims) > MAX_LIST:
        raise InvalidRequest("bound_claims must map claim names to allowed values")
    for claim, allowed in raw_claims.items():
        values = [allowed] if isinstance(allowed, str) else allowed
        bound_claims[_string(claim, "bound_claims key")] = _strings(
            values, f"bound_claims[{claim!r}]"
        )
        if not bound_claims[claim]:
            raise InvalidRequest(f"bound_claims[{claim!r}] needs at least one allowed value")
    mappings = config.get("claim_mappings") or {}
    if not isinstance(mappings, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in mappings.items()
    ):
        raise InvalidRequest("claim_mappings must map claim names to metadata keys")
    clashes = sorted(set(mappings.values()) & RESERVED_METADATA)
    if clashes:
        raise InvalidRequest(f"claim_mappings may not write the metadata keys {clashes}")
    # As in Vault, a login never yields a root token: only a root token makes one.
    policies = config.get("token_policies") or []
    if isinstance(policies, str):  # Vault's API takes a comma-separated list too
        policies = [item for item in policies.split(",") if item.strip()]
    policies = grantable_policy_names(policies, "token_policies")
    ttl = parse_duration(config.get("token_ttl") or 0, what="token_ttl")
    max_ttl = parse_duration(config.get("token_max_ttl") or 0, what="token_max_ttl")
    if max_ttl and ttl > max_ttl:
        raise InvalidRequest("token_ttl cannot be above token_max_ttl")
    user_claim = _string(config.get("user_claim") or "sub", "user_claim")
    domains = [
        item.lower() for item in _strings(config.get("bound_domains") or [], "bound_domains")
    ]
    for domain in domains:
        if any(ch.isspace() for ch in domain) or "/" in domain:
            raise InvalidRequest(f"bound_domains: {domain!r} is not a host[:port]")
    uris = _strings(config.get("bound_uris") or [], "bound_uris")
    resources = _strings(config.get("bound_resources") or [], "bound_resources")
    chain_ids = _chain_ids(config.get("bound_chain_ids") or [])
    return Role(
        name=name,
        bound_issuers=issuers,
        trust_list=trust_list,
        bound_audiences=audiences,
        bound_claims=bound_claims,
        claim_mappings=dict(mappings),
        token_policies=policies,
        token_ttl=ttl,
        token_max_ttl=max_ttl,
        user_claim=user_claim,
        bound_domains=domains,
        bound_uris=uris,
        bound_chain_ids=chain_ids,
        bound_resources=resources,
    )


def _chain_ids(values: object) -> list[int]:
    if isinstance(values, str | int):
        values = [item.strip() for item in str(values).split(",") if item.strip()]
    if not isinstance(values, list | tuple) or len(values) > MAX_LIST:
        raise InvalidRequest("bound_chain_ids must be a list of chain ids")
    chain_ids = []
    for value in values:
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"bound_chain_ids: {value!r} is not a positive integer")
        chain_ids.append(value)
    return sorted(set(chain_ids))


def claim_matches(value: object, allowed: list[str]) -> bool:
    """Whether a token claim satisfies a bound claim (lists: any element)."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        text = _claim_text(item)
        if text is not None and any(_glob(pattern).fullmatch(text) for pattern in allowed):
            return True
    return False


def claim_text(value: object) -> str | None:
    """How a claim value appears in token metadata (strings as is, the rest as JSON)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


def _claim_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE_LENGTH:
        raise InvalidRequest(f"{what} must be a non-empty string of at most {MAX_VALUE_LENGTH}")
    return value


def _strings(values: object, what: str) -> list[str]:
    if isinstance(values, str):
        values = [item.strip() for item in values.split(",") if item.strip()]
    if not isinstance(values, list | tuple) or len(values) > MAX_LIST:
        raise InvalidRequest(f"{what} must be a list of strings")
    return [_string(value, what) for value in values]


class RoleService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"<RoleService {self._db!r}>"

    def put(self, name: str, config: dict[str, Any]) -> Role:
        role = make_role(name, config)
        stored = role.to_dict()
        del stored["name"]
        values = {"config": json.dumps(stored, sort_keys=True), "updated_time": time.time()}
        with self._db.begin() as conn:
            upsert(conn, _R, {"name": name, **values})
        return role

    def get(self, name: str) -> Role:
        check_name(name, "role")
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_R.c.config).where(_R.c.name == name)).first()
        if row is None:
            raise NotFound(f"no role named {name!r}")
        return Role(name=name, **json.loads(row.config))

    def delete(self, name: str) -> None:
        check_name(name, "role")
        with self._db.begin() as conn:
            conn.execute(sa.delete(_R).where(_R.c.name == name))

    def list_names(self) -> list[str]:
        with self._db.connect() as conn:
            return sorted(conn.execute(sa.select(_R.c.name)).scalars().all())
