"""``trustee verify``: verdicts, reasons, exit codes (0, 1, 2), stdin, --json, --at."""

import base64
import hashlib
import hmac
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from trustee.cli.main import app
from trustee.crypto.address import address_from_public_key
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.tokens import issue_token

KEY = generate_private_key()
ADDRESS = address_from_public_key(public_key_from_private(KEY))
OTHER = address_from_public_key(public_key_from_private(generate_private_key()))
NOW = 1_800_000_000
runner = CliRunner()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(**options) -> str:
    return issue_token(KEY, now=NOW, ttl=600, **options).jwt


def run_json(*args: str, stdin: str | None = None) -> tuple[int, dict]:
    result = runner.invoke(app, ["verify", *args, "--json"], input=stdin)
    return result.exit_code, json.loads(result.stdout)


def tampered() -> str:
    header, _, signature = token().split(".")
    return f"{header}.{b64(json.dumps({'iss': ADDRESS, 'admin': True}).encode())}.{signature}"


def hs256() -> str:
    head = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps({"iss": ADDRESS}).encode())
    mac = hmac.new(public_key_from_private(KEY), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(mac)


CASES = [
    ("valid", lambda: token(), ["--at", str(NOW)], 0, None),
    ("expired", lambda: token(), ["--at", str(NOW + 3600)], 1, "expired"),
    ("not-yet-valid", lambda: token(not_before=NOW + 900), ["--at", str(NOW)], 1, "not_yet_valid"),
    (
        "wrong-audience",
        lambda: token(audience="a"),
        ["--audience", "b", "--at", str(NOW)],
        1,
        "audience_mismatch",
    ),
    ("untrusted", lambda: token(), ["--trust", OTHER, "--at", str(NOW)], 1, "untrusted_issuer"),
    ("tampered", tampered, ["--at", str(NOW)], 1, "bad_signature"),
    (
        "alg-none",
        lambda: b64(b'{"alg":"none"}') + "." + b64(b'{"iss":"x"}') + ".",
        [],
        1,
        "unsupported_algorithm",
    ),
    ("hs256-confusion", hs256, [], 1, "unsupported_algorithm"),
    ("malformed", lambda: "not.a.token", [], 1, "malformed"),
    ("oversized", lambda: "a" * 20000, [], 1, "too_large"),
]


@pytest.mark.parametrize(
    ("name", "make", "args", "code", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_reasons(name, make, args, code, reason) -> None:
    exit_code, data = run_json(make(), *args)
    assert exit_code == code
    assert data["valid"] is (code == 0)
    assert data.get("reason") == reason


def test_trusted_valid_and_stdin() -> None:
    exit_code, data = run_json(
        "-", "--trust", ADDRESS.lower(), "--at", str(NOW), stdin=token() + "\n"
    )
    assert exit_code == 0 and data["trusted"] is True and data["address"] == ADDRESS


def test_trust_list_file(tmp_path) -> None:
    listing = tmp_path / "trusted.txt"
    listing.write_text(f"# partners\n{OTHER}\n{ADDRESS}  # alice\n")
    exit_code, data = run_json(token(), "--trust-list", str(listing), "--at", str(NOW))
    assert exit_code == 0 and data["trusted"] is True
    listing.write_text(json.dumps({"addresses": [OTHER]}))
    exit_code, data = run_json(token(), "--trust-list", str(listing), "--at", str(NOW))
    assert exit_code == 1 and data["reason"] == "untrusted_issuer"


def test_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["verify"]).exit_code == 2
    bad_checksum = "0x" + ADDRESS[2:].swapcase() if ADDRESS[2:] != ADDRESS[2:].swapcase() else None
    result = runner.invoke(app, ["verify", token(), "--trust", "0x1234"])
    assert result.exit_code == 2 and "address" in result.stderr
    if bad_checksum and bad_checksum[2:] not in (
        bad_checksum[2:].lower(),
        bad_checksum[2:].upper(),
    ):
        assert runner.invoke(app, ["verify", token(), "--trust", bad_checksum]).exit_code == 2


def test_human_output_names_the_verdict() -> None:
    result = runner.invoke(app, ["verify", token(), "--at", str(NOW + 3600)])
    assert result.exit_code == 1
    assert "INVALID" in result.stdout and "expired" in result.stdout


def test_as_a_real_process() -> None:
    """The installed entry point, as a user runs it."""
    completed = subprocess.run(
        [sys.executable, "-m", "trustee", "verify", "-", "--json", "--at", str(NOW)],
        input=token(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["address"] == ADDRESS
