"""The attribute index: equality filters answered by an index instead of a scan.

A *term* is one filterable fact of an event or an asset, as text: its section (``e`` an event
attribute, ``a`` an attribute the event set on its asset, ``o`` the operation, ``b`` the
behaviour, ``s`` an asset's current attribute), the key's length in UTF-8 bytes, ``:``, the
key, and the value's string form, the form :func:`trustee.ledger.paging.matches` compares with
a query's text (``e4:site`` then ``north`` for ``event_attributes.site=north``). The length
makes the split between key and value unambiguous without escaping anything, so SQLite can
make the same term from a stored entry (:mod:`trustee.ledger.sqlite_terms`). A query looks up
its term in ``ledger_event_terms``, whose key ``(segment, term, log_index)`` yields matching
events in log order within each segment (a run of epochs of 8,192 log indexes), ready for a
page or a count; several filters are joined on the log index (assets: on the uuid). Terms
longer than 128 UTF-8 bytes, or holding a NUL, are stored as their SHA-256 (``#`` and 64 hex
digits): equal terms have equal hashes, and only a SHA-256 collision, the assumption the log's own
hashes rest on, could add a match. Pages re-check every candidate on its decoded entry all
the same.

Why a term table: one B-tree of short text keys answers a selective first page or a count
in about a millisecond whatever the log's size (bench/queries.py, and the README's Performance
section), on both engines, for any key; expression indexes need their keys known in advance,
and a JSON GIN index exists on PostgreSQL only. Hashing every term to 64 bits made the table
smaller, but gave no faster look-ups at 3·10⁵ events and would need a re-check for counts.

Why the segment first: keyed by term alone, the terms of unique values (signatures, readings,
uuids) land all over the B-tree, so every batch of the indexer rewrote pages everywhere in it:
measured at 10⁵ events, a batch of 5,000 events wrote 7.8 MB to the WAL (1.6 KB per event,
twice what the appends themselves write), growing with the log. Filed under their epoch, a
batch's rows land among those of the last few thousand events, whatever the log's size, and
it writes 0.8 MB. A look-up then seeks once per segment, in one statement; closed epochs are
merged in tiers into larger segments (:mod:`trustee.ledger.segments`), so that there are
about 20 of them at 10⁶ events rather than 122 epochs.

Events' terms are written behind the appends by :mod:`trustee.ledger.indexer` (why, and the
measurements, are there); :class:`IndexState` tells the queries how far it has come. Assets'
terms are written with the asset, in its own transaction (a create, or an event whose
``asset_attributes`` change it): assets are few beside events, and a filter over assets has no
log order to split into an indexed part and a tail.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from hashlib import sha256
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.ledger.bulk import insert_rows
from trustee.ledger.canonical import canonical_json
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_asset_terms as asset_terms_t
from trustee.storage.schema_ledger import ledger_events as events_t
from trustee.storage.schema_ledger import ledger_index_state as state_t

__all__ = [
    "ASSET",
    "ASSET_UPDATE",
    "BEHAVIOUR",
    "EPOCH_BITS",
    "EVENT",
    "MAX_TERM_BYTES",
    "OPERATION",
    "IndexState",
    "asset_terms",
    "entry_terms",
    "epoch_of",
    "event_terms",
    "long_term",
    "query_terms",
    "term",
    "write_asset_terms",
]

EVENT, ASSET_UPDATE, OPERATION, BEHAVIOUR, ASSET = "e", "a", "o", "b", "s"
MAX_TERM_BYTES = 128
"""Within the column's 128 characters. Device signatures (86 characters of base64url) under
their key fit, so the indexer need not hash one per event in Python (measured: 19.5 against
13.5 µs of the indexer per device-signed event with 80)."""
EPOCH_BITS = 13


def epoch_of(log_index: int) -> int:
    """The run of 8,192 log indexes an event's terms are filed under (see the module's
    docstring: why the index is keyed by epoch first)."""
    return log_index >> EPOCH_BITS


def term(section: str, key: str | None, text: str) -> str:
    """The term of ``key`` having the string form ``text`` in ``section`` (no key: the
    operation or behaviour itself)."""
    body = section + text if key is None else f"{section}{len(_utf8(key))}:{key}{text}"
    try:
        fits = len(body.encode("utf-8")) <= MAX_TERM_BYTES and "\x00" not in body
    except UnicodeEncodeError:  # a lone surrogate: no stored value has one
        fits = False
    return body if fits else long_term(body)


def long_term(body: str) -> str:
    """The term of a body longer than :data:`MAX_TERM_BYTES`, or holding a NUL (which
    PostgreSQL's text cannot): ``#`` and its SHA-256 in hex."""
    return "#" + sha256(_utf8(body)).hexdigest()


def _utf8(text: str) -> bytes:
    # A query (through the Python API) may carry a lone surrogate, which no stored value has:
    # its term is a hash that matches nothing, rather than an error.
    return text.encode("utf-8", "surrogatepass")


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
        _named_term(OPERATION, operation),
        _named_term(BEHAVIOUR, behaviour),
    ]


def entry_terms(record: Mapping[str, Any]) -> list[str]:
    """Every term of an event, from its entry as the log stores it."""
    return event_terms(
        record.get("event_attributes") or {},
        record.get("asset_attributes") or {},
        record["operation"],
        record["behaviour"],
    )


@functools.lru_cache(maxsize=256)
def _named_term(section: str, name: str) -> str:
    """An operation's or behaviour's term: a few names, made once each."""
    return term(section, None, name)


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
    """How far the index has come, read by the queries: events below a log index (the marker
    the indexer advances), and whether every asset is indexed (once so, it stays so, which
    this object remembers for the process)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._assets_ready = False

    def events_below(self, conn: Connection) -> int:
        """Every event below this log index is in the index; those from it on are not yet."""
        below = conn.execute(sa.select(state_t.c.events_below)).scalar()
        return 0 if below is None else int(below)

    def assets_ready(self, conn: Connection | None = None) -> bool:
        if self._assets_ready:
            return True
        if conn is None:
            with self._db.connect() as own:
                return self.assets_ready(own)
        done = conn.execute(sa.select(state_t.c.assets_done)).scalar()
        self._assets_ready = bool(done)
        return self._assets_ready

    def progress(self) -> tuple[int, int, bool]:
        """``(events indexed below, log index after the last event, assets done)``."""
        with self._db.connect() as conn:
            row = conn.execute(sa.select(state_t)).first()
            end = conn.execute(sa.select(sa.func.max(events_t.c.log_index))).scalar()
        after = 0 if end is None else int(end) + 1
        if row is None:
            return after, after, True
        return int(row.events_below), after, bool(row.assets_done)
