"""Ledger figures: durable appends under concurrent clients, and proof latency at 10⁶ leaves.

1. Appends through :class:`~trustee.ledger.service.LedgerService`: concurrent callers on an
   event loop (as the server's requests are) post device-signed events (ES256K, signed
   beforehand, as devices do) to a SQLite file with ``synchronous=FULL``; an answer means the
   event is committed. Two assets take turns: one whose events are checked when someone asks
   (the verdict is recomputed from the stored entry), and one with ``require_signature``,
   where every signature is checked before the commit. For comparison, the same events
   committed one transaction each: the price of an fsync per event.
2. The same through HTTP: ``trustee server --workers 2`` and the load generators of
   :mod:`bench.http` (for context: HTTP parsing and the token check cost more than the append
   itself).
3. Proofs at 10⁶ leaves: the tree is built through ``post_events`` in large batches (one
   transaction each), then inclusion and consistency proofs at random indexes are timed one by
   one; each reads a few rows by primary key.
"""

import asyncio
import base64
import hashlib
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import coincurve
import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import Figure
from bench.http import WORKERS, Load, Target, measure, prepare_storage, serve, trustee_command
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


def device_asset(address: str, headers: dict[str, str]) -> tuple[Device, str]:
    """A new device and the uuid of an asset the server at ``address`` made for its key."""
    device = Device()
    asset = httpx.post(
        f"{address}/v1/ledger/assets",
        headers=headers,
        json={"device_key": device.device_key},
        timeout=30,
    ).json()["data"]["uuid"]
    return device, asset


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


@dataclass
class AppendRates:
    signed: float  # events/s, median of the rounds, on an asset that checks when asked
    strict: float  # the same on an asset with require_signature: every signature at the door
    one_by_one: float  # events/s committing each event alone (the baseline)
    note: str


def append_rates(clients: int, per_client: int, rounds: int = 3) -> AppendRates:
    """Group-committed events/s on two assets, in alternating rounds, and the baseline.

    Each rate is the median of ``rounds`` rounds on one growing database: a shared machine's
    neighbours move a single round by a third either way.
    """
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as folder:
        core = _open(Path(folder))
        try:
            service = core.ledger
            device = Device()
            signed = service.create_asset({"name": "meter"}, device.device_key).uuid
            strict = service.create_asset(
                {"name": "strict meter"}, device.device_key, require_signature=True
            ).uuid
            for asset in (signed, strict):  # the log key, the assets' signing rules
                service.post_event(_signed_requests(asset, device, 1, "warm")[0])
            batches_before, items_before = service.committer.batches, service.committer.items
            rates: dict[str, list[float]] = {signed: [], strict: []}
            for n in range(rounds):
                for asset, asset_rates in rates.items():
                    asset_rates.append(
                        _grouped_rate(service, asset, device, clients, per_client, f"r{n}")
                    )
            batches = service.committer.batches - batches_before
            items = service.committer.items - items_before

            # Baseline: the same work, one transaction per event, from one caller.
            single = _signed_requests(signed, device, max(per_client * 2, 100), "single")
            began = time.perf_counter()
            for request in single:
                service.post_events([request])
            one_by_one = len(single) / (time.perf_counter() - began)
            size, _ = service.state()
            assert size == 2 + 2 * rounds * clients * per_client + len(single), (
                "an append went missing"
            )
        finally:
            core.close()
    note = (
        f"median of {rounds} rounds ({', '.join(f'{r:,.0f}' for r in rates[signed])}); "
        f"{clients} concurrent callers, {items / max(batches, 1):.0f} events per commit"
    )
    return AppendRates(
        statistics.median(rates[signed]),
        statistics.median(rates[strict]),
        one_by_one,
        note + f"; strict rounds {', '.join(f'{r:,.0f}' for r in rates[strict])}",
    )


def _grouped_rate(
    service: LedgerService, asset: str, device: Device, clients: int, per_client: int, tag: str
) -> float:
    """Events/s that ``clients`` callers, each posting ``per_client`` events, get together.

    The callers are coroutines on one event loop awaiting ``post_event_async``, as the server's
    requests do; the batches run on the committer's own threads.
    """
    work = [_signed_requests(asset, device, per_client, f"{tag}-{c}") for c in range(clients)]

    async def client(requests: list[EventRequest]) -> None:
        for request in requests:
            await service.post_event_async(request)

    async def all_clients() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(client(requests) for requests in work))
        return time.perf_counter() - began

    return clients * per_client / asyncio.run(all_clients())


def http_rate(connections: int, seconds: int) -> tuple[float, str, float]:
    """Events/s posted over HTTP to ``trustee server --workers 2``, a note with latencies, and
    events/s of the same posts through the DataTrails face (``/archivist``).

    The server and load generator are those of :mod:`bench.http`; both workers append to one
    SQLite file, taking turns at its writer lock, each with its own group commit. The two faces
    are measured on one server in the order /v1, DataTrails, DataTrails, /v1, so a drift of the
    host's speed weighs on both alike.
    """
    with tempfile.TemporaryDirectory(prefix="bench-ledger-http-") as name:
        folder = Path(name)
        storage, key_file, root, _ = prepare_storage(folder)
        port = free_port()
        command = trustee_command(storage, key_file, port)
        with serve(command, port, "/v1/sys/health", folder / "server.log") as (address, pid):
            headers = {"X-Vault-Token": root, "Content-Type": "application/json"}
            device, asset = device_asset(address, headers)
            target = Target(
                "ledger event",
                f"{address}/v1/ledger/assets/{asset}/events",
                pid,
                "POST",
                json.dumps({"event_attributes": device.evidence('{"reading": 1}')}),
                headers,
            )
            archivist = Target(
                "ledger event (DataTrails face)",
                f"{address}/archivist/v2/assets/{asset}/events",
                pid,
                "POST",
                json.dumps({"event_attributes": device.evidence('{"reading": 1}')}),
                {"Authorization": f"Bearer {root}", "Content-Type": "application/json"},
            )
            measure(target, 1, folder, warmup=True, connections=connections)  # both workers up
            measure(archivist, 1, folder, warmup=True, connections=connections)
            loads: dict[str, list[Load]] = {"v1": [], "archivist": []}
            for face in ("v1", "archivist", "archivist", "v1"):
                before = _log_size(address, headers)
                chosen = target if face == "v1" else archivist
                load = measure(chosen, seconds, folder, connections=connections)
                appended = _log_size(address, headers) - before
                assert appended >= load.requests, "an acknowledged event is not in the log"
                loads[face].append(load)
    load = loads["v1"][0]
    via_archivist = sum(each.rate for each in loads["archivist"]) / 2
    note = (
        f"{WORKERS} workers, {connections} connections, p50 {load.p50_ms:.1f} ms, "
        f"p99 {load.p99_ms:.1f} ms; worker CPU per event "
        + ("-" if load.cpu_us is None else f"{load.cpu_us:,.0f} µs")
    )
    return sum(each.rate for each in loads["v1"]) / 2, note, via_archivist


def _log_size(address: str, headers: dict[str, str]) -> int:
    answer = httpx.get(f"{address}/v1/ledger/log/checkpoint", headers=headers, timeout=30)
    return int(answer.json()["data"]["size"])


def build_log(service: LedgerService, leaves: int, batch: int) -> float:
    """Append ``leaves`` small unsigned events in batches; return the events/s it took."""
    asset = service.create_asset({"name": "bulk"}).uuid
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
    appends = append_rates(clients, per_client, rounds=1 if quick else 3)
    http, http_note, via_archivist = http_rate(
        connections=8 if quick else 64, seconds=1 if quick else 5
    )
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
            appends.signed,
            None,
            5000,
            unit="events/s",
            note=f"{appends.note}; one commit per event: {appends.one_by_one:,.0f}/s",
        ),
        Figure(
            "ledger durable appends, require_signature asset",
            appends.strict,
            None,
            1,
            unit="events/s",
            note="every device signature checked before the commit (context; no goal)",
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
            "ledger appends over HTTP, DataTrails face",
            via_archivist,
            http,
            0.8,
            unit="events/s",
            note="POST /archivist/v2/assets/{uuid}/events against /v1 on the same server",
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
