"""``scitt/``: the registered SCITT statements, listed for people and the explorer page.

Registration, receipts and keys are the SCITT face's (SCRAPI, CBOR, at ``/entries``); this is
the Vault-convention read beside them, in JSON, under the token and policy of every other
listing. The policy path is ``scitt/statements`` with ``read``, as for the ledger's event
listings: the answer holds each statement's issuer and subject, which a policy may keep from
callers that only see the log.
"""

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from trustee.auth.token_store import TokenEntry
from trustee.errors import InvalidRequest
from trustee.ledger.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from trustee.scitt.listing import MAX_ISSUER_CHARS
from trustee.server.faces.vault.common import is_list
from trustee.server.faces.vault.envelope import ORJSONResponse, ok
from trustee.server.faces.vault.guard import core_of, requires

router = APIRouter(tags=["scitt"])


class StatementSummary(BaseModel):
    """One registered statement, as recorded when its signature verified."""

    entry_id: str = Field(description="`<tree_size>.<log_index>`: GET /entries/<entry_id>")
    log_index: int = Field(description="The statement's leaf in the log shared with events")
    issuer: str | None = Field(description="CWT `iss` of the protected header")
    subject: str | None = Field(description="CWT `sub` of the protected header")
    content_type: str | None = Field(description="Protected header 3 (`coap/N` for a number)")
    alg: str = Field(description="The statement's algorithm: EdDSA, ES256, ES384 or ES256K")
    registered_time: str = Field(description="RFC 3339, UTC")
    key_thumbprint: str = Field(description="Hex RFC 9679 thumbprint of the signing key")


class StatementPage(BaseModel):
    statements: list[StatementSummary] = Field(
        description="Newest first; with `list=true`, `keys` (entry ids) instead"
    )
    next_page_token: str | None = Field(description="Continues this listing; null on the last")


class StatementsAnswer(BaseModel):
    """Vault's success envelope around a page of statements."""

    request_id: str
    lease_id: str
    renewable: bool
    lease_duration: int
    data: StatementPage
    wrap_info: None
    warnings: list[str] | None
    auth: None


@router.get(
    "/scitt/statements",
    responses={200: {"model": StatementsAnswer, "description": "A page of statements"}},
)
def list_statements(
    request: Request,
    _: TokenEntry = requires("read"),
    page_size: int = Query(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Statements per page"
    ),
    next_page_token: str | None = Query(None, max_length=4096, description="From the last page"),
    issuer: str | None = Query(None, max_length=MAX_ISSUER_CHARS, description="Exact CWT iss"),
) -> ORJSONResponse:
    """Registered statements, newest first; each one's receipt is at ``/entries/<entry_id>``
    and its transparent statement at ``/entries/<entry_id>/statement``."""
    query = request.query_params
    for name in ("issuer", "page_size", "next_page_token", "page_token"):
        if len(query.getlist(name)) > 1:
            raise InvalidRequest(f"{name} is given more than once")
    statements, token = core_of(request).scitt_statements.list_statements(
        issuer=issuer,
        page_size=page_size,
        page_token=next_page_token or query.get("page_token"),
    )
    if is_list(request):
        return ok({"keys": [s.entry_id for s in statements], "next_page_token": token})
    return ok({"statements": [s.to_json() for s in statements], "next_page_token": token})
