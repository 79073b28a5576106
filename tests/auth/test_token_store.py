"""Server tokens: hash-only storage, lifetimes with an injected clock, renewal, revocation."""

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from trustee.auth.token_store import DEFAULT_TTL, MAX_TTL, TokenStore, hash_token
from trustee.durations import MAX_DURATION, parse_duration
from trustee.errors import InvalidRequest, PermissionDenied
from trustee.storage import open_database, schema

T0 = 1_700_000_000.0


@pytest.fixture
def db(storage_url):
    database = open_database(storage_url)
    yield database
    database.close()


@pytest.fixture
def store(db):
    return TokenStore(db)


def everything_stored(storage_url: str, db) -> bytes:
    """SQLite: every byte of the database's files; PostgreSQL: every row of every table."""
    url = sa.make_url(storage_url)
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database).parent
        files = b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
        db.close()  # closing checkpoints the WAL into the main file
        return files + b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
    with db.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        # Table names come from the database's own catalogue, not from input.
        query = 'SELECT t::text FROM "{}" t'
        rows = [conn.exec_driver_sql(query.format(t)).scalars() for t in tables]
        dump = "\n".join(text for table in rows for text in table).encode()
    db.close()
    return dump


def test_tokens_are_stored_only_as_hashes(storage_url, db, store):
    issued = [store.create(["app"], ttl="1h") for _ in range(3)]
    issued.append(store.create_root_token())
    files = everything_stored(storage_url, db)
    for token in issued:
        assert token.client_token.startswith("hvs.")
        assert len(token.client_token) == 4 + 43
        body = token.client_token[4:].encode()
        assert token.client_token.encode() not in files
        assert body not in files and body[:20] not in files
        assert hash_token(token.client_token).encode() in files
        assert token.accessor.encode() in files

    reopened = open_database(storage_url)
    again = TokenStore(reopened)
    for token in issued:
        entry = again.lookup(token.client_token)
        assert entry is not None and entry.accessor == token.accessor
        assert token.client_token not in repr(entry) + repr(token)
    reopened.close()


def test_create_and_lookup(store):
    issued = store.create(
        ["b", "a", "b"],
        ttl=120,
        metadata={"user": "ann"},
        display_name="token-ann",
        now=T0,
    )
    assert issued.policies == ["a", "b"]
    assert issued.lease_duration == 120
    assert issued.renewable is True
    entry = store.lookup(issued.client_token, now=T0 + 10)
    assert entry.policies == ["a", "b"]
    assert entry.metadata == {"user": "ann"}
    assert entry.display_name == "token-ann"
    assert entry.created_time == T0 and entry.expire_time == T0 + 120
    assert entry.remaining(now=T0 + 10) == 110
    assert store.lookup_accessor(issued.accessor, now=T0).accessor == issued.accessor
    assert store.lookup("hvs.unknown") is None
    assert store.lookup("") is None
    assert store.lookup("x" * 10_000) is None


def test_ttl_expiry_deletes_lazily(db, store):
    issued = store.create(["app"], ttl="90s", now=T0)
    assert store.lookup(issued.client_token, now=T0 + 89) is not None
    assert store.lookup(issued.client_token, now=T0 + 90) is None
    with db.connect() as conn:
        assert conn.execute(sa.select(schema.server_tokens)).all() == []
    assert store.lookup(issued.client_token, now=T0) is None


def test_default_and_maximum_ttl(db, store):
    assert store.create(["app"], now=T0).lease_duration == DEFAULT_TTL
    assert store.create(["app"], ttl=0, now=T0).lease_duration == DEFAULT_TTL
    assert store.create(["app"], ttl="9999h", now=T0).lease_duration == MAX_TTL
    short = TokenStore(db, default_ttl=60, max_ttl=600)
    assert short.create(["app"], now=T0).lease_duration == 60
    assert short.create(["app"], ttl="1h", now=T0).lease_duration == 600
    assert store.create(["app"], ttl="1h", explicit_max_ttl="10m").lease_duration == 600


def test_root_token_never_expires_and_is_not_renewable(store):
    root = store.create_root_token(now=T0)
    assert root.policies == ["root"] and root.renewable is False and root.lease_duration == 0
    entry = store.lookup(root.client_token, now=T0 + 100 * 365 * 86400)
    assert entry.expire_time is None and entry.remaining() == 0
    with pytest.raises(InvalidRequest, match="not renewable"):
        store.renew(root.client_token)


def test_renew_extends_and_is_capped_by_explicit_max_ttl(store):
    issued = store.create(["app"], ttl="1h", explicit_max_ttl="3h", now=T0)
    renewed = store.renew(issued.client_token, now=T0 + 1800)
    assert renewed.expire_time == T0 + 1800 + 3600
    renewed = store.renew(issued.client_token, increment="2h", now=T0 + 3000)
    assert renewed.expire_time == T0 + 3000 + 7200
    renewed = store.renew(issued.client_token, increment="2h", now=T0 + 9000)
    assert renewed.expire_time == T0 + 3 * 3600  # capped from creation, not from now
    assert store.lookup(issued.client_token, now=T0 + 3 * 3600 - 1) is not None
    assert store.lookup(issued.client_token, now=T0 + 3 * 3600) is None
    with pytest.raises(PermissionDenied):
        store.renew(issued.client_token, now=T0 + 3 * 3600)


def test_renew_refusals(store):
    fixed = store.create(["app"], ttl=60, renewable=False, now=T0)
    with pytest.raises(InvalidRequest, match="not renewable"):
        store.renew(fixed.client_token, now=T0)
    with pytest.raises(PermissionDenied):
        store.renew("hvs.nope")
    issued = store.create(["app"], ttl=60, now=T0)
    with pytest.raises(InvalidRequest):
        store.renew(issued.client_token, increment="soon", now=T0)
    with pytest.raises(PermissionDenied):
        store.renew(issued.client_token, now=T0 + 61)


def test_revoke_takes_children_with_it(store):
    parent = store.create(["app"], now=T0)
    child = store.create(["app"], parent_accessor=parent.accessor, now=T0)
    grandchild = store.create(["app"], parent_accessor=child.accessor, now=T0)
    bystander = store.create(["app"], now=T0)
    store.revoke(parent.client_token)
    for token in (parent, child, grandchild):
        assert store.lookup(token.client_token, now=T0) is None
    assert store.lookup(bystander.client_token, now=T0) is not None
    store.revoke(parent.client_token)  # revoking again is no error
    store.revoke("hvs.unknown")
    assert store.revoke_accessor(bystander.accessor) is True
    assert store.revoke_accessor(bystander.accessor) is False
    assert store.lookup(bystander.client_token, now=T0) is None


def test_purge_expired(store):
    for ttl in (10, 20, 30):
        store.create(["app"], ttl=ttl, now=T0)
    store.create_root_token(now=T0)
    assert store.purge_expired(now=T0 + 25) == 2
    assert store.purge_expired(now=T0 + 25) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"policies": "app"},
        {"policies": ["ok", ""]},
        {"policies": ["ok", 5]},
        {"policies": ["app"], "ttl": -1},
        {"policies": ["app"], "ttl": "1y"},
        {"policies": ["app"], "renewable": "yes"},
        {"policies": ["app"], "metadata": {"n": 1}},
        {"policies": ["app"], "metadata": ["x"]},
        {"policies": ["app"], "display_name": ""},
        {"policies": ["app"], "parent_accessor": 5},
    ],
)
def test_create_validates_input(store, kwargs):
    kwargs = dict(kwargs)  # the parameter is shared by both engines' runs: leave it whole
    policies = kwargs.pop("policies")
    with pytest.raises(InvalidRequest):
        store.create(policies, **kwargs)


def test_hash_is_sha256_hex():
    assert hash_token("hvs.abc") == hashlib.sha256(b"hvs.abc").hexdigest()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (10, 10),
        (3600.0, 3600),
        ("10", 10),
        (" 10 ", 10),
        ("90s", 90),
        ("30m", 1800),
        ("1h", 3600),
        ("2h30m", 9000),
        ("1h0m0s", 3600),
        ("1d", 86400),
        ("1d2h3m4s", 86400 + 7200 + 180 + 4),
        ("768h", 768 * 3600),
        (MAX_DURATION, MAX_DURATION),
    ],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "h",
        "1x",
        "1.5h",
        "-5",
        "-1h",
        "1h-",
        "h1",
        "1 h",
        "٣",
        -1,
        1.5,
        True,
        None,
        [1],
        MAX_DURATION + 1,
        "87601h",
        "9" * 100,
    ],
)
def test_parse_duration_refuses(value):
    with pytest.raises(InvalidRequest):
        parse_duration(value)
