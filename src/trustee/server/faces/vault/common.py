"""Request-body conventions shared by every route module."""

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from trustee.server.asgi.gate import MISSING


class Body(BaseModel):
    """Unknown fields are refused (400): a typo in a security setting must not pass silently.

    Types are strict for the same reason: ``false`` is not ``0`` and ``0`` is not ``false``
    (an integer still fills a float field, as JSON has one number type).
    """

    model_config = ConfigDict(extra="forbid", strict=True)


def is_list(request: Request) -> bool:
    """``?list=true`` in any case (hvac sends ``True``); LIST is rewritten to this by middleware."""
    return request.query_params.get("list", "").lower() in ("true", "1")


def write(router: APIRouter, path: str, **options: Any) -> Callable[[Callable], Callable]:
    """Register a write handler for POST and, hidden from OpenAPI, for PUT.

    Vault treats PUT and POST alike and its CLI writes with PUT; documenting one operation
    keeps the OpenAPI document free of duplicate operation ids.
    """

    def register(handler: Callable) -> Callable:
        router.post(path, **options)(handler)
        router.put(path, include_in_schema=False, **options)(handler)
        return handler

    return register


BodyT = TypeVar("BodyT", bound=BaseModel)


def validate_body(model: type[BodyT], data: Any) -> BodyT:
    """``data`` (the gate's :func:`~trustee.server.asgi.gate.parsed_body`) validated into
    ``model`` as FastAPI validates a body, with the same errors."""
    if data is MISSING:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([e | {"loc": ("body", *e["loc"])} for e in errors]) from None
