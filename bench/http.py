"""HTTP figures: ``trustee/verify`` and ``claim`` on a 2-worker server, against bare Starlette.

Two real servers run side by side on loopback, started by the same supervisor with the same
uvicorn settings (h11, 2 workers): ``trustee server --workers 2`` over SQLite in a temporary
folder, and :mod:`bench.hello_app`.
Load comes from separate processes: two ``wrk`` when installed, each with half the
connections and one started a moment after the other so both workers get some (see
:func:`_wrk`; a Lua script sets the POST body and prints the figures), else
:mod:`bench.loadgen`. The three targets take turns in every
round, so a burst of other work on this shared machine hits each of them, and the figures are
medians over rounds. The CPU time the workers spent per request (from ``/proc``, on Linux) is
printed beside them: it varies far less with the machine's load than requests per second do.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import Figure
from bench.processes import free_port, wait_answering
from trustee.core import Core
from trustee.secret import Secret

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
CONNECTIONS = 16
STAGGER_SECONDS = 0.05
GOAL = 0.5
CLAIM_BODY = {"audience": "rental-agency", "claims": {"usage": ["knight_rider"]}, "ttl": "1h"}

WRK_SCRIPT = """\
wrk.method = "{method}"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests": %d, "seconds": %f, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_ms": %f, "p99_ms": %f}}\\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass(frozen=True)
class Target:
    """One request, sent over and over: what the load generator needs to know."""

    name: str
    url: str
    server: int  # the supervisor's pid: its children are the workers
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold a token


@dataclass(frozen=True)
class Load:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    cpu_us: float | None  # the workers' CPU time per request
    requests: int = 0  # answered in this run (a median of runs leaves it 0)


def prepare_storage(folder: Path) -> tuple[str, Path, str, str]:
    """An initialised SQLite database with one trustee, its unseal key file, a root token and
    a valid token that trustee issued (the body of every ``trustee/verify`` request)."""
    storage = f"sqlite:///{folder / 'trustee.db'}"
    key_file = folder / "unseal.key"
    core = Core.open(storage)
    try:
        (key,) = core.barrier.initialize(1, 1)  # one share of threshold one is the unseal key
        core.barrier.unseal(Secret(key))
        root = core.tokens.create_root_token().client_token
        core.trustees.create("bench", None)
        jwt = core.trustees.claim(
            "bench", audience="rental-agency", claims={"usage": ["knight_rider"]}
        ).jwt
    finally:
        core.close()
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return storage, key_file, root, jwt


def trustee_command(storage: str, key_file: Path, port: int) -> list[str]:
    """``trustee server`` as every HTTP bench runs it: ``WORKERS`` workers over ``storage``,
    each unsealing itself from ``key_file``."""
    return [
        *(sys.executable, "-m", "trustee", "server", "--storage", storage),
        *("--unseal-key-file", str(key_file), "--workers", str(WORKERS)),
        *("--listen", f"127.0.0.1:{port}", "--log-level", "warning"),
    ]


@contextmanager
def serve(command: list[str], port: int, ready_path: str, log: Path) -> Iterator[tuple[str, int]]:
    """Run a server process until the block ends; yield its address and pid once it answers."""
    address = f"http://127.0.0.1:{port}"
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_answering(address + ready_path, process, log, status=None)
            yield address, process.pid
        finally:
            process.send_signal(signal.SIGTERM)  # the supervisor stops its workers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def measure(
    target: Target,
    seconds: float,
    folder: Path,
    *,
    warmup: bool = False,
    connections: int = CONNECTIONS,
) -> Load:
    """One load run from separate processes; refuses timed runs with errors or non-2xx answers.

    A warm-up may see none: a worker still starting answers nothing for a while.
    """
    cpu_before = workers_cpu_seconds(target.server)
    if shutil.which("wrk"):
        results = _wrk(target, seconds, folder, connections)
    else:
        results = [_loadgen(target, seconds, connections)]
    cpu_after = workers_cpu_seconds(target.server)
    requests = sum(r["requests"] for r in results)
    failed = sum(r["non2xx"] + r["socket_errors"] for r in results)
    if not warmup and (failed or not requests):
        raise RuntimeError(f"{target.name}: failed requests under load: {results}")
    cpu_us = None
    if cpu_before is not None and cpu_after is not None and requests:
        cpu_us = (cpu_after - cpu_before) * 1e6 / requests
    rate = sum(r["requests"] / r["seconds"] for r in results)
    p50 = max(r["p50_ms"] for r in results)
    p99 = max(r["p99_ms"] for r in results)
    return Load(rate, p50, p99, cpu_us, requests)


def _wrk(target: Target, seconds: float, folder: Path, connections: int) -> list[dict[str, Any]]:
    """Half the connections from each of two wrk processes, the second a moment later.

    The workers share one listening socket, and a worker that wakes for a connection accepts
    every one pending (asyncio accepts up to the backlog per wake-up), so connections opened
    in one burst all land on one worker while the other idles: half the capacity, by chance.
    A worker busy with the first burst is not waiting to accept, so the second burst goes to
    the other. Clients that open few long-lived connections at once meet the same thing in
    production; a proxy in front spreads them.
    """
    script = folder / "load.lua"
    headers = "\n".join(
        f'wrk.headers["{name}"] = "{value}"' for name, value in target.headers.items()
    )
    script.touch(mode=0o600)
    script.write_text(WRK_SCRIPT.format(method=target.method, body=target.body, headers=headers))
    half = connections // 2
    command = ["wrk", "-t1", f"-c{half}", f"-d{seconds:g}s", "-s", str(script), target.url]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    time.sleep(STAGGER_SECONDS)
    second = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    outputs = [process.communicate()[0] for process in (first, second)]
    for process in (first, second):
        if process.returncode:
            raise RuntimeError(f"wrk failed with exit code {process.returncode}")
    return [json.loads(output.strip().splitlines()[-1]) for output in outputs]


def _loadgen(target: Target, seconds: float, connections: int) -> dict[str, Any]:
    load = {
        "url": target.url,
        "method": target.method,
        "body": target.body,
        "headers": target.headers,
        "connections": connections,
        "seconds": seconds,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        cwd=ROOT,
        input=json.dumps(load),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def workers_cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of ``pid``'s children so far; None where /proc is missing."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for child in children:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def check(target: Target) -> None:
    """Each target answers 200 (and verify says valid) before any load is timed."""
    response = httpx.request(
        target.method, target.url, content=target.body.encode(), headers=target.headers
    )
    response.raise_for_status()
    if target.name == "trustee/verify" and not response.json()["data"]["valid"]:
        raise RuntimeError(f"the benchmark token does not verify: {response.text}")


def run(quick: bool = False) -> list[Figure]:
    rounds, seconds, warmup = (1, 1, 1) if quick else (4, 3, 2)
    with tempfile.TemporaryDirectory(prefix="trustee-bench-") as name:
        folder = Path(name)
        storage, key_file, root, jwt = prepare_storage(folder)
        trustee_port, hello_port = free_port(), free_port()
        trustee_server = trustee_command(storage, key_file, trustee_port)
        hello_server = [sys.executable, "-m", "bench.hello_app", str(hello_port), str(WORKERS)]
        log = folder / "servers.log"
        with (
            serve(trustee_server, trustee_port, "/v1/sys/health", log) as (trustee, trustee_pid),
            serve(hello_server, hello_port, "/hello", log) as (hello, hello_pid),
        ):
            json_headers = {"Content-Type": "application/json"}
            targets = [
                Target("hello", hello + "/hello", hello_pid),
                Target(
                    "trustee/verify",
                    trustee + "/v1/trustee/verify",
                    trustee_pid,
                    "POST",
                    json.dumps({"token": jwt, "audience": "rental-agency"}),
                    json_headers,
                ),
                Target(
                    "trustee/trustees/:name/claim",
                    trustee + "/v1/trustee/trustees/bench/claim",
                    trustee_pid,
                    "POST",
                    json.dumps(CLAIM_BODY),
                    json_headers | {"X-Vault-Token": root},
                ),
            ]
            for target in targets:
                check(target)
                measure(target, warmup, folder, warmup=True)  # every worker up, caches warm
            loads: dict[str, list[Load]] = {target.name: [] for target in targets}
            for round_number in range(rounds):
                shift = round_number % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    loads[target.name].append(measure(target, seconds, folder))
    summary = {name: median_load(runs) for name, runs in loads.items()}
    generator = "two staggered wrk" if shutil.which("wrk") else "bench.loadgen"
    _print_latencies(summary, generator)
    base = summary["hello"]
    return [
        Figure(
            f"HTTP {name}, {WORKERS} workers",
            summary[name].rate,
            base.rate,
            GOAL,
            unit="req/s",
            note=(
                f"p50 {summary[name].p50_ms:.2f} ms, p99 {summary[name].p99_ms:.2f} ms; "
                f"baseline: Starlette hello, p50 {base.p50_ms:.2f} ms, p99 {base.p99_ms:.2f} ms; "
                f"{CONNECTIONS} connections from {generator}; worker CPU per request "
                f"{cpu_text(summary[name])} (hello {cpu_text(base)})"
            ),
        )
        for name in ("trustee/verify", "trustee/trustees/:name/claim")
    ]


def cpu_text(load: Load) -> str:
    return "-" if load.cpu_us is None else f"{load.cpu_us:,.0f} µs"


def median_load(runs: list[Load]) -> Load:
    cpu = [r.cpu_us for r in runs if r.cpu_us is not None]
    return Load(
        statistics.median(r.rate for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        statistics.median(cpu) if cpu else None,
    )


def _print_latencies(summary: dict[str, Load], generator: str) -> None:
    table = Table(
        title=f"HTTP, {WORKERS} workers, {CONNECTIONS} connections from {generator} (medians)"
    )
    for column in ("route", "req/s", "p50", "p99", "CPU/req"):
        table.add_column(column, justify="left" if column == "route" else "right")
    for name, load in summary.items():
        rate = f"{load.rate:,.0f}"
        table.add_row(name, rate, f"{load.p50_ms:.2f} ms", f"{load.p99_ms:.2f} ms", cpu_text(load))
    Console().print(table)
