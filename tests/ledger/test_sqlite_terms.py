"""The three ways an event's terms are made agree: for random events (any key or text, NUL
and control characters included, numbers of every kind, nested values, long bodies), the terms
SQLite stages (:mod:`trustee.ledger.sqlite_terms`), those Python makes from the stored entry
(:func:`trustee.ledger.terms.entry_terms`), and those made from the appended event itself
(the indexer's hand-off on PostgreSQL) are the same; and the indexer's SQLite path writes them
under their epochs and moves the marker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from trustee.errors import InvalidRequest
from trustee.ledger.bulk import insert_rows
from trustee.ledger.canonical import CanonicalJSONError, canonical_json
from trustee.ledger.indexer import index_events
from trustee.ledger.records import EventRequest, compose_entry, prepare_event
from trustee.ledger.segments import level0_segment
from trustee.ledger.sqlite_terms import STAGED, clear_staged, stage_event_terms
from trustee.ledger.terms import MAX_TERM_BYTES, entry_terms, event_terms, term
from trustee.storage import Database, open_database
from trustee.storage.schema_ledger import (
    ledger_assets,
    ledger_event_terms,
    ledger_events,
    ledger_index_state,
)

TERM_ROWS = sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
ASSET = str(uuid.uuid4())
texts = st.text(max_size=12) | st.sampled_from(["", "é" * 62, "x" * 125, "x" * 128, "a\x00b"])
numbers = (
    st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e18, 1e19, 1e20, 1e21, -0.0, 0.5, 2.0**63, 1e-7])
)
scalars = texts | numbers | st.booleans() | st.none()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
attribute_maps = st.dictionaries(texts, values, max_size=4)
names = st.text(min_size=1, max_size=8) | st.sampled_from(["Record", "x" * 130, "ü" * 64])
records = st.fixed_dictionaries(
    {
        "event_attributes": attribute_maps,
        "asset_attributes": attribute_maps | st.none(),
        "operation": names,
        "behaviour": names,
    }
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path_factory.mktemp('terms') / 'trustee.db'}")
    with database.begin() as conn:
        insert_rows(
            conn,
            ledger_assets,
            ("uuid", "attributes", "require_signature", "created_time", "principal"),
            [(ASSET, "{}", False, 0.0, "{}")],
        )
    yield database
    database.close()


def _store(db: Database, entries: list[dict[str, Any]]) -> list[bytes]:
    """Replace the log's events with ``entries``, stored as appends store them."""
    try:
        stored = [canonical_json({**entry, "log_index": n}) for n, entry in enumerate(entries)]
    except CanonicalJSONError:  # the ledger refuses such an event (a float beyond 2**53)
        reject()
    with db.begin() as conn:
        conn.execute(sa.delete(ledger_event_terms))
        conn.execute(sa.delete(ledger_events))
        conn.execute(sa.update(ledger_index_state).values(events_below=0))
        insert_rows(
            conn,
            ledger_events,
            [column.name for column in ledger_events.columns],
            [
                (str(uuid.uuid4()), ASSET, n, body, 0.0, entry["operation"], entry["behaviour"])
                for n, (entry, body) in enumerate(zip(entries, stored, strict=True))
            ],
        )
    return stored


WHO = {"accessor": "a", "display_name": "tester"}


@settings(max_examples=int(os.environ.get("TERM_EXAMPLES", "300")), deadline=None)
@given(entry=records)
def test_an_appended_event_makes_the_terms_of_its_entry(entry: dict[str, Any]) -> None:
    request = EventRequest(
        ASSET,
        event_attributes=entry["event_attributes"],
        asset_attributes=entry["asset_attributes"] or {},
        operation=entry["operation"],
        behaviour=entry["behaviour"],
        principal_accepted=WHO,
    )
    try:
        prepared = prepare_event(request)
    except InvalidRequest:  # the ledger refuses it (a float beyond 2**53, a reserved name)
        reject()
    event, stored = compose_entry(prepared, 7, "2026-01-02T03:04:05.000006Z")
    made = event_terms(
        event.event_attributes, event.asset_attributes, event.operation, event.behaviour
    )
    assert sorted(made) == sorted(entry_terms(orjson.loads(stored)))


def _python_terms(stored: list[bytes]) -> set[tuple[str, int]]:
    return {(each, n) for n, body in enumerate(stored) for each in entry_terms(orjson.loads(body))}


@settings(
    max_examples=int(os.environ.get("TERM_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=st.lists(records, min_size=1, max_size=6))
def test_sqlite_stages_the_terms_python_makes(db: Database, entries: list[dict[str, Any]]):
    stored = _store(db, entries)
    with db.connect() as conn:
        stage_event_terms(conn, 0, len(entries), MAX_TERM_BYTES)
        query = f"SELECT term, log_index FROM {STAGED}"  # noqa: S608
        staged = {tuple(row) for row in conn.exec_driver_sql(query)}
        clear_staged(conn)
    assert staged == _python_terms(stored)


def test_the_indexer_writes_the_staged_terms_and_moves_the_marker(db: Database) -> None:
    entries = [
        {
            "event_attributes": {"site": f"s{n % 3}", "reading": n, "ratio": n / 4, "nul": "a\x00"},
            "asset_attributes": {"tags": ["a", n]} if n % 2 else {},
            "operation": "Record",
            "behaviour": "RecordEvidence",
        }
        for n in range(40)
    ]
    stored = _store(db, entries)
    assert index_events(db, batch=25) == 25
    assert index_events(db, batch=25) == 40
    assert index_events(db, batch=25) == 40  # nothing left
    with db.connect() as conn:
        rows = {
            tuple(row)
            for row in conn.execute(
                sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
            )
        }
        leftover = conn.exec_driver_sql(f"SELECT count(*) FROM {STAGED}").scalar()  # noqa: S608
        segments = set(
            conn.execute(sa.select(ledger_event_terms.c.segment, ledger_event_terms.c.log_index))
        )
    assert rows == _python_terms(stored)
    assert segments == {(level0_segment(index), index) for _, index in rows}
    assert leftover == 0
    assert (term("e", "site", "s1"), 4) in rows
    assert term("e", "nul", "a\x00").startswith("#")  # PostgreSQL's text holds no NUL
