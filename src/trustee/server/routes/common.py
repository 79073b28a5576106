"""Request-body conventions shared by every route module."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request


class Body(BaseModel):
    """Unknown fields are refused (400): a typo in a security setting must not pass silently."""

    model_config = ConfigDict(extra="forbid")


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
