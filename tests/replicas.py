"""Server replicas over one PostgreSQL database, started the way operators start them."""

import os
from pathlib import Path

import httpx

from live_server import LiveServer


class Pair:
    """Replicas ``a`` and ``b`` over one database, and the root token."""

    def __init__(self, a: LiveServer, b: LiveServer, root: str, key: str) -> None:
        self.a, self.b, self.root, self.key = a, b, root, key
        self.headers = {"X-Vault-Token": root}

    @property
    def both(self) -> tuple[LiveServer, LiveServer]:
        return self.a, self.b

    def client(self, server: LiveServer) -> httpx.Client:
        return httpx.Client(base_url=server.address, headers=self.headers, timeout=60)

    def stop(self) -> None:
        for server in self.both:
            if server.process.poll() is None:
                assert server.stop() == 0


def start_pair(storage_url: str, folder: Path, *, b_from_env: bool = False) -> Pair:
    """A initialised over HTTP and unsealed with its share; B unsealed by the operator's key."""
    a = LiveServer("--storage", storage_url, log_path=folder / "a.log")
    root = a.initialise_and_unseal()
    assert a.unseal_key is not None
    key_file = folder / "unseal.key"
    key_file.touch(mode=0o600)
    key_file.write_text(a.unseal_key)  # one share of one is the unseal key itself
    if b_from_env:
        env = dict(os.environ, TRUSTEE_UNSEAL_KEY=a.unseal_key)
        b = LiveServer("--storage", storage_url, log_path=folder / "b.log", env=env)
    else:
        b = LiveServer(
            "--storage", storage_url, "--unseal-key-file", str(key_file), log_path=folder / "b.log"
        )
    health = httpx.get(f"{b.address}/v1/sys/health")
    assert health.status_code == 200, "B did not unseal itself from the operator's key"
    return Pair(a, b, root, a.unseal_key)
