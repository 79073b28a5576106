"""Connections are bounded: slow heads and idle connections are cut, running out of descriptors
logs a line rather than a storm, and the access log never prints a token from a query string.

Every test runs a real ``trustee server --dev`` on loopback and speaks raw TCP to it. Each loop
has a deadline, so a server that never closes a connection fails the test instead of hanging it.
"""

import asyncio
import errno
import logging
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live_server import LiveServer
from trustee.server.connections import (
    HEAD_TIMEOUT_SECONDS,
    KEEP_ALIVE_SECONDS,
    MAX_CONNECTIONS,
    RESERVED_DESCRIPTORS,
    DescriptorStormFilter,
)
from trustee.throttle import Throttle

SLOW_CLIENTS = 50
SLOW_HEAD = b"GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
PROMPT_SECONDS = 1.0
"""A fresh client's answer during an attack: generous for a loaded two-core machine, far
below any timeout."""
LATE_SECONDS = 3.0
"""How long after its deadline a connection may still be open."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer("--dev", log_path=tmp_path_factory.mktemp("connections") / "server.log")
    yield live
    live.stop()


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server closed ``sock``; reads (and drops) whatever it sent before that."""
    try:
        while data := sock.recv(65536):
            del data
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_closed(sockets: list[socket.socket], deadline: float) -> dict[int, float]:
    """When each socket (by index) was closed by the server, polling until ``deadline``."""
    closed: dict[int, float] = {}
    while len(closed) < len(sockets) and time.monotonic() < deadline:
        for index, sock in enumerate(sockets):
            if index not in closed and closed_by_peer(sock):
                closed[index] = time.monotonic()
        time.sleep(0.05)
    return closed


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    return sock


def read_response(sock: socket.socket, timeout: float = 5) -> bytes:
    """One whole response with a ``Content-Length`` from a non-blocking socket."""
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        head, _, body = data.partition(b"\r\n\r\n")
        if _ and len(body) >= int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]):
            return data
        try:
            data += sock.recv(65536)
        except BlockingIOError:
            time.sleep(0.01)
    raise TimeoutError(f"no whole response: {data!r}")


def answer_time(address: str) -> float:
    start = time.monotonic()
    assert httpx.get(f"{address}/v1/sys/health", timeout=10).status_code == 200
    return time.monotonic() - start


def slow_upload(port: int, seconds: int, result: list[bytes]) -> None:
    """A request whose head is sent at once and whose body takes ``seconds``: never cut."""
    body = b'{"token": "x"' + b" " * seconds + b"}"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/trustee/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for index in range(len(body)):
            sock.sendall(body[index : index + 1])
            if body[index : index + 1] == b" ":
                time.sleep(1)
        result.append(sock.recv(65536))


def test_slow_heads_are_cut_and_fresh_clients_are_served(server: LiveServer) -> None:
    upload_seconds = int(HEAD_TIMEOUT_SECONDS) + 2
    uploaded: list[bytes] = []
    upload = threading.Thread(target=slow_upload, args=(server.port, upload_seconds, uploaded))
    upload.start()
    opened = time.monotonic()
    slow = [connect(server.port) for _ in range(SLOW_CLIENTS)]
    for sock in slow:
        sock.sendall(SLOW_HEAD)
    closed: dict[int, float] = {}
    answers: list[float] = []
    deadline = opened + HEAD_TIMEOUT_SECONDS + LATE_SECONDS
    second = 0
    try:
        while len(closed) < SLOW_CLIENTS and time.monotonic() < deadline:
            for index, sock in enumerate(slow):
                if index in closed:
                    continue
                try:
                    sock.send(b"a")  # one byte a second: a head that never ends
                except OSError:
                    closed[index] = time.monotonic()
                    continue
                if closed_by_peer(sock):
                    closed[index] = time.monotonic()
            if second % 3 == 1:
                answers.append(answer_time(server.address))
            second += 1
            time.sleep(max(0.0, opened + second - time.monotonic()))
    finally:
        for sock in slow:
            sock.close()
        upload.join(timeout=upload_seconds + 10)
    assert answers and max(answers) < PROMPT_SECONDS, answers
    assert len(closed) == SLOW_CLIENTS, f"{SLOW_CLIENTS - len(closed)} slow heads still open"
    lifetimes = sorted(at - opened for at in closed.values())
    assert lifetimes[0] > HEAD_TIMEOUT_SECONDS - 1, lifetimes
    assert uploaded and uploaded[0].startswith(b"HTTP/1.1 200 "), uploaded


def test_idle_connections_are_closed(server: LiveServer) -> None:
    fresh = connect(server.port)  # never says anything
    served = connect(server.port)  # one request, then silence
    served.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response(served).startswith(b"HTTP/1.1 200 ")
    start = time.monotonic()
    try:
        closed = wait_closed([fresh, served], start + KEEP_ALIVE_SECONDS + LATE_SECONDS)
    finally:
        fresh.close()
        served.close()
    assert set(closed) == {0, 1}, "an idle connection was kept"
    for at in closed.values():
        assert at - start > KEEP_ALIVE_SECONDS - 1  # not cut before its time either


def test_access_log_redacts_tokens_in_query_strings(server: LiveServer) -> None:
    query = "X-Vault-Token=SECRETVALUE1&access_token=SECRETVALUE2&token=SECRETVALUE3&standbyok=true"
    assert httpx.get(f"{server.address}/v1/sys/health?{query}").status_code == 200
    expected = (
        "/v1/sys/health?X-Vault-Token=[redacted]&access_token=[redacted]&token=[redacted]"
        "&standbyok=true"
    )
    deadline = time.monotonic() + 5
    while expected not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert expected in server.log()
    assert "SECRETVALUE" not in server.log()


DESCRIPTORS = 256
IDLE_CLIENTS = 400


def low_descriptor_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


def test_out_of_descriptors_logs_little_and_recovers(tmp_path: Path) -> None:
    live = LiveServer("--dev", log_path=tmp_path / "server.log", preexec_fn=low_descriptor_limit)
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE_CLIENTS):  # more than the server has descriptors
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", live.port))
            idle.append(sock)
        time.sleep(1)
        deadline = time.monotonic() + KEEP_ALIVE_SECONDS + 2 * LATE_SECONDS
        status = None
        while status != 200 and time.monotonic() < deadline:
            try:
                status = httpx.get(f"{live.address}/v1/sys/health", timeout=1).status_code
            except httpx.HTTPError:
                status = None
            time.sleep(0.25)
    finally:
        for sock in idle:
            sock.close()
        live.stop()
    lines = live.log().splitlines()
    assert len(lines) < 50, f"{len(lines)} lines, from:\n" + "\n".join(lines[:20])
    assert "Traceback" not in live.log()
    assert status == 200, "the server did not answer while idle clients held on"


def test_a_throttle_reports_once_per_period_with_what_it_held() -> None:
    now = [100.0]
    throttle = Throttle(10, clock=lambda: now[0])
    assert throttle.due() == 1
    assert [throttle.due() for _ in range(5)] == [None] * 5
    now[0] += 10
    assert throttle.due() == 6


def test_accept_failures_become_one_line(caplog: pytest.LogCaptureFixture) -> None:
    storm = DescriptorStormFilter()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addFilter(storm)
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(1000):  # as asyncio logs them: each with a traceback
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, os.strerror(errno.EMFILE)),
                    }
                )
            loop.call_exception_handler({"message": "something else"})
    finally:
        loop.close()
        asyncio_logger.removeFilter(storm)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("accept() failed: Too many open files (count 1 since")
    assert messages[1:] == ["something else"]
    assert caplog.records[0].exc_info is None


CAP_PROBE = """
import resource
from trustee.server.connections import connection_cap
print(connection_cap(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.parametrize(
    ("soft", "hard", "cap", "raised"),
    [
        (1024, 1024, 1024 - RESERVED_DESCRIPTORS, 1024),  # a hard limit is never exceeded
        (256, 256, 64, 256),  # a quarter of a tiny limit
        (1024, 4096, MAX_CONNECTIONS, MAX_CONNECTIONS + RESERVED_DESCRIPTORS),  # raised, to need
        (8192, 8192, MAX_CONNECTIONS, 8192),  # never lowered
    ],
)
def test_the_cap_fits_the_descriptor_limit(soft: int, hard: int, cap: int, raised: int) -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < hard:
        pytest.skip(f"this process may not raise its descriptor limit to {hard}")
    probe = subprocess.run(
        [sys.executable, "-c", CAP_PROBE],
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert probe.stdout.split() == [str(cap), str(raised)]
