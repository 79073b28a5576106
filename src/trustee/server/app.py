"""The ASGI application: Vault-compatible routes over one :class:`~trustee.core.Core`."""

from fastapi import FastAPI

from trustee import __version__
from trustee.core import Core
from trustee.server import audit as audit_device
from trustee.server.audit import AuditDevice, AuditMiddleware
from trustee.server.envelope import ORJSONResponse, install_error_handlers
from trustee.server.json_depth import JsonDepthMiddleware
from trustee.server.middleware import (
    BodyLimitMiddleware,
    JsonBodyMiddleware,
    ListMethodMiddleware,
)
from trustee.server.openapi import install_openapi
from trustee.server.ratelimit import RateLimitMiddleware
from trustee.server.routes import auth_trustee, ledger, sys, token, trustees
from trustee.server.ui import mount_ui

ROUTERS = (sys.router, token.router, trustees.router, auth_trustee.router, ledger.router)


def create_app(core: Core, audit: AuditDevice | None = None) -> FastAPI:
    app = FastAPI(
        title="trustee",
        version=__version__,
        description=(
            "Verify-then-trust: secp256k1 key custody, address-verifiable JWTs, delegated "
            "authentication and a signed-records transparency log, with Vault's HTTP conventions."
        ),
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        default_response_class=ORJSONResponse,
    )
    app.state.core = core
    app.state.audit = audit
    install_error_handlers(app)
    install_openapi(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/v1")
    app.include_router(audit_device.router, prefix="/v1")
    app.include_router(auth_trustee.well_known_router)
    # The hot paths as plain Starlette routes, matched first (see routes.common.JsonRoute).
    app.router.routes[:0] = trustees.fast_routes("/v1")
    mount_ui(app)
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(ListMethodMiddleware)
    # Outermost last: the body cap, then the audit log (which sees all that passed the cap),
    # then rate limits and the JSON depth cap, so refusals are audited too.
    app.add_middleware(JsonDepthMiddleware)
    app.add_middleware(RateLimitMiddleware)
    if audit is not None:
        app.add_middleware(AuditMiddleware, device=audit)
    app.add_middleware(BodyLimitMiddleware)
    return app
