"""Bad requests get a clear 4xx before any handler work: size, depth, unknown fields, types,
per-field lengths, methods. In-process: these are properties of the app, not the network."""

import json

import pytest
from fastapi.testclient import TestClient

from trustee.core import Core
from trustee.server.app import create_app
from trustee.server.asgi.json_depth import MAX_JSON_DEPTH, json_depth_exceeds

ROOT = {"X-Vault-Token": "root"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    core, _ = Core.dev(root_token="root", folder=tmp_path_factory.mktemp("limits"))
    with TestClient(create_app(core)) as client:
        yield client
    core.close()


def nested(depth: int) -> object:
    """A JSON value whose brackets nest ``depth`` deep (a list counts as one level)."""
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def errors(response) -> str:
    return " ".join(response.json()["errors"])


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b"{}", False),
        (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', False),  # brackets in a string
        (b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', False),  # after an escaped quote
        (b'{"a": "\\\\", "b": ' + b"[" * 40 + b"]" * 40 + b"}", True),  # after an escaped \
        (json.dumps(nested(MAX_JSON_DEPTH)).encode(), False),
        (json.dumps(nested(MAX_JSON_DEPTH + 1)).encode(), True),
        (b"[" * 500_000, True),
        (b"not json [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", False),  # not JSON: the parser's
    ],
)
def test_json_depth_is_measured_outside_strings(body, deeper):
    assert json_depth_exceeds(body) is deeper


def test_nesting_deeper_than_the_limit_is_400(client):
    body = {"metadata": {"deep": nested(MAX_JSON_DEPTH)}}  # 2 more levels: one too many
    answer = client.post("/v1/trustee/trustees/deep", json=body, headers=ROOT)
    assert answer.status_code == 400
    assert f"deeper than {MAX_JSON_DEPTH} levels" in errors(answer)
    assert client.get("/v1/trustee/trustees/deep", headers=ROOT).status_code == 404


def test_nesting_at_the_limit_is_accepted(client):
    body = {"metadata": {"deep": nested(MAX_JSON_DEPTH - 2)}}
    answer = client.post("/v1/trustee/trustees/at-limit", json=body, headers=ROOT)
    assert answer.status_code == 200, answer.text


def test_bodies_over_one_mebibyte_are_413(client):
    body = json.dumps({"token": "a" * (1024 * 1024)})
    answer = client.post("/v1/trustee/verify", content=body, headers=ROOT)
    assert answer.status_code == 413
    assert "1 MiB" in errors(answer)


def test_unknown_fields_are_refused_by_name(client):
    answer = client.post("/v1/auth/token/create", json={"polices": ["root"]}, headers=ROOT)
    assert answer.status_code == 400
    assert "polices" in errors(answer)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/auth/token/create", {"renewable": 0}, "renewable"),
        ("/v1/auth/token/create", {"num_uses": False}, "num_uses"),
        ("/v1/sys/init", {"secret_shares": "5"}, "secret_shares"),
        ("/v1/trustee/verify", {"token": 7}, "token"),
    ],
)
def test_types_are_strict(client, path, body, field):
    answer = client.post(path, json=body, headers=ROOT)
    assert answer.status_code == 400
    assert field in errors(answer)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/trustee/verify", {"token": "a" * (64 * 1024 + 1)}),
        ("/v1/trustee/import/long", {"private_key": "ab" * 100}),
        ("/v1/trustee/trustees/x/export", {"passphrase": "p" * 1025}),
        ("/v1/sys/unseal", {"key": "0" * 201}),
        ("/v1/auth/token/create", {"policies": ["p"] * 65}),
        ("/v1/sys/audit-hash", {"input": "i" * (64 * 1024 + 1)}),
    ],
)
def test_per_field_limits_are_400(client, path, body):
    answer = client.post(path, json=body, headers=ROOT)
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("length", [200, 5000])
def test_long_names_in_paths_are_refused_cleanly(client, length):
    name = "n" * length
    for method, path in (
        ("POST", f"/v1/trustee/trustees/{name}"),
        ("GET", f"/v1/trustee/trustees/{name}"),
        ("POST", f"/v1/auth/trustee/role/{name}"),
        ("GET", f"/v1/ledger/assets/{name}"),
    ):
        answer = client.request(method, path, headers=ROOT)
        assert 400 <= answer.status_code < 500, (method, answer.status_code)


def test_a_405_names_every_method_of_the_path(client):
    answer = client.patch("/v1/trustee/trustees/x", headers=ROOT)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, GET, POST, PUT"


def test_put_is_documented_as_an_alias_of_post(client):
    document = client.get("/v1/openapi.json").json()
    item = document["paths"]["/v1/trustee/trustees/{name}"]
    assert item["put"]["x-trustee-alias-of"] == "POST"
    assert item["put"]["operationId"] != item["post"]["operationId"]
    assert "422" not in item["post"]["responses"]
    assert item["post"]["security"] == [{"VaultToken": []}, {"BearerToken": []}]
    assert "security" not in document["paths"]["/v1/trustee/verify"]["post"]
