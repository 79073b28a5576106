"""Request-body conventions shared by every route module."""

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import Scope

from trustee.server.gate import MISSING


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


class JsonRoute(Route):
    """A plain Starlette route for a hot path, served by the request gate ahead of FastAPI.

    FastAPI's per-request work (dependency solving, a worker thread for every sync handler)
    costs several times what a short handler does itself. A JsonRoute takes only requests its
    endpoint answers exactly as the FastAPI route of the same path would: that path and method
    with an ``application/json`` body. Anything else (another method, another or no content
    type) matches nothing here and reaches the FastAPI route, which stays declared for the
    OpenAPI document.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.FULL or not _is_json(scope):
            return Match.NONE, {}
        return match, child_scope


BodyT = TypeVar("BodyT", bound=BaseModel)


def validate_body(model: type[BodyT], data: Any) -> BodyT:
    """``data`` (the gate's :func:`~trustee.server.gate.parsed_body`) validated into
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


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.partition(b";")[0].strip().lower() == b"application/json"
    return False
