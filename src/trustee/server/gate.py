"""The one layer every request crosses on its way to a route, and the hot paths served from it.

In order: Vault's conventions (the ``LIST`` verb becomes ``GET ?list=true``; a body under
``/v1/`` is JSON whatever ``Content-Type`` says, as ``curl -d`` sends it), the rate limits, then
the body is read once (the body cap stands in front) and, when a route would read it as JSON,
decoded once by :func:`~trustee.server.decoder.decode_json_body`, which refuses what no route
may read. What passes goes to one of the *hot routes* when one matches, else to the API
application; both read the decoded text, and the hot routes its value (:func:`parsed_body`).

The hot routes (token verification and claims) are answered here, ahead of FastAPI: its
per-request machinery (telemetry, error and exit-stack middleware, routing over every route,
dependency solving) cost about a fifth of a claim's time on the server. They answer exactly
as their FastAPI twins do, which stay declared there for the OpenAPI document and for every
request these do not take (see :class:`~trustee.server.routes.common.JsonRoute`); their
errors go through the same mapping (:func:`~trustee.server.envelope.error_response_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from trustee.server.decoder import BodyRefused, decode_json_body
from trustee.server.envelope import error_response, error_response_for
from trustee.server.json_depth import MAX_JSON_DEPTH
from trustee.server.middleware import read_body, replay
from trustee.server.ratelimit import RateLimits

__all__ = ["MISSING", "RequestGate", "parsed_body", "vault_conventions"]

_RELABELLED = frozenset({b"application/x-www-form-urlencoded", b"text/plain"})
_PARSED_BODY = "trustee.parsed_body"
MISSING: Any = object()
"""No body: routes report it with their fields' errors, after the token is checked."""


def parsed_body(request: Request) -> Any:
    """The value of the request's JSON body as the gate decoded it, or :data:`MISSING`."""
    return request.scope.get(_PARSED_BODY, MISSING)


class RequestGate:
    """Conventions, rate limits and the JSON depth cap for ``app``; ``hot_routes`` served here."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hot_routes: Sequence[Route] = (),
        limits: RateLimits | None = None,
        max_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.hot_routes = tuple(hot_routes)
        self.limits = limits if limits is not None else RateLimits()
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = vault_conventions(scope)
        refusal = self.limits.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        body, tail = await read_body(receive)
        if body and _read_as_json(scope):
            try:
                body, value = decode_json_body(body, self.max_depth)
            except BodyRefused as refusal:
                await error_response(400, str(refusal))(scope, receive, send)
                return
            scope = {**scope, _PARSED_BODY: value}
        receive = replay(body, tail, receive)
        for route in self.hot_routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope = {**scope, **child_scope, "app": self.app, "route": route}
                await self._serve(route, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request)
        except Exception as exc:  # mapped as FastAPI's handlers map it; 500 logs the type only
            response = error_response_for(request, exc)
        await response(scope, receive, send)


def _read_as_json(scope: Scope) -> bool:
    """Whether a route would read the body as JSON: FastAPI reads a body of type
    ``application/json`` or ``application/*+json`` as JSON (and, under ``/v1/``, the
    relabelling of :func:`vault_conventions` has already happened)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (
                kind.startswith(b"application/") and kind.endswith(b"+json")
            )
    return False


def vault_conventions(scope: Scope) -> Scope:
    """``LIST`` as ``GET ?list=true``, and a form, text or unlabelled body under ``/v1/``
    labelled JSON.

    Vault's CLI and many hvac methods send the literal LIST method (hvac's generic ``list()``
    sends ``GET ?list=True``), so routes know one listing form. ``curl -d '{...}'``, the form
    Vault's documentation uses, labels its data ``application/x-www-form-urlencoded``, which
    FastAPI would refuse. Multipart and other explicit types are left alone.
    """
    if scope["method"] == "LIST":
        query = scope.get("query_string", b"")
        scope = dict(
            scope, method="GET", query_string=(query + b"&" if query else b"") + b"list=true"
        )
    if scope.get("path", "").startswith("/v1/"):
        headers = scope.get("headers", [])
        for name, value in headers:
            if name == b"content-type":
                if value.split(b";", 1)[0].strip().lower() in _RELABELLED:
                    relabelled = [(k, v) for k, v in headers if k != b"content-type"]
                    relabelled.append((b"content-type", b"application/json"))
                    scope = dict(scope, headers=relabelled)
                break
        else:
            scope = dict(scope, headers=[*headers, (b"content-type", b"application/json")])
    return scope
