"""The server: the shared layers in front of the faces, over one :class:`~trustee.core.Core`.

Outermost first: the body cap, the audit log (which sees all that passed the cap), the request
gate (a face's conventions, rate limits, the one JSON decoding, hot routes), then the faces.
Each face is a package of :mod:`trustee.server.faces` that imports the services and the shared
layers (:mod:`trustee.server.asgi`, :mod:`trustee.server.access`), never another face.
"""

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from trustee.core import Core
from trustee.server.asgi.audit_device import AuditDevice, AuditMiddleware
from trustee.server.asgi.body import BodyLimitMiddleware
from trustee.server.asgi.faces import Face, Faces
from trustee.server.asgi.gate import RequestGate
from trustee.server.asgi.ratelimit import RateLimits
from trustee.server.faces import archivist, vault

__all__ = ["create_app", "front"]


def create_app(core: Core, audit: AuditDevice | None = None) -> ASGIApp:
    """The server's application: every face behind the shared layers."""
    routes = {archivist.face.PREFIX: archivist.create_api(core)}
    app = ByPrefix(routes, vault.create_api(core, audit))
    return front(app, (vault.FACE, archivist.face.face(core)), audit)


class ByPrefix:
    """Each request to the application whose path prefix it has (paths unchanged), else to
    ``default``. The request gate serves hot routes with this as ``request.app``, so it shows
    ``default``'s ``state`` (the Vault face's hot routes read the core there)."""

    def __init__(self, apps: dict[str, ASGIApp], default: FastAPI) -> None:
        self.apps = apps
        self.default = default
        self.state = default.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        for prefix, app in self.apps.items():
            if path == prefix or path.startswith(prefix + "/"):
                await app(scope, receive, send)
                return
        await self.default(scope, receive, send)


def front(
    app: ASGIApp,
    faces: Sequence[Face],
    audit: AuditDevice | None = None,
    *,
    limits: RateLimits | None = None,
) -> ASGIApp:
    """``app`` behind the body cap, the audit log when there is one, and the request gate."""
    known = Faces(faces)
    layered: ASGIApp = RequestGate(app, known, limits=limits)
    if audit is not None:
        layered = AuditMiddleware(layered, device=audit, faces=known)
    return BodyLimitMiddleware(layered, known)
