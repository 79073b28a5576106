"""SCITT registrations with receipts over HTTP, against ledger event appends in the same run.

One ``trustee server --workers 2`` over SQLite (the server and helpers of :mod:`bench.http`).
A registration is what a SCRAPI client does: ``POST /entries`` with a signed statement (a
distinct Ed25519 statement each time, signed before the timed run), then ``GET`` the
``Location`` it answered for the receipt; it counts once both answered. The baseline is
``POST /v1/ledger/assets/{uuid}/events`` (a device-signed event) on the same server, sent by
the same load generator, so the ratio compares the two ways into the one log, not two
clients. The two take turns in the order events, registrations, registrations, events, so a
drift of the host's speed weighs on both alike.

The load generator is this module run as ``python -m bench.scitt`` (a spec on stdin): two
processes, each with half the connections, the second started a moment after the first so
both workers get connections (see :func:`bench.http._wrk` for why). ``wrk`` cannot follow a
POST with a GET of the location it answered, so neither side uses it here.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cbor2
import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519

from bench.harness import Figure
from bench.http import (
    WORKERS,
    Load,
    cpu_text,
    median_load,
    prepare_storage,
    serve,
    trustee_command,
    workers_cpu_seconds,
)
from bench.ledger import device_asset
from bench.loadgen import build_request, summary
from bench.processes import free_port
from trustee.scitt import CoseKey, decode_sign1, entry_of, parse_key_set, verify_receipt
from trustee.scitt.keys import EDDSA
from trustee.scitt.sign import sign_statement

GOAL = 0.8
STAGGER_SECONDS = 0.05
COSE = "application/cose"


def statements(count: int, tag: str) -> list[bytes]:
    """``count`` distinct statements by one Ed25519 issuer that carries its key (``cnf``)."""
    private = ed25519.Ed25519PrivateKey.generate()
    public = CoseKey.from_public_key(private.public_key())
    return [
        sign_statement(
            json.dumps({"reading": i, "run": tag}).encode(),
            private,
            EDDSA,
            public_key=public,
            issuer="urn:example:bench",
            subject="urn:example:meter",
            content_type="application/json",
        )
        for i in range(count)
    ]


# -- the load generator (its own process) --------------------------------------------------


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes]]:
    head = await reader.readuntil(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return int(head[9:12]), headers


async def _connection(
    spec: dict[str, Any], bodies: list[bytes], stop_at: float, latencies: list[float]
) -> int:
    """Send operations until ``stop_at`` (or the bodies run out); return the failure count."""
    parts = urlsplit(spec["url"])
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    failures = 0
    registering = spec["mode"] == "scitt"
    headers = spec["headers"]
    try:
        while bodies and (started := time.perf_counter()) < stop_at:
            writer.write(build_request(spec["url"], "POST", bodies.pop(), headers))
            status, answered = await _answer(reader)
            if registering:
                if status != 303:
                    failures += 1
                    continue
                location = answered[b"location"].decode("latin-1")
                url = f"{parts.scheme}://{parts.netloc}{location}"
                writer.write(build_request(url, "GET", b"", {}))
                status, answered = await _answer(reader)
            latencies.append(time.perf_counter() - started)
            failures += not 200 <= status < 300
    finally:
        writer.close()
    return failures


async def run_load(spec: dict[str, Any], bodies: list[bytes]) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + spec["seconds"]
    outcomes = await asyncio.gather(
        *(_connection(spec, bodies, stop_at, latencies) for _ in range(spec["connections"])),
        return_exceptions=True,
    )
    return {
        **summary(latencies, outcomes, time.perf_counter() - started),
        "exhausted": not bodies,
    }


def main() -> int:
    """Read the spec as JSON on stdin (its headers may hold a server token: never on argv)."""
    spec = json.load(sys.stdin)
    bodies = list(reversed(cbor2.loads(Path(spec["bodies"]).read_bytes())))
    print(json.dumps(asyncio.run(run_load(spec, bodies))))
    return 0


# -- the figure -----------------------------------------------------------------------------


def measure(
    mode: str,
    url: str,
    bodies: list[list[bytes]],
    headers: dict[str, str],
    pid: int,
    seconds: float,
    connections: int,
    folder: Path,
    *,
    warmup: bool = False,
) -> Load:
    """One run from two staggered generator processes, each with its own bodies; a warm-up
    may run out of bodies."""
    cpu_before = workers_cpu_seconds(pid)
    processes = []
    for number, share in enumerate(bodies):
        path = folder / f"{mode}-{number}.cbor"
        path.write_bytes(cbor2.dumps(share))
        spec = {
            "mode": mode,
            "url": url,
            "headers": headers,
            "bodies": str(path),
            "connections": connections // len(bodies),
            "seconds": seconds,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.scitt"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(spec))
        process.stdin.close()
        processes.append(process)
        time.sleep(STAGGER_SECONDS)
    results = []
    for process in processes:
        assert process.stdout is not None
        output = process.stdout.read()
        if process.wait():
            raise RuntimeError(f"the {mode} load generator failed with {process.returncode}")
        results.append(json.loads(output.strip().splitlines()[-1]))
    cpu_after = workers_cpu_seconds(pid)
    requests = sum(r["requests"] for r in results)
    failed = sum(r["non2xx"] + r["socket_errors"] for r in results)
    if failed or not requests:
        raise RuntimeError(f"{mode}: failed requests under load: {results}")
    if not warmup and any(r["exhausted"] for r in results):
        raise RuntimeError(f"{mode}: the prepared bodies ran out; prepare more")
    cpu_us = None
    if cpu_before is not None and cpu_after is not None:
        cpu_us = (cpu_after - cpu_before) * 1e6 / requests
    rate = sum(r["requests"] / r["seconds"] for r in results)
    p50 = max(r["p50_ms"] for r in results)
    p99 = max(r["p99_ms"] for r in results)
    return Load(rate, p50, p99, cpu_us, requests)


def _log_size(address: str, headers: dict[str, str]) -> int:
    answer = httpx.get(f"{address}/v1/ledger/log/checkpoint", headers=headers, timeout=30)
    return int(answer.json()["data"]["size"])


def _check_registration(address: str, data: bytes) -> None:
    """One registration answers a receipt that verifies offline, before anything is timed."""
    answer = httpx.post(f"{address}/entries", content=data, headers={"Content-Type": COSE})
    if answer.status_code != 303:
        raise RuntimeError(f"registration refused: {answer.status_code} {answer.content!r}")
    receipt = httpx.get(address + answer.headers["location"]).content
    keys = parse_key_set(httpx.get(f"{address}/.well-known/scitt-keys").content)
    verify_receipt(receipt, entry_of(decode_sign1(data)), keys)


def rates(connections: int, seconds: float, per_run: int) -> tuple[Load, Load]:
    """Median loads of (registrations with receipts, event appends), ``per_run`` bodies per
    generator process and run."""
    with tempfile.TemporaryDirectory(prefix="bench-scitt-") as name:
        folder = Path(name)
        storage, key_file, root, _ = prepare_storage(folder)
        port = free_port()
        command = trustee_command(storage, key_file, port)
        with serve(command, port, "/v1/sys/health", folder / "server.log") as (address, pid):
            headers = {"X-Vault-Token": root, "Content-Type": "application/json"}
            device, asset = device_asset(address, headers)
            events_url = f"{address}/v1/ledger/assets/{asset}/events"
            event = json.dumps({"event_attributes": device.evidence('{"reading": 1}')}).encode()
            _check_registration(address, statements(1, "check")[0])
            scitt_headers = {"Content-Type": COSE}
            order = ("events", "scitt", "scitt", "events")
            loads: dict[str, list[Load]] = {"events": [], "scitt": []}
            for run_number, mode in enumerate(("warmup", *order)):
                if mode == "warmup":  # both workers up, both paths warm
                    warm = [statements(1000, f"warm-{i}") for i in range(2)]
                    for mode, url, bodies, sent in (
                        ("scitt", f"{address}/entries", warm, scitt_headers),
                        ("events", events_url, [[event] * 2000] * 2, headers),
                    ):
                        measure(mode, url, bodies, sent, pid, 1, 8, folder, warmup=True)
                    continue
                before = _log_size(address, headers)
                if mode == "scitt":
                    bodies = [statements(per_run, f"{run_number}-{i}") for i in range(2)]
                    url, sent = f"{address}/entries", scitt_headers
                else:
                    bodies, url, sent = [[event] * per_run] * 2, events_url, headers
                load = measure(mode, url, bodies, sent, pid, seconds, connections, folder)
                appended = _log_size(address, headers) - before
                assert appended >= load.requests, "an acknowledged leaf is not in the log"
                loads[mode].append(load)
    return median_load(loads["scitt"]), median_load(loads["events"])


def run(quick: bool) -> list[Figure]:
    connections, seconds, per_run = (8, 1, 4_000) if quick else (64, 5, 25_000)
    scitt, events = rates(connections, seconds, per_run)
    return [
        Figure(
            f"SCITT registrations with receipts over HTTP ({WORKERS} workers)",
            scitt.rate,
            events.rate,
            GOAL,
            unit="registrations/s",
            note=(
                f"POST /entries then GET the receipt, {connections} connections: p50 "
                f"{scitt.p50_ms:.1f} ms, p99 {scitt.p99_ms:.1f} ms, worker CPU {cpu_text(scitt)}; "
                f"baseline: event appends on the same server, same run: {events.rate:,.0f}/s, "
                f"p50 {events.p50_ms:.1f} ms, worker CPU {cpu_text(events)}"
            ),
        )
    ]


if __name__ == "__main__":
    sys.exit(main())
