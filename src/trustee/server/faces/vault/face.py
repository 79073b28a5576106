"""The Vault face put together: its FastAPI application and what the shared layers need."""

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp

from trustee import __version__
from trustee.core import Core
from trustee.server.asgi.audit_device import AuditDevice
from trustee.server.asgi.faces import Face
from trustee.server.asgi.ratelimit import Rule
from trustee.server.faces.vault.conventions import token_of_scope, vault_conventions
from trustee.server.faces.vault.docs import install_docs
from trustee.server.faces.vault.envelope import (
    ORJSONResponse,
    error_response,
    install_error_handlers,
)
from trustee.server.faces.vault.openapi import install_openapi
from trustee.server.faces.vault.routes import (
    audit_hash,
    auth_trustee,
    ledger,
    scitt,
    scitt_issuers,
    sys,
    token,
    trustees,
)
from trustee.server.ui import mount_ui

__all__ = ["FACE", "create_api"]

ROUTERS = (
    sys.router,
    token.router,
    trustees.router,
    auth_trustee.router,
    ledger.router,
    scitt.router,
    audit_hash.router,
    scitt_issuers.router,
)

FAST_OPERATIONS = (*trustees.FAST_OPERATIONS, *ledger.FAST_OPERATIONS)

RATE_LIMITS = {
    # Shares are taken from anyone (a sealed server has no tokens to check), and every wrong
    # one resets the operators' progress.
    "/v1/sys/unseal": Rule(burst=10, per_second=1),
    # Each attempt costs a signature recovery; a stolen or replayed JWT would be tried here.
    "/v1/auth/trustee/login": Rule(burst=30, per_second=10),
    # The same for wallets; and each nonce asked for is a row written by someone unknown.
    "/v1/auth/trustee/siwe/login": Rule(burst=30, per_second=10),
    "/v1/auth/trustee/siwe/nonce": Rule(burst=30, per_second=10),
}


def refuse(status: int, message: str, headers: Mapping[str, str]) -> ASGIApp:
    response = error_response(status, message)
    response.headers.update(headers)
    return response


FACE = Face(
    prefix="",  # /v1, and the pages and well-known documents beside it
    refuse=refuse,
    credential=token_of_scope,
    conventions=vault_conventions,
    rate_limits=RATE_LIMITS,
    hot_routes=tuple(operation.route() for operation in FAST_OPERATIONS),
)


def create_api(core: Core, audit: AuditDevice | None = None) -> FastAPI:
    """Every route, the error mapping, the OpenAPI document and the explorer page."""
    api = FastAPI(
        title="trustee",
        version=__version__,
        description=(
            "Verify-then-trust: secp256k1 key custody, address-verifiable JWTs, delegated "
            "authentication and a signed-records transparency log, with Vault's HTTP conventions."
        ),
        openapi_url="/v1/openapi.json",
        docs_url=None,  # install_docs: the same page, with Swagger UI served from here
        redoc_url=None,
        default_response_class=ORJSONResponse,
    )
    api.state.core = core
    api.state.audit = audit
    install_error_handlers(api)
    install_openapi(api)
    install_docs(api)
    for router in ROUTERS:
        api.include_router(router, prefix="/v1")
    for operation in FAST_OPERATIONS:
        api.router.routes.extend(operation.documented())
    api.include_router(auth_trustee.well_known_router)
    mount_ui(api)
    return api
