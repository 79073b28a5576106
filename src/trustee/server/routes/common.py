"""Request-body conventions shared by every route module."""

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request


class Body(BaseModel):
    """Unknown fields are refused (400): a typo in a security setting must not pass silently."""

    model_config = ConfigDict(extra="forbid")


def is_list(request: Request) -> bool:
    """``?list=true`` in any case (hvac sends ``True``); LIST is rewritten to this by middleware."""
    return request.query_params.get("list", "").lower() in ("true", "1")
