"""Vault's older policy API (``sys/policy``) and ``lookup-self``'s fields, as Vault clients
other than hvac (node-vault, the Vault CLI) read them."""

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from trustee.server.app import create_app

RULES = 'path "trustee/trustees/alice/claim" {\n  capabilities = ["update"]\n}\n'
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def client(dev_core):
    with TestClient(create_app(dev_core.core)) as client:
        client.headers["X-Vault-Token"] = dev_core.root
        yield client


def token_with(client, *policies, **options):
    answer = client.post("/v1/auth/token/create", json={"policies": list(policies), **options})
    assert answer.status_code == 200, answer.text
    return answer.json()["auth"]["client_token"]


def test_sys_policy_crud_over_the_same_store(client):
    assert client.put("/v1/sys/policy/Alice-Only", json={"rules": RULES}).status_code == 204
    read = client.get("/v1/sys/policy/alice-only").json()
    assert read["data"] == {"name": "alice-only", "rules": RULES}
    assert read["name"] == "alice-only" and read["rules"] == RULES  # Vault's older sys shape
    acl = client.get("/v1/sys/policies/acl/alice-only").json()["data"]
    assert acl == {"name": "alice-only", "policy": RULES}

    listed = client.get("/v1/sys/policy").json()
    assert listed["data"]["keys"] == listed["data"]["policies"] == ["alice-only", "default", "root"]
    assert listed["policies"] == listed["keys"] == listed["data"]["keys"]
    assert client.request("LIST", "/v1/sys/policy").json()["data"]["keys"] == listed["keys"]
    assert client.get("/v1/sys/policy?list=true").json()["data"]["keys"] == listed["keys"]

    client.post("/v1/sys/policies/acl/other", json={"policy": RULES})
    assert client.get("/v1/sys/policy/other").json()["data"]["rules"] == RULES
    assert client.delete("/v1/sys/policy/other").status_code == 204
    assert client.get("/v1/sys/policies/acl/other").status_code == 404
    assert client.get("/v1/sys/policy/other").status_code == 404


def test_sys_policy_takes_the_name_node_vault_sends(client):
    body = {"name": "NV", "rules": RULES}
    assert client.put("/v1/sys/policy/nv", json=body).status_code == 204
    other = client.put("/v1/sys/policy/nv", json={"name": "other", "rules": RULES})
    assert other.status_code == 400 and "name" in other.json()["errors"][0]


def test_sys_policy_refuses_what_the_acl_route_refuses(client):
    assert client.put("/v1/sys/policy/root", json={"rules": RULES}).status_code == 400
    assert client.delete("/v1/sys/policy/default").status_code == 400
    bad = client.put("/v1/sys/policy/bad", json={"rules": 'path "x" { capabilities = ["fly"] }'})
    assert bad.status_code == 400
    assert client.put("/v1/sys/policy/p", json={"policy": RULES}).status_code == 400  # not rules


def test_sys_policy_capabilities_mirror_the_acl_route(client):
    rules = """
    path "sys/policy" { capabilities = ["read"] }
    path "sys/policy/" { capabilities = ["list"] }
    path "sys/policy/*" { capabilities = ["read", "update", "delete"] }
    """
    client.put("/v1/sys/policy/half-admin", json={"rules": rules})
    headers = {"X-Vault-Token": token_with(client, "half-admin")}
    assert client.get("/v1/sys/policy", headers=headers).status_code == 200
    assert client.request("LIST", "/v1/sys/policy", headers=headers).status_code == 200
    # GET reads sys/policy; LIST lists the folder sys/policy/, as in Vault.
    client.put("/v1/sys/policy/reader", json={"rules": 'path "sys/policy" {capabilities=["read"]}'})
    reader = {"X-Vault-Token": token_with(client, "reader")}
    assert client.get("/v1/sys/policy", headers=reader).status_code == 200
    assert client.request("LIST", "/v1/sys/policy", headers=reader).status_code == 403
    assert client.get("/v1/sys/policy/half-admin", headers=headers).status_code == 200
    write = client.put("/v1/sys/policy/mine", json={"rules": RULES}, headers=headers)
    assert write.status_code == 403 and "sudo" in write.json()["errors"][0]
    assert client.delete("/v1/sys/policy/half-admin", headers=headers).status_code == 403
    # Each path is its own resource: a grant on sys/policy is none on sys/policies/acl.
    assert client.get("/v1/sys/policies/acl/half-admin", headers=headers).status_code == 403

    client.put(
        "/v1/sys/policy/full",
        json={"rules": 'path "sys/policy/*" {capabilities = ["update", "sudo", "delete"]}'},
    )
    headers = {"X-Vault-Token": token_with(client, "full")}
    assert (
        client.put("/v1/sys/policy/mine", json={"rules": RULES}, headers=headers).status_code == 204
    )
    assert client.delete("/v1/sys/policy/mine", headers=headers).status_code == 204
    nobody = {"X-Vault-Token": token_with(client, "default")}
    assert client.get("/v1/sys/policy", headers=nobody).status_code == 403


def test_lookup_self_has_vaults_fields(client, dev_core):
    root = client.get("/v1/auth/token/lookup-self").json()["data"]
    assert root["id"] == dev_core.root
    assert root["path"] == "auth/token/root" and root["policies"] == ["root"]
    assert root["expire_time"] is None and root["ttl"] == 0 and root["renewable"] is False
    assert root["orphan"] is True and root["num_uses"] == 0 and root["entity_id"] == ""

    child = token_with(client, "default", ttl="1h", display_name="ci", meta={"team": "a"})
    data = client.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": child}).json()["data"]
    assert set(data) >= {
        "id", "accessor", "policies", "ttl", "creation_time", "creation_ttl", "expire_time",
        "explicit_max_ttl", "display_name", "meta", "num_uses", "orphan", "path", "renewable",
        "type", "entity_id", "issue_time",
    }  # fmt: skip
    assert data["id"] == child and data["accessor"] and data["accessor"] != child
    assert data["path"] == "auth/token/create" and data["orphan"] is False
    assert data["policies"] == ["default"] and data["meta"] == {"team": "a"}
    assert data["display_name"] == "ci" and data["type"] == "service"
    assert data["creation_ttl"] == 3600 and 3590 <= data["ttl"] <= 3600
    assert RFC3339.match(data["expire_time"]) and RFC3339.match(data["issue_time"])
    expires = datetime.fromisoformat(data["expire_time"]).timestamp()
    assert abs(expires - (data["creation_time"] + 3600)) < 2
    assert isinstance(data["creation_time"], int)
