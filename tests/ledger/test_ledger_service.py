"""The ledger service on both engines: verdicts, refusals, the log, restarts."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import rfc9162
from ledgerlib import KINDS, Device, evidence, open_core, reopen, truncate
from trustee.errors import InvalidRequest, NotFound, Sealed
from trustee.ledger import merkle
from trustee.ledger.models import Event
from trustee.ledger.service import EventRequest, LedgerService
from trustee.secret import Secret
from trustee.server.faces.vault.routes.ledger_render import event_json

WHO = {"accessor": "acc", "display_name": "tester"}


@pytest.fixture
def env(storage_url: str):
    core, share = open_core(storage_url)
    service = core.ledger
    yield core, service, share
    core.close()


def post(service: LedgerService, asset: str, attributes: dict, **extra) -> Event:
    return service.post_event(
        EventRequest(asset, event_attributes=attributes, principal_accepted=WHO, **extra)
    )


def verdict(service: LedgerService, record: Event) -> str:
    return service.verify_event(record.uuid).status


def count_events(service: LedgerService) -> int:
    return service.state()[0]


@pytest.mark.parametrize("kind", KINDS)
def test_verdicts_for_every_algorithm(env, kind: str) -> None:
    _, service, _ = env
    device, other = Device(kind), Device(kind)
    asset = service.create_asset({"name": kind}, device.device_key).uuid
    text = '{"speed": 88}'
    good = device.sign(text)
    cases = {
        "good": ({"arc_evidence": text, "arc_evidence_signature": good}, "GOOD"),
        "truncated": ({"arc_evidence": text, "arc_evidence_signature": truncate(good)}, "BAD"),
        "forged": ({"arc_evidence": '{"speed": 188}', "arc_evidence_signature": good}, "BAD"),
        "wrong_key": (evidence(other, text), "BAD"),
        "unsigned": ({"arc_evidence": text}, "UNSIGNED"),
        "garbage": ({"arc_evidence": text, "arc_evidence_signature": "!!"}, "BAD"),
    }
    for name, (attributes, expected) in cases.items():
        record = post(service, asset, attributes)
        assert verdict(service, record) == expected, name
    # Nothing lost: every event, bad ones included, is in the log and listed.
    assert count_events(service) == len(cases)
    events, _ = service.list_events(asset)
    assert len(events) == len(cases)
    counts = service.verify_asset(asset).counts
    assert counts == {"GOOD": 1, "BAD": 4, "UNSIGNED": 1, "NO_KEY": 0}


def test_no_key(env) -> None:
    _, service, _ = env
    asset = service.create_asset({"name": "keyless"}).uuid
    record = post(service, asset, evidence(Device("EdDSA")))
    result = service.verify_event(record.uuid)
    assert result.status == "NO_KEY"
    assert verdict(service, post(service, asset, {"note": "x"})) == "UNSIGNED"


@pytest.mark.parametrize("kind", ["ES256K", "EdDSA", "ES256"])
def test_rotated_key_keeps_history(env, kind: str) -> None:
    _, service, _ = env
    first, second = Device(kind), Device(kind)
    asset = service.create_asset({}, first.device_key).uuid
    before = post(service, asset, evidence(first))
    described = service.rotate_key(asset, second.device_key)
    assert [k.seq for k in described.key_history] == [1, 2]
    assert described.device_key.public_key == second.device_key["public_key"]
    after_new = post(service, asset, evidence(second))
    after_old = post(service, asset, evidence(first))
    assert verdict(service, before) == "GOOD"  # checked with the key of its time
    assert verdict(service, after_new) == "GOOD"
    assert verdict(service, after_old) == "BAD"


def test_require_signature_refuses_and_writes_nothing(env) -> None:
    _, service, _ = env
    device = Device("EdDSA")
    asset = service.create_asset({}, device.device_key, require_signature=True).uuid
    post(service, asset, evidence(device))
    size, root = service.state()
    bad = evidence(device)
    bad["arc_evidence"] = "altered"
    for attributes in ({"arc_evidence": "x"}, bad):
        with pytest.raises(InvalidRequest):
            post(service, asset, attributes)
    # A batch with one refused event writes none of them.
    with pytest.raises(InvalidRequest):
        service.post_events(
            [
                EventRequest(asset, event_attributes=evidence(device)),
                EventRequest(asset, event_attributes={"arc_evidence": "x"}),
            ]
        )
    assert service.state() == (size, root)
    assert len(service.list_events(asset)[0]) == 1
    with pytest.raises(InvalidRequest):
        service.create_asset({}, None, require_signature=True)


def test_record_shape_and_asset_attributes(env) -> None:
    _, service, _ = env
    asset = service.create_asset({"colour": "black"}).uuid
    record = post(
        service,
        asset,
        {"k": "v"},
        asset_attributes={"mileage": "1000"},
        timestamp_declared="2024-01-01T00:00:00Z",
        principal_declared={"issuer": "device"},
    )
    assert record.asset_uuid == asset and record.operation == "Record"
    shown = event_json(record)  # as the Vault face writes it
    assert shown["identity"] == f"assets/{asset}/events/{record.uuid}"
    assert shown["asset_identity"] == f"assets/{asset}"
    assert shown["principal_accepted"] == WHO
    assert shown["timestamp_accepted"].endswith("Z")
    assert record.log_index == 0
    assert service.read_event(record.uuid) == record
    assert service.read_asset(asset).attributes == {"colour": "black", "mileage": "1000"}
    with pytest.raises(NotFound):
        service.read_event("nope")
    with pytest.raises(NotFound):
        post(service, "no-such-asset", {})


def test_limits(env) -> None:
    _, service, _ = env
    asset = service.create_asset({}).uuid
    with pytest.raises(InvalidRequest):
        post(service, asset, {"x" * 257: "v"})
    with pytest.raises(InvalidRequest):
        post(service, asset, {"big": "x" * (64 * 1024)})
    with pytest.raises(InvalidRequest):
        service.create_asset({"big": "x" * (64 * 1024)})
    with pytest.raises(InvalidRequest):
        service.create_asset({}, {"alg": "ES256K", "public_key": "zz"})
    with pytest.raises(InvalidRequest):
        service.create_asset({}, {"alg": "RS256", "public_key": "00"})
    assert service.state()[0] == 0


def test_listing_filters_and_paging(env) -> None:
    _, service, _ = env
    one = service.create_asset({}).uuid
    two = service.create_asset({}).uuid
    for i in range(7):
        post(service, one, {"n": str(i), "parity": "even" if i % 2 == 0 else "odd"})
    post(service, two, {"n": "x"}, operation="Transfer")
    seen, token = [], None
    while True:
        page, token = service.list_events(one, page_size=3, page_token=token)
        seen += [e.event_attributes["n"] for e in page]
        if token is None:
            break
    assert seen == [str(i) for i in range(7)]
    even, token = service.list_events(one, attributes={"parity": "even"}, page_size=2)
    assert [e.event_attributes["n"] for e in even] == ["0", "2"] and token
    rest, token = service.list_events(
        one, attributes={"parity": "even"}, page_size=2, page_token=token
    )
    assert [e.event_attributes["n"] for e in rest] == ["4", "6"]
    assert token is None or service.list_events(one, page_token=token)[0] == []
    everything, _ = service.list_events(None, page_size=100)
    assert len(everything) == 8
    assert len(service.list_events(None, operation="Transfer")[0]) == 1
    assert service.list_events(one, since="2000-01-01T00:00:00Z")[0]
    assert service.list_events(one, before="2000-01-01T00:00:00Z")[0] == []
    with pytest.raises(InvalidRequest):
        service.list_events(one, page_token="garbage")
    keys, token = service.list_assets(page_size=1)
    assert len(keys) == 1 and token
    assert len(keys + service.list_assets(page_token=token)[0]) == 2


def _open_note(note: str, verifier_key: str) -> str:
    """Verify a C2SP note with plain `cryptography` Ed25519, independent of trustee.ledger.note."""
    text, _, block = note.rpartition("\n\n")
    text += "\n"
    name, _, blob = block.removeprefix("\u2014 ").rstrip("\n").partition(" ")
    key_name, key_id, key_b64 = verifier_key.split("+", 2)
    raw_key = base64.b64decode(key_b64)
    signature = base64.b64decode(blob)
    assert name == key_name and raw_key[0] == 1 and signature[:4].hex() == key_id
    Ed25519PublicKey.from_public_bytes(raw_key[1:]).verify(signature[4:], text.encode())
    return text


def test_log_proofs_checkpoint_and_restart(storage_url: str) -> None:
    core, share = open_core(storage_url)
    service = core.ledger
    device = Device("EdDSA")
    asset = service.create_asset({}, device.device_key).uuid
    n = 37
    service.post_events([EventRequest(asset, event_attributes=evidence(device)) for _ in range(20)])
    for _ in range(n - 20):
        post(service, asset, evidence(device))
    checkpoint = service.checkpoint()
    key = service.public_key()
    origin, size_line, root_line = _open_note(checkpoint["checkpoint"], key).splitlines()
    assert (origin, int(size_line)) == ("trustee.local/ledger", n)
    root = base64.b64decode(root_line)
    entries = service.entries(0, n)
    assert rfc9162.root_of(entries) == root == bytes.fromhex(checkpoint["root_hash"])
    for index in range(n):
        proof = service.inclusion_proof(index, n)
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        assert merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, n, hashes, root)
    for first in (0, 1, 5, 16, 20, 36, 37):
        proof = service.consistency_proof(first, n)
        assert merkle.verify_consistency(
            first,
            n,
            rfc9162.root_of(entries[:first]),
            root,
            [bytes.fromhex(h) for h in proof["hashes"]],
        )
    with pytest.raises(InvalidRequest):
        service.inclusion_proof(n, n)
    with pytest.raises(InvalidRequest):
        service.entries(0, n + 1)
    core.close()

    # Restart: same log, same key, proofs still verify, appends continue.
    core, service = reopen(storage_url, share)
    try:
        assert service.checkpoint()["root_hash"] == checkpoint["root_hash"]
        assert service.public_key() == key
        proof = service.inclusion_proof(3, n)
        assert merkle.verify_inclusion(
            merkle.leaf_hash(entries[3]), 3, n, [bytes.fromhex(h) for h in proof["hashes"]], root
        )
        record = post(service, asset, evidence(device))
        assert record.log_index == n
        assert verdict(service, record) == "GOOD"
        new = service.checkpoint()
        assert new["size"] == n + 1
        grown = [*entries, *service.entries(n, n + 1)]
        assert rfc9162.root_of(grown) == bytes.fromhex(new["root_hash"])
        proof = service.consistency_proof(n, n + 1)
        assert merkle.verify_consistency(
            n,
            n + 1,
            root,
            bytes.fromhex(new["root_hash"]),
            [bytes.fromhex(h) for h in proof["hashes"]],
        )
    finally:
        core.close()


def test_sealed_barrier_hides_the_log_key(storage_url: str) -> None:
    core, share = open_core(storage_url)
    core.ledger.checkpoint()  # makes the key
    core.close()
    core, service = reopen(storage_url, share)
    core.barrier.seal()
    with pytest.raises(Sealed):
        service.checkpoint()
    core.db.close()


def test_sealing_a_running_server_stops_checkpoint_signing(storage_url: str) -> None:
    core, share = open_core(storage_url)
    try:
        service = core.ledger
        key = service.public_key()
        first = service.checkpoint()
        core.barrier.seal()
        with pytest.raises(Sealed):
            service.checkpoint()
        with pytest.raises(Sealed):
            service.public_key()
        core.barrier.unseal(Secret(share))
        assert service.public_key() == key
        assert service.checkpoint()["root_hash"] == first["root_hash"]
    finally:
        core.close()
