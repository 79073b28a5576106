"""Events' terms made by SQLite itself, for the indexer behind the appends.

Why: made in Python (decoding each entry, then building its terms), the terms cost about
14 µs of interpreter time per event, which the appends of the same process wait for. Made by
SQLite's JSON functions, the work runs while the interpreter serves the appends: the
``sqlite3`` module lets go of it while a statement runs. (On a 2-core host whose CPU is
already the limit this alone did not make appends faster, see :mod:`trustee.ledger.indexer`;
it leaves the interpreter to the requests.) The terms are staged, in log order, in a
temporary table of the indexer's connection without holding the write lock; the write
transaction then copies them in one statement, in that order. They all land in the part of
the B-tree of the last epoch or two (a few MB, see :mod:`trustee.ledger.indexer`), whose pages
a batch writes whether its terms come sorted or not: sorting them first, in a temporary
B-tree keyed as the index or with SQLite's sorter in the copy, cost CPU and saved nothing
(measured at 192,000 device-signed events: 10.2 µs of the indexer's CPU per event in log
order, 11.6 µs sorted by the sorter, about 14 µs through the temporary B-tree; bytes written
and index pages within 3%).

The SQL makes the body of the term :func:`trustee.ledger.terms.term` makes, from the stored
(canonical) entry: the key's length in UTF-8 bytes, the key, and the value's string form,
which SQLite renders as Python does for text, integers, ``true``, ``false`` and ``null``.
Python finishes what SQLite cannot do the same way, each in one loop over the few rows
concerned rather than a call per row from inside the statement (such a call waits for the
interpreter, up to its switch interval while appends hold it):

- bodies longer than :data:`~trustee.ledger.terms.MAX_TERM_BYTES` are hashed
  (:func:`~trustee.ledger.terms.long_term`; SQLite has no SHA-256);
- an event with a non-integer number, an array or an object among its values (whose string
  form is orjson's JSON text of it), or with a NUL in an attribute, the operation or the
  behaviour (SQLite's JSON strings end at an escaped one), has all its terms made by
  :func:`~trustee.ledger.terms.entry_terms`; such values are rare in practice.

A property test checks that both ways make the same terms for random entries.
"""

from __future__ import annotations

import orjson
from sqlalchemy.engine import Connection

from trustee.ledger.bulk import insert_rows
from trustee.ledger.segments import LEVEL_BITS
from trustee.ledger.terms import (
    ASSET_UPDATE,
    BEHAVIOUR,
    EPOCH_BITS,
    EVENT,
    OPERATION,
    entry_terms,
    long_term,
)
from trustee.storage.schema_ledger import ledger_event_terms

__all__ = ["STAGED", "clear_staged", "copy_staged", "stage_event_terms"]

STAGED = "temp.ledger_index_staged"
"""The staged terms (term, log index), in log order: a temporary table, private to the
connection. While staging, a term is first what SQLite made of a member: its body, or NULL
for an event Python has to make the terms of."""


def _members(section: str, position: int) -> str:
    """The members of one section, at ``position`` in ``e.both_`` (an absent or ``null``
    section has none: json_each gives the root of a scalar, keyless). A value SQLite does not
    render as Python does gets a NULL body: a real, an array, an object, and an integer beyond
    64 bits (its JSON type is 'integer' but its SQL value a REAL)."""
    return f"""
        SELECT e.log_index AS log_index,
               CASE WHEN NOT e.nul
                    THEN '{section}' || length(CAST(j.key AS BLOB)) || ':' || j.key
                         || CASE j.type
                              WHEN 'text' THEN j.atom
                              WHEN 'integer' THEN iif(typeof(j.atom) = 'integer',
                                                      CAST(j.atom AS TEXT), NULL)
                              WHEN 'true' THEN 'true'
                              WHEN 'false' THEN 'false'
                              WHEN 'null' THEN 'null'
                            END
               END AS body
        FROM e, json_each(e.both_, '$[{position}]') AS j
        WHERE j.key IS NOT NULL"""  # noqa: S608 - constants of this module


# Each entry is parsed once, for the text of its two sections (a json_each of the whole entry
# walked every member and cost three times as much): the second json_extract of a row finds
# the entry in SQLite's cache of parsed JSON, which cost less than materializing the sections
# once more to check them. Each section's text is parsed again, a fraction of the entry. An
# escaped NUL in a section, or a NUL in the operation or behaviour, sends the whole event to
# Python, by a NULL body.
_SECTIONS = "json_extract(entry, '$.event_attributes', '$.asset_attributes')"
_MAKE_BODIES = f"""
    WITH e AS MATERIALIZED (
        SELECT log_index, operation, behaviour, {_SECTIONS} AS both_,
               instr({_SECTIONS}, '\\u0000') > 0 OR instr(operation, char(0)) > 0
               OR instr(behaviour, char(0)) > 0 AS nul
        FROM ledger_events WHERE log_index >= :below AND log_index < :upto
    )
    INSERT INTO {STAGED} (log_index, term)
    {_members(EVENT, 0)}
    UNION ALL {_members(ASSET_UPDATE, 1)}
    UNION ALL SELECT log_index, '{OPERATION}' || operation FROM e WHERE NOT nul
    UNION ALL SELECT log_index, '{BEHAVIOUR}' || behaviour FROM e WHERE NOT nul
    UNION ALL SELECT log_index, NULL FROM e WHERE nul
"""  # noqa: S608 - constants of this module
_LONG = "length(CAST(term AS BLOB)) > :most"
_LONG_BODIES = f"SELECT term, log_index FROM {STAGED} WHERE {_LONG}"  # noqa: S608
_PYTHON_EVENTS = f"""
    SELECT log_index, entry FROM ledger_events
    WHERE log_index IN (SELECT log_index FROM {STAGED} WHERE term IS NULL)
"""  # noqa: S608 - constants of this module
_UNFINISHED = f"DELETE FROM {STAGED} WHERE term IS NULL OR {_LONG}"  # noqa: S608
_KEY = ("segment", "term", "log_index")
# The segment is the epoch's, as :func:`trustee.ledger.segments.level0_segment` makes it.
_COPY = f"""
    INSERT OR IGNORE INTO {ledger_event_terms.name} ({", ".join(_KEY)})
    SELECT (log_index >> {EPOCH_BITS}) << {LEVEL_BITS}, term, log_index FROM {STAGED}
"""  # noqa: S608 - constants of this module and the schema


def stage_event_terms(conn: Connection, below: int, upto: int, most: int) -> None:
    """Stage in :data:`STAGED`, replacing what it held, the terms of the events with log
    indexes in ``[below, upto)`` (bodies of at most ``most`` bytes kept as they are); one read
    transaction of ``conn``, committed here."""
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {STAGED} (term TEXT, log_index INTEGER NOT NULL)"
    )
    conn.exec_driver_sql(f"DELETE FROM {STAGED}")  # noqa: S608 - a constant
    bounds = {"below": below, "upto": upto, "most": most}
    conn.exec_driver_sql(_MAKE_BODIES, bounds)
    rows = [
        (long_term(body), log_index)
        for body, log_index in conn.exec_driver_sql(_LONG_BODIES, bounds)
    ]
    rows += [
        (each, int(log_index))
        for log_index, entry in conn.exec_driver_sql(_PYTHON_EVENTS, bounds)
        for each in entry_terms(orjson.loads(entry))
    ]
    if rows:
        conn.exec_driver_sql(_UNFINISHED, bounds)
        insert_rows(conn, STAGED, ("term", "log_index"), rows)
    conn.commit()


def copy_staged(conn: Connection) -> None:
    """Add the staged terms to the index, in ``conn``'s write transaction; terms already
    there (an indexer that lost a race) are skipped."""
    conn.exec_driver_sql(_COPY)


def clear_staged(conn: Connection) -> None:
    """Empty :data:`STAGED` once its terms are written (it lives as long as the connection)."""
    conn.exec_driver_sql(f"DELETE FROM {STAGED}")  # noqa: S608 - a constant
    conn.commit()
