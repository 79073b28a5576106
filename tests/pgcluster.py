"""A throwaway PostgreSQL cluster from the machine's binaries, for storage tests on both engines.

``TRUSTEE_TEST_POSTGRES_URL`` wins when set. Otherwise ``initdb`` and ``pg_ctl`` start a cluster
on a free loopback port in a temporary folder (as the ``postgres`` user when running as root,
because PostgreSQL refuses to run as root), stopped at the end of the session.

Inside that one cluster, :class:`Databases` gives each test module (or test) a database of its
own, so tests never see each other's rows and the cluster starts only once per session.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg import sql

from live_server import free_port


def find_binaries() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _as_cluster_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


class Cluster:
    """A throwaway PostgreSQL server that a test may stop and start again (an outage)."""

    def __init__(self, binaries: Path, folder: Path, port: int, options: str) -> None:
        self.binaries, self.folder, self.port, self.options = binaries, folder, port, options
        self.data = folder / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def start(self) -> None:
        command = [str(self.binaries / "pg_ctl"), "-D", str(self.data), "-o", self.options]
        command += ["-w", "-l", str(self.folder / "server.log"), "start"]
        subprocess.run(_as_cluster_user(command), check=True, capture_output=True, timeout=120)

    def stop(self, *, check: bool = True) -> None:
        command = [str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_cluster_user(command), check=check, capture_output=True, timeout=120)


@contextmanager
def controllable_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A fresh, empty, running cluster; removed afterwards.

    Tests run with ``fsync=off`` (a throwaway cluster need not survive a power cut, and the
    suite is faster); ``durable=True`` keeps PostgreSQL's defaults, for honest benchmarks.
    """
    binaries = find_binaries()
    if binaries is None:
        raise FileNotFoundError("no PostgreSQL binaries (initdb) on this machine")
    folder = Path(tempfile.mkdtemp(prefix="trustee-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    initdb = [str(binaries / "initdb"), "-D", str(folder / "data"), "-A", "trust"]
    initdb += ["-U", "postgres", "--no-sync", "-E", "UTF8"]
    subprocess.run(_as_cluster_user(initdb), check=True, capture_output=True, timeout=120)
    # Each server replica keeps a pool, and every test module a database: allow plenty.
    port = free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
    if not durable:
        options += " -c fsync=off"
    cluster = Cluster(binaries, folder, port, options)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop(check=False)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def throwaway_cluster(*, durable: bool = False) -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh, empty cluster; remove it afterwards."""
    with controllable_cluster(durable=durable) as cluster:
        yield cluster.url


def _driver_free(url: str) -> str:
    """A libpq URL (``postgresql://``) for psycopg, from a SQLAlchemy one."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class Databases:
    """Fresh databases inside one PostgreSQL server, made and dropped on demand.

    :meth:`create` answers an empty database (``CREATE DATABASE``), for tests of migrations
    and for live servers. :meth:`recycled` answers one migrated database emptied again for
    each caller: ``CREATE DATABASE`` and the migrations cost a quarter of a second, emptying
    a few milliseconds, and most tests need only "a database with nothing in it".
    """

    def __init__(self, server_url: str) -> None:
        self._server = sa.make_url(server_url)
        self._admin = _driver_free(server_url)
        self._prefix = f"trustee_test_{uuid.uuid4().hex[:8]}"
        self._count = 0
        self._lock = threading.Lock()
        self._recycled: str | None = None
        self._baseline: dict[str, list[tuple]] = {}

    def url(self, name: str) -> str:
        return self._server.set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        """A new, empty database; its URL."""
        with self._lock:
            self._count += 1
            name = f"{self._prefix}_{self._count}"
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made here, even with connections still open to it."""
        name = sa.make_url(url).database
        if not name or not name.startswith(self._prefix):
            raise ValueError(f"not a database of this session: {name!r}")
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def recycled(self) -> str:
        """The session's migrated database, emptied back to its just-migrated rows."""
        from trustee.storage import open_database

        if self._recycled is not None and not self._restore():
            self.drop(self._recycled)  # a test changed its tables: start again from nothing
            self._recycled = None
        if self._recycled is None:
            self._recycled = self.create()
            open_database(self._recycled).close()
            self._baseline = self._snapshot()
        return self._recycled

    def close(self) -> None:
        if self._recycled is not None:
            self.drop(self._recycled)
            self._recycled = None

    def _snapshot(self) -> dict[str, list[tuple]]:
        assert self._recycled is not None
        with psycopg.connect(_driver_free(self._recycled)) as conn:
            return {
                table: conn.execute(
                    sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))
                ).fetchall()
                for table in self._tables(conn)
            }

    def _restore(self) -> bool:
        """Close what earlier users left open, delete every row, put the baseline back; False
        (and nothing done) when the tables are no longer the ones just migrated."""
        assert self._recycled is not None
        name = sa.make_url(self._recycled).database
        with psycopg.connect(_driver_free(self._recycled), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            with conn.transaction():
                tables = self._tables(conn)
                if set(tables) != set(self._baseline):
                    return False
                for table in tables:
                    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                for table, rows in self._baseline.items():
                    if rows:
                        insert = sql.SQL("INSERT INTO {} VALUES ({})").format(
                            sql.Identifier(table),
                            sql.SQL(", ").join([sql.Placeholder()] * len(rows[0])),
                        )
                        with conn.cursor() as cursor:
                            cursor.executemany(insert, rows)
        return True

    @staticmethod
    def _tables(conn: psycopg.Connection) -> list[str]:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        ).fetchall()
        return [row[0] for row in rows]
