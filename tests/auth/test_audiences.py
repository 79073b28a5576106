"""Audiences and encryption: what is encrypted for one key opens only with that key."""

import base64

import pytest
from fastapi.testclient import TestClient

from trustee.auth.audiences import (
    decrypt_claims,
    encrypt_claims_for,
    key_from_token,
    trustee_decrypt_claims,
)
from trustee.crypto.address import address_from_public_key
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.server.app import create_app
from trustee.tokens import issue_token


@pytest.fixture
def core(dev_core):
    return dev_core.core


@pytest.fixture
def client(core):
    with TestClient(create_app(core)) as client:
        client.headers["X-Vault-Token"] = "root"
        yield client


CLAIMS = {"plate": "KITT", "usage": ["knight_rider"], "turbo": True, "miles": 12.5}


def test_encrypted_claims_round_trip_only_for_the_intended_key():
    agency, stranger = generate_private_key(), generate_private_key()
    sealed = encrypt_claims_for(public_key_from_private(agency), CLAIMS)
    assert set(sealed) == set(CLAIMS)
    assert all(isinstance(value, str) and "=" not in value for value in sealed.values())
    assert "KITT" not in "".join(sealed.values())
    assert decrypt_claims(agency, sealed) == CLAIMS
    with pytest.raises(CryptoError):
        decrypt_claims(stranger, sealed)
    tampered = dict(
        sealed,
        plate=sealed["plate"][:-2]
        + ("A" if sealed["plate"][-2] != "A" else "B")
        + sealed["plate"][-1],
    )
    with pytest.raises(CryptoError):
        decrypt_claims(agency, tampered)


def test_key_from_token_recovers_the_signer():
    key = generate_private_key()
    public_key = public_key_from_private(key)
    token = issue_token(key, audience="someone-else").jwt
    address, recovered = key_from_token(token)
    assert address == address_from_public_key(public_key)
    assert recovered == public_key


def test_register_an_audience_and_encrypt_claims_for_it(core, client):
    agency_key = generate_private_key()
    token = issue_token(agency_key, subject="rental-agency").jwt
    answer = client.post("/v1/trustee/audiences/agency", json={"token": token})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["address"] == address_from_public_key(public_key_from_private(agency_key))
    assert data["public_key"] == "0x" + public_key_from_private(agency_key).hex()
    assert client.get("/v1/trustee/audiences?list=true").json()["data"]["keys"] == ["agency"]
    assert client.get("/v1/trustee/audiences/agency").json()["data"]["address"] == data["address"]
    bad = client.post("/v1/trustee/audiences/x", json={"token": token[:-3] + "AAA"})
    assert bad.status_code == 400

    sealed = encrypt_claims_for(core.audiences.public_key("agency"), CLAIMS)
    assert decrypt_claims(agency_key, sealed) == CLAIMS
    core.trustees.create("alice")
    with pytest.raises(Exception, match="do not decrypt"):
        trustee_decrypt_claims(core.trustees, "alice", sealed)
    assert client.delete("/v1/trustee/audiences/agency").status_code == 204
    assert client.get("/v1/trustee/audiences/agency").status_code == 404


def test_trustee_encrypt_and_decrypt(core, client):
    client.post("/v1/trustee/trustees/alice")
    client.post("/v1/trustee/trustees/bob")
    plaintext = base64.b64encode(b"the car is in bay 7").decode()
    sealed = client.post("/v1/trustee/trustees/alice/encrypt", json={"plaintext": plaintext})
    assert sealed.status_code == 200, sealed.text
    ciphertext = sealed.json()["data"]["ciphertext"]
    assert ciphertext.startswith("trustee:v1:")
    opened = client.post("/v1/trustee/trustees/alice/decrypt", json={"ciphertext": ciphertext})
    assert opened.json()["data"]["plaintext"] == plaintext
    as_text = client.post(
        "/v1/trustee/trustees/alice/decrypt", json={"ciphertext": ciphertext, "encoding": "utf8"}
    )
    assert as_text.json()["data"]["plaintext"] == "the car is in bay 7"
    wrong = client.post("/v1/trustee/trustees/bob/decrypt", json={"ciphertext": ciphertext})
    assert wrong.status_code == 400
    assert (
        client.post("/v1/trustee/trustees/alice/decrypt", json={"ciphertext": "nope"}).status_code
        == 400
    )


def test_encrypt_for_an_audience(core, client):
    agency_key = generate_private_key()
    client.post("/v1/trustee/trustees/alice")
    client.post("/v1/trustee/audiences/agency", json={"token": issue_token(agency_key).jwt})
    sealed = client.post(
        "/v1/trustee/trustees/alice/encrypt",
        json={"plaintext": "hello", "encoding": "utf8", "audience": "agency"},
    ).json()["data"]
    assert sealed["recipient"] == address_from_public_key(public_key_from_private(agency_key))
    from trustee.crypto.ecies import decrypt_with
    from trustee.crypto.encoding import b64url_decode

    raw = b64url_decode(sealed["ciphertext"].removeprefix("trustee:v1:"))
    assert decrypt_with(agency_key, raw) == b"hello"
    # alice cannot read what she encrypted for the agency
    denied = client.post(
        "/v1/trustee/trustees/alice/decrypt", json={"ciphertext": sealed["ciphertext"]}
    )
    assert denied.status_code == 400


def test_claim_with_encrypt_for_opens_only_with_the_audiences_key(core, client):
    from trustee.auth.audiences import open_claims
    from trustee.tokens import verify_token

    agency_key, stranger_key = generate_private_key(), generate_private_key()
    agency_address = address_from_public_key(public_key_from_private(agency_key))
    client.post("/v1/trustee/trustees/alice")
    client.post("/v1/trustee/audiences/agency", json={"token": issue_token(agency_key).jwt})
    answer = client.post(
        "/v1/trustee/trustees/alice/claim",
        json={"claims": CLAIMS, "audience": "rental-agency", "encrypt_for": "agency"},
    )
    assert answer.status_code == 200, answer.text
    jwt = answer.json()["data"]["jwt"]
    result = verify_token(jwt, audience="rental-agency")
    assert result.valid
    payload = result.claims
    assert payload["encrypted"] == {
        "alg": "ECIES-secp256k1",
        "to": agency_address,
        "claims": sorted(CLAIMS),
    }
    assert "KITT" not in jwt and payload["plate"] != "KITT"
    opened = open_claims(agency_key, payload)
    assert {name: opened[name] for name in CLAIMS} == CLAIMS
    assert "encrypted" not in opened and opened["iss"] == payload["iss"]
    with pytest.raises(CryptoError, match="not for"):
        open_claims(stranger_key, payload)
    # A recipient that ignores the "to" field still cannot read them.
    with pytest.raises(CryptoError):
        decrypt_claims(stranger_key, {name: payload[name] for name in CLAIMS})


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"encrypt_for": "nobody", "claims": {"a": 1}}, 404),
        ({"encrypt_for": "agency"}, 400),
        ({"encrypt_for": "agency", "claims": {"encrypted": 1}}, 400),
        ({"encrypt_for": "bad name!", "claims": {"a": 1}}, 400),
    ],
)
def test_encrypt_for_refusals(core, client, body, status):
    client.post("/v1/trustee/trustees/alice")
    client.post(
        "/v1/trustee/audiences/agency", json={"token": issue_token(generate_private_key()).jwt}
    )
    answer = client.post("/v1/trustee/trustees/alice/claim", json=body)
    assert answer.status_code == status, answer.text


def test_a_trustee_decrypts_claims_encrypted_for_it(core, client):
    for name in ("alice", "agency", "bob"):
        client.post(f"/v1/trustee/trustees/{name}")
    agency_jwt = client.post("/v1/trustee/trustees/agency/claim", json={}).json()["data"]["jwt"]
    client.post("/v1/trustee/audiences/agency", json={"token": agency_jwt})
    payload = client.post(
        "/v1/trustee/trustees/alice/claim", json={"claims": CLAIMS, "encrypt_for": "agency"}
    ).json()["data"]["claims"]
    opened = client.post("/v1/trustee/trustees/agency/decrypt", json={"claims": payload})
    assert opened.status_code == 200, opened.text
    assert {name: opened.json()["data"]["claims"][name] for name in CLAIMS} == CLAIMS
    values_only = {name: payload[name] for name in CLAIMS}
    assert (
        client.post("/v1/trustee/trustees/agency/decrypt", json={"claims": values_only}).json()[
            "data"
        ]["claims"]
        == CLAIMS
    )
    for body in ({"claims": payload}, {"claims": values_only}):
        refused = client.post("/v1/trustee/trustees/bob/decrypt", json=body)
        assert refused.status_code == 400
        assert refused.json()["errors"] == ["the claims do not decrypt with this trustee's key"]
    for body in ({}, {"claims": payload, "ciphertext": "trustee:v1:AA"}, {"claims": {}}):
        assert client.post("/v1/trustee/trustees/agency/decrypt", json=body).status_code == 400


def test_trustee_encrypt_picks_the_audience_key_or_the_trustees_own(core):
    from trustee.auth.audiences import trustee_decrypt, trustee_encrypt
    from trustee.errors import NotFound

    trustee = core.trustees.create("enc-owner")
    own = trustee_encrypt(core.trustees, core.audiences, "enc-owner", b"to myself")
    assert own.recipient == trustee.address
    assert trustee_decrypt(core.trustees, "enc-owner", own.ciphertext) == b"to myself"
    agency = generate_private_key()
    token = issue_token(agency, audience="enc-owner").jwt
    info = core.audiences.register("enc-agency", token)
    sealed = trustee_encrypt(core.trustees, core.audiences, "enc-owner", b"hi", "enc-agency")
    assert sealed.recipient == info.address != trustee.address
    with pytest.raises(NotFound):
        trustee_encrypt(core.trustees, core.audiences, "nobody", b"x", "enc-agency")
    with pytest.raises(NotFound):
        trustee_encrypt(core.trustees, core.audiences, "enc-owner", b"x", "no-such-audience")
