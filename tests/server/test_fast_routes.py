"""The hot paths served ahead of FastAPI answer every request exactly as the FastAPI routes do.

Each request goes to two apps over one core: the real one, and the same layers with no hot
routes, so FastAPI's own handling is the reference for statuses, error messages and their order.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from engines import open_dev_core
from trustee.server.app import create_api, create_app, front
from trustee.server.routes.common import JsonRoute

VERIFY = "/v1/trustee/verify"
CLAIM = "/v1/trustee/trustees/alice/claim"
JSON = {"Content-Type": "application/json"}
BOB_ONLY = 'path "trustee/trustees/bob/claim" { capabilities = ["update"] }'


@pytest.fixture(scope="module")
def apps(module_storage_url: str) -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    dev_core = open_dev_core(module_storage_url)
    fast = create_app(dev_core.core)
    plain = front(create_api(dev_core.core))
    with TestClient(fast) as fast_client, TestClient(plain) as plain_client:
        root = {"X-Vault-Token": dev_core.root}
        assert fast_client.post("/v1/trustee/trustees/alice", headers=root).status_code == 200
        fast_client.put("/v1/sys/policies/acl/bob-only", json={"policy": BOB_ONLY}, headers=root)
        bob_only = fast_client.post(
            "/v1/auth/token/create", json={"policies": ["bob-only"]}, headers=root
        ).json()["auth"]["client_token"]
        claimed = fast_client.post(CLAIM, json={"audience": "agency"}, headers=root)
        jwt = claimed.json()["data"]["jwt"]
        asset = fast_client.post("/v1/ledger/assets", json={}, headers=root).json()["data"]
        tokens = {"root": dev_core.root, "bob-only": bob_only, "jwt": jwt, "asset": asset["uuid"]}
        yield fast_client, plain_client, tokens
    dev_core.core.close()


def both(apps, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Any:
    fast, plain, _ = apps
    answers = [
        client.request(method, path, content=body, headers=headers) for client in (fast, plain)
    ]
    assert answers[0].status_code == answers[1].status_code, [a.text for a in answers]
    if answers[0].status_code == 200:
        data = [a.json()["data"] for a in answers]
        if path == VERIFY:
            assert data[0] == data[1]
        else:
            assert data[0].keys() == data[1].keys()
    else:
        assert answers[0].json() == answers[1].json()
        assert answers[0].headers["content-type"] == answers[1].headers["content-type"]
    return answers[0]


VERIFY_BODIES = [
    None,
    b"",
    b"{",
    b"\xff\xfe\xfa",
    b"[]",
    b"null",
    b'{"token": 5}',
    b'{"token": "x", "extra": 1}',
    b'{"token": "x", "leeway": -1}',
    b'{"token": "x", "trusted": [], "trust_list": "partners"}',
    b'{"token": "x", "trust_list": "nobody"}',
    b'{"token": "not.a.jwt"}',
]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_verify_errors_match(apps, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for body in VERIFY_BODIES:
        both(apps, "POST", VERIFY, body, headers)


@pytest.mark.parametrize("audience", ["agency", "elsewhere", None])
def test_verify_verdicts_match(apps, audience) -> None:
    jwt = apps[2]["jwt"]
    body = b'{"token": "%s"%s}' % (
        jwt.encode(),
        b', "audience": "%s"' % audience.encode() if audience else b"",
    )
    for method in ("POST", "PUT"):
        both(apps, method, VERIFY, body, JSON)


def json_headers(tokens: dict[str, str], token: str | None) -> dict[str, str]:
    """A JSON request's headers with the named token (an unknown name: a token no one has)."""
    headers = dict(JSON)
    if token is not None:
        headers["X-Vault-Token"] = tokens.get(token, "hvs.unknown")
    return headers


CLAIM_BODIES = [
    b'{"audience": "agency", "claims": {"usage": ["knight_rider"]}, "ttl": "1h"}',
    b"",
    b"{",
    b'{"ttl": "forever"}',
    b'{"legacy_eth_claim": 1}',
    b'{"claims": {"iss": "someone else"}}',
    b'{"unknown": true}',
]


@pytest.mark.parametrize("token", ["root", "bob-only", "unknown", None])
def test_claim_answers_match(apps, token) -> None:
    tokens = apps[2]
    headers = json_headers(tokens, token)
    for body in CLAIM_BODIES:
        for path in (CLAIM, "/v1/trustee/trustees/nobody/claim"):
            for _ in range(2):  # the second time from remembered token and key rows
                both(apps, "PUT", path, body, headers)


EVENT_BODIES = [
    b'{"event_attributes": {"reading": "1"}, "operation": "Record"}',
    b"{}",
    b"",
    b"{",
    b"[]",
    b'{"event_attributes": "not an object"}',
    b'{"operation": "%s"}' % (b"x" * 300),
    b'{"unknown": true}',
    b'{"event_attributes": {"n": 1.5e400}}',
    b'{"asset_attributes": {"": "empty key"}}',
]


@pytest.mark.parametrize("token", ["root", "bob-only", "unknown", None])
def test_event_posts_answer_alike(apps, token) -> None:
    tokens = apps[2]
    headers = json_headers(tokens, token)
    for body in EVENT_BODIES:
        for asset in (tokens["asset"], "no-such-asset"):
            for method in ("POST", "PUT"):
                both(apps, method, f"/v1/ledger/assets/{asset}/events", body, headers)


def test_other_methods_and_types_fall_through(apps) -> None:
    root = {"X-Vault-Token": apps[2]["root"]}
    both(apps, "GET", VERIFY, None, {})
    both(apps, "DELETE", CLAIM, None, root)
    both(apps, "POST", CLAIM, b"audience=x", root | {"Content-Type": "multipart/form-data"})


def test_json_route_takes_only_json_writes() -> None:
    route = JsonRoute("/v1/trustee/verify", lambda request: None, methods=["POST"])

    def scope(method: str, content_type: bytes | None) -> dict[str, Any]:
        headers = [(b"content-type", content_type)] if content_type else []
        return {"type": "http", "method": method, "path": VERIFY, "headers": headers}

    assert route.matches(scope("POST", b"application/json; charset=utf-8"))[0] is Match.FULL
    assert route.matches(scope("POST", b"Application/JSON"))[0] is Match.FULL
    assert route.matches(scope("POST", b"application/x-www-form-urlencoded"))[0] is Match.NONE
    assert route.matches(scope("POST", None))[0] is Match.NONE
    assert route.matches(scope("GET", b"application/json"))[0] is Match.NONE


def test_the_gate_serves_the_hot_routes(apps) -> None:
    gate = apps[0].app.app  # the body cap, then the gate
    assert [r.path for r in gate.hot_routes] == [
        VERIFY,
        "/v1/trustee/trustees/{name}/claim",
        "/v1/ledger/assets/{asset}/events",
    ]
    assert all(isinstance(r, JsonRoute) for r in gate.hot_routes)
