"""The DataTrails face put together: its FastAPI application and what the shared layers need."""

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp

from trustee import __version__
from trustee.core import Core
from trustee.server.asgi.faces import Face
from trustee.server.asgi.ratelimit import Rule
from trustee.server.faces.archivist.errors import error_response, install_error_handlers
from trustee.server.faces.archivist.guard import token_of_scope
from trustee.server.faces.archivist.routes import applications, assets, events

__all__ = ["FACE", "PREFIX", "create_api", "face"]

PREFIX = "/archivist"

RATE_LIMITS = {
    # Each attempt is a secret check; a leaked client id would be tried here.
    "/iam/v1/appidp/token": Rule(burst=30, per_second=10),
}


def refuse(status: int, message: str, headers: Mapping[str, str]) -> ASGIApp:
    return error_response(status, message, headers)


def face(core: Core | None = None) -> Face:
    """The face as the shared layers see it; its hot route (event posts) needs the core."""
    return Face(
        prefix=PREFIX,
        refuse=refuse,
        credential=token_of_scope,
        rate_limits=RATE_LIMITS,
        hot_routes=() if core is None else (events.post_event_route(core),),
    )


FACE = face()
"""Without its hot route: for the shared layers' refusals and audit, before a core exists."""


def create_api(core: Core) -> FastAPI:
    """Every route under ``/archivist``, answering errors in DataTrails' shape."""
    api = FastAPI(
        title="trustee: DataTrails face",
        version=__version__,
        openapi_url=PREFIX + "/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    api.state.core = core
    install_error_handlers(api)
    for router in (assets.router, events.router, applications.router):
        api.include_router(router)
    return api
