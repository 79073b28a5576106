"""An ASGI middleware for recipients: honour a bearer JWT only from trusted addresses.

Works with any ASGI framework (Starlette, FastAPI)::

    app.add_middleware(
        TrusteeAuthMiddleware,
        trusted=["0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"],
        audience="rental-agency",
    )

Each HTTP request must carry ``Authorization: Bearer <jwt>``. The token is verified offline with
:func:`~trustee.tokens.verify_token` (signature, time with ``leeway``, audience, trust list);
nothing is fetched. When it is valid the verdict goes into ``scope["trustee"]`` (a
:class:`~trustee.tokens.VerificationResult`) and, following Starlette's
``AuthenticationMiddleware``, ``scope["auth"]`` (an ``AuthCredentials`` with the scope
``"trustee"``) and ``scope["user"]`` (a :class:`TrusteeUser`), so ``request.user`` and
``request.auth`` work. Otherwise it answers 401 with RFC 6750's ``WWW-Authenticate``: without a
token just ``Bearer realm="..."``; with a bad one also ``error="invalid_token"`` and the reason
code (docs/api.md §7) as ``error_description``. Paths in ``exempt_paths`` (exact, or a prefix when
ending in ``/``) pass untouched; WebSocket and lifespan messages pass too.
"""

import json
from collections.abc import Iterable
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser
from starlette.types import ASGIApp, Receive, Scope, Send

from trustee.tokens import DEFAULT_LEEWAY_SECONDS, TrustList, VerificationResult, verify_token

__all__ = ["TrusteeAuthMiddleware", "TrusteeUser"]


class TrusteeUser(BaseUser):
    """The verified issuer of the request's token; ``claims`` is the token's payload."""

    def __init__(self, result: VerificationResult) -> None:
        self.address = result.address or ""
        self.claims: dict[str, Any] = dict(result.claims or {})

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        subject = self.claims.get("sub")
        return subject if isinstance(subject, str) else self.address

    @property
    def identity(self) -> str:
        return self.address


class TrusteeAuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        trusted: TrustList | Iterable[str],
        audience: str,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
        exempt_paths: Iterable[str] = (),
        realm: str = "trustee",
    ) -> None:
        if not isinstance(audience, str) or not audience:
            raise ValueError("a recipient names its audience")
        self.app = app
        self.trusted = trusted if isinstance(trusted, TrustList) else TrustList(trusted)
        self.audience = audience
        self.leeway = leeway
        self.exempt_paths = tuple(exempt_paths)
        self.realm = realm.replace("\\", "").replace('"', "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            await self._deny(send, f'Bearer realm="{self.realm}"', "a bearer token is required")
            return
        result = verify_token(
            token, trusted=self.trusted, audience=self.audience, leeway=self.leeway
        )
        if not result.valid:
            reason = str(result.reason)
            challenge = (
                f'Bearer realm="{self.realm}", error="invalid_token", error_description="{reason}"'
            )
            await self._deny(send, challenge, f"invalid token: {reason}", reason)
            return
        scope["trustee"] = result
        scope["user"] = TrusteeUser(result)
        scope["auth"] = AuthCredentials(["trustee"])
        await self.app(scope, receive, send)

    def _exempt(self, path: str) -> bool:
        return any(
            path == exempt or (exempt.endswith("/") and path.startswith(exempt))
            for exempt in self.exempt_paths
        )

    async def _deny(
        self, send: Send, challenge: str, message: str, reason: str | None = None
    ) -> None:
        payload: dict[str, Any] = {"errors": [message]}
        if reason is not None:
            payload["reason"] = reason
        body = json.dumps(payload).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"www-authenticate", challenge.encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None
