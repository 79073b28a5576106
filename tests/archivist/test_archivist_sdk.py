"""The DataTrails face driven by the real ``datatrails-archivist`` SDK against a live server:
every SDK call the RKVST signed-records story uses, application registrations, and errors."""

import secrets

import httpx
import pytest
from archivist.archivist import Archivist
from archivist.errors import (
    ArchivistBadRequestError,
    ArchivistDuplicateError,
    ArchivistForbiddenError,
    ArchivistNotFoundError,
    ArchivistUnauthenticatedError,
)

from ledgerlib import Device
from live_server import start_ready

pytestmark = pytest.mark.integration

NOISE = 3
MATCHING = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_storage_url):
    live = start_ready(
        module_storage_url,
        tmp_path_factory.mktemp("log") / "server.log",
        root_token="root-" + secrets.token_hex(8),
    )
    yield live
    assert live.stop() == 0
    assert "Traceback" not in live.log()


@pytest.fixture(scope="module")
def arch(server):
    with Archivist(server.address, server.root, max_time=5) as client:
        yield client


def write_policy(server, name: str, text: str) -> None:
    answer = httpx.put(
        f"{server.address}/v1/sys/policies/acl/{name}",
        headers={"X-Vault-Token": server.root},
        json={"policy": text},
    )
    assert answer.status_code == 204, answer.text


def test_assets_confirm_at_once_and_filter_across_pages(arch) -> None:
    tag = secrets.token_hex(4)
    made = arch.assets.create(attrs={"arc_display_name": f"first {tag}", "batch": tag})
    assert made["confirmation_status"] == "CONFIRMED"
    assert arch.assets.wait_for_confirmation(made["identity"])["identity"] == made["identity"]
    for i in range(MATCHING - 1):
        arch.assets.create(attrs={"arc_display_name": f"{i} {tag}", "batch": tag}, confirm=True)
    for i in range(NOISE):
        arch.assets.create(attrs={"arc_display_name": f"noise {i}", "batch": "other"})
    # The SDK sends only page_token on later pages: the token keeps the filter.
    listed = list(arch.assets.list(attrs={"batch": tag}, page_size=2))
    assert len(listed) == MATCHING
    assert {asset["attributes"]["batch"] for asset in listed} == {tag}
    assert arch.assets.count(attrs={"batch": tag}) == MATCHING
    assert arch.assets.count(props={"confirmation_status": "CONFIRMED"}, attrs={"batch": tag}) == 5
    assert arch.assets.count(props={"confirmation_status": "PENDING"}) == 0
    assert arch.assets.wait_for_confirmed(attrs={"batch": tag}) is True
    found = arch.assets.read_by_signature(attrs={"arc_display_name": f"first {tag}"})
    assert found["identity"] == made["identity"]
    assert arch.assets.read(made["identity"])["attributes"]["batch"] == tag
    with pytest.raises(ArchivistDuplicateError):
        arch.assets.read_by_signature(attrs={"batch": tag})
    with pytest.raises(ArchivistNotFoundError):
        arch.assets.read_by_signature(attrs={"batch": "none such"})


def test_events_list_count_wildcard_and_asset_attributes(arch) -> None:
    tag = secrets.token_hex(4)
    asset = arch.assets.create(attrs={"arc_display_name": f"events {tag}"})
    other = arch.assets.create(attrs={"arc_display_name": f"other {tag}"})
    props = {"operation": "Record", "behaviour": "RecordEvidence"}
    for i in range(MATCHING):
        event = arch.events.create(
            asset["identity"], props, {"trip": tag, "i": str(i)}, confirm=True
        )
        assert event["confirmation_status"] == "CONFIRMED"
        assert event["asset_identity"] == asset["identity"]
    arch.events.create(other["identity"], props, {"trip": tag}, asset_attrs={"colour": "red"})
    arch.events.create(other["identity"], props, {"trip": "elsewhere"})
    assert arch.events.count(asset_id=asset["identity"]) == MATCHING
    mine = list(arch.events.list(asset_id=asset["identity"], attrs={"i": "3"}))
    assert [event["event_attributes"]["i"] for event in mine] == ["3"]
    # '-': every asset's events, the filter kept across pages.
    everywhere = list(arch.events.list(attrs={"trip": tag}, page_size=2))
    assert len(everywhere) == MATCHING + 1
    assert arch.events.count(attrs={"trip": tag}) == MATCHING + 1
    assert arch.assets.read(other["identity"])["attributes"]["colour"] == "red"
    read = arch.events.read(mine[0]["identity"])
    assert read == {**mine[0], "tenant_identity": read["tenant_identity"]}
    assert read["timestamp_committed"] and read["principal_accepted"]["subject"]


def test_applications_and_client_credentials(server, arch) -> None:
    write_policy(
        server,
        "archivist-reader",
        'path "archivist/v2/assets" { capabilities = ["list"] }\n'
        'path "archivist/v2/assets/+" { capabilities = ["read"] }\n',
    )
    app = arch.applications.create_from_data(
        {
            "display_name": "reader",
            "custom_claims": {"team": "audit"},
            "policies": ["archivist-reader"],
        }
    )
    client_id, secret = app["client_id"], app["credentials"][0]["secret"]
    assert "secret" not in arch.applications.read(app["identity"])["credentials"][0]
    assert [a["identity"] for a in arch.applications.list(display_name="reader")] == [
        app["identity"]
    ]
    renamed = arch.applications.update(app["identity"], display_name="auditor")
    assert renamed["display_name"] == "auditor" and renamed["custom_claims"] == {"team": "audit"}
    with Archivist(server.address, (client_id, secret)) as bot:
        assert bot.assets.count() >= 1
        with pytest.raises(ArchivistForbiddenError):  # a path its policy does not grant
            bot.assets.create(attrs={"arc_display_name": "not allowed"})
    fresh = arch.applications.regenerate(app["identity"])["credentials"][0]["secret"]
    with pytest.raises(ArchivistUnauthenticatedError):  # the old secret stopped at once
        Archivist(server.address, (client_id, secret)).assets.count()
    with Archivist(server.address, (client_id, fresh)) as bot:
        assert bot.assets.count() >= 1
    with pytest.raises(ArchivistBadRequestError):  # never root
        arch.applications.create_from_data({"display_name": "x", "policies": ["root"]})
    arch.applications.delete(app["identity"])
    with pytest.raises(ArchivistNotFoundError):
        arch.applications.read(app["identity"])
    with pytest.raises(ArchivistUnauthenticatedError):
        Archivist(server.address, (client_id, fresh)).assets.count()


def test_errors_in_datatrails_shape(server, arch) -> None:
    with pytest.raises(ArchivistNotFoundError):
        arch.assets.read("assets/00000000-0000-0000-0000-000000000000")
    with pytest.raises(ArchivistNotFoundError):
        arch.events.create("assets/none", {"operation": "Record"}, {"arc_description": "x"})
    with pytest.raises(ArchivistUnauthenticatedError):
        Archivist(server.address, "not-a-token").assets.count()
    answer = httpx.get(f"{server.address}/archivist/v2/assets/none")
    assert answer.status_code == 401
    assert answer.json() == {"code": 16, "message": "no bearer token", "details": []}
    bad = httpx.post(
        f"{server.address}/archivist/v2/assets",
        headers={"Authorization": f"Bearer {server.root}"},
        json={"attributes": {"arc_evidence_signing_pubkey": "not a key"}},
    )
    assert bad.status_code == 400 and bad.json()["code"] == 3
    filtered = httpx.get(
        f"{server.address}/archivist/v2/assets?flavour=x",
        headers={"Authorization": f"Bearer {server.root}"},
    )
    assert filtered.status_code == 400  # an unknown filter is refused, never ignored


def test_one_ledger_for_both_faces(server, arch) -> None:
    """A key named the DataTrails way and an event posted through this face are the ledger's:
    /v1 shows the same key history and verdict, and its listings keep their query too."""
    device = Device("ES256")
    asset = arch.assets.create(
        attrs={"arc_display_name": "p256", "arc_evidence_signing_pubkey": device.key_forms()["pem"]}
    )
    text = "reading " + secrets.token_hex(4)
    for _ in range(3):  # the sample's padded form and JOSE's unpadded one
        signature = device.sign(text)
        for form in (signature, signature + "=" * (-len(signature) % 4)):
            arch.events.create(
                asset["identity"],
                {"operation": "Record", "behaviour": "RecordEvidence"},
                {"arc_evidence": text, "arc_evidence_signature": form},
            )
    uuid = asset["identity"].removeprefix("assets/")
    v1 = httpx.Client(base_url=f"{server.address}/v1/", headers={"X-Vault-Token": server.root})
    verdicts = v1.get(f"ledger/assets/{uuid}/verify").json()["data"]
    assert [event["status"] for event in verdicts["events"]] == ["GOOD"] * 6
    history = v1.get(f"ledger/assets/{uuid}").json()["data"]["key_history"]
    assert history == arch.assets.read(asset["identity"])["trustee_key_history"]
    first = v1.get(
        "ledger/assets/-/events", params={"event_attributes.arc_evidence": text, "page_size": 1}
    ).json()["data"]
    assert len(first["events"]) == 1
    more = v1.get("ledger/assets/-/events", params={"page_token": first["next_page_token"]})
    assert more.status_code == 200
    rest = more.json()["data"]["events"]
    assert len(rest) == 5
    assert {event["event_attributes"]["arc_evidence"] for event in rest} == {text}
    widened = v1.get(
        "ledger/assets/-/events",
        params={"page_token": first["next_page_token"], "operation": "Other"},
    )
    assert widened.status_code == 400


def test_openapi_documents_the_hot_event_post(server) -> None:
    """The gate serves event posts ahead of FastAPI; the document must still show them."""
    document = httpx.get(f"{server.address}/archivist/openapi.json").json()
    operation = document["paths"]["/archivist/v2/assets/{asset}/events"]["post"]
    assert "PostEvent" in str(operation["requestBody"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])


def test_token_exchange_rate_limit_answers_429_with_retry_after(server) -> None:
    """Guessing client secrets is throttled, and the refusal is DataTrails-shaped."""
    form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    url = f"{server.address}/archivist/iam/v1/appidp/token"
    with httpx.Client() as client:
        answers = [client.post(url, data=form) for _ in range(40)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited, [answer.status_code for answer in answers]
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert set(limited[0].json()) == {"code", "message", "details"}
    assert {answer.status_code for answer in answers} <= {401, 429}


def test_count_with_only_a_page_token_counts_the_tokens_query(server, arch) -> None:
    """A later page asks about the same listing: its X-Total-Count is the token's query's,
    not the count of everything."""
    tag = secrets.token_hex(4)
    for i in range(3):
        arch.assets.create(attrs={"arc_display_name": f"counted {i}", "batch": tag})
    asset = arch.assets.create(attrs={"arc_display_name": "one more"})
    for _ in range(3):
        arch.events.create(asset["identity"], {"operation": "Record"}, {"batch": tag})
    arch.events.create(asset["identity"], {"operation": "Record"}, {"batch": "other"})
    client = httpx.Client(
        base_url=f"{server.address}/archivist/v2/",
        headers={"Authorization": f"Bearer {server.root}", "X-Request-Total-Count": "true"},
    )
    for path, query in (
        ("assets", "attributes.batch"),
        ("assets/-/events", "event_attributes.batch"),
    ):
        first = client.get(path, params={query: tag, "page_size": 1})
        assert first.headers["X-Total-Count"] == "3"
        later = client.get(path, params={"page_token": first.json()["next_page_token"]})
        assert later.status_code == 200
        assert later.headers["X-Total-Count"] == "3", path
