"""What the shared layers know of a face: where it lives, how it refuses, what it adds.

A face (the Vault API under ``/v1``, later the DataTrails and SCITT APIs) owns its wire
shapes. The shared layers in front of it (body cap, audit device, request gate) must sometimes
answer before it does (a body too large, JSON too deep, a rate limit, an audit log that cannot
be written); they render those answers with the face the request is addressed to, chosen by
path prefix, so a DataTrails client gets DataTrails JSON and a SCITT client CBOR.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from trustee.server.asgi.ratelimit import Rule

__all__ = ["Face", "FaceDispatch", "Faces", "Refuse"]

Credential = Callable[[Scope], str | None]
"""The server token a request carries, as its face reads it (for the audit log)."""

Refuse = Callable[[int, str, Mapping[str, str]], ASGIApp]
"""(status, message, extra headers) → the ASGI response that says so in the face's shape."""


_FACE_KEY = "trustee.face"


def _unchanged(scope: Scope) -> Scope:
    return scope


@dataclass(frozen=True)
class Face:
    """One face as the shared layers see it.

    ``prefix`` is the path it serves (``""`` for the face that answers every other path), and
    ``also`` any further paths it owns (SCITT's API sits at the server root, under
    ``/entries`` and ``/.well-known/scitt-keys``); a request goes to the face with the longest
    prefix that matches its path;
    ``credential`` reads the token a request carries; ``conventions`` rewrites a request before
    anything else looks at it (Vault's ``LIST`` verb); ``rate_limits`` are by path below the
    prefix; ``hot_routes`` are served by the gate itself, ahead of the face's application, and
    answer their own errors.
    """

    prefix: str
    refuse: Refuse
    also: tuple[str, ...] = ()
    credential: Credential = lambda scope: None
    conventions: Callable[[Scope], Scope] = _unchanged
    rate_limits: Mapping[str, Rule] = field(default_factory=dict)
    hot_routes: Sequence[Route] = ()

    def serves(self, path: str) -> bool:
        return self.match_length(path) >= 0

    def match_length(self, path: str) -> int:
        """The length of the longest of this face's prefixes that ``path`` is under, or -1."""
        best = -1
        for prefix in (self.prefix, *self.also):
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                best = max(best, len(prefix))
        return best


class Faces:
    """The faces of one server, most specific prefix first; the last one catches all."""

    def __init__(self, faces: Sequence[Face]) -> None:
        if not faces:
            raise ValueError("a server needs at least one face")
        self._faces = sorted(faces, key=lambda face: len(face.prefix), reverse=True)
        self._default = self._faces[-1]

    def __iter__(self) -> Iterator[Face]:
        return iter(self._faces)

    def of(self, path: str) -> Face:
        """The face whose longest matching prefix is the longest (the catch-all otherwise)."""
        best, length = self._default, -1
        for face in self._faces:
            matched = face.match_length(path)
            if matched > length:
                best, length = face, matched
        return best

    def of_request(self, scope: Scope) -> Face:
        """:meth:`of` the request's path, found once per request: every shared layer and the
        dispatch ask, and the answer is kept in the scope for the ones after."""
        face = scope.get(_FACE_KEY)
        if face is None:
            face = scope[_FACE_KEY] = self.of(scope["path"])
        return face

    def rate_limits(self) -> dict[str, Rule]:
        """Every face's rules, by full path."""
        return {
            face.prefix + path: rule
            for face in self._faces
            for path, rule in face.rate_limits.items()
        }

    def hot_routes(self) -> list[Route]:
        return [route for face in self._faces for route in face.hot_routes]


class FaceDispatch:
    """One ASGI application over the faces' own: each HTTP request to its face's application
    (:meth:`Faces.of`), anything else (lifespan) to the catch-all face's."""

    def __init__(self, apps: Sequence[tuple[Face, ASGIApp]]) -> None:
        self.faces = Faces([face for face, _ in apps])
        self._apps = {id(face): app for face, app in apps}
        self._default = self._apps[id(self.faces.of("/\x00no face owns this path"))]

    def app_of(self, scope: Scope) -> ASGIApp:
        """The application of the face that serves the request (hot routes run as part of it)."""
        return self._apps[id(self.faces.of_request(scope))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.app_of(scope)(scope, receive, send)
        else:
            await self._default(scope, receive, send)
