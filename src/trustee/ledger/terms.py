"""The attribute index: equality filters answered by an index instead of a scan.

A *term* is one filterable fact of an event or an asset, as text: its section (``e`` an event
attribute, ``a`` an attribute the event set on its asset, ``o`` the operation, ``b`` the
behaviour, ``s`` an asset's current attribute), the key, and the value's string form, the form
:func:`trustee.ledger.paging.matches` compares with a query's text. A query for
``event_attributes.K=V`` looks up the term ``e["K","V"]`` in ``ledger_event_terms``, whose key
``(term, log_index)`` yields matching events in log order, ready for a page or a count;
several filters are joined on the log index (assets: on the uuid). Terms longer than the
column are stored as their SHA-256 (``#`` and 64 hex digits): equal terms have equal hashes,
and only a SHA-256 collision, the assumption the log's own hashes rest on, could add a match.
Pages re-check every candidate on its decoded entry all the same.

Why a term table: measured on SQLite (bench/ledger.py, and the note in the README), one
B-tree of short text keys, written with the event in the append transaction, costs a few
percent of an append and answers a selective first page in well under a millisecond at any
size, where expression indexes need their keys known in advance and a JSON GIN index exists on
PostgreSQL only. Hashing every term to 64 bits made the table smaller, but gave no faster
look-ups at 3·10⁵ events and would need a re-check for counts.

Indexing what a database held before the index existed (migration 10 leaves the table empty
and records how far the build has come) is :func:`build_index`: batches of events in log
order, each its own transaction that advances the marker, so an interrupted build resumes
where it stopped. Everything appended meanwhile is indexed by its own transaction. Until the
build is complete queries do not use the index at all (they scan, as before): correct answers
at all times, fast ones once built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from hashlib import sha256
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.ledger.bulk import driver_rows, insert_rows
from trustee.ledger.canonical import canonical_json
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_asset_terms as asset_terms_t
from trustee.storage.schema_ledger import ledger_assets as assets_t
from trustee.storage.schema_ledger import ledger_event_terms as event_terms_t
from trustee.storage.schema_ledger import ledger_events as events_t
from trustee.storage.schema_ledger import ledger_index_state as state_t

__all__ = [
    "ASSET",
    "ASSET_UPDATE",
    "EVENT",
    "IndexState",
    "asset_terms",
    "build_index",
    "event_terms",
    "query_terms",
    "term",
    "write_asset_terms",
]

EVENT, ASSET_UPDATE, OPERATION, BEHAVIOUR, ASSET = "e", "a", "o", "b", "s"
MAX_TERM_CHARS = 80  # the column's width


def term(section: str, key: str | None, text: str) -> str:
    """The term of ``key`` having the string form ``text`` in ``section`` (no key: the
    operation or behaviour itself)."""
    body = section + (text if key is None else orjson.dumps([key, text]).decode("utf-8"))
    if len(body) <= MAX_TERM_CHARS:
        return body
    return "#" + sha256(body.encode("utf-8")).hexdigest()


def _text(value: Any) -> str:
    """A stored value's string form, as :func:`trustee.ledger.paging.matches` makes it."""
    return value if isinstance(value, str) else orjson.dumps(value).decode("utf-8")


def _as_stored(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """``attributes`` as reading them back from the log gives them: a float that is an integer
    comes back an int, an object's members in RFC 8785 order. Text and small scalars are
    already so (the common case costs nothing)."""
    if all(isinstance(value, str | bool | int) or value is None for value in attributes.values()):
        return attributes
    loaded: Mapping[str, Any] = orjson.loads(canonical_json(dict(attributes)))
    return loaded


def _section_terms(section: str, attributes: Mapping[str, Any]) -> list[str]:
    return [term(section, key, _text(value)) for key, value in _as_stored(attributes).items()]


def event_terms(
    event_attributes: Mapping[str, Any],
    asset_attributes: Mapping[str, Any],
    operation: str,
    behaviour: str,
) -> list[str]:
    """Every term of one event (distinct: keys are unique within a section)."""
    return [
        *_section_terms(EVENT, event_attributes),
        *_section_terms(ASSET_UPDATE, asset_attributes),
        term(OPERATION, None, operation),
        term(BEHAVIOUR, None, behaviour),
    ]


def asset_terms(attributes: Mapping[str, Any]) -> set[str]:
    return set(_section_terms(ASSET, attributes))


def query_terms(section: str, wanted: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The terms a filter's ``key=value`` pairs look up, and whether they decide it alone.

    A text value is found by its term. Any other value (given through the Python API) also
    matches by ``==`` (``1`` equals ``True`` and ``1.0``), which no single term covers: it is
    left to the re-check on each candidate, and counts re-check too.
    """
    found, exact = [], True
    for key, value in wanted.items():
        if isinstance(value, str):
            found.append(term(section, key, value))
        else:
            exact = False
    return found, exact


def write_asset_terms(
    conn: Connection, asset: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> None:
    """Make the asset's terms those of ``new`` where they were those of ``old``."""
    before = asset_terms(old) if old is not None else set()
    after = asset_terms(new)
    gone = before - after
    if gone:
        conn.execute(
            sa.delete(asset_terms_t).where(
                asset_terms_t.c.asset_uuid == asset, asset_terms_t.c.term.in_(sorted(gone))
            )
        )
    added = sorted(after - before)
    if added:
        insert_rows(conn, asset_terms_t, ("term", "asset_uuid"), [(t, asset) for t in added])


class IndexState:
    """Whether the index is complete; once it is, it stays so (remembered per process)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._ready = False

    def ready(self, conn: Connection | None = None) -> bool:
        if self._ready:
            return True
        if conn is None:
            with self._db.connect() as own:
                return self.ready(own)
        row = conn.execute(sa.select(state_t)).first()
        self._ready = row is not None and _complete(row)
        return self._ready

    def progress(self) -> tuple[int, int, bool]:
        """``(events indexed, events to index, assets done)`` of the build."""
        with self._db.connect() as conn:
            row = conn.execute(sa.select(state_t)).first()
        if row is None:
            return 0, 0, True
        return int(row.events_below), int(row.events_target), bool(row.assets_done)


def _complete(row: Any) -> bool:
    return bool(row.events_below >= row.events_target and row.assets_done)


def build_index(
    db: Database,
    *,
    batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> bool:
    """Index what the database held at migration 10, ``batch`` events (or assets) per
    transaction, each advancing the marker with its rows; True once complete.

    Safe to run in several processes at once: each batch holds the append lock (the log
    state's row on PostgreSQL, the write lock on SQLite) and reads the marker under it, so no
    batch is built twice and no asset's attributes change while its terms are written.
    ``progress(done, total)`` is called after each batch; ``stop`` ends the build between
    batches (it resumes from the marker next time).
    """
    while stop is None or not stop.is_set():
        with db.begin() as conn:
            if conn.dialect.name == "postgresql":
                driver_rows(conn, "SELECT id FROM ledger_log_state WHERE id = 1 FOR UPDATE")
                driver_rows(conn, "SELECT id FROM ledger_index_state WHERE id = 1 FOR UPDATE")
            row = conn.execute(sa.select(state_t)).first()
            if row is None or _complete(row):
                return True
            if row.events_below < row.events_target:
                _events_batch(conn, int(row.events_below), int(row.events_target), batch)
            else:
                _assets_batch(conn, row.assets_after, batch)
            after = conn.execute(sa.select(state_t)).one()
        if progress is not None:
            progress(int(after.events_below), int(after.events_target))
    return False


def _events_batch(conn: Connection, below: int, target: int, batch: int) -> None:
    end = min(below + batch, target)
    rows = conn.execute(
        sa.select(events_t.c.log_index, events_t.c.entry)
        .where(events_t.c.log_index >= below, events_t.c.log_index < end)
        .order_by(events_t.c.log_index)
    ).all()
    term_rows: list[tuple[str, int]] = []
    for log_index, entry in rows:
        record = orjson.loads(entry)
        for each in event_terms(
            record.get("event_attributes") or {},
            record.get("asset_attributes") or {},
            record["operation"],
            record["behaviour"],
        ):
            term_rows.append((each, int(log_index)))
    _insert_new(conn, event_terms_t, ("term", "log_index"), term_rows)
    conn.execute(sa.update(state_t).where(state_t.c.id == 1).values(events_below=end))


def _assets_batch(conn: Connection, after: str | None, batch: int) -> None:
    select = sa.select(assets_t.c.uuid, assets_t.c.attributes).order_by(assets_t.c.uuid)
    if after is not None:
        select = select.where(assets_t.c.uuid > after)
    rows = conn.execute(select.limit(batch)).all()
    term_rows = [
        (each, uuid) for uuid, attributes in rows for each in asset_terms(orjson.loads(attributes))
    ]
    _insert_new(conn, asset_terms_t, ("term", "asset_uuid"), term_rows)
    values: dict[str, Any] = {"assets_done": len(rows) < batch}
    if rows:
        values["assets_after"] = rows[-1][0]
    conn.execute(sa.update(state_t).where(state_t.c.id == 1).values(**values))


def _insert_new(
    conn: Connection, table: sa.Table, columns: tuple[str, str], rows: Iterable[tuple[Any, Any]]
) -> None:
    """Insert rows, skipping any already there (an asset created or an event appended since
    the migration indexed itself)."""
    rows = list(rows)
    if not rows:
        return
    verb = "INSERT OR IGNORE" if conn.dialect.name == "sqlite" else "INSERT"
    tail = "" if conn.dialect.name == "sqlite" else " ON CONFLICT DO NOTHING"
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        sql = (
            f"{verb} INTO {table.name} ({columns[0]}, {columns[1]}) VALUES "
            + ", ".join(["(?, ?)"] * len(chunk))
            + tail
        )
        driver_rows(conn, sql, [value for row in chunk for value in row])
