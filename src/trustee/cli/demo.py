"""``trustee demo``: the seed story end to end on an embedded server, with the verdicts.

1. Custody: a trustee ``alice`` issues a JWT for the rental agency; anyone verifies it offline
   against alice's address.
2. Signed records: a simulated device makes its own secp256k1 key (the private key never leaves
   it), the asset is registered with the public key, and three events are posted: a good one, a
   hacked one (truncated signature) and a forged one (valid-length signature, altered evidence).
   They verify GOOD, BAD, BAD; every one of them is in the log. The checkpoint is printed and an
   inclusion proof checked locally.
"""

import hashlib
import tempfile
import warnings
from pathlib import Path
from typing import Any

import coincurve
from rich.table import Table

from trustee.cli.console import out
from trustee.client import Client
from trustee.core import Core
from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.ledger import merkle
from trustee.ledger.note import open_checkpoint
from trustee.server.app import create_app
from trustee.tokens import verify_token

with warnings.catch_warnings():
    # Starlette's in-process client warns about its httpx backend; the demo is not affected.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ROOT_TOKEN = "demo-root"  # an embedded throwaway server: the token dies with the process
AUDIENCE = "rental-agency"
ASSET_ATTRIBUTES = {"arc_display_name": "KITT", "arc_display_type": "car"}
EVIDENCE = '{"speed_kmh": 88, "location": "Hill Valley", "driver": "Michael"}'


class SimulatedDevice:
    """A secure element: makes its key, signs evidence, shows only its public key."""

    def __init__(self) -> None:
        self._key = coincurve.PrivateKey()

    def __repr__(self) -> str:
        return "<SimulatedDevice>"

    @property
    def public_key_hex(self) -> str:
        return self._key.public_key.format(compressed=False).hex()

    def sign(self, evidence: str) -> str:
        """ES256K: ECDSA secp256k1 over SHA-256 of the UTF-8 evidence, r‖s, base64url."""
        signature = self._key.sign_recoverable(
            evidence.encode("utf-8"), hasher=lambda m: hashlib.sha256(m).digest()
        )
        return b64url_encode(signature[:64])


def _truncate(signature: str) -> str:
    """What a tampering proxy might do: cut the last 8 bytes off the signature."""
    return b64url_encode(b64url_decode(signature)[:-8])


def demo_events(device: SimulatedDevice) -> list[tuple[str, dict[str, Any], str]]:
    """The story's three events as (label, request body, expected verdict): a good one, a
    hacked one (truncated signature) and a forged one (the good signature, other evidence)."""
    good = device.sign(EVIDENCE)
    cases = [
        ("good", EVIDENCE, good, "GOOD"),
        ("hacked (truncated signature)", EVIDENCE, _truncate(good), "BAD"),
        ("forged (altered evidence)", EVIDENCE.replace("88", "188"), good, "BAD"),
    ]
    return [
        (
            label,
            {
                "operation": "Record",
                "behaviour": "RecordEvidence",
                "event_attributes": {
                    "arc_evidence": text,
                    "arc_evidence_signature": signature,
                    "arc_description": label,
                },
                "principal_declared": {"issuer": "device", "subject": "kitt"},
            },
            expected,
        )
        for label, text, signature, expected in cases
    ]


def run_demo() -> int:
    """Run the story; 0 when every verdict is the expected one, 1 otherwise."""
    with tempfile.TemporaryDirectory(prefix="trustee-demo-") as folder:
        core, root = Core.dev(root_token=ROOT_TOKEN, folder=Path(folder))
        try:
            # The in-process app is reached through the one client the command line uses.
            with TestClient(create_app(core)) as http, Client(token=root, http=http) as client:
                custody_ok = _custody(client)
                records_ok = _signed_records(client)
        finally:
            core.close()
    ok = custody_ok and records_ok
    out.print(
        "[bold green]demo: every verdict as expected[/]"
        if ok
        else "[bold red]demo: a verdict was not as expected[/]"
    )
    return 0 if ok else 1


def _custody(client: Client) -> bool:
    out.rule("1. custody: a trustee vouches for a token")
    alice = client.create_trustee("alice")
    out.print(f"trustee [bold]alice[/] has address [cyan]{alice['address']}[/]")
    issued = client.claim("alice", claims={"usage": ["knight_rider"]}, audience=AUDIENCE, ttl="1h")
    out.print(f"JWT for audience [bold]{AUDIENCE}[/]: {issued['jwt'][:48]}…")
    result = verify_token(issued["jwt"], trusted=[alice["address"]], audience=AUDIENCE)
    usage = (result.claims or {}).get("usage")
    colour = "green" if result.valid else "red"
    out.print(
        f"offline verification: [bold {colour}]{'VALID' if result.valid else 'INVALID'}[/]"
        f" (usage {usage})"
    )
    return result.valid and usage == ["knight_rider"]


def _signed_records(client: Client) -> bool:
    out.rule("2. signed records: the device signs the what, the server records who and when")
    device = SimulatedDevice()
    asset = client.create_asset(
        ASSET_ATTRIBUTES, {"alg": "ES256K", "public_key": device.public_key_hex}
    )
    out.print(f"asset [bold]{asset['identity']}[/] with the device's public key (ES256K)")

    table = Table(title="device-signed events")
    for column in ("event", "log index", "verdict", "expected", "reason"):
        table.add_column(column)
    all_expected = True
    records = []
    for label, body, expected in demo_events(device):
        record = client.post_event(asset["identity"], **body)
        records.append(record)
        verdict = client.verify_event(record["identity"])
        matches = verdict["status"] == expected
        all_expected &= matches
        colour = "green" if verdict["status"] == "GOOD" else "red"
        table.add_row(
            label,
            str(record["log_index"]),
            f"[bold {colour}]{verdict['status']}[/]",
            expected + ("" if matches else "  [red]✗[/]"),
            verdict["reason"],
        )
    out.print(table)

    out.rule("3. the transparency log")
    checkpoint = client.checkpoint()
    key = client.log_public_key()["key"]
    out.print("[bold]signed checkpoint[/] (C2SP note):")
    out.print(checkpoint["checkpoint"], end="", markup=False)
    out.print(f"log verifier key: [cyan]{key}[/]")
    opened = open_checkpoint(checkpoint["checkpoint"], [key])
    index = records[0]["log_index"]
    proof = client.inclusion_proof(index, opened.size)
    entry = client.log_entries(index, index + 1)[0]
    included = merkle.verify_inclusion(
        merkle.leaf_hash(entry),
        index,
        opened.size,
        [bytes.fromhex(h) for h in proof["hashes"]],
        opened.root_hash,
    )
    out.print(
        f"inclusion proof of leaf {index} in tree {opened.size}: "
        f"{len(proof['hashes'])} hashes → "
        + ("[bold green]verified locally[/]" if included else "[bold red]FAILED[/]")
    )
    all_in_log = len({r["log_index"] for r in records}) == len(records)
    return all_expected and included and all_in_log
