"""The hot operations, served by the request gate, answer whole and exactly as documented.

Each is declared once (:class:`~trustee.server.faces.vault.fast.FastOperation`); FastAPI holds
only a route that puts it in the OpenAPI document and fails loudly if a request ever reaches
it, so every answer checked here is the gate's. Answers are compared whole: the error list,
or every field of ``data``.
"""

import base64
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from engines import open_dev_core
from trustee.server.app import create_app
from trustee.server.faces.vault import FACE
from trustee.server.faces.vault.face import FAST_OPERATIONS
from trustee.tokens import verify_token

VERIFY = "/v1/trustee/verify"
CLAIM = "/v1/trustee/trustees/alice/claim"
NOBODY_CLAIM = "/v1/trustee/trustees/nobody/claim"
JSON = "application/json"
BOB_ONLY = 'path "trustee/trustees/bob/claim" { capabilities = ["update"] }'
NOT_AN_OBJECT = "Input should be a valid dictionary or object to extract fields from"


@pytest.fixture(scope="module")
def served(module_storage_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    dev_core = open_dev_core(module_storage_url)
    with TestClient(create_app(dev_core.core), raise_server_exceptions=False) as client:
        root = {"X-Vault-Token": dev_core.root}
        assert client.post("/v1/trustee/trustees/alice", headers=root).status_code == 200
        client.put("/v1/sys/policies/acl/bob-only", json={"policy": BOB_ONLY}, headers=root)
        bob_only = client.post(
            "/v1/auth/token/create", json={"policies": ["bob-only"]}, headers=root
        ).json()["auth"]["client_token"]
        asset = client.post("/v1/ledger/assets", json={}, headers=root).json()["data"]
        names = {"root": dev_core.root, "bob-only": bob_only, "asset": asset["uuid"]}
        yield client, names
    dev_core.core.close()


def call(served, method, path, body, content_type=JSON, token=None):
    client, names = served
    headers = {"Content-Type": content_type} if content_type else {}
    if token is not None:
        headers["X-Vault-Token"] = names.get(token, "hvs.unknown")
    return client.request(method, path, content=body, headers=headers)


def errors_of(answer) -> tuple[int, list[str]]:
    assert answer.headers["content-type"] == "application/json"
    return answer.status_code, answer.json()["errors"]


# -- trustee/verify: no token, every content type -------------------------------------------

VERIFY_REFUSALS = [
    (None, ["Field required"]),
    (b"{", ["request body is not valid JSON"]),
    (b"\xff\xfe\xfa", ["request body must be JSON in UTF-8"]),
    (b"[]", [NOT_AN_OBJECT]),
    (b"null", [NOT_AN_OBJECT]),
    (b'{"token": 5}', ["token: Input should be a valid string"]),
    (b'{"token": "x", "extra": 1}', ["extra: Extra inputs are not permitted"]),
    (b'{"token": "x", "leeway": -1}', ["leeway: Input should be greater than or equal to 0"]),
    (b'{"token": "x", "trusted": [], "trust_list": "p"}', ["give trusted or trust_list, not both"]),
]


@pytest.mark.parametrize("content_type", [JSON, "text/plain", None])
@pytest.mark.parametrize(("body", "errors"), VERIFY_REFUSALS)
def test_verify_refusals(served, content_type, body, errors) -> None:
    assert errors_of(call(served, "POST", VERIFY, body, content_type)) == (400, errors)


def test_verify_of_another_content_type_is_refused_as_not_an_object(served) -> None:
    answer = call(served, "POST", VERIFY, b'{"token": "x"}', "multipart/form-data")
    assert errors_of(answer) == (400, [NOT_AN_OBJECT])
    answer = call(served, "POST", VERIFY, b'{"token": "x", "trust_list": "nobody"}')
    assert errors_of(answer) == (404, ["no trust list named 'nobody'"])


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("audience", ["agency", "elsewhere", None])
def test_verify_answers_whole(served, method, audience) -> None:
    jwt = call(served, "POST", CLAIM, b'{"audience": "agency"}', token="root").json()["data"]["jwt"]
    body = {"token": jwt} | ({"audience": audience} if audience else {})
    answer = call(served, method, VERIFY, json.dumps(body).encode())
    assert answer.status_code == 200
    assert answer.json()["data"] == verify_token(jwt, audience=audience).to_dict()
    malformed = call(served, method, VERIFY, b'{"token": "not.a.jwt"}').json()["data"]
    assert malformed == {
        "valid": False,
        "address": None,
        "algorithm": None,
        "claims": None,
        "trusted": None,
        "reason": "malformed",
    }


# -- claims: the token first, then the body -------------------------------------------------

DENIED = "permission denied: update on trustee/trustees/alice/claim"
ISSUER_CLAIMS = "claims iss are set by the issuer; use subject/audience/ttl instead"
CLAIM_REFUSALS = [
    (b"", "root", CLAIM, 400, ["Field required"]),
    (b"{", "root", CLAIM, 400, ["request body is not valid JSON"]),
    (b'{"legacy_eth_claim": 1}', "root", CLAIM, 400, ["legacy_eth_claim: Input should be a valid boolean"]),  # noqa: E501
    (b'{"unknown": true}', "root", NOBODY_CLAIM, 400, ["unknown: Extra inputs are not permitted"]),
    (b'{"claims": {"iss": "x"}}', "root", CLAIM, 400, [ISSUER_CLAIMS]),
    (b'{"claims": {"iss": "x"}}', "root", NOBODY_CLAIM, 404, ["no trustee named 'nobody'"]),
    (b"{}", "bob-only", CLAIM, 403, [DENIED]),
    (b'{"unknown": true}', "bob-only", CLAIM, 403, [DENIED]),
    (b"{}", "unknown", CLAIM, 403, ["permission denied: invalid or expired token"]),
    (b"{}", None, CLAIM, 403, ["permission denied: no token (X-Vault-Token or Bearer)"]),
    (b"{", None, CLAIM, 400, ["request body is not valid JSON"]),
]  # fmt: skip


@pytest.mark.parametrize(("body", "token", "path", "status", "errors"), CLAIM_REFUSALS)
def test_claim_refusals(served, body, token, path, status, errors) -> None:
    for _ in range(2):  # the second time from remembered token and key rows
        assert errors_of(call(served, "PUT", path, body, token=token)) == (status, errors)


def test_claim_answers_whole(served) -> None:
    body = b'{"audience": "agency", "claims": {"usage": ["knight_rider"]}, "ttl": "1h"}'
    data = call(served, "POST", CLAIM, body, token="root").json()["data"]
    assert data.keys() == {"jwt", "claims"}
    verified = verify_token(data["jwt"], audience="agency")
    assert verified.valid and verified.claims == data["claims"]
    claims = data["claims"]
    assert claims.keys() == {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "usage"}
    assert claims["iss"] == claims["sub"] == verified.address
    assert (claims["aud"], claims["usage"], claims["exp"] - claims["iat"]) == (
        "agency",
        ["knight_rider"],
        3600,
    )


# -- event posts ----------------------------------------------------------------------------

EVENT_REFUSALS = [
    (b"", 400, ["Field required"]),
    (b"[]", 400, [NOT_AN_OBJECT]),
    (b'{"event_attributes": "x"}', 400, ["event_attributes: Input should be a valid dictionary"]),
    (b'{"operation": "' + b"x" * 300 + b'"}', 400, ["operation: String should have at most 256 characters"]),  # noqa: E501
    (b'{"event_attributes": {"n": 1.5e400}}', 400, ["request body is not valid JSON"]),
    (b'{"asset_attributes": {"": "k"}}', 400, ["asset_attributes: keys are 1 to 256 characters"]),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "errors"), EVENT_REFUSALS)
def test_event_refusals(served, body, status, errors) -> None:
    asset = served[1]["asset"]
    for method in ("POST", "PUT"):
        answer = call(served, method, f"/v1/ledger/assets/{asset}/events", body, token="root")
        assert errors_of(answer) == (status, errors)
    answer = call(served, "POST", "/v1/ledger/assets/nope/events", b"{}", token="root")
    assert errors_of(answer) == (404, ["no asset 'nope'"])
    answer = call(served, "POST", f"/v1/ledger/assets/{asset}/events", b"{}", token="bob-only")
    assert errors_of(answer)[0] == 403


def test_event_answers_whole(served) -> None:
    client, names = served
    asset = names["asset"]
    body = b'{"event_attributes": {"reading": "1"}, "operation": "Record"}'
    data = call(served, "POST", f"/v1/ledger/assets/{asset}/events", body, token="root").json()
    data = data["data"]
    event_uuid = data["identity"].rsplit("/", 1)[1]
    again = client.get(f"/v1/ledger/events/{event_uuid}", headers={"X-Vault-Token": names["root"]})
    assert again.json()["data"] == data  # what the post answered is what the event reads back
    assert data["event_attributes"] == {"reading": "1"}
    assert (data["operation"], data["behaviour"]) == ("Record", "RecordEvidence")
    assert data["identity"].startswith(f"assets/{asset}/events/")
    entries = client.get(
        f"/v1/ledger/log/entries?start={data['log_index']}&end={data['log_index'] + 1}",
        headers={"X-Vault-Token": names["root"]},
    ).json()["data"]["entries"]
    entry = json.loads(base64.b64decode(entries[0]))
    assert entry["event_attributes"] == {"reading": "1"}  # the leaf is the event posted


# -- the gate, and only the gate, serves them -----------------------------------------------


def test_other_methods_answer_405_naming_every_method(served) -> None:
    asset = served[1]["asset"]
    for method, path, allowed in (
        ("GET", VERIFY, "POST, PUT"),
        ("DELETE", CLAIM, "POST, PUT"),
        ("DELETE", f"/v1/ledger/assets/{asset}/events", "GET, POST, PUT"),
    ):
        answer = call(served, method, path, None, token="root")
        assert errors_of(answer) == (405, ["unsupported operation"])
        assert answer.headers["allow"] == allowed


def test_the_gate_serves_every_fast_operation_and_fastapi_none() -> None:
    assert [route.path for route in FACE.hot_routes] == [
        "/v1" + operation.path for operation in FAST_OPERATIONS
    ]
    assert [operation.path for operation in FAST_OPERATIONS] == [
        "/trustee/verify",
        "/trustee/trustees/{name}/claim",
        "/ledger/assets/{asset}/events",
    ]
    for operation in FAST_OPERATIONS:
        for route in operation.documented():
            with pytest.raises(RuntimeError, match="served by the request gate"):
                route.endpoint()
