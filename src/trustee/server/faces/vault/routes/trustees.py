"""``trustee/``: named secp256k1 identities, their tokens and signatures (docs/api.md §6, §7)."""

import base64
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from trustee.core import Core
from trustee.crypto.encoding import hex_decode
from trustee.crypto.jwk import secp256k1_jwk
from trustee.custody.trustees import Encoding, Scheme, TrusteeInfo, decode_data, verify_signature
from trustee.errors import InvalidRequest
from trustee.server.faces.vault.common import Body, write
from trustee.server.faces.vault.envelope import ORJSONResponse, no_content, ok
from trustee.server.faces.vault.fast import FastOperation
from trustee.server.faces.vault.guard import client_token, core_of, requires
from trustee.tokens import TrustList, verify_token
from trustee.tokens.issue import IssuerFormat

router = APIRouter(tags=["trustee"])


class CreateTrustee(Body):
    metadata: dict[str, Any] | None = None


class ImportTrustee(Body):
    keystore: dict[str, Any] | str | None = None
    passphrase: str | None = Field(None, max_length=1024)
    private_key: str | None = Field(None, max_length=130)
    metadata: dict[str, Any] | None = None


class ExportTrustee(Body):
    passphrase: str = Field(min_length=1, max_length=1024)


class Claim(Body):
    claims: dict[str, Any] | None = None
    subject: str | None = Field(None, max_length=1024)
    audience: str | list[str] | None = None
    ttl: str | int = "1h"
    not_before: int | None = None
    legacy_eth_claim: bool = False
    issuer_format: IssuerFormat = Field(
        "address",
        description="'did:ethr' writes iss (and the default sub) as did:ethr:0x<address>, "
        "which did-jwt's verifyJWT resolves; kid stays the address.",
    )
    encrypt_for: str | None = Field(
        None, max_length=128, description="Encrypt each claim value to this audience's key."
    )


class SignedData(Body):
    data: str | dict[str, Any]
    encoding: Encoding = "utf8"
    scheme: Scheme = "eip191"


SignScheme = Literal["eip191", "keccak256", "eip712", "cose"]


class Sign(Body):
    data: str | dict[str, Any] = Field(
        description="What to sign, in `encoding`; for eip712 the typed-data object; for cose "
        "the statement's payload."
    )
    encoding: Encoding = "utf8"
    scheme: SignScheme = Field(
        "eip191",
        description="eip191 (personal_sign), keccak256 or eip712: an Ethereum signature. cose: "
        "a SCITT signed statement (COSE_Sign1, ES256K, kid = the trustee's address), answered "
        "base64 in `statement`, ready for POST /entries.",
    )
    content_type: str | None = Field(
        None, min_length=1, max_length=1024, description="cose: the payload's media type (3)."
    )
    issuer: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="cose: the CWT iss claim; the trustee's address when not given.",
    )
    subject: str | None = Field(
        None, min_length=1, max_length=1024, description="cose: the CWT sub claim."
    )


class VerifySignature(SignedData):
    signature: str = Field(max_length=200)


class VerifyToken(Body):
    token: str = Field(max_length=64 * 1024)
    audience: str | None = Field(None, max_length=1024)
    trusted: list[str] | None = Field(None, max_length=10_000)
    trust_list: str | None = Field(None, max_length=128)
    leeway: float = Field(60, ge=0, le=86_400)


def trustee_data(info: TrusteeInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "address": info.address,
        "public_key": info.public_key,
        "created_time": info.created_time,
        "metadata": info.metadata,
    }


def _payload(body: Sign | SignedData) -> bytes | dict[str, Any]:
    if body.scheme == "eip712":
        if not isinstance(body.data, dict):
            raise InvalidRequest("eip712 data must be the typed-data object")
        return body.data
    if not isinstance(body.data, str):
        raise InvalidRequest("data must be a string in the given encoding")
    return decode_data(body.data, body.encoding)


@router.get("/trustee/trustees")
def list_trustees(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": core_of(request).trustees.list_names()})


@write(router, "/trustee/trustees/{name}")
def create_trustee(
    request: Request, name: str, body: CreateTrustee | None = None, _=requires("create")
) -> ORJSONResponse:
    info = core_of(request).trustees.create(name, body.metadata if body else None)
    return ok(trustee_data(info))


@router.get("/trustee/trustees/{name}")
def read_trustee(request: Request, name: str, _=requires("read")) -> ORJSONResponse:
    return ok(trustee_data(core_of(request).trustees.read(name)))


@router.delete("/trustee/trustees/{name}", status_code=204)
def delete_trustee(request: Request, name: str, _=requires("delete")):
    core_of(request).trustees.delete(name)
    return no_content()


@write(router, "/trustee/import/{name}")
def import_trustee(
    request: Request, name: str, body: ImportTrustee, _=requires("create")
) -> ORJSONResponse:
    service = core_of(request).trustees
    if (body.keystore is None) == (body.private_key is None):
        raise InvalidRequest("give either keystore (with passphrase) or private_key")
    if body.keystore is not None:
        if body.passphrase is None:
            raise InvalidRequest("a keystore needs its passphrase")
        info = service.import_keystore(name, body.keystore, body.passphrase, body.metadata)
    else:
        info = service.import_private_key(name, body.private_key or "", body.metadata)
    return ok(trustee_data(info))


@write(router, "/trustee/trustees/{name}/export")
def export_trustee(
    request: Request, name: str, body: ExportTrustee, _=requires("update", "sudo")
) -> ORJSONResponse:
    return ok({"keystore": core_of(request).trustees.export_keystore(name, body.passphrase)})


def _claim(core: Core, name: str, body: Claim) -> ORJSONResponse:
    claims = body.claims
    if body.encrypt_for is not None:
        claims = core.audiences.seal_claims(body.encrypt_for, claims or {})
    issued = core.trustees.claim(
        name,
        claims=claims,
        subject=body.subject,
        audience=body.audience,
        ttl=body.ttl,
        not_before=body.not_before,
        legacy_eth_claim=body.legacy_eth_claim,
        issuer_format=body.issuer_format,
    )
    return ok({"jwt": issued.jwt, "claims": issued.claims})


@write(router, "/trustee/trustees/{name}/sign")
def sign(request: Request, name: str, body: Sign, _=requires("update")) -> ORJSONResponse:
    """An Ethereum signature (``signature``, ``hash``, ``address``), or with ``scheme: cose``
    a SCITT signed statement (``statement``, base64; ``address``; ``algorithm``)."""
    trustees = core_of(request).trustees
    if body.scheme == "cose":
        payload = _payload(body)
        assert isinstance(payload, bytes)  # only eip712 answers an object
        made = trustees.sign_statement(
            name,
            payload,
            content_type=body.content_type,
            issuer=body.issuer,
            subject=body.subject,
        )
        statement = base64.b64encode(made.statement).decode("ascii")
        return ok({"statement": statement, "address": made.address, "algorithm": "ES256K"})
    if (body.content_type, body.issuer, body.subject) != (None, None, None):
        raise InvalidRequest("content_type, issuer and subject go with scheme cose")
    result = trustees.sign(name, _payload(body), body.scheme)
    return ok({"signature": result.signature, "hash": result.hash, "address": result.address})


@router.get("/trustee/names")
def list_names(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": core_of(request).trustees.list_names()})


@router.get("/trustee/names/{name}")
def read_name(request: Request, name: str, _=requires("read")) -> ORJSONResponse:
    return ok(trustee_data(core_of(request).trustees.read(name)))


@write(router, "/trustee/names/{name}/verify")
def verify_by_name(
    request: Request, name: str, body: VerifySignature, _=requires("update")
) -> ORJSONResponse:
    result = core_of(request).trustees.verify(name, _payload(body), body.scheme, body.signature)
    return ok(
        {"verified": result.verified, "address": result.address, "recovered": result.recovered}
    )


@router.get("/trustee/addresses")
def list_addresses(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": core_of(request).trustees.list_addresses()})


@router.get("/trustee/addresses/{address}")
def read_address(request: Request, address: str, _=requires("read")) -> ORJSONResponse:
    info = core_of(request).trustees.read_address(address)
    public_key = hex_decode(info.public_key)
    return ok(
        {
            "address": info.address,
            "names": info.names,
            "public_key": info.public_key,
            "jwk": secp256k1_jwk(public_key, kid=info.address),
        }
    )


@write(router, "/trustee/addresses/{address}/verify")
def verify_by_address(address: str, body: VerifySignature, _=requires("update")) -> ORJSONResponse:
    result = verify_signature(address, _payload(body), body.scheme, body.signature)
    return ok(
        {"verified": result.verified, "address": result.address, "recovered": result.recovered}
    )


def _verify(core: Core, body: VerifyToken) -> ORJSONResponse:
    if body.trusted is not None and body.trust_list is not None:
        raise InvalidRequest("give trusted or trust_list, not both")
    trusted = TrustList(body.trusted) if body.trusted is not None else None
    if body.trust_list is not None:
        trusted = core.trust_lists.resolve(body.trust_list)
    result = verify_token(body.token, trusted=trusted, audience=body.audience, leeway=body.leeway)
    return ok(result.to_dict())


# -- the hot paths, served by the request gate ahead of FastAPI --------------------------------
#
# FastAPI's order of checks (JSON syntax, then the token, then the body's fields), without its
# per-request work. Work that reads no database runs on the event loop; a worker thread costs
# more than verifying or signing, but a database read must not hold up the loop.


async def fast_verify(operation: FastOperation, request: Request) -> Response:
    """No token needed: anyone may ask whether a token is valid (docs/api.md §7)."""
    body = operation.validate(await operation.data(request))
    if body.trust_list is None:
        return _verify(core_of(request), body)
    return await run_in_threadpool(_verify, core_of(request), body)


async def fast_claim(operation: FastOperation, request: Request) -> Response:
    """A JWT signed by the trustee, its ``iss`` the trustee's address or its did:ethr DID
    (docs/api.md §7)."""
    data = await operation.data(request)
    core, name = core_of(request), request.path_params["name"]

    def answer() -> Response:
        operation.authorize(request)
        return _claim(core, name, operation.validate(data))

    token = client_token(request)
    remembered = (
        token is not None
        and core.tokens.cached(token) is not None
        and core.trustees.key_cached(name)
        and not (isinstance(data, dict) and data.get("encrypt_for") is not None)
    )
    return answer() if remembered else await run_in_threadpool(answer)


FAST_OPERATIONS = (
    FastOperation("/trustee/verify", VerifyToken, None, fast_verify, "trustee"),
    FastOperation("/trustee/trustees/{name}/claim", Claim, "update", fast_claim, "trustee"),
)
