"""The registration service: verified statements become leaves of the ledger's log.

:meth:`ScittRegistry.register` verifies the statement and applies the policy *before* opening
a transaction, so a refusal writes nothing. An accepted statement goes to the ledger's append
pipeline as an :class:`~trustee.ledger.append.OtherLeaf`: it is batched with concurrent event
appends and registrations into one transaction (one fsync), so registrations go at append
speed, and events and statements share one tree, one sequence of indexes and one checkpoint.
The statement's row is written in that transaction by :class:`_StatementRows`; its tree size
is the size of the tree its batch made. Its receipt is made as soon as it is committed, from the
proof read in that transaction, and kept in memory for the client's next request; otherwise
(another process, a restart) it is made on request from the stored proof nodes at that tree
size. Either way it is signed by the receipt key; the entry id ``<tree_size>.<log_index>``
names both.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.auth.trust_lists import TrustListService
from trustee.custody.barrier import Barrier
from trustee.errors import InvalidRequest, NotFound
from trustee.ledger import merkle
from trustee.ledger.append import Appender, OtherLeaf
from trustee.ledger.bulk import driver_rows
from trustee.ledger.log import TransparencyLog, fetch_nodes
from trustee.scitt import cbor
from trustee.scitt.cose import decode_sign1
from trustee.scitt.issuers import IssuerKeys
from trustee.scitt.receipt import build_receipt, key_set_bytes, transparent_statement
from trustee.scitt.receipt_key import ReceiptKey
from trustee.scitt.statement import Statement, StatementError, verify_statement
from trustee.storage import Database
from trustee.storage.schema_scitt import scitt_statements as statements_t

__all__ = ["Registered", "RegistrationPolicy", "ScittRegistry", "parse_entry_id"]

_ENTRY_ID = re.compile(r"([1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})", re.ASCII)
_RECEIPT_CACHE = 10_000
_INLINE_CHECK_BYTES = 64 * 1024
"""Statements up to this size are checked on the caller's event loop under the open policy:
the check takes a few hundred microseconds, less than handing it to a thread and back. The
production policy reads the database, which is never done on the loop."""
_RECEIPT_ROW = (
    f"SELECT tree_size, subject, registered_time FROM {statements_t.name} "  # noqa: S608
    "WHERE log_index = ?"
)


@dataclass(frozen=True)
class RegistrationPolicy:
    """Who may register.

    Open (the default, and ``--dev``): any statement whose signature verifies under the key it
    carries. Production, when ``trust_list`` names a list or ``registered_keys`` is set: only a
    statement whose signing key is a registered issuer key (:mod:`trustee.scitt.issuers`;
    its ``iss`` must match when the registration sets one), or an ES256K statement whose
    signer's Ethereum address is on the trust list (checked by key recovery when the statement
    names its address in ``kid``), the lists the token verifier uses.
    """

    trust_list: str | None = None
    registered_keys: bool = False

    @property
    def open(self) -> bool:
        return self.trust_list is None and not self.registered_keys


@dataclass(frozen=True)
class Registered:
    entry_id: str
    log_index: int
    tree_size: int


@dataclass(frozen=True)
class _Included:
    """What a receipt is made of, as the registration's transaction found it."""

    registered: Registered
    path: list[bytes]
    root: bytes
    subject: str | None
    registered_time: float


class _StatementRows:
    """Writes registered statements' rows in the append transaction that places their leaves,
    and reads their inclusion proofs there (one query for the batch), so that each caller
    makes its receipt without going back to the database."""

    def __init__(self, log: TransparencyLog) -> None:
        self._log = log

    def store(
        self,
        conn: Connection,
        placed: Sequence[tuple[OtherLeaf, int]],
        tree_size: int,
        root: bytes,
        now: float,
    ) -> list[_Included]:
        rows = []
        for leaf, log_index in placed:
            statement = cast(Statement, leaf.data)
            rows.append(
                {
                    "log_index": log_index,
                    "tree_size": tree_size,
                    "entry": leaf.entry,
                    "registered_time": now,
                    "alg": statement.algorithm,
                    "issuer": statement.issuer,
                    "subject": statement.subject,
                    "content_type": statement.content_type,
                    "key_thumbprint": statement.key.thumbprint(),
                }
            )
        conn.execute(sa.insert(statements_t), rows)
        paths = self._log.inclusion_proofs(conn, [index for _, index in placed], tree_size)
        return [
            _Included(
                Registered(f"{tree_size}.{log_index}", log_index, tree_size),
                paths[log_index],
                root,
                cast(Statement, leaf.data).subject,
                now,
            )
            for leaf, log_index in placed
        ]


def parse_entry_id(entry_id: str) -> tuple[int, int]:
    """``(tree_size, log_index)``; :class:`NotFound` for anything that is not an entry id."""
    match = _ENTRY_ID.fullmatch(entry_id)
    if match is None:
        raise NotFound(f"no entry {entry_id[:64]!r}")
    tree_size, log_index = int(match.group(1)), int(match.group(2))
    if log_index >= tree_size:
        raise NotFound(f"no entry {entry_id!r}")
    return tree_size, log_index


class ScittRegistry:
    """Registration, receipts and the key set over one database and log; thread-safe."""

    def __init__(
        self,
        db: Database,
        log: TransparencyLog,
        appender: Appender,
        barrier: Barrier,
        trust_lists: TrustListService,
        *,
        policy: RegistrationPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.log = log
        self.appender = appender
        self.trust_lists = trust_lists
        self.issuers = IssuerKeys(db, clock=clock)
        self.policy = policy or RegistrationPolicy()
        self.receipt_key = ReceiptKey(db, barrier, clock=clock)
        self._clock = clock
        self._receipts: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._rows = _StatementRows(log)
        if statements_t not in log.leaf_tables:
            log.leaf_tables.append(statements_t)

    def register(self, data: bytes) -> Registered:
        """Verify, apply the policy, append. :class:`InvalidRequest` (nothing written) when
        the statement is refused; its message starts with the reason."""
        leaf = self._checked(data)
        return self._receipt_made(cast(_Included, self.appender.post_leaf(leaf)))

    async def register_async(self, data: bytes) -> Registered:
        """:meth:`register` for a caller on an event loop: it awaits its batch's commit without
        holding a thread through it (large statements, and any under the production policy,
        are checked on a worker thread)."""
        if len(data) <= _INLINE_CHECK_BYTES and self.policy.open:
            leaf = self._checked(data)
        else:
            leaf = await asyncio.to_thread(self._checked, data)
        return self._receipt_made(cast(_Included, await self.appender.post_leaf_async(leaf)))

    def _checked(self, data: bytes) -> OtherLeaf:
        """The statement as a leaf to append, once its signature and the policy admit it."""
        try:
            statement = verify_statement(data)
        except StatementError as exc:
            raise InvalidRequest(f"{exc.reason}: {exc.message}") from None
        self._admit(statement)
        self.receipt_key.kid  # noqa: B018  # a sealed server refuses before writing
        return OtherLeaf(statement.entry, self._rows, statement)

    def _receipt_made(self, included: _Included) -> Registered:
        """Make and keep the receipt of a registration just committed: its client asks for it
        next (SCRAPI), and then it is answered from memory, with no database read."""
        registered = included.registered
        receipt = self._build(
            registered.tree_size,
            registered.log_index,
            included.path,
            included.root,
            included.subject,
            included.registered_time,
        )
        self._keep(registered.tree_size, registered.log_index, receipt)
        return registered

    def _admit(self, statement: Statement) -> None:
        """Refuse (``untrusted_issuer``) what the policy does not admit; reads only."""
        policy = self.policy
        if policy.open:
            return
        registered = self.issuers.matching(statement.key)
        if any(issuer.iss is None or issuer.iss == statement.issuer for issuer in registered):
            return
        name = policy.trust_list
        address = statement.address
        if name is not None and address is not None:
            try:
                if address in self.trust_lists.resolve(name):
                    return
            except NotFound:
                pass  # refused below, as an address on no list is
        if registered:
            names = ", ".join(repr(issuer.iss) for issuer in registered if issuer.iss)
            raise InvalidRequest(
                f"untrusted_issuer: the key is registered for iss {names}, not {statement.issuer!r}"
            )
        who = address or f"the {statement.algorithm} key {statement.key.thumbprint().hex()}"
        where = f"on trust list {name!r} nor " if name is not None and address else ""
        raise InvalidRequest(f"untrusted_issuer: {who} is not {where}a registered issuer key")

    def cached_receipt(self, entry_id: str) -> bytes | None:
        """The receipt when this process has it in memory (no I/O: fit for an event loop)."""
        tree_size, log_index = parse_entry_id(entry_id)
        with self._cache_lock:
            return self._receipts.get((tree_size, log_index))

    def receipt(self, entry_id: str) -> bytes:
        """The receipt of a registered statement (the same bytes each time, per process)."""
        cached = self.cached_receipt(entry_id)
        if cached is not None:
            return cached
        tree_size, log_index = parse_entry_id(entry_id)
        # One connection, two queries (the row, then every node the proof and the root need).
        ranges = merkle.inclusion_proof_node_ids(log_index, tree_size)
        with self.db.connect() as conn:
            rows = driver_rows(conn, _RECEIPT_ROW, (log_index,))
            if not rows or int(rows[0][0]) != tree_size:
                raise NotFound(f"no entry {tree_size}.{log_index}")
            subject, registered_time = rows[0][1], rows[0][2]
            nodes = fetch_nodes(
                conn, merkle.unique_node_ids([*ranges, merkle.root_node_ids(tree_size)])
            )
        path = [merkle.fold_range([nodes[node] for node in group]) for group in ranges]
        root = merkle.root_from_nodes(tree_size, nodes)
        receipt = self._build(tree_size, log_index, path, root, subject, registered_time)
        self._keep(tree_size, log_index, receipt)
        return receipt

    def _build(
        self,
        tree_size: int,
        log_index: int,
        path: list[bytes],
        root: bytes,
        subject: str | None,
        registered_time: float,
    ) -> bytes:
        key = self.receipt_key
        return build_receipt(
            tree_size=tree_size,
            leaf_index=log_index,
            path=path,
            root=root,
            alg=key.alg,
            kid=key.kid,
            sign=key.sign,
            issuer=self.log.origin,
            subject=subject,
            issued_at=int(registered_time),
        )

    def _keep(self, tree_size: int, log_index: int, receipt: bytes) -> None:
        with self._cache_lock:
            self._receipts[tree_size, log_index] = receipt
            while len(self._receipts) > _RECEIPT_CACHE:
                self._receipts.popitem(last=False)

    def transparent_statement(self, entry_id: str) -> bytes:
        """The registered statement with its receipt in unprotected label 394."""
        tree_size, log_index = parse_entry_id(entry_id)
        row = self._row(tree_size, log_index)
        return transparent_statement(decode_sign1(bytes(row.entry)), [self.receipt(entry_id)])

    def key_set(self) -> bytes:
        """The receipt verification keys as a COSE_KeySet."""
        return key_set_bytes([(self.receipt_key.public, self.receipt_key.alg)])

    def key(self, kid_hex: str) -> bytes:
        """One receipt key by the hex of its ``kid``, as a COSE_Key."""
        public = self.receipt_key.public
        if kid_hex.lower() != public.thumbprint().hex():
            raise NotFound(f"no receipt key {kid_hex[:80]!r}")
        return cbor.encode(public.to_map(kid=public.thumbprint(), alg=self.receipt_key.alg))

    def _row(self, tree_size: int, log_index: int) -> sa.Row:  # type: ignore[type-arg]
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(statements_t).where(statements_t.c.log_index == log_index)
            ).first()
        if row is None or row.tree_size != tree_size:
            raise NotFound(f"no entry {tree_size}.{log_index}")
        return row
