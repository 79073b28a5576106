"""Ledger figures: durable appends under concurrent clients, and proof latency at 10⁶ leaves.

1. Appends through :class:`~trustee.ledger.service.LedgerService`: client threads post
   device-signed events (ES256K, signed beforehand, as devices do) to a SQLite file with
   ``synchronous=FULL``; an answer means the event is committed. For comparison, the same
   events committed one transaction each: the price of an fsync per event.
2. The same through HTTP: ``trustee server --workers 2`` and the load generators of
   :mod:`bench.http` (for context: HTTP parsing and the token check cost more than the append
   itself).
3. Proofs at 10⁶ leaves: the tree is built through ``post_events`` in large batches (one
   transaction each), then inclusion and consistency proofs at random indexes are timed one by
   one; each reads a few rows by primary key.
"""

import base64
import hashlib
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import coincurve
import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import Figure
from bench.http import WORKERS, Target, measure, prepare_storage, serve
from bench.processes import free_port
from trustee.core import Core
from trustee.ledger.service import EventRequest, LedgerService
from trustee.secret import Secret

ROOT = Path(__file__).resolve().parents[1]
WHO = {"accessor": "bench", "display_name": "bench"}


class Device:
    """A secp256k1 device: ES256K over SHA-256 of the evidence, r‖s, base64url."""

    def __init__(self) -> None:
        self._key = coincurve.PrivateKey()
        self.device_key = {
            "alg": "ES256K",
            "public_key": self._key.public_key.format(compressed=False).hex(),
        }

    def evidence(self, text: str) -> dict[str, str]:
        raw = self._key.sign_recoverable(
            text.encode(), hasher=lambda m: hashlib.sha256(m).digest()
        )[:64]
        signature = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"arc_evidence": text, "arc_evidence_signature": signature}


def _open(folder: Path) -> Core:
    core = Core.open(f"sqlite:///{folder / 'trustee.db'}")
    share = core.barrier.initialize(1, 1)[0]
    core.barrier.unseal(Secret(share))
    return core


def _signed_requests(asset: str, device: Device, count: int, tag: str) -> list[EventRequest]:
    return [
        EventRequest(
            asset,
            event_attributes=device.evidence(f'{{"meter": "{tag}", "reading": {i}}}'),
            principal_accepted=WHO,
        )
        for i in range(count)
    ]


def append_rates(clients: int, per_client: int, rounds: int = 3) -> tuple[float, float, str]:
    """(group-committed events/s, one-commit-per-event events/s, a note on batching).

    The group-committed rate is the median of ``rounds`` rounds on one growing database: a
    shared machine's neighbours move a single round by a third either way.
    """
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as folder:
        core = _open(Path(folder))
        try:
            service = core.ledger
            device = Device()
            asset = service.create_asset({"name": "meter"}, device.device_key)["uuid"]
            service.post_event(_signed_requests(asset, device, 1, "warm")[0])  # log key, caches
            batches_before, items_before = service.committer.batches, service.committer.items
            rates = [
                _grouped_rate(service, asset, device, clients, per_client, f"r{n}")
                for n in range(rounds)
            ]
            batches = service.committer.batches - batches_before
            items = service.committer.items - items_before

            # Baseline: the same work, one transaction per event, from one caller.
            single = _signed_requests(asset, device, max(per_client * 2, 100), "single")
            began = time.perf_counter()
            for request in single:
                service.post_events([request])
            one_by_one = len(single) / (time.perf_counter() - began)
            size, _ = service.state()
            assert size == 1 + rounds * clients * per_client + len(single), "an append went missing"
        finally:
            core.close()
    note = (
        f"median of {rounds} rounds ({', '.join(f'{r:,.0f}' for r in rates)}); "
        f"{clients} client threads, {items / max(batches, 1):.0f} events per commit"
    )
    return statistics.median(rates), one_by_one, note


def _grouped_rate(
    service: LedgerService, asset: str, device: Device, clients: int, per_client: int, tag: str
) -> float:
    """Events/s that ``clients`` threads, each posting ``per_client`` events, get together."""
    work = [_signed_requests(asset, device, per_client, f"{tag}-{c}") for c in range(clients)]
    start = threading.Barrier(clients + 1)

    def client(requests: list[EventRequest]) -> None:
        start.wait()
        for request in requests:
            service.post_event(request)

    threads = [threading.Thread(target=client, args=(w,)) for w in work]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return clients * per_client / (time.perf_counter() - began)


def http_rate(connections: int, seconds: int) -> tuple[float, str]:
    """Events/s posted over HTTP to ``trustee server --workers 2``, and a note with latencies.

    The server and load generator are those of :mod:`bench.http`; both workers append to one
    SQLite file, taking turns at its writer lock, each with its own group commit.
    """
    with tempfile.TemporaryDirectory(prefix="bench-ledger-http-") as name:
        folder = Path(name)
        storage, key_file, root, _ = prepare_storage(folder)
        port = free_port()
        command = [
            *(sys.executable, "-m", "trustee", "server", "--storage", storage),
            *("--unseal-key-file", str(key_file), "--workers", str(WORKERS)),
            *("--listen", f"127.0.0.1:{port}", "--log-level", "warning"),
        ]
        with serve(command, port, "/v1/sys/health", folder / "server.log") as (address, pid):
            headers = {"X-Vault-Token": root, "Content-Type": "application/json"}
            device = Device()
            asset = httpx.post(
                f"{address}/v1/ledger/assets",
                headers=headers,
                json={"device_key": device.device_key},
                timeout=30,
            ).json()["data"]["uuid"]
            target = Target(
                "ledger event",
                f"{address}/v1/ledger/assets/{asset}/events",
                pid,
                "POST",
                json.dumps({"event_attributes": device.evidence('{"reading": 1}')}),
                headers,
            )
            measure(target, 1, folder, warmup=True, connections=connections)  # both workers up
            before = _log_size(address, headers)
            load = measure(target, seconds, folder, connections=connections)
            appended = _log_size(address, headers) - before
    assert appended >= load.requests, "an acknowledged event is not in the log"
    note = (
        f"{WORKERS} workers, {connections} connections, p50 {load.p50_ms:.1f} ms, "
        f"p99 {load.p99_ms:.1f} ms; worker CPU per event "
        + ("-" if load.cpu_us is None else f"{load.cpu_us:,.0f} µs")
    )
    return load.rate, note


def _log_size(address: str, headers: dict[str, str]) -> int:
    answer = httpx.get(f"{address}/v1/ledger/log/checkpoint", headers=headers, timeout=30)
    return int(answer.json()["data"]["size"])


def build_log(service: LedgerService, leaves: int, batch: int) -> float:
    """Append ``leaves`` small unsigned events in batches; return the events/s it took."""
    asset = service.create_asset({"name": "bulk"})["uuid"]
    began = time.perf_counter()
    done = 0
    while done < leaves:
        count = min(batch, leaves - done)
        service.post_events(
            [EventRequest(asset, event_attributes={"n": str(done + i)}) for i in range(count)]
        )
        done += count
    return leaves / (time.perf_counter() - began)


def proof_latencies(leaves: int, samples: int) -> dict[str, float]:
    """Build a log of ``leaves`` and time inclusion and consistency proofs at its full size."""
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="bench-ledger-proofs-") as folder:
        core = _open(Path(folder))
        try:
            service = core.ledger
            build_rate = build_log(service, leaves, batch=min(10_000, max(leaves // 10, 1)))
            size, _ = service.state()
            inclusion, consistency = [], []
            for _ in range(samples):
                index = rng.randrange(size)
                began = time.perf_counter()
                proof = service.inclusion_proof(index, size)
                inclusion.append(time.perf_counter() - began)
                assert len(proof["hashes"]) <= 2 * size.bit_length()
                first = rng.randrange(1, size)
                began = time.perf_counter()
                service.consistency_proof(first, size)
                consistency.append(time.perf_counter() - began)
        finally:
            core.close()
    return {
        "size": size,
        "build_rate": build_rate,
        "inclusion_p50": _percentile(inclusion, 50),
        "inclusion_p99": _percentile(inclusion, 99),
        "inclusion_mean": statistics.fmean(inclusion),
        "consistency_p50": _percentile(consistency, 50),
        "consistency_p99": _percentile(consistency, 99),
    }


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def run(quick: bool) -> list[Figure]:
    clients, per_client = (8, 40) if quick else (64, 150)
    grouped, one_by_one, note = append_rates(clients, per_client, rounds=1 if quick else 3)
    http, http_note = http_rate(connections=8 if quick else 64, seconds=1 if quick else 5)
    proofs = proof_latencies(10_000 if quick else 1_000_000, 200 if quick else 2000)
    table = Table(title=f"ledger proofs at {proofs['size']:,} leaves (SQLite, one at a time)")
    for column in ("proof", "p50", "p99"):
        table.add_column(column, justify="left" if column == "proof" else "right")
    for kind in ("inclusion", "consistency"):
        table.add_row(
            kind,
            f"{proofs[kind + '_p50'] * 1000:.2f} ms",
            f"{proofs[kind + '_p99'] * 1000:.2f} ms",
        )
    Console().print(table)
    Console().print(f"tree built at {proofs['build_rate']:,.0f} events/s (batches of 10,000)")
    p50, p99 = proofs["inclusion_p50"] * 1000, proofs["inclusion_p99"] * 1000
    return [
        Figure(
            "ledger durable appends (SQLite, group commit)",
            grouped,
            None,
            5000,
            unit="events/s",
            note=f"{note}; one commit per event: {one_by_one:,.0f}/s",
        ),
        Figure(
            f"ledger appends over HTTP ({WORKERS} workers)",
            http,
            None,
            1,
            unit="events/s",
            note=http_note + " (context for the figure above; no goal)",
        ),
        Figure(
            f"ledger inclusion proofs at {proofs['size']:,} leaves",
            1 / proofs["inclusion_mean"],
            None,
            200,
            unit="proofs/s",
            note=f"p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
            f"consistency p50 {proofs['consistency_p50'] * 1000:.2f} ms",
        ),
    ]
