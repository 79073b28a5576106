"""ACL policies through the HTTP API: one token, one policy, exactly what it allows."""

import pytest
from fastapi.testclient import TestClient

from trustee.server.app import create_app

ALICE_ONLY = """
# may claim as trustee alice and nothing else
path "trustee/trustees/alice/claim" {
  capabilities = ["update"]
}
"""


@pytest.fixture
def client(dev_core):
    with TestClient(create_app(dev_core.core)) as client:
        client.headers["X-Vault-Token"] = dev_core.root
        for name in ("alice", "bob"):
            assert client.post(f"/v1/trustee/trustees/{name}").status_code == 200
        yield client


def token_with(client, *policies):
    answer = client.post("/v1/auth/token/create", json={"policies": list(policies)})
    assert answer.status_code == 200, answer.text
    return {"X-Vault-Token": answer.json()["auth"]["client_token"]}


def test_policy_crud(client):
    assert (
        client.put("/v1/sys/policies/acl/alice-only", json={"policy": ALICE_ONLY}).status_code
        == 204
    )
    read = client.get("/v1/sys/policies/acl/alice-only").json()["data"]
    assert read == {"name": "alice-only", "policy": ALICE_ONLY}
    keys = client.get("/v1/sys/policies/acl?list=true").json()["data"]["keys"]
    assert keys == ["alice-only", "default", "root"]
    assert client.request("LIST", "/v1/sys/policies/acl").json()["data"]["keys"] == keys
    assert client.delete("/v1/sys/policies/acl/alice-only").status_code == 204
    assert client.get("/v1/sys/policies/acl/alice-only").status_code == 404


def test_builtin_policies_cannot_be_changed(client):
    for name in ("root", "default"):
        assert (
            client.put(f"/v1/sys/policies/acl/{name}", json={"policy": ALICE_ONLY}).status_code
            == 400
        )
        assert client.delete(f"/v1/sys/policies/acl/{name}").status_code == 400
    assert "lookup-self" in client.get("/v1/sys/policies/acl/default").json()["data"]["policy"]


def test_a_bad_policy_is_refused_naming_the_path(client):
    answer = client.put(
        "/v1/sys/policies/acl/bad", json={"policy": 'path "x/y" { capabilities = ["fly"] }'}
    )
    assert answer.status_code == 400
    assert 'path "x/y"' in answer.json()["errors"][0]


def test_alice_only_policy(client):
    client.put("/v1/sys/policies/acl/alice-only", json={"policy": ALICE_ONLY})
    headers = token_with(client, "alice-only")
    claim = client.post("/v1/trustee/trustees/alice/claim", json={}, headers=headers)
    assert claim.status_code == 200, claim.text
    assert claim.json()["data"]["jwt"].count(".") == 2
    denied = [
        client.post("/v1/trustee/trustees/bob/claim", json={}, headers=headers),
        client.get("/v1/trustee/trustees?list=true", headers=headers),
        client.request("LIST", "/v1/trustee/trustees", headers=headers),
        client.post(
            "/v1/trustee/trustees/alice/export", json={"passphrase": "x" * 12}, headers=headers
        ),
        client.get("/v1/trustee/trustees/alice", headers=headers),
        client.put("/v1/sys/policies/acl/mine", json={"policy": ALICE_ONLY}, headers=headers),
    ]
    assert [answer.status_code for answer in denied] == [403] * len(denied)
    assert "permission denied" in denied[0].json()["errors"][0]
    # and the default policy still lets the token manage itself
    assert client.get("/v1/auth/token/lookup-self", headers=headers).status_code == 200


def test_deny_overrides_allow(client):
    client.put(
        "/v1/sys/policies/acl/claim-any",
        json={"policy": 'path "trustee/trustees/+/claim" { capabilities = ["update"] }'},
    )
    client.put(
        "/v1/sys/policies/acl/not-bob",
        json={"policy": '{"path": {"trustee/trustees/bob/*": {"capabilities": ["deny"]}}}'},
    )
    headers = token_with(client, "claim-any", "not-bob")
    assert (
        client.post("/v1/trustee/trustees/alice/claim", json={}, headers=headers).status_code == 200
    )
    assert (
        client.post("/v1/trustee/trustees/bob/claim", json={}, headers=headers).status_code == 403
    )
    only_any = token_with(client, "claim-any")
    assert (
        client.post("/v1/trustee/trustees/bob/claim", json={}, headers=only_any).status_code == 200
    )


def test_policy_changes_apply_to_live_tokens(client):
    client.put("/v1/sys/policies/acl/p", json={"policy": ALICE_ONLY})
    headers = token_with(client, "p")
    assert (
        client.post("/v1/trustee/trustees/alice/claim", json={}, headers=headers).status_code == 200
    )
    client.delete("/v1/sys/policies/acl/p")
    assert (
        client.post("/v1/trustee/trustees/alice/claim", json={}, headers=headers).status_code == 403
    )


def test_sudo_is_needed_for_export_and_policy_writes(client):
    client.put(
        "/v1/sys/policies/acl/admin",
        json={
            "policy": """
            path "trustee/trustees/*" { capabilities = ["update"] }
            path "sys/policies/acl/*" { capabilities = ["update", "sudo"] }
            """
        },
    )
    headers = token_with(client, "admin")
    export = client.post(
        "/v1/trustee/trustees/alice/export", json={"passphrase": "x" * 12}, headers=headers
    )
    assert export.status_code == 403
    write = client.put("/v1/sys/policies/acl/other", json={"policy": ALICE_ONLY}, headers=headers)
    assert write.status_code == 204


def test_trust_lists_http(client):
    alice = client.get("/v1/trustee/trustees/alice").json()["data"]["address"]
    bob = client.get("/v1/trustee/trustees/bob").json()["data"]["address"]
    answer = client.post("/v1/trustee/trust-lists/partners", json={"addresses": [alice.lower()]})
    assert answer.status_code == 200
    assert answer.json()["data"]["addresses"] == [alice]
    assert client.get("/v1/trustee/trust-lists?list=true").json()["data"]["keys"] == ["partners"]
    assert client.get("/v1/trustee/trust-lists/partners").json()["data"]["addresses"] == [alice]
    bad = client.post("/v1/trustee/trust-lists/x", json={"addresses": ["0x1234"]})
    assert bad.status_code == 400

    def verify(name):
        jwt = client.post(f"/v1/trustee/trustees/{name}/claim", json={}).json()["data"]["jwt"]
        return client.post(
            "/v1/trustee/verify", json={"token": jwt, "trust_list": "partners"}, headers={}
        ).json()["data"]

    assert verify("alice")["trusted"] is True
    refused = verify("bob")
    assert (refused["valid"], refused["reason"], refused["address"]) == (
        False,
        "untrusted_issuer",
        bob,
    )
    assert client.delete("/v1/trustee/trust-lists/partners").status_code == 204
    jwt = client.post("/v1/trustee/trustees/alice/claim", json={}).json()["data"]["jwt"]
    missing = client.post("/v1/trustee/verify", json={"token": jwt, "trust_list": "partners"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "authorization", ["B\xe9arer abc", "Bearer \xe9t\xe9", "bearer", "Basic cm9vdA=="]
)
def test_odd_authorization_headers_are_denied_not_errors(client, authorization):
    answer = client.get(
        "/v1/trustee/trustees/alice",
        headers={"X-Vault-Token": "", "Authorization": authorization.encode("latin-1")},
    )
    assert answer.status_code == 403
