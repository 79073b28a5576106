"""``docs/api.md`` and the server agree: every route is documented, every documented path routes.

Routes come from the applications themselves, built in-process over a dev core: the paths of
the Vault face's and the DataTrails face's OpenAPI documents, the SCITT face's routes, and the
hot routes the request gate serves ahead of each face (the DataTrails event post is in no
OpenAPI document). A route, or a method of a route, added without its row in ``docs/api.md``
fails here; so does a path the document names that no route serves.

The document names a route by its full path inside a code span, its parameters in braces
(``/v1/trustee/trustees/{name}``) or Vault's way (``/v1/trustee/trustees/:name``); parameter
names are not compared, so ``{uuid}`` and ``{asset}`` are the same segment. An operation is a
table row whose first cell is the path and whose second names the method (``LIST`` stands for
``GET``); PUT, Vault's alias of POST, is stated once for all. ``docs/api.md`` states this
convention at its top.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.routing import Match
from starlette.types import ASGIApp

from trustee.core import Core
from trustee.ledger.evidence import STATUSES as VERDICTS
from trustee.scitt.statement import Reason as StatementReason
from trustee.server.asgi.faces import Face, FaceDispatch
from trustee.server.faces import archivist, scitt, vault
from trustee.server.faces.vault.routes.sys import HEALTH_CODES
from trustee.tokens import Reason as TokenReason

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"

SERVER_PATH = re.compile(r"^/(v1/.|archivist/.|entries|\.well-known/.|ui)")
"""Code spans that name a path of this server (not a face's prefix alone, nor a file path)."""
PARAMETER = re.compile(r"\{[^{}/]*\}|(?<=/):[A-Za-z_][A-Za-z0-9_]*|<[^<>/]*>")
"""``{name}``, ``:name`` (a whole segment, so ``{uuid}:regenerate-secret`` keeps its verb)
and ``<name>`` (as in ``Location: /entries/<tree_size>.<log_index>``)."""


@dataclass
class Server:
    vault: ASGIApp
    archivist: ASGIApp
    scitt: ASGIApp
    faces: list[tuple[Face, ASGIApp]]
    dispatch: FaceDispatch


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The three faces' applications, as ``create_app`` assembles them; nothing is served."""
    core, _ = Core.dev(folder=tmp_path_factory.mktemp("api-doc"))
    try:
        faces = [
            (vault.FACE, vault.create_api(core)),
            (archivist.face.face(core), archivist.create_api(core)),
            (scitt.FACE, scitt.create_app(core)),
        ]
        yield Server(
            vault=faces[0][1],
            archivist=faces[1][1],
            scitt=faces[2][1],
            faces=faces,
            dispatch=FaceDispatch(faces),
        )
    finally:
        core.close()


def normalised(path: str) -> str:
    """The path with every parameter, in any spelling, written ``{}``."""
    return PARAMETER.sub("{}", path)


def documented_paths(text: str) -> set[str]:
    """Every path of this server named in a code span, as written (query strings dropped)."""
    found = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        for word in span.split():
            path = word.split("?", 1)[0].rstrip(".,;:)")
            if SERVER_PATH.match(path) and "..." not in path:
                found.add(path)
    return found


METHOD = re.compile(r"\b(GET|POST|PUT|DELETE|PATCH|LIST)\b")


def documented_operations(text: str) -> set[tuple[str, str]]:
    """``(normalised path, method)`` of every table row whose first cell is a path and whose
    second names methods; ``LIST`` is Vault's ``GET ?list=true``."""
    found = set()
    for line in text.splitlines():
        cells = line.split("|")
        if not line.startswith("|") or len(cells) < 4:
            continue
        paths = documented_paths(cells[1])
        for method in METHOD.findall(cells[2]):
            found |= {(normalised(path), "GET" if method == "LIST" else method) for path in paths}
    return found


def route_operations(server: Server) -> dict[tuple[str, str], str]:
    """Every operation a client calls: the OpenAPI documents' (less the PUT aliases of POST,
    which the document states once), the SCITT routes' and the hot routes' (HEAD and PUT
    aside, as aliases)."""
    operations: dict[tuple[str, str], str] = {}
    for app, source in ((server.vault, "Vault"), (server.archivist, "DataTrails")):
        for path, item in app.openapi()["paths"].items():  # type: ignore[attr-defined]
            for method, operation in item.items():
                if "x-trustee-alias-of" not in operation or method != "put":
                    operations[(path, method.upper())] = f"the {source} face's OpenAPI document"
    routes = [(route, "the SCITT face's routes") for route in server.scitt.routes]  # type: ignore[attr-defined]
    routes += [(route, "a hot route") for face, _ in server.faces for route in face.hot_routes]
    for route, source in routes:
        for method in route.methods - {"HEAD", "PUT"}:
            operations.setdefault((route.path, method), source)
    return operations


def route_paths(server: Server) -> dict[str, str]:
    """Every route's path, by where it comes from."""
    paths: dict[str, str] = {}
    for path in server.vault.openapi()["paths"]:  # type: ignore[attr-defined]
        paths[path] = "the Vault face's OpenAPI document"
    for path in server.archivist.openapi()["paths"]:  # type: ignore[attr-defined]
        paths[path] = "the DataTrails face's OpenAPI document"
    for route in server.scitt.routes:  # type: ignore[attr-defined]
        paths[route.path] = "the SCITT face's routes"
    for face, _ in server.faces:
        for route in face.hot_routes:
            paths.setdefault(route.path, "a hot route of the request gate")
    return paths


def test_the_convention_is_stated_at_the_top() -> None:
    head = DOC.read_text(encoding="utf-8")[:2000]
    assert "{name}" in head and ":name" in head and "tests/test_api_doc.py" in head


def test_every_route_is_documented(server: Server) -> None:
    documented = {normalised(path) for path in documented_paths(DOC.read_text(encoding="utf-8"))}
    routes = route_paths(server)
    assert len(routes) > 60  # the documents were read, not an empty app's
    missing = sorted(
        f"{path} ({source})"
        for path, source in routes.items()
        if normalised(path) not in documented
    )
    assert not missing, "routes missing from docs/api.md:\n" + "\n".join(missing)


def test_every_operation_is_in_a_table(server: Server) -> None:
    """Each method of each route has its row (path, then method) in one of the tables."""
    documented = documented_operations(DOC.read_text(encoding="utf-8"))
    missing = sorted(
        f"{method} {path} ({source})"
        for (path, method), source in route_operations(server).items()
        if (normalised(path), method) not in documented
    )
    assert not missing, "operations without a row in docs/api.md:\n" + "\n".join(missing)


def test_every_documented_path_is_routed(server: Server) -> None:
    """A path the document names reaches a route of the face that serves it (any method),
    a mounted folder, or a hot route: the document names nothing the server does not have."""
    unrouted = []
    for path in sorted(documented_paths(DOC.read_text(encoding="utf-8"))):
        concrete = PARAMETER.sub("p1", path)
        if not _routes(server, concrete):
            unrouted.append(path)
    assert not unrouted, "docs/api.md names paths no route serves:\n" + "\n".join(unrouted)


def _routes(server: Server, path: str) -> bool:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b""}
    app = server.dispatch.app_of(scope)
    routes = list(app.routes)  # type: ignore[attr-defined]
    for face, face_app in server.faces:
        if face_app is app:
            routes.extend(face.hot_routes)
    return any(route.matches(scope)[0] is not Match.NONE for route in routes)


def test_the_path_check_tells_routes_apart(server: Server) -> None:
    """The checks above can fail: an unknown path is not routed, parameters match any name,
    and a documented parent path does not stand for its children."""
    assert not _routes(server, "/v1/trustee/nothing-here/p1")
    assert not _routes(server, "/archivist/v3/assets")
    assert _routes(server, "/entries/p1/statement")
    assert normalised("/v1/ledger/assets/:uuid/events") == normalised(
        "/v1/ledger/assets/{asset}/events"
    )
    assert normalised("/archivist/iam/v1/applications/{uuid}:regenerate-secret").endswith(
        "{}:regenerate-secret"
    )
    text = "`/v1/trustee/trustees/{name}` and `GET /v1/sys/health?activecode=200`."
    assert documented_paths(text) == {"/v1/trustee/trustees/{name}", "/v1/sys/health"}
    rows = "| `/v1/trustee/trustees/:name` | LIST / DELETE | x |\n| `/v1/sys/seal` | 10 | 1/s |"
    assert documented_operations(rows) == {
        ("/v1/trustee/trustees/{}", "GET"),
        ("/v1/trustee/trustees/{}", "DELETE"),
    }


@pytest.mark.parametrize(
    "code",
    [
        *(str(reason) for reason in TokenReason),
        *(str(reason) for reason in StatementReason),
        *VERDICTS,
        *(f"?{name}=" for name in HEALTH_CODES),
    ],
)
def test_every_closed_vocabulary_is_documented(code: str) -> None:
    """Token reasons, SCITT statement reasons, ledger verdicts and health overrides."""
    assert f"`{code}`" in DOC.read_text(encoding="utf-8")
