"""examples/rental_agency: the agency honours knight_rider only from the addresses it trusts."""

import importlib.util
import json
import sys
import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from trustee.auth.trust_file import load_trust_list
from trustee.crypto.address import address_from_public_key
from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.tokens import issue_token

AGENCY_PY = Path(__file__).resolve().parents[2] / "examples" / "rental_agency" / "agency.py"


def load_agency():
    spec = importlib.util.spec_from_file_location("rental_agency_example", AGENCY_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


agency = load_agency()


class Party:
    def __init__(self) -> None:
        self.key = generate_private_key()
        self.address = address_from_public_key(public_key_from_private(self.key))

    def jwt(self, usage=("knight_rider", "baywatch_babes"), **options) -> str:
        settings = {"audience": "rental-agency", "subject": "michael", "ttl": 300} | options
        return issue_token(self.key, claims={"usage": list(usage)}, **settings).jwt


DEVON = Party()  # whom the agency trusts
STRANGER = Party()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    trust_file = tmp_path_factory.mktemp("agency") / "partners.json"
    # The file the trustee server answers for a trust list: the agency reads it as is.
    trust_file.write_text(json.dumps({"data": {"name": "partners", "addresses": [DEVON.address]}}))
    with TestClient(agency.create_app(load_trust_list(trust_file))) as client:
        yield client


def rent(client, token: str | None, car: str = "knight_rider"):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(f"/cars/{car}/rent", headers=headers)


def test_a_trusted_address_rents_knight_rider(client):
    answer = rent(client, DEVON.jwt())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "car": "knight_rider",
        "description": agency.CARS["knight_rider"],
        "renter": "michael",
        "vouched_by": DEVON.address,
    }


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = orjson.loads(b64url_decode(payload)) | {"usage": ["knight_rider", "delorean"]}
    return f"{header}.{b64url_encode(orjson.dumps(claims))}.{signature}"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: STRANGER.jwt(), "untrusted_issuer"),
        (lambda: DEVON.jwt(ttl=60, now=int(time.time()) - 3600), "expired"),
        (lambda: tamper(DEVON.jwt(usage=["knight_rider"])), "bad_signature"),
        (lambda: DEVON.jwt(audience="another-agency"), "audience_mismatch"),
    ],
)
def test_untrusted_expired_tampered_or_misaddressed_tokens_get_401(client, make, reason):
    answer = rent(client, make())
    assert answer.status_code == 401
    assert f'error_description="{reason}"' in answer.headers["www-authenticate"]


def test_no_token_gets_401(client):
    answer = rent(client, None)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="rental-agency"'


def test_a_valid_token_without_the_usage_gets_403(client):
    answer = rent(client, DEVON.jwt(usage=["baywatch_babes"]))
    assert answer.status_code == 403
    assert "knight_rider" in answer.json()["errors"][0]
    assert rent(client, DEVON.jwt(), car="delorean").status_code == 403


def test_unknown_car_and_open_health_check(client):
    assert rent(client, DEVON.jwt(), car="batmobile").status_code == 404
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/cars").status_code == 401


def test_main_refuses_a_bad_trust_list(tmp_path, capsys):
    bad = tmp_path / "partners.txt"
    bad.write_text("0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4f\n")  # checksum typo
    with pytest.raises(SystemExit) as exited:
        agency.main(["--trust-list", str(bad)])
    assert exited.value.code == 2
    assert "checksum" in capsys.readouterr().err.lower()
    empty = tmp_path / "empty.txt"
    empty.write_text("# nobody yet\n")
    with pytest.raises(SystemExit):
        agency.main(["--trust-list", str(empty)])
    assert "trusts no one" in capsys.readouterr().err
