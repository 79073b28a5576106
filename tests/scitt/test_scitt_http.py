"""The SCITT face in process: registration, receipts, refusals that write nothing, and the
log shared with ledger events (checkpoints and the offline audit)."""

from __future__ import annotations

import base64
import warnings

import cbor2
import pytest
from scittlib import COSE, pycose_key, pycose_message, register, root_client, statement

import rfc9162
from engines import open_dev_core
from ledgerlib import Device, evidence
from trustee.ledger.audit import audit_bundle
from trustee.ledger.note import open_checkpoint
from trustee.scitt import (
    decode_sign1,
    entry_of,
    parse_key_set,
    verify_receipt,
    verify_transparent_statement,
)
from trustee.scitt.registry import RegistrationPolicy
from trustee.server.app import front
from trustee.server.asgi.faces import FaceDispatch
from trustee.server.asgi.ratelimit import RateLimits, Rule
from trustee.server.faces import scitt, vault

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PROBLEM = "application/concise-problem-details+cbor"


@pytest.fixture(scope="module")
def ready(module_storage_url: str):
    ready = open_dev_core(module_storage_url)
    yield ready
    ready.core.close()


@pytest.fixture(scope="module")
def client(ready):
    with root_client(ready) as test_client:
        yield test_client


def keys(client: TestClient):
    response = client.get("/.well-known/scitt-keys")
    assert response.status_code == 200
    return parse_key_set(response.content)


def size(client: TestClient) -> int:
    return client.get("/v1/ledger/log/checkpoint").json()["data"]["size"]


def problem(response) -> dict:
    assert response.headers["content-type"] == PROBLEM
    return cbor2.loads(response.content)


@pytest.mark.parametrize("kind", ["EdDSA", "ES256", "ES384", "ES256K", "ES256K-kid"])
def test_register_and_receipt_verify_with_pycose(client: TestClient, kind: str) -> None:
    data = statement(kind)
    location = register(client, data)
    receipt = client.get(location)
    assert receipt.status_code == 200
    assert receipt.headers["content-type"] == "application/cose"
    assert client.get(location).content == receipt.content  # stable
    key_set = keys(client)
    entry = entry_of(decode_sign1(data))
    checked = verify_receipt(receipt.content, entry, key_set)
    assert f"{checked.tree_size}.{checked.leaf_index}" == location.rsplit("/", 1)[1]
    # pycose: the receipt signs the root the proof implies, under the published key.
    message = pycose_message(receipt.content)
    assert message.phdr[395] == 1
    message.payload = checked.root
    message.key = pycose_key(key_set[checked.kid])
    assert message.verify_signature()
    # The transparent statement holds the receipt and the statement's own signature.
    transparent = client.get(location + "/statement")
    assert transparent.status_code == 200
    both = verify_transparent_statement(transparent.content, key_set)
    assert both.receipts[0] == checked
    assert entry_of(decode_sign1(transparent.content)) == entry


def test_receipt_root_is_the_checkpoint_root_of_its_size(client: TestClient) -> None:
    data = statement("EdDSA")
    location = register(client, data)
    checked = verify_receipt(
        client.get(location).content, entry_of(decode_sign1(data)), keys(client)
    )
    checkpoint = client.get("/v1/ledger/log/checkpoint").json()["data"]
    assert checkpoint["size"] == checked.tree_size  # nothing else appends in this module now
    note = open_checkpoint(checkpoint["checkpoint"], [log_key(client)])
    assert (note.size, note.root_hash) == (checked.tree_size, checked.root)


def log_key(client: TestClient) -> str:
    return client.get("/v1/ledger/log/public-key").json()["data"]["key"]


BAD_CASES = {
    "garbage": b"\x00\x01not cbor",
    "truncated": statement("EdDSA")[:-7],
    "trailing bytes": statement("EdDSA") + b"\x00",
    "untagged": cbor2.dumps(list(cbor2.loads(statement("EdDSA")).value)),
    "empty": b"",
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_malformed_statements_are_400_and_write_nothing(client: TestClient, case: str) -> None:
    before = size(client)
    response = client.post("/entries", content=BAD_CASES[case], headers=COSE)
    assert response.status_code == 400
    assert problem(response)[-1] == "Bad Request"
    assert size(client) == before


def _tampered() -> bytes:
    value = cbor2.loads(statement("ES256"))
    body = list(value.value)
    body[2] = body[2] + b" "
    return cbor2.dumps(cbor2.CBORTag(18, body))


def _wrong_key() -> bytes:
    one, other = cbor2.loads(statement("EdDSA")), cbor2.loads(statement("EdDSA"))
    body = list(one.value)
    body[3] = other.value[3]
    return cbor2.dumps(cbor2.CBORTag(18, body))


def _unsupported_alg() -> bytes:
    body = list(cbor2.loads(statement("ES256")).value)
    protected = dict(cbor2.loads(body[0]))
    protected[1] = -37  # PS256
    body[0] = cbor2.dumps(protected)
    return cbor2.dumps(cbor2.CBORTag(18, body))


def _no_key() -> bytes:
    body = list(cbor2.loads(statement("EdDSA")).value)
    protected = dict(cbor2.loads(body[0]))
    del protected[15]
    body[0] = cbor2.dumps(protected)
    return cbor2.dumps(cbor2.CBORTag(18, body))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_tampered, "bad_signature"),
        (_wrong_key, "bad_signature"),
        (_unsupported_alg, "unsupported_algorithm"),
        (_no_key, "no_key"),
    ],
)
def test_refused_statements_say_why_and_write_nothing(client: TestClient, make, reason) -> None:
    before = size(client)
    response = client.post("/entries", content=make(), headers=COSE)
    assert response.status_code == 400
    assert problem(response)[-2].startswith(reason)
    assert size(client) == before


def test_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/entries", content=statement("EdDSA"), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert problem(response)[-1] == "Unsupported Media Type"


def test_unknown_entries_are_404_in_cbor(client: TestClient) -> None:
    for path in ("/entries/999999.999998", "/entries/abc", "/entries/1.5", "/entries/x/y/z"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert problem(response)[-1] == "Not Found"
    assert client.get("/.well-known/scitt-keys/00").status_code == 404


def test_large_body_is_413_in_cbor(client: TestClient) -> None:
    response = client.post("/entries", content=b"\x00" * (1024 * 1024 + 1), headers=COSE)
    assert response.status_code == 413
    assert problem(response)[-1] == "Content Too Large" or problem(response)[-1]


def test_key_by_kid(client: TestClient) -> None:
    (kid,) = keys(client)
    response = client.get(f"/.well-known/scitt-keys/{kid.hex()}")
    assert response.status_code == 200
    assert parse_key_set(response.content) == keys(client)


def test_vault_face_still_answers(client: TestClient) -> None:
    assert client.get("/v1/sys/health").status_code == 200
    assert client.get("/v1/nope").json() == {"errors": ["unsupported path"]}


def test_rate_limit_is_429_in_cbor(ready) -> None:
    apps = [(vault.FACE, vault.create_api(ready.core)), (scitt.FACE, scitt.create_app(ready.core))]
    limits = RateLimits({"/entries": Rule(burst=1, per_second=0.001)})
    app = front(FaceDispatch(apps), [face for face, _ in apps], limits=limits)
    with TestClient(app, follow_redirects=False) as limited:
        assert limited.post("/entries", content=statement("EdDSA"), headers=COSE).status_code == 303
        response = limited.post("/entries", content=statement("EdDSA"), headers=COSE)
        assert response.status_code == 429
        assert response.headers["retry-after"]
        assert problem(response)[-1] == "Too Many Requests"


def test_trust_list_policy(client: TestClient, ready) -> None:
    registry = ready.core.scitt
    trusted = statement("ES256K-kid")
    address = decode_sign1(trusted).protected[4].decode()
    ready.core.trust_lists.put("scitt-issuers", [address])
    registry.policy = RegistrationPolicy(trust_list="scitt-issuers")
    try:
        before = size(client)
        for other in (statement("ES256K-kid"), statement("EdDSA")):
            response = client.post("/entries", content=other, headers=COSE)
            assert response.status_code == 400
            assert problem(response)[-2].startswith("untrusted_issuer")
        assert size(client) == before
        register(client, trusted)
    finally:
        registry.policy = RegistrationPolicy()


def test_audit_accepts_a_log_mixing_events_and_statements(client: TestClient) -> None:
    device = Device("EdDSA")
    body = {"attributes": {"name": "door"}, "device_key": device.device_key}
    asset = client.post("/v1/ledger/assets", json=body).json()["data"]
    for step in range(3):
        register(client, statement("EdDSA"))
        response = client.post(
            f"/v1/ledger/assets/{asset['uuid']}/events",
            json={"event_attributes": evidence(device, f'{{"step": {step}}}')},
        )
        assert response.status_code == 200, response.text
    register(client, statement("ES256"))
    bundle = client.get(f"/v1/ledger/assets/{asset['uuid']}/bundle").json()["data"]
    report = audit_bundle(bundle, log_key(client))
    assert report.all_ok, report.to_dict()
    # Every leaf, events and statements alike, is served and hashes to the checkpoint root.
    total = size(client)
    served = client.get(f"/v1/ledger/log/entries?start=0&end={total}").json()["data"]
    leaves = [base64.b64decode(entry) for entry in served["entries"]]
    assert len(leaves) == total
    checkpoint = open_checkpoint(
        client.get("/v1/ledger/log/checkpoint").json()["data"]["checkpoint"], [log_key(client)]
    )
    assert rfc9162.root_of(leaves) == checkpoint.root_hash
