"""Events' terms made by SQLite itself, for the indexer behind the appends.

Why: made in Python (decoding each entry, then building its terms), the terms cost about
14 µs of interpreter time per event, and the appends of the same process waited for the
interpreter meanwhile; measured in the bench, durable appends ran at 0.77–0.83× of appends
without the index whether or not the terms were then written. Made by SQLite's JSON functions,
the work runs while the interpreter serves the appends: the ``sqlite3`` module lets go of it
while a statement runs. The terms are staged, already sorted by the index's key, in a
temporary table of the indexer's connection without holding the write lock; the write
transaction then copies them in one statement and holds the lock for milliseconds only.

The SQL makes the term :func:`trustee.ledger.terms.term` makes, from the stored (canonical)
entry: the key's length in UTF-8 bytes, the key, and the value's string form, which SQLite
renders as Python does for text, integers, ``true``, ``false`` and ``null``. The string form of
a non-integer number, an array or an object is orjson's JSON text of it, which SQLite does
not reproduce: an event with such a value has its terms made in Python
(:func:`trustee.ledger.terms.entry_terms`); such values are rare in practice. Bodies longer
than :data:`~trustee.ledger.terms.MAX_TERM_BYTES`, or holding a NUL, are hashed by
:func:`~trustee.ledger.terms.long_term`, registered on the connection. A property test checks
that both ways make the same terms for random entries.
"""

from __future__ import annotations

import orjson
from sqlalchemy.engine import Connection

from trustee.ledger.terms import ASSET_UPDATE, BEHAVIOUR, EVENT, OPERATION, entry_terms, long_term

__all__ = ["STAGED", "clear_staged", "stage_event_terms"]

STAGED = "temp.ledger_index_staged"
"""The staged terms: a temporary table, so it is private to the connection and never logged."""

_REGISTERED = "trustee_long_term"
# An integer beyond 64 bits has the JSON type 'integer' but a REAL value: Python renders it.
_RENDERED = (
    "(j.type IN ('text', 'true', 'false', 'null')"
    " OR j.type = 'integer' AND typeof(j.value) = 'integer')"
)
_UNRENDERED = f"NOT {_RENDERED}"
_EVENTS = "e.log_index >= :below AND e.log_index < :upto"
_NUL = "instr(CAST(e.entry AS TEXT), '\\u0000')"  # SQLite's JSON text ends at an escaped NUL


def _members(section: str, path: str, which: str) -> str:
    """The bodies of the members of the object at ``path`` whose values meet ``which`` (an
    absent or ``null`` section has none; json_each gives the root of a scalar, keyless)."""
    return f"""
        SELECT e.log_index AS log_index,
               '{section}' || length(CAST(j.key AS BLOB)) || ':' || j.key
               || CASE j.type
                    WHEN 'text' THEN j.value
                    WHEN 'integer' THEN CAST(j.value AS TEXT)
                    ELSE j.type
                  END AS body
        FROM ledger_events AS e, json_each(CAST(e.entry AS TEXT), '$.{path}') AS j
        WHERE {_EVENTS} AND j.key IS NOT NULL AND {which}"""  # noqa: S608 - constants


_STAGE = f"""
    INSERT OR IGNORE INTO {STAGED} (term, log_index)
    SELECT CASE WHEN length(CAST(body AS BLOB)) <= :most AND instr(CAST(body AS BLOB), x'00') = 0
                THEN body
                ELSE trustee_long_term(body) END,
           log_index
    FROM ({_members(EVENT, "event_attributes", _RENDERED)} AND {_NUL} = 0
          UNION ALL {_members(ASSET_UPDATE, "asset_attributes", _RENDERED)} AND {_NUL} = 0
          UNION ALL SELECT e.log_index, '{OPERATION}' || e.operation
                    FROM ledger_events AS e WHERE {_EVENTS}
          UNION ALL SELECT e.log_index, '{BEHAVIOUR}' || e.behaviour
                    FROM ledger_events AS e WHERE {_EVENTS})
"""  # noqa: S608 - constants of this module

_UNRENDERED_EVENTS = f"""
    SELECT e.log_index, e.entry FROM ledger_events AS e
    WHERE {_EVENTS} AND {_NUL} > 0 OR e.log_index IN (
        SELECT log_index FROM ({_members(EVENT, "event_attributes", _UNRENDERED)})
        UNION SELECT log_index FROM ({_members(ASSET_UPDATE, "asset_attributes", _UNRENDERED)}))
"""  # noqa: S608 - constants of this module


def stage_event_terms(conn: Connection, below: int, upto: int, most: int) -> None:
    """Stage the terms of the events with log indexes in ``[below, upto)`` (bodies of at most
    ``most`` bytes kept as they are) in :data:`STAGED`, replacing what it held; one read
    transaction of ``conn``, committed here."""
    pooled = conn.connection
    if not pooled.info.get(_REGISTERED):  # once per connection: SQLite refuses it mid-statement
        pooled.driver_connection.create_function(  # type: ignore[union-attr]
            "trustee_long_term", 1, long_term, deterministic=True
        )
        pooled.info[_REGISTERED] = True
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {STAGED} "
        "(term TEXT NOT NULL, log_index INTEGER NOT NULL, PRIMARY KEY (term, log_index)) "
        "WITHOUT ROWID"
    )
    conn.exec_driver_sql(f"DELETE FROM {STAGED}")  # noqa: S608 - a constant
    bounds = {"below": below, "upto": upto, "most": most}
    conn.exec_driver_sql(_STAGE, bounds)
    rows = [
        (each, int(log_index))
        for log_index, entry in conn.exec_driver_sql(_UNRENDERED_EVENTS, bounds)
        for each in entry_terms(orjson.loads(entry))
    ]
    if rows:  # the terms SQLite made already are there: only the others are new
        insert = f"INSERT OR IGNORE INTO {STAGED} (term, log_index) VALUES (?, ?)"  # noqa: S608
        conn.exec_driver_sql(insert, rows)
    conn.commit()


def clear_staged(conn: Connection) -> None:
    """Empty :data:`STAGED` once its terms are written (it lives as long as the connection)."""
    conn.exec_driver_sql(f"DELETE FROM {STAGED}")  # noqa: S608 - a constant
    conn.commit()
