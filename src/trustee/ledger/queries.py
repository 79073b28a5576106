"""Reading events back, and the verdicts on them, from what the log holds.

A verdict is never stored: it is a function of the stored entry and the asset's key history,
both immutable, so it is recomputed on every request, and an entry whose bytes no longer hash
to the log's leaf is ``BAD`` whatever its signature says.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from trustee.errors import NotFound
from trustee.ledger import merkle, paging, terms
from trustee.ledger.assets import asset_exists, key_history
from trustee.ledger.compaction import merged_segments
from trustee.ledger.evidence import (
    BAD,
    DeviceKeys,
    KeyRecord,
    Verdict,
    check_evidence,
    key_for_index,
)
from trustee.ledger.log import fetch_nodes
from trustee.ledger.models import AssetVerdicts, Event, EventVerdict
from trustee.ledger.paging import DEFAULT_PAGE_SIZE
from trustee.ledger.records import parse_time
from trustee.ledger.segments import live_segments
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_event_terms as event_terms_t
from trustee.storage.schema_ledger import ledger_events as events_t

__all__ = ["EventQueries"]


class EventQueries:
    """Events and their verdicts over one database; safe to share between threads."""

    def __init__(
        self,
        db: Database,
        device_keys: DeviceKeys,
        tokens: paging.PageTokens,
        index: terms.IndexState | None = None,
    ) -> None:
        self._db = db
        self._device_keys = device_keys
        self._tokens = tokens
        self._index = index
        self.use_index = True
        """False answers listings by the plain scan (the tests' and the bench's reference)."""

    def read_event(self, event: str) -> Event:
        with self._db.connect() as conn:
            entry = conn.execute(
                sa.select(events_t.c.entry).where(events_t.c.uuid == event)
            ).scalar()
        if entry is None:
            raise NotFound(f"no event {event!r}")
        return Event.from_record(orjson.loads(entry))

    def list_events(
        self,
        asset: str | None = None,
        *,
        attributes: Mapping[str, str] | None = None,
        asset_attributes: Mapping[str, str] | None = None,
        operation: str | None = None,
        behaviour: str | None = None,
        since: str | float | None = None,
        before: str | float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> tuple[list[Event], str | None]:
        """Events in log order, filtered, one page at a time; the token resumes the same query
        after the page (:class:`~trustee.ledger.paging.PageTokens`).

        ``attributes``/``asset_attributes`` match by equality on the string form of a value;
        ``since`` is inclusive and ``before`` exclusive (RFC 3339 or unix seconds).
        """
        size = paging.page_size(page_size)
        filters = _filters(attributes, asset_attributes, operation, behaviour, since, before)
        query, after = self._tokens.resume("events", page_token, {"asset": asset}, filters)
        page: list[Event] = []
        more = False
        with self._db.connect(snapshot=True) as conn:
            for record in self._matching(conn, query, int(after) if after is not None else -1):
                if len(page) == size:
                    more = True
                    break
                page.append(Event.from_record(record))
        token = None
        if more:
            token = self._tokens.encode("events", query, page[-1].log_index)
        return page, token

    def count_events(
        self,
        asset: str | None = None,
        *,
        attributes: Mapping[str, str] | None = None,
        asset_attributes: Mapping[str, str] | None = None,
        operation: str | None = None,
        behaviour: str | None = None,
        since: str | float | None = None,
        before: str | float | None = None,
        page_token: str | None = None,
    ) -> int:
        """How many events :meth:`list_events` would list over all its pages; with a page
        token, over all the pages of the token's query."""
        filters = _filters(attributes, asset_attributes, operation, behaviour, since, before)
        query, _ = self._tokens.resume("events", page_token, {"asset": asset}, filters)
        with self._db.connect(snapshot=True) as conn:
            found = self._indexed_terms(conn, query)
            if found is not None and found[1]:
                if asset is not None and not asset_exists(conn, asset):
                    raise NotFound(f"no asset {asset!r}")
                below = self._index.events_below(conn) if self._index is not None else 0
                segments = live_segments(merged_segments(conn), below)
                select, first = _terms_select(
                    lambda _: sa.func.count(), found[0], query, segments, conn.dialect.name
                )
                counted = conn.execute(select.where(first.c.log_index < below)).scalar()
                return int(counted or 0) + sum(1 for _ in self._scan(conn, query, below - 1))
            return sum(1 for _ in self._matching(conn, query, -1))

    def _indexed_terms(self, conn: Any, query: Mapping[str, Any]) -> tuple[list[str], bool] | None:
        """The index terms of ``query`` and whether they decide it, or None to scan (no term
        to look up)."""
        if not self.use_index or self._index is None:
            return None
        looked_up, exact = terms.query_terms(terms.EVENT, query.get("attributes") or {})
        more, more_exact = terms.query_terms(
            terms.ASSET_UPDATE, query.get("asset_attributes") or {}
        )
        looked_up += more
        for section, name in ((terms.OPERATION, "operation"), (terms.BEHAVIOUR, "behaviour")):
            if query.get(name) is not None:
                looked_up.append(terms.term(section, None, str(query[name])))
        if not looked_up:
            return None
        return looked_up, exact and more_exact

    def _matching(
        self, conn: Any, query: Mapping[str, Any], after: int
    ) -> Iterator[dict[str, Any]]:
        """Stored entries matching ``query`` after log index ``after``, in log order: through
        the index below its marker, then by a scan of the tail the indexer has not reached."""
        found = self._indexed_terms(conn, query)
        if found is None or self._index is None:
            return self._scan(conn, query, after)
        below = self._index.events_below(conn)
        if after + 1 >= below:
            return self._scan(conn, query, after)
        return itertools.chain(
            self._matching_indexed(conn, found[0], query, after, below),
            self._scan(conn, query, below - 1),
        )

    def _matching_indexed(
        self, conn: Any, looked_up: list[str], query: Mapping[str, Any], after: int, below: int
    ) -> Iterator[dict[str, Any]]:
        """:meth:`_scan` through the index, from ``after`` to ``below`` (exclusive both):
        candidates by term, each re-checked on its entry."""
        asset = query.get("asset")
        if asset is not None and not asset_exists(conn, asset):
            raise NotFound(f"no asset {asset!r}")
        wanted = [
            ("event_attributes", dict(query.get("attributes") or {})),
            ("asset_attributes", dict(query.get("asset_attributes") or {})),
        ]
        last = after
        chunk_size = 101
        merged = merged_segments(conn)  # in the snapshot the terms are read in
        while last + 1 < below:
            # One seek per segment left, in index order: both engines return the rows of a
            # ``segment IN (...)`` on the key's first column already ordered, so a page reads
            # no further than it needs (a window of segments at a time cost a query per
            # window).
            select, first = _terms_select(
                lambda first: (first.c.log_index, events_t.c.entry),
                looked_up,
                query,
                live_segments(merged, below, after=last),
                conn.dialect.name,
            )
            select = select.where(first.c.log_index > last, first.c.log_index < below)
            select = select.order_by(first.c.segment, first.c.log_index)
            chunk = conn.execute(select.limit(chunk_size)).all()
            for index, entry in chunk:
                last = index
                record = orjson.loads(entry)
                if paging.matches(record, wanted):
                    yield record
            if len(chunk) < chunk_size:
                return
            chunk_size = min(chunk_size * 4, 5000)

    def _scan(self, conn: Any, query: Mapping[str, Any], after: int) -> Iterator[dict[str, Any]]:
        """Entries matching ``query`` by reading the log in order (the reference answer)."""
        asset = query.get("asset")
        start = parse_time(query.get("since"), "since")
        end = parse_time(query.get("before"), "before")
        select = sa.select(events_t.c.log_index, events_t.c.entry).order_by(events_t.c.log_index)
        if asset is not None:
            select = select.where(events_t.c.asset_uuid == asset)
        if query.get("operation") is not None:
            select = select.where(events_t.c.operation == query["operation"])
        if query.get("behaviour") is not None:
            select = select.where(events_t.c.behaviour == query["behaviour"])
        if start is not None:
            select = select.where(events_t.c.timestamp_accepted >= start)
        if end is not None:
            select = select.where(events_t.c.timestamp_accepted < end)
        wanted = [
            ("event_attributes", dict(query.get("attributes") or {})),
            ("asset_attributes", dict(query.get("asset_attributes") or {})),
        ]
        if asset is not None and not asset_exists(conn, asset):
            raise NotFound(f"no asset {asset!r}")
        last = after
        while True:
            chunk = conn.execute(select.where(events_t.c.log_index > last).limit(500)).all()
            if not chunk:
                return
            for index, entry in chunk:
                last = index
                record = orjson.loads(entry)
                if paging.matches(record, wanted):
                    yield record

    def verify_event(self, event: str) -> EventVerdict:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(events_t).where(events_t.c.uuid == event)).first()
            if row is None:
                raise NotFound(f"no event {event!r}")
            history = key_history(conn, row.asset_uuid)
            leaf = fetch_nodes(conn, [(0, row.log_index)])
        verdict = self._stored_verdict(row, history, leaf)
        return EventVerdict(row.asset_uuid, row.uuid, row.log_index, verdict)

    def verify_asset(self, asset: str) -> AssetVerdicts:
        with self._db.connect() as conn:
            if not asset_exists(conn, asset):
                raise NotFound(f"no asset {asset!r}")
            history = key_history(conn, asset)
            rows = conn.execute(
                sa.select(events_t)
                .where(events_t.c.asset_uuid == asset)
                .order_by(events_t.c.log_index)
            ).all()
            leaves = fetch_nodes(conn, [(0, row.log_index) for row in rows])
        return AssetVerdicts(
            asset,
            tuple(
                EventVerdict(
                    asset, row.uuid, row.log_index, self._stored_verdict(row, history, leaves)
                )
                for row in rows
            ),
        )

    def _stored_verdict(
        self, row: Any, history: list[KeyRecord], leaves: Mapping[Any, bytes]
    ) -> Verdict:
        """Recomputed from the stored bytes: the entry and the key history."""
        stored = leaves.get((0, row.log_index))
        if stored is None or stored != merkle.leaf_hash(row.entry):
            return Verdict(BAD, "entry_not_in_log")
        record = orjson.loads(row.entry)
        key = key_for_index(history, row.log_index)
        return check_evidence(record.get("event_attributes"), self._device_keys.of(key))


def _one_of(column: Any, segments: Sequence[int], dialect: str) -> tuple[Any, dict[str, Any]]:
    """``column`` is one of ``segments``, as one bound value (a JSON array on SQLite, an
    array on PostgreSQL), and the values to bind: an IN list of a bound value per segment cost
    SQLAlchemy about a millisecond per query with 122 of them. Both engines then seek each
    segment in order, so rows come out in the index's order."""
    if dialect == "sqlite":
        return column.in_(_SQLITE_SEGMENTS), {"segments": f"[{','.join(map(str, segments))}]"}
    listed = sa.bindparam("segments", list(segments), type_=postgresql.ARRAY(sa.BigInteger))
    return column == sa.any_(listed), {}


_SQLITE_SEGMENTS = sa.select(
    sa.func.json_each(sa.bindparam("segments", type_=sa.String)).table_valued("value").c.value
)


def _terms_select(
    columns: Callable[[Any], Any],
    looked_up: list[str],
    query: Mapping[str, Any],
    segments: Sequence[int],
    dialect: str,
) -> tuple[Any, Any]:
    """Events of ``segments`` having every term (joined on the log index from the first term's
    rows), of the query's asset and time range."""
    first = event_terms_t.alias("t0")
    picked = columns(first)
    select = sa.select(*(picked if isinstance(picked, tuple) else (picked,)))
    in_segments, bound = _one_of(first.c.segment, segments, dialect)
    select = select.select_from(first).where(in_segments, first.c.term == looked_up[0])
    select = select.params(**bound)
    for number, each in enumerate(looked_up[1:], start=1):
        other = event_terms_t.alias(f"t{number}")
        select = select.join(
            other,
            sa.and_(
                other.c.segment == first.c.segment,
                other.c.term == each,
                other.c.log_index == first.c.log_index,
            ),
        )
    start = parse_time(query.get("since"), "since")
    end = parse_time(query.get("before"), "before")
    asset = query.get("asset")
    needs_event = asset is not None or start is not None or end is not None
    if needs_event or isinstance(picked, tuple):
        select = select.join(events_t, events_t.c.log_index == first.c.log_index)
    if asset is not None:
        select = select.where(events_t.c.asset_uuid == asset)
    if start is not None:
        select = select.where(events_t.c.timestamp_accepted >= start)
    if end is not None:
        select = select.where(events_t.c.timestamp_accepted < end)
    return select, first


def _filters(
    attributes: Mapping[str, str] | None,
    asset_attributes: Mapping[str, str] | None,
    operation: str | None,
    behaviour: str | None,
    since: str | float | None,
    before: str | float | None,
) -> dict[str, Any]:
    """An event listing's filters as a page token keeps them (times checked now)."""
    parse_time(since, "since")
    parse_time(before, "before")
    return {
        "attributes": dict(attributes or {}),
        "asset_attributes": dict(asset_attributes or {}),
        "operation": operation,
        "behaviour": behaviour,
        "since": since,
        "before": before,
    }
