"""The offline audit: a bundle from the service passes; any tampering fails it."""

import base64
import copy
import json
from pathlib import Path

import pytest

from ledgerlib import Device, evidence, open_core
from trustee.ledger.audit import audit_bundle
from trustee.ledger.service import EventRequest


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):
    folder: Path = tmp_path_factory.mktemp("audit")
    core, _ = open_core(folder)
    service = core.ledger
    device, other = Device("ES256K"), Device("ES256K")
    asset = service.create_asset({"name": "car"}, device.device_key).uuid
    noise = service.create_asset({}).uuid
    for i in range(5):
        service.post_event(EventRequest(asset, event_attributes=evidence(device, f"reading {i}")))
        service.post_event(EventRequest(noise, event_attributes={"i": str(i)}))
    older = service.checkpoint()["checkpoint"]
    service.rotate_key(asset, other.device_key)
    service.post_event(EventRequest(asset, event_attributes=evidence(other, "after rotation")))
    bundle = service.bundle(asset, older_size=10).to_json()
    key = service.public_key()
    yield {"bundle": bundle, "key": key, "older": older, "service": service}
    core.close()


def test_bundle_audits_ok(made) -> None:
    seen = []
    report = audit_bundle(made["bundle"], made["key"], on_event=seen.append)
    assert report.all_ok, report.to_dict()
    assert len(report.rows) == 6 == len(seen)
    assert all(row.status == "GOOD" for row in report.rows)
    # It survives a JSON round trip, as the CLI reads it.
    assert audit_bundle(json.loads(json.dumps(made["bundle"])), made["key"]).all_ok


def test_older_checkpoint_consistency(made) -> None:
    report = audit_bundle(made["bundle"], made["key"], made["older"])
    assert report.consistency_ok and report.all_ok
    no_proof = copy.deepcopy(made["bundle"])
    del no_proof["consistency"]
    report = audit_bundle(no_proof, made["key"], made["older"])
    assert report.consistency_ok is False and not report.all_ok
    bad = copy.deepcopy(made["bundle"])
    bad["consistency"]["hashes"][0] = "00" * 32
    assert not audit_bundle(bad, made["key"], made["older"]).all_ok


def _entry(bundle: dict, i: int) -> bytearray:
    return bytearray(base64.b64decode(bundle["events"][i]["entry"]))


def _set_entry(bundle: dict, i: int, raw: bytes) -> None:
    bundle["events"][i]["entry"] = base64.b64encode(bytes(raw)).decode()


def test_tampered_entry_byte_fails(made) -> None:
    bundle = copy.deepcopy(made["bundle"])
    raw = _entry(bundle, 2)
    position = raw.index(b"reading 2") + len("reading ")
    raw[position] = ord("9")
    _set_entry(bundle, 2, raw)
    report = audit_bundle(bundle, made["key"])
    assert not report.all_ok
    assert report.rows[2].status == "BAD" and not report.rows[2].included
    assert [row.status for i, row in enumerate(report.rows) if i != 2] == ["GOOD"] * 5


def test_tampered_device_signature_fails(made) -> None:
    bundle = copy.deepcopy(made["bundle"])
    record = json.loads(_entry(bundle, 0))
    signature = record["event_attributes"]["arc_evidence_signature"]
    record["event_attributes"]["arc_evidence_signature"] = (
        signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    )
    from trustee.ledger.canonical import canonical_json

    _set_entry(bundle, 0, canonical_json(record))
    row = audit_bundle(bundle, made["key"]).rows[0]
    assert row.status == "BAD" and row.signature == "BAD" and not row.included


def test_tampered_checkpoint_fails(made) -> None:
    bundle = copy.deepcopy(made["bundle"])
    lines = bundle["checkpoint"].split("\n")
    lines[1] = str(int(lines[1]) + 1)
    bundle["checkpoint"] = "\n".join(lines)
    report = audit_bundle(bundle, made["key"])
    assert not report.checkpoint_ok and not report.all_ok


def test_wrong_log_key_and_garbage(made) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trustee.ledger.note import make_verifier_key

    other = make_verifier_key("trustee.local/ledger", Ed25519PrivateKey.generate().public_key())
    assert not audit_bundle(made["bundle"], other).all_ok
    assert not audit_bundle({"kind": "nope"}, made["key"]).all_ok
    assert not audit_bundle({}, "garbage").all_ok
    bundle = copy.deepcopy(made["bundle"])
    bundle["events"][1]["inclusion_proof"] = bundle["events"][1]["inclusion_proof"][:-1]
    assert audit_bundle(bundle, made["key"]).rows[1].status == "BAD"
    bundle = copy.deepcopy(made["bundle"])
    bundle["events"][0]["entry"] = "%%%"
    assert audit_bundle(bundle, made["key"]).rows[0].status == "BAD"
    # An event of another asset slipped in is refused even though it is in the log.
    bundle = copy.deepcopy(made["bundle"])
    bundle["asset"]["identity"] = "assets/someone-else"
    assert not audit_bundle(bundle, made["key"]).all_ok


def test_parallel_audit_matches_serial(made) -> None:
    bundle = copy.deepcopy(made["bundle"])
    raw = _entry(bundle, 3)
    position = raw.index(b"reading 3") + len("reading ")
    raw[position] = ord("7")
    _set_entry(bundle, 3, raw)
    bundle["events"].append("not an event")
    serial_seen: list = []
    parallel_seen: list = []
    serial = audit_bundle(bundle, made["key"], workers=1, on_event=serial_seen.append)
    parallel = audit_bundle(
        bundle, made["key"], workers=2, min_parallel=2, on_event=parallel_seen.append
    )
    assert serial.rows[3].status == "BAD" and serial.rows[-1].status == "BAD"
    assert parallel.to_dict() == serial.to_dict()
    assert parallel.rows == serial.rows == serial_seen == parallel_seen


# --- the Bundle type: one format for the service and the auditor ----------------------------


def test_bundle_round_trips_through_json(made) -> None:
    from trustee.ledger.bundle import BUNDLE_KIND, BUNDLE_VERSION, Bundle

    service = made["service"]
    asset = made["bundle"]["asset"]["uuid"]
    typed = service.bundle(asset, older_size=10)
    document = json.loads(json.dumps(typed.to_json()))  # as a file holds it
    assert (document["kind"], document["v"]) == (BUNDLE_KIND, BUNDLE_VERSION)
    assert list(document) == [
        "v",
        "kind",
        "origin",
        "log_key",
        "checkpoint",
        "size",
        "root_hash",
        "asset",
        "keys",
        "events",
        "consistency",
    ]
    read = Bundle.from_json(document)
    assert read == typed and read.problems == ()
    assert read.to_json() == document
    assert (
        audit_bundle(typed, made["key"], made["older"]).to_dict()
        == audit_bundle(document, made["key"], made["older"]).to_dict()
    )


def test_bundle_asset_is_the_asset_as_described(made) -> None:
    from trustee.server.faces.vault.routes.ledger_render import asset_json

    service = made["service"]
    document = made["bundle"]
    described = asset_json(service.read_asset(document["asset"]["uuid"]))
    assert document["asset"] == {k: v for k, v in described.items() if k != "key_history"}
    assert document["keys"] == described["key_history"]
    assert [item["event"] for item in document["events"]] == [
        json.loads(base64.b64decode(item["entry"])) for item in document["events"]
    ]


def test_reading_a_damaged_bundle_keeps_every_fault(made) -> None:
    from trustee.ledger.bundle import Bundle, BundleError, BundleEvent, UnreadableEvent

    damaged = copy.deepcopy(made["bundle"])
    damaged["events"][0] = "not an event"
    damaged["events"][1]["entry"] = "%%%"
    damaged["events"][2]["inclusion_proof"] = {"not": "a list"}
    damaged["keys"].append({"seq": "x"})
    del damaged["checkpoint"]
    read = Bundle.from_json(damaged)
    assert read.events[0] == UnreadableEvent("malformed event item")
    assert read.events[1] == UnreadableEvent("entry is not base64 of JSON")
    assert isinstance(read.events[2], BundleEvent) and read.events[2].inclusion_proof is None
    assert read.checkpoint is None and read.problems == ("malformed key history entry",)
    assert Bundle.from_json({**made["bundle"], "events": None}).problems == (
        "bundle has no events list",
    )
    for bad in ({"kind": "nope"}, [], {**made["bundle"], "v": 2}):
        with pytest.raises(BundleError):
            Bundle.from_json(bad)
