"""DataTrails' device keys and signatures: the ``arc_evidence_signing_pubkey`` PEM attribute as
the asset's key (rotated by events), and signatures with or without base64 padding, on the
server and in the offline audit."""

import base64

import pytest

from ledgerlib import Device, open_core
from trustee.crypto.encoding import b64url_decode_padded
from trustee.crypto.errors import CryptoError
from trustee.errors import InvalidRequest
from trustee.ledger.audit import audit_bundle
from trustee.ledger.service import EventRequest

PEM_KINDS = ("EdDSA", "ES256", "ES256K")


@pytest.fixture
def service(tmp_path):
    core, _ = open_core(tmp_path)
    yield core.ledger
    core.close()


def padded(signature: str) -> str:
    return signature + "=" * (-len(signature) % 4)


def signed(device: Device, text: str, *, pad: bool) -> dict[str, str]:
    signature = device.sign(text)
    return {"arc_evidence": text, "arc_evidence_signature": padded(signature) if pad else signature}


@pytest.mark.parametrize(
    ("text", "raw"),
    [("", b""), ("AA==", b"\0"), ("AA", b"\0"), ("AAA=", b"\0\0"), ("AAA", b"\0\0")],
)
def test_padding_optional_but_exact(text: str, raw: bytes) -> None:
    assert b64url_decode_padded(text) == raw


@pytest.mark.parametrize(
    "text", ["AA=", "AA===", "AAA==", "AAAA=", "=", "AB==", "AAB=", "A===", "AA=A", "A+==", " AA=="]
)
def test_padding_refused_when_not_canonical(text: str) -> None:
    with pytest.raises(CryptoError):
        b64url_decode_padded(text)


@pytest.mark.parametrize("kind", PEM_KINDS)
def test_pem_attribute_is_the_device_key_and_rotates(service, kind: str) -> None:
    device, other = Device(kind), Device(kind)
    asset = service.create_asset(
        {"arc_display_name": "sensor", "arc_evidence_signing_pubkey": device.key_forms()["pem"]}
    )
    assert asset.device_key is not None and asset.device_key.alg == kind
    good = service.post_event(
        EventRequest(asset.uuid, event_attributes=signed(device, "one", pad=True))
    )
    unpadded = service.post_event(
        EventRequest(asset.uuid, event_attributes=signed(device, "two", pad=False))
    )
    hacked_signature = signed(device, "three", pad=True)
    hacked_signature["arc_evidence_signature"] = hacked_signature["arc_evidence_signature"][2:]
    hacked = service.post_event(EventRequest(asset.uuid, event_attributes=hacked_signature))
    # An event that changes the attribute rotates the key at its own index: it verifies under
    # the new key, and every older event keeps its verdict.
    rotation = service.post_event(
        EventRequest(
            asset.uuid,
            event_attributes=signed(other, "rotated", pad=True),
            asset_attributes={"arc_evidence_signing_pubkey": other.key_forms()["pem"]},
        )
    )
    after = service.read_asset(asset.uuid)
    assert [record.valid_from_index for record in after.key_history] == [0, rotation.log_index]
    assert after.attributes["arc_evidence_signing_pubkey"] == other.key_forms()["pem"]
    verdicts = {v.event_uuid: v.status for v in service.verify_asset(asset.uuid).events}
    assert verdicts == {
        good.uuid: "GOOD",
        unpadded.uuid: "GOOD",
        hacked.uuid: "BAD",
        rotation.uuid: "GOOD",
    }
    report = audit_bundle(service.bundle(asset.uuid).to_json(), service.public_key())
    assert [row.status for row in report.rows] == ["GOOD", "GOOD", "BAD", "GOOD"]


def test_bad_pem_attribute_is_refused(service) -> None:
    with pytest.raises(InvalidRequest, match="arc_evidence_signing_pubkey"):
        service.create_asset({"arc_evidence_signing_pubkey": "not a key"})
    asset = service.create_asset({})
    with pytest.raises(InvalidRequest, match="arc_evidence_signing_pubkey"):
        service.post_event(
            EventRequest(asset.uuid, asset_attributes={"arc_evidence_signing_pubkey": "-----BEGIN"})
        )
    device = Device("EdDSA")
    with pytest.raises(InvalidRequest, match="differ"):
        service.create_asset(
            {"arc_evidence_signing_pubkey": device.key_forms()["pem"]}, Device("EdDSA").device_key
        )


def test_sample_signature_form_round_trips() -> None:
    """What the sample writes (urlsafe_b64encode, padded) decodes to what it signed."""
    raw = bytes(range(64))
    assert b64url_decode_padded(base64.urlsafe_b64encode(raw).decode()) == raw
