"""The indexer behind the appends: events enter the attribute index after their commit.

Appends write no terms. This module indexes committed events in log order, a large batch at a
time: it makes the terms (:mod:`trustee.ledger.terms`) of the events from the marker
(``ledger_index_state.events_below``) on, outside any lock, and writes them in one
transaction that also advances the marker. Queries use the index below the marker and scan
only the short tail above it (:mod:`trustee.ledger.queries`), so an answer never depends on
how far the indexer has come. On SQLite the terms are made by SQLite from the stored entries
and staged in a temporary table (:mod:`trustee.ledger.sqlite_terms`); on PostgreSQL they are
made in Python, from the events this process appended where it has them.

Why behind and not in the append transaction: written with each group commit, the terms of
unique values (signatures, evidence, timestamps, uuids) land on random pages of the term
B-tree, so every commit rewrote many pages of it; measured in the bench, durable appends ran
at 0.5–0.6× of appends without the index. Behind, the appends keep their own cost, and the
indexer writes a batch of thousands of events per transaction, filed under their epoch
(:func:`~trustee.ledger.terms.epoch_of`), so that they land among the rows of the last few
thousand events (an epoch's part of the B-tree is about 2 MB). The index is derived data:
its transactions commit without waiting for the disk
(:meth:`~trustee.storage.Database.begin` with ``durable=False``); a crash loses at most
the last batches together with their marker, and they are indexed again.

Several processes may run an indexer on one database (server workers, PostgreSQL replicas):
a batch's write transaction locks the marker (``FOR UPDATE`` on PostgreSQL, the write lock on
SQLite) and writes only if the marker is still where its reading started, so one batch wins
and the others drop theirs; inserts skip rows already present all the same.

With no batch to write, it merges the index's closed segments
(:mod:`trustee.ledger.compaction`), one short transaction per step; while appends are busy it
starts no merge until a look-up would seek more than :data:`MAX_SEGMENTS` segments.

While this process is appending, the indexer leaves a tail of up to ``max_tail`` events, and
between slices of its Python work it sleeps a millisecond, so a commit leader waiting for the
interpreter gets it at once; while catching up it pauses as long as its last write took, so
appends get the writer at least half of the time; so does each step of a merge.

Measured (``python -m bench.queries`` and same-run comparisons, SQLite, 64 callers posting
device-signed events in alternating rounds on a database with the index and one without, on a
2-core host): with the terms in the append transaction, 0.5–0.6× the appends without; behind,
0.74–0.99× in the bench's rounds of 25,600 events, 0.88× in the median of 26 runs (the host's
noise moves single runs by a tenth). The indexer costs about 10 µs of CPU per device-signed
event (SQLite's JSON functions, 5.5 µs, each entry parsed once; the insert into the index, 2.4
µs; its commit), against about 50 µs per append; at 33 µs it gave 0.75×, at 13.5 µs 0.80–0.85×.
Its cost to the appends is more than its share of the CPU: the appends use one core on average
but a second one in bursts (pinned to one core they ran at 0.83×), and work on the second core
takes those bursts from them whatever its priority. A process spinning there cost them 0.80×,
0.83× at nice 19 and 0.86× at ``SCHED_IDLE``; this indexer in a separate process, or in a
thread at nice 10 or ``SCHED_IDLE``, cost as much as in a thread at normal priority. A read
transaction held as long as a batch's, with no CPU, cost nothing. So what helps is less CPU.
Filing rows under their epoch cut the WAL a 5,000-event batch writes at 10⁵ events from 7.8 MB
to 0.8 MB (160 bytes per event, against 850 for the appends themselves), and keeps it so as
the log grows. Merging segments costs about 2 µs per row and level (cutting the ranges 0.14
µs, copying 1.55, dropping 0.35), 8 µs per device-signed event, in SQLite, in short steps between
batches: 9.2 s for the first 917,504 events of a 10⁶-event log. Counted as time, the CPU of the
indexer's work after each round, two merges of 131,072 events among it, brings the bench's
appends to 0.77× over all its rounds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.errors import StorageUnavailable
from trustee.ledger.bulk import driver_rows, insert_rows
from trustee.ledger.compaction import compact, merged_segments
from trustee.ledger.models import Event
from trustee.ledger.segments import FANOUT, level0_segment, live_segments
from trustee.ledger.sqlite_terms import clear_staged, copy_staged, stage_event_terms
from trustee.ledger.terms import (
    MAX_TERM_BYTES,
    asset_terms,
    entry_terms,
    event_terms,
)
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_asset_terms as asset_terms_t
from trustee.storage.schema_ledger import ledger_assets as assets_t
from trustee.storage.schema_ledger import ledger_event_terms as event_terms_t
from trustee.storage.schema_ledger import ledger_events as events_t
from trustee.storage.schema_ledger import ledger_index_state as state_t

__all__ = ["Indexer", "build_index", "index_assets", "index_events"]

logger = logging.getLogger(__name__)
_Made = TypeVar("_Made")

DEFAULT_BATCH = 20_000
"""Log indexes per batch: large enough that its terms share pages, short enough that a
batch holds SQLite's writer for a fraction of a second."""
DEFAULT_INTERVAL = 0.25
"""Seconds between looks at the tail once caught up."""
_SLICE = 250
"""Events whose terms are made without a pause for the appends' threads (~2 ms)."""
MAX_SEGMENTS = 3 * FANOUT
"""Segments a look-up may seek before merges start while appends are busy (at 10⁶ events,
122 epochs gave a first page in 1.45 ms, p50, and 18 merged segments in 0.95 ms)."""
DEFAULT_MAX_TAIL = 5000
"""Events left to the tail while appends are busy: what a query scans at most beside the
index (a few tens of milliseconds), and the size of the batches under a steady load."""


def index_events(
    db: Database,
    *,
    batch: int = DEFAULT_BATCH,
    until: int | None = None,
    between: Callable[[], None] | None = None,
    fresh: Mapping[int, Event] | None = None,
) -> int:
    """Index the events of the next ``batch`` log indexes above the marker (not beyond
    ``until``); the marker after it. One write transaction, or none when there is nothing to
    do or another indexer moved the marker meanwhile.

    On SQLite, SQLite makes the terms from the stored entries (:mod:`trustee.ledger.sqlite_terms`),
    while the interpreter serves the appends. On PostgreSQL, whose JSON functions render
    values otherwise, Python makes them: from the events of ``fresh`` (those this process
    appended, by log index), with no entry to read or decode, and from the entries of the
    others; ``between()`` is called between slices of that work (the indexer gives the
    interpreter to appends there).
    """
    with db.connect() as conn:
        below = _events_below(conn)
        last = conn.execute(sa.select(sa.func.max(events_t.c.log_index))).scalar()
        end = 0 if last is None else int(last) + 1
        if until is not None:
            end = min(end, until)
        upto = min(below + batch, end)
        if upto <= below:
            return below
        if conn.dialect.name == "sqlite":
            conn.commit()
            stage_event_terms(conn, below, upto, MAX_TERM_BYTES)
            try:
                return _advance(db, below, upto, copy_staged, on=conn)
            finally:
                clear_staged(conn)
        known = [fresh[index] for index in range(below, upto) if index in fresh] if fresh else []
        runs = _missing_runs(below, upto, [event.log_index for event in known])
        made = _terms_of([(event.log_index, event) for event in known], _appended_terms, between)
        stored = [
            (int(log_index), orjson.loads(entry))
            for first, after in runs
            for log_index, entry in conn.execute(
                sa.select(events_t.c.log_index, events_t.c.entry).where(
                    events_t.c.log_index >= first, events_t.c.log_index < after
                )
            )
        ]
    made += _terms_of(stored, entry_terms, between)
    keyed = sorted((level0_segment(log_index), term, log_index) for term, log_index in made)
    return _advance(
        db,
        below,
        upto,
        lambda conn: insert_rows(
            conn, event_terms_t, ("segment", "term", "log_index"), keyed, skip_existing=True
        ),
    )


def _missing_runs(below: int, upto: int, known: list[int]) -> list[tuple[int, int]]:
    """The ranges of ``[below, upto)`` that ``known`` (ascending log indexes) leaves out."""
    runs, start = [], below
    for index in known:
        if index > start:
            runs.append((start, index))
        start = index + 1
    if start < upto:
        runs.append((start, upto))
    return runs


def _appended_terms(event: Event) -> list[str]:
    return event_terms(
        event.event_attributes, event.asset_attributes, event.operation, event.behaviour
    )


def _terms_of(
    events: Sequence[tuple[int, _Made]],
    terms_of: Callable[[_Made], list[str]],
    between: Callable[[], None] | None,
) -> list[tuple[str, int]]:
    """``(term, log_index)`` of each ``(log_index, event)``, its terms by ``terms_of``, made in
    slices with ``between()`` called between them."""
    rows: list[tuple[str, int]] = []
    for start in range(0, len(events), _SLICE):
        if between is not None and start:
            between()
        rows += [
            (each, log_index)
            for log_index, event in events[start : start + _SLICE]
            for each in terms_of(event)
        ]
    return rows


def _advance(
    db: Database,
    below: int,
    upto: int,
    write: Callable[[Connection], None],
    *,
    on: Connection | None = None,
) -> int:
    """``write`` the terms of ``[below, upto)`` and move the marker to ``upto``, in one
    transaction, unless another indexer moved it first; the marker after."""
    with db.begin(durable=False, on=on) as conn:
        if _events_below(conn, lock=True) != below:
            return _events_below(conn)  # another indexer wrote this batch
        write(conn)
        conn.execute(sa.update(state_t).where(state_t.c.id == 1).values(events_below=upto))
    return upto


def index_assets(db: Database, *, batch: int = 5000) -> bool:
    """Index the next ``batch`` of the assets stored before migration 10; True once all are.

    Assets written since index themselves (in their own transaction): there are few of them
    beside events, and a query over assets has no log order to split into indexed and tail.
    The batch holds the append lock, so no asset's attributes change while its terms are
    written.
    """
    with db.connect() as conn:
        if conn.execute(sa.select(state_t.c.assets_done)).scalar() in (None, True):
            return True
    with db.begin() as conn:
        if conn.dialect.name == "postgresql":
            driver_rows(conn, "SELECT id FROM ledger_log_state WHERE id = 1 FOR UPDATE")
        row = conn.execute(sa.select(state_t).with_for_update()).first()
        if row is None or row.assets_done:
            return True
        select = sa.select(assets_t.c.uuid, assets_t.c.attributes).order_by(assets_t.c.uuid)
        if row.assets_after is not None:
            select = select.where(assets_t.c.uuid > row.assets_after)
        found = conn.execute(select.limit(batch)).all()
        term_rows = [
            (each, uuid)
            for uuid, attributes in found
            for each in asset_terms(orjson.loads(attributes))
        ]
        # Rows already there: an asset that indexed itself since the migration.
        insert_rows(conn, asset_terms_t, ("term", "asset_uuid"), term_rows, skip_existing=True)
        values: dict[str, Any] = {"assets_done": len(found) < batch}
        if found:
            values["assets_after"] = found[-1][0]
        conn.execute(sa.update(state_t).where(state_t.c.id == 1).values(**values))
        return bool(values["assets_done"])


def build_index(
    db: Database,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    until: int | None = None,
) -> bool:
    """Index the assets not indexed yet, then every event stored now (or below ``until``),
    and merge the index's segments that are due (:mod:`trustee.ledger.compaction`); True once
    done, False if ``stop`` was set first (the next run resumes from the marker).

    ``progress(indexed below, log end)`` is called after each batch of events.
    """
    while not index_assets(db):
        if stop is not None and stop.is_set():
            return False
    with db.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(events_t.c.log_index))).scalar()
    end = 0 if last is None else int(last) + 1
    if until is not None:
        end = min(end, until)
    below = -1
    while below < end:
        if stop is not None and stop.is_set():
            return False
        before, below = below, index_events(db, batch=batch, until=end)
        if progress is not None:
            progress(below, end)
        if below == before and below < end:  # the events below ``end`` are gone? never
            raise RuntimeError("the attribute index made no progress")
    # Stopped midway, a merge is given up once its claim is stale, and done again.
    return all(stop is None or not stop.is_set() for _ in compact(db))


class Indexer:
    """A thread of the server process that keeps the index close behind the log.

    ``activity()`` (the count of events this process has appended) tells it when appends are
    busy: it then leaves the writer, and the interpreter, to them until the tail reaches
    ``max_tail`` events, and indexes the tail in one batch.

    On PostgreSQL the appends of this process hand it their committed events
    (:meth:`remember`): their terms are made from those objects, and the entries of only the
    others' events (another process's, or from before a restart) are read and decoded. It
    keeps at most ``2 * max(batch, max_tail)`` of them; past that, the oldest are dropped and
    their terms are made from their entries instead. On SQLite, SQLite makes every event's
    terms from its entry without the interpreter; taking them from the appended events
    instead held the interpreter longer and ran no faster (bench, 0.72–0.81× against
    0.76–0.87×).
    """

    def __init__(
        self,
        db: Database,
        *,
        batch: int = DEFAULT_BATCH,
        interval: float = DEFAULT_INTERVAL,
        max_tail: int = DEFAULT_MAX_TAIL,
        activity: Callable[[], int] | None = None,
    ) -> None:
        self._db = db
        self._batch = batch
        self._interval = interval
        self._max_tail = max_tail
        self._activity = activity
        self._seen = activity() if activity is not None else 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._assets_done = False
        self._fresh: dict[int, Event] = {}
        self._fresh_lock = threading.Lock()
        self._most_fresh = 2 * max(batch, max_tail)
        self._compaction: Iterator[None] | None = None
        self.batches = 0

    def remember(self, events: Iterable[Event]) -> None:
        """Events this process has just committed, for their terms (called after the commit)."""
        if self._thread is None:
            return  # nothing would take them
        with self._fresh_lock:
            for event in events:
                self._fresh[event.log_index] = event
            while len(self._fresh) > self._most_fresh:  # the oldest first: commits come in order
                del self._fresh[next(iter(self._fresh))]

    def _fresh_from(self, below: int) -> dict[int, Event]:
        """The fresh events at or above ``below``; those below it are indexed, and dropped."""
        with self._fresh_lock:
            for index in [index for index in self._fresh if index < below]:
                del self._fresh[index]
            return dict(self._fresh)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ledger-indexer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the batch under way (its transaction commits or rolls back whole)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set() and not self._db.closed:
            try:
                pause = self._step()
            except StorageUnavailable:  # logged where outages are detected; retried
                pause = 1.0
            except Exception:  # the next round (or the next start) resumes from the marker
                logger.exception("indexing the ledger's attributes failed; retrying")
                pause = 5.0
            self._stop.wait(pause)

    def _busy(self) -> bool:
        if self._activity is None:
            return False
        seen, self._seen = self._seen, self._activity()
        return self._seen != seen

    def _yield(self) -> None:
        """Between slices of work: a short sleep while appends are busy, so a commit leader
        waiting for the interpreter gets it now rather than at the next forced switch."""
        if self._busy():
            time.sleep(0.001)

    def _step(self) -> float:
        """One batch, or none; how long to wait before the next."""
        if not self._assets_done:
            self._assets_done = index_assets(self._db)
            if not self._assets_done:
                return 0.0
        with self._db.connect() as conn:
            before = _events_below(conn)
            last = conn.execute(sa.select(sa.func.max(events_t.c.log_index))).scalar()
        tail = (0 if last is None else int(last) + 1) - before
        busy = self._busy()
        if tail <= 0 or (busy and tail < self._max_tail):
            return self._compact(busy, before)
        began = time.perf_counter()
        after = index_events(
            self._db, batch=self._batch, between=self._yield, fresh=self._fresh_from(before)
        )
        if after == before:
            return self._interval
        self.batches += 1
        took = time.perf_counter() - began
        # A full batch means it is catching up: yield the writer as long as it held it.
        return took if after - before >= self._batch else self._interval

    def _compact(self, busy: bool, below: int) -> float:
        """One transaction of merging the index's segments, if any is due; how long to
        wait before the next step (while appends are busy, as long as it took).

        While appends are busy, no merge starts until a look-up would seek more than
        :data:`MAX_SEGMENTS`: merges only make reads cheaper, and they cost CPU the appends
        need (about 8 µs per device-signed event and level)."""
        if self._compaction is None:
            if busy and not self._too_many_segments(below):
                return self._interval
            self._compaction = compact(self._db)
        began = time.perf_counter()
        try:
            next(self._compaction)
        except StopIteration:
            self._compaction = None
            return self._interval
        except BaseException:
            self._compaction = None  # a new one starts from what the database says
            raise
        return time.perf_counter() - began if busy else 0.0

    def _too_many_segments(self, below: int) -> bool:
        with self._db.connect() as conn:
            return len(live_segments(merged_segments(conn), below)) > MAX_SEGMENTS

    @property
    def merging(self) -> bool:
        """Whether a merge of segments is under way in this indexer."""
        return self._compaction is not None


def _events_below(conn: Connection, *, lock: bool = False) -> int:
    select = sa.select(state_t.c.events_below)
    if lock and conn.dialect.name == "postgresql":
        select = select.with_for_update()
    below = conn.execute(select).scalar()
    return 0 if below is None else int(below)
