"""A real server process driven by hvac (a real Vault client) and raw HTTP: Vault's conventions."""

import secrets

import httpx
import hvac
import jwt as pyjwt
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from live_server import LiveServer, start_ready

pytestmark = pytest.mark.integration

KEY_HEX = "4646464646464646464646464646464646464646464646464646464646464646"
ADDRESS = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
PASSPHRASE = "correct horse battery staple " + secrets.token_hex(4)


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_storage_url):
    live = start_ready(
        module_storage_url,
        tmp_path_factory.mktemp("log") / "server.log",
        root_token="root-" + secrets.token_hex(8),
    )
    yield live
    assert live.stop() == 0  # SIGTERM is a graceful shutdown
    log = live.log()
    for secret in (KEY_HEX, PASSPHRASE, live.unseal_key):
        assert secret is None or secret not in log


@pytest.fixture
def vault(server) -> hvac.Client:
    return hvac.Client(url=server.address, token=server.root)


def test_hvac_generic_calls(vault: hvac.Client, server) -> None:
    assert vault.is_authenticated()
    created = vault.write_data("trustee/trustees/hvac-alice", data={"metadata": {"team": "a"}})
    address = created["data"]["address"]
    read = vault.read("trustee/trustees/hvac-alice")
    assert read["data"]["address"] == address and read["data"]["metadata"] == {"team": "a"}
    assert "hvac-alice" in vault.list("trustee/trustees")["data"]["keys"]
    claimed = vault.write_data(
        "trustee/trustees/hvac-alice/claim", data={"audience": "agency", "claims": {"usage": ["x"]}}
    )["data"]
    # Anyone can verify, with no server token at all.
    answer = httpx.post(
        f"{server.address}/v1/trustee/verify",
        json={"token": claimed["jwt"], "audience": "agency", "trusted": [address]},
    ).json()["data"]
    assert answer == {
        "valid": True,
        "address": address,
        "algorithm": "ES256K",
        "claims": claimed["claims"],
        "trusted": True,
    }
    vault.delete("trustee/trustees/hvac-alice")
    assert vault.read("trustee/trustees/hvac-alice") is None  # hvac: None on 404


def test_sign_matches_eth_account_and_verify(vault: hvac.Client) -> None:
    vault.write_data("trustee/import/hvac-imported", data={"private_key": KEY_HEX})
    signed = vault.write_data(
        "trustee/trustees/hvac-imported/sign", data={"data": "hello trustee", "encoding": "utf8"}
    )["data"]
    expected = Account.sign_message(encode_defunct(text="hello trustee"), bytes.fromhex(KEY_HEX))
    assert bytes.fromhex(signed["signature"][2:]) == expected.signature
    assert signed["address"] == ADDRESS
    check = {"data": "hello trustee", "signature": signed["signature"]}
    ok = vault.write_data(f"trustee/addresses/{ADDRESS.lower()}/verify", data=check)["data"]
    assert ok["verified"] is True and ok["recovered"] == ADDRESS
    altered = vault.write_data(
        f"trustee/addresses/{ADDRESS}/verify", data=check | {"data": "hello trustee!"}
    )["data"]
    assert altered["verified"] is False


def test_pyjwt_verifies_with_the_published_jwk(vault: hvac.Client) -> None:
    vault.write_data("trustee/trustees/hvac-jwk", data={})
    claimed = vault.write_data("trustee/trustees/hvac-jwk/claim", data={"ttl": "5m"})["data"]
    address = claimed["claims"]["iss"]
    jwk = vault.read(f"trustee/addresses/{address}")["data"]["jwk"]
    key = pyjwt.PyJWK(jwk).key
    assert pyjwt.decode(claimed["jwt"], key, algorithms=["ES256K"])["iss"] == address


def test_list_verb_and_query_forms(server) -> None:
    headers = {"X-Vault-Token": server.root}
    httpx.post(f"{server.address}/v1/trustee/trustees/hvac-list", headers=headers)
    for method, url in (
        ("LIST", "/v1/trustee/trustees"),
        ("GET", "/v1/trustee/trustees?list=true"),
    ):
        answer = httpx.request(method, server.address + url, headers=headers)
        assert answer.status_code == 200 and "hvac-list" in answer.json()["data"]["keys"]
    bearer = httpx.request(
        "LIST",
        f"{server.address}/v1/trustee/names",
        headers={"Authorization": f"Bearer {server.root}"},
    )
    assert bearer.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", "/v1/trustee/trustees/x", {}, None, 403),
        ("GET", "/v1/trustee/trustees/x", {"X-Vault-Token": "hvs.wrong"}, None, 403),
        ("GET", "/v1/trustee/trustees/nobody-here", "root", None, 404),
        ("POST", "/v1/trustee/trustees/bad name!", "root", None, 400),
        ("POST", "/v1/trustee/trustees/x/claim", "root", b"{not json", 400),
        ("POST", "/v1/trustee/trustees/x/claim", "root", b'{"unknown_field": 1}', 400),
        ("POST", "/v1/trustee/verify", {}, b"x" * (2 * 1024 * 1024), 413),
        ("GET", "/v1/no/such/path", "root", None, 404),
    ],
)
def test_error_statuses(server, method, path, headers, body, status) -> None:
    if headers == "root":
        headers = {"X-Vault-Token": server.root}
    response = httpx.request(
        method,
        server.address + path,
        headers=headers | {"Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["errors"], list)


def test_create_existing_name_is_409(vault: hvac.Client, server) -> None:
    vault.write_data("trustee/trustees/hvac-twice", data={})
    with pytest.raises(hvac.exceptions.VaultError, match="already exists"):
        vault.write_data("trustee/trustees/hvac-twice", data={})
    again = httpx.post(
        f"{server.address}/v1/trustee/trustees/hvac-twice", headers={"X-Vault-Token": server.root}
    )
    assert again.status_code == 409


def test_export_opens_with_eth_account(vault: hvac.Client) -> None:
    vault.write_data("trustee/import/hvac-export", data={"private_key": KEY_HEX})
    keystore = vault.write_data(
        "trustee/trustees/hvac-export/export", data={"passphrase": PASSPHRASE}
    )["data"]["keystore"]
    assert Account.decrypt(keystore, PASSPHRASE).hex().removeprefix("0x") == KEY_HEX


def test_child_token_without_policy_is_denied(vault: hvac.Client, server) -> None:
    child = vault.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    limited = hvac.Client(url=server.address, token=child)
    assert limited.is_authenticated()  # default policy: lookup-self
    with pytest.raises(hvac.exceptions.Forbidden):
        limited.read("trustee/trustees/hvac-imported")
    limited.auth.token.revoke_self()
    assert not limited.is_authenticated()


def test_restart_keeps_trustees_and_sealed_is_503(tmp_path, storage_url) -> None:
    storage = storage_url
    first = LiveServer("--storage", storage, log_path=tmp_path / "first.log")
    try:
        assert httpx.get(f"{first.address}/v1/sys/health").status_code == 501
        init = httpx.post(
            f"{first.address}/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}
        ).json()
        keys, root = init["keys"], init["root_token"]
        assert httpx.get(f"{first.address}/v1/sys/health").status_code == 503
        sealed = httpx.get(
            f"{first.address}/v1/trustee/trustees/a", headers={"X-Vault-Token": root}
        )
        assert sealed.status_code == 503
        for key in keys[:2]:
            status = httpx.post(f"{first.address}/v1/sys/unseal", json={"key": key}).json()
        assert status["sealed"] is False
        client = hvac.Client(url=first.address, token=root)
        address = client.write_data("trustee/trustees/durable", data={})["data"]["address"]
    finally:
        assert first.stop() == 0
    second = LiveServer("--storage", storage, log_path=tmp_path / "second.log")
    try:
        headers = {"X-Vault-Token": root}
        assert (
            httpx.get(f"{second.address}/v1/trustee/trustees/durable", headers=headers).status_code
            == 503
        )
        for key in (keys[2], keys[0]):
            httpx.post(f"{second.address}/v1/sys/unseal", json={"key": key})
        answer = httpx.get(f"{second.address}/v1/trustee/trustees/durable", headers=headers)
        assert answer.json()["data"]["address"] == address
        claimed = httpx.post(
            f"{second.address}/v1/trustee/trustees/durable/claim", headers=headers, json={}
        )
        assert claimed.status_code == 200
        sealing = httpx.post(f"{second.address}/v1/sys/seal", headers=headers)
        assert sealing.status_code == 204
        assert httpx.get(f"{second.address}/v1/sys/seal-status").json()["sealed"] is True
    finally:
        assert second.stop() == 0
    for log in (first.log(), second.log()):
        assert root not in log and not any(key in log for key in keys)
