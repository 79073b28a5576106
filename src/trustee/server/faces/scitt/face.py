"""The SCITT face put together: its routes, and what the shared layers need to know of it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trustee.core import Core
from trustee.errors import TrusteeError
from trustee.scitt.registry import ScittRegistry
from trustee.server.asgi.faces import Face
from trustee.server.faces.scitt.problems import problem, problem_for, refuse

__all__ = ["FACE", "create_app"]

logger = logging.getLogger("trustee.server")

COSE = "application/cose"
KEYS_PATH = "/.well-known/scitt-keys"
RETRY_AFTER = "1"
"""What a client waits before fetching a receipt: registration is final once answered, so
the receipt is there at once; SCRAPI clients poll by it all the same."""

Endpoint = Callable[[Request], Awaitable[Response]]


def _answers(endpoint: Endpoint) -> Endpoint:
    """Service errors as problem details; anything unexpected a 500 without its message."""

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except TrusteeError as exc:
            return problem_for(exc)
        except Exception as exc:  # the type only: messages may carry request data
            logger.error(
                "internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__
            )
            return problem(500, "internal error")

    return wrapped


def _registry(request: Request) -> ScittRegistry:
    return request.app.state.scitt


@_answers
async def register(request: Request) -> Response:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != COSE:
        return problem(415, f"a signed statement is sent as {COSE}")
    body = await request.body()
    registered = await _registry(request).register_async(body)
    location = f"/entries/{registered.entry_id}"
    return Response(status_code=303, headers={"Location": location, "Retry-After": RETRY_AFTER})


@_answers
async def receipt(request: Request) -> Response:
    registry = _registry(request)
    entry_id = request.path_params["entry_id"]
    body = registry.cached_receipt(entry_id)  # right after a registration: in memory
    if body is None:
        body = await run_in_threadpool(registry.receipt, entry_id)
    return Response(body, media_type=COSE)


HOT_ROUTES = (
    Route("/entries", register, methods=["POST"]),
    Route("/entries/{entry_id}", receipt, methods=["GET"]),
)
"""Registration and the receipt fetched after it, served by the request gate ahead of the
face's application (:mod:`trustee.server.asgi.gate`): a registration is these two requests."""

FACE = Face(prefix="/entries", also=(KEYS_PATH,), refuse=refuse, hot_routes=HOT_ROUTES)


def create_app(core: Core) -> Starlette:
    registry = core.scitt

    @_answers
    async def statement(request: Request) -> Response:
        entry_id = request.path_params["entry_id"]
        body = await run_in_threadpool(registry.transparent_statement, entry_id)
        return Response(body, media_type=COSE)

    @_answers
    async def keys(request: Request) -> Response:
        return Response(await run_in_threadpool(registry.key_set), media_type="application/cbor")

    @_answers
    async def key(request: Request) -> Response:
        body = await run_in_threadpool(registry.key, request.path_params["kid"])
        return Response(body, media_type="application/cbor")

    async def unrouted(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        messages = {404: "unsupported path", 405: "unsupported method"}
        return problem(status, messages.get(status, "error"))

    routes = [
        *HOT_ROUTES,  # also here, for a server without the gate
        Route("/entries/{entry_id}/statement", statement, methods=["GET"]),
        Route(KEYS_PATH, keys, methods=["GET"]),
        Route(KEYS_PATH + "/{kid}", key, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: unrouted, 405: unrouted})
    app.state.scitt = registry
    return app
