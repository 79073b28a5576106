"""Crash safety: SIGKILL the server while clients post signed events, restart, audit the log.

Every event whose POST was answered 200 must be there after the restart; the log's root must
recompute from its entries with the RFC 9162 reference in `tests/rfc9162.py`, apart from the
product's Merkle code; every acknowledged event's inclusion proof must verify; and appends go on.
"""

import base64
import json
import signal
import threading
import time
from pathlib import Path

import httpx

from ledgerlib import Device, evidence
from live_server import LiveServer
from rfc9162 import leaf as leaf_hash
from rfc9162 import root_of as tree_root
from rfc9162 import verify_inclusion

CLIENTS = 4
LOAD_SECONDS = 1.5


def start(storage_url: str, key_file: Path, log: Path) -> LiveServer:
    return LiveServer("--storage", storage_url, "--unseal-key-file", str(key_file), log_path=log)


def test_kill_9_loses_no_acknowledged_event(empty_storage_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "unseal.key"
    key_file.write_text("")  # not initialised yet: the server starts sealed and waits
    server = start(empty_storage_url, key_file, tmp_path / "first.log")
    init = httpx.post(
        f"{server.address}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}
    ).json()
    share, token = init["keys"][0], init["root_token"]
    httpx.post(f"{server.address}/v1/sys/unseal", json={"key": share}).raise_for_status()
    key_file.write_text(share)  # one share of one is the key itself: restarts unseal alone
    headers = {"X-Vault-Token": token}

    device = Device("ES256K")
    asset = httpx.post(
        f"{server.address}/v1/ledger/assets",
        headers=headers,
        json={"attributes": {"name": "meter"}, "device_key": device.device_key},
    ).json()["data"]["identity"]
    acknowledged: list[dict] = []
    refused: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def post_until_stopped(client_number: int) -> None:
        with httpx.Client(base_url=server.address, headers=headers, timeout=10) as client:
            counter = 0
            while not stop.is_set():
                counter += 1
                text = json.dumps({"client": client_number, "n": counter})
                body = {"event_attributes": evidence(device, text)}
                try:
                    answer = client.post(f"/v1/ledger/{asset}/events", json=body)
                except httpx.HTTPError:
                    return  # the server is gone: this request was never acknowledged
                with lock:
                    if answer.status_code == 200:
                        acknowledged.append(answer.json()["data"])
                    else:
                        refused.append(answer.text)

    threads = [threading.Thread(target=post_until_stopped, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not refused, refused[:3]
    assert len(acknowledged) > 10, "the load never got going"

    restarted = start(empty_storage_url, key_file, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=restarted.address, headers=headers, timeout=30) as client:
            checkpoint = client.get("/v1/ledger/log/checkpoint").json()["data"]
            size, root = checkpoint["size"], bytes.fromhex(checkpoint["root_hash"])
            assert size >= len(acknowledged)

            entries: list[bytes] = []
            while len(entries) < size:
                page = client.get(
                    "/v1/ledger/log/entries", params={"start": len(entries), "end": size}
                ).json()["data"]["entries"]
                assert page, "entries stopped short of the size"
                entries += [base64.b64decode(entry) for entry in page]
            assert tree_root(entries) == root

            by_identity = {json.loads(entry)["identity"]: i for i, entry in enumerate(entries)}
            for event in acknowledged:
                index = event["log_index"]
                assert by_identity[event["identity"]] == index
                stored = client.get(f"/v1/ledger/events/{event['identity'].split('/')[-1]}")
                assert stored.status_code == 200
                proof = client.get(
                    "/v1/ledger/log/proof/inclusion", params={"index": index, "size": size}
                ).json()["data"]
                path = [bytes.fromhex(h) for h in proof["hashes"]]
                assert verify_inclusion(index, size, leaf_hash(entries[index]), path, root)

            after = client.post(
                f"/v1/ledger/{asset}/events", json={"event_attributes": evidence(device, "after")}
            )
            assert after.status_code == 200
            assert after.json()["data"]["log_index"] == size
    finally:
        restarted.stop()
