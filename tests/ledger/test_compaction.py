"""Merging the index's segments (:mod:`trustee.ledger.compaction`) on a log of five epochs:
answers never change, whenever a merge stops, and nothing is left behind."""

from __future__ import annotations

import functools
import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from tests.engines import open_dev_core
from typer.testing import CliRunner

from trustee.cli.main import app as cli
from trustee.core import Core
from trustee.ledger import compaction, indexer
from trustee.ledger.bulk import insert_rows
from trustee.ledger.canonical import canonical_json
from trustee.ledger.compaction import compact, merged_segments
from trustee.ledger.indexer import build_index
from trustee.ledger.records import rfc3339
from trustee.ledger.segments import end_epoch, first_epoch, level_of, live_segments
from trustee.ledger.terms import EPOCH_BITS, IndexState
from trustee.storage.schema_ledger import (
    ledger_assets,
    ledger_event_terms,
    ledger_events,
    ledger_index_state,
)
from trustee.storage.schema_ledger import ledger_term_segments as segments_t

EVENTS = (5 << EPOCH_BITS) + 300  # five closed epochs and an open one
WHO = {"accessor": "acc", "display_name": "tester"}
QUERIES: list[dict[str, Any]] = [
    {"attributes": {"b": "17"}},  # the first: the last test adds one
    {"attributes": {"b": "996", "a": "2"}},
    {"attributes": {"a": 3}, "operation": "Record"},
    {"asset_attributes": {"state": "s1"}, "attributes": {"b": "5"}},
    {"behaviour": "RecordEvidence", "attributes": {"id": f"x{EVENTS - 1}"}},
    {"attributes": {"id": "x8191"}},
    {"attributes": {"id": "x8192"}},
]


def _fill(core: Core, first: int, after: int) -> None:
    """Events ``first`` to ``after`` straight into the tables (posting tens of thousands one
    by one takes minutes; the log's tree is not needed here)."""
    asset = str(uuid.uuid4())
    now = time.time()
    with core.db.begin() as conn:
        columns = ("uuid", "attributes", "require_signature", "created_time", "principal")
        insert_rows(conn, ledger_assets, columns, [(asset, "{}", False, now, '{"a":1}')])
    columns = tuple(column.name for column in ledger_events.columns)
    rows = []
    for n in range(first, after):
        event = str(uuid.uuid4())
        operation = "Record" if n % 2 else "Attach"
        record = {
            "asset_attributes": {"state": f"s{n % 3}"} if n % 5 == 0 else {},
            "asset_identity": f"assets/{asset}",
            "behaviour": "RecordEvidence",
            "event_attributes": {"a": n % 7, "b": str(n % 997), "id": f"x{n}"},
            "identity": f"assets/{asset}/events/{event}",
            "log_index": n,
            "operation": operation,
            "principal_accepted": WHO,
            "principal_declared": None,
            "timestamp_accepted": rfc3339(now + n / 1000),
            "timestamp_declared": None,
        }
        entry = canonical_json(record)
        rows.append((event, asset, n, entry, now + n / 1000, operation, "RecordEvidence"))
    with core.db.begin() as conn:
        insert_rows(conn, ledger_events, columns, rows)


@pytest.fixture(scope="module")
def filled(module_storage_url: str) -> Iterator[Core]:
    """The log, indexed (nothing merged: five epochs are fewer than the default fanout), and
    a copy of its index to start each test from."""
    dev = open_dev_core(module_storage_url)
    assert dev.core.ledger.indexer is not None
    dev.core.ledger.indexer.stop()  # the tests index and merge by hand
    _fill(dev.core, 0, EVENTS)
    assert build_index(dev.core.db)
    with dev.core.db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE index_copy AS SELECT * FROM ledger_event_terms"))
    yield dev.core
    dev.core.close()


@pytest.fixture
def core(filled: Core) -> Core:
    """The filled log with its index as :func:`filled` built it."""
    with filled.db.begin() as conn:
        conn.execute(sa.delete(ledger_event_terms))
        conn.execute(sa.delete(segments_t))
        conn.execute(sa.text("INSERT INTO ledger_event_terms SELECT * FROM index_copy"))
        conn.execute(sa.update(ledger_index_state).values(events_below=EVENTS))
    assert build_index(filled.db)
    assert len(_layout(filled)) == 6
    return filled


def _answers(core: Core, *, scan: bool = False) -> list[Any]:
    service = core.ledger
    service.queries.use_index = not scan
    try:
        found = []
        for query in QUERIES:
            page, token = service.list_events(page_size=50, **query)
            found.append(([event.log_index for event in page], token is not None))
            found.append(service.count_events(**query))
        return found
    finally:
        service.queries.use_index = True


def _rows(core: Core) -> tuple[set[tuple[str, int]], int]:
    """The distinct (term, log index) of the live segments, and how many rows the table has."""
    with core.db.connect() as conn:
        below = IndexState(core.db).events_below(conn)
        live = live_segments(merged_segments(conn), below)
        found = {
            (term, int(index))
            for term, index in conn.execute(
                sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index).where(
                    ledger_event_terms.c.segment.in_(live)
                )
            )
        }
        total = conn.execute(sa.select(sa.func.count()).select_from(ledger_event_terms)).scalar()
    return found, int(total or 0)


def _layout(core: Core) -> list[int]:
    with core.db.connect() as conn:
        return live_segments(merged_segments(conn), IndexState(core.db).events_below(conn))


@pytest.fixture(scope="module")
def scanned(filled: Core) -> list[Any]:
    return _answers(filled, scan=True)


@pytest.fixture
def expected(core: Core, scanned: list[Any]) -> tuple[list[Any], set[tuple[str, int]]]:
    assert _answers(core) == scanned
    assert scanned[0][0] and scanned[1] == len(scanned[0][0])  # the queries find something
    rows, total = _rows(core)
    assert total == len(rows)
    return scanned, rows


@pytest.mark.parametrize("rows", [1, 999, 4096, 40_000])
def test_merge_ranges_hold_at_most_rows_keys_of_each_segment(core: Core, rows: int) -> None:
    """The copies' boundaries are every ``rows``-th key of each replaced segment, as numbering
    the segments' rows in key order gives them (so no copy moves more than ``rows`` of each)."""
    with core.db.connect() as conn:
        replaced = _layout(core)[:3]
        keyed: list[tuple[str, int]] = []
        for segment in replaced:
            in_key_order = (
                sa.select(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
                .where(ledger_event_terms.c.segment == segment)
                .order_by(ledger_event_terms.c.term, ledger_event_terms.c.log_index)
            )
            ordered = [(term, int(index)) for term, index in conn.execute(in_key_order)]
            keyed += ordered[rows - 1 :: rows]
        assert compaction._boundaries(conn, replaced, rows) == sorted(set(keyed))
    assert rows == 40_000 or keyed  # each size but the largest cuts somewhere


def test_answers_hold_at_every_step_of_the_merges(core: Core, expected: Any) -> None:
    answers, rows = expected
    steps = 0
    for _ in compact(core.db, fanout=2, rows=3000):
        steps += 1
        if steps % 7 == 0:
            assert _answers(core) == answers, f"after {steps} steps"
    # five closed epochs with a fanout of 2: one segment of four epochs, then the fifth and
    # the open one
    layout = _layout(core)
    assert [(first_epoch(s), end_epoch(s)) for s in layout] == [(0, 4), (4, 5), (5, 6)]
    assert [level_of(s) for s in layout] == [2, 0, 0]
    assert steps > 20  # the merges went in many short transactions
    assert _answers(core) == answers
    assert _rows(core) == (rows, len(rows))  # every row moved once, none left behind
    with core.db.connect() as conn:
        assert conn.execute(sa.select(segments_t.c.state)).scalars().all() == ["live"]
    assert list(compact(core.db, fanout=2)) == []  # nothing more is due


def test_a_merge_stopped_midway_is_given_up_when_stale_and_done_again(
    core: Core, expected: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, rows = expected
    merging = compact(core.db, fanout=4, rows=2000)
    for _ in itertools.islice(merging, 6):  # claimed and partly copied, then the process dies
        pass
    with core.db.connect() as conn:
        states = dict(conn.execute(sa.select(segments_t.c.segment, segments_t.c.state)).all())
    assert "building" in states.values()
    assert _answers(core) == answers  # the half-built segment is not read
    # Another indexer meanwhile: the claim is fresh, so it leaves the merge alone.
    assert list(compact(core.db, fanout=4)) == []
    # Once the claim is stale, the next run drops what was built and merges again.
    monkeypatch.setattr(compaction, "STALE_SECONDS", -1.0)
    assert list(compact(core.db, fanout=4, rows=2000))
    monkeypatch.undo()
    merging.close()
    assert _answers(core) == answers
    assert _rows(core) == (rows, len(rows))
    with core.db.connect() as conn:
        assert set(conn.execute(sa.select(segments_t.c.state)).scalars()) == {"live"}


def test_the_index_command_indexes_then_merges(
    core: Core, expected: Any, module_storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, rows = expected
    with core.db.begin() as conn:  # as a migration leaves it
        conn.execute(sa.delete(ledger_event_terms))
        conn.execute(sa.update(ledger_index_state).values(events_below=0))
    # a fanout of 4, so that five epochs make a merge
    monkeypatch.setattr(indexer, "compact", functools.partial(compact, fanout=4, rows=4000))
    result = CliRunner().invoke(
        cli,
        ["ledger", "index", "--storage", module_storage_url, "--batch", "10000"],
        env={"NO_COLOR": "1", "COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "merging segments" in result.output
    assert "the attribute index is up to date" in result.output
    assert [level_of(s) for s in _layout(core)] == [2, 0, 0]
    assert _answers(core) == answers
    assert _rows(core) == (rows, len(rows))


def test_while_appends_are_busy_no_merge_starts_until_segments_pile_up(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer, "compact", functools.partial(compact, fanout=2, rows=4000))
    appended = itertools.count()
    worker = indexer.Indexer(core.db, activity=lambda: next(appended))  # always busy
    monkeypatch.setattr(indexer, "MAX_SEGMENTS", len(_layout(core)))
    assert worker._step() == indexer.DEFAULT_INTERVAL
    assert not worker.merging
    monkeypatch.setattr(indexer, "MAX_SEGMENTS", len(_layout(core)) - 1)
    worker._step()
    assert worker.merging  # started, and paced: it waits as long as each step took
    while worker.merging:
        worker._step()
    assert len(_layout(core)) == 3
    with core.db.connect() as conn:
        assert not compaction.merges_due(conn, fanout=2)


def test_new_events_after_the_merges_are_indexed_and_found(core: Core, expected: Any) -> None:
    # The module's last test: it adds events to the shared log.
    answers, _ = expected
    assert list(compact(core.db, fanout=2))
    _fill(core, EVENTS, EVENTS + 1000)
    added = [n for n in range(EVENTS, EVENTS + 1000) if n % 997 == 17]
    assert build_index(core.db)
    page, _ = core.ledger.list_events(page_size=500, attributes={"b": "17"})
    assert [e.log_index for e in page] == [*answers[0][0], *added]
    assert core.ledger.count_events(attributes={"b": "17"}) == answers[1] + len(added)
