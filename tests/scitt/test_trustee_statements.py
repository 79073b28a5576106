"""Trustees as SCITT issuers: ``trustee/trustees/:name/sign`` with ``scheme: cose``.

The statement is checked by pycose (python-ecdsa under it, neither coincurve nor
``cryptography``) against the key the server publishes for the trustee, registered at
``/entries``, and its receipt verified; refusals (ACL, bad input) sign nothing.
"""

from __future__ import annotations

import base64
import warnings

import cbor2
import pytest
from pycose.keys import EC2Key
from scittlib import COSE, pycose_key, pycose_message, root_client

from engines import open_dev_core
from trustee.custody.trustees import MAX_DATA_BYTES
from trustee.errors import TooLarge
from trustee.scitt import (
    decode_sign1,
    entry_of,
    parse_key_set,
    verify_receipt,
    verify_statement,
    verify_transparent_statement,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SIGN = "/v1/trustee/trustees/{}/sign"
OTHERS_ONLY = 'path "trustee/trustees/bob/sign" { capabilities = ["update"] }'
READ_ONLY = 'path "trustee/trustees/alice/sign" { capabilities = ["read"] }'


@pytest.fixture(scope="module")
def ready(module_storage_url: str):
    ready = open_dev_core(module_storage_url)
    yield ready
    ready.core.close()


@pytest.fixture(scope="module")
def client(ready):
    with root_client(ready) as test_client:
        for name in ("alice", "bob"):
            assert test_client.post(f"/v1/trustee/trustees/{name}").is_success
        yield test_client


def trustee(client: TestClient, name: str) -> dict:
    return client.get(f"/v1/trustee/trustees/{name}").json()["data"]


def sign(client: TestClient, name: str = "alice", **body) -> bytes:
    answer = client.post(SIGN.format(name), json={"scheme": "cose", **body})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert set(data) == {"statement", "address", "algorithm"}
    assert data["address"] == trustee(client, name)["address"]
    assert data["algorithm"] == "ES256K"
    return base64.b64decode(data["statement"], validate=True)


def secp256k1_key(client: TestClient, name: str) -> EC2Key:
    public = bytes.fromhex(trustee(client, name)["public_key"].removeprefix("0x"))
    return EC2Key(crv="SECP256K1", x=public[1:33], y=public[33:])


def size(client: TestClient) -> int:
    return client.get("/v1/ledger/log/checkpoint").json()["data"]["size"]


def test_a_trustee_statement_verifies_with_pycose(client: TestClient) -> None:
    data = sign(
        client,
        data=base64.b64encode(b'{"temp_c": 71.5}').decode(),
        encoding="base64",
        content_type="application/json",
        subject="urn:example:boiler-7",
    )
    address = trustee(client, "alice")["address"]
    protected = cbor2.loads(cbor2.loads(data).value[0])
    assert protected[1] == -47  # ES256K
    assert protected[4] == address.encode("ascii")  # kid: the EIP-55 text
    assert protected[3] == "application/json"
    assert protected[15] == {1: address, 2: "urn:example:boiler-7"}
    message = pycose_message(data)
    assert message.payload == b'{"temp_c": 71.5}'
    message.key = secp256k1_key(client, "alice")
    assert message.verify_signature()
    message.key = secp256k1_key(client, "bob")
    assert not message.verify_signature()
    # trustee's own verifier recovers the same signer from kid.
    statement = verify_statement(data)
    assert (statement.address, statement.key_source) == (address, "kid")
    assert (statement.issuer, statement.subject) == (address, "urn:example:boiler-7")


def test_the_issuer_may_be_named_and_the_kid_stays_the_address(client: TestClient) -> None:
    data = sign(client, data="hello", issuer="did:web:example.com")
    statement = verify_statement(data)
    assert statement.issuer == "did:web:example.com"
    assert statement.kid == trustee(client, "alice")["address"].encode()
    assert statement.subject is None and statement.content_type is None
    assert statement.message.payload == b"hello"


def test_a_trustee_statement_registers_and_its_receipt_verifies(client: TestClient) -> None:
    data = sign(client, "bob", data="74657374", encoding="hex", subject="urn:example:test")
    registered = client.post("/entries", content=data, headers=COSE)
    assert registered.status_code == 303, registered.content
    location = registered.headers["location"]
    keys = parse_key_set(client.get("/.well-known/scitt-keys").content)
    receipt = client.get(location).content
    checked = verify_receipt(receipt, entry_of(decode_sign1(data)), keys)
    assert location.endswith(f"/{checked.tree_size}.{checked.leaf_index}")
    message = pycose_message(receipt)  # and the receipt's signature, by pycose
    message.payload = checked.root
    message.key = pycose_key(keys[checked.kid])
    assert message.verify_signature()
    transparent = verify_transparent_statement(client.get(location + "/statement").content, keys)
    assert transparent.statement.address == trustee(client, "bob")["address"]
    assert transparent.statement.subject == "urn:example:test"


def _token(client: TestClient, name: str, policy: str) -> str:
    assert client.put(f"/v1/sys/policies/acl/{name}", json={"policy": policy}).is_success
    created = client.post("/v1/auth/token/create", json={"policies": [name]})
    return created.json()["auth"]["client_token"]


@pytest.mark.parametrize(("policy_name", "policy"), [("others", OTHERS_ONLY), ("ro", READ_ONLY)])
def test_signing_a_statement_needs_update_on_the_trustee(
    client: TestClient, policy_name: str, policy: str
) -> None:
    token = _token(client, policy_name, policy)
    body = {"data": "hello", "scheme": "cose"}
    refused = client.post(SIGN.format("alice"), json=body, headers={"X-Vault-Token": token})
    assert refused.status_code == 403
    assert "statement" not in refused.text
    anonymous = client.post(SIGN.format("alice"), json=body, headers={"X-Vault-Token": ""})
    assert anonymous.status_code == 403


def test_a_token_with_update_signs(client: TestClient) -> None:
    token = _token(
        client, "alice-signs", 'path "trustee/trustees/alice/sign" { capabilities = ["update"] }'
    )
    body = {"data": "hello", "scheme": "cose"}
    answer = client.post(SIGN.format("alice"), json=body, headers={"X-Vault-Token": token})
    assert answer.status_code == 200
    assert verify_statement(base64.b64decode(answer.json()["data"]["statement"])).issuer


BAD_BODIES = [
    ({"data": "%%%", "encoding": "base64"}, 400, "data is not base64"),
    ({"data": "zz", "encoding": "hex"}, 400, "hex"),
    ({"data": {"typed": "data"}}, 400, "data must be a string in the given encoding"),
    ({"data": "x", "issuer": ""}, 400, "issuer"),
    ({"data": "x", "subject": "s" * 1025}, 400, "subject"),
    ({"data": "x", "content_type": 5}, 400, "content_type"),
    ({"data": "x", "kid": "0x00"}, 400, "kid: Extra inputs are not permitted"),
    ({"data": "x", "scheme": "cose2"}, 400, "scheme"),
    ({"data": "x", "scheme": "eip191", "subject": "s"}, 400, "go with scheme cose"),
]


@pytest.mark.parametrize(("body", "status", "says"), BAD_BODIES)
def test_bad_input_is_4xx_and_signs_nothing(client: TestClient, body, status, says) -> None:
    answer = client.post(SIGN.format("alice"), json={"scheme": "cose", **body})
    assert answer.status_code == status, answer.text
    assert says in "; ".join(answer.json()["errors"])


def test_unknown_trustee_is_404(client: TestClient) -> None:
    answer = client.post(SIGN.format("nobody"), json={"data": "x", "scheme": "cose"})
    assert answer.status_code == 404
    assert answer.json()["errors"] == ["no trustee named 'nobody'"]


def test_a_payload_too_large_to_register_is_refused_before_signing(ready) -> None:
    with pytest.raises(TooLarge, match="larger than"):
        ready.core.trustees.sign_statement("alice", b"x" * MAX_DATA_BYTES)
    with pytest.raises(TooLarge):
        ready.core.trustees.sign_statement("alice", b"x" * (MAX_DATA_BYTES + 1))


def test_the_ethereum_schemes_answer_as_before(client: TestClient) -> None:
    answer = client.post(SIGN.format("alice"), json={"data": "hello"}).json()["data"]
    assert set(answer) == {"signature", "hash", "address"}


def test_openapi_documents_the_cose_form(client: TestClient) -> None:
    document = client.get("/v1/openapi.json").json()
    schema = document["components"]["schemas"]["Sign"]
    assert "cose" in schema["properties"]["scheme"]["enum"]
    assert {"content_type", "issuer", "subject"} <= set(schema["properties"])
    verify = document["components"]["schemas"]["VerifySignature"]
    assert "cose" not in verify["properties"]["scheme"]["enum"]


def test_registration_of_a_tampered_trustee_statement_writes_nothing(client: TestClient) -> None:
    body = list(cbor2.loads(sign(client, data="reading")).value)
    body[2] = b"another reading"
    before = size(client)
    refused = client.post("/entries", content=cbor2.dumps(cbor2.CBORTag(18, body)), headers=COSE)
    assert refused.status_code == 400
    assert cbor2.loads(refused.content)[-2].startswith("bad_signature")
    assert size(client) == before
