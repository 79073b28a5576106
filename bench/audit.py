"""Offline audit figure: a bundle of device-signed events checked on every core.

``trustee ledger audit`` checks, per event, canonical JSON, a Merkle inclusion proof and the
device signature. The signature is the one step an auditor cannot skip or make cheaper, so the
baseline is the raw verify rate of the same kind of signature (ES256K, r‖s over SHA-256 of the
evidence) with coincurve on one core, times the number of cores: what a perfectly parallel
auditor doing nothing but verify would reach. The bundle comes from the real service over a
temporary SQLite file, so its proofs and entries are the ones auditors receive.
"""

import base64
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import coincurve
import coincurve.ecdsa

from bench.harness import Figure
from bench.ledger import Device, _open, _signed_requests
from trustee.ledger.audit import audit_bundle

BATCH = 10_000


def build_bundle(events: int) -> tuple[dict[str, Any], str, Device]:
    """A bundle of ``events`` ES256K-signed events of one asset, and the log's verifier key."""
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as folder:
        core = _open(Path(folder))
        try:
            service = core.ledger
            device = Device()
            asset = service.create_asset({"name": "meter"}, device.device_key).uuid
            done = 0
            while done < events:
                count = min(BATCH, events - done)
                service.post_events(_signed_requests(asset, device, count, f"b{done}"))
                done += count
            bundle = service.bundle(asset).to_json()  # as a file holds it
            key = service.public_key()
        finally:
            core.close()
    assert len(bundle["events"]) == events, "the bundle does not hold every event"
    return bundle, key, device


def _raw_signatures(bundle: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    """(evidence bytes, 64-byte r‖s) of every event, decoded ahead of the baseline's timing."""
    out = []
    for item in bundle["events"]:
        attributes = item["event"]["event_attributes"]
        text = attributes["arc_evidence_signature"]
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        out.append((attributes["arc_evidence"].encode(), raw))
    return out


def baseline_rate(public_key: bytes, signatures: list[tuple[bytes, bytes]]) -> float:
    """Raw verifies per second on one core: compact r‖s to coincurve's form, then verify."""
    key = coincurve.PublicKey(public_key)

    def sha256(message: bytes) -> bytes:
        return hashlib.sha256(message).digest()

    began = time.perf_counter()
    for message, raw in signatures:
        der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(raw))
        if not key.verify(der, message, hasher=sha256):
            raise AssertionError("a device signature does not verify")
    return len(signatures) / (time.perf_counter() - began)


def audit_rate(bundle: dict[str, Any], log_key: str) -> float:
    """Events per second of a full audit on every core, worker start-up included."""
    began = time.perf_counter()
    report = audit_bundle(bundle, log_key)
    elapsed = time.perf_counter() - began
    assert report.all_ok, "the benchmark bundle must audit clean"
    return len(report.rows) / elapsed


def measure(events: int, rounds: int) -> dict[str, float]:
    bundle, log_key, device = build_bundle(events)
    public_key = bytes.fromhex(device.device_key["public_key"])
    signatures = _raw_signatures(bundle)
    cores = os.cpu_count() or 1
    ours, single = [], []
    for _ in range(rounds):  # interleaved, so noise hits both sides alike
        single.append(baseline_rate(public_key, signatures))
        ours.append(audit_rate(bundle, log_key))
    return {
        "events": events,
        "cores": cores,
        "ours": statistics.median(ours),
        "single": statistics.median(single),
    }


def run(quick: bool) -> list[Figure]:
    result = measure(2_000 if quick else 100_000, 1 if quick else 3)
    cores, single = int(result["cores"]), result["single"]
    return [
        Figure(
            f"ledger offline audit of {int(result['events']):,} ES256K events, all cores",
            result["ours"],
            single * cores,
            0.9,
            unit="events/s",
            note=f"baseline: {cores} cores x {single:,.0f} raw coincurve verifies/s on one core",
        )
    ]


if __name__ == "__main__":
    import sys

    for figure in run("--quick" in sys.argv):
        ratio = figure.ratio or 0.0
        print(
            f"{figure.name}: {figure.ours:,.0f} {figure.unit}, baseline {figure.baseline:,.0f}, "
            f"ratio {ratio:.2f} (goal >= {figure.goal}); {figure.note}"
        )
