"""PostgreSQL stops under a replica and comes back: honest health, 503s, no tracebacks.

A cluster of this test's own (the session's shared one must stay up) serves one replica. While
the cluster is down, every request that needs storage answers 503 with ``Retry-After`` in
Vault's error shape on the same keep-alive connection, ``sys/health`` goes red while
``sys/liveness`` stays green, and the replica's log holds no traceback. When the cluster is
back, health goes green and appends work again, without a restart.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgerlib import Device, evidence
from live_server import LiveServer
from pgcluster import Cluster, controllable_cluster, find_binaries
from replicas import Pair, start_pair

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def outage_pair(tmp_path: Path) -> Iterator[tuple[Cluster, Pair]]:
    if find_binaries() is None:
        pytest.skip("no PostgreSQL binaries on this machine (install postgresql)")
    with controllable_cluster() as cluster:
        pair = start_pair(cluster.url, tmp_path)
        try:
            yield cluster, pair
        finally:
            pair.stop()


def wait_for(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def post(client: httpx.Client, asset: str, device: Device, number: int) -> httpx.Response:
    body = {"event_attributes": evidence(device, f"reading {number}")}
    return client.post(f"/v1/ledger/assets/{asset}/events", json=body)


def test_an_outage_is_503_and_red_health_then_green_again(outage_pair) -> None:
    cluster, pair = outage_pair
    device = Device("ES256K")
    server: LiveServer = pair.a
    with pair.client(server) as client:
        asset = client.post("/v1/ledger/assets", json={"device_key": device.device_key})
        asset_uuid = asset.json()["data"]["uuid"]
        assert post(client, asset_uuid, device, 0).status_code == 200

        cluster.stop()
        wait_for(lambda: client.get("/v1/sys/health").status_code == 503)
        health = client.get("/v1/sys/health").json()
        assert (health["storage"], health["sealed"]) == ("unavailable", False)
        assert client.get("/v1/sys/liveness").status_code == 200
        assert client.get("/v1/sys/health?storagecode=599").status_code == 599
        for answer in (
            post(client, asset_uuid, device, 1),
            client.get("/v1/ledger/log/checkpoint"),
            client.get("/v1/ledger/log/proof/consistency?first=1"),
            client.get(f"/v1/ledger/assets/{asset_uuid}/events"),
            client.request("LIST", "/v1/trustee/trustees"),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["errors"][0].startswith("storage unavailable")
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.headers.get("connection") != "close"

        cluster.start()
        wait_for(lambda: client.get("/v1/sys/health").status_code == 200)
        assert client.get("/v1/sys/health").json()["storage"] == "ok"
        wait_for(lambda: post(client, asset_uuid, device, 2).status_code == 200)
        events = client.get(f"/v1/ledger/assets/{asset_uuid}/events").json()["data"]["events"]
    # Only what was acknowledged (and the retries until one was) is there; nothing was lost.
    assert len(events) >= 2
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    assert 1 <= log.count("storage unavailable (") <= 5, log[-2000:]
