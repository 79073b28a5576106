"""Vault's response shapes: the success envelope and the ``errors`` list, and the mapping of
every error class to its status in one place (:data:`STATUSES`)."""

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustee.crypto.errors import CryptoError
from trustee.errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    NotInitialized,
    PermissionDenied,
    RateLimited,
    Sealed,
    StorageUnavailable,
    TooLarge,
    TrusteeError,
    nearest,
)
from trustee.ids import uuid4_text
from trustee.server.faces.vault.openapi import api_routes
from trustee.throttle import Throttle

logger = logging.getLogger("trustee.server")

STATUSES: dict[type[TrusteeError], int] = {
    InvalidRequest: 400,
    PermissionDenied: 403,
    NotFound: 404,
    AlreadyExists: 409,
    TooLarge: 413,
    RateLimited: 429,
    NotInitialized: 501,
    Sealed: 503,
    StorageUnavailable: 503,
}
"""Each domain error's status on this face; a subclass takes its nearest ancestor's, and an
error named nowhere here is the server's fault (500)."""


def status_of(error: TrusteeError) -> int:
    return nearest(error, STATUSES, 500)


class ORJSONResponse(JSONResponse):
    """JSON rendered by orjson: the envelope is on every hot path."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def envelope(
    data: dict[str, Any] | None = None,
    *,
    auth: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "request_id": uuid4_text(),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": warnings,
        "auth": auth,
    }


def ok(data: dict[str, Any] | None = None, **options: Any) -> ORJSONResponse:
    return ORJSONResponse(envelope(data, **options))


def no_content() -> Response:
    return Response(status_code=204)


def error_response(status: int, *messages: str) -> ORJSONResponse:
    # hvac fills its exceptions' errors only for exactly this content type.
    return ORJSONResponse(
        {"errors": list(messages)}, status_code=status, media_type="application/json"
    )


def error_response_for(request: Request, exc: Exception) -> ORJSONResponse:
    """The answer to an exception a route raised: the one mapping of error classes to statuses,
    for FastAPI's handlers and for the routes the request gate serves itself."""
    if isinstance(exc, StorageUnavailable):
        _outage_log(exc)
        response = error_response(503, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, TrusteeError):
        return error_response(status_of(exc), exc.message)
    if isinstance(exc, CryptoError):
        return error_response(400, str(exc))
    if isinstance(exc, RequestValidationError):
        return error_response(400, *[_describe(error) for error in exc.errors()][:10])
    if isinstance(exc, StarletteHTTPException):
        messages = {404: "unsupported path", 405: "unsupported operation"}
        response = error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: Allow names every method of the path
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response
    # The type only: messages of unexpected errors may carry request data.
    path, kind = request.url.path, type(exc).__name__
    logger.error("internal error on %s %s: %s", request.method, path, kind)
    return error_response(500, "internal error")


_outages = Throttle(10.0)


def _outage_log(exc: StorageUnavailable) -> None:
    """One line per ten seconds while storage is down, not a traceback per request."""
    count = _outages.due()
    if count is not None:
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "unknown"
        logger.warning("storage unavailable (%s); %d requests answered 503", cause, count)


def install_error_handlers(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> ORJSONResponse:
        return error_response_for(request, exc)

    handled = (TrusteeError, CryptoError, RequestValidationError, StarletteHTTPException)
    for kind in (*handled, Exception):
        app.add_exception_handler(kind, handler)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path takes: Starlette names only the first route's."""
    path = request.url.path
    methods: set[str] = set()
    for route in api_routes(request.app.routes):
        if route.methods and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = error.get("msg", "invalid value")
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON"
    return f"{where}: {message}" if where else message
