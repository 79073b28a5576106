"""Each finding of the attacker's probe, replayed against the whole application in process.

F1 a role writer minting root, F2/F3 deep JSON behind a byte order mark, F4 strings that
cannot be read back, F5 token lineage, F6 address spellings under the ACL. F7 and F8 (the
audit log) are in ``test_audit_device.py``; F9 (connections) in ``test_connections.py``.
"""

import json
import time
import warnings

import pytest
import sqlalchemy as sa

from trustee.crypto.address import address_from_public_key
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.server.app import create_app
from trustee.storage.schema_auth import auth_roles
from trustee.tokens import issue_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BOM = b"\xef\xbb\xbf"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def app(dev_core):
    with TestClient(create_app(dev_core.core)) as client:
        client.headers["X-Vault-Token"] = dev_core.root
        yield client, dev_core.core


def token_for(client, policy_text, **options):
    name = f"p{time.monotonic_ns()}"
    assert client.put(f"/v1/sys/policies/acl/{name}", json={"policy": policy_text}).is_success
    created = client.post("/v1/auth/token/create", json={"policies": [name], **options})
    assert created.status_code == 200, created.text
    return created.json()["auth"]["client_token"]


# -- F1: root only from root ---------------------------------------------------------------

ROLE_WRITER = 'path "auth/trustee/role/*" { capabilities = ["update"] }'


@pytest.mark.parametrize(
    "policies", [[" root"], ["root\t"], ["default", "root "], ["ROOT"], "default, Root"]
)
def test_f1_a_role_writer_cannot_grant_root_in_any_spelling(app, policies):
    client, _ = app
    writer = token_for(client, ROLE_WRITER)
    key = generate_private_key()
    own_address = address_from_public_key(public_key_from_private(key))
    role = {
        "bound_issuers": [own_address],
        "bound_audiences": ["login"],
        "token_policies": policies,
    }
    answer = client.post("/v1/auth/trustee/role/r1", json=role, headers={"X-Vault-Token": writer})
    assert answer.status_code == 400, answer.text
    assert "root" in answer.json()["errors"][0]
    assert client.get("/v1/auth/trustee/role/r1").status_code == 404
    jwt = issue_token(key, audience="login").jwt
    login = client.post("/v1/auth/trustee/login", json={"role": "r1", "jwt": jwt})
    assert login.status_code == 400  # no such role: nothing was stored


def test_f1_a_role_stored_with_a_root_spelling_is_refused_at_login(app):
    """A role an older version stored with ``" root"`` issues nothing."""
    client, core = app
    key = generate_private_key()
    address = address_from_public_key(public_key_from_private(key))
    config = {
        "bound_issuers": [address],
        "trust_list": None,
        "bound_audiences": ["login"],
        "bound_claims": {},
        "claim_mappings": {},
        "token_policies": [" root"],
        "token_ttl": 0,
        "token_max_ttl": 0,
        "user_claim": "sub",
    }
    with core.db.begin() as conn:
        values = {"name": "old", "config": json.dumps(config), "updated_time": 0.0}
        conn.execute(sa.insert(auth_roles).values(**values))
    jwt = issue_token(key, audience="login").jwt
    login = client.post("/v1/auth/trustee/login", json={"role": "old", "jwt": jwt})
    assert login.status_code == 403
    assert "root" in login.json()["errors"][0]


def test_f1_only_a_root_token_makes_a_root_token(app):
    client, _ = app
    creator = token_for(client, 'path "auth/token/create" { capabilities = ["update", "sudo"] }')
    for policies in (["root"], [" root"], ["Root"]):
        answer = client.post(
            "/v1/auth/token/create",
            json={"policies": policies},
            headers={"X-Vault-Token": creator},
        )
        assert answer.status_code == 403, answer.text
    by_root = client.post("/v1/auth/token/create", json={"policies": [" Root "]})
    assert by_root.json()["auth"]["policies"] == ["root"]


def test_f1_policy_names_are_one_name_in_any_case(app):
    client, _ = app
    policy = 'path "trustee/trustees" { capabilities = ["list"] }'
    assert client.put("/v1/sys/policies/acl/Listers", json={"policy": policy}).status_code == 204
    assert client.get("/v1/sys/policies/acl/listers").json()["data"]["name"] == "listers"
    created = client.post("/v1/auth/token/create", json={"policies": [" LISTERS"]})
    token = created.json()["auth"]["client_token"]
    assert created.json()["auth"]["policies"] == ["default", "listers"]
    listed = client.request("LIST", "/v1/trustee/trustees", headers={"X-Vault-Token": token})
    assert listed.status_code == 200


# -- F2, F3: deep JSON behind a byte order mark --------------------------------------------


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def new_asset(client):
    answer = client.post("/v1/ledger/assets", json={"attributes": {"kind": "boiler"}})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["uuid"]


def event_count(client, asset):
    answer = client.get(f"/v1/ledger/assets/{asset}/events")
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"]["events"])


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: BOM + text, id="utf8-bom"),
        pytest.param(lambda text: text.decode().encode("utf-16-be"), id="utf16be"),
        pytest.param(lambda text: text.decode().encode("utf-16"), id="utf16-bom"),
        pytest.param(lambda text: text.decode().encode("utf-32"), id="utf32"),
    ],
)
def test_f2_deep_json_in_any_encoding_is_a_400(app, encode):
    client, _ = app
    client.post("/v1/trustee/trustees/alice")
    asset = new_asset(client)
    for path in (
        "/v1/trustee/verify",
        "/v1/trustee/trustees/alice/claim",
        f"/v1/ledger/assets/{asset}/events",
        "/v1/ledger/assets",
    ):
        answer = client.post(path, content=encode(deep(10_000)), headers=JSON)
        assert answer.status_code == 400, (path, answer.text)
    assert event_count(client, asset) == 0


def test_f2_a_bom_is_dropped_and_the_json_behind_it_read(app):
    client, _ = app
    answer = client.post("/v1/trustee/trustees/bom", content=BOM + b'{"metadata":{"a":"b"}}')
    assert answer.status_code == 200, answer.text
    read = client.get("/v1/trustee/trustees/bom").json()["data"]
    assert read["metadata"] == {"a": "b"}


@pytest.mark.parametrize("field", ["event_attributes", "asset_attributes"])
def test_f3_deep_attributes_are_refused_and_nothing_is_stored(app, field):
    client, _ = app
    asset = new_asset(client)
    nested = b'{"x":' * 600 + b"1" + b"}" * 600
    body = BOM + b'{"' + field.encode() + b'":{"x":' + nested + b"}}"
    answer = client.post(f"/v1/ledger/assets/{asset}/events", content=body, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert event_count(client, asset) == 0
    assert client.get(f"/v1/ledger/assets/{asset}").status_code == 200
    assert client.get(f"/v1/ledger/assets/{asset}/bundle").status_code == 200
    assert client.get("/v1/ledger/assets/-/events").status_code == 200


def test_f3_deep_asset_attributes_on_create_are_refused(app):
    client, _ = app
    before = client.request("LIST", "/v1/ledger/assets").json()["data"]["keys"]
    nested = b'{"x":' * 600 + b"1" + b"}" * 600
    body = BOM + b'{"attributes":{"x":' + nested + b"}}"
    assert client.post("/v1/ledger/assets", content=body, headers=JSON).status_code == 400
    assert client.request("LIST", "/v1/ledger/assets").json()["data"]["keys"] == before


# -- F4: strings that cannot be stored and read back --------------------------------------

LONE = b'"a\\ud800b"'
NUL = b'"a\\u0000b"'


@pytest.mark.parametrize("string", [LONE, NUL], ids=["lone-surrogate", "nul"])
def test_f4_unstorable_strings_are_refused_before_anything_is_written(app, string):
    client, _ = app
    trustee = b'{"metadata":{"k":' + string + b"}}"
    assert client.post("/v1/trustee/trustees/t4", content=trustee, headers=JSON).status_code == 400
    assert client.get("/v1/trustee/trustees/t4").status_code == 404
    issuer = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
    for field, value in (
        ("bound_audiences", b"[" + string + b"]"),
        ("token_policies", b"[" + string + b"]"),
        ("bound_claims", b'{"k":[' + string + b"]}"),
        ("claim_mappings", b'{"k":' + string + b"}"),
    ):
        role = b'{"bound_issuers":["' + issuer.encode() + b'"],"' + field.encode() + b'":' + value
        answer = client.post("/v1/auth/trustee/role/r4", content=role + b"}", headers=JSON)
        assert answer.status_code == 400, (field, answer.text)
        assert client.get("/v1/auth/trustee/role/r4").status_code == 404
    meta = b'{"meta":{"k":' + string + b"}}"
    assert client.post("/v1/auth/token/create", content=meta, headers=JSON).status_code == 400


def test_f4_an_escaped_backslash_before_u0000_is_text_not_nul(app):
    client, _ = app
    body = b'{"metadata":{"k":"a\\\\u0000b"}}'  # the six characters \u0000, not U+0000
    assert client.post("/v1/trustee/trustees/t5", content=body, headers=JSON).status_code == 200
    read = client.get("/v1/trustee/trustees/t5").json()["data"]["metadata"]
    assert read == {"k": "a\\u0000b"}


# -- F5: token lineage ----------------------------------------------------------------------

CREATOR = 'path "auth/token/create" { capabilities = ["update"] }'


def test_f5_an_orphan_needs_sudo(app):
    client, _ = app
    creator = token_for(client, CREATOR)
    refused = client.post(
        "/v1/auth/token/create", json={"no_parent": True}, headers={"X-Vault-Token": creator}
    )
    assert refused.status_code == 403
    assert "sudo" in refused.json()["errors"][0]
    sudoer = token_for(client, CREATOR.replace('"update"', '"update", "sudo"'))
    orphan = client.post(
        "/v1/auth/token/create", json={"no_parent": True}, headers={"X-Vault-Token": sudoer}
    )
    assert orphan.status_code == 200 and orphan.json()["auth"]["orphan"] is True
    lookup = client.get(
        "/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": orphan.json()["auth"]["client_token"]},
    )
    assert lookup.json()["data"]["orphan"] is True


def test_f5_a_child_never_outlives_its_parent(app):
    client, _ = app
    parent = token_for(client, CREATOR, ttl="3s")
    child = client.post(
        "/v1/auth/token/create",
        json={"ttl": "1h", "policies": ["default"]},
        headers={"X-Vault-Token": parent},
    )
    assert child.status_code == 200, child.text
    assert child.json()["auth"]["lease_duration"] <= 3
    child_token = child.json()["auth"]["client_token"]
    renewed = client.post(
        "/v1/auth/token/renew-self",
        json={"increment": "1h"},
        headers={"X-Vault-Token": child_token},
    )
    assert renewed.status_code == 200 and renewed.json()["auth"]["lease_duration"] <= 3
    time.sleep(3.2)
    expired = client.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": child_token})
    assert expired.status_code == 403


def test_f5_revoking_the_creator_revokes_the_child(app):
    client, _ = app
    parent = token_for(client, CREATOR)
    child = client.post(
        "/v1/auth/token/create", json={"policies": ["default"]}, headers={"X-Vault-Token": parent}
    ).json()["auth"]["client_token"]
    assert client.post("/v1/auth/token/revoke-self", headers={"X-Vault-Token": parent}).is_success
    answer = client.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": child})
    assert answer.status_code == 403


# -- F6: one resource, one ACL path ---------------------------------------------------------


def test_f6_an_address_denied_in_one_spelling_is_denied_in_all(app):
    client, _ = app
    address = client.post("/v1/trustee/trustees/guarded").json()["data"]["address"]
    other = client.post("/v1/trustee/trustees/open").json()["data"]["address"]
    policy = (
        'path "trustee/addresses/*" { capabilities = ["read", "update"] }\n'
        f'path "trustee/addresses/{address}" {{ capabilities = ["deny"] }}\n'
        f'path "trustee/addresses/{address}/verify" {{ capabilities = ["deny"] }}\n'
    )
    reader = {"X-Vault-Token": token_for(client, policy)}
    body = "0x" + address[2:].lower()
    for spelling in (address, address.lower(), "0X" + address[2:].upper(), body):
        assert client.get(f"/v1/trustee/addresses/{spelling}", headers=reader).status_code == 403
        verify = client.post(
            f"/v1/trustee/addresses/{spelling}/verify",
            json={"data": "x", "signature": "0x" + "00" * 65},
            headers=reader,
        )
        assert verify.status_code == 403, spelling
    assert client.get(f"/v1/trustee/addresses/{other.lower()}", headers=reader).status_code == 200
    refused = client.get(f"/v1/trustee/addresses/{address.lower()}", headers=reader)
    assert refused.json()["errors"] == [f"permission denied: read on trustee/addresses/{address}"]
    named = client.delete("/v1/sys/policies/acl/Some-Policy", headers=reader)
    assert named.json()["errors"] == ["permission denied: delete on sys/policies/acl/some-policy"]
