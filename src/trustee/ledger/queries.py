"""Reading events back, and the verdicts on them, from what the log holds.

A verdict is never stored: it is a function of the stored entry and the asset's key history,
both immutable, so it is recomputed on every request, and an entry whose bytes no longer hash
to the log's leaf is ``BAD`` whatever its signature says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from trustee.errors import NotFound
from trustee.ledger import merkle, paging
from trustee.ledger.assets import asset_exists, key_history
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
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_events as events_t

__all__ = ["EventQueries"]


class EventQueries:
    """Events and their verdicts over one database; safe to share between threads."""

    def __init__(self, db: Database, device_keys: DeviceKeys) -> None:
        self._db = db
        self._device_keys = device_keys

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
        """Events in log order, filtered, one page at a time; the token resumes after the page.

        ``attributes``/``asset_attributes`` match by equality on the string form of a value;
        ``since`` is inclusive and ``before`` exclusive (RFC 3339 or unix seconds).
        """
        size = paging.page_size(page_size)
        after = int(paging.decode_token(page_token).get("i", -1)) if page_token else -1
        start, end = parse_time(since, "since"), parse_time(before, "before")
        query = sa.select(events_t.c.log_index, events_t.c.entry).order_by(events_t.c.log_index)
        if asset is not None:
            query = query.where(events_t.c.asset_uuid == asset)
        if operation is not None:
            query = query.where(events_t.c.operation == operation)
        if behaviour is not None:
            query = query.where(events_t.c.behaviour == behaviour)
        if start is not None:
            query = query.where(events_t.c.timestamp_accepted >= start)
        if end is not None:
            query = query.where(events_t.c.timestamp_accepted < end)
        wanted = [
            ("event_attributes", dict(attributes or {})),
            ("asset_attributes", dict(asset_attributes or {})),
        ]
        page: list[Event] = []
        last = after
        exhausted = False
        with self._db.connect() as conn:
            if asset is not None and not asset_exists(conn, asset):
                raise NotFound(f"no asset {asset!r}")
            while len(page) < size:
                chunk = conn.execute(
                    query.where(events_t.c.log_index > last).limit(max(size, 200))
                ).all()
                if not chunk:
                    exhausted = True
                    break
                for index, entry in chunk:
                    record = orjson.loads(entry)
                    last = index
                    if paging.matches(record, wanted):
                        page.append(Event.from_record(record))
                        if len(page) == size:
                            break
            if not exhausted and len(page) == size:
                more = conn.execute(query.where(events_t.c.log_index > last).limit(1)).first()
                exhausted = more is None
        return page, None if exhausted else paging.encode_token({"i": last})

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
