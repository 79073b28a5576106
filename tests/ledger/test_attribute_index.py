"""The attribute index never changes an answer: pages, tokens and counts through the index
equal the plain scan's on random data (both engines), whatever part of the log the indexer
has reached; a populated database of the previous schema is indexed in batches, resumably;
paging with filters through both faces."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines import open_dev_core
from trustee.core import Core
from trustee.ledger.canonical import canonical_json
from trustee.ledger.indexer import build_index, index_events
from trustee.ledger.service import EventRequest, LedgerService
from trustee.ledger.terms import IndexState, entry_terms, term
from trustee.storage import open_database
from trustee.storage.migrations import MIGRATIONS
from trustee.storage.schema_ledger import (
    ledger_asset_terms,
    ledger_event_terms,
    ledger_events,
    ledger_index_state,
    ledger_term_segments,
)
from trustee.storage.schema_scitt import scitt_issuers

TERM_ROWS = sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
WHO = {"accessor": "acc", "display_name": "tester"}
KEYS = ["k", "n", "ключ", "🔑 key", "x" * 130]
LONG = "long " * 30

scalars = st.one_of(
    st.sampled_from(["a", "b", "1", "true", "1.5", "ü", "🙂", LONG, LONG + "!", ""]),
    st.text(max_size=6),
    st.integers(-3, 3),
    st.sampled_from([1.0, 1.5, -0.0, 1e21, 2**53 - 1]),
    st.booleans(),
    st.none(),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=2),
    st.dictionaries(st.sampled_from(["b", "a", "é"]), scalars, max_size=2),
)
attribute_maps = st.dictionaries(st.sampled_from(KEYS), values, max_size=3)
events = st.lists(
    st.tuples(
        st.integers(0, 2),  # which asset
        attribute_maps,
        attribute_maps | st.just({}),
        st.sampled_from(["Record", "Attach"]),
        st.sampled_from(["RecordEvidence", "Builtin"]),
    ),
    min_size=1,
    max_size=12,
)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _stored(value: Any) -> Any:
    return orjson.loads(canonical_json({"v": value}))["v"]


@st.composite
def filter_maps(draw: st.DrawFn, seen: list[tuple[str, Any]]) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 2))):
        if seen and draw(st.booleans()):
            key, value = draw(st.sampled_from(seen))
            # the text a client sends (of the value as sent, or as the log gives it back), or
            # a typed value (the Python API)
            chosen[key] = draw(st.sampled_from([value, _text(value), _text(_stored(value))]))
        else:
            chosen[draw(st.sampled_from(KEYS))] = draw(scalars.map(_text) | scalars)
    return chosen


def _all_pages(service: LedgerService, listing: str, size: int, **query: Any) -> list[Any]:
    """Every page of a listing, with its tokens, as the client sees them."""
    pages: list[Any] = []
    token = None
    while True:
        if listing == "events":
            page, token = service.list_events(page_size=size, page_token=token, **query)
            pages.append(([event.uuid for event in page], token))
        else:
            found, token = service.find_assets(page_size=size, page_token=token, **query)
            pages.append(([asset.uuid for asset in found], token))
        if token is None:
            return pages
        # The next pages come with the token alone, as the DataTrails SDK asks for them.
        query = {"asset": query["asset"]} if "asset" in query else {}


def _both(service: LedgerService, run: Any) -> tuple[Any, Any]:
    """``run()`` through the index and through the plain scan."""
    try:
        indexed = run()
    except Exception as exc:  # the same refusal both ways
        indexed = repr(exc)
    service.queries.use_index = service.assets.use_index = False
    try:
        try:
            scanned = run()
        except Exception as exc:
            scanned = repr(exc)
    finally:
        service.queries.use_index = service.assets.use_index = True
    return indexed, scanned


@pytest.fixture
def core(storage_url: str):
    """A core whose indexer thread is stopped: the tests move the marker themselves."""
    dev = open_dev_core(storage_url)
    assert dev.core.ledger.indexer is not None
    dev.core.ledger.indexer.stop()
    yield dev.core
    dev.core.close()


@settings(
    max_examples=int(os.environ.get("INDEX_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), posted=events, asset_maps=st.lists(attribute_maps, min_size=3, max_size=3))
def test_indexed_answers_equal_the_scan(core: Core, data: st.DataObject, posted, asset_maps):
    service = core.ledger
    assets = [service.create_asset(attributes).uuid for attributes in asset_maps]
    requests = [
        EventRequest(
            assets[which],
            event_attributes=event_attributes,
            asset_attributes=asset_attributes,
            operation=operation,
            behaviour=behaviour,
            principal_accepted=WHO,
        )
        for which, event_attributes, asset_attributes, operation, behaviour in posted
    ]
    start = service.state()[0]
    if data.draw(st.booleans()):
        service.post_events(requests)
    else:
        for request in requests:
            service.post_event(request)
    # The indexer has reached some point of the log, in batches of some size: the queries
    # answer from the index below it and from the log above it.
    reached = start + data.draw(st.integers(0, len(requests)))
    build_index(core.db, batch=data.draw(st.integers(1, 5)), until=reached)
    below, _, _ = IndexState(core.db).progress()
    if data.draw(st.booleans()):
        index_events(core.db, batch=data.draw(st.integers(1, 3)))
    assert IndexState(core.db).progress()[0] >= below
    seen_event = [pair for r in requests for pair in r.event_attributes.items()]
    seen_asset = [pair for r in requests for pair in r.asset_attributes.items()]
    seen_assets = [pair for m in asset_maps for pair in m.items()] + seen_asset
    middle = service.read_event(service.list_events(page_size=1)[0][0].uuid).timestamp_accepted

    for _ in range(4):
        query: dict[str, Any] = {
            "attributes": data.draw(filter_maps(seen_event)),
            "asset_attributes": data.draw(filter_maps(seen_asset)),
        }
        if data.draw(st.booleans()):
            query["operation"] = data.draw(st.sampled_from(["Record", "Attach", "Other"]))
        if data.draw(st.booleans()):
            query["behaviour"] = data.draw(st.sampled_from(["RecordEvidence", "Builtin"]))
        if data.draw(st.integers(0, 3)) == 0:
            query[data.draw(st.sampled_from(["since", "before"]))] = middle
        if data.draw(st.booleans()):
            query["asset"] = data.draw(st.sampled_from(assets))
        size = data.draw(st.integers(1, 4))
        indexed, scanned = _both(
            service, lambda size=size, query=query: _all_pages(service, "events", size, **query)
        )
        assert indexed == scanned, query
        asset = query.pop("asset", None)
        indexed, scanned = _both(
            service, lambda asset=asset, query=query: service.count_events(asset, **query)
        )
        assert indexed == scanned, query

        wanted = data.draw(filter_maps(seen_assets))
        indexed, scanned = _both(
            service,
            lambda size=size, wanted=wanted: _all_pages(service, "assets", size, attributes=wanted),
        )
        assert indexed == scanned, wanted
        indexed, scanned = _both(
            service, lambda wanted=wanted: service.count_assets(attributes=wanted)
        )
        assert indexed == scanned, wanted


def test_a_long_value_is_found_by_its_hash(core: Core) -> None:
    service = core.ledger
    long = "é" * 70_00
    asset = service.create_asset({"serial": long}).uuid
    service.post_event(EventRequest(asset, event_attributes={"blob": long}, principal_accepted=WHO))
    assert term("e", "blob", long).startswith("#")
    for _ in ("the log's tail", "the index"):
        assert [e.asset_uuid for e in service.list_events(attributes={"blob": long})[0]] == [asset]
        assert service.count_events(attributes={"blob": long}) == 1
        assert service.count_events(attributes={"blob": long[:-1]}) == 0
        assert service.count_assets(attributes={"serial": long}) == 1
        assert build_index(core.db)
    with core.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger_event_terms)).scalar()


# --- migration of a populated database -----------------------------------------------------


def _term_rows(db_or_core: Any) -> tuple[set[tuple[str, int]], set[tuple[str, str]]]:
    with db_or_core.connect() as conn:
        events = {
            tuple(row)
            for row in conn.execute(
                sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
            )
        }
        assets = {tuple(row) for row in conn.execute(sa.select(ledger_asset_terms))}
    return events, assets  # type: ignore[return-value]


def _to_previous_schema(storage_url: str) -> None:
    """What a database of the step before the index holds: the same data, no index (and none
    of the later steps' tables, which hold nothing here)."""
    db = open_database(storage_url, apply_migrations=False)
    try:
        with db.begin() as conn:
            for table in (
                scitt_issuers,
                ledger_term_segments,
                ledger_index_state,
                ledger_asset_terms,
                ledger_event_terms,
            ):
                table.drop(conn)
            conn.execute(sa.text("DELETE FROM schema_version WHERE version >= :v"), {"v": 10})
    finally:
        db.close()


def test_migration_builds_the_index_in_batches_and_resumes(empty_storage_url: str) -> None:
    # A database of its own: on PostgreSQL the shared, recycled test database may still be
    # polled by an indexer thread an earlier test left running, which would index this one's
    # events and move the marker the interrupted build is checked against.
    storage_url = empty_storage_url
    dev = open_dev_core(storage_url)
    service = dev.core.ledger
    assets = [service.create_asset({"site": f"s{i % 3}", "n": i}).uuid for i in range(7)]
    for i in range(60):
        service.post_event(
            EventRequest(
                assets[i % 7],
                event_attributes={"reading": str(i % 5), "seq": i},
                asset_attributes={"state": f"v{i % 4}"} if i % 6 == 0 else {},
                operation="Record" if i % 2 else "Attach",
                principal_accepted=WHO,
            )
        )
    assert build_index(dev.core.db)  # beside the core's own indexer thread: either one wins
    written = _term_rows(dev.core.db)
    assert len(written[0]) > 60 * 4 and len(written[1]) >= 7 * 2
    expected_pages = _all_pages(service, "events", 4, attributes={"reading": "3"})
    expected_assets = _all_pages(service, "assets", 2, attributes={"site": "s1"})
    dev.core.close()
    assert MIGRATIONS[9].__name__ == "_v10_attribute_index"  # the step rebuilt from
    assert len(MIGRATIONS) == 13  # the later steps this test drops and reapplies

    _to_previous_schema(storage_url)
    db = open_database(storage_url)  # migrates: an empty index
    try:
        assert IndexState(db).progress() == (0, 60, False)
        seen: list[tuple[int, int]] = []
        stop = threading.Event()

        def interrupt(done: int, total: int) -> None:
            seen.append((done, total))
            if len(seen) == 3:
                stop.set()  # as if the process were stopped between two batches

        assert build_index(db, batch=7, progress=interrupt, stop=stop) is False
        assert seen == [(7, 60), (14, 60), (21, 60)]
        assert IndexState(db).progress() == (21, 60, True)  # assets come first
    finally:
        db.close()

    # A restart resumes: the core's indexer does the rest in the background; answers are the
    # same before (index and scan of the tail) and after (the index alone).
    core = Core.open(storage_url)
    try:
        from trustee.secret import Secret

        core.barrier.unseal(Secret(dev.share))
        service = core.ledger
        assert _all_pages(service, "events", 4, attributes={"reading": "3"}) == expected_pages
        assert _all_pages(service, "assets", 2, attributes={"site": "s1"}) == expected_assets
        for _ in range(600):
            if IndexState(core.db).progress()[0] == 60:
                break
            threading.Event().wait(0.1)
        assert IndexState(core.db).progress() == (60, 60, True)
        assert _term_rows(core.db) == written
        assert _all_pages(service, "events", 4, attributes={"reading": "3"}) == expected_pages
        assert _all_pages(service, "assets", 2, attributes={"site": "s1"}) == expected_assets
        assert service.count_events(attributes={"reading": "3"}) == 12
    finally:
        core.close()


# --- paging with filters through both faces ------------------------------------------------


def test_paging_with_filters_through_both_faces(storage_url: str) -> None:
    import warnings

    from trustee.server.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    dev = open_dev_core(storage_url)
    service = dev.core.ledger
    assets = [service.create_asset({"site": f"s{i % 2}", "n": i}).uuid for i in range(9)]
    for i in range(30):
        service.post_event(
            EventRequest(
                assets[i % 9],
                event_attributes={"reading": str(i % 3), "i": i},
                operation="Record",
                principal_accepted=WHO,
            )
        )
    wanted_events = [e.uuid for e in service.list_events(attributes={"reading": "1"})[0]]
    wanted_assets = sorted(assets[i] for i in range(9) if i % 2 == 1)
    assert len(wanted_events) == 10
    try:
        with TestClient(create_app(dev.core)) as client:
            vault = {"X-Vault-Token": dev.root}
            bearer = {"Authorization": f"Bearer {dev.root}", "X-Request-Total-Count": "true"}

            def vault_pages(path: str, field: str, params: dict[str, str]) -> list[str]:
                got: list[str] = []
                query = {**params, "page_size": "3"}
                while True:
                    answer = client.get(path, params=query, headers=vault)
                    assert answer.status_code == 200, answer.text
                    body = answer.json()["data"]
                    got += [
                        item if isinstance(item, str) else item["identity"].rsplit("/", 1)[-1]
                        for item in body[field]
                    ]
                    if not body["next_page_token"]:
                        return got
                    query = {"page_size": "3", "next_page_token": body["next_page_token"]}

            def archivist_pages(path: str, field: str, params: dict[str, str]) -> list[str]:
                got: list[str] = []
                query = {**params, "page_size": "3"}
                while True:
                    answer = client.get(path, params=query, headers=bearer)
                    assert answer.status_code == 200, answer.text
                    if "page_token" not in query:
                        assert answer.headers["X-Total-Count"] == str(
                            len(wanted_events if field == "events" else wanted_assets)
                        )
                    body = answer.json()
                    got += [item["identity"].rsplit("/", 1)[-1] for item in body[field]]
                    if not body.get("next_page_token"):
                        return got
                    query = {"page_size": "3", "page_token": body["next_page_token"]}

            events_path = "/v1/ledger/assets/-/events"
            assert (
                vault_pages(events_path, "events", {"event_attributes.reading": "1"})
                == wanted_events
            )
            assert vault_pages("/v1/ledger/assets", "keys", {"attributes.site": "s1"}) == (
                wanted_assets
            )
            assert (
                archivist_pages(
                    "/archivist/v2/assets/-/events", "events", {"event_attributes.reading": "1"}
                )
                == wanted_events
            )
            assert (
                archivist_pages("/archivist/v2/assets", "assets", {"attributes.site": "s1"})
                == wanted_assets
            )
            # A token with other filters is refused, not silently continued.
            first = client.get(
                events_path,
                params={"event_attributes.reading": "1", "page_size": "3"},
                headers=vault,
            ).json()["data"]
            other = client.get(
                events_path,
                params={
                    "event_attributes.reading": "2",
                    "next_page_token": first["next_page_token"],
                },
                headers=vault,
            )
            assert other.status_code == 400
    finally:
        dev.core.close()


# --- several indexers at once ------------------------------------------------------------


def test_indexers_in_several_processes_index_each_event_once(storage_url: str) -> None:
    """Replicas each run an indexer: batches race for the marker, and the index ends the
    same as one indexer's, every term once, the marker at the log's end."""
    dev = open_dev_core(storage_url)
    try:
        service = dev.core.ledger
        assert service.indexer is not None
        service.indexer.stop()
        asset = service.create_asset({"site": "s"}).uuid
        service.post_events(
            [
                EventRequest(
                    asset, event_attributes={"n": i, "r": str(i % 4)}, principal_accepted=WHO
                )
                for i in range(150)
            ]
        )
        replicas = [open_database(storage_url) for _ in range(3)]
        try:
            errors: list[BaseException] = []

            def index(db: Any, batch: int) -> None:
                try:
                    assert build_index(db, batch=batch)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [
                threading.Thread(target=index, args=(db, batch))
                for db, batch in zip([*replicas, dev.core.db], (7, 11, 13, 50), strict=True)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors, errors
        finally:
            for db in replicas:
                db.close()
        with dev.core.db.connect() as conn:
            rows = [
                tuple(row)
                for row in conn.execute(
                    sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
                )
            ]
        expected = _expected_terms(dev.core.db)
        assert sorted(rows) == sorted(expected)  # each once
        assert IndexState(dev.core.db).progress()[:2] == (150, 150)
        assert service.count_events(attributes={"r": "1"}) == 38
    finally:
        dev.core.close()


def test_a_large_number_read_back_as_an_integer_is_indexed_and_merged(core: Core) -> None:
    """JCS writes 1e18 as integer digits, which read back as an integer beyond 2**53: the
    indexer makes its terms (it stalled on them) and the asset takes further updates (its
    merged attributes were refused)."""
    service = core.ledger
    asset = service.create_asset({"n": "1"}).uuid
    nested = {"w": 1e18, "x": -5.189982366516377e16}
    service.post_event(
        EventRequest(
            asset,
            event_attributes={"v": nested},
            asset_attributes={"big": 1e18},
            principal_accepted=WHO,
        )
    )
    service.post_event(EventRequest(asset, asset_attributes={"n": "2"}, principal_accepted=WHO))
    assert build_index(core.db)
    text = '{"w":1000000000000000000,"x":-51899823665163770}'
    assert service.count_events(attributes={"v": text}) == 1
    assert service.count_assets(attributes={"n": "2", "big": "1000000000000000000"}) == 1


# --- the hand-off from this process's appends -----------------------------------------------


def _expected_terms(db: Any) -> set[tuple[str, int]]:
    with db.connect() as conn:
        entries = conn.execute(sa.select(ledger_events.c.log_index, ledger_events.c.entry))
        return {
            (each, int(index))
            for index, entry in entries
            for each in entry_terms(orjson.loads(entry))
        }


def test_fresh_events_are_indexed_from_themselves_and_the_others_from_their_entries(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL, this process's own events come from the hand-off and only those another
    process appended between them are read from the log; on SQLite, SQLite makes them all."""
    import trustee.ledger.indexer as indexer_module

    dev = open_dev_core(storage_url)
    other_db = open_database(storage_url)
    other = LedgerService(other_db, dev.core.barrier)
    try:
        service = dev.core.ledger
        assert service.indexer is not None
        service.indexer.stop()
        asset = service.create_asset({"site": "s"}).uuid
        own: list[Any] = []
        foreign: list[int] = []
        for n in range(6):
            poster = other if n % 3 == 1 else service
            posted = poster.post_events(
                [
                    EventRequest(
                        asset,
                        event_attributes={"n": n * 10 + i, "f": 1.0 + i, "o": {"b": [i]}},
                        principal_accepted=WHO,
                    )
                    for i in range(5)
                ]
            )
            (foreign.extend(e.log_index for e in posted) if poster is other else own.extend(posted))
        decoded: list[int] = []
        real_entry_terms = indexer_module.entry_terms

        def spy(record: Any) -> Any:
            decoded.append(record["log_index"])
            return real_entry_terms(record)

        monkeypatch.setattr(indexer_module, "entry_terms", spy)
        fresh = {event.log_index: event for event in own}
        assert index_events(dev.core.db, fresh=fresh) == 30
        with dev.core.db.connect() as conn:
            rows = {tuple(row) for row in conn.execute(TERM_ROWS)}
        assert rows == _expected_terms(dev.core.db)
        assert sorted(decoded) == ([] if dev.core.db.dialect_name == "sqlite" else foreign)
    finally:
        other.close()
        other_db.close()
        dev.core.close()


def test_the_running_indexer_takes_this_process_appends(storage_url: str) -> None:
    dev = open_dev_core(storage_url)
    try:
        service = dev.core.ledger
        assert service.indexer is not None
        service.start_indexer()
        asset = service.create_asset({"site": "s"}).uuid
        for n in range(40):
            service.post_event(
                EventRequest(
                    asset, event_attributes={"n": n, "r": str(n % 3)}, principal_accepted=WHO
                )
            )
        state = IndexState(dev.core.db)
        deadline = time.monotonic() + 30
        while state.progress()[0] < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.progress()[:2] == (40, 40)
        with dev.core.db.connect() as conn:
            rows = {
                tuple(row)
                for row in conn.execute(
                    sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
                )
            }
        assert rows == _expected_terms(dev.core.db)
        assert service.count_events(attributes={"r": "1"}) == 13
    finally:
        dev.core.close()
