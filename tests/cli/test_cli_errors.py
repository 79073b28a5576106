"""Issue 17, item 2: every CLI error is one line with a hint, one exit-code table for every
command group (0 done, 1 failed, 2 the command line is wrong), ``--version``, flags shown as
flags, and one overwrite rule for every file the CLI writes. None of these needs a server;
tests/integration/test_client_cli.py has the ones that do."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from trustee.cli.main import app, package_version
from trustee.client import Client, NotFound
from trustee.crypto.errors import CryptoError
from trustee.crypto.messages import eip712_hash

runner = CliRunner()
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens there


def invoke(*args: str, input: str | None = None, **env: str):
    clean = {key: None for key in os.environ if key.startswith(("TRUSTEE_", "VAULT_"))}
    return runner.invoke(app, list(args), input=input, env=clean | env)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def trustee(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTEE_", "VAULT_"))}
    return subprocess.run(
        [sys.executable, "-m", "trustee", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | {"COLUMNS": "200"} | env,
        check=False,
    )


# -- --version, help, usage errors -------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"trustee {package_version()}"
    assert package_version() not in ("", "unknown")
    assert trustee("--version").stdout.strip() == f"trustee {package_version()}"


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        (["trustee", "export"], ["--force"]),
        (["ledger", "asset", "create"], ["--require-signature"]),
        (["ledger", "bundle"], ["--force"]),
        (["keys", "new"], ["--force", "--show-private-key"]),
        (["operator", "wait"], ["--unsealed"]),
        (["verify"], ["--json", "--server"]),
        ([], ["--version"]),
    ],
)
def test_flags_read_as_flags(command: list[str], flags: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    for flag in flags:
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(flag))
        assert line.strip().split()[1:2] != ["<bool>"]
        assert f"{flag} /" not in line  # a flag, not a --x/--no-x pair


def test_usage_errors_are_one_line_with_status_2() -> None:
    for args in (["--bogus"], ["trustee", "read"], ["verify", "x", "--at", "soon"]):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        line = one_error_line(result)
        assert "--help" in line
    completed = trustee("ledger", "proof", "--bogus")
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        "error: No such option: --bogus (see trustee ledger proof --help)"
    )


# -- the server's address ----------------------------------------------------------------------


def test_an_address_without_a_scheme_says_what_to_write() -> None:
    result = invoke("trustee", "list", TRUSTEE_ADDR="127.0.0.1:8200", TRUSTEE_TOKEN="t")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "TRUSTEE_ADDR=127.0.0.1:8200" in line and "did you mean http://127.0.0.1:8200?" in line
    vault = invoke("ledger", "checkpoint", VAULT_ADDR="localhost:8200", VAULT_TOKEN="t")
    assert vault.exit_code == 2 and "VAULT_ADDR=localhost:8200" in one_error_line(vault)


def test_an_address_ending_in_v1_says_the_client_adds_it() -> None:
    result = invoke("trustee", "list", TRUSTEE_ADDR="http://127.0.0.1:8200/v1/", TRUSTEE_TOKEN="t")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "ends in /v1" in line and "use http://127.0.0.1:8200" in line


def test_an_unreachable_server_is_status_1_in_every_group() -> None:
    env = {"TRUSTEE_ADDR": UNREACHABLE, "TRUSTEE_TOKEN": "t"}
    for args in (
        ["trustee", "list"],
        ["operator", "status"],
        ["claim", "alice"],
        ["ledger", "checkpoint"],
        ["verify", "x.y.z", "--server"],
    ):
        result = invoke(*args, **env)
        assert result.exit_code == 1, (args, result.output)
        line = one_error_line(result)
        assert f"cannot reach {UNREACHABLE}" in line and "TRUSTEE_ADDR" in line


def test_operator_wait_gives_up_after_its_timeout() -> None:
    result = invoke("operator", "wait", "--timeout", "0.3", TRUSTEE_ADDR=UNREACHABLE)
    assert result.exit_code == 1
    assert "did not answer within 0.3 s" in one_error_line(result)


# -- a 404 is an error, an empty listing is not ----------------------------------------------


def answering(status: int, body: dict) -> Client:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    return Client("http://server", "t", transport=transport)


def test_an_empty_vault_listing_is_empty_and_a_wrong_path_is_not() -> None:
    with answering(404, {"errors": []}) as vault_empty:
        assert vault_empty.list_trustees() == []
        assert vault_empty.list_policies() == []
    with answering(200, {"data": {"keys": []}}) as trustee_empty:
        assert trustee_empty.list_trustees() == []
    with answering(404, {"errors": ["unsupported path"]}) as wrong:
        with pytest.raises(NotFound, match="unsupported path"):
            wrong.list_trustees()
        with pytest.raises(NotFound):
            wrong.list_addresses()


# -- files -------------------------------------------------------------------------------------


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    result = invoke("keys", "address", str(tmp_path / "missing.json"))
    assert result.exit_code == 1
    assert "no such file" in one_error_line(result) and "hex" not in result.stderr
    typo = invoke("keys", "address", "0xZZ" + "11" * 31)
    assert typo.exit_code == 1 and "11" * 31 not in typo.stderr  # a key is never echoed


def test_keys_new_follows_the_overwrite_rule(tmp_path: Path) -> None:
    keystore = tmp_path / "key.json"
    keystore.write_text("precious")
    refused = invoke("keys", "new", "--keystore", str(keystore), "--passphrase-env", "P", P="pw")
    assert refused.exit_code == 1
    assert "exists; use --force" in one_error_line(refused)
    assert keystore.read_text() == "precious"
    forced = invoke(
        "keys", "new", "--keystore", str(keystore), "--passphrase-env", "P", "--force", P="pw"
    )
    assert forced.exit_code == 0, forced.output
    assert json.loads(keystore.read_text())["version"] == 3
    assert keystore.stat().st_mode & 0o777 == 0o600


def test_export_and_bundle_refuse_an_existing_file_before_asking(tmp_path: Path) -> None:
    existing = tmp_path / "out.json"
    existing.write_text("precious")
    env = {"TRUSTEE_ADDR": UNREACHABLE, "TRUSTEE_TOKEN": "t", "P": "pw"}
    for args in (
        ["trustee", "export", "alice", "-o", str(existing), "--passphrase-env", "P"],
        ["ledger", "bundle", "some-asset", "-o", str(existing)],
    ):
        result = invoke(*args, **env)
        assert result.exit_code == 1, result.output
        assert "exists; use --force" in one_error_line(result)
    assert existing.read_text() == "precious"
    # with --force the file is no obstacle: what fails next is the (unreachable) server
    forced = invoke("ledger", "bundle", "some-asset", "-o", str(existing), "--force", **env)
    assert forced.exit_code == 1 and "cannot reach" in forced.stderr


def test_unseal_without_a_terminal_names_what_works() -> None:
    result = invoke("operator", "unseal", TRUSTEE_ADDR=UNREACHABLE)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "trustee operator unseal -" in line and "environment variable" not in line


def test_bad_typed_data_says_what_is_missing() -> None:
    with pytest.raises(CryptoError, match="has no primaryType, domain, message"):
        eip712_hash({"types": {}})
    with pytest.raises(CryptoError, match="primaryType 'Mail' is not defined"):
        eip712_hash(
            {"types": {"EIP712Domain": []}, "primaryType": "Mail", "domain": {}, "message": {}}
        )
    with pytest.raises(CryptoError) as raised:
        eip712_hash({"types": {"EIP712Domain": []}, "primaryType": "EIP712Domain", "domain": []})
    assert "KeyError" not in str(raised.value)


# -- the storage URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("sqlite://trustee.db", 2, "did you mean sqlite:///trustee.db?"),
        ("mysql://x/y", 2, "sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql"),
        ("not a url", 2, "is not a URL"),
        (
            "postgresql://someone:hunter2-secret@127.0.0.1:9/db?connect_timeout=3",
            1,
            "cannot reach the database at 127.0.0.1:9",
        ),
    ],
)
def test_a_bad_storage_url_is_one_line(url: str, status: int, says: str) -> None:
    completed = trustee("server", "--storage", url, "--listen", "127.0.0.1:9")
    assert completed.returncode == status, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr
    assert says in lines[0]
    assert "hunter2-secret" not in completed.stderr + completed.stdout
