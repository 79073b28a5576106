"""The in-process memory of sealed key rows: ciphertext only, still opened and checked on every
use; a deletion through the service is seen at once, one through another process within
``cache_seconds``."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from trustee.custody.barrier import Barrier
from trustee.custody.trustees import CorruptedKey, TrusteeService
from trustee.errors import NotFound, Sealed
from trustee.secret import Secret
from trustee.storage import Database, open_database, schema


class Clock:
    """A monotonic clock the test moves by hand: no sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[tuple[Database, Barrier]]:
    db = open_database(f"sqlite:///{tmp_path / 'keys.db'}")
    barrier = Barrier(db)
    (share,) = barrier.initialize(1, 1)
    barrier.unseal(Secret(share))
    yield db, barrier
    barrier.seal()
    db.close()


def test_a_deletion_through_the_service_is_seen_at_once(opened) -> None:
    db, barrier = opened
    service = TrusteeService(db, barrier)
    service.create("alice")
    assert not service.key_cached("alice")
    service.claim("alice")
    assert service.key_cached("alice")
    service.delete("alice")
    assert not service.key_cached("alice")
    with pytest.raises(NotFound):
        service.claim("alice")


def test_another_process_deletion_is_honoured_within_the_window(opened) -> None:
    db, barrier = opened
    clock = Clock()
    here = TrusteeService(db, barrier, cache_seconds=2.0, clock=clock)
    elsewhere = TrusteeService(db, barrier)
    elsewhere.create("alice")
    here.sign("alice", b"x")
    elsewhere.delete("alice")
    clock.now += 1.9
    assert here.sign("alice", b"x").address  # still remembered
    clock.now += 0.1
    with pytest.raises(NotFound):
        here.sign("alice", b"x")


def test_a_remembered_row_is_still_opened_under_the_barrier(opened) -> None:
    db, barrier = opened
    service = TrusteeService(db, barrier)
    service.create("alice")
    service.sign("alice", b"x")
    barrier.seal()
    with pytest.raises(Sealed):
        service.sign("alice", b"x")


def test_a_row_altered_later_is_refused_once_read_again(opened) -> None:
    db, barrier = opened
    clock = Clock()
    service = TrusteeService(db, barrier, clock=clock)
    service.create("alice")
    service.create("bob")
    service.sign("bob", b"x")
    table = schema.trustees
    with db.begin() as conn:
        alice = conn.execute(sa.select(table).where(table.c.name == "alice")).one()
        conn.execute(
            sa.update(table)
            .where(table.c.name == "bob")
            .values(sealed_private_key=alice.sealed_private_key)
        )
    clock.now += 2.0
    with pytest.raises(CorruptedKey):
        service.sign("bob", b"x")


def test_a_public_key_altered_after_a_good_signature_is_still_caught(opened) -> None:
    """The key-matches-public-key check is remembered per stored row, so a row whose public
    key is changed later (same ciphertext, same name and address) is checked again."""
    db, barrier = opened
    clock = Clock()
    service = TrusteeService(db, barrier, clock=clock)
    service.create("alice")
    other = service.create("bob")
    service.sign("alice", b"x")
    table = schema.trustees
    with db.begin() as conn:
        conn.execute(
            sa.update(table).where(table.c.name == "alice").values(public_key=other.public_key)
        )
    clock.now += 2.0
    with pytest.raises(CorruptedKey):
        service.sign("alice", b"x")
