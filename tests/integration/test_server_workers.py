"""``trustee server --workers 2``: every worker unseals itself and serves the one storage.

Seal state lives in each process, so several workers need the unseal key at start (shares sent
to ``sys/unseal`` would reach one worker only); without it the command refuses to start.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from live_server import LiveServer
from trustee.client import Client
from trustee.core import Core
from trustee.secret import Secret
from trustee.server.connections import KEEP_ALIVE_SECONDS

pytestmark = pytest.mark.integration


class Workers(LiveServer):
    """A ``--workers`` server: slower to start than one process on a busy machine, and stopped
    (the supervisor ends its workers) rather than leaked when it never gets ready."""

    def wait_ready(self, timeout: float = 120) -> None:
        try:
            super().wait_ready(timeout)
        except BaseException:
            self.stop()
            raise


def prepared_storage(folder: Path) -> tuple[str, Path, str]:
    """An initialised SQLite storage, the file of its unseal key, and its root token."""
    storage = f"sqlite:///{folder / 'trustee.db'}"
    core = Core.open(storage)
    try:
        (key,) = core.barrier.initialize(1, 1)
        core.barrier.unseal(Secret(key))
        root = core.tokens.create_root_token().client_token
    finally:
        core.close()
    key_file = folder / "unseal.key"
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return storage, key_file, root


def exercise(address: str, root: str) -> None:
    """Claims and verifications on fresh connections, so that both workers take some."""
    with Client(address, root) as client:
        client.create_trustee("alice")
    for _ in range(12):
        with Client(address, root) as client:
            jwt = client.claim("alice", audience="agency")["jwt"]
        verdict = {"token": jwt, "audience": "agency"}
        answer = httpx.post(f"{address}/v1/trustee/verify", json=verdict)
        assert answer.status_code == 200 and answer.json()["data"]["valid"], answer.text


def test_workers_unseal_from_the_key_file(tmp_path: Path) -> None:
    storage, key_file, root = prepared_storage(tmp_path)
    server = Workers(
        "--storage", storage, "--unseal-key-file", str(key_file), "--workers", "2",
        log_path=tmp_path / "server.log",
    )  # fmt: skip
    try:
        exercise(server.address, root)
    finally:
        status = server.stop()
    assert status == 0, server.log()
    # the parent's check that the key opens the barrier, then each worker on its own
    assert server.log().count("unsealed with the operator-provided key") == 3


def test_dev_workers_share_one_storage(tmp_path: Path) -> None:
    server = Workers(
        "--dev", "--dev-root-token", "root", "--workers", "2", log_path=tmp_path / "server.log"
    )
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    opened = time.monotonic()
    try:
        exercise(server.address, "root")
        for _ in range(4):  # fresh connections, so both workers log some
            httpx.get(f"{server.address}/v1/sys/health?access_token=SECRETVALUE")
        # every worker runs the bounded protocol: a connection that never speaks is closed
        idle.settimeout(max(0.1, opened + KEEP_ALIVE_SECONDS + 5 - time.monotonic()))
        assert idle.recv(1) == b""
    finally:
        idle.close()
        status = server.stop()
    assert status == 0, server.log()
    assert "access_token=[redacted]" in server.log()
    assert "SECRETVALUE" not in server.log()


def test_workers_refuse_to_start_sealed(tmp_path: Path) -> None:
    storage, _key_file, _root = prepared_storage(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TRUSTEE_UNSEAL_KEY"}
    completed = subprocess.run(
        [sys.executable, "-m", "trustee", "server", "--storage", storage, "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env | {"COLUMNS": "200"},
        check=False,
    )
    assert completed.returncode == 2
    assert "every worker must unseal itself" in completed.stderr
