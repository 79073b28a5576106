"""Telling clients how long an idle connection is kept, so they never reuse a closed one.

The server closes a connection idle for :data:`KEEP_ALIVE_SECONDS` (a bound on idle
connections; see :mod:`trustee.server.connections`). A client that reuses its idle connection
just as the server closes it gets a reset, not an answer ("fetch failed" in Node), and a POST
is not retried for it. ``Keep-Alive: timeout=N`` (RFC 9112's companion header, which Node's
fetch and http agents, and most pools, honour) lets the client drop it first.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["KEEP_ALIVE_SECONDS", "KeepAliveHint"]

KEEP_ALIVE_SECONDS = 5


class KeepAliveHint:
    def __init__(self, app: ASGIApp, seconds: int = KEEP_ALIVE_SECONDS) -> None:
        self.app = app
        self._header = (b"keep-alive", f"timeout={seconds}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def hinting(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self._header]}
            await send(message)

        await self.app(scope, receive, hinting)
