"""Delegated authentication (docs/api.md §4 policies, §6, §8): ACL policies, trust lists, login
roles and JWT login, audiences and encryption, and the JWK set of every live trustee.

Upserts (policies, trust lists, roles, audiences) need ``update``; ACL policy writes also need
``sudo``, as in Vault. Login and the JWK set need no token.

Policies are served twice over one store, as Vault serves them: ``sys/policies/acl[/:name]``
(field ``policy``) and Vault's older ``sys/policy[/:name]`` (field ``rules``), which clients
such as node-vault still call. Each path is its own ACL resource, as in Vault.
"""

import base64
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from trustee.auth.audiences import trustee_decrypt, trustee_decrypt_claims, trustee_encrypt
from trustee.auth.policy_names import policy_name
from trustee.auth.siwe_message import rfc3339
from trustee.crypto.address import parse_address
from trustee.crypto.errors import CryptoError
from trustee.custody.jwks import jwk_set
from trustee.custody.trustees import decode_data
from trustee.errors import InvalidRequest, NotFound
from trustee.server.faces.vault.common import Body, is_list, write
from trustee.server.faces.vault.envelope import ORJSONResponse, envelope, no_content, ok
from trustee.server.faces.vault.guard import authorize, core_of, requires, unsealed
from trustee.server.faces.vault.routes.token import auth_block

router = APIRouter(tags=["auth/trustee"])
well_known_router = APIRouter(tags=["auth/trustee"])
"""``/.well-known/jwks.json``: include without the ``/v1`` prefix."""

JWKS_CACHE_CONTROL = "public, max-age=60"


class PolicyBody(Body):
    policy: str = Field(max_length=64 * 1024)


class RulesBody(Body):
    """Vault's older ``sys/policy/:name`` body: the same policy text, named ``rules``. Clients
    (node-vault) send the path's ``name`` too; it must then be the path's."""

    rules: str = Field(max_length=64 * 1024)
    name: str | None = Field(None, max_length=1024)


class TrustListBody(Body):
    addresses: list[str] = Field(max_length=10_000)


class RoleBody(Body):
    bound_issuers: list[str] | None = Field(None, max_length=10_000)
    trust_list: str | None = Field(None, max_length=128)
    bound_audiences: list[str] | str | None = None
    bound_claims: dict[str, list[str] | str] | None = None
    claim_mappings: dict[str, str] | None = None
    token_policies: list[str] | str | None = None
    token_ttl: str | int | None = None
    token_max_ttl: str | int | None = None
    user_claim: str | None = Field(None, max_length=1024)
    bound_domains: list[str] | str | None = None
    bound_uris: list[str] | str | None = None
    bound_chain_ids: list[int | str] | str | int | None = None
    bound_resources: list[str] | str | None = None


class LoginBody(Body):
    role: str = Field(max_length=128)
    jwt: str = Field(max_length=64 * 1024)


class SiweNonceBody(Body):
    role: str = Field(max_length=128)
    address: str | None = Field(None, max_length=64)
    """Optional: answered in its EIP-55 form, which the message must carry (a page cannot
    easily compute keccak-256, and wallets answer their addresses in lower case)."""


class SiweLoginBody(Body):
    role: str = Field(max_length=128)
    message: str = Field(max_length=64 * 1024)
    signature: str = Field(max_length=8 * 1024)


class AudienceBody(Body):
    token: str = Field(max_length=64 * 1024)


class EncryptBody(Body):
    plaintext: str = Field(max_length=2 * 1024 * 1024)
    encoding: Literal["base64", "utf8", "hex"] = "base64"
    audience: str | None = Field(None, max_length=128)


class DecryptBody(Body):
    ciphertext: str | None = Field(None, max_length=3 * 1024 * 1024)
    claims: dict[str, Any] | None = Field(
        None,
        description="Encrypted claims, or a whole JWT payload with its 'encrypted' claim.",
    )
    encoding: Literal["base64", "utf8"] = "base64"


# -- sys/policies/acl --------------------------------------------------------------------


@router.get("/sys/policies/acl")
def list_policies(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": core_of(request).policies.list_names()})


@router.get("/sys/policies/acl/{policy}")
def read_policy(request: Request, policy: str, _=requires("read")) -> ORJSONResponse:
    stored = core_of(request).policies.get(policy)
    return ok({"name": stored.name, "policy": stored.text})


@write(router, "/sys/policies/acl/{policy}", status_code=204)
def write_policy(request: Request, policy: str, body: PolicyBody, _=requires("update", "sudo")):
    core_of(request).policies.put(policy, body.policy)
    return no_content()


@router.delete("/sys/policies/acl/{policy}", status_code=204)
def delete_policy(request: Request, policy: str, _=requires("delete", "sudo")):
    core_of(request).policies.delete(policy)
    return no_content()


# -- sys/policy: Vault's older policy API over the same store ----------------------------
#
# Vault answers these with the data at the top level as well as in ``data`` (its older sys/
# shape), and lists under both ``keys`` and ``policies``; clients read either.


def _legacy(data: dict[str, Any]) -> ORJSONResponse:
    return ORJSONResponse(data | envelope(data))


def _list_or_read(request: Request) -> None:
    """``GET sys/policy`` reads (as in Vault); ``LIST`` / ``?list=true`` lists."""
    authorize(request, "list" if is_list(request) else "read")


@router.get("/sys/policy")
def list_policies_legacy(request: Request, _=Depends(_list_or_read)) -> ORJSONResponse:
    names = core_of(request).policies.list_names()
    return _legacy({"keys": names, "policies": names})


@router.get("/sys/policy/{policy}")
def read_policy_legacy(request: Request, policy: str, _=requires("read")) -> ORJSONResponse:
    if is_list(request):
        raise NotFound(f"no policy folder {policy!r}")
    stored = core_of(request).policies.get(policy)
    return _legacy({"name": stored.name, "rules": stored.text})


@write(router, "/sys/policy/{policy}", status_code=204)
def write_policy_legacy(
    request: Request, policy: str, body: RulesBody, _=requires("update", "sudo")
):
    if body.name is not None and policy_name(body.name) != policy_name(policy):
        raise InvalidRequest(f"name {body.name!r} is not the path's policy {policy!r}")
    core_of(request).policies.put(policy, body.rules)
    return no_content()


@router.delete("/sys/policy/{policy}", status_code=204)
def delete_policy_legacy(request: Request, policy: str, _=requires("delete", "sudo")):
    core_of(request).policies.delete(policy)
    return no_content()


# -- trustee/trust-lists -----------------------------------------------------------------


@router.get("/trustee/trust-lists")
def list_trust_lists(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": core_of(request).trust_lists.list_names()})


@router.get("/trustee/trust-lists/{name}")
def read_trust_list(request: Request, name: str, _=requires("read")) -> ORJSONResponse:
    if is_list(request):
        raise NotFound(f"no trust list folder {name!r}")
    return ok(core_of(request).trust_lists.get(name))


@write(router, "/trustee/trust-lists/{name}")
def write_trust_list(
    request: Request, name: str, body: TrustListBody, _=requires("update")
) -> ORJSONResponse:
    trust = core_of(request).trust_lists.put(name, body.addresses)
    return ok({"name": name, "addresses": list(trust.addresses)})


@router.delete("/trustee/trust-lists/{name}", status_code=204)
def delete_trust_list(request: Request, name: str, _=requires("delete")):
    core_of(request).trust_lists.delete(name)
    return no_content()


# -- auth/trustee: roles and login -------------------------------------------------------


@router.get("/auth/trustee/role")
def list_roles(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": core_of(request).roles.list_names()})


@router.get("/auth/trustee/role/{name}")
def read_role(request: Request, name: str, _=requires("read")) -> ORJSONResponse:
    return ok(core_of(request).roles.get(name).to_dict())


@write(router, "/auth/trustee/role/{name}")
def write_role(request: Request, name: str, body: RoleBody, _=requires("update")) -> ORJSONResponse:
    config = body.model_dump(exclude_none=True)
    return ok(core_of(request).roles.put(name, config).to_dict())


@router.delete("/auth/trustee/role/{name}", status_code=204)
def delete_role(request: Request, name: str, _=requires("delete")):
    core_of(request).roles.delete(name)
    return no_content()


@write(router, "/auth/trustee/login")
def login(request: Request, body: LoginBody) -> ORJSONResponse:
    """No token needed: the JWT is the credential."""
    unsealed(request)
    result = core_of(request).login.login(body.role, body.jwt)
    auth = auth_block(result.issued, orphan=True) | {"metadata": result.issued.metadata}
    return ok(None, auth=auth)


@write(router, "/auth/trustee/siwe/nonce")
def siwe_nonce(request: Request, body: SiweNonceBody) -> ORJSONResponse:
    """No token needed: a single-use nonce for a Sign-In with Ethereum message on a role."""
    address = None
    if body.address is not None:
        try:
            address = parse_address(body.address)
        except CryptoError as exc:
            raise InvalidRequest(f"address: {exc}") from None
    issued = unsealed(request).siwe.issue_nonce(body.role)
    data = {
        "nonce": issued.nonce,
        "role": issued.role,
        "expiration_time": rfc3339(issued.expire_time),
        "ttl": int(issued.expire_time - time.time()),
    }
    if address is not None:
        data["address"] = address
    return ok(data)


@write(router, "/auth/trustee/siwe/login")
def siwe_login(request: Request, body: SiweLoginBody) -> ORJSONResponse:
    """No token needed: the signed EIP-4361 message is the credential."""
    result = unsealed(request).siwe.login(body.role, body.message, body.signature)
    auth = auth_block(result.issued, orphan=True) | {"metadata": result.issued.metadata}
    return ok(None, auth=auth)


# -- trustee/audiences and encryption ----------------------------------------------------


@router.get("/trustee/audiences")
def list_audiences(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": core_of(request).audiences.list_names()})


@router.get("/trustee/audiences/{name}")
def read_audience(request: Request, name: str, _=requires("read")) -> ORJSONResponse:
    return ok(core_of(request).audiences.get(name).to_dict())


@write(router, "/trustee/audiences/{name}")
def write_audience(
    request: Request, name: str, body: AudienceBody, _=requires("update")
) -> ORJSONResponse:
    return ok(core_of(request).audiences.register(name, body.token).to_dict())


@router.delete("/trustee/audiences/{name}", status_code=204)
def delete_audience(request: Request, name: str, _=requires("delete")):
    core_of(request).audiences.delete(name)
    return no_content()


@write(router, "/trustee/trustees/{name}/encrypt")
def encrypt_for(
    request: Request, name: str, body: EncryptBody, _=requires("update")
) -> ORJSONResponse:
    """To the audience's key when one is named, else to the trustee's own key."""
    core = core_of(request)
    plaintext = decode_data(body.plaintext, body.encoding)
    sealed = trustee_encrypt(core.trustees, core.audiences, name, plaintext, body.audience)
    return ok({"ciphertext": sealed.ciphertext, "recipient": sealed.recipient})


@write(router, "/trustee/trustees/{name}/decrypt")
def decrypt_by(
    request: Request, name: str, body: DecryptBody, _=requires("update")
) -> ORJSONResponse:
    """A ``ciphertext`` from ``encrypt``, or ``claims`` encrypted for this trustee's key."""
    trustees = core_of(request).trustees
    if (body.ciphertext is None) == (body.claims is None):
        raise InvalidRequest("give either ciphertext or claims")
    if body.claims is not None:
        return ok({"claims": trustee_decrypt_claims(trustees, name, body.claims)})
    plaintext = trustee_decrypt(trustees, name, body.ciphertext or "")
    if body.encoding == "utf8":
        try:
            return ok({"plaintext": plaintext.decode("utf-8")})
        except UnicodeDecodeError:
            raise InvalidRequest("the plaintext is not UTF-8; ask for base64") from None
    return ok({"plaintext": base64.b64encode(plaintext).decode("ascii")})


# -- JWKS --------------------------------------------------------------------------------


@router.get("/trustee/jwks")
def jwks(request: Request) -> ORJSONResponse:
    """The JWK set at the top (for JOSE clients) and as ``data`` (for Vault clients)."""
    jwk_keys = jwk_set(unsealed(request).trustees)
    answer = envelope(jwk_keys) | jwk_keys
    return ORJSONResponse(answer, headers={"cache-control": JWKS_CACHE_CONTROL})


@well_known_router.get("/.well-known/jwks.json")
def well_known_jwks(request: Request) -> JSONResponse:
    return ORJSONResponse(
        jwk_set(unsealed(request).trustees),
        headers={"cache-control": JWKS_CACHE_CONTROL},
        media_type="application/jwk-set+json",
    )
