"""Start a real ``trustee server`` process on a free loopback port and stop it gracefully.

:func:`start_ready` gives a server ready for requests on either storage engine: on SQLite the
``--dev`` mode (which is SQLite by design), on PostgreSQL the production path, ``--storage
URL`` then ``sys/init`` and ``sys/unseal`` over HTTP, as an operator would.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """One ``python -m trustee server`` process; ``root`` and ``unseal_key`` once known."""

    root: str
    unseal_key: str | None = None

    def __init__(
        self,
        *args: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], object] | None = None,
    ) -> None:
        """``preexec_fn`` runs in the child before the server starts (to set its rlimits)."""
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trustee",
                "server",
                "--listen",
                f"127.0.0.1:{self.port}",
                *args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env if env is not None else os.environ, PYTHONUNBUFFERED="1"),
            preexec_fn=preexec_fn,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                httpx.get(f"{self.address}/v1/sys/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError("server did not start")

    def initialise_and_unseal(self) -> str:
        """``sys/init`` with one share, ``sys/unseal``; the root token. Also kept as ``root``
        and ``unseal_key``."""
        self.root, self.unseal_key = initialise_and_unseal(self.address)
        return self.root

    def unseal(self, key: str) -> None:
        unseal(self.address, key)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as when a machine or a container dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def initialise_and_unseal(address: str) -> tuple[str, str]:
    """Initialise a new server with one share of one (the share is then the unseal key itself,
    fit for ``--unseal-key-file``) and unseal it; its root token and that key."""
    init = httpx.post(f"{address}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
    init.raise_for_status()
    root, key = init.json()["root_token"], init.json()["keys"][0]
    unseal(address, key)
    return root, key


def unseal(address: str, key: str) -> None:
    answer = httpx.post(f"{address}/v1/sys/unseal", json={"key": key})
    answer.raise_for_status()
    if answer.json()["sealed"]:
        raise RuntimeError("still sealed after the unseal key")


def start_ready(
    storage_url: str,
    log_path: Path,
    *,
    root_token: str,
    env: dict[str, str] | None = None,
) -> LiveServer:
    """A server ready for requests whose root token is ``.root``.

    A SQLite URL starts ``--dev --dev-root-token`` (its own temporary SQLite database: dev mode
    is SQLite); any other URL starts sealed on that storage and is initialised and unsealed
    over HTTP, and ``.root`` is the token ``sys/init`` answered.
    """
    if storage_url.startswith("sqlite"):
        live = LiveServer("--dev", "--dev-root-token", root_token, log_path=log_path, env=env)
        live.root = root_token
        return live
    live = LiveServer("--storage", storage_url, log_path=log_path, env=env)
    try:
        live.initialise_and_unseal()
    except BaseException:
        live.stop()
        raise
    return live
