"""The database opens, migrates once, persists and is tuned for durability, on both engines.

Tests taking ``storage_url`` or ``empty_storage_url`` run on SQLite and on PostgreSQL; the
SQLite tuning and file-permission tests are SQLite's own.
"""

import json
import os
import stat
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from trustee.storage import open_database, schema, schema_auth, schema_ledger
from trustee.storage.migrations import MIGRATIONS, current_version, migrate


def _url(path):
    return f"sqlite:///{path}"


def _versions(db):
    with db.connect() as conn:
        return [row.version for row in conn.execute(sa.select(schema.schema_version))]


def test_migrations_apply_once_and_reopen_is_idempotent(empty_storage_url):
    db = open_database(empty_storage_url)
    assert _versions(db) == list(range(1, len(MIGRATIONS) + 1))
    with db.begin() as conn:
        assert migrate(conn) == []
    db.close()

    again = open_database(empty_storage_url)
    assert _versions(again) == list(range(1, len(MIGRATIONS) + 1))
    with again.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"schema_version", "barrier", "server_tokens", "trustees", "kv_config"} <= tables
    again.close()


def test_database_persists_across_reopen(storage_url):
    db = open_database(storage_url)
    with db.begin() as conn:
        conn.execute(sa.insert(schema.kv_config).values(key="greeting", value="hello"))
    db.close()

    reopened = open_database(storage_url)
    with reopened.connect() as conn:
        value = conn.execute(
            sa.select(schema.kv_config.c.value).where(schema.kv_config.c.key == "greeting")
        ).scalar()
    assert value == "hello"
    reopened.close()


def test_sqlite_is_tuned_for_durability(tmp_path):
    db = open_database(_url(tmp_path / "trustee.db"))
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    assert db.dialect_name == "sqlite"
    db.close()


def test_parent_folder_and_file_are_created_private(tmp_path):
    path = tmp_path / "deep" / "er" / "trustee.db"
    db = open_database(_url(path))
    db.close()
    assert path.exists()
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_memory_database_shares_one_connection():
    db = open_database("sqlite:///:memory:")
    with db.begin() as conn:
        conn.execute(sa.insert(schema.kv_config).values(key="k", value="v"))
    with db.connect() as conn:
        assert conn.execute(sa.select(schema.kv_config.c.value)).scalar() == "v"
    db.close()


def test_transaction_rolls_back_on_error_ddl_included(storage_url):
    db = open_database(storage_url)
    with pytest.raises(RuntimeError), db.begin() as conn:
        conn.execute(sa.insert(schema.kv_config).values(key="k", value="v"))
        conn.exec_driver_sql("CREATE TABLE scratch (a INTEGER)")
        raise RuntimeError("boom")
    with db.connect() as conn:
        assert conn.execute(sa.select(schema.kv_config)).all() == []
        assert not sa.inspect(conn).has_table("scratch")
    db.close()


def test_a_new_step_is_applied_once_and_a_failing_step_leaves_nothing(empty_storage_url):
    db = open_database(empty_storage_url)
    extra = sa.Table("extra", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))

    def v2(conn):
        extra.create(conn)

    def v3_broken(conn):
        conn.exec_driver_sql("CREATE TABLE half_made (a INTEGER)")
        raise RuntimeError("step failed")

    with db.begin() as conn:
        assert migrate(conn, (*MIGRATIONS, v2)) == [len(MIGRATIONS) + 1]
    with db.begin() as conn:
        assert migrate(conn, (*MIGRATIONS, v2)) == []

    with pytest.raises(RuntimeError, match="step failed"), db.begin() as conn:
        migrate(conn, (*MIGRATIONS, v2, v3_broken))
    with db.connect() as conn:
        assert current_version(conn) == len(MIGRATIONS) + 1
        assert not sa.inspect(conn).has_table("half_made")
    db.close()


def test_step_4_drops_the_acceptance_verdict_and_keeps_every_event(empty_storage_url):
    """A database made before step 4 kept a verdict per event; the events survive without it."""
    db = open_database(empty_storage_url, apply_migrations=False)
    with db.begin() as conn:
        assert migrate(conn, MIGRATIONS[:3]) == [1, 2, 3]
        conn.execute(
            sa.text(
                "INSERT INTO ledger_events (uuid, asset_uuid, log_index, entry, "
                "timestamp_accepted, operation, behaviour, verdict, reason) VALUES "
                "('e1', 'a1', 0, :entry, 1.5, 'Record', 'RecordEvidence', 'BAD', 'forged')"
            ),
            {"entry": b'{"log_index":0}'},
        )
    with db.begin() as conn:
        assert migrate(conn, MIGRATIONS[:4]) == [4]
    with db.connect() as conn:
        columns = {column["name"] for column in sa.inspect(conn).get_columns("ledger_events")}
        row = conn.execute(sa.select(schema_ledger.ledger_events)).one()
    assert {"verdict", "reason"}.isdisjoint(columns)
    assert columns == {column.name for column in schema_ledger.ledger_events.columns}
    assert (row.uuid, row.log_index, bytes(row.entry)) == ("e1", 0, b'{"log_index":0}')
    db.close()


def _token_row(accessor, policies, metadata=None, parent=None):
    return {
        "token_hash": accessor.ljust(64, "0"),
        "accessor": accessor,
        "policies": json.dumps(policies),
        "metadata": json.dumps(metadata or {}),
        "display_name": "token",
        "created_time": 1.0,
        "expire_time": None,
        "ttl": 0,
        "explicit_max_ttl": 0,
        "renewable": False,
        "parent_accessor": parent,
    }


def test_step_5_puts_policy_names_in_their_one_form(empty_storage_url):
    """Names are trimmed and lower-cased; a name that only now reads as root is dropped, and
    tokens a login issued with root (and their children) are revoked."""
    db = open_database(empty_storage_url, apply_migrations=False)
    with db.begin() as conn:
        assert migrate(conn, MIGRATIONS[:4]) == [1, 2, 3, 4]
        conn.execute(
            sa.insert(schema_auth.acl_policies),
            [
                {"name": n, "text": "", "parsed": "{}", "updated_time": 0.0}
                for n in ("Alice-Only", "ops")
            ],
        )
        conn.execute(
            sa.insert(schema.server_tokens),
            [
                _token_row("root", ["root"]),
                _token_row("user", ["Alice-Only", " ops ", "Root", "default"]),
                _token_row("minted", ["default", "root"], {"role": "r1", "issuer": "0x1"}),
                _token_row("child", ["default"], parent="minted"),
            ],
        )
    with db.begin() as conn:
        assert migrate(conn, MIGRATIONS[:5]) == [5]
    with db.connect() as conn:
        names = conn.execute(sa.select(schema_auth.acl_policies.c.name)).scalars().all()
        tokens_t = schema.server_tokens
        tokens = dict(conn.execute(sa.select(tokens_t.c.accessor, tokens_t.c.policies)).all())
    assert sorted(names) == ["alice-only", "ops"]
    assert {accessor: json.loads(p) for accessor, p in tokens.items()} == {
        "root": ["root"],
        "user": ["alice-only", "default", "ops"],
    }
    db.close()


def test_step_5_refuses_names_that_differ_only_in_case(empty_storage_url):
    db = open_database(empty_storage_url, apply_migrations=False)
    with db.begin() as conn:
        migrate(conn, MIGRATIONS[:4])
        conn.execute(
            sa.insert(schema_auth.acl_policies),
            [{"name": n, "text": "", "parsed": "{}", "updated_time": 0.0} for n in ("Ops", "ops")],
        )
    with pytest.raises(RuntimeError, match="differ only in case"), db.begin() as conn:
        migrate(conn)
    with db.connect() as conn:
        assert current_version(conn) == 4
    db.close()


def test_a_newer_schema_is_refused(empty_storage_url):
    db = open_database(empty_storage_url)
    with db.begin() as conn:
        conn.execute(sa.insert(schema.schema_version).values(version=999, applied_time=0.0))
    db.close()
    with pytest.raises(RuntimeError, match="newer than this trustee"):
        open_database(empty_storage_url)


def test_concurrent_writers_wait_instead_of_failing(storage_url):
    db = open_database(storage_url)
    errors = []

    def write(worker):
        try:
            for index in range(20):
                with db.begin() as conn:
                    count = conn.execute(sa.select(sa.func.count()).select_from(schema.kv_config))
                    conn.execute(
                        sa.insert(schema.kv_config).values(
                            key=f"{worker}-{index}", value=str(count.scalar())
                        )
                    )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(schema.kv_config)).scalar() == 120
        )
    db.close()


def test_postgresql_urls_use_psycopg_and_hide_the_password():
    db = open_database("postgresql://user:hunter2@127.0.0.1:1/db", apply_migrations=False)
    assert db.engine.url.drivername == "postgresql+psycopg"
    assert db.dialect_name == "postgresql"
    assert "hunter2" not in repr(db)
    db.close()


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unsupported storage URL"):
        open_database("mysql://localhost/db")


def test_pool_settings_come_from_the_url_and_leave_it():
    db = open_database(
        "postgresql://user@127.0.0.1:1/db?pool_size=3&max_overflow=1&sslmode=disable",
        apply_migrations=False,
    )
    assert db.engine.pool.size() == 3
    assert db.engine.pool._max_overflow == 1
    assert dict(db.engine.url.query) == {"sslmode": "disable"}  # libpq never sees ours
    db.close()
    with pytest.raises(ValueError, match="pool_size"):
        open_database("postgresql://user@127.0.0.1:1/db?pool_size=many", apply_migrations=False)


@pytest.mark.postgres
def test_postgresql_replicas_migrate_once(postgres_databases):
    """Four processes' worth of engines open one empty database at once: one migrates."""
    url = postgres_databases.create()
    errors = []

    def start():
        try:
            open_database(url).close()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = open_database(url)
    assert _versions(db) == list(range(1, len(MIGRATIONS) + 1))
    with db.connect() as conn:
        assert conn.exec_driver_sql("SHOW application_name").scalar() == "trustee"
    db.close()
    postgres_databases.drop(url)


def test_sqlite_writers_of_every_process_take_turns_at_one_lock(tmp_path):
    """A write transaction holds an exclusive lock on a private file beside the database, so a
    writer in another process blocks in the kernel (woken at once) instead of polling SQLite."""
    path = tmp_path / "trustee.db"
    db = open_database(_url(path))
    lock = tmp_path / "trustee.db-writer"
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )

    def other_process_can_write() -> bool:
        done = subprocess.run([sys.executable, "-c", probe, str(lock)], timeout=60)
        assert done.returncode in (0, 3)
        return done.returncode == 0

    with db.begin() as conn:
        conn.execute(sa.insert(schema.kv_config).values(key="held", value="1"))
        assert not other_process_can_write()
    assert other_process_can_write()
    with db.connect() as conn:  # readers never wait for it
        assert conn.execute(sa.select(schema.kv_config.c.value)).scalar() == "1"
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
    db.close()
