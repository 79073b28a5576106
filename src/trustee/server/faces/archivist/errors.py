"""DataTrails' error shape and the one table from domain errors to statuses on this face.

DataTrails answers errors as its gRPC gateway writes them, ``{"code": <gRPC code>, "message":
..., "details": []}``; its SDK reads only the status (and, for 429, the
``Archivist-Rate-Limit-Reset`` header with the seconds to wait), so the message is free to say
what went wrong. Never a traceback: an error named nowhere here is the server's fault, logged
by type only and answered 500.
"""

import logging
from collections.abc import Mapping

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

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
    Unauthenticated,
    nearest,
)

__all__ = ["RATE_LIMIT_RESET", "error_response", "error_response_for", "install_error_handlers"]

logger = logging.getLogger("trustee.server")

RATE_LIMIT_RESET = "Archivist-Rate-Limit-Reset"

STATUSES: dict[type[TrusteeError], int] = {
    InvalidRequest: 400,
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    AlreadyExists: 409,
    TooLarge: 413,
    RateLimited: 429,
    NotInitialized: 501,
    Sealed: 503,
    StorageUnavailable: 503,
}
"""Each domain error's status on this face; a subclass takes its nearest ancestor's."""

_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 3, 429: 8, 501: 12, 503: 14}


class JSONResponse(Response):
    media_type = "application/json"


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = {"code": _GRPC_CODES.get(status, 13 if status >= 500 else 2), "message": message}
    response = JSONResponse(orjson.dumps({**body, "details": []}), status_code=status)
    response.headers.update(headers or {})
    if "Retry-After" in response.headers and status == 429:
        response.headers[RATE_LIMIT_RESET] = response.headers["Retry-After"]
    return response


def status_of(error: TrusteeError) -> int:
    return nearest(error, STATUSES, 500)


def error_response_for(request: Request, exc: Exception) -> Response:
    """The answer to an exception a route raised, for FastAPI's handlers and the hot route."""
    if isinstance(exc, StorageUnavailable):
        return error_response(503, exc.message, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, TrusteeError):
        return error_response(status_of(exc), exc.message)
    if isinstance(exc, CryptoError):
        return error_response(400, str(exc))
    if isinstance(exc, RequestValidationError):
        return error_response(400, "; ".join(_describe(error) for error in exc.errors()[:10]))
    if isinstance(exc, StarletteHTTPException):
        messages = {404: "unsupported path", 405: "unsupported operation"}
        text = messages.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, text, exc.headers)
    logger.error(
        "internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return error_response_for(request, exc)

    handled = (TrusteeError, CryptoError, RequestValidationError, StarletteHTTPException)
    for kind in (*handled, Exception):
        app.add_exception_handler(kind, handler)


def _describe(error: Mapping[str, object]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")  # type: ignore[attr-defined]
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON"
    message = str(error.get("msg", "invalid value"))
    return f"{where}: {message}" if where else message
