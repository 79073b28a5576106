"""Hot operations, each declared once: the request gate serves it, the OpenAPI document shows it.

FastAPI's per-request work (dependency solving, a worker thread for every sync handler,
routing over every route) costs several times what a short handler does itself, so the
operations clients call most (token verification, claims, event posts) are plain Starlette
routes that the gate serves ahead of FastAPI. A :class:`FastOperation` is the one declaration
of such an operation: its path, body model, capability and handler. From it come the gate's
route (:meth:`FastOperation.route`, every content type and both of Vault's write verbs) and the
FastAPI route that puts it in the OpenAPI document (:meth:`FastOperation.documented`, whose
handler fails loudly if the gate ever lets a request through), so the two cannot drift apart.

A handler follows FastAPI's order of checks, which clients see: JSON syntax (the gate), then
the token, then the body's fields (:meth:`FastOperation.validate`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Header
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trustee.auth.token_store import TokenEntry
from trustee.server.asgi.gate import MISSING, parsed_body
from trustee.server.faces.vault.common import validate_body
from trustee.server.faces.vault.envelope import ORJSONResponse, error_response_for
from trustee.server.faces.vault.guard import authorize, requires

__all__ = ["FastOperation"]

Handler = Callable[["FastOperation", Request], Awaitable[Response]]

WRITE_METHODS = ("POST", "PUT")
"""Vault takes PUT as POST; its CLI writes with PUT."""


@dataclass(frozen=True)
class FastOperation:
    path: str
    """Below ``/v1``, with Starlette's ``{name}`` parameters."""
    body: type[BaseModel]
    capability: str | None
    """What the token needs on the path; None: no token (anyone may ask)."""
    handler: Handler
    """Its docstring describes the operation in the OpenAPI document."""
    tag: str
    headers: tuple[str, ...] = ()
    """Optional request headers the handler reads, for the OpenAPI document."""

    def authorize(self, request: Request) -> TokenEntry:
        """The caller's token entry once :attr:`capability` is granted on the path."""
        if self.capability is None:
            raise TypeError(f"{self.path} takes no token")
        return authorize(request, self.capability)

    async def data(self, request: Request) -> Any:
        """The body's value as the gate decoded it; a body of another type as its bytes, which
        validation refuses as FastAPI's does; :data:`MISSING` for no body."""
        data = parsed_body(request)
        if data is MISSING:
            raw = await request.body()
            return raw if raw else MISSING
        return data

    def validate(self, data: Any) -> Any:
        return validate_body(self.body, data)

    def route(self, prefix: str = "/v1") -> Route:
        """The gate's route: the handler's errors answered by the face's one mapping."""
        handler = self.handler

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(self, request)
            except Exception as exc:  # mapped as FastAPI's handlers map it; 500 logs the type
                return error_response_for(request, exc)

        return Route(prefix + self.path, endpoint, methods=list(WRITE_METHODS))

    def documented(self, prefix: str = "/v1") -> list[APIRoute]:
        """The operation as FastAPI routes it, for the OpenAPI document and for 405s with the
        right ``Allow`` (POST, and PUT as its alias); never served: the gate takes every POST
        and PUT of the path first."""

        def endpoint(**_: Any) -> ORJSONResponse:
            # Reached only for a method the gate does not take, which routing refuses (405)
            # before calling this; a request that gets here means the gate stopped serving.
            raise RuntimeError(f"{self.path} is served by the request gate")

        parameters = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str)
            for name in _path_parameters(self.path)
        ]
        parameters.append(
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=self.body)
        )
        for header in self.headers:
            parameters.append(
                inspect.Parameter(
                    header.lower().replace("-", "_"),
                    inspect.Parameter.KEYWORD_ONLY,
                    default=Header(None, alias=header),
                    annotation=str | None,
                )
            )
        if self.capability is not None:
            parameters.append(
                inspect.Parameter(
                    "_token", inspect.Parameter.KEYWORD_ONLY, default=requires(self.capability)
                )
            )
        endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        endpoint.__name__ = self.handler.__name__.removeprefix("fast_")
        endpoint.__doc__ = self.handler.__doc__
        return [
            APIRoute(
                prefix + self.path,
                endpoint,
                methods=[method],
                tags=[self.tag],
                include_in_schema=method == "POST",
                response_class=ORJSONResponse,
            )
            for method in WRITE_METHODS
        ]


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
