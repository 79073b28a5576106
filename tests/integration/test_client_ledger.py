"""``trustee.client.Client``'s ledger methods against a real ``trustee server --dev`` process,
and the command line's wording of the client's errors.

What the server answers is checked with code of the tests' own where it can be: devices from
``ledgerlib`` (coincurve, cryptography) and proofs with the RFC 9162 reference in ``rfc9162.py``.
"""

import json
import os
import secrets
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

import rfc9162
from ledgerlib import Device, evidence
from live_server import LiveServer
from trustee.cli.main import app as cli
from trustee.client import (
    Client,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from trustee.ledger.audit import audit_bundle
from trustee.ledger.note import open_checkpoint

pytestmark = pytest.mark.integration

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    token = "root-" + secrets.token_urlsafe(16)
    log = tmp_path_factory.mktemp("client-ledger") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTEE_", "VAULT_"))}
    live = LiveServer("--dev", "--dev-root-token", token, log_path=log, env=env)
    live.root = token
    yield live
    assert live.stop() == 0


@pytest.fixture
def client(server: LiveServer) -> Iterator[Client]:
    with Client(server.address, server.root) as client:
        yield client


def test_assets_keys_and_pages(client: Client) -> None:
    old, new = Device("ES256"), Device("EdDSA")
    asset = client.create_asset({"plate": "KNI 6HT"}, old.device_key)
    uuid = asset["uuid"]
    assert asset["identity"] == f"assets/{uuid}"
    assert asset["attributes"] == {"plate": "KNI 6HT"}

    # A bare uuid and the record's identity name the same asset.
    assert client.read_asset(uuid) == client.read_asset(asset["identity"]) == asset

    rotated = client.rotate_device_key(uuid, new.device_key)
    assert [key["seq"] for key in rotated["key_history"]] == [1, 2]
    assert [key["alg"] for key in rotated["key_history"]] == ["ES256", "EdDSA"]
    assert client.read_asset(uuid)["key_history"] == rotated["key_history"]

    other = client.create_asset()["uuid"]
    seen: list[str] = []
    page = client.list_assets(page_size=1)
    while True:
        assert len(page["keys"]) <= 1
        seen += page["keys"]
        if page["next_page_token"] is None:
            break
        page = client.list_assets(page_size=1, page_token=page["next_page_token"])
    assert {uuid, other} <= set(seen) and len(seen) == len(set(seen))


def test_events_verdicts_and_filters(client: Client) -> None:
    device = Device("ES256K")
    uuid = client.create_asset({"kind": "car"}, device.device_key)["uuid"]
    good = client.post_event(
        uuid, {**evidence(device), "trip": "one"}, principal_declared={"subject": "kitt"}
    )
    unsigned = client.post_event(
        f"assets/{uuid}", {"trip": "two"}, operation="Note", behaviour="RecordNote"
    )
    forged = client.post_event(
        uuid,
        {"arc_evidence": "{}", "arc_evidence_signature": device.sign("other"), "trip": "three"},
    )
    assert good["log_index"] < unsigned["log_index"] < forged["log_index"]
    assert unsigned["operation"] == "Note" and unsigned["behaviour"] == "RecordNote"

    assert client.read_event(good["identity"]) == good
    assert client.read_event(good["identity"].rsplit("/", 1)[-1]) == good
    statuses = [client.verify_event(e["identity"])["status"] for e in (good, unsigned, forged)]
    assert statuses == ["GOOD", "UNSIGNED", "BAD"]
    assert [v["status"] for v in client.verify_asset(uuid)["events"]] == statuses

    listed = client.list_events(uuid)
    assert [e["identity"] for e in listed["events"]] == [
        e["identity"] for e in (good, unsigned, forged)
    ]
    assert listed["next_page_token"] is None
    only_two = client.list_events(uuid, event_attributes={"trip": "two"})["events"]
    assert [e["identity"] for e in only_two] == [unsigned["identity"]]
    everywhere = client.list_events(event_attributes={"trip": "three"}, operation="Record")
    assert forged["identity"] in [e["identity"] for e in everywhere["events"]]
    assert client.list_events(uuid, behaviour="RecordNote")["events"] == only_two
    assert client.list_events(uuid, before="1970-01-02T00:00:00Z")["events"] == []
    first = client.list_events(uuid, page_size=2)
    rest = client.list_events(uuid, page_size=2, page_token=first["next_page_token"])
    assert [e["identity"] for e in first["events"] + rest["events"]] == [
        e["identity"] for e in listed["events"]
    ]

    strict = client.create_asset(device_key=device.device_key, require_signature=True)
    with pytest.raises(InvalidRequest):  # a device that must sign cannot post unsigned
        client.post_event(strict["uuid"], {"trip": "unsigned"})
    assert client.list_events(strict["uuid"])["events"] == []


def test_log_checkpoint_proofs_and_entries(client: Client) -> None:
    device = Device("EdDSA")
    uuid = client.create_asset(device_key=device.device_key)["uuid"]
    older = client.checkpoint()
    posted = [client.post_event(uuid, evidence(device, f'{{"n": {n}}}')) for n in range(3)]

    public = client.log_public_key()
    checkpoint = client.checkpoint()
    opened = open_checkpoint(checkpoint["checkpoint"], [public["key"]])
    assert opened.origin == public["origin"] == checkpoint["origin"]
    assert opened.size == checkpoint["size"] and opened.root_hash.hex() == checkpoint["root_hash"]

    entries = client.log_entries(0, opened.size)
    assert len(entries) == opened.size
    assert rfc9162.root_of(entries) == opened.root_hash
    for record in posted:
        index = record["log_index"]
        assert json.loads(entries[index]) == record
        proof = client.inclusion_proof(index, opened.size)["hashes"]
        assert rfc9162.verify_inclusion(
            index,
            opened.size,
            rfc9162.leaf(entries[index]),
            [bytes.fromhex(h) for h in proof],
            opened.root_hash,
        )
    assert client.inclusion_proof(posted[0]["log_index"]) == client.inclusion_proof(
        posted[0]["log_index"], opened.size
    )
    consistency = client.consistency_proof(older["size"], opened.size)["hashes"]
    assert rfc9162.verify_consistency(
        older["size"],
        opened.size,
        bytes.fromhex(older["root_hash"]),
        opened.root_hash,
        [bytes.fromhex(h) for h in consistency],
    )
    assert client.log_entries(posted[1]["log_index"], posted[2]["log_index"]) == [
        entries[posted[1]["log_index"]]
    ]


def test_a_bundle_audits_offline(client: Client) -> None:
    device = Device("ES256K-address")
    uuid = client.create_asset(device_key=device.device_key)["uuid"]
    older = client.checkpoint()
    for n in range(2):
        client.post_event(uuid, evidence(device, f'{{"n": {n}}}'))
    key = client.log_public_key()["key"]

    bundle = client.bundle(uuid, older_size=older["size"])
    assert bundle["consistency"]["first"] == older["size"]
    report = audit_bundle(bundle, key, older["checkpoint"], workers=1)
    assert report.all_ok and [row.status for row in report.rows] == ["GOOD", "GOOD"]
    assert report.consistency_ok
    assert "consistency" not in client.bundle(f"assets/{uuid}")


def test_ledger_errors_are_typed(server: LiveServer, client: Client) -> None:
    with pytest.raises(NotFound) as missing:
        client.read_asset("no-such-asset")
    assert missing.value.status == 404 and "no-such-asset" in missing.value.message
    with pytest.raises(NotFound):
        client.verify_event("no-such-event")
    with pytest.raises(InvalidRequest) as bad_key:
        client.create_asset(device_key={"alg": "EdDSA", "public_key": "00"})
    assert bad_key.value.status == 400 and bad_key.value.errors
    with pytest.raises(InvalidRequest):
        client.inclusion_proof(10**9)
    # An id cannot climb out of its segment to another route.
    with pytest.raises(NotFound):
        client.read_asset("../../sys/seal-status")
    with Client(server.address, "") as anonymous, pytest.raises(PermissionDenied):
        anonymous.checkpoint()


def test_connection_failures_keep_address_and_reason() -> None:
    with Client(UNREACHABLE, "x", timeout=2) as nowhere, pytest.raises(ConnectionFailed) as down:
        nowhere.checkpoint()
    assert down.value.address == UNREACHABLE and down.value.reason == "ConnectError"
    assert down.value.message == f"cannot reach {UNREACHABLE} (ConnectError)"


def test_a_borrowed_http_client_stays_open(server: LiveServer) -> None:
    with httpx.Client(base_url=server.address + "/") as http:
        with Client(token=server.root, http=http) as client:
            assert client.address == server.address
            assert client.log_public_key()["key"]
        assert not http.is_closed
        assert http.get("/v1/sys/health").status_code == 200


# --- the command line words the client's errors as it always has --------------------------------


def run(*args: str, address: str, token: str | None) -> tuple[int, str]:
    """``trustee`` in this process; its exit status and its stderr as one line."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("VAULT_")}
    env |= {"TRUSTEE_ADDR": address, "TRUSTEE_TOKEN": token, "NO_COLOR": "1", "COLUMNS": "200"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.stderr.split())


def test_cli_wording_when_the_server_is_unreachable() -> None:
    # one wording and one status (1) in every command group
    unreachable = (
        1,
        f"error: cannot reach {UNREACHABLE}: ConnectError; is a server listening there? "
        "(TRUSTEE_ADDR names it)",
    )
    assert run("ledger", "checkpoint", address=UNREACHABLE, token="any") == unreachable
    assert run("verify", "x.y.z", "--server", address=UNREACHABLE + "/", token=None) == unreachable
    assert run("trustee", "list", address=UNREACHABLE, token="any") == unreachable


def test_cli_wording_of_server_errors(server: LiveServer) -> None:
    code, line = run("ledger", "asset", "read", "nobody", address=server.address, token=server.root)
    assert (code, line) == (1, "error: server answered 404: no asset 'nobody'")
    code, line = run("ledger", "checkpoint", address=server.address, token="wrong")
    assert code == 1 and line.startswith("error: server answered 403: ")
    code, line = run("trustee", "list", address=server.address, token=None)
    assert code == 1 and line.endswith("(set TRUSTEE_TOKEN)")
    code, line = run("ledger", "checkpoint", address=server.address, token=None)
    assert (code, line) == (2, "error: set TRUSTEE_TOKEN (or VAULT_TOKEN)")
