"""The transparency log in the database: its state, its nodes, its key, its proofs.

Storage follows :mod:`trustee.ledger.merkle`: only complete perfect subtrees are stored, each
written once. Appending reads the old frontier (at most one node per bit of the size) and
inserts the new nodes; a proof or a root reads the handful of nodes it names in one indexed
query, whatever the size of the log.

Appends are sequenced by the state row: :meth:`TransparencyLog.lock` reads it ``FOR UPDATE``
inside the caller's transaction (on SQLite, ``BEGIN IMMEDIATE`` already holds the database's
write lock), so any number of processes sharing one database append one batch at a time and
agree on every index.

Checkpoints are C2SP signed notes under the log's Ed25519 key, made on first use and stored
sealed by the barrier: a sealed server cannot sign.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from trustee.crypto.errors import CryptoError
from trustee.custody.barrier import Barrier
from trustee.errors import InvalidRequest
from trustee.ledger import merkle
from trustee.ledger.bulk import driver_rows, insert_rows
from trustee.ledger.note import format_checkpoint, make_verifier_key, sign_note
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_events as events_t
from trustee.storage.schema_ledger import ledger_log_key as log_key_t
from trustee.storage.schema_ledger import ledger_log_nodes as nodes_t
from trustee.storage.schema_ledger import ledger_log_state as state_t

__all__ = ["DEFAULT_ORIGIN", "LOG_KEY_AAD", "MAX_ENTRIES", "LogState", "TransparencyLog"]

DEFAULT_ORIGIN = "trustee.local/ledger"
LOG_KEY_AAD = b"trustee:log-key:v1"
MAX_ENTRIES = 1000
_NODE_CHUNK = 200  # node ids per query: an OR of indexed lookups, two parameters each

# Every append runs both, straight on the driver (see bulk.py).
_LOCK_STATE = f"SELECT size, root, updated_time FROM {state_t.name} WHERE id = 1"  # noqa: S608
_SET_STATE = f"UPDATE {state_t.name} SET size = ?, root = ?, updated_time = ? WHERE id = 1"  # noqa: S608
_READ_SIZE = sa.select(state_t.c.size).where(state_t.c.id == 1)


class LogState:
    """The log's size and root as read under the append lock, and its last acceptance time."""

    __slots__ = ("root", "size", "updated_time")

    def __init__(self, size: int, root: bytes, updated_time: float) -> None:
        self.size, self.root, self.updated_time = size, root, updated_time


class TransparencyLog:
    """One RFC 9162 log over one database; safe to share between threads."""

    def __init__(
        self,
        db: Database,
        barrier: Barrier,
        origin: str = DEFAULT_ORIGIN,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.barrier = barrier
        self._origin = origin
        self._clock = clock
        self._lock = threading.Lock()
        self._signer: tuple[str, Ed25519PrivateKey] | None = None
        self._state_ready = False
        # Tables holding leaves, each with ``log_index`` and ``entry``: the ledger's events and
        # whatever else appends to this log under :meth:`lock` (it adds its table here).
        self.leaf_tables: list[sa.Table] = [events_t]
        # The root nodes after the last append seen here, keyed by (size, root): the root
        # commits to the whole tree, so a match means these are the stored nodes, whatever
        # other processes or rolled-back transactions did in between.
        self._frontier: tuple[int, bytes, dict[merkle.NodeId, bytes]] | None = None

    # -- state and appends -------------------------------------------------------------------

    @property
    def state_ready(self) -> bool:
        """True once :meth:`ensure_state` has nothing left to do (no database read)."""
        return self._state_ready

    def ensure_state(self) -> None:
        """Create the state row of an empty log once; a concurrent creator's row is as good."""
        if self._state_ready:
            return
        with self.db.connect() as conn:
            exists = conn.execute(sa.select(state_t.c.id)).first() is not None
        if not exists:
            try:
                with self.db.begin() as conn:
                    if conn.execute(sa.select(state_t.c.id)).first() is None:
                        conn.execute(
                            sa.insert(state_t).values(
                                id=1, size=0, root=merkle.EMPTY_ROOT, updated_time=self._clock()
                            )
                        )
            except IntegrityError:
                pass  # another process made it between our read and our insert
        self._state_ready = True

    def lock(self, conn: Connection) -> LogState:
        """Read the state inside ``conn``'s transaction and hold it until the commit.

        On SQLite the transaction already holds the database's write lock (``BEGIN
        IMMEDIATE``); on PostgreSQL the row is locked ``FOR UPDATE``.
        """
        sql = _LOCK_STATE if conn.dialect.name == "sqlite" else _LOCK_STATE + " FOR UPDATE"
        ((size, root, updated_time),) = driver_rows(conn, sql)
        return LogState(int(size), bytes(root), float(updated_time))

    def append(
        self, conn: Connection, state: LogState, leaf_hashes: Sequence[bytes], now: float
    ) -> tuple[int, bytes]:
        """Store the nodes the new leaves complete and the new state; return (size, root).

        ``state`` must come from :meth:`lock` in the same transaction.
        """
        cached = self._frontier
        if cached is not None and cached[0] == state.size and cached[1] == state.root:
            frontier = cached[2]
        else:
            frontier = fetch_nodes(conn, merkle.append_node_ids(state.size))
        new_nodes = merkle.append_nodes(state.size, leaf_hashes, frontier)
        known = dict(frontier)
        known.update({(level, index): hash_ for level, index, hash_ in new_nodes})
        size = state.size + len(leaf_hashes)
        root = merkle.root_from_nodes(size, known)
        insert_rows(conn, nodes_t, ("level", "node_index", "hash"), new_nodes)
        driver_rows(conn, _SET_STATE, (size, root, now))
        self._frontier = (size, root, {n: known[n] for n in merkle.root_node_ids(size)})
        return size, root

    def state(self) -> tuple[int, bytes]:
        """The current ``(size, root)``."""
        self.ensure_state()
        with self.db.connect() as conn:
            row = conn.execute(sa.select(state_t.c.size, state_t.c.root)).one()
        return int(row.size), bytes(row.root)

    # -- reading ---------------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        size, root = self.state()
        origin, private = self._log_signer()
        note = sign_note(format_checkpoint(origin, size, root), origin, private)
        return {"checkpoint": note, "size": size, "root_hash": root.hex(), "origin": origin}

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        self.ensure_state()
        with self.db.connect() as conn:
            size = _check_size(conn, size)
            if not 0 <= index < size:
                raise InvalidRequest(f"index must be in [0, {size})")
            groups = merkle.inclusion_proof_node_ids(index, size)
            nodes = fetch_nodes(conn, merkle.unique_node_ids([*groups, merkle.root_node_ids(size)]))
        proof = merkle.inclusion_proof(index, size, nodes)
        return {
            "index": index,
            "size": size,
            "hashes": [h.hex() for h in proof],
            "root_hash": merkle.root_from_nodes(size, nodes).hex(),
        }

    def inclusion_proofs(
        self, conn: Connection, indices: Iterable[int], size: int
    ) -> dict[int, list[bytes]]:
        """Proofs of many leaves at one size, fetching each needed node once."""
        groups = {index: merkle.inclusion_proof_node_ids(index, size) for index in indices}
        nodes = fetch_nodes(conn, merkle.unique_node_ids(g for gs in groups.values() for g in gs))
        return {
            index: [merkle.fold_range([nodes[n] for n in group]) for group in ranges]
            for index, ranges in groups.items()
        }

    def consistency_proof(self, first: int, second: int | None = None) -> dict[str, Any]:
        self.ensure_state()
        with self.db.connect() as conn:
            second = _check_size(conn, second)
            if not 0 <= first <= second:
                raise InvalidRequest(f"first must be in [0, {second}]")
            groups = merkle.consistency_proof_node_ids(first, second)
            nodes = fetch_nodes(
                conn,
                merkle.unique_node_ids(
                    [*groups, merkle.root_node_ids(first), merkle.root_node_ids(second)]
                ),
            )
        return {
            "first": first,
            "second": second,
            "hashes": [h.hex() for h in merkle.consistency_proof(first, second, nodes)],
            "first_root_hash": merkle.root_from_nodes(first, nodes).hex(),
            "second_root_hash": merkle.root_from_nodes(second, nodes).hex(),
        }

    def entries(self, start: int, end: int) -> list[bytes]:
        """Exact leaf bytes of ``[start, end)``; at most :data:`MAX_ENTRIES` per call."""
        size, _ = self.state()
        if not 0 <= start <= end:
            raise InvalidRequest("need 0 <= start <= end")
        if end > size:
            raise InvalidRequest(f"end is beyond the log size ({size})")
        end = min(end, start + MAX_ENTRIES)
        found: dict[int, bytes] = {}
        with self.db.connect() as conn:
            for table in self.leaf_tables:
                rows = conn.execute(
                    sa.select(table.c.log_index, table.c.entry).where(
                        table.c.log_index >= start, table.c.log_index < end
                    )
                )
                found.update((int(index), bytes(entry)) for index, entry in rows)
        return [found[index] for index in sorted(found)]

    # -- the log key -------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self._log_signer()[0]

    def public_key(self) -> str:
        """The log's verifier key, ``<origin>+<hex key id>+<base64>``."""
        origin, private = self._log_signer()
        return make_verifier_key(origin, private.public_key())

    def _log_signer(self) -> tuple[str, Ed25519PrivateKey]:
        if self.barrier.sealed:
            self._signer = None  # sealing puts the log key away with the barrier's
            self.barrier.check_unsealed()
        signer = self._signer
        if signer is not None:
            return signer
        with self._lock:
            if self._signer is None:
                self.barrier.check_unsealed()
                row = self._load_log_key()
                if row is None:
                    self._create_log_key()
                    row = self._load_log_key()
                    assert row is not None
                seed = self.barrier.decrypt(row.sealed_seed, LOG_KEY_AAD)
                private = Ed25519PrivateKey.from_private_bytes(seed)
                if private.public_key().public_bytes_raw() != bytes(row.public_key):
                    raise CryptoError("the stored log key does not match its public key")
                self._signer = (row.origin, private)
        return self._signer

    def _create_log_key(self) -> None:
        private = Ed25519PrivateKey.generate()
        try:
            with self.db.begin() as conn:
                conn.execute(
                    sa.insert(log_key_t).values(
                        id=1,
                        origin=self._origin,
                        public_key=private.public_key().public_bytes_raw(),
                        sealed_seed=self.barrier.encrypt(private.private_bytes_raw(), LOG_KEY_AAD),
                        created_time=self._clock(),
                    )
                )
        except IntegrityError:
            pass  # another process made it first: use theirs

    def _load_log_key(self) -> Any:
        with self.db.connect() as conn:
            return conn.execute(sa.select(log_key_t).where(log_key_t.c.id == 1)).first()


def _check_size(conn: Connection, size: int | None) -> int:
    """``size``, or the current one when None; a size the log has not reached is a 400."""
    current = int(conn.execute(_READ_SIZE).scalar_one())
    if size is None:
        return current
    if not 0 <= size <= current:
        raise InvalidRequest(f"size must be in [0, {current}]")
    return size


def fetch_nodes(conn: Connection, ids: Sequence[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
    """The stored hashes of ``ids`` (missing ones are simply absent), by primary-key lookups.

    An OR of ``level = ? AND node_index = ?`` terms, not a row-value ``IN``: SQLite plans the
    former as one index search per term and the latter as a scan of the whole table. The text
    is made by hand and kept per shape: building it as an expression costs more than the query.
    """
    found: dict[merkle.NodeId, bytes] = {}
    ids = list(dict.fromkeys(ids))
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for start in range(0, len(ids), _NODE_CHUNK):
        chunk = ids[start : start + _NODE_CHUNK]
        parameters = tuple(value for node_id in chunk for value in node_id)
        rows = conn.exec_driver_sql(_select_nodes_sql(marker, len(chunk)), parameters)
        for level, index, hash_ in rows:
            found[(int(level), int(index))] = bytes(hash_)
    return found


@functools.cache
def _select_nodes_sql(marker: str, count: int) -> str:
    term = f"(level = {marker} AND node_index = {marker})"
    where = " OR ".join([term] * count)
    return f"SELECT level, node_index, hash FROM {nodes_t.name} WHERE {where}"  # noqa: S608
