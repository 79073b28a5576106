"""Insert-or-replace by primary key: one statement, safe when replicas write the same new key.

The concurrent test opens one :class:`~trustee.storage.Database` per writer, as separate
server processes would, and starts each pair of writers on a barrier so both write a key that
neither has seen: the interleaving where "update, else insert" fails on PostgreSQL.
"""

import threading

import pytest
import sqlalchemy as sa

from trustee.storage import open_database, schema
from trustee.storage.upsert import upsert

KV = schema.kv_config


def _value(db, key: str) -> str | None:
    with db.connect() as conn:
        return conn.execute(sa.select(KV.c.value).where(KV.c.key == key)).scalar()


def test_upsert_inserts_then_replaces(storage_url):
    db = open_database(storage_url)
    with db.begin() as conn:
        upsert(conn, KV, {"key": "colour", "value": "red"})
    assert _value(db, "colour") == "red"
    with db.begin() as conn:
        upsert(conn, KV, {"key": "colour", "value": "blue"})
    assert _value(db, "colour") == "blue"
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(KV)).scalar() == 1
    db.close()


def test_upsert_needs_the_whole_key(storage_url):
    db = open_database(storage_url)
    with pytest.raises(ValueError, match="needs its key: key"), db.begin() as conn:
        upsert(conn, KV, {"value": "orphan"})
    db.close()


def test_replicas_writing_one_new_key_at_once_both_succeed(storage_url):
    replicas = [open_database(storage_url) for _ in range(2)]
    errors: list[Exception] = []
    for round_number in range(30):
        start = threading.Barrier(2)

        def write(db, writer: int, key: str = f"k{round_number}", start=start) -> None:
            start.wait()
            try:
                with db.begin() as conn:
                    upsert(conn, KV, {"key": key, "value": str(writer)})
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        writers = [threading.Thread(target=write, args=(db, n)) for n, db in enumerate(replicas)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
    assert errors == []
    with replicas[0].connect() as conn:
        rows = conn.execute(sa.select(KV.c.key, KV.c.value)).all()
    assert len(rows) == 30 and {value for _, value in rows} <= {"0", "1"}
    for db in replicas:
        db.close()
