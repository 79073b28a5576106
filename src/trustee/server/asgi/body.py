"""Pure ASGI pieces: the request body cap, and reading a body once to hand it on."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustee.server.asgi.faces import Faces

__all__ = ["MAX_BODY_BYTES", "BodyLimitMiddleware", "read_body", "replay"]

MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = "request body is larger than 1 MiB"


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413, in the request's face's shape, before a
    handler reads them."""

    def __init__(self, app: ASGIApp, faces: Faces, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.faces = faces
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refuse = self.faces.of_request(scope).refuse
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await refuse(413, TOO_LARGE, {})(scope, receive, send)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await refuse(413, TOO_LARGE, {})(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole request body, and any non-body message that ended it early (a disconnect).

    Bounded: the body cap sits in front of every reader.
    """
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), []


def replay(body: bytes, tail: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` in one message, then ``tail``, then what ``receive``
    gives: a streaming response waits on it for the client's disconnect, which must not come
    before the client has gone."""
    pending: list[Message] = [{"type": "http.request", "body": body}, *tail]

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
