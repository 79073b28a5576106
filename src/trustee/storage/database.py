"""Opening the database: SQLite (embedded default) or PostgreSQL, migrated on open.

SQLite is tuned for an answer that survives a power cut once it is given: WAL journal,
``synchronous=FULL``, foreign keys on and a busy timeout so concurrent writers wait instead of
failing. Python's sqlite3 module is told to stay out of transaction handling, and SQLAlchemy's
``begin`` event issues ``BEGIN`` itself: then DDL is transactional too, and :meth:`Database.begin`
takes the write lock up front (``BEGIN IMMEDIATE``), which avoids the deadlock two readers hit
when both try to upgrade to writers.

Writers to one SQLite file take turns through a lock of their own (:class:`_WriterTurns`): a
writer that finds SQLite's lock busy polls for it, sleeping 1, 2, 5, ... up to 100 ms between
tries, so a second server process appending behind a busy one waited many times longer than
the transaction it waited for. A blocking ``flock`` on a file beside the database wakes the
next writer as soon as the previous one ends.

PostgreSQL goes through psycopg 3; ``postgresql://`` and ``postgres://`` URLs are rewritten
to ``postgresql+psycopg://``. Each process keeps a pool of connections (SQLAlchemy's queue
pool: ``pool_size`` kept open, up to ``max_overflow`` more under load, both settable as URL
query parameters), checked with a ping when taken, so a connection the server closed (a
restart, a fail-over) is replaced instead of failing a request. Several server processes share
one PostgreSQL database this way; what must be serialised between them (migrations, log
appends) is serialised by locks in the database, never in a process.
"""

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

from trustee.storage.migrations import migrate
from trustee.storage.outages import outages_as_unavailable

BUSY_TIMEOUT_MS = 10_000
_WRITE = "trustee_write"

# Enough for the server's worker threads to rarely wait, few enough that a handful of replicas
# stay well under PostgreSQL's default max_connections (100).
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 10
PG_POOL_TIMEOUT_SECONDS = 30
PG_APPLICATION_NAME = "trustee"
PG_CONNECT_TIMEOUT_SECONDS = 5
"""libpq waits for ever on an address that drops packets; a request should fail over instead."""
_POOL_SETTINGS = ("pool_size", "max_overflow")


class Database:
    """An engine plus the two ways services use it: a write transaction or a plain connection."""

    def __init__(
        self, engine: Engine, *, serialize: bool = False, writers: "_WriterTurns | None" = None
    ) -> None:
        self.engine = engine
        # One shared in-memory SQLite connection cannot hold two transactions at once, so
        # users of it take turns; file and PostgreSQL databases use a pool instead.
        self._turns = threading.RLock() if serialize else None
        self._writers = writers
        self._closed = threading.Event()

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def begin(self, *, durable: bool = True, on: Connection | None = None) -> Iterator[Connection]:
        """A connection inside a transaction: committed on normal exit, rolled back on error.

        On SQLite the transaction holds the write lock from its start (``BEGIN IMMEDIATE``).
        An outage of the database, met anywhere inside, is :class:`StorageUnavailable`.

        ``durable=False`` is for derived data only (data rebuilt from what durable transactions
        wrote, with its own marker in the same transaction): the commit does not wait for the
        disk (SQLite ``synchronous=NORMAL`` on this connection for this transaction, PostgreSQL
        ``synchronous_commit = off``). A crash may lose the last such transactions, each whole;
        it never reorders or tears them, and durable transactions stay durable.

        ``on``: a connection of :meth:`connect`, outside any transaction, to run this one on
        instead of a new one; what lives only in a connection (SQLite's temporary tables)
        stays visible.
        """
        with (
            outages_as_unavailable(),
            self._turn(),
            self._writer_turn(),
            self.engine.connect() if on is None else nullcontext(on) as conn,
        ):
            conn.execution_options(**{_WRITE: True})
            relaxed = not durable and self.dialect_name == "sqlite"
            if relaxed:
                _sqlite_pragma(conn, "synchronous = NORMAL")
            try:
                with conn.begin():
                    if not durable and self.dialect_name == "postgresql":
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    yield conn
            finally:
                conn.execution_options(**{_WRITE: False})
                if relaxed:
                    _sqlite_pragma(conn, "synchronous = FULL")

    @contextmanager
    def connect(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A connection for reads; it begins a (deferred) transaction on first use.

        ``snapshot``: its reads all see the database as of the first, so that what one read
        says about another holds (SQLite's read transaction is so already; on PostgreSQL
        ``REPEATABLE READ`` instead of each statement's own view).
        """
        with outages_as_unavailable(), self._turn(), self.engine.connect() as conn:
            if snapshot and self.dialect_name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    def ping(self) -> None:
        """One round trip to the database; :class:`StorageUnavailable` if it does not answer."""
        with self.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self._closed.set()
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called: a disposed engine would quietly open new
        connections, so background work (the ledger's indexer) asks this to know it is over."""
        return self._closed.is_set()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if self._turns is None:
            yield
        else:
            with self._turns:
                yield

    def _writer_turn(self) -> AbstractContextManager[None]:
        return nullcontext() if self._writers is None else self._writers.turn()


class _WriterTurns:
    """One writer at a time on a SQLite file, among this process's threads and other processes.

    A thread lock orders this process's writers (``flock`` belongs to an open file, which the
    threads share), then an exclusive ``flock`` on ``path`` orders processes; the kernel wakes
    a waiting process when the lock is released. Where ``flock`` is missing, SQLite's own lock
    still keeps writes apart, at its polling pace. The file is opened per process, so a forked
    child never shares its parent's lock.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.RLock()
        self._file: tuple[int, int] | None = None  # (pid, descriptor)

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._local:
            descriptor = self._descriptor()
            if descriptor is None:
                yield
                return
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._local:
            if self._file is not None and self._file[0] == os.getpid():
                os.close(self._file[1])
            self._file = None

    def _descriptor(self) -> int | None:
        if fcntl is None:
            return None
        if self._file is None or self._file[0] != os.getpid():
            self._file = (os.getpid(), os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._file[1]


def open_database(url: str, *, apply_migrations: bool = True) -> Database:
    """Open (creating when needed) the database at ``url`` and bring its schema up to date.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``
    (one shared connection, for tests) or ``postgresql://user:pass@host/db``.
    """
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = _open_sqlite(parsed)
    elif backend in ("postgresql", "postgres"):
        database = _open_postgresql(parsed)
    else:
        raise ValueError(f"unsupported storage URL scheme {backend!r}: use sqlite or postgresql")
    if apply_migrations:
        try:
            with database.begin() as conn:
                migrate(conn)
        except BaseException:
            database.close()
            raise
    return database


def _open_sqlite(url: URL) -> Database:
    path = url.database
    in_memory = path in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        url = url.set(database=":memory:")
        kwargs["poolclass"] = StaticPool
    else:
        _prepare_file(Path(path).expanduser())
    engine = sa.create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    if in_memory:
        return Database(engine, serialize=True)
    writers = _WriterTurns(Path(f"{Path(path).expanduser()}-writer"))
    return Database(engine, writers=writers)


def _prepare_file(path: Path) -> None:
    """Create the parent folder and the file, readable by its owner only, if they are new."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # None = autocommit at the driver level: SQLAlchemy's begin event below emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    """Set a pragma on the driver's connection, outside any transaction (SQLite ignores a
    change of ``synchronous`` inside one)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _open_postgresql(url: URL) -> Database:
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    # Pool settings are ours, not libpq's: take them out of the URL before psycopg sees it.
    settings = {name: _pool_setting(url, name) for name in _POOL_SETTINGS}
    url = url.difference_update_query(_POOL_SETTINGS)
    connect_args: dict[str, Any] = {}
    if "application_name" not in url.query:
        connect_args["application_name"] = PG_APPLICATION_NAME  # visible in pg_stat_activity
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings["pool_size"] if settings["pool_size"] is not None else PG_POOL_SIZE,
        max_overflow=settings["max_overflow"]
        if settings["max_overflow"] is not None
        else PG_MAX_OVERFLOW,
        pool_timeout=PG_POOL_TIMEOUT_SECONDS,
        connect_args=connect_args,
    )
    return Database(engine)


def _pool_setting(url: URL, name: str) -> int | None:
    value = url.query.get(name)
    if value is None:
        return None
    text = value if isinstance(value, str) else value[-1]
    if not text.isdigit():
        raise ValueError(f"{name} in the storage URL must be a whole number, got {text!r}")
    return int(text)
