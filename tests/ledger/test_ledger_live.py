"""Signed records against real ``trustee server`` processes: the ``trustee ledger`` command line,
the device example, ``trustee demo``, and a restart that keeps the log.

Checks on what the server answers use code of the tests' own: the RFC 9162 reference in
``rfc9162.py`` and plain ``cryptography`` for checkpoint signatures and device keys.
"""

import base64
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from typer.testing import CliRunner

import rfc9162
from live_server import LiveServer
from trustee.cli.main import app as cli
from trustee.crypto.device import parse_device_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEVICE_SCRIPT = ROOT / "examples" / "device" / "device.py"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTEE_", "VAULT_"))}
    return env | {"NO_COLOR": "1", "COLUMNS": "200", **extra}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    token = "root-" + secrets.token_urlsafe(16)
    log = tmp_path_factory.mktemp("ledger-live") / "server.log"
    live = LiveServer("--dev", "--dev-root-token", token, log_path=log, env=clean_env())
    live.root = token
    yield live
    assert live.stop() == 0


def run(server: LiveServer, *args: str, token: str | None = None) -> Result:
    """``trustee`` in this process (importing it per call would dominate the test's time),
    talking over HTTP to the real server process, with the environment a user would set."""
    env = {"TRUSTEE_ADDR": server.address, "TRUSTEE_TOKEN": server.root if token is None else token}
    env |= {name: None for name in os.environ if name.startswith("VAULT_")}
    env |= {"NO_COLOR": "1", "COLUMNS": "200"}
    if token == "":
        env["TRUSTEE_TOKEN"] = None
    return CliRunner().invoke(cli, list(args), env=env)


def subprocess_trustee(
    server: LiveServer, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    """``python -m trustee``, a real process: the installed entry point, for a few checks."""
    env = clean_env(TRUSTEE_ADDR=server.address, TRUSTEE_TOKEN=server.root)
    completed = subprocess.run(
        [sys.executable, "-m", "trustee", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if check:
        assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def ok_json(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def api(server: LiveServer, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"X-Vault-Token": server.root}
    return httpx.request(
        method, f"{server.address}/v1/{path}", headers=headers, timeout=30, **kwargs
    )


class P256Device:
    """An ES256 device made with plain ``cryptography``: signs r‖s over SHA-256, base64url."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, text: str) -> str:
        r, s = decode_dss_signature(self._key.sign(text.encode(), ec.ECDSA(hashes.SHA256())))
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def open_note(note: str, verifier_key: str) -> tuple[int, bytes]:
    """(size, root) of a C2SP checkpoint, its Ed25519 signature checked with cryptography."""
    text, _, signatures = note.rpartition("\n\n")
    name, _, blob = signatures.removeprefix("\u2014 ").strip().partition(" ")
    key_name, key_id, key_b64 = verifier_key.strip().split("+", 2)
    raw_key, signature = base64.b64decode(key_b64), base64.b64decode(blob)
    assert name == key_name and raw_key[0] == 1 and signature[:4].hex() == key_id
    Ed25519PublicKey.from_public_bytes(raw_key[1:]).verify(signature[4:], (text + "\n").encode())
    _origin, size, root = text.split("\n")
    return int(size), base64.b64decode(root)


# --- the command line ---------------------------------------------------------------------------


def test_ledger_commands_end_to_end(server: LiveServer, tmp_path: Path) -> None:
    device = P256Device()
    key_file = tmp_path / "device.pem"
    key_file.write_text(device.public_pem())
    asset = ok_json(
        run(
            server,
            "ledger",
            "asset",
            "create",
            "--attributes",
            '{"arc_display_name": "boiler"}',
            "--alg",
            "ES256",
            "--public-key-file",
            str(key_file),
        )
    )
    uuid = asset["uuid"]
    assert asset["device_key"]["alg"] == "ES256"
    assert uuid in ok_json(run(server, "ledger", "asset", "list"))["keys"]
    assert ok_json(run(server, "ledger", "asset", "read", uuid))["attributes"] == {
        "arc_display_name": "boiler"
    }

    text = '{"temp_c": 71.5}'
    good = ok_json(
        run(
            server,
            "ledger",
            "event",
            "post",
            uuid,
            "--evidence",
            text,
            "--signature",
            device.sign(text),
        )
    )
    forged = ok_json(
        run(
            server,
            "ledger",
            "event",
            "post",
            uuid,
            "--evidence",
            '{"temp_c": 20.0}',
            "--signature",
            device.sign(text),
        )
    )
    assert forged["log_index"] == good["log_index"] + 1  # the forged event is kept
    listed = ok_json(run(server, "ledger", "event", "list", uuid, "--attr", f"arc_evidence={text}"))
    assert [e["identity"] for e in listed["events"]] == [good["identity"]]

    verdict = run(server, "ledger", "event", "verify", good["identity"])
    assert verdict.exit_code == 0 and json.loads(verdict.stdout)["status"] == "GOOD"
    verdict = run(server, "ledger", "event", "verify", forged["identity"].rsplit("/", 1)[-1])
    assert verdict.exit_code == 1 and json.loads(verdict.stdout)["status"] == "BAD"
    assert run(server, "ledger", "asset", "verify", uuid).exit_code == 1

    # The checkpoint verifies with plain cryptography; a proof from the CLI with the reference.
    log_key = run(server, "ledger", "public-key").stdout.strip()
    checkpoint = run(server, "ledger", "checkpoint")
    assert checkpoint.exit_code == 0
    size, root = open_note(checkpoint.stdout, log_key)
    assert size >= 2
    proof = ok_json(
        run(server, "ledger", "proof", "--index", str(good["log_index"]), "--size", str(size))
    )
    entry = base64.b64decode(
        api(
            server,
            "GET",
            "ledger/log/entries",
            params={"start": good["log_index"], "end": good["log_index"] + 1},
        ).json()["data"]["entries"][0]
    )
    assert json.loads(entry) == good
    assert rfc9162.verify_inclusion(
        good["log_index"],
        size,
        rfc9162.leaf(entry),
        [bytes.fromhex(h) for h in proof["hashes"]],
        root,
    )
    older = tmp_path / "older.checkpoint"
    older.write_text(checkpoint.stdout)

    # Audit: BAD events fail the audit (exit 1), the table says which.
    bundle_path = tmp_path / "bundle.json"
    assert run(server, "ledger", "bundle", uuid, "-o", str(bundle_path)).exit_code == 0
    audit = run(server, "ledger", "audit", str(bundle_path), "--log-key", log_key)
    assert audit.exit_code == 1, audit.stdout + audit.stderr
    assert "GOOD" in audit.stdout and "BAD" in audit.stdout and "AUDIT FAILED" in audit.stdout

    # An asset whose events are all good audits clean, also against an older checkpoint.
    clean = ok_json(
        run(
            server,
            "ledger",
            "asset",
            "create",
            "--alg",
            "ES256",
            "--public-key",
            device.public_pem(),
        )
    )["uuid"]
    for i in range(3):
        reading = f'{{"i": {i}}}'
        ok_json(
            run(
                server,
                "ledger",
                "event",
                "post",
                clean,
                "--evidence",
                reading,
                "--signature",
                device.sign(reading),
            )
        )
    first_size = size
    assert (
        run(
            server,
            "ledger",
            "bundle",
            clean,
            "-o",
            str(bundle_path),
            "--force",
            "--older-size",
            str(first_size),
        ).exit_code
        == 0
    )
    audit = run(
        server, "ledger", "audit", str(bundle_path), "--log-key", log_key, "--older", str(older)
    )
    assert audit.exit_code == 0, audit.stdout + audit.stderr
    assert "ALL GOOD" in audit.stdout and "consistent" in audit.stdout
    as_json = run(server, "ledger", "audit", str(bundle_path), "--log-key", log_key, "--json")
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 0 and report["all_ok"] and len(report["events"]) == 3
    consistency = ok_json(run(server, "ledger", "proof", "--first", str(first_size)))
    assert rfc9162.verify_consistency(
        first_size,
        consistency["second"],
        root,
        bytes.fromhex(consistency["second_root_hash"]),
        [bytes.fromhex(h) for h in consistency["hashes"]],
    )

    # Tampering with one byte of one entry fails the audit.
    bundle = json.loads(bundle_path.read_text())
    raw = base64.b64decode(bundle["events"][1]["entry"])
    assert b'{\\"i\\": 1}' in raw  # the evidence text, as a JSON string inside the entry
    raw = raw.replace(b'{\\"i\\": 1}', b'{\\"i\\": 7}')
    bundle["events"][1]["entry"] = base64.b64encode(raw).decode()
    bundle_path.write_text(json.dumps(bundle))
    assert run(server, "ledger", "audit", str(bundle_path), "--log-key", log_key).exit_code == 1


def test_key_rotation_from_the_cli(server: LiveServer) -> None:
    old, new = P256Device(), P256Device()
    uuid = ok_json(
        run(server, "ledger", "asset", "create", "--alg", "ES256", "--public-key", old.public_pem())
    )["uuid"]
    before = ok_json(
        run(
            server, "ledger", "event", "post", uuid, "--evidence", "a", "--signature", old.sign("a")
        )
    )
    rotated = ok_json(
        run(
            server,
            "ledger",
            "asset",
            "rotate",
            uuid,
            "--alg",
            "ES256",
            "--public-key",
            new.public_pem(),
        )
    )
    assert [k["seq"] for k in rotated["key_history"]] == [1, 2]
    after = ok_json(
        run(
            server, "ledger", "event", "post", uuid, "--evidence", "b", "--signature", new.sign("b")
        )
    )
    stale = ok_json(
        run(
            server, "ledger", "event", "post", uuid, "--evidence", "c", "--signature", old.sign("c")
        )
    )
    statuses = [
        json.loads(run(server, "ledger", "event", "verify", e["identity"]).stdout)["status"]
        for e in (before, after, stale)
    ]
    assert statuses == ["GOOD", "GOOD", "BAD"]


def test_cli_errors_are_clear(server: LiveServer, tmp_path: Path) -> None:
    missing = run(server, "ledger", "asset", "read", "no-such-asset")
    assert missing.exit_code == 1 and "404" in missing.stderr
    no_token = run(server, "ledger", "checkpoint", token="")
    assert no_token.exit_code == 2 and "TRUSTEE_TOKEN" in no_token.stderr
    denied = run(server, "ledger", "checkpoint", token="wrong")
    assert denied.exit_code == 1 and "403" in denied.stderr
    bad_json = run(server, "ledger", "asset", "create", "--attributes", "[1")
    assert bad_json.exit_code == 2 and "JSON object" in bad_json.stderr
    bad_key = run(server, "ledger", "asset", "create", "--alg", "EdDSA", "--public-key", "00")
    assert bad_key.exit_code == 1 and "400" in bad_key.stderr and "EdDSA" in bad_key.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    log_key = run(server, "ledger", "public-key").stdout.strip()
    audit = run(server, "ledger", "audit", str(garbage), "--log-key", log_key)
    assert audit.exit_code == 1 and "not JSON" in audit.stderr
    wrong_key = run(server, "ledger", "audit", str(garbage), "--log-key", "x+00000000+AA==")
    assert wrong_key.exit_code == 2 and "--log-key" in wrong_key.stderr
    for result in (missing, no_token, denied, bad_json, bad_key, audit, wrong_key):
        assert isinstance(result.exception, SystemExit)  # a clean exit, never a traceback


def test_the_installed_command(server: LiveServer, tmp_path: Path) -> None:
    """``python -m trustee ledger audit``: the command is wired into the real entry point."""
    key = run(server, "ledger", "public-key").stdout.strip()
    asset = ok_json(run(server, "ledger", "asset", "create"))["uuid"]
    ok_json(run(server, "ledger", "event", "post", asset, "--attributes", '{"note": "x"}'))
    bundle = tmp_path / "bundle.json"
    assert run(server, "ledger", "bundle", asset, "-o", str(bundle)).exit_code == 0
    audit = subprocess_trustee(
        server, "ledger", "audit", str(bundle), "--log-key", key, check=False
    )
    # An unsigned event is in the log but not GOOD: the audit says so and exits 1.
    assert audit.returncode == 1 and "UNSIGNED" in audit.stdout and "yes" in audit.stdout


# --- the device example ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES256K", "EdDSA"])
def test_device_example_signs_and_posts(server: LiveServer, tmp_path: Path, alg: str) -> None:
    key_file = tmp_path / "device.pem"
    env = clean_env(TRUSTEE_ADDR=server.address, TRUSTEE_TOKEN=server.root)

    def device(*args: str) -> list[dict]:
        completed = subprocess.run(
            [sys.executable, str(DEVICE_SCRIPT), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return [json.loads(line) for line in completed.stdout.splitlines()]

    [registered] = device(
        "register",
        "--key-file",
        str(key_file),
        "--alg",
        alg,
        "--name",
        "boiler",
        "--require-signature",
    )
    assert registered["alg"] == alg
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # the key stays the device's own
    asset = registered["asset"]
    posted = device(
        "record",
        "--key-file",
        str(key_file),
        "--asset",
        asset,
        "--evidence",
        '{"t": 1}',
        "--evidence",
        '{"t": 2}',
    )
    assert len(posted) == 2 and posted[1]["log_index"] == posted[0]["log_index"] + 1
    verified = api(server, "GET", f"ledger/assets/{asset}/verify").json()["data"]
    assert verified["counts"]["GOOD"] == 2 and verified["counts"]["BAD"] == 0

    # The server knows only the public key, which matches the device's private key.
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    described = api(server, "GET", f"ledger/assets/{asset}").json()["data"]
    assert described["device_key"] == parse_device_key(alg, public_pem.decode()).to_dict()
    secret_body = b"".join(key_file.read_bytes().splitlines()[1:-1]).decode()
    assert secret_body not in server.log()

    # require_signature: a tampered event is refused with 400 and nothing is written.
    size = api(server, "GET", "ledger/log/checkpoint").json()["data"]["size"]
    event = api(server, "GET", f"ledger/events/{posted[0]['event'].rsplit('/', 1)[-1]}").json()[
        "data"
    ]
    tampered = dict(event["event_attributes"], arc_evidence='{"t": 99}')
    refused = api(
        server, "POST", f"ledger/assets/{asset}/events", json={"event_attributes": tampered}
    )
    assert refused.status_code == 400 and "requires a good device signature" in refused.text
    assert api(server, "GET", "ledger/log/checkpoint").json()["data"]["size"] == size
    assert len(api(server, "GET", f"ledger/assets/{asset}/events").json()["data"]["events"]) == 2


def test_demo_prints_the_verdicts_and_exits_zero() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "trustee", "demo"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    cells = [line.split("│") for line in completed.stdout.splitlines() if line.startswith("│")]
    verdicts = {row[1].strip(): row[3].strip() for row in cells if len(row) > 4}
    assert verdicts == {
        "good": "GOOD",
        "hacked (truncated signature)": "BAD",
        "forged (altered evidence)": "BAD",
    }
    assert (
        "verified locally" in completed.stdout and "every verdict as expected" in completed.stdout
    )


# --- a restart keeps the log ------------------------------------------------------------------


def test_restart_keeps_the_log(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'trustee.db'}"
    key_file = tmp_path / "unseal.key"
    key_file.write_text("")
    args = ("--storage", storage, "--unseal-key-file", str(key_file))
    first = LiveServer(*args, log_path=tmp_path / "first.log", env=clean_env())
    try:
        first.initialise_and_unseal()
        key_file.write_text(first.unseal_key or "")
        device = P256Device()
        asset = api(
            first,
            "POST",
            "ledger/assets",
            json={"device_key": {"alg": "ES256", "public_key": device.public_pem()}},
        ).json()["data"]["uuid"]
        for i in range(5):
            text = f"reading {i}"
            body = {
                "event_attributes": {
                    "arc_evidence": text,
                    "arc_evidence_signature": device.sign(text),
                }
            }
            assert api(first, "POST", f"ledger/assets/{asset}/events", json=body).status_code == 200
        checkpoint = api(first, "GET", "ledger/log/checkpoint").json()["data"]["checkpoint"]
        log_key = api(first, "GET", "ledger/log/public-key").json()["data"]["key"]
        entries = [
            base64.b64decode(e)
            for e in api(first, "GET", "ledger/log/entries", params={"start": 0, "end": 5}).json()[
                "data"
            ]["entries"]
        ]
    finally:
        assert first.stop() == 0
    size, root = open_note(checkpoint, log_key)
    assert (size, root) == (5, rfc9162.Tree(entries).root(5))

    second = LiveServer(*args, log_path=tmp_path / "second.log", env=clean_env())
    second.root = first.root
    try:
        assert api(second, "GET", "ledger/log/public-key").json()["data"]["key"] == log_key
        again = api(second, "GET", "ledger/log/checkpoint").json()["data"]["checkpoint"]
        assert open_note(again, log_key) == (size, root)
        for index in range(size):
            hashes = api(
                second, "GET", "ledger/log/proof/inclusion", params={"index": index, "size": size}
            ).json()["data"]["hashes"]
            assert rfc9162.verify_inclusion(
                index, size, rfc9162.leaf(entries[index]), [bytes.fromhex(h) for h in hashes], root
            )
        text = "after the restart"
        body = {
            "event_attributes": {"arc_evidence": text, "arc_evidence_signature": device.sign(text)}
        }
        record = api(second, "POST", f"ledger/assets/{asset}/events", json=body).json()["data"]
        assert record["log_index"] == size
        event = record["identity"].rsplit("/", 1)[-1]
        assert (
            api(second, "GET", f"ledger/events/{event}/verify").json()["data"]["status"] == "GOOD"
        )
        new_size, new_root = open_note(
            api(second, "GET", "ledger/log/checkpoint").json()["data"]["checkpoint"], log_key
        )
        proof = api(
            second,
            "GET",
            "ledger/log/proof/consistency",
            params={"first": size, "second": new_size},
        ).json()["data"]["hashes"]
        assert new_size == size + 1
        assert rfc9162.verify_consistency(
            size, new_size, root, new_root, [bytes.fromhex(h) for h in proof]
        )
    finally:
        assert second.stop() == 0
