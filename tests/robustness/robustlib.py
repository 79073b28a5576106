"""A real server that is initialised and unsealed the way operators do it, with an audit log."""

import time
from pathlib import Path

import httpx

from live_server import LiveServer


class OperatedServer:
    """``trustee server --storage ... --audit-file ...``, then ``sys/init`` and ``sys/unseal``
    over HTTP: the shares and the root token exist only in this object."""

    def __init__(self, folder: Path, *extra: str, shares: int = 1, threshold: int = 1) -> None:
        self.folder = folder
        self.audit_path = folder / "audit.log"
        self.live = LiveServer(
            "--storage",
            f"sqlite:///{folder / 'trustee.db'}",
            "--audit-file",
            str(self.audit_path),
            *extra,
            log_path=folder / "server.log",
        )
        self.address = self.live.address
        init = httpx.post(
            f"{self.address}/v1/sys/init",
            json={"secret_shares": shares, "secret_threshold": threshold},
        )
        init.raise_for_status()
        self.shares: list[str] = init.json()["keys"]
        self.root_token: str = init.json()["root_token"]
        self.threshold = threshold
        self.unseal()

    def unseal(self) -> None:
        """Give a threshold of shares, waiting as told when sys/unseal's rate limit says 429."""
        for share in self.shares[: self.threshold]:
            while True:
                answer = httpx.post(f"{self.address}/v1/sys/unseal", json={"key": share})
                if answer.status_code != 429:
                    break
                time.sleep(int(answer.headers["Retry-After"]))
            answer.raise_for_status()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"X-Vault-Token": token or self.root_token}
        return httpx.Client(base_url=self.address, headers=headers, timeout=60)

    def stop(self) -> int:
        return self.live.stop()
