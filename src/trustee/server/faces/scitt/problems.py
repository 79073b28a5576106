"""Concise problem details (RFC 9290) in CBOR: ``{-1: title, -2: detail}``, the one error
shape of this face, and the mapping of service errors to statuses."""

from collections.abc import Mapping
from http import HTTPStatus

from starlette.responses import Response
from starlette.types import ASGIApp

from trustee.errors import (
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
from trustee.scitt import cbor

PROBLEM_TYPE = "application/concise-problem-details+cbor"
TITLE, DETAIL = -1, -2

_STATUSES: dict[type[TrusteeError], int] = {
    InvalidRequest: 400,
    PermissionDenied: 403,
    NotFound: 404,
    TooLarge: 413,
    RateLimited: 429,
    NotInitialized: 503,  # no keys yet: nothing can be registered, as when sealed
    Sealed: 503,
    StorageUnavailable: 503,
}


def problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = cbor.encode({TITLE: title, DETAIL: detail})
    return Response(body, status_code=status, media_type=PROBLEM_TYPE, headers=dict(headers or {}))


def refuse(status: int, message: str, headers: Mapping[str, str]) -> ASGIApp:
    """What the shared layers answer in this face's shape (413, 429, bodies refused)."""
    return problem(status, message, headers)


def problem_for(exc: TrusteeError) -> Response:
    status = nearest(exc, _STATUSES, 500)
    headers = {}
    if isinstance(exc, StorageUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    elif status == 503:
        headers["Retry-After"] = "5"
    return problem(status, exc.message if status != 500 else "internal error", headers)
