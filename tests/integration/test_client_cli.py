"""A real ``trustee server --dev`` process on a free loopback port, driven by ``trustee.client``
and by the ``trustee`` command line as subprocesses (issue 3's "done when").

The module's last test stops the server with SIGTERM (graceful: exit status 0) and reads
everything it wrote, looking for the secrets the tests handled.
"""

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt as pyjwt
import orjson
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from live_server import LiveServer, start_ready
from trustee.client import (
    AlreadyExists,
    Client,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Sealed,
)

pytestmark = pytest.mark.integration

# The key of web3.py's documentation examples: public, for tests only.
KNOWN_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KNOWN_ADDRESS = Account.from_key(KNOWN_KEY).address
MESSAGE = "I, trustee, sign this: ünïcode ✓"


@dataclass
class Server:
    live: LiveServer
    secrets: set[str] = field(default_factory=set)

    @property
    def address(self) -> str:
        return self.live.address

    @property
    def root_token(self) -> str:
        return self.live.root

    def client(self, token: str | None = None) -> Client:
        return Client(self.address, self.root_token if token is None else token)

    def stop(self) -> int:
        return self.live.stop()

    def log(self) -> str:
        return self.live.log()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_storage_url: str) -> Iterator[Server]:
    root_token = "root-" + secrets.token_urlsafe(24)
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTEE_", "VAULT_"))}
    # SQLite: dev mode. PostgreSQL: a new database, initialised and unsealed as an operator would.
    live = start_ready(module_storage_url, log_path, root_token=root_token, env=env)
    running = Server(live, {live.root} | ({live.unseal_key} if live.unseal_key else set()))
    try:
        yield running
    finally:
        if live.process.poll() is None:
            try:
                assert running.stop() == 0
            finally:
                if live.process.poll() is None:
                    live.process.kill()


def cli(
    server: Server, *args: str, token: str | None = None, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTEE_", "VAULT_"))}
    environment |= {"TRUSTEE_ADDR": server.address, "NO_COLOR": "1", "COLUMNS": "200"}
    if token != "":
        environment["TRUSTEE_TOKEN"] = server.root_token if token is None else token
    environment |= env
    return subprocess.run(
        [sys.executable, "-m", "trustee", *args],
        capture_output=True,
        text=True,
        input=input,
        env=environment,
        timeout=60,
    )


# -- the client ------------------------------------------------------------------------------


def test_create_read_list_claim_verify(server: Server) -> None:
    with server.client() as client:
        created = client.create_trustee("alice", metadata={"team": "blue"})
        assert created["name"] == "alice"
        assert created["address"].startswith("0x") and len(created["address"]) == 42
        read = client.read_trustee("alice")
        assert read["address"] == created["address"]
        assert read["public_key"] == created["public_key"]
        assert "alice" in client.list_trustees()
        assert client.list("trustee/trustees")["data"]["keys"] == client.list_trustees()

        issued = client.claim(
            "alice", claims={"role": "auditor"}, audience="bob", subject="alice@example"
        )
        assert issued["claims"]["iss"] == created["address"]
        assert issued["claims"]["aud"] == "bob"
        assert issued["claims"]["role"] == "auditor"

    # trustee/verify needs no server token: a client without one gets the verdict.
    with Client(server.address, "") as anonymous:
        assert anonymous.token == ""
        verdict = anonymous.verify_token(issued["jwt"], audience="bob")
        assert verdict["valid"] is True
        assert verdict["address"] == created["address"]
        assert verdict["claims"]["sub"] == "alice@example"
        wrong = anonymous.verify_token(issued["jwt"], audience="carol")
        assert wrong["valid"] is False and wrong["reason"] == "audience_mismatch"
        untrusted = anonymous.verify_token(issued["jwt"], audience="bob", trusted=[KNOWN_ADDRESS])
        assert untrusted["valid"] is False and untrusted["reason"] == "untrusted_issuer"


def test_pyjwt_verifies_with_the_served_jwk(server: Server) -> None:
    with server.client() as client:
        address = client.read_trustee("alice")["address"]
        issued = client.claim("alice", audience="bob")
        jwk = client.read_address(address.lower())["jwk"]
    assert jwk["kid"] == address
    key = pyjwt.PyJWK(jwk, algorithm="ES256K").key
    payload = pyjwt.decode(issued["jwt"], key, algorithms=["ES256K"], audience="bob")
    assert payload["iss"] == address


def test_imported_key_signs_like_eth_account(server: Server) -> None:
    server.secrets.add(KNOWN_KEY.removeprefix("0x"))
    with server.client() as client:
        imported = client.import_private_key("known", KNOWN_KEY)
        assert imported["address"] == KNOWN_ADDRESS
        signed = client.sign("known", MESSAGE)
        expected = Account.sign_message(encode_defunct(text=MESSAGE), KNOWN_KEY).signature
        assert bytes.fromhex(signed["signature"].removeprefix("0x")) == bytes(expected)
        assert signed["address"] == KNOWN_ADDRESS

        good = client.verify_signature(KNOWN_ADDRESS, data=MESSAGE, signature=signed["signature"])
        assert good["verified"] is True
        altered = client.verify_signature(
            KNOWN_ADDRESS, data=MESSAGE + ".", signature=signed["signature"]
        )
        assert altered["verified"] is False
        by_name = client.verify_signature(name="known", data=MESSAGE, signature=signed["signature"])
        assert by_name["verified"] is True


def test_export_opens_with_eth_account(server: Server) -> None:
    passphrase = "pass-" + secrets.token_urlsafe(16)
    server.secrets.add(passphrase)
    with server.client() as client:
        keystore = client.export_keystore("known", passphrase)
    assert keystore["crypto"]["kdf"] == "scrypt"
    private_key = Account.decrypt(keystore, passphrase)
    assert Account.from_key(private_key).address == KNOWN_ADDRESS


def test_typed_errors(server: Server) -> None:
    with Client(server.address, "") as anonymous, pytest.raises(PermissionDenied):
        anonymous.read_trustee("alice")
    bad = "bad-" + secrets.token_urlsafe(16)
    server.secrets.add(bad)
    with Client(server.address, bad) as wrong, pytest.raises(PermissionDenied) as denied:
        wrong.read_trustee("alice")
    assert bad not in str(denied.value) and bad not in repr(wrong)
    with server.client() as client:
        with pytest.raises(NotFound) as missing:
            client.read_trustee("nobody")
        assert "nobody" in missing.value.message
        assert client.read("trustee/trustees/nobody") is None
        client.create_trustee("typed-errors")
        with pytest.raises(AlreadyExists):
            client.create_trustee("typed-errors")
        with pytest.raises(InvalidRequest):
            client.sign("typed-errors", "zz", encoding="hex")
        assert server.root_token not in repr(client)
    with Client("http://127.0.0.1:9", "x", timeout=2) as nowhere, pytest.raises(ConnectionFailed):
        nowhere.read_trustee("alice")


def test_malformed_json_is_400(server: Server) -> None:
    response = httpx.post(
        f"{server.address}/v1/trustee/trustees/alice/claim",
        content=b'{"ttl": "1h",',
        headers={"X-Vault-Token": server.root_token, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"]


def test_child_token_life_cycle(server: Server) -> None:
    with server.client() as client:
        auth = client.create_token(["default"], ttl="1h")
    child = auth["client_token"]
    server.secrets.add(child)
    with server.client(child) as client:
        assert client.lookup_self()["policies"] == ["default"]
        assert client.renew_self()["lease_duration"] > 0
        client.revoke_self()
        with pytest.raises(PermissionDenied):
            client.lookup_self()


# -- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def carol(server: Server) -> str:
    """A trustee the CLI tests below share; its address."""
    created = cli(server, "trustee", "create", "carol", "--json")
    assert created.returncode == 0, created.stderr
    return orjson.loads(created.stdout)["address"]


def test_cli_create_read_list(server: Server) -> None:
    created = cli(server, "trustee", "create", "cora", "--json")
    assert created.returncode == 0, created.stderr
    address = orjson.loads(created.stdout)["address"]
    read = cli(server, "trustee", "read", "cora")
    assert read.returncode == 0 and address in read.stdout
    listed = cli(server, "trustee", "list")
    assert listed.returncode == 0 and "cora" in listed.stdout.split()
    as_json = cli(server, "trustee", "list", "--json")
    assert "cora" in orjson.loads(as_json.stdout)


def test_cli_claim_pipes_into_verify(server: Server, carol: str) -> None:
    env = os.environ | {"TRUSTEE_ADDR": server.address, "TRUSTEE_TOKEN": server.root_token}
    claim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trustee",
            "claim",
            "carol",
            "--claim",
            "role=auditor",
            "--audience",
            "dave",
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    verify = subprocess.run(
        [sys.executable, "-m", "trustee", "verify", "-", "--json", "--audience", "dave"],
        stdin=claim.stdout,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert claim.stdout is not None
    claim.stdout.close()
    assert claim.wait(timeout=60) == 0
    assert verify.returncode == 0, verify.stderr
    data = orjson.loads(verify.stdout)
    assert data["valid"] is True
    assert data["claims"]["role"] == "auditor"
    assert data["address"] == carol


def test_cli_claim_did_issuer_verifies_by_address(server: Server, carol: str) -> None:
    claimed = cli(server, "claim", "carol", "--did", "--audience", "dave", "--json")
    assert claimed.returncode == 0, claimed.stderr
    data = orjson.loads(claimed.stdout)
    assert data["claims"]["iss"] == f"did:ethr:{carol}"
    verified = cli(server, "verify", data["jwt"], "--audience", "dave", "--json")
    assert orjson.loads(verified.stdout)["address"] == carol


def test_cli_claim_json_and_server_verify(server: Server, carol: str, tmp_path: Path) -> None:
    claims_file = tmp_path / "claims.json"
    claims_file.write_bytes(orjson.dumps({"level": 3, "tags": ["a", "b"]}))
    claimed = cli(
        server,
        "claim",
        "carol",
        "--claims-json",
        str(claims_file),
        "--audience",
        "dave",
        "--audience",
        "erin",
        "--ttl",
        "90s",
        "--json",
    )
    assert claimed.returncode == 0, claimed.stderr
    issued = orjson.loads(claimed.stdout)
    assert issued["claims"]["level"] == 3
    assert issued["claims"]["aud"] == ["dave", "erin"]
    assert issued["claims"]["exp"] - issued["claims"]["iat"] == 90

    good = cli(
        server, "verify", issued["jwt"], "--server", "--json", "--audience", "erin",
        "--trust", carol,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert orjson.loads(good.stdout)["trusted"] is True
    bad = cli(server, "verify", issued["jwt"], "--server", "--json", "--audience", "frank")
    assert bad.returncode == 1
    assert orjson.loads(bad.stdout)["reason"] == "audience_mismatch"


def test_cli_import_and_sign(server: Server, tmp_path: Path) -> None:
    imported = cli(
        server,
        "trustee",
        "import",
        "known-cli",
        "--private-key-env",
        "TEST_TRUSTEE_KEY",
        "--json",
        TEST_TRUSTEE_KEY=KNOWN_KEY,
    )
    assert imported.returncode == 0, imported.stderr
    assert orjson.loads(imported.stdout)["address"] == KNOWN_ADDRESS
    assert KNOWN_KEY.removeprefix("0x") not in imported.stdout + imported.stderr

    signed = cli(server, "sign", "known-cli", MESSAGE)
    assert signed.returncode == 0, signed.stderr
    signature = orjson.loads(signed.stdout)["signature"]
    expected = Account.sign_message(encode_defunct(text=MESSAGE), KNOWN_KEY).signature
    assert bytes.fromhex(signature.removeprefix("0x")) == bytes(expected)

    as_hex = cli(server, "sign", "known-cli", MESSAGE.encode().hex(), "--encoding", "hex")
    assert orjson.loads(as_hex.stdout)["signature"] == signature
    data_file = tmp_path / "message.txt"
    data_file.write_bytes(MESSAGE.encode())
    from_file = cli(server, "sign", "known-cli", "--data-file", str(data_file))
    assert orjson.loads(from_file.stdout)["signature"] == signature
    as_b64 = base64.b64encode(MESSAGE.encode()).decode()
    from_b64 = cli(server, "sign", "known-cli", as_b64, "--encoding", "base64")
    assert orjson.loads(from_b64.stdout)["signature"] == signature


def test_cli_errors_are_one_line(server: Server, carol: str) -> None:
    missing = cli(server, "trustee", "read", "nobody")
    assert missing.returncode == 1
    assert "nobody" in missing.stderr and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    exists = cli(server, "trustee", "create", "carol")
    assert exists.returncode == 1 and "already exists" in exists.stderr

    anonymous = cli(server, "trustee", "list", token="")
    assert anonymous.returncode == 1 and "TRUSTEE_TOKEN" in anonymous.stderr

    bad = "bad-" + secrets.token_urlsafe(16)
    server.secrets.add(bad)
    wrong = cli(server, "trustee", "list", token=bad)
    assert wrong.returncode == 1 and bad not in wrong.stderr + wrong.stdout

    secret_argument = cli(server, "trustee", "import", "x", "--private-key", KNOWN_KEY)
    assert secret_argument.returncode == 2  # no such option: keys are never arguments

    unset = cli(server, "trustee", "import", "x", "--private-key-env", "NOT_SET_ANYWHERE")
    assert unset.returncode == 2 and "NOT_SET_ANYWHERE" in unset.stderr

    again = cli(server, "operator", "init", "--key-shares", "3", "--key-threshold", "2")
    assert again.returncode == 1 and "Traceback" not in again.stderr

    unreachable = cli(server, "trustee", "list", TRUSTEE_ADDR="http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def test_cli_export_writes_stdout_unless_out(server: Server, carol: str, tmp_path: Path) -> None:
    passphrase = "pass-" + secrets.token_urlsafe(16)
    server.secrets.add(passphrase)
    export = ("trustee", "export", "carol", "--passphrase-env", "PASS")
    to_stdout = cli(server, *export, PASS=passphrase)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert Account.from_key(Account.decrypt(to_stdout.stdout, passphrase)).address == carol
    assert not Path("-").exists()

    target = tmp_path / "carol.json"
    written = cli(server, *export, "-o", str(target), PASS=passphrase)
    assert written.returncode == 0 and to_stdout.stdout != "" and written.stdout == ""
    assert target.stat().st_mode & 0o777 == 0o600
    again = cli(server, *export, "--out", str(target), PASS=passphrase)
    assert again.returncode == 1 and "use --force" in again.stderr
    forced = cli(server, *export, "--out", str(target), "--force", PASS=passphrase)
    assert forced.returncode == 0, forced.stderr


def test_cli_a_404_is_an_error_not_an_empty_list(server: Server, carol: str) -> None:
    listed = cli(server, "trustee", "list")
    assert listed.returncode == 0 and "carol" in listed.stdout.split()
    elsewhere = cli(server, "trustee", "list", TRUSTEE_ADDR=server.address + "/other")
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.strip() == "error: unsupported path" and elsewhere.stdout == ""


def test_cli_bad_typed_data_says_what_is_missing(server: Server, carol: str) -> None:
    signed = cli(server, "sign", "carol", "--scheme", "eip712", "--data-file", "-", input="{}")
    assert signed.returncode == 1
    assert "has no types, primaryType, domain, message" in signed.stderr
    assert "KeyError" not in signed.stderr and len(signed.stderr.strip().splitlines()) == 1


def test_cli_login_siwe_with_a_key_and_with_a_wallet_signature(
    server: Server, tmp_path: Path
) -> None:
    with server.client() as client:
        client.write_role(
            "wallets",
            bound_issuers=[KNOWN_ADDRESS],
            bound_domains=["agency.example"],
            bound_chain_ids=[1],
            token_policies=["default"],
            token_ttl="5m",
        )
    logged = cli(
        server, "login", "siwe", "--role", "wallets", "--key-env", "K", "--domain",
        "agency.example", token="", K=KNOWN_KEY,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr
    token = logged.stdout.strip()
    server.secrets.add(token)
    with server.client(token) as client:
        assert client.lookup_self()["meta"]["address"] == KNOWN_ADDRESS
    other_chain = cli(
        server, "login", "siwe", "--role", "wallets", "--key-env", "K", "--domain",
        "agency.example", "--chain-id", "5", token="", K=KNOWN_KEY,
    )  # fmt: skip
    assert other_chain.returncode == 1
    assert "login refused: chain_mismatch" in other_chain.stderr

    # A wallet: the message printed, signed elsewhere, and the signature pasted.
    message = cli(
        server, "siwe", "message", "--role", "wallets", "--address", KNOWN_ADDRESS.lower(),
        "--domain", "agency.example", "--statement", "Sign in to the agency.", token="",
    )  # fmt: skip
    assert message.returncode == 0, message.stderr
    text = message.stdout.removesuffix("\n")
    assert text.startswith("agency.example wants you to sign in with your Ethereum account:\n")
    assert KNOWN_ADDRESS in text.splitlines()
    (tmp_path / "message.txt").write_text(message.stdout)
    signature = Account.sign_message(encode_defunct(text=text), KNOWN_KEY).signature.hex()
    completing = ["login", "siwe", "--role", "wallets", "--message", str(tmp_path / "message.txt")]
    done = cli(server, *completing, "--signature", signature, "--json", token="")
    assert done.returncode == 0, done.stderr
    auth = orjson.loads(done.stdout)
    server.secrets.add(auth["client_token"])
    assert auth["metadata"]["domain"] == "agency.example"
    again = cli(server, *completing, "--signature", signature, token="")
    assert again.returncode == 1 and "login refused: replayed" in again.stderr
    assert again.stdout == ""


def test_cli_operator_wait(server: Server) -> None:
    waited = cli(server, "operator", "wait", "--unsealed", "--timeout", "5")
    assert waited.returncode == 0 and waited.stdout == waited.stderr == ""


def test_cli_status_then_seal(server: Server) -> None:
    status = cli(server, "operator", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert orjson.loads(status.stdout)["sealed"] is False

    sealed = cli(server, "operator", "seal")
    assert sealed.returncode == 0, sealed.stderr
    with server.client() as client:
        with pytest.raises(Sealed):
            client.read_trustee("alice")
        assert client.health()["sealed"] is True
    after = cli(server, "operator", "status")
    assert after.returncode == 2
    assert "Sealed" in after.stdout


def test_zz_graceful_shutdown_and_no_secrets_in_output(server: Server) -> None:
    """Runs last: SIGTERM ends the server with status 0; its output holds none of our secrets.

    ``--dev`` announces the root token in its start-up banner (as ``vault server -dev`` does),
    so that one line is the only place the root token may appear.
    """
    assert server.stop() == 0
    lines = server.log().splitlines()
    banner = [line for line in lines if line.strip() == f"Root Token: {server.root_token}"]
    assert len(banner) <= 1
    rest = "\n".join(line for line in lines if line not in banner)
    assert len(server.secrets) >= 5
    for secret in server.secrets:
        assert secret not in rest, "a secret appeared in the server's output"
        assert secret.lower() not in rest.lower()
