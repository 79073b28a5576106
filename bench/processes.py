"""Server processes for the benchmarks: a free loopback port, starting ``trustee server``, and
waiting until one answers."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    port: int, log: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """``trustee server`` on loopback ``port`` with ``args``, its output in ``log``.

    The environment is this one's without TRUSTEE_* and VAULT_* (a developer's shell must not
    change what is measured), plus ``env``.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTEE_", "VAULT_"))}
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "trustee", "server", *args),
                *("--listen", f"127.0.0.1:{port}", "--log-level", "warning"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean | (env or {}),
        )


def wait_answering(
    url: str, process: subprocess.Popen, log: Path, *, status: int | None = 200
) -> None:
    """Return once ``url`` answers (with ``status``, unless None); a process that exits or never
    answers raises with its log, so a failed start says why."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(url, timeout=2)
            if status is None or answer.status_code == status:
                return
        time.sleep(0.1)
    raise TimeoutError(f"no answer from {url} within {STARTUP_SECONDS} s")
