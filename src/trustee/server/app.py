"""The server: the shared layers in front of the faces, over one :class:`~trustee.core.Core`.

Outermost first: the body cap, the audit log (which sees all that passed the cap), the request
gate (a face's conventions, rate limits, the one JSON decoding, hot routes), then the faces.
Each face is a package of :mod:`trustee.server.faces` that imports the services and the shared
layers (:mod:`trustee.server.asgi`, :mod:`trustee.server.access`), never another face.
"""

from collections.abc import Sequence

from starlette.types import ASGIApp

from trustee.core import Core
from trustee.server.asgi.audit_device import AuditDevice, AuditMiddleware
from trustee.server.asgi.body import BodyLimitMiddleware
from trustee.server.asgi.faces import Face, FaceDispatch, Faces
from trustee.server.asgi.gate import RequestGate
from trustee.server.asgi.keepalive import KeepAliveHint
from trustee.server.asgi.ratelimit import RateLimits
from trustee.server.faces import archivist, scitt, vault

__all__ = ["create_app", "front"]


def create_app(core: Core, audit: AuditDevice | None = None) -> ASGIApp:
    """The server's application: every face behind the shared layers."""
    apps = [
        (vault.FACE, vault.create_api(core, audit)),
        (archivist.face.face(core), archivist.create_api(core)),
        (scitt.FACE, scitt.create_app(core)),
    ]
    return front(FaceDispatch(apps), [face for face, _ in apps], audit)


def front(
    app: ASGIApp,
    faces: Sequence[Face],
    audit: AuditDevice | None = None,
    *,
    limits: RateLimits | None = None,
) -> ASGIApp:
    """``app`` behind the keep-alive hint, the body cap, the audit log when there is one, and
    the request gate."""
    known = Faces(faces)
    layered: ASGIApp = RequestGate(app, known, limits=limits)
    if audit is not None:
        layered = AuditMiddleware(layered, device=audit, faces=known)
    return KeepAliveHint(BodyLimitMiddleware(layered, known))
