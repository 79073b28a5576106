"""The append pipeline: events checked at the door, then integrated into the log in batches.

Every accepted event is one leaf of an RFC 9162 Merkle log (:mod:`trustee.ledger.log`). The
leaf is the RFC 8785 bytes of the stored record, including its ``log_index``, so the index is
assigned inside the append transaction, under the log's state lock.

Appending is a group commit (:mod:`trustee.ledger.commit`): concurrent :meth:`Appender.post_event`
callers queue their events; one of them checks and serialises the queued events, then
integrates them in one transaction (one fsync), and every caller gets its answer only after
that commit.

Other kinds of leaves share the pipeline (:class:`OtherLeaf`): a face that logs something
else than events (signed statements, say) hands the committer its leaf bytes and a
:class:`LeafKind` that stores its rows; the leaf gets the next index in the same batch and
transaction as the events around it, so every kind is one tree, one sequence of indexes and
one checkpoint, at one fsync per batch. The pipeline knows nothing of what those leaves are.

Device signatures are checked at the door only for assets with ``require_signature``, which
refuse what does not verify: inside the transaction each such event is checked against the key
actually in force at the index it gets (a rotation by another process is seen there), and an
event the asset refuses is answered 400 without failing its neighbours. Every other verdict is
a function of the stored entry and the key history, both immutable, so it is computed when
someone asks (:mod:`trustee.ledger.queries`, the offline audit), never stored.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.crypto.device import DeviceKey
from trustee.errors import InvalidRequest, NotFound, TrusteeError
from trustee.ledger import idempotency, merkle, terms
from trustee.ledger.assets import key_record_of
from trustee.ledger.bulk import driver_rows, insert_rows
from trustee.ledger.commit import GroupCommitter, Pending
from trustee.ledger.evidence import DeviceKeys, KeyRecord, Verdict, check_evidence, key_for_index
from trustee.ledger.log import TransparencyLog
from trustee.ledger.models import Event
from trustee.ledger.records import (
    EventRequest,
    PreparedEvent,
    check_attributes,
    compose_entry,
    dumps,
    prepare_event,
    rfc3339,
)
from trustee.ledger.signing_key import signing_key_of
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_asset_keys as keys_t
from trustee.storage.schema_ledger import ledger_assets as assets_t
from trustee.storage.schema_ledger import ledger_events as events_t

__all__ = ["Appender", "LeafKind", "OtherLeaf"]

_CACHE_LIMIT = 10_000
_EVENT_COLUMNS = (
    "uuid",
    "asset_uuid",
    "log_index",
    "entry",
    "timestamp_accepted",
    "operation",
    "behaviour",
)


# Built once: the append path runs it for every batch.
@functools.cache
def _assets_with_keys_sql(count: int) -> str:
    """The batch's assets and their key histories, for ``count`` asset ids (run on the driver)."""
    return (
        f"SELECT a.uuid, a.require_signature, a.attributes, k.seq, k.alg, k.public_key, "  # noqa: S608
        f"k.valid_from, k.valid_from_index FROM {assets_t.name} a "
        f"LEFT OUTER JOIN {keys_t.name} k ON k.asset_uuid = a.uuid "
        f"WHERE a.uuid IN ({', '.join(['?'] * count)}) ORDER BY a.uuid, k.seq"
    )


@dataclass
class _Item:
    """A prepared event and, for an asset that requires signatures, the verdict its caller
    computed against the key it expected (``None`` otherwise: nothing is decided by it), and
    its idempotency key's scope, key and request hash when it has one."""

    prepared: PreparedEvent
    key_slot: tuple[str, str] | None
    verdict: Verdict | None
    idempotency: tuple[str, str, bytes] | None = None
    new_key: DeviceKey | None = None
    """The key its ``asset_attributes.arc_evidence_signing_pubkey`` names, if any."""


class LeafKind(Protocol):
    """Stores the rows of one kind of non-event leaf inside the append transaction."""

    def store(
        self,
        conn: Connection,
        placed: Sequence[tuple[OtherLeaf, int]],
        tree_size: int,
        root: bytes,
        now: float,
    ) -> Sequence[object]:
        """Write what goes with each ``(leaf, log_index)``; return each one's result, in order.

        ``tree_size`` and ``root`` are those of the tree the batch made (every leaf of it is
        in that tree; its nodes are readable in ``conn``), ``now`` its acceptance time. An
        exception fails the whole batch: nothing of it is written.
        """
        ...


@dataclass(frozen=True, eq=False)
class OtherLeaf:
    """A leaf that is not an event: its exact bytes, who stores its rows, and what they need.

    Its caller has checked it already (a refusal writes nothing and never reaches the queue).
    """

    entry: bytes
    kind: LeafKind
    data: object = None


@dataclass
class _Signing:
    """Whether an asset refuses events without a good signature, and its key history."""

    require_signature: bool
    keys: list[KeyRecord]


@dataclass
class _Asset(_Signing):
    attributes: dict[str, Any]


class Appender:
    """Appends events to the log over one database; safe to share between threads."""

    def __init__(
        self,
        db: Database,
        log: TransparencyLog,
        device_keys: DeviceKeys,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 1000,
        attribute_index: bool = True,
    ) -> None:
        self._db = db
        self._index = attribute_index
        self._log = log
        self._device_keys = device_keys
        self._clock = clock
        self._signing: dict[str, _Signing] = {}
        self.committed: Callable[[list[Event]], None] | None = None
        """Told the events of each transaction once it has committed (the indexer's hand-off)."""
        self.committer: GroupCommitter[EventRequest | OtherLeaf, object] = GroupCommitter(
            self._integrate, prepare=self.prepare, max_batch=max_batch
        )

    def post_event(self, request: EventRequest) -> Event:
        """Append one event durably; concurrent callers share a commit.

        Raises :class:`InvalidRequest` (and writes nothing for this event) when it is malformed,
        or unsigned or badly signed for an asset that requires signatures; :class:`NotFound`
        for an unknown asset.
        """
        self._log.ensure_state()
        return cast(Event, self.committer.submit(request))

    async def post_event_async(self, request: EventRequest) -> Event:
        """:meth:`post_event` for a caller on an event loop: the loop is never blocked, and
        the batch's work runs on the committer's threads."""
        if not self._log.state_ready:
            await asyncio.to_thread(self._log.ensure_state)
        return cast(Event, await self.committer.submit_async(request))

    def post_leaf(self, leaf: OtherLeaf) -> object:
        """Append a leaf of another kind durably, batched with events; its kind's result."""
        self._log.ensure_state()
        return self.committer.submit(leaf)

    async def post_leaf_async(self, leaf: OtherLeaf) -> object:
        """:meth:`post_leaf` for a caller on an event loop."""
        if not self._log.state_ready:
            await asyncio.to_thread(self._log.ensure_state)
        return await self.committer.submit_async(leaf)

    def post_events(self, requests: Sequence[EventRequest]) -> list[Event]:
        """Append events in one durable transaction, at consecutive indexes; all or none."""
        if not requests:
            return []
        items = [self.prepare(request) for request in requests]
        self._log.ensure_state()
        with self._db.begin() as conn:
            outcomes = self.append(conn, items, atomic=True)
        self._tell_committed(outcomes)
        return cast(list[Event], outcomes)  # atomic, and events only

    def close(self) -> None:
        self.committer.close()

    def forget(self, asset: str) -> None:
        """Drop what is cached about ``asset``'s signing rules (its key changed)."""
        self._signing.pop(asset, None)

    def prepare(self, request: EventRequest | OtherLeaf) -> _Item | OtherLeaf:
        """Everything that needs no lock: shape checks, serialisation, and the device signature
        when the asset refuses events without a good one.

        Other events are not checked at the door: their verdict is a function of the stored
        entry and the key history, both immutable, so every reader recomputes it (and must,
        to trust it) from what the log holds. Other leaves come checked by their callers.
        """
        if isinstance(request, OtherLeaf):
            return request
        prepared = prepare_event(request)
        keyed = None
        if request.idempotency_key is not None:
            key = idempotency.check_key(request.idempotency_key)
            keyed = (_scope(request.asset_uuid), key, idempotency.request_hash(request.declared()))
        new_key = signing_key_of(request.asset_attributes, "asset_attributes")
        signing = self._signing_of(request.asset_uuid)
        if not signing.require_signature:
            return _Item(prepared, None, None, keyed, new_key)
        latest = key_for_index(signing.keys, merkle.MAX_TREE_SIZE)
        verdict = check_evidence(request.event_attributes, self._device_keys.of(latest))
        return _Item(prepared, _slot(latest), verdict, keyed, new_key)

    def _integrate(
        self,
        batch: Sequence[Pending[EventRequest | OtherLeaf, object]],
        before_commit: Callable[[], None],
    ) -> None:
        with self._db.begin() as conn:
            outcomes = self.append(conn, [pending.prepared for pending in batch], atomic=False)
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, TrusteeError):
                    pending.refuse(outcome)  # not written, whatever the commit does
            before_commit()
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.settled:
                pending.settle(outcome)  # committed: answer now
        self._tell_committed(outcomes)

    def _tell_committed(self, outcomes: Sequence[object]) -> None:
        if self.committed is not None:
            self.committed([outcome for outcome in outcomes if isinstance(outcome, Event)])

    def append(
        self, conn: Connection, items: Sequence[_Item | OtherLeaf], *, atomic: bool
    ) -> list[object]:
        """Integrate ``items`` in ``conn``'s transaction; a refusal raises when ``atomic``.

        Each outcome is an :class:`Event`, a :class:`TrusteeError` (that item is not written)
        or, for an :class:`OtherLeaf`, what its kind's ``store`` answered.
        """
        state = self._log.lock(conn)
        now = max(self._clock(), state.updated_time)  # acceptance times never go back
        accepted = rfc3339(now)
        assets = self._assets_for(
            conn, {item.prepared.request.asset_uuid for item in items if isinstance(item, _Item)}
        )
        outcomes: list[object] = []
        others: dict[int, tuple[LeafKind, list[tuple[OtherLeaf, int]], list[int]]] = {}
        rows: list[tuple[Any, ...]] = []
        leaves: list[bytes] = []
        changed: dict[str, dict[str, Any]] = {}
        keyed: dict[tuple[str, str], tuple[bytes, Event]] = {}  # this batch's new keys
        rotations: list[tuple[str, KeyRecord]] = []  # device keys named by asset_attributes
        for item in items:
            if isinstance(item, OtherLeaf):
                placed = others.setdefault(id(item.kind), (item.kind, [], []))
                placed[1].append((item, state.size + len(leaves)))
                placed[2].append(len(outcomes))
                leaves.append(merkle.leaf_hash(item.entry))
                outcomes.append(None)  # filled in once its kind has stored it
                continue
            try:
                request = item.prepared.request
                asset = assets.get(request.asset_uuid)
                if asset is None:
                    raise NotFound(f"no asset {request.asset_uuid!r}")
                if item.idempotency is not None:
                    replayed = _replay(conn, item.idempotency, keyed, now)
                    if replayed is not None:
                        outcomes.append(replayed)
                        continue
                log_index = state.size + len(leaves)
                keys = _rotated(asset.keys, item.new_key, now, log_index)
                if asset.require_signature:
                    verdict = self._verdict_at(item, keys, log_index)
                    if not verdict.good:
                        raise InvalidRequest(
                            f"asset {request.asset_uuid} requires a good device signature: "
                            f"{verdict.status} ({verdict.reason})"
                        )
                event, entry = compose_entry(item.prepared, log_index, accepted)
                if request.asset_attributes:
                    merged = {
                        **changed.get(request.asset_uuid, asset.attributes),
                        **request.asset_attributes,
                    }
                    check_attributes(merged, "the asset's attributes after the update")
                    changed[request.asset_uuid] = merged
                if keys is not asset.keys:
                    asset.keys = keys  # a copy: the cached hint is not touched
                    rotations.append((request.asset_uuid, keys[-1]))
            except TrusteeError as exc:
                if atomic:
                    raise
                outcomes.append(exc)
                continue
            if item.idempotency is not None:
                scope, key, digest = item.idempotency
                keyed[scope, key] = (digest, event)
            leaves.append(merkle.leaf_hash(entry))
            rows.append(
                (
                    item.prepared.uuid,
                    request.asset_uuid,
                    log_index,
                    entry,
                    now,
                    request.operation,
                    request.behaviour,
                )
            )
            outcomes.append(event)
        if leaves:
            tree_size, root = self._log.append(conn, state, leaves, now)
            for kind, placed, positions in others.values():
                stored = kind.store(conn, placed, tree_size, root, now)
                for position, outcome in zip(positions, stored, strict=True):
                    outcomes[position] = outcome
        if rows:
            insert_rows(conn, events_t, _EVENT_COLUMNS, rows)
            if rotations:
                conn.execute(
                    sa.insert(keys_t),
                    [
                        {
                            "asset_uuid": asset_uuid,
                            "seq": record.seq,
                            "alg": record.alg,
                            "public_key": record.public_key,
                            "valid_from": now,
                            "valid_from_index": record.valid_from_index,
                        }
                        for asset_uuid, record in rotations
                    ],
                )
                for asset_uuid, _ in rotations:
                    self.forget(asset_uuid)
            for asset_uuid, merged in changed.items():
                conn.execute(
                    sa.update(assets_t)
                    .where(assets_t.c.uuid == asset_uuid)
                    .values(attributes=dumps(merged))
                )
                if self._index:
                    terms.write_asset_terms(conn, asset_uuid, assets[asset_uuid].attributes, merged)
        if keyed:
            for (scope, key), (digest, event) in keyed.items():
                idempotency.record(conn, scope, key, digest, event.uuid, now)
            idempotency.purge(conn, now, limit=100)
        return outcomes

    def _verdict_at(self, item: _Item, history: list[KeyRecord], log_index: int) -> Verdict:
        """The verdict under the key in force at ``log_index``: the caller's, if it was that key."""
        record = key_for_index(history, log_index)
        if item.verdict is not None and _slot(record) == item.key_slot:
            return item.verdict
        request = item.prepared.request
        return check_evidence(request.event_attributes, self._device_keys.of(record))

    def _signing_of(self, asset: str) -> _Signing:
        """The asset's signing rules as last seen: a hint, re-read inside every append."""
        signing = self._signing.get(asset)
        if signing is None:
            with self._db.connect() as conn:
                found = self._assets_for(conn, [asset])
            if asset not in found:
                raise NotFound(f"no asset {asset!r}")
            signing = found[asset]
        return signing

    def _remember(self, asset: str, signing: _Signing) -> None:
        if len(self._signing) >= _CACHE_LIMIT:
            self._signing.clear()
        self._signing[asset] = _Signing(signing.require_signature, signing.keys)

    def _assets_for(self, conn: Connection, uuids: Iterable[str]) -> dict[str, _Asset]:
        """The batch's assets with their key histories, read under the append lock."""
        found: dict[str, _Asset] = {}
        uuids = list(uuids)
        if not uuids:  # a batch of other leaves only
            return found
        for row in driver_rows(conn, _assets_with_keys_sql(len(uuids)), uuids):
            uuid, require_signature, attributes, seq = row[:4]
            asset = found.get(uuid)
            if asset is None:
                asset = _Asset(bool(require_signature), [], orjson.loads(attributes))
                found[uuid] = asset
            if seq is not None:
                asset.keys.append(key_record_of(row[3:]))
        for uuid, asset in found.items():
            self._remember(uuid, asset)
        return found


def _scope(asset_uuid: str) -> str:
    return f"event:{asset_uuid}"


def _replay(
    conn: Connection,
    idempotency_of: tuple[str, str, bytes],
    keyed: dict[tuple[str, str], tuple[bytes, Event]],
    now: float,
) -> Event | None:
    """The event an earlier post with this key made (in this batch or committed before),
    :func:`~trustee.ledger.idempotency.conflict` if that post asked for something else, or
    None for a new key."""
    scope, key, digest = idempotency_of
    earlier = keyed.get((scope, key))
    if earlier is not None:
        if earlier[0] != digest:
            raise idempotency.conflict(key)
        return earlier[1]
    found = idempotency.find(conn, scope, key, now)
    if found is None:
        return None
    if found[0] != digest:
        raise idempotency.conflict(key)
    entry = conn.execute(sa.select(events_t.c.entry).where(events_t.c.uuid == found[1])).scalar()
    return Event.from_record(orjson.loads(entry))


def _rotated(
    history: list[KeyRecord], key: DeviceKey | None, now: float, log_index: int
) -> list[KeyRecord]:
    """``history`` with ``key`` in force from ``log_index`` on (a new list), or ``history``
    itself when no key is named or it is already the one in force."""
    if key is None:
        return history
    current = history[-1] if history else None
    if current is not None and (current.alg, current.public_key) == (key.alg, key.public_key):
        return history
    seq = current.seq + 1 if current is not None else 1
    record = KeyRecord(seq, key.alg, key.public_key, rfc3339(now), log_index)
    return [*history, record]


def _slot(record: KeyRecord | None) -> tuple[str, str] | None:
    return None if record is None else (record.alg, record.public_key)
