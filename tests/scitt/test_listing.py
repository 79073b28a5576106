"""``GET /v1/scitt/statements``: registered statements newest first, paged with authenticated
tokens, filtered by issuer, under the ACL; on both storage engines."""

from __future__ import annotations

import json
import re
import warnings

import pytest
from scittlib import register as registered_at
from scittlib import root_client, statement

from engines import open_dev_core
from ledgerlib import Device, evidence
from trustee.scitt import decode_sign1
from trustee.scitt.keys import CoseKey
from trustee.scitt.statement import CNF_COSE_KEY, CWT_CNF

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FIELDS = {
    "entry_id",
    "log_index",
    "issuer",
    "subject",
    "content_type",
    "alg",
    "registered_time",
    "key_thumbprint",
}


@pytest.fixture
def client(storage_url: str):
    ready = open_dev_core(storage_url)
    try:
        with root_client(ready) as test_client:
            yield test_client
    finally:
        ready.core.close()


def register(client: TestClient, data: bytes) -> str:
    """Register a statement; its entry id."""
    return registered_at(client, data).rsplit("/", 1)[1]


def listing(client: TestClient, **params: object) -> dict:
    response = client.get("/v1/scitt/statements", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def refused(client: TestClient, status: int, **params: object) -> str:
    response = client.get("/v1/scitt/statements", params=params)
    assert response.status_code == status, response.text
    return " ".join(response.json()["errors"])


def post_event(client: TestClient) -> None:
    device = Device("ES256")
    asset = client.post("/v1/ledger/assets", json={"device_key": device.device_key})
    assert asset.status_code == 200, asset.text
    uuid = asset.json()["data"]["uuid"]
    event = client.post(
        f"/v1/ledger/assets/{uuid}/events", json={"event_attributes": evidence(device, "e")}
    )
    assert event.status_code == 200, event.text


def test_an_empty_service_lists_nothing(client: TestClient) -> None:
    assert listing(client) == {"statements": [], "next_page_token": None}
    assert listing(client, list="true") == {"keys": [], "next_page_token": None}


def test_pages_newest_first_with_every_field(client: TestClient) -> None:
    registered = []
    kinds = ["EdDSA", "ES256", "ES384", "ES256K", "ES256K-kid", "EdDSA", "ES256"]
    for number, kind in enumerate(kinds):
        if number == 3:
            post_event(client)  # events take log indexes between statements
        data = statement(
            kind,
            issuer=f"urn:example:issuer:{number % 2}",
            subject=f"urn:example:subject:{number}",
            content_type="application/spdx+json" if number % 3 else "text/plain",
        )
        registered.append((register(client, data), data, kind, number))

    pages, token = [], None
    while True:
        page = listing(client, page_size=3, **({"next_page_token": token} if token else {}))
        pages.append(page["statements"])
        token = page["next_page_token"]
        if token is None:
            break
    assert [len(page) for page in pages] == [3, 3, 1]
    answered = [item for page in pages for item in page]
    newest_first = list(reversed(registered))
    assert [item["entry_id"] for item in answered] == [entry for entry, *_ in newest_first]
    indexes = [item["log_index"] for item in answered]
    assert indexes == sorted(indexes, reverse=True)
    assert len(set(indexes)) == len(indexes)
    assert indexes[-1] == 0 and 3 not in indexes  # leaf 3 is the asset's event

    for item, (entry_id, data, kind, number) in zip(answered, newest_first, strict=True):
        assert set(item) == FIELDS
        tree_size, log_index = (int(part) for part in entry_id.split("."))
        assert item["log_index"] == log_index and log_index < tree_size
        assert item["issuer"] == f"urn:example:issuer:{number % 2}"
        assert item["subject"] == f"urn:example:subject:{number}"
        assert item["content_type"] == ("application/spdx+json" if number % 3 else "text/plain")
        assert item["alg"] == kind.removesuffix("-kid")
        assert RFC3339.match(item["registered_time"]), item["registered_time"]
        claims = decode_sign1(data).protected[15]
        if kind != "ES256K-kid":
            key = CoseKey.from_map(claims[CWT_CNF][CNF_COSE_KEY])
            assert item["key_thumbprint"] == key.thumbprint().hex()
        else:
            assert re.fullmatch(r"[0-9a-f]{64}", item["key_thumbprint"])
    times = [item["registered_time"] for item in answered]
    assert times == sorted(times, reverse=True)

    keys = listing(client, list="true", page_size=1000)
    assert keys == {"keys": [entry for entry, *_ in newest_first], "next_page_token": None}
    assert client.request("LIST", "/v1/scitt/statements").json()["data"] == keys


def test_a_page_token_continues_below_its_page_whatever_was_registered_since(
    client: TestClient,
) -> None:
    first = [register(client, statement("EdDSA")) for _ in range(4)]
    page = listing(client, page_size=2)
    assert [item["entry_id"] for item in page["statements"]] == first[:1:-1]
    later = register(client, statement("EdDSA"))
    rest = listing(client, page_size=2, next_page_token=page["next_page_token"])
    assert [item["entry_id"] for item in rest["statements"]] == first[1::-1]
    assert rest["next_page_token"] is None
    assert listing(client, page_size=1)["statements"][0]["entry_id"] == later


def test_issuer_filter_travels_in_the_page_token(client: TestClient) -> None:
    mine = [register(client, statement("EdDSA", issuer="urn:a")) for _ in range(3)]
    register(client, statement("EdDSA", issuer="urn:b"))
    page = listing(client, issuer="urn:a", page_size=2)
    assert [item["entry_id"] for item in page["statements"]] == mine[:0:-1]
    token = page["next_page_token"]
    # Without the filter the token continues its own query; with another filter it is refused.
    rest = listing(client, page_size=2, next_page_token=token)
    assert [item["entry_id"] for item in rest["statements"]] == mine[:1]
    assert "other filters" in refused(
        client, 400, page_size=2, next_page_token=token, issuer="urn:b"
    )
    assert listing(client, issuer="urn:nobody")["statements"] == []
    assert "issuer" in refused(client, 400, issuer="x" * 2049)
    assert "more than once" in refused(client, 400, issuer=["urn:a", "urn:b"])


def test_tampered_or_foreign_page_tokens_are_400(client: TestClient) -> None:
    for _ in range(3):
        register(client, statement("EdDSA"))
    token = listing(client, page_size=1)["next_page_token"]
    body, tag = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{flipped}.{tag}", f"{body}.{tag[::-1]}", "garbage", f"{body}.", "é.é"):
        assert "next_page_token" in refused(client, 400, page_size=1, next_page_token=bad)
    # A good token of another listing (the ledger's events) does not continue this one.
    for _ in range(2):
        post_event(client)
    events = client.get("/v1/ledger/assets/-/events", params={"page_size": 1}).json()["data"]
    assert events["next_page_token"]
    assert "next_page_token" in refused(
        client, 400, page_size=1, next_page_token=events["next_page_token"]
    )


@pytest.mark.parametrize("size", ["0", "1001", "-1", "ten", ""])
def test_out_of_range_page_sizes_are_400(client: TestClient, size: str) -> None:
    assert "page_size" in refused(client, 400, page_size=size)


def test_the_acl_guards_the_listing(client: TestClient) -> None:
    register(client, statement("EdDSA"))

    def token_with(policy: dict) -> str:
        name = f"p{abs(hash(json.dumps(policy, sort_keys=True))) % 10**8}"
        created = client.post(f"/v1/sys/policies/acl/{name}", json={"policy": json.dumps(policy)})
        assert created.status_code in (200, 204), created.text
        answer = client.post("/v1/auth/token/create", json={"policies": [name]})
        assert answer.status_code == 200, answer.text
        return answer.json()["auth"]["client_token"]

    def status(token: str | None) -> int:
        headers = {"X-Vault-Token": token} if token else {}
        plain = TestClient(client.app)
        return plain.get("/v1/scitt/statements", headers=headers).status_code

    reader = token_with({"path": {"scitt/statements": {"capabilities": ["read"]}}})
    ledger_only = token_with({"path": {"ledger/*": {"capabilities": ["read", "list"]}}})
    denied = token_with(
        {
            "path": {
                "scitt/*": {"capabilities": ["read"]},
                "scitt/statements": {"capabilities": ["deny"]},
            }
        }
    )
    assert status(reader) == 200
    assert status(ledger_only) == 403
    assert status(denied) == 403
    assert status(None) == 403
    assert status("not-a-token") == 403
