"""The file audit device: every request and response as a JSON line, secrets as HMACs an
operator can match with sys/audit-hash, and no answer when the line cannot be written."""

import json
import os
import subprocess
import sys

import httpx
import pytest
from robustlib import LiveServer, OperatedServer

from trustee.server.asgi.audit_device import (
    HASH_PREFIX,
    AuditDevice,
    default_key_path,
    load_or_create_key,
)

pytestmark = pytest.mark.integration


def entries(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    operated = OperatedServer(tmp_path_factory.mktemp("audit"))
    yield operated
    assert operated.stop() == 0


def test_each_request_has_a_request_and_a_response_entry(server):
    with server.client() as client:
        assert client.post("/v1/trustee/trustees/alice").status_code == 200
    log = entries(server.audit_path)
    request, response = log[-2], log[-1]
    assert request["type"] == "request" and response["type"] == "response"
    assert request["request"]["id"] == response["request"]["id"]
    assert request["request"]["path"] == "/v1/trustee/trustees/alice"
    assert response["response"]["status"] == 200
    assert response["response"]["data"]["data"]["name"] == hash_of(server, "alice")
    assert response["auth"]["policies"] == ["root"]
    assert response["auth"]["accessor"].startswith(HASH_PREFIX)


def test_pages_and_hot_routes_are_answered_whole_and_logged(server):
    """The log holds each response back; a streamed file must still reach the client whole,
    and the routes the request gate answers itself are logged like the others."""
    with server.client() as client:
        client.post("/v1/trustee/trustees/reader")
        page = client.get("/ui/")
        token = client.post("/v1/trustee/trustees/reader/claim", json={"audience": "x"})
        jwt = token.json()["data"]["jwt"]
        verified = client.post("/v1/trustee/verify", json={"token": jwt, "audience": "x"})
    assert page.status_code == 200 and "<script" in page.text
    assert verified.json()["data"]["valid"] is True
    paths = [e["request"]["path"] for e in entries(server.audit_path) if e["type"] == "response"]
    assert paths[-3:] == ["/ui/", "/v1/trustee/trustees/reader/claim", "/v1/trustee/verify"]


def test_a_known_token_is_found_by_its_hash(server):
    with server.client() as client:
        client.get("/v1/auth/token/lookup-self")
        answer = client.post("/v1/sys/audit-hash", json={"input": server.root_token})
        vault_form = client.post("/v1/sys/audit-hash/file", json={"input": server.root_token})
    assert answer.status_code == 200
    hashed = answer.json()["data"]["hash"]
    assert vault_form.json()["hash"] == hashed
    text = server.audit_path.read_text()
    assert server.root_token not in text
    log = entries(server.audit_path)
    lookups = [e for e in log if e["request"]["path"].endswith("lookup-self")]
    assert lookups[0]["request"]["headers"]["x-vault-token"] == hashed


def test_secret_fields_are_hashed_at_every_depth(server):
    with server.client() as client:
        claim = client.post("/v1/trustee/trustees/alice/claim", json={"audience": "agency"})
        jwt = claim.json()["data"]["jwt"]
        client.post("/v1/trustee/verify", json={"token": jwt}, headers={"Authorization": ""})
        expected = client.post("/v1/sys/audit-hash", json={"input": jwt}).json()["data"]["hash"]
    assert jwt not in server.audit_path.read_text()
    verify = [e for e in entries(server.audit_path) if e["request"]["path"] == "/v1/trustee/verify"]
    assert verify[-2]["request"]["data"]["token"] == expected
    claims = [e for e in entries(server.audit_path) if e["request"]["path"].endswith("/claim")]
    assert claims[-1]["response"]["data"]["data"]["jwt"] == expected
    issued_claims = claims[-1]["response"]["data"]["data"]["claims"]
    assert issued_claims["aud"] == hash_of(server, "agency")  # every string, as in Vault
    assert isinstance(issued_claims["exp"], int)  # numbers and the shape stay readable


def test_the_token_served_is_the_token_logged(server):
    """Two X-Vault-Token headers: the request is served with the first, and the log names
    that one (and keeps both values, hashed)."""
    with server.client() as client:
        child = client.post("/v1/auth/token/create", json={"policies": ["default"]})
    first, second = server.root_token, child.json()["auth"]["client_token"]
    headers = [("X-Vault-Token", first), ("X-Vault-Token", second)]
    answer = httpx.get(f"{server.address}/v1/auth/token/lookup-self", headers=headers)
    assert answer.json()["data"]["policies"] == ["root"]  # served with the first
    request = [e for e in entries(server.audit_path) if e["type"] == "request"][-1]["request"]
    assert request["client_token"] == hash_of(server, first)
    assert request["headers"]["x-vault-token"] == [hash_of(server, first), hash_of(server, second)]


def test_credentials_in_the_query_never_reach_the_log(server):
    """A token in the query string is refused, and hashed in the log under every usual name."""
    query = {"X-Vault-Token": "qs-secret-1", "access_token": "qs-secret-2", "token": "qs-secret-3"}
    answer = httpx.get(f"{server.address}/v1/trustee/trustees?list=true", params=query)
    assert answer.status_code == 403
    text = server.audit_path.read_text()
    assert not any(value in text for value in query.values())
    request = [e for e in entries(server.audit_path) if e["type"] == "request"][-1]["request"]
    assert request["query"]["access_token"] == hash_of(server, "qs-secret-2")


def hash_of(server, value):
    with server.client() as client:
        return client.post("/v1/sys/audit-hash", json={"input": value}).json()["data"]["hash"]


def test_audit_hash_needs_sudo(server):
    with server.client() as client:
        client.post(
            "/v1/sys/policies/acl/hasher",
            json={"policy": '{"path": {"sys/audit-hash": {"capabilities": ["update"]}}}'},
        )
        created = client.post("/v1/auth/token/create", json={"policies": ["hasher"]})
    token = created.json()["auth"]["client_token"]
    with server.client(token) as client:
        assert client.post("/v1/sys/audit-hash", json={"input": "x"}).status_code == 403
    assert httpx.post(f"{server.address}/v1/sys/audit-hash", json={"input": "x"}).status_code == 403


def test_a_log_that_cannot_be_written_fails_the_request_with_503(server):
    log = server.audit_path
    kept = log.with_suffix(".kept")
    os.replace(log, kept)
    log.mkdir()  # an open for append now fails, as on a lost volume; root can write anything else
    try:
        with server.client() as client:
            answer = client.post("/v1/trustee/trustees/during-outage")
        assert answer.status_code == 503
        assert answer.json() == {"errors": ["audit log unavailable"]}
    finally:
        log.rmdir()
        os.replace(kept, log)
    with server.client() as client:
        assert client.get("/v1/trustee/trustees/during-outage").status_code == 404
        assert client.post("/v1/trustee/trustees/after-outage").status_code == 200


def test_a_full_disk_refuses_every_request(tmp_path):
    live = LiveServer(
        "--dev",
        "--audit-file",
        "/dev/full",
        "--audit-key-file",
        str(tmp_path / "audit.key"),
        log_path=tmp_path / "server.log",
    )
    try:
        for path in ("/v1/sys/health", "/v1/sys/seal-status", "/v1/trustee/jwks"):
            answer = httpx.get(f"{live.address}{path}")
            assert answer.status_code == 503, path
            assert answer.json() == {"errors": ["audit log unavailable"]}
    finally:
        assert live.stop() == 0


def test_a_server_that_cannot_open_its_log_does_not_start(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trustee",
            "server",
            "--dev",
            "--listen",
            "127.0.0.1:1",
            "--audit-file",
            str(tmp_path / "missing-folder" / "audit.log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "cannot open the audit log" in run.stderr + run.stdout


def test_the_key_is_kept_beside_an_sqlite_database(tmp_path):
    assert default_key_path(f"sqlite:///{tmp_path}/trustee.db") == tmp_path / "audit-hmac.key"
    assert default_key_path("postgresql://trustee@db/trustee") is None
    key = load_or_create_key(tmp_path / "audit-hmac.key")
    assert load_or_create_key(tmp_path / "audit-hmac.key") == key
    assert (tmp_path / "audit-hmac.key").stat().st_mode & 0o077 == 0


def test_redaction_hashes_every_string_by_default(tmp_path):
    device = AuditDevice(tmp_path / "a.log", bytes(32))
    body = {"name": "alice", "shares": 5, "nested": [{"ok": True, "address": "0xab"}]}
    assert device.redact(body) == {
        "name": device.hash("alice"),
        "shares": 5,
        "nested": [{"ok": True, "address": device.hash("0xab")}],
    }
    assert device.redact_query(b"list=true&x=1&x=2") == {
        "list": device.hash("true"),
        "x": [device.hash("1"), device.hash("2")],
    }


def test_clear_values_still_hash_secrets_and_credentials(tmp_path):
    device = AuditDevice(tmp_path / "a.log", bytes(32), clear_values=True)
    body = {
        "keys": ["share-1", "share-2"],
        "keystore": {"crypto": {"ciphertext": "00"}},
        "nested": [{"passphrase": "hunter2", "n": 1}],
        "name": "alice",
    }
    redacted = device.redact(body)
    assert redacted["keys"] == [device.hash("share-1"), device.hash("share-2")]
    assert redacted["keystore"].startswith(HASH_PREFIX)
    assert redacted["nested"] == [{"passphrase": device.hash("hunter2"), "n": 1}]
    assert redacted["name"] == "alice"
    opaque = device.redact_body(b"passphrase=hunter2", "application/x-www-form-urlencoded")
    assert opaque == {"bytes": 18, "hmac": device.hash(b"passphrase=hunter2")}
    headers = device.redact_headers([(b"authorization", b"Bearer hvs.secret")])
    assert headers == {"authorization": f"Bearer {device.hash('hvs.secret')}"}
    query = device.redact_query(b"list=true&X-Vault-Token=a&access_token=b&api_key=c")
    assert query == {
        "list": "true",
        "X-Vault-Token": device.hash("a"),
        "access_token": device.hash("b"),
        "api_key": device.hash("c"),
    }
