"""Two server processes on one PostgreSQL database: one log, one set of used jtis and nonces.

Replica A is unsealed with its share over HTTP; replica B starts with ``--unseal-key-file``
(the kill test's B reads ``TRUSTEE_UNSEAL_KEY``). Clients spread signed events over both, and
everything the replicas answer is checked here with code independent of trustee's own:
RFC 9162 tree hashes, inclusion and consistency verification (§2.1), and the checkpoint's
C2SP signed-note signature with the ``cryptography`` package.
"""

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import coincurve
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eth_account import Account
from eth_account.messages import encode_defunct

from ledgerlib import Device, evidence
from live_server import LiveServer
from replicas import Pair, start_pair
from rfc9162 import leaf as leaf_hash
from rfc9162 import root_of as tree_root
from rfc9162 import verify_consistency, verify_inclusion
from trustee.auth.siwe_message import SiweMessage, format_message, rfc3339
from trustee.tokens import issue_token

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

CLIENTS = 8
EVENTS = 2000


def verify_checkpoint(note: str, verifier_key: str) -> tuple[int, bytes]:
    """A C2SP signed note under an Ed25519 verifier key ``name+hexid+base64(0x01‖key)``;
    returns the checkpoint's size and root once its signature verifies."""
    name, key_id, encoded = verifier_key.split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01 and len(raw) == 33
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    for line in signatures.splitlines():
        dash, signer, blob = line.split(" ")
        signature = base64.b64decode(blob)
        if dash == "\u2014" and signer == name and signature[:4] == bytes.fromhex(key_id):
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(signature[4:], body.encode())
            _origin, size, root = body.splitlines()[:3]
            return int(size), base64.b64decode(root)
    raise AssertionError("no signature by the log's key")


# --- two replicas ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(postgres_databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    url = postgres_databases.create()
    started = start_pair(url, tmp_path_factory.mktemp("replicas"))
    try:
        yield started
    finally:
        started.stop()
        for server in started.both:
            assert started.root not in server.log() and started.key not in server.log()
        postgres_databases.drop(url)


def create_asset(client: httpx.Client, device: Device) -> str:
    """A new asset with ``device``'s key; the path its events are posted to."""
    answer = client.post(
        "/v1/ledger/assets", json={"attributes": {"kind": "meter"}, "device_key": device.device_key}
    )
    assert answer.status_code == 200, answer.text
    return f"/v1/ledger/assets/{answer.json()['data']['uuid']}"


def read_entries(pair: Pair, servers: list[LiveServer], size: int) -> list[bytes]:
    """The log's leaves ``[0, size)``, a page (up to 1000) at a time from each server in turn."""
    entries: list[bytes] = []
    while len(entries) < size:
        with pair.client(servers[len(entries) // 1000 % len(servers)]) as client:
            page = client.get(
                "/v1/ledger/log/entries", params={"start": len(entries), "end": size}
            ).json()["data"]["entries"]
        assert page, "entries stopped short of the size"
        entries += [base64.b64decode(entry) for entry in page]
    return entries


def test_two_replicas_append_to_one_log(pair: Pair) -> None:
    devices = [Device("ES256K") for _ in range(CLIENTS)]
    with pair.client(pair.a) as client:
        assets = [create_asset(client, device) for device in devices]
        log_key = client.get("/v1/ledger/log/public-key").json()["data"]["key"]
    acknowledged: list[dict] = []
    failures: list[str] = []
    lock = threading.Lock()
    halfway = threading.Event()
    midway: dict[str, str] = {}

    def post(number: int) -> None:
        clients = [pair.client(server) for server in pair.both]
        try:
            for n in range(EVENTS // CLIENTS):
                text = json.dumps({"client": number, "n": n})
                answer = clients[(number + n) % 2].post(
                    f"{assets[number]}/events",
                    json={"event_attributes": evidence(devices[number], text)},
                )
                with lock:
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text}")
                        continue
                    acknowledged.append(answer.json()["data"])
                    if len(acknowledged) >= EVENTS // 2:
                        halfway.set()
        finally:
            for client in clients:
                client.close()

    def take_midway_checkpoint() -> None:
        # Under load, from B, while A and B keep appending.
        halfway.wait()
        with pair.client(pair.b) as client:
            midway.update(client.get("/v1/ledger/log/checkpoint").json()["data"])

    watcher = threading.Thread(target=take_midway_checkpoint)
    watcher.start()
    threads = [threading.Thread(target=post, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    halfway.set()  # (already set unless the load failed)
    watcher.join()
    assert failures[:3] == []
    assert len(acknowledged) == EVENTS

    # Both replicas serve the same checkpoint, and it signs the whole log.
    checkpoints = []
    for server in pair.both:
        with pair.client(server) as client:
            checkpoints.append(client.get("/v1/ledger/log/checkpoint").json()["data"])
    assert checkpoints[0] == checkpoints[1]
    final = checkpoints[0]
    size, root = verify_checkpoint(final["checkpoint"], log_key)
    assert size == final["size"] == EVENTS
    assert root.hex() == final["root_hash"]

    # Exactly the acknowledged events, each at the index it was answered with: no gap, no twin.
    entries = read_entries(pair, list(pair.both), size)
    assert tree_root(entries) == root
    records = [json.loads(entry) for entry in entries]
    assert [record["log_index"] for record in records] == list(range(EVENTS))
    by_identity = {record["identity"]: record for record in records}
    assert len(by_identity) == EVENTS
    for event in acknowledged:
        assert by_identity[event["identity"]]["log_index"] == event["log_index"]
        assert by_identity[event["identity"]] == event

    # Every event's inclusion proof verifies: all of them from the assets' audit bundles (each
    # bundle from either replica), and every seventh index from the proof endpoint as well.
    proven = set()
    for number, asset in enumerate(assets):
        with pair.client(pair.both[number % 2]) as client:
            bundle = client.get(f"{asset}/bundle").json()["data"]
        assert (bundle["size"], bundle["root_hash"]) == (size, root.hex())
        for event in bundle["events"]:
            index, path = event["log_index"], [bytes.fromhex(h) for h in event["inclusion_proof"]]
            assert base64.b64decode(event["entry"]) == entries[index]
            assert verify_inclusion(index, size, leaf_hash(entries[index]), path, root), index
            proven.add(index)
    assert proven == set(range(EVENTS))
    clients = [pair.client(server) for server in pair.both]
    try:
        for index in range(0, size, 7):
            proof = (
                clients[index % 2]
                .get("/v1/ledger/log/proof/inclusion", params={"index": index, "size": size})
                .json()["data"]
            )
            path = [bytes.fromhex(h) for h in proof["hashes"]]
            assert verify_inclusion(index, size, leaf_hash(entries[index]), path, root), index
            assert not verify_inclusion(index, size, leaf_hash(entries[index] + b" "), path, root)
    finally:
        for client in clients:
            client.close()

    # The checkpoint taken midway is a prefix of the final log: a consistency proof links them.
    first, first_root = verify_checkpoint(midway["checkpoint"], log_key)
    assert EVENTS // 2 <= first <= EVENTS
    assert first_root == tree_root(entries[:first])
    for server in pair.both:
        with pair.client(server) as client:
            proof = client.get(
                "/v1/ledger/log/proof/consistency", params={"first": first, "second": size}
            ).json()["data"]
        path = [bytes.fromhex(h) for h in proof["hashes"]]
        assert verify_consistency(first, size, first_root, root, path)
        assert not verify_consistency(first, size, first_root, root[::-1], path)

    # Each replica's verdict on its peer's events: GOOD.
    with pair.client(pair.b) as client:
        counts = client.get(f"{assets[0]}/verify").json()["data"]["counts"]
    assert counts["GOOD"] == EVENTS // CLIENTS and counts["BAD"] == 0


def test_a_jti_used_on_one_replica_is_refused_by_the_other(pair: Pair) -> None:
    party = coincurve.PrivateKey()
    role = {
        "bound_issuers": [],
        "bound_audiences": ["rental-agency"],
        "token_policies": ["renter"],
        "token_ttl": "10m",
    }

    def jwt() -> str:
        return issue_token(party.secret, audience="rental-agency", ttl=600).jwt

    address = issue_token(party.secret).claims["iss"]
    role["bound_issuers"] = [address]
    with pair.client(pair.a) as a, pair.client(pair.b) as b:
        assert a.post("/v1/auth/trustee/role/renter", json=role).status_code == 200
        token = jwt()
        first = a.post("/v1/auth/trustee/login", json={"role": "renter", "jwt": token})
        assert first.status_code == 200, first.text
        replayed = b.post("/v1/auth/trustee/login", json={"role": "renter", "jwt": token})
        assert replayed.status_code == 400
        assert replayed.json()["errors"][0].startswith("login refused: replayed")
        # The token A issued works on B: server tokens are shared too.
        issued = first.json()["auth"]["client_token"]
        me = b.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": issued})
        assert me.status_code == 200

    # The same fresh jti sent to both at once: exactly one replica accepts it.
    for _ in range(10):
        assert sorted(race_logins(pair, jwt())) == [200, 400]


def race_logins(pair: Pair, token: str) -> list[int]:
    """Log in with ``token`` on both replicas at the same moment; the two statuses."""
    statuses: list[int] = []
    start = threading.Barrier(2)

    def login(server: LiveServer) -> None:
        with pair.client(server) as client:
            start.wait()
            body = {"role": "renter", "jwt": token}
            statuses.append(client.post("/v1/auth/trustee/login", json=body).status_code)

    racers = [threading.Thread(target=login, args=(server,)) for server in pair.both]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    return statuses


def test_a_siwe_nonce_spent_on_one_replica_is_refused_by_the_other(pair: Pair) -> None:
    """A wallet's message logs in once across the cluster: its nonce, asked of either replica,
    is spent by the first login, wherever it lands."""
    wallet = Account.create()
    role = {
        "bound_issuers": [wallet.address],
        "bound_domains": ["agency.example"],
        "token_policies": ["renter"],
        "token_ttl": "10m",
    }

    def signed(client: httpx.Client) -> dict[str, str]:
        answer = client.post("/v1/auth/trustee/siwe/nonce", json={"role": "wallets"})
        assert answer.status_code == 200, answer.text
        now = time.time()
        message = format_message(
            SiweMessage(
                domain="agency.example",
                address=wallet.address,
                uri="https://agency.example/login",
                chain_id=1,
                nonce=answer.json()["data"]["nonce"],
                issued_at=rfc3339(now),
                expiration_time=rfc3339(now + 300),
            )
        )
        signature = wallet.sign_message(encode_defunct(text=message)).signature.hex()
        return {"role": "wallets", "message": message, "signature": signature}

    with pair.client(pair.a) as a, pair.client(pair.b) as b:
        assert a.post("/v1/auth/trustee/role/wallets", json=role).status_code == 200
        body = signed(b)  # the nonce comes from B, the login goes to A, the replay to B
        first = a.post("/v1/auth/trustee/siwe/login", json=body)
        assert first.status_code == 200, first.text
        replayed = b.post("/v1/auth/trustee/siwe/login", json=body)
        assert replayed.status_code == 400
        assert replayed.json()["errors"][0].startswith("login refused: replayed")
        issued = first.json()["auth"]["client_token"]
        me = b.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": issued})
        assert me.json()["data"]["meta"]["address"] == wallet.address
        bodies = [signed(a if i % 2 else b) for i in range(10)]

    # The same message sent to both at once: exactly one replica accepts it.
    for body in bodies:
        statuses = race(pair, "/v1/auth/trustee/siwe/login", body)
        assert sorted(statuses) == [200, 400], statuses


def race(pair: Pair, path: str, body: dict[str, str]) -> list[int]:
    """The same request on both replicas at the same moment; the two statuses."""
    statuses: list[int] = []
    start = threading.Barrier(2)

    def send(server: LiveServer) -> None:
        with pair.client(server) as client:
            start.wait()
            statuses.append(client.post(path, json=body).status_code)

    racers = [threading.Thread(target=send, args=(server,)) for server in pair.both]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    return statuses


def test_killing_a_replica_loses_no_acknowledged_event_and_retries_append_once(
    postgres_databases, tmp_path: Path
) -> None:
    """B is killed mid-load; a request in flight on it may have been committed without an
    answer. Each client retries such a request on A with the same idempotency key: the log ends
    with exactly one event per key, and every acknowledged event at its index."""
    url = postgres_databases.create()
    pair = start_pair(url, tmp_path, b_from_env=True)
    try:
        device = Device("ES256K")
        with pair.client(pair.a) as client:
            asset = create_asset(client, device)
        acknowledged: list[dict] = []
        retried: list[str] = []
        failures: list[str] = []
        lock = threading.Lock()
        b_answered = threading.Event()
        b_gone = threading.Event()
        per_client_after_kill = 25  # each client goes on until A acknowledged this many more

        def post(number: int) -> None:
            clients = [pair.client(server) for server in pair.both]
            after_kill = n = 0
            try:
                while after_kill < per_client_after_kill and not failures:
                    n += 1
                    server = 0 if b_gone.is_set() else n % 2
                    text = json.dumps({"client": number, "n": n})
                    body = {"event_attributes": evidence(device, text)}
                    key = {"Idempotency-Key": f"{number}-{n}"}
                    try:
                        answer = clients[server].post(f"{asset}/events", json=body, headers=key)
                    except httpx.HTTPError:
                        # B died under this request, maybe after its commit: retry on A.
                        server = 0
                        answer = clients[0].post(f"{asset}/events", json=body, headers=key)
                        with lock:
                            retried.append(key["Idempotency-Key"])
                    with lock:
                        if answer.status_code != 200:
                            failures.append(f"{answer.status_code} {answer.text}")
                            return
                        acknowledged.append(answer.json()["data"])
                        if server == 1 and len(acknowledged) >= 200:
                            b_answered.set()
                    if server == 0 and b_gone.is_set():
                        after_kill += 1
            finally:
                for client in clients:
                    client.close()

        threads = [threading.Thread(target=post, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        while not b_answered.wait(timeout=1) and any(t.is_alive() for t in threads):
            pass  # the load runs until B has acknowledged events (or has failed)
        pair.b.kill()  # SIGKILL, mid-load: requests in flight on B get no answer
        b_gone.set()
        for thread in threads:
            thread.join()
        assert failures == []
        assert b_answered.is_set(), "B never acknowledged an event before it was killed"

        # Every acknowledged event is in the log at its index; the log has no gap.
        with pair.client(pair.a) as client:
            checkpoint = client.get("/v1/ledger/log/checkpoint").json()["data"]
        size = checkpoint["size"]
        assert size >= len(acknowledged)
        entries = read_entries(pair, [pair.a], size)
        assert tree_root(entries) == bytes.fromhex(checkpoint["root_hash"])
        records = [json.loads(entry) for entry in entries]
        assert [record["log_index"] for record in records] == list(range(size))
        by_identity = {record["identity"]: record for record in records}
        for event in acknowledged:
            assert by_identity[event["identity"]] == event
        texts = [r["event_attributes"]["arc_evidence"] for r in records if r["event_attributes"]]
        assert len(texts) == len(set(texts)), "a retried post was appended twice"
        # A retried request answers the event its first attempt made, if it made one.
        assert len({e["identity"] for e in acknowledged}) == len(acknowledged)

        # A replacement for B unseals from the same key and serves the same checkpoint.
        env = dict(os.environ, TRUSTEE_UNSEAL_KEY=pair.key)
        pair.b = LiveServer("--storage", url, log_path=tmp_path / "b2.log", env=env)
        with pair.client(pair.b) as client:
            assert client.get("/v1/ledger/log/checkpoint").json()["data"] == checkpoint
    finally:
        pair.stop()
        postgres_databases.drop(url)
