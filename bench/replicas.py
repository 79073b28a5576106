"""Replica figures: ledger appends per second on PostgreSQL, one replica against two.

A replica is a process with its own :class:`~trustee.core.Core` over the shared database; the
log's state row, locked ``FOR UPDATE`` by each append transaction, sequences them.

1. Through the service: each replica process runs client threads posting device-signed events
   (ES256K, signed beforehand, as devices do); the service's group commit turns concurrent
   posts into one transaction per batch. Events per second are counted over all replicas from
   the first start to the last finish.
2. Through HTTP: one ``trustee server --storage postgresql://…`` per replica (auto-unsealed
   from ``TRUSTEE_UNSEAL_KEY``), each loaded by its own :mod:`bench.loadgen` process.

PostgreSQL comes from ``TRUSTEE_BENCH_POSTGRES_URL`` (a server where the user may create
databases), else from a throwaway cluster of the machine's binaries with PostgreSQL's durable
defaults (``fsync`` on); each figure gets a new database. Without either, the figures are
skipped with a note. ``python -m bench.replicas [--quick]`` runs these figures alone.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import Figure, report
from bench.ledger import WHO, Device, device_asset
from bench.processes import free_port, start_server, wait_answering

ROOT = Path(__file__).resolve().parents[1]
GOAL_EVENTS_PER_SECOND = 10_000


# --- PostgreSQL -----------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """A PostgreSQL server URL to make databases in, or None when there is none to be had."""
    given = os.environ.get("TRUSTEE_BENCH_POSTGRES_URL")
    if given:
        yield given
        return
    pgcluster = _pgcluster()
    if pgcluster.find_binaries() is None:
        yield None
        return
    with pgcluster.throwaway_cluster(durable=True) as url:
        yield url


def new_database(server_url: str) -> str:
    return _pgcluster().Databases(server_url).create()


def _pgcluster() -> Any:
    """The test suite's helpers for throwaway clusters and fresh databases."""
    folder = str(ROOT / "tests")
    if folder not in sys.path:
        sys.path.append(folder)
    import pgcluster

    return pgcluster


def initialise(storage_url: str, root_token: str | None = None) -> str:
    """Initialise a new database with one share of one; that share (the unseal key)."""
    from trustee.core import Core

    core = Core.open(storage_url)
    try:
        share = core.barrier.initialize(1, 1)[0]
        if root_token is not None:
            core.tokens.create_root_token(client_token=root_token)
    finally:
        core.close()
    return share


# --- 1. through the service, one process per replica ---------------------------------------


def _replica(
    storage_url: str,
    share: str,
    clients: int,
    per_client: int,
    go: Any,
    results: Any,
) -> None:
    """One replica process: prepare, wait for the others, post, report its timing."""
    from trustee.core import Core
    from trustee.ledger.service import EventRequest
    from trustee.secret import Secret

    core = Core.open(storage_url)
    try:
        core.barrier.unseal(Secret(share))
        service = core.ledger
        device = Device()
        asset = service.create_asset({"name": "meter"}, device.device_key).uuid
        work = [
            [
                EventRequest(
                    asset,
                    event_attributes=device.evidence(f'{{"client": {c}, "reading": {i}}}'),
                    principal_accepted=WHO,
                )
                for i in range(per_client)
            ]
            for c in range(clients)
        ]
        service.post_event(work[0].pop())  # warm: log key, state row, statement caches
        committer = getattr(service, "committer", None)
        before = (committer.batches, committer.items) if committer else (0, 0)
        start = threading.Barrier(clients + 1)

        def client(requests: list[EventRequest]) -> None:
            start.wait()
            for request in requests:
                service.post_event(request)

        threads = [threading.Thread(target=client, args=(w,)) for w in work]
        for thread in threads:
            thread.start()
        go.wait()  # every replica is ready: start together
        start.wait()
        began = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on Linux
        for thread in threads:
            thread.join()
        ended = time.monotonic()
        batches = committer.batches - before[0] if committer else 0
        items = committer.items - before[1] if committer else 0
        results.put((sum(len(w) for w in work), began, ended, batches, items))
    finally:
        core.close()


def service_rate(server_url: str, replicas: int, clients: int, per_client: int) -> dict:
    """Events/s of ``replicas`` processes appending to one new database, and commit sizes."""
    url = new_database(server_url)
    share = initialise(url)
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Barrier(replicas)
    results = spawn.Queue()
    processes = [
        spawn.Process(target=_replica, args=(url, share, clients, per_client, go, results))
        for _ in range(replicas)
    ]
    for process in processes:
        process.start()
    reports = []
    try:
        for _ in range(replicas):
            reports.append(results.get(timeout=900))
    except queue.Empty:
        raise RuntimeError("a replica process did not report") from None
    finally:
        for process in processes:
            process.join(timeout=60)
    count = sum(r[0] for r in reports)
    seconds = max(r[2] for r in reports) - min(r[1] for r in reports)
    batches, items = sum(r[3] for r in reports), sum(r[4] for r in reports)
    _check_log(url, share, expected=count + replicas)
    return {
        "rate": count / seconds,
        "per_commit": items / batches if batches else 1.0,
        "threads": clients,
    }


def _check_log(storage_url: str, share: str, expected: int) -> None:
    """Every append is in the log, at distinct indexes with none missing."""
    from trustee.core import Core
    from trustee.secret import Secret

    core = Core.open(storage_url)
    try:
        core.barrier.unseal(Secret(share))
        size, _ = core.ledger.state()
    finally:
        core.close()
    if size != expected:
        raise AssertionError(f"the log has {size} leaves, {expected} were appended")


# --- 2. through HTTP, one server process per replica --------------------------------------


@contextlib.contextmanager
def servers(storage_url: str, share: str, count: int, folder: Path) -> Iterator[list[str]]:
    """``count`` server processes on one database, unsealed from TRUSTEE_UNSEAL_KEY."""
    started: list[tuple[subprocess.Popen, str, Path]] = []
    try:
        for number in range(count):
            port, log = free_port(), folder / f"server-{number}.log"
            process = start_server(
                port, log, "--storage", storage_url, env={"TRUSTEE_UNSEAL_KEY": share}
            )
            started.append((process, f"http://127.0.0.1:{port}", log))
        for process, address, log in started:
            wait_answering(f"{address}/v1/sys/health", process, log)
        yield [address for _, address, _ in started]
    finally:
        for process, _, _ in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _, _ in started:
            process.wait(timeout=60)


def http_rate(server_url: str, replicas: int, connections: int, seconds: float) -> dict:
    """Events/s posted over HTTP, ``connections`` split evenly over ``replicas`` servers."""
    url, token = new_database(server_url), "bench-" + secrets.token_urlsafe(12)
    share = initialise(url, root_token=token)
    headers = {"X-Vault-Token": token}
    with (
        tempfile.TemporaryDirectory(prefix="bench-replicas-") as folder,
        servers(url, share, replicas, Path(folder)) as addresses,
    ):
        loads = []
        for address in addresses:
            device, asset = device_asset(address, headers)
            loads.append(
                {
                    "url": f"{address}/v1/ledger/assets/{asset}/events",
                    "method": "POST",
                    "body": json.dumps({"event_attributes": device.evidence('{"reading": 1}')}),
                    "headers": {**headers, "Content-Type": "application/json"},
                    "connections": max(1, connections // replicas),
                    "seconds": seconds,
                }
            )
        generators = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in loads
        ]
        for generator, load in zip(generators, loads, strict=True):
            assert generator.stdin is not None
            generator.stdin.write(json.dumps(load))
            generator.stdin.close()
        outcomes = []
        for generator in generators:
            assert generator.stdout is not None
            outcomes.append(json.loads(generator.stdout.read()))
            generator.wait(timeout=seconds + 120)
        size = httpx.get(
            f"{addresses[-1]}/v1/ledger/log/checkpoint", headers=headers, timeout=30
        ).json()["data"]["size"]
    ok = sum(o["requests"] - o["non2xx"] for o in outcomes)
    if size < ok:
        raise AssertionError("an acknowledged event is not in the log")
    return {
        "rate": sum((o["requests"] - o["non2xx"]) / o["seconds"] for o in outcomes),
        "errors": sum(o["non2xx"] + o["socket_errors"] for o in outcomes),
        "p50_ms": max(o["p50_ms"] for o in outcomes),
    }


# --- figures --------------------------------------------------------------------------------


def run(quick: bool) -> list[Figure]:
    """The replica figures, or none (with a note) when no PostgreSQL can be had."""
    clients, per_client = (4, 25) if quick else (32, 400)
    connections, seconds = 32, 5.0
    with postgres_server() as server_url:
        if server_url is None:
            Console().print(
                "replica figures skipped: no PostgreSQL (install it or set "
                "TRUSTEE_BENCH_POSTGRES_URL)"
            )
            return []
        one = service_rate(server_url, 1, clients, per_client)
        two = service_rate(server_url, 2, clients, per_client)
        # Server processes take seconds to start: a quick run leaves HTTP to the full run.
        http = None if quick else [http_rate(server_url, n, connections, seconds) for n in (1, 2)]
    commits = f"{one['per_commit']:.0f} and {two['per_commit']:.0f} events per commit"
    table = Table(title="ledger appends on PostgreSQL: 1 replica against 2 (events/s)")
    for column in ("path", "1 replica", "2 replicas", "detail"):
        table.add_column(column, justify="left" if column in ("path", "detail") else "right")
    table.add_row(
        "service, group commit",
        f"{one['rate']:,.0f}",
        f"{two['rate']:,.0f}",
        f"{clients} client threads per replica; {commits}",
    )
    if http is not None:
        table.add_row(
            "HTTP",
            f"{http[0]['rate']:,.0f}",
            f"{http[1]['rate']:,.0f}",
            f"{connections} connections in all; p50 {http[0]['p50_ms']:.1f} / "
            f"{http[1]['p50_ms']:.1f} ms; {http[0]['errors'] + http[1]['errors']} errors",
        )
    Console().print(table)
    figures = [
        Figure(
            "ledger appends, 2 replicas (PostgreSQL, group commit)",
            two["rate"],
            None,
            GOAL_EVENTS_PER_SECOND,
            unit="events/s",
            note=f"1 replica: {one['rate']:,.0f}/s; {clients} client threads per replica, "
            f"{commits}",
        ),
        Figure(
            "ledger appends, 1 replica (PostgreSQL, group commit)",
            one["rate"],
            None,
            1,
            unit="events/s",
            note="context for the figure above; no goal",
        ),
    ]
    if http is not None:
        figures.append(
            Figure(
                "ledger appends over HTTP, 2 replicas (PostgreSQL)",
                http[1]["rate"],
                None,
                1,
                unit="events/s",
                note=f"1 replica: {http[0]['rate']:,.0f}/s; {connections} connections in all, "
                f"p50 {http[1]['p50_ms']:.1f} ms, {http[1]['errors']} errors; no goal",
            )
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    passed = report(figures, None)
    return 0 if passed or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
