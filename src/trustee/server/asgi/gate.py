"""The one layer every request crosses on its way to a face, and the hot paths served from it.

In order, for the face the request is addressed to: the face's conventions (Vault's ``LIST``
verb, say), the rate limits, then the body is read once (the body cap stands in front) and,
when it is JSON, decoded once by :func:`~trustee.server.asgi.decoder.decode_json_body`, which
refuses what no route may read. What passes goes to one of the face's *hot routes* when one
matches, else to the application. Both read the decoded text, and the hot routes its value
(:func:`parsed_body`).

Hot routes are answered here, ahead of FastAPI: its per-request machinery (telemetry, error and
exit-stack middleware, routing over every route, dependency solving) cost about a fifth of a
claim's time on the server. A hot route answers its own errors, in its face's shape.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from trustee.server.asgi.body import read_body, replay
from trustee.server.asgi.decoder import BodyRefused, decode_json_body
from trustee.server.asgi.faces import FaceDispatch, Faces
from trustee.server.asgi.json_depth import MAX_JSON_DEPTH
from trustee.server.asgi.ratelimit import RateLimits

__all__ = ["MISSING", "RequestGate", "parsed_body"]

_PARSED_BODY = "trustee.parsed_body"
MISSING: Any = object()
"""No body: routes report it with their fields' errors, after the token is checked."""


def parsed_body(request: Request) -> Any:
    """The value of the request's JSON body as the gate decoded it, or :data:`MISSING`."""
    return request.scope.get(_PARSED_BODY, MISSING)


class RequestGate:
    """Conventions, rate limits and the one JSON decoding for ``app``; hot routes served here."""

    def __init__(
        self,
        app: ASGIApp,
        faces: Faces,
        *,
        limits: RateLimits | None = None,
        max_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.faces = faces
        self.limits = limits if limits is not None else RateLimits(faces.rate_limits())
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        face = self.faces.of_request(scope)
        scope = face.conventions(scope)
        wait = self.limits.retry_after(scope)
        if wait:
            message = f"too many requests: retry after {wait} s"
            await face.refuse(429, message, {"Retry-After": str(wait)})(scope, receive, send)
            return
        body, tail = await read_body(receive)
        if body and _is_json(scope):
            try:
                body, value = decode_json_body(body, self.max_depth)
            except BodyRefused as refusal:
                await face.refuse(400, str(refusal), {})(scope, receive, send)
                return
            scope = {**scope, _PARSED_BODY: value}
        receive = replay(body, tail, receive)
        for route in face.hot_routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                app = self.app.app_of(scope) if isinstance(self.app, FaceDispatch) else self.app
                scope = {**scope, **child_scope, "app": app, "route": route}
                response = await route.endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    """Whether the body is JSON by its type: ``application/json`` or ``application/*+json``,
    as FastAPI reads it (a face's conventions may have labelled it already)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (
                kind.startswith(b"application/") and kind.endswith(b"+json")
            )
    return False
