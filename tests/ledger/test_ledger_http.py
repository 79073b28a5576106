"""The ledger routes end to end, in process."""

import base64
import warnings

import pytest
from ledgerlib import Device, evidence, truncate

from trustee.core import Core
from trustee.ledger import merkle
from trustee.ledger.audit import audit_bundle
from trustee.ledger.note import open_checkpoint
from trustee.server.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    core, root = Core.dev(root_token="root", folder=tmp_path_factory.mktemp("http"))
    with TestClient(create_app(core)) as test_client:
        test_client.headers["X-Vault-Token"] = root
        yield test_client
    core.close()


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
