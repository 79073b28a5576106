"""The ledger routes end to end, in process."""

import base64
import json
import warnings

import pytest

from engines import open_dev_core
from ledgerlib import KINDS, Device, evidence, truncate
from trustee.ledger import merkle
from trustee.ledger.audit import audit_bundle
from trustee.ledger.note import open_checkpoint
from trustee.server.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def client(module_storage_url: str):
    ready = open_dev_core(module_storage_url)
    with TestClient(create_app(ready.core)) as test_client:
        test_client.headers["X-Vault-Token"] = ready.root
        yield test_client
    ready.core.close()


def data(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_assets_events_verify_and_log(client: TestClient) -> None:
    device = Device("ES256")
    asset = data(
        client.post(
            "/v1/ledger/assets",
            json={"attributes": {"name": "car"}, "device_key": device.device_key},
        )
    )
    uuid = asset["uuid"]
    assert asset["identity"] == f"assets/{uuid}"
    assert data(client.get(f"/v1/ledger/assets/{uuid}"))["device_key"] == device.device_key
    assert uuid in data(client.request("LIST", "/v1/ledger/assets"))["keys"]

    good = evidence(device)
    hacked = dict(good, arc_evidence_signature=truncate(good["arc_evidence_signature"]))
    records = [
        data(client.post(f"/v1/ledger/assets/{uuid}/events", json={"event_attributes": a}))
        for a in (good, hacked, {"note": "plain"})
    ]
    assert records[0]["principal_accepted"]["display_name"] == "root"
    assert "root" not in str(records[0]["principal_accepted"].get("accessor"))
    statuses = [
        data(client.get(f"/v1/ledger/events/{r['identity'].rsplit('/', 1)[-1]}/verify"))["status"]
        for r in records
    ]
    assert statuses == ["GOOD", "BAD", "UNSIGNED"]
    event_id = records[0]["identity"].rsplit("/", 1)[-1]
    assert data(client.post(f"/v1/ledger/events/{event_id}/verify"))["status"] == "GOOD"
    assert data(client.get(f"/v1/ledger/events/{event_id}")) == records[0]
    counts = data(client.get(f"/v1/ledger/assets/{uuid}/verify"))["counts"]
    assert counts == {"GOOD": 1, "BAD": 1, "UNSIGNED": 1, "NO_KEY": 0}

    page = data(client.get(f"/v1/ledger/assets/{uuid}/events", params={"page_size": 2}))
    assert len(page["events"]) == 2 and page["next_page_token"]
    rest = data(
        client.get(
            f"/v1/ledger/assets/{uuid}/events",
            params={"page_size": 2, "next_page_token": page["next_page_token"]},
        )
    )
    assert len(rest["events"]) == 1 and rest["next_page_token"] is None
    filtered = data(client.get(f"/v1/ledger/assets/{uuid}/events", params={"attr.note": "plain"}))
    assert [e["log_index"] for e in filtered["events"]] == [records[2]["log_index"]]
    keys = data(client.request("LIST", f"/v1/ledger/assets/{uuid}/events"))["keys"]
    assert keys[0] == event_id and len(keys) == 3

    # The log.
    checkpoint = data(client.get("/v1/ledger/log/checkpoint"))
    key = data(client.get("/v1/ledger/log/public-key"))["key"]
    opened = open_checkpoint(checkpoint["checkpoint"], [key])
    assert opened.size == checkpoint["size"] and opened.root_hash.hex() == checkpoint["root_hash"]
    entries = data(client.get("/v1/ledger/log/entries", params={"start": 0, "end": opened.size}))[
        "entries"
    ]
    assert len(entries) == opened.size
    for index, entry in enumerate(entries):
        proof = data(
            client.get(
                "/v1/ledger/log/proof/inclusion", params={"index": index, "size": opened.size}
            )
        )
        assert merkle.verify_inclusion(
            merkle.leaf_hash(base64.b64decode(entry)),
            index,
            opened.size,
            [bytes.fromhex(h) for h in proof["hashes"]],
            opened.root_hash,
        )
    consistency = data(
        client.get("/v1/ledger/log/proof/consistency", params={"first": 1, "second": opened.size})
    )
    assert isinstance(consistency["hashes"], list)

    # Rotation, then a bundle that audits (the BAD and UNSIGNED events make it fail: by design).
    other = Device("EdDSA")
    rotated = data(
        client.post(f"/v1/ledger/assets/{uuid}/keys", json={"device_key": other.device_key})
    )
    assert len(rotated["key_history"]) == 2
    bundle = data(client.get(f"/v1/ledger/assets/{uuid}/bundle"))
    report = audit_bundle(bundle, key)
    assert report.checkpoint_ok and [row.included for row in report.rows] == [True] * 3
    assert [row.signature for row in report.rows] == ["GOOD", "BAD", "UNSIGNED"]


def test_errors(client: TestClient) -> None:
    device = Device("EdDSA")
    strict = data(
        client.post(
            "/v1/ledger/assets", json={"device_key": device.device_key, "require_signature": True}
        )
    )["uuid"]
    refused = client.post(
        f"/v1/ledger/assets/{strict}/events", json={"event_attributes": {"arc_evidence": "x"}}
    )
    assert refused.status_code == 400
    assert data(client.get(f"/v1/ledger/assets/{strict}/verify"))["events"] == []
    assert client.get("/v1/ledger/assets/nope").status_code == 404
    assert client.get("/v1/ledger/events/nope").status_code == 404
    assert client.post("/v1/ledger/assets", json={"bogus": 1}).status_code == 400
    bad_key = {"device_key": {"alg": "EdDSA", "public_key": "00"}}
    assert client.post("/v1/ledger/assets", json=bad_key).status_code == 400
    assert client.get("/v1/ledger/log/proof/inclusion", params={"index": 10**6}).status_code == 400
    assert client.get("/v1/ledger/log/proof/inclusion").status_code == 400
    assert client.get("/v1/ledger/log/entries", params={"start": "x", "end": 1}).status_code == 400
    unauthenticated = client.get("/v1/ledger/log/checkpoint", headers={"X-Vault-Token": "wrong"})
    assert unauthenticated.status_code == 403


@pytest.mark.parametrize("kind", KINDS)
def test_every_key_form_of_every_algorithm(client: TestClient, kind: str) -> None:
    """Hex, PEM, JWK and JWK text name the same key: one canonical form, GOOD verdicts."""
    device = Device(kind)
    for form, public_key in device.key_forms().items():
        body = {"device_key": {"alg": device.device_key["alg"], "public_key": public_key}}
        asset = data(client.post("/v1/ledger/assets", json=body))
        assert asset["device_key"] == device.device_key, form
        record = data(
            client.post(
                f"/v1/ledger/assets/{asset['uuid']}/events",
                json={"event_attributes": evidence(device)},
            )
        )
        event = record["identity"].rsplit("/", 1)[-1]
        assert data(client.get(f"/v1/ledger/events/{event}/verify"))["status"] == "GOOD", form


@pytest.mark.parametrize(
    ("device_key", "fragment"),
    [
        ({"alg": "RS256", "public_key": "00"}, "alg must be one of"),
        (
            {
                "alg": "ES256",
                "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            },
            "PEM",
        ),
        (
            {"alg": "EdDSA", "public_key": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
            "OKP",
        ),
        ({"alg": "ES256K", "public_key": {"kty": "EC", "crv": "secp256k1", "d": "AA"}}, "private"),
        ({"alg": "ES256", "public_key": "0x" + "11" * 20}, "only a key for ES256K"),
        ({"alg": "ES256K", "public_key": "zz"}, "secp256k1"),
    ],
)
def test_bad_device_keys_are_one_clear_400(client: TestClient, device_key, fragment: str) -> None:
    answer = client.post("/v1/ledger/assets", json={"device_key": device_key})
    assert answer.status_code == 400, answer.text
    assert fragment in answer.json()["errors"][0]


def test_require_signature_writes_nothing_over_http(client: TestClient) -> None:
    device = Device("ES256K-address")
    asset = data(
        client.post(
            "/v1/ledger/assets",
            json={"device_key": device.device_key, "require_signature": True},
        )
    )["uuid"]
    size = data(client.get("/v1/ledger/log/checkpoint"))["size"]
    good = evidence(device)
    for attributes in (
        {},  # unsigned
        dict(good, arc_evidence_signature=truncate(good["arc_evidence_signature"])),
        dict(good, arc_evidence="altered"),
        evidence(Device("ES256K-address")),  # another device's key
    ):
        answer = client.post(
            f"/v1/ledger/assets/{asset}/events", json={"event_attributes": attributes}
        )
        assert answer.status_code == 400 and "requires a good device signature" in answer.text
    assert data(client.get("/v1/ledger/log/checkpoint"))["size"] == size
    assert data(client.get(f"/v1/ledger/assets/{asset}/events"))["events"] == []
    accepted = client.post(f"/v1/ledger/assets/{asset}/events", json={"event_attributes": good})
    assert data(accepted)["log_index"] == size


def test_bad_input_is_a_4xx_never_a_500(client: TestClient) -> None:
    asset = data(client.post("/v1/ledger/assets", json={}))["uuid"]
    events = f"/v1/ledger/assets/{asset}/events"
    probes = [
        ("POST", events, {"event_attributes": {"n": 2**60}}),
        ("POST", events, {"event_attributes": {"s": "\ud800"}}),
        ("POST", events, {"event_attributes": {"f": float("1e308") * 10}}),
        ("POST", events, {"event_attributes": "not an object"}),
        ("POST", events, {"operation": "x" * 300}),
        ("POST", events, {"asset_attributes": {"": 1}}),
        ("POST", events, {"event_attributes": {"big": "x" * 70_000}}),
        ("POST", "/v1/ledger/assets/" + "a" * 100 + "/events", {}),
        ("GET", events + "?page_token=%%%", None),
        ("GET", events + "?next_page_token=eyJ2IjoyfQ", None),
        ("GET", events + "?since=yesterday", None),
        ("GET", events + "?page_size=0", None),
        ("GET", events + "?page_size=many", None),
        ("GET", "/v1/ledger/assets?page_token=garbage", None),
        ("GET", "/v1/ledger/log/proof/inclusion?index=-1", None),
        ("GET", "/v1/ledger/log/proof/inclusion?index=0&size=99999999999999999999", None),
        ("GET", "/v1/ledger/log/proof/consistency?first=5&second=1", None),
        ("GET", "/v1/ledger/log/proof/consistency?first=x", None),
        ("GET", "/v1/ledger/log/entries?start=3&end=1", None),
        ("GET", f"/v1/ledger/assets/{asset}/bundle?older_size=-1", None),
        ("GET", f"/v1/ledger/assets/{asset}/bundle?older_size=999999", None),
        ("POST", f"/v1/ledger/assets/{asset}/keys", {"device_key": {"alg": "ES256"}}),
        ("POST", "/v1/ledger/assets/nope/keys", {"device_key": Device("EdDSA").device_key}),
        ("GET", "/v1/ledger/events/nope/verify", None),
    ]
    for method, path, body in probes:
        if body is None:
            answer = client.request(method, path)
        else:
            content = json.dumps(body, allow_nan=True)
            answer = client.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
        assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text)
        assert answer.json()["errors"], (method, path)


def test_an_event_reads_back_as_it_was_answered_and_as_the_log_holds_it(client: TestClient) -> None:
    """One shape for an event wherever it is shown: the POST answer, a read, a listing and the
    log's own entry are the same JSON, members in the same (RFC 8785) order."""
    uuid = data(client.post("/v1/ledger/assets", json={}))["uuid"]
    posted = data(
        client.post(
            f"/v1/ledger/assets/{uuid}/events",
            json={"event_attributes": {"b": "1", "a": "2"}, "timestamp_declared": "x"},
        )
    )
    event = posted["identity"].rsplit("/", 1)[-1]
    read = data(client.get(f"/v1/ledger/events/{event}"))
    listed = data(client.get(f"/v1/ledger/assets/{uuid}/events"))["events"]
    index = posted["log_index"]
    [entry] = data(client.get("/v1/ledger/log/entries", params={"start": index, "end": index + 1}))[
        "entries"
    ]
    logged = json.loads(base64.b64decode(entry))
    assert list(posted.items()) == list(read.items()) == list(listed[0].items())
    assert list(logged.items()) == list(posted.items())
    assert list(posted) == sorted(posted)
