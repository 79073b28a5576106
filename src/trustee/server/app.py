"""The ASGI application: Vault-compatible routes over one :class:`~trustee.core.Core`.

Outermost first: the body cap, the audit log (which sees all that passed the cap), the request
gate (conventions, rate limits, the JSON depth cap, the hot routes), then the API itself.
"""

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp

from trustee import __version__
from trustee.core import Core
from trustee.server import audit as audit_device
from trustee.server.audit import AuditDevice, AuditMiddleware
from trustee.server.envelope import ORJSONResponse, install_error_handlers
from trustee.server.gate import RequestGate
from trustee.server.middleware import BodyLimitMiddleware
from trustee.server.openapi import install_openapi
from trustee.server.ratelimit import RateLimits
from trustee.server.routes import auth_trustee, ledger, sys, token, trustees
from trustee.server.ui import mount_ui

ROUTERS = (sys.router, token.router, trustees.router, auth_trustee.router, ledger.router)
HOT_ROUTES = (*trustees.fast_routes("/v1"), *ledger.fast_routes("/v1"))


def create_app(core: Core, audit: AuditDevice | None = None) -> ASGIApp:
    """The server's application: the API behind the request layers, with the hot routes."""
    return front(create_api(core, audit), audit, hot_routes=HOT_ROUTES)


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
        docs_url="/v1/docs",
        redoc_url=None,
        default_response_class=ORJSONResponse,
    )
    api.state.core = core
    api.state.audit = audit
    install_error_handlers(api)
    install_openapi(api)
    for router in ROUTERS:
        api.include_router(router, prefix="/v1")
    api.include_router(audit_device.router, prefix="/v1")
    api.include_router(auth_trustee.well_known_router)
    mount_ui(api)
    return api


def front(
    api: ASGIApp,
    audit: AuditDevice | None = None,
    *,
    hot_routes: Sequence[Route] = (),
    limits: RateLimits | None = None,
) -> ASGIApp:
    """``api`` behind the body cap, the audit log when there is one, and the request gate."""
    app: ASGIApp = RequestGate(api, hot_routes=hot_routes, limits=limits)
    if audit is not None:
        app = AuditMiddleware(app, device=audit)
    return BodyLimitMiddleware(app)
