"""auth/trustee/siwe: wallets log in with Sign-In with Ethereum on the roles of JWT login.

Messages are signed by eth-account (``personal_sign``), as a wallet would.
"""

import dataclasses
import time

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from trustee.auth.siwe_message import SiweMessage, format_message, rfc3339
from trustee.server.app import create_app
from trustee.storage.schema import server_tokens
from trustee.storage.schema_auth import siwe_nonces

DOMAIN = "agency.example"
URI = "https://agency.example/login"


@pytest.fixture
def core(dev_core):
    return dev_core.core


@pytest.fixture
def client(core):
    with TestClient(create_app(core)) as client:
        client.headers["X-Vault-Token"] = "root"
        yield client


@pytest.fixture
def wallet():
    return Account.create()


ROLE = {
    "bound_domains": [DOMAIN],
    "bound_uris": ["https://agency.example/*"],
    "bound_chain_ids": [1, 10],
    "token_policies": ["renter"],
    "token_ttl": "1h",
    "token_max_ttl": "2h",
}


def setup_role(client, wallet, name="renter", **overrides):
    answer = client.post(
        f"/v1/auth/trustee/role/{name}",
        json={"bound_issuers": [wallet.address], **ROLE, **overrides},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def nonce(client, role="renter"):
    answer = client.post("/v1/auth/trustee/siwe/nonce", json={"role": role}, headers={})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["nonce"]


def message(wallet, the_nonce, **fields) -> str:
    now = time.time()
    base = SiweMessage(
        domain=DOMAIN,
        address=wallet.address,
        statement="Sign in to the rental agency.",
        uri=URI,
        chain_id=1,
        nonce=the_nonce,
        issued_at=rfc3339(now),
        expiration_time=rfc3339(now + 300),
    )
    return format_message(dataclasses.replace(base, **fields))


def sign(wallet, text: str) -> str:
    return "0x" + wallet.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")


def login(client, text, signature, role="renter"):
    return client.post(
        "/v1/auth/trustee/siwe/login",
        json={"role": role, "message": text, "signature": signature},
        headers={},
    )


def test_a_wallet_logs_in_with_the_role_policies_and_metadata(client, wallet):
    setup_role(client, wallet)
    text = message(wallet, nonce(client))
    answer = login(client, text, sign(wallet, text))
    assert answer.status_code == 200, answer.text
    auth = answer.json()["auth"]
    assert auth["policies"] == ["default", "renter"]
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    assert auth["orphan"] is True
    assert auth["metadata"] == {
        "role": "renter",
        "issuer": wallet.address,
        "address": wallet.address,
        "domain": DOMAIN,
        "chain_id": "1",
    }
    me = client.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": auth["client_token"]})
    assert me.status_code == 200
    assert me.json()["data"]["meta"]["address"] == wallet.address


def test_the_role_reads_back_its_wallet_bindings(client, wallet):
    data = setup_role(client, wallet, bound_chain_ids="1,10", bound_domains="Agency.Example")
    assert data["bound_domains"] == [DOMAIN]
    assert data["bound_chain_ids"] == [1, 10]
    assert data["bound_uris"] == ["https://agency.example/*"]
    for bad in ({"bound_chain_ids": [0]}, {"bound_chain_ids": ["x"]}, {"bound_domains": ["a b"]}):
        assert client.post("/v1/auth/trustee/role/bad", json={**ROLE, **bad}).status_code == 400


def test_v_may_be_0_or_1(client, wallet):
    setup_role(client, wallet)
    text = message(wallet, nonce(client))
    raw = bytes.fromhex(sign(wallet, text)[2:])
    low = raw[:64] + bytes([raw[64] - 27])
    assert login(client, text, "0x" + low.hex()).status_code == 200


def _tokens(core) -> int:
    with core.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(server_tokens)).scalar()


def _nonces(core) -> list:
    with core.db.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(siwe_nonces)).all()]


OTHER = Account.create()


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("unknown role", 400, "unknown_role"),
        ("malformed message", 400, "invalid_message"),
        ("lower-case address", 400, "invalid_message"),
        ("signature not hex", 400, "invalid_signature"),
        ("v of 29", 400, "invalid_signature"),
        ("contract wallet signature", 400, "unsupported_signature"),
        ("wrong signer", 400, "signer_mismatch"),
        ("untrusted address", 403, "untrusted_issuer"),
        ("other domain", 400, "domain_mismatch"),
        ("other uri", 400, "uri_mismatch"),
        ("other chain", 400, "chain_mismatch"),
        ("no bound resource", 400, "resource_mismatch"),
        ("issued in the future", 400, "issued_in_future"),
        ("expired", 400, "expired"),
        ("not yet valid", 400, "not_yet_valid"),
        ("nonce never issued", 400, "unknown_nonce"),
        ("nonce of another role", 400, "nonce_role_mismatch"),
        ("expired nonce", 400, "nonce_expired"),
        ("replayed", 400, "replayed"),
    ],
)
def test_every_refusal_has_its_reason_and_writes_nothing(
    core, client, wallet, case, status, reason
):
    setup_role(client, wallet)
    setup_role(client, wallet, name="other")
    setup_role(client, wallet, name="papers", bound_resources=["https://agency.example/papers/*"])
    role, the_nonce = "renter", nonce(client)
    now = time.time()
    text = message(wallet, the_nonce)
    signer = wallet
    signature = None
    if case == "unknown role":
        role = "nobody"
    elif case == "malformed message":
        text = text.replace("Version: 1", "Version: 2")
    elif case == "lower-case address":
        text = text.replace(wallet.address, wallet.address.lower())
    elif case == "signature not hex":
        signature = "0xnothex"
    elif case == "v of 29":
        signature = sign(wallet, text)[:-2] + "1d"
    elif case == "contract wallet signature":
        signature = "0x" + "ab" * 96
    elif case == "wrong signer":
        signer = OTHER
    elif case == "untrusted address":
        text, signer = message(OTHER, the_nonce), OTHER
    elif case == "other domain":
        text = message(wallet, the_nonce, domain="phishing.example")
    elif case == "other uri":
        text = message(wallet, the_nonce, uri="https://phishing.example/login")
    elif case == "other chain":
        text = message(wallet, the_nonce, chain_id=5)
    elif case == "no bound resource":
        role, the_nonce = "papers", nonce(client, "papers")
        text = message(wallet, the_nonce, resources=("https://agency.example/other",))
    elif case == "issued in the future":
        text = message(wallet, the_nonce, issued_at=rfc3339(now + 600))
    elif case == "expired":
        text = message(wallet, the_nonce, expiration_time=rfc3339(now - 120))
    elif case == "not yet valid":
        text = message(wallet, the_nonce, not_before=rfc3339(now + 600))
    elif case == "nonce never issued":
        text = message(wallet, "abcdefgh12345678")
    elif case == "nonce of another role":
        text = message(wallet, nonce(client, "other"))
    elif case == "expired nonce":
        with core.db.begin() as conn:
            conn.execute(sa.update(siwe_nonces).values(expire_time=now - 1))
    elif case == "replayed":
        assert login(client, text, sign(wallet, text)).status_code == 200
    signature = signature or sign(signer, text)
    tokens, nonces = _tokens(core), _nonces(core)
    answer = login(client, text, signature, role=role)
    assert answer.status_code == status, answer.text
    assert f"login refused: {reason}" in answer.json()["errors"][0]
    assert (_tokens(core), _nonces(core)) == (tokens, nonces)


def test_a_resource_bound_role_takes_a_matching_resource(client, wallet):
    setup_role(client, wallet, name="papers", bound_resources=["https://agency.example/papers/*"])
    resources = ("ipfs://x", "https://agency.example/papers/7")
    text = message(wallet, nonce(client, "papers"), resources=resources)
    assert login(client, text, sign(wallet, text), role="papers").status_code == 200


def test_the_leeway_of_tokens_applies(client, wallet):
    setup_role(client, wallet)
    now = time.time()
    text = message(
        wallet, nonce(client), issued_at=rfc3339(now + 30), expiration_time=rfc3339(now - 30)
    )
    assert login(client, text, sign(wallet, text)).status_code == 200


def test_roles_without_domains_or_with_claims_take_no_wallets(client, wallet):
    setup_role(client, wallet, name="jwt-only", bound_domains=[])
    answer = client.post("/v1/auth/trustee/siwe/nonce", json={"role": "jwt-only"})
    assert answer.status_code == 403
    assert "siwe_not_enabled" in answer.json()["errors"][0]
    setup_role(client, wallet, name="claims", bound_claims={"country": "US"})
    answer = client.post("/v1/auth/trustee/siwe/nonce", json={"role": "claims"})
    assert answer.status_code == 400 and "claim_mismatch" in answer.json()["errors"][0]
    answer = client.post("/v1/auth/trustee/siwe/nonce", json={"role": "nobody"})
    assert answer.status_code == 400 and "unknown_role" in answer.json()["errors"][0]


def test_a_nonce_is_32_alphanumerics_and_expires(core, client, wallet):
    setup_role(client, wallet)
    answer = client.post("/v1/auth/trustee/siwe/nonce", json={"role": "renter"}, headers={})
    data = answer.json()["data"]
    assert len(data["nonce"]) == 32 and data["nonce"].isalnum()
    assert 290 <= data["ttl"] <= 300 and data["role"] == "renter"
    assert core.siwe.purge_nonces(time.time() + 301) == 1


def test_a_nonce_answers_the_wallets_address_in_eip55_form(client, wallet):
    """The explorer has no keccak: it sends a wallet's lower-case address and gets its
    checksummed form back to write into the message; a malformed one is refused."""
    setup_role(client, wallet)
    body = {"role": "renter", "address": wallet.address.lower()}
    answer = client.post("/v1/auth/trustee/siwe/nonce", json=body, headers={})
    assert answer.json()["data"]["address"] == wallet.address
    assert (
        "address"
        not in client.post(
            "/v1/auth/trustee/siwe/nonce", json={"role": "renter"}, headers={}
        ).json()["data"]
    )
    bad = client.post(
        "/v1/auth/trustee/siwe/nonce", json={"role": "renter", "address": "0x12"}, headers={}
    )
    assert bad.status_code == 400 and bad.json()["errors"][0].startswith("address:")
