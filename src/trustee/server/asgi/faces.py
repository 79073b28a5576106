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
from starlette.types import ASGIApp, Scope

from trustee.server.asgi.ratelimit import Rule

__all__ = ["Face", "Faces", "Refuse"]

Credential = Callable[[Scope], str | None]
"""The server token a request carries, as its face reads it (for the audit log)."""

Refuse = Callable[[int, str, Mapping[str, str]], ASGIApp]
"""(status, message, extra headers) → the ASGI response that says so in the face's shape."""


def _unchanged(scope: Scope) -> Scope:
    return scope


@dataclass(frozen=True)
class Face:
    """One face as the shared layers see it.

    ``prefix`` is the path it serves (``""`` for the face that answers every other path);
    ``credential`` reads the token a request carries; ``conventions`` rewrites a request before
    anything else looks at it (Vault's ``LIST`` verb); ``rate_limits`` are by path below the
    prefix; ``hot_routes`` are served by the gate itself, ahead of the face's application, and
    answer their own errors.
    """

    prefix: str
    refuse: Refuse
    credential: Credential = lambda scope: None
    conventions: Callable[[Scope], Scope] = _unchanged
    rate_limits: Mapping[str, Rule] = field(default_factory=dict)
    hot_routes: Sequence[Route] = ()

    def serves(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/") or not self.prefix


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
        for face in self._faces:
            if face.serves(path):
                return face
        return self._default

    def rate_limits(self) -> dict[str, Rule]:
        """Every face's rules, by full path."""
        return {
            face.prefix + path: rule
            for face in self._faces
            for path, rule in face.rate_limits.items()
        }

    def hot_routes(self) -> list[Route]:
        return [route for face in self._faces for route in face.hot_routes]
