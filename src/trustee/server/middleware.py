"""Pure ASGI middleware: Vault's LIST verb and JSON bodies, and the request body cap."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024


class ListMethodMiddleware:
    """``LIST /v1/x`` becomes ``GET /v1/x?list=true``, so routes know one listing form.

    Vault's CLI and many hvac methods send the literal LIST method; hvac's generic ``list()``
    sends ``GET ?list=True``. Handlers see ``list`` in the query either way.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "LIST":
            query = scope.get("query_string", b"")
            scope = dict(
                scope, method="GET", query_string=(query + b"&" if query else b"") + b"list=true"
            )
        await self.app(scope, receive, send)


class JsonBodyMiddleware:
    """Bodies under ``/v1/`` are read as JSON whatever ``Content-Type`` says, as Vault reads them.

    ``curl -d '{...}'``, the form Vault's documentation uses, labels its data
    ``application/x-www-form-urlencoded``; FastAPI would then refuse every body. Multipart and
    other explicit types are left alone.
    """

    RELABELLED = frozenset({b"application/x-www-form-urlencoded", b"text/plain"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/v1/"):
            headers = scope.get("headers", [])
            for name, value in headers:
                if name == b"content-type":
                    if value.split(b";", 1)[0].strip().lower() in self.RELABELLED:
                        relabelled = [(k, v) for k, v in headers if k != b"content-type"]
                        relabelled.append((b"content-type", b"application/json"))
                        scope = dict(scope, headers=relabelled)
                    break
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 before a handler reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _too_large(send)
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
                await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = b'{"errors":["request body is larger than 1 MiB"]}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
