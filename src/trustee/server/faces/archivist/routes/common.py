"""What every route of this face shares: the core, JSON answers, counts and pages."""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from trustee.core import Core
from trustee.ledger.paging import DEFAULT_PAGE_SIZE
from trustee.server.faces.archivist.wire import tenant_of

__all__ = ["core_of", "json", "listing", "tenant"]

REQUEST_TOTAL_COUNT = "X-Request-Total-Count"
TOTAL_COUNT = "X-Total-Count"


def core_of(request: Request) -> Core:
    return request.app.state.core


def tenant(core: Core) -> str:
    return tenant_of(core.ledger.origin)


def json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def wants_count(request: Request) -> bool:
    return request.headers.get(REQUEST_TOTAL_COUNT, "").lower() == "true"


def listing(field: str, items: list[Any], token: str | None, count: int | None) -> Response:
    """``{field: [...], "next_page_token": ...}``, with ``X-Total-Count`` when asked for."""
    response = json({field: items, "next_page_token": token or ""})
    if count is not None:
        response.headers[TOTAL_COUNT] = str(count)
    return response


def size_or_default(size: int | None) -> int:
    return DEFAULT_PAGE_SIZE if size is None else size
