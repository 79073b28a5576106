"""``trustee scitt`` against a live server: sign (a trustee, or a key file of each kind),
register, save the key set, verify offline; and the exit statuses: 0 valid, 1 not valid with
the reason on one line, 2 when nothing could be checked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cbor2
import httpx
import pytest
import scitt_cose
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from typer.testing import CliRunner

from live_server import LiveServer
from trustee.cli.main import app
from trustee.client import Client
from trustee.scitt import decode_sign1, entry_of, parse_key_set, verify_statement

pytestmark = pytest.mark.integration

ROOT = "scitt-cli-root"
UNREACHABLE = "http://127.0.0.1:9"
runner = CliRunner()

KEY_KINDS = {
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ES256K": lambda: ec.generate_private_key(ec.SECP256K1()),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("scitt-cli") / "server.log"
    live = LiveServer("--dev", "--dev-root-token", ROOT, log_path=log)
    with Client(live.address, ROOT) as client:
        client.create_trustee("issuer")
        client.write_policy("read-only", {"path": {"trustee/*": {"capabilities": ["read"]}}})
        live.read_only = client.create_token(policies=["read-only"])["client_token"]
    yield live
    assert live.stop() == 0


def invoke(server: LiveServer | None, *args: str, token: str = ROOT):
    clean = {key: None for key in os.environ if key.startswith(("TRUSTEE_", "VAULT_"))}
    env = clean | ({"TRUSTEE_ADDR": server.address, "TRUSTEE_TOKEN": token} if server else {})
    return runner.invoke(app, ["scitt", *args], env=env)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def pem_file(path: Path, key, password: bytes | None = None) -> Path:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def public_pem(path: Path, key) -> Path:
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def verdict(server: LiveServer | None, *args: str) -> tuple[int, dict]:
    result = invoke(server, "verify", *args, "--json")
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


@pytest.fixture(scope="module")
def registered(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trustee's statement, registered: the files the commands write, and the key set."""
    folder = tmp_path_factory.mktemp("registered")
    payload = folder / "reading.json"
    payload.write_text('{"temp_c": 71.5}')
    files = {name: folder / name for name in ("st.cose", "receipt.cose", "ts.cose", "keys.cbor")}
    signed = invoke(
        server,
        "sign",
        str(payload),
        "--trustee",
        "issuer",
        "--content-type",
        "application/json",
        "--subject",
        "urn:example:boiler-7",
        "-o",
        str(files["st.cose"]),
    )
    assert signed.exit_code == 0, signed.output
    done = invoke(
        server,
        "register",
        str(files["st.cose"]),
        "-o",
        str(files["receipt.cose"]),
        "--transparent-statement",
        str(files["ts.cose"]),
    )
    assert done.exit_code == 0, done.output
    files["entry_id"] = Path(done.stdout.strip())
    assert invoke(server, "keys", "-o", str(files["keys.cbor"])).exit_code == 0
    return files


def test_a_trustee_signs_registers_and_the_receipt_verifies(
    server: LiveServer, registered: dict[str, Path]
) -> None:
    statement = verify_statement(registered["st.cose"].read_bytes())
    with Client(server.address, ROOT) as client:
        address = client.read_trustee("issuer")["address"]
    assert (statement.address, statement.issuer, statement.key_source) == (address, address, "kid")
    assert (statement.subject, statement.content_type) == (
        "urn:example:boiler-7",
        "application/json",
    )
    assert statement.message.payload == b'{"temp_c": 71.5}'
    tree_size, index = str(registered["entry_id"]).split(".")
    # Offline, with the saved key set: the transparent statement, and statement + receipt.
    for args in (
        [str(registered["ts.cose"])],
        [str(registered["st.cose"]), "--receipt", str(registered["receipt.cose"])],
    ):
        code, answer = verdict(None, *args, "--keys", str(registered["keys.cbor"]))
        assert code == 0, answer
        assert answer["valid"] and answer["address"] == address
        assert answer["subject"] == "urn:example:boiler-7"
        ((receipt,),) = [answer["receipts"]]
        assert (receipt["tree_size"], receipt["leaf_index"]) == (int(tree_size), int(index))
    # scitt-cose, a tool we did not write, accepts the receipt under the published key.
    keys = parse_key_set(registered["keys.cbor"].read_bytes())
    ((key),) = keys.values()
    pem = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b"\x04" + key.x + key.y
    ).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    entry = entry_of(decode_sign1(registered["st.cose"].read_bytes()))
    result = scitt_cose.verify_receipt(
        registered["receipt.cose"].read_bytes(), leaf_entry_hex=entry.hex(), log_public_key_pem=pem
    )
    assert result.ok, result.errors
    # The same receipt key as a PEM file, and the key set fetched from the server.
    pem_path = registered["keys.cbor"].with_name("receipt-key.pem")
    pem_path.write_bytes(pem)
    assert verdict(None, str(registered["ts.cose"]), "--key", str(pem_path))[0] == 0
    assert verdict(server, str(registered["ts.cose"]))[0] == 0
    plain = invoke(
        None, "verify", str(registered["ts.cose"]), "--keys", str(registered["keys.cbor"])
    )
    assert plain.exit_code == 0 and "VALID" in plain.stdout and address in plain.stdout


@pytest.mark.parametrize("kind", sorted(KEY_KINDS))
def test_a_key_file_signs_offline_and_registers(
    server: LiveServer, registered: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    private = KEY_KINDS[kind]()
    key = pem_file(tmp_path / "device.pem", private)
    payload = tmp_path / "evidence.txt"
    payload.write_bytes(b"boiler-7 71.5C")
    out = tmp_path / "evidence.cose"
    signed = invoke(
        None, "sign", str(payload), "--key", str(key), "--issuer", "urn:dev", "-o", str(out)
    )
    assert signed.exit_code == 0, signed.output
    statement = verify_statement(out.read_bytes())
    assert statement.algorithm == kind and statement.issuer == "urn:dev"
    if kind == "ES256K":  # named by address in kid, recovered, as a trustee's statements are
        assert statement.key_source == "kid" and statement.kid == statement.address.encode()
    else:  # the public key in the CWT cnf claim
        assert statement.key_source == "cnf"
    transparent = tmp_path / "evidence.ts.cose"
    done = invoke(server, "register", str(out), "--transparent-statement", str(transparent))
    assert done.exit_code == 0, done.output
    code, answer = verdict(None, str(transparent), "--keys", str(registered["keys.cbor"]))
    assert code == 0 and answer["algorithm"] == kind


def test_an_encrypted_key_file_needs_its_passphrase(tmp_path: Path) -> None:
    key = pem_file(tmp_path / "locked.pem", ed25519.Ed25519PrivateKey.generate(), b"s3cret")
    payload = tmp_path / "p.txt"
    payload.write_text("x")
    args = ["sign", str(payload), "--key", str(key), "-o", str(tmp_path / "p.cose")]
    refused = invoke(None, *args)
    assert refused.exit_code == 1 and "encrypted" in one_error_line(refused)
    env = {"KEY_PASS": "s3cret"}
    result = runner.invoke(app, ["scitt", *args, "--passphrase-env", "KEY_PASS"], env=env)
    assert result.exit_code == 0, result.output
    assert verify_statement((tmp_path / "p.cose").read_bytes()).algorithm == "EdDSA"
    assert "s3cret" not in result.output


def _tampered_payload(data: bytes) -> bytes:
    value = cbor2.loads(data)
    body = list(value.value)
    body[2] = body[2] + b" "
    return cbor2.dumps(cbor2.CBORTag(18, body))


def test_verdicts_that_are_not_valid_exit_1_with_their_reason(
    registered: dict[str, Path], tmp_path: Path
) -> None:
    keys = str(registered["keys.cbor"])
    other_key = public_pem(
        tmp_path / "other.pem", ec.generate_private_key(ec.SECP256R1()).public_key()
    )
    tampered = tmp_path / "tampered.cose"
    tampered.write_bytes(_tampered_payload(registered["ts.cose"].read_bytes()))
    garbage = tmp_path / "garbage.cose"
    garbage.write_bytes(b"\x00\x01 not cbor at all")
    truncated = tmp_path / "truncated.cose"
    truncated.write_bytes(registered["ts.cose"].read_bytes()[:-9])
    cases = {
        "tampered statement": ([str(tampered), "--keys", keys], "bad_signature"),
        "wrong key": ([str(registered["ts.cose"]), "--key", str(other_key)], "bad_receipt"),
        "garbage": ([str(garbage), "--keys", keys], "malformed"),
        "truncated": ([str(truncated), "--keys", keys], "malformed"),
        "no receipt": ([str(registered["st.cose"]), "--keys", keys], "no_receipt"),
        "receipt of another statement": (
            [str(registered["st.cose"]), "--receipt", str(registered["st.cose"]), "--keys", keys],
            "bad_receipt",
        ),
    }
    for name, (args, reason) in cases.items():
        code, answer = verdict(None, *args)
        assert (code, answer["valid"], answer["reason"]) == (1, False, reason), name
        plain = invoke(None, "verify", *args)
        assert plain.exit_code == 1, name
        lines = plain.stdout.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"INVALID {reason}: "), (name, lines)


def test_verify_exits_2_when_nothing_could_be_checked(
    registered: dict[str, Path], tmp_path: Path
) -> None:
    ts, keys = str(registered["ts.cose"]), str(registered["keys.cbor"])
    not_keys = tmp_path / "not-keys.cbor"
    not_keys.write_bytes(b"\xff\xff")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    cases = {
        "missing statement": [str(tmp_path / "missing.cose"), "--keys", keys],
        "missing receipt": [ts, "--receipt", str(tmp_path / "missing"), "--keys", keys],
        "missing key set": [ts, "--keys", str(tmp_path / "missing.cbor")],
        "bad key set": [ts, "--keys", str(not_keys)],
        "bad PEM": [ts, "--key", str(not_pem)],
        "keys and key": [ts, "--keys", keys, "--key", str(not_pem)],
        "unreachable server": [ts, "--addr", UNREACHABLE],
        "addr beside a key file": [ts, "--keys", keys, "--addr", UNREACHABLE],
    }
    for name, args in cases.items():
        result = invoke(None, "verify", *args)
        assert result.exit_code == 2, (name, result.output)
        one_error_line(result)


def test_sign_usage_and_refusals(server: LiveServer, tmp_path: Path) -> None:
    payload = tmp_path / "p.txt"
    payload.write_text("x")
    out = tmp_path / "out.cose"
    key = pem_file(tmp_path / "k.pem", ed25519.Ed25519PrivateKey.generate())
    for args in (
        [str(payload), "-o", str(out)],  # neither --trustee nor --key
        [str(payload), "--trustee", "issuer", "--key", str(key), "-o", str(out)],
        [str(payload), "--trustee", "issuer", "--passphrase-env", "P", "-o", str(out)],
        [str(payload), "--trustee", "issuer", "--subject", "", "-o", str(out)],
    ):
        result = invoke(server, "sign", *args)
        assert result.exit_code == 2, (args, result.output)
        one_error_line(result)
    assert not out.exists()
    # The server refuses: a token without update on the trustee, a trustee that does not exist.
    denied = invoke(
        server, "sign", str(payload), "--trustee", "issuer", "-o", str(out), token=server.read_only
    )
    assert denied.exit_code == 1 and "permission denied" in one_error_line(denied).lower()
    missing = invoke(server, "sign", str(payload), "--trustee", "nobody", "-o", str(out))
    assert missing.exit_code == 1 and "no trustee named 'nobody'" in one_error_line(missing)
    assert not out.exists()
    # Not a key file; a key of a type no statement uses; an existing output stays.
    rsa_like = tmp_path / "not-a-key.pem"
    rsa_like.write_text("hello")
    bad = invoke(None, "sign", str(payload), "--key", str(rsa_like), "-o", str(out))
    assert bad.exit_code == 1 and "not a PEM private key" in one_error_line(bad)
    out.write_bytes(b"precious")
    kept = invoke(None, "sign", str(payload), "--key", str(key), "-o", str(out))
    assert kept.exit_code == 1 and "exists; use --force" in one_error_line(kept)
    assert out.read_bytes() == b"precious"
    forced = invoke(None, "sign", str(payload), "--key", str(key), "-o", str(out), "--force")
    assert forced.exit_code == 0 and verify_statement(out.read_bytes()).algorithm == "EdDSA"


def test_register_refusals_write_nothing(
    server: LiveServer, registered: dict[str, Path], tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.cose"
    tampered.write_bytes(_tampered_payload(registered["st.cose"].read_bytes()))
    receipt = tmp_path / "receipt.cose"
    size = httpx.get(f"{server.address}/v1/ledger/log/checkpoint", headers={"X-Vault-Token": ROOT})
    before = size.json()["data"]["size"]
    result = invoke(server, "register", str(tampered), "-o", str(receipt))
    assert result.exit_code == 1
    assert "bad_signature" in one_error_line(result)
    assert not receipt.exists()
    after = httpx.get(f"{server.address}/v1/ledger/log/checkpoint", headers={"X-Vault-Token": ROOT})
    assert after.json()["data"]["size"] == before
    # An existing output is refused before anything is registered.
    receipt.write_bytes(b"precious")
    kept = invoke(server, "register", str(registered["st.cose"]), "-o", str(receipt))
    assert kept.exit_code == 1 and "exists; use --force" in one_error_line(kept)
    assert receipt.read_bytes() == b"precious"
    unreachable = invoke(None, "register", str(registered["st.cose"]), "--addr", UNREACHABLE)
    assert unreachable.exit_code == 1 and "cannot reach" in one_error_line(unreachable)
