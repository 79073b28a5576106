"""Idempotency keys on both engines: a retry answers the first record, never a second one."""

import dataclasses
import threading
import warnings

import pytest

from ledgerlib import Device, evidence, open_core
from trustee.errors import AlreadyExists, InvalidRequest
from trustee.ledger import idempotency
from trustee.ledger.service import EventRequest
from trustee.server.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

WHO = {"accessor": "acc", "display_name": "tester"}


@pytest.fixture
def env(storage_url: str):
    core, _ = open_core(storage_url)
    yield core
    core.close()


def request(asset: str, reading: str, key: str | None, **extra) -> EventRequest:
    attributes = {"reading": reading}
    return EventRequest(
        asset, event_attributes=attributes, principal_accepted=WHO, idempotency_key=key, **extra
    )


def test_a_retry_answers_the_first_event_and_appends_nothing(env) -> None:
    service = env.ledger
    asset = service.create_asset({"kind": "meter"}).uuid
    first = service.post_event(request(asset, "1", "k-1"))
    size = service.state()[0]
    # A retry from another caller (another token) is still the same request.
    retry = dataclasses.replace(request(asset, "1", "k-1"), principal_accepted={"accessor": "b"})
    again = service.post_event(retry)
    assert again == first
    assert service.state()[0] == size
    other = service.post_event(request(asset, "1", "k-2"))  # a new key is a new event
    assert (other.uuid, other.log_index) != (first.uuid, first.log_index)
    assert service.state()[0] == size + 1


def test_the_same_key_with_another_request_is_refused(env) -> None:
    service = env.ledger
    asset = service.create_asset({}).uuid
    service.post_event(request(asset, "1", "k"))
    size = service.state()[0]
    with pytest.raises(AlreadyExists, match="another request"):
        service.post_event(request(asset, "2", "k"))
    with pytest.raises(AlreadyExists):
        service.post_event(request(asset, "1", "k", operation="Other"))
    assert service.state()[0] == size
    # Keys are per asset: the same key on another asset is another event.
    elsewhere = service.create_asset({}).uuid
    assert service.post_event(request(elsewhere, "2", "k")).asset_uuid == elsewhere


def test_concurrent_posts_with_one_key_make_one_event(env) -> None:
    """Posts sharing a commit batch, and posts in later batches, all get the first event."""
    service = env.ledger
    asset = service.create_asset({}).uuid
    answers, size = [], service.state()[0]

    def post() -> None:
        answers.append(service.post_event(request(asset, "same", "once")))

    threads = [threading.Thread(target=post) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 16 and len({(a.uuid, a.log_index) for a in answers}) == 1
    assert service.state()[0] == size + 1


def test_keys_are_checked(env) -> None:
    service = env.ledger
    asset = service.create_asset({}).uuid
    for bad in ("", "a b", "x" * 256, "ключ"):
        with pytest.raises(InvalidRequest, match="idempotency key"):
            service.post_event(request(asset, "1", bad))
        with pytest.raises(InvalidRequest, match="idempotency key"):
            service.create_asset({}, idempotency_key=bad)


def test_asset_creation_is_idempotent_too(env) -> None:
    service = env.ledger
    device = Device("EdDSA")
    first = service.create_asset({"name": "boiler"}, device.device_key, idempotency_key="a-1")
    again = service.create_asset({"name": "boiler"}, device.device_key, idempotency_key="a-1")
    assert again == first
    assert service.list_assets()[0].count(first.uuid) == 1
    with pytest.raises(AlreadyExists):
        service.create_asset({"name": "kettle"}, idempotency_key="a-1")


def test_a_key_expires_after_its_window(env) -> None:
    with env.db.begin() as conn:
        idempotency.record(conn, "event:a", "k", b"h" * 32, "first", now=0.0)
    with env.db.connect() as conn:
        assert idempotency.find(conn, "event:a", "k", now=1.0) == (b"h" * 32, "first")
        assert idempotency.find(conn, "event:a", "k", now=idempotency.WINDOW_SECONDS) is None
    later = idempotency.WINDOW_SECONDS + 1.0
    with env.db.begin() as conn:  # an expired key is free again
        idempotency.record(conn, "event:a", "k", b"g" * 32, "second", now=later)
    with env.db.connect() as conn:
        assert idempotency.find(conn, "event:a", "k", now=later) == (b"g" * 32, "second")
    with env.db.begin() as conn:
        assert idempotency.purge(conn, now=later + idempotency.WINDOW_SECONDS) == 1


def test_over_http_with_the_idempotency_key_header(env) -> None:
    device = Device("ES256K")
    with TestClient(create_app(env)) as client:
        client.headers["X-Vault-Token"] = env.tokens.create_root_token().client_token
        body = {"device_key": device.device_key, "attributes": {"n": "1"}}
        key = {"Idempotency-Key": "asset-1"}
        asset = client.post("/v1/ledger/assets", json=body, headers=key).json()["data"]
        assert client.post("/v1/ledger/assets", json=body, headers=key).json()["data"] == asset
        path = f"/v1/ledger/assets/{asset['uuid']}/events"
        event = {"event_attributes": evidence(device)}
        first = client.post(path, json=event, headers={"Idempotency-Key": "e-1"})
        retry = client.put(path, json=event, headers={"Idempotency-Key": "e-1"})
        assert first.status_code == retry.status_code == 200
        assert retry.json()["data"] == first.json()["data"]
        changed = client.post(path, json={}, headers={"Idempotency-Key": "e-1"})
        assert changed.status_code == 409
        assert "another request" in changed.json()["errors"][0]
        bad = client.post(path, json=event, headers={"Idempotency-Key": "a b"})
        assert bad.status_code == 400
        events = client.get(path).json()["data"]["events"]
    assert len(events) == 1
