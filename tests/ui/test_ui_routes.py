"""The explorer's server side, in process: where it is served, with which headers, and the
checkpoint check the page falls back on. No browser needed."""

import re
import warnings

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trustee.core import Core
from trustee.ledger.note import format_checkpoint, make_verifier_key, sign_note
from trustee.server.app import create_app
from trustee.server.ui import STATIC_DIR

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ORIGIN = "log.example/ui"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    core, _ = Core.dev(root_token="root", folder=tmp_path_factory.mktemp("ui"))
    with TestClient(create_app(core)) as test_client:
        yield test_client
    core.close()


@pytest.fixture(scope="module")
def signed():
    private = Ed25519PrivateKey.generate()
    note = sign_note(format_checkpoint(ORIGIN, 7, bytes(range(32))), ORIGIN, private)
    return note, make_verifier_key(ORIGIN, private.public_key())


def test_ui_is_served_at_ui_with_a_redirect(client: TestClient) -> None:
    response = client.get("/ui", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in page.text
    script = client.get("/ui/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/ui/js/missing.js").status_code == 404
    assert client.get("/ui/../pyproject.toml").status_code == 404


def test_ui_answers_carry_a_same_origin_only_policy(client: TestClient) -> None:
    headers = client.get("/ui/").headers
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy
    for directive in ("script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert directive in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_the_ui_is_not_part_of_the_api_document(client: TestClient) -> None:
    paths = client.get("/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]


def test_static_files_ask_nothing_of_other_origins() -> None:
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".html", ".css", ".js"}
    assert (STATIC_DIR / "index.html").exists()
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), path.name
        assert "innerHTML" not in text and "eval(" not in text, path.name


def test_checkpoint_check_opens_a_good_note(client: TestClient, signed) -> None:
    note, key = signed
    response = client.post("/ui/checkpoint/verify", json={"checkpoint": note, "key": key})
    assert response.status_code == 200
    assert response.json()["data"] == {
        "verified": True,
        "origin": ORIGIN,
        "size": 7,
        "root_hash": bytes(range(32)).hex(),
    }


@pytest.mark.parametrize(
    ("mutation", "error"),
    [
        (lambda note, key: (note.replace("\n7\n", "\n8\n"), key), "invalid signature"),
        (
            lambda note, key: (
                note,
                make_verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key()),
            ),
            "no verifiable signatures",
        ),
        (lambda note, key: (note, "not a key"), "malformed verifier key"),
        (lambda note, key: (note.replace("\n\n", "\n"), key), "malformed note"),
    ],
    ids=["altered-size", "other-key", "malformed-key", "no-blank-line"],
)
def test_checkpoint_check_says_why_a_note_fails(client: TestClient, signed, mutation, error):
    note, key = mutation(*signed)
    response = client.post("/ui/checkpoint/verify", json={"checkpoint": note, "key": key})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["verified"] is False
    assert error in data["error"]


def test_checkpoint_check_refuses_bad_requests(client: TestClient, signed) -> None:
    note, key = signed
    for body in ({"checkpoint": note}, {"checkpoint": note, "key": key, "extra": 1}, [1]):
        response = client.post("/ui/checkpoint/verify", json=body)
        assert response.status_code == 400, body
        assert response.json()["errors"]
    huge = client.post("/ui/checkpoint/verify", json={"checkpoint": "x" * 70_000, "key": key})
    assert huge.status_code == 400
