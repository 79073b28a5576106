"""The in-process memory of token lookups: writes through the store drop it at once; a write
through another process is honoured within ``cache_seconds``; expiry is checked on every use."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from trustee.auth.token_store import TokenStore
from trustee.storage import Database, open_database

T0 = 1_800_000_000.0


class Clock:
    """A monotonic clock the test moves by hand: no sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'tokens.db'}")
    yield database
    database.close()


def test_a_lookup_is_remembered_and_the_store_forgets_on_revoke(db: Database) -> None:
    store = TokenStore(db)
    issued = store.create(["app"], now=T0)
    assert store.cached(issued.client_token, now=T0) is None  # nothing looked up yet
    entry = store.lookup(issued.client_token, now=T0)
    assert store.cached(issued.client_token, now=T0) == entry
    store.revoke(issued.client_token)
    assert store.cached(issued.client_token, now=T0) is None
    assert store.lookup(issued.client_token, now=T0) is None


def test_renewal_through_the_store_is_seen_at_once(db: Database) -> None:
    store = TokenStore(db)
    issued = store.create(["app"], ttl=60, now=T0)
    assert store.lookup(issued.client_token, now=T0).expire_time == T0 + 60
    store.renew(issued.client_token, increment=600, now=T0 + 30)
    assert store.lookup(issued.client_token, now=T0 + 30).expire_time == T0 + 630


def test_another_process_revocation_is_honoured_within_the_window(db: Database) -> None:
    clock = Clock()
    here = TokenStore(db, cache_seconds=2.0, clock=clock)
    elsewhere = TokenStore(db)  # another server process over the same database
    issued = elsewhere.create(["app"], now=T0)
    assert here.lookup(issued.client_token, now=T0) is not None
    elsewhere.revoke_accessor(issued.accessor)
    clock.now += 1.9
    assert here.lookup(issued.client_token, now=T0) is not None  # still remembered
    clock.now += 0.1
    assert here.lookup(issued.client_token, now=T0) is None


def test_an_expired_token_is_never_answered_from_memory(db: Database) -> None:
    store = TokenStore(db)
    issued = store.create(["app"], ttl=60, now=T0)
    assert store.lookup(issued.client_token, now=T0 + 59) is not None
    assert store.cached(issued.client_token, now=T0 + 60) is None
    assert store.lookup(issued.client_token, now=T0 + 60) is None


def test_no_memory_with_a_zero_window(db: Database) -> None:
    store = TokenStore(db, cache_seconds=0)
    issued = store.create(["app"], now=T0)
    assert store.lookup(issued.client_token, now=T0) is not None
    assert store.cached(issued.client_token, now=T0) is None


def test_a_read_that_raced_a_revocation_is_not_kept(db: Database) -> None:
    store = TokenStore(db)
    issued = store.create(["app"], now=T0)

    class RevokingDuringRead(Database):
        """Commits a revocation after the lookup's read, before the lookup keeps its row."""

        @contextmanager
        def connect(self):  # type: ignore[override]
            with db.connect() as conn:
                yield conn
            store.revoke(issued.client_token)

    store._db = RevokingDuringRead(db.engine)
    assert store.lookup(issued.client_token, now=T0) is not None  # the row it read was live
    store._db = db
    assert store.cached(issued.client_token, now=T0) is None
    assert store.lookup(issued.client_token, now=T0) is None
