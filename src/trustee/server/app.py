"""The ASGI application: Vault-compatible routes over one :class:`~trustee.core.Core`."""

from fastapi import FastAPI

from trustee import __version__
from trustee.core import Core
from trustee.server.envelope import ORJSONResponse, install_error_handlers
from trustee.server.middleware import BodyLimitMiddleware, ListMethodMiddleware
from trustee.server.routes import auth_trustee, ledger, sys, token, trustees

ROUTERS = (sys.router, token.router, trustees.router, auth_trustee.router, ledger.router)


def create_app(core: Core) -> FastAPI:
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
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/v1")
    app.include_router(auth_trustee.well_known_router)
    app.add_middleware(ListMethodMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    return app
