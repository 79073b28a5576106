"""``scitt/issuers/``: the issuer keys the SCITT registration policy admits (docs/api.md §11).

A thin layer over :class:`~trustee.scitt.issuers.IssuerKeys`, in the Vault conventions of the
other named resources (``trustee/trust-lists``): ``PUT``/``POST`` to write, ``GET`` to read,
``DELETE``, and ``LIST`` (or ``GET``) on the folder; the ACL path is ``scitt/issuers/<name>``.
"""

from fastapi import APIRouter, Request
from pydantic import Field

from trustee.errors import NotFound
from trustee.scitt.issuers import MAX_ISS_CHARS, MAX_KEY_CHARS, IssuerKeys
from trustee.server.faces.vault.common import Body, is_list, write
from trustee.server.faces.vault.envelope import ORJSONResponse, no_content, ok
from trustee.server.faces.vault.guard import core_of, requires

router = APIRouter(tags=["scitt"])


class IssuerKeyBody(Body):
    public_key: str = Field(
        max_length=MAX_KEY_CHARS,
        description="PEM public key or certificate, or a base64 COSE_Key (EdDSA, ES256, "
        "ES384 or ES256K)",
    )
    iss: str | None = Field(
        None, max_length=MAX_ISS_CHARS, description="the CWT iss its statements must carry"
    )


def issuers_of(request: Request) -> IssuerKeys:
    return core_of(request).scitt.issuers


@router.get("/scitt/issuers")
def list_issuer_keys(request: Request, _=requires("list")) -> ORJSONResponse:
    return ok({"keys": issuers_of(request).list_names()})


@router.get("/scitt/issuers/{name}")
def read_issuer_key(request: Request, name: str, _=requires("read")) -> ORJSONResponse:
    if is_list(request):
        raise NotFound(f"no issuer key folder {name!r}")
    return ok(issuers_of(request).get(name).to_json())


@write(router, "/scitt/issuers/{name}")
def write_issuer_key(
    request: Request, name: str, body: IssuerKeyBody, _=requires("update")
) -> ORJSONResponse:
    """Create or replace: statements signed by this key are admitted from now on."""
    return ok(issuers_of(request).put(name, body.public_key, body.iss).to_json())


@router.delete("/scitt/issuers/{name}", status_code=204)
def delete_issuer_key(request: Request, name: str, _=requires("delete")):
    """Statements by this key are refused from now on; those registered stay in the log."""
    issuers_of(request).delete(name)
    return no_content()
