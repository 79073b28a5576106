"""The ledger service: assets, device-signed events and the transparency log under them.

Every accepted event is one leaf of an RFC 9162 Merkle log (:mod:`trustee.ledger.log`). The
leaf is the RFC 8785 bytes of the stored record, including its ``log_index``, so the index is
assigned inside the append transaction, under the log's state lock.

Appending is a group commit (:mod:`trustee.ledger.commit`): concurrent :meth:`post_event`
callers queue their events; one of them checks and serialises the queued events, then
integrates them in one transaction (one fsync), and every caller gets its answer only after
that commit.

Device signatures are checked at the door only for assets with ``require_signature``, which
refuse what does not verify: inside the transaction each such event is checked against the key
actually in force at the index it gets (a rotation by another process is seen there), and an
event the asset refuses is answered 400 without failing its neighbours. Every other verdict is
a function of the stored entry and the key history, both immutable, so it is computed when
someone asks (``verify_event``, ``verify_asset``, the offline audit), never stored.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trustee.crypto.device import DeviceKey, parse_device_key
from trustee.crypto.errors import CryptoError
from trustee.custody.barrier import Barrier
from trustee.errors import InvalidRequest, NotFound, TrusteeError
from trustee.ledger import merkle, paging
from trustee.ledger.audit import BUNDLE_KIND
from trustee.ledger.bulk import driver_rows, insert_rows
from trustee.ledger.commit import GroupCommitter, Pending
from trustee.ledger.evidence import (
    BAD,
    STATUSES,
    KeyRecord,
    Verdict,
    check_evidence,
    key_for_index,
)
from trustee.ledger.log import DEFAULT_ORIGIN, LOG_KEY_AAD, TransparencyLog, fetch_nodes
from trustee.ledger.paging import DEFAULT_PAGE_SIZE
from trustee.ledger.records import (
    EventRequest,
    PreparedEvent,
    check_attributes,
    compose_entry,
    dumps,
    parse_time,
    prepare_event,
    rfc3339,
)
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_asset_keys as keys_t
from trustee.storage.schema_ledger import ledger_assets as assets_t
from trustee.storage.schema_ledger import ledger_events as events_t

__all__ = [
    "BUNDLE_KIND",
    "DEFAULT_ORIGIN",
    "LOG_KEY_AAD",
    "EventRequest",
    "LedgerService",
    "rfc3339",
]

MAX_BUNDLE_EVENTS = 100_000
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
    computed against the key it expected (``None`` otherwise: nothing is decided by it)."""

    prepared: PreparedEvent
    key_slot: tuple[str, str] | None
    verdict: Verdict | None


@dataclass
class _Signing:
    """Whether an asset refuses events without a good signature, and its key history."""

    require_signature: bool
    keys: list[KeyRecord]


@dataclass
class _Asset(_Signing):
    attributes: dict[str, Any]


class LedgerService:
    """Assets, events and the log over one database; safe to share between threads."""

    def __init__(
        self,
        db: Database,
        barrier: Barrier,
        origin: str = DEFAULT_ORIGIN,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 1000,
    ) -> None:
        self.db = db
        self.barrier = barrier
        self.log = TransparencyLog(db, barrier, origin, clock=clock)
        self._clock = clock
        self._keys: dict[tuple[str, str], DeviceKey] = {}
        self._signing: dict[str, _Signing] = {}
        self.committer: GroupCommitter[EventRequest, dict[str, Any]] = GroupCommitter(
            self._integrate, prepare=self._prepare, max_batch=max_batch
        )

    # -- assets ----------------------------------------------------------------------------

    def create_asset(
        self,
        attributes: Mapping[str, Any] | None = None,
        device_key: Mapping[str, Any] | None = None,
        *,
        require_signature: bool = False,
        principal: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        attributes = dict(attributes or {})
        check_attributes(attributes, "attributes")
        key = _parse_key(device_key) if device_key is not None else None
        if require_signature and key is None:
            raise InvalidRequest("require_signature needs a device_key")
        asset = str(uuid_module.uuid4())
        now = self._clock()
        with self.db.begin() as conn:
            conn.execute(
                sa.insert(assets_t).values(
                    uuid=asset,
                    attributes=dumps(attributes),
                    require_signature=bool(require_signature),
                    created_time=now,
                    principal=dumps(dict(principal or {})),
                )
            )
            if key is not None:
                conn.execute(
                    sa.insert(keys_t).values(
                        asset_uuid=asset,
                        seq=1,
                        alg=key.alg,
                        public_key=key.public_key,
                        valid_from=now,
                        valid_from_index=0,
                    )
                )
        return self.read_asset(asset)

    def read_asset(self, asset: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(assets_t).where(assets_t.c.uuid == asset)).first()
            if row is None:
                raise NotFound(f"no asset {asset!r}")
            history = _key_history(conn, asset)
        current = history[-1] if history else None
        return {
            "identity": f"assets/{row.uuid}",
            "uuid": row.uuid,
            "attributes": orjson.loads(row.attributes),
            "require_signature": bool(row.require_signature),
            "device_key": {"alg": current.alg, "public_key": current.public_key}
            if current
            else None,
            "key_history": [record.to_dict() for record in history],
            "created_time": rfc3339(row.created_time),
            "principal": orjson.loads(row.principal),
        }

    def list_assets(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> tuple[list[str], str | None]:
        size = paging.page_size(page_size)
        after = paging.decode_token(page_token).get("a") if page_token else None
        query = sa.select(assets_t.c.uuid).order_by(assets_t.c.uuid).limit(size + 1)
        if after is not None:
            query = query.where(assets_t.c.uuid > str(after))
        with self.db.connect() as conn:
            uuids = list(conn.execute(query).scalars())
        more = len(uuids) > size
        uuids = uuids[:size]
        return uuids, paging.encode_token({"a": uuids[-1]}) if more else None

    def rotate_key(self, asset: str, device_key: Mapping[str, Any]) -> dict[str, Any]:
        """Make ``device_key`` the asset's key from the next log index on; history is kept."""
        key = _parse_key(device_key)
        self.log.ensure_state()
        with self.db.begin() as conn:
            state = self.log.lock(conn)  # no append may take an index while the key changes
            if not _asset_exists(conn, asset):
                raise NotFound(f"no asset {asset!r}")
            last = conn.execute(
                sa.select(sa.func.max(keys_t.c.seq)).where(keys_t.c.asset_uuid == asset)
            ).scalar()
            conn.execute(
                sa.insert(keys_t).values(
                    asset_uuid=asset,
                    seq=(last or 0) + 1,
                    alg=key.alg,
                    public_key=key.public_key,
                    valid_from=self._clock(),
                    valid_from_index=state.size,
                )
            )
        self._signing.pop(asset, None)
        return self.read_asset(asset)

    # -- events ----------------------------------------------------------------------------

    def post_event(self, request: EventRequest) -> dict[str, Any]:
        """Append one event durably; concurrent callers share a commit.

        Raises :class:`InvalidRequest` (and writes nothing for this event) when it is malformed,
        or unsigned or badly signed for an asset that requires signatures; :class:`NotFound`
        for an unknown asset.
        """
        self.log.ensure_state()
        return self.committer.submit(request)

    async def post_event_async(self, request: EventRequest) -> dict[str, Any]:
        """:meth:`post_event` for a caller on an event loop: the loop is never blocked, and
        the batch's work runs on the committer's threads."""
        if not self.log.state_ready:
            await asyncio.to_thread(self.log.ensure_state)
        return await self.committer.submit_async(request)

    def close(self) -> None:
        self.committer.close()

    def post_events(self, requests: Sequence[EventRequest]) -> list[dict[str, Any]]:
        """Append events in one durable transaction, at consecutive indexes; all or none."""
        if not requests:
            return []
        items = [self._prepare(request) for request in requests]
        self.log.ensure_state()
        with self.db.begin() as conn:
            outcomes = self._append(conn, items, atomic=True)
        return outcomes  # type: ignore[return-value]  # atomic: records only

    def _prepare(self, request: EventRequest) -> _Item:
        """Everything that needs no lock: shape checks, serialisation, and the device signature
        when the asset refuses events without a good one.

        Other events are not checked at the door: their verdict is a function of the stored
        entry and the key history, both immutable, so every reader recomputes it (and must,
        to trust it) from what the log holds.
        """
        prepared = prepare_event(request)
        signing = self._signing_of(request.asset_uuid)
        if not signing.require_signature:
            return _Item(prepared, None, None)
        latest = key_for_index(signing.keys, merkle.MAX_TREE_SIZE)
        verdict = check_evidence(request.event_attributes, self._device_key(latest))
        return _Item(prepared, _slot(latest), verdict)

    def _integrate(
        self,
        batch: Sequence[Pending[EventRequest, dict[str, Any]]],
        before_commit: Callable[[], None],
    ) -> None:
        with self.db.begin() as conn:
            outcomes = self._append(conn, [pending.prepared for pending in batch], atomic=False)
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, TrusteeError):
                    pending.refuse(outcome)  # not written, whatever the commit does
            before_commit()
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.settled:
                pending.settle(outcome)  # type: ignore[arg-type]  # committed: answer now

    def _append(
        self, conn: Connection, items: Sequence[_Item], *, atomic: bool
    ) -> list[dict[str, Any] | TrusteeError]:
        """Integrate ``items`` in ``conn``'s transaction; a refusal raises when ``atomic``."""
        state = self.log.lock(conn)
        now = max(self._clock(), state.updated_time)  # acceptance times never go back
        accepted = rfc3339(now)
        assets = self._assets_for(conn, {item.prepared.request.asset_uuid for item in items})
        outcomes: list[dict[str, Any] | TrusteeError] = []
        rows: list[tuple[Any, ...]] = []
        leaves: list[bytes] = []
        changed: dict[str, dict[str, Any]] = {}
        for item in items:
            try:
                request = item.prepared.request
                asset = assets.get(request.asset_uuid)
                if asset is None:
                    raise NotFound(f"no asset {request.asset_uuid!r}")
                log_index = state.size + len(rows)
                if asset.require_signature:
                    verdict = self._verdict_at(item, asset.keys, log_index)
                    if not verdict.good:
                        raise InvalidRequest(
                            f"asset {request.asset_uuid} requires a good device signature: "
                            f"{verdict.status} ({verdict.reason})"
                        )
                record, entry = compose_entry(item.prepared, log_index, accepted)
                if request.asset_attributes:
                    merged = {
                        **changed.get(request.asset_uuid, asset.attributes),
                        **request.asset_attributes,
                    }
                    check_attributes(merged, "the asset's attributes after the update")
                    changed[request.asset_uuid] = merged
            except TrusteeError as exc:
                if atomic:
                    raise
                outcomes.append(exc)
                continue
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
            outcomes.append(record)
        if rows:
            insert_rows(conn, events_t, _EVENT_COLUMNS, rows)
            self.log.append(conn, state, leaves, now)
            for asset_uuid, merged in changed.items():
                conn.execute(
                    sa.update(assets_t)
                    .where(assets_t.c.uuid == asset_uuid)
                    .values(attributes=dumps(merged))
                )
        return outcomes

    def _verdict_at(self, item: _Item, history: list[KeyRecord], log_index: int) -> Verdict:
        """The verdict under the key in force at ``log_index``: the caller's, if it was that key."""
        record = key_for_index(history, log_index)
        if item.verdict is not None and _slot(record) == item.key_slot:
            return item.verdict
        request = item.prepared.request
        return check_evidence(request.event_attributes, self._device_key(record))

    def read_event(self, event: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            entry = conn.execute(
                sa.select(events_t.c.entry).where(events_t.c.uuid == event)
            ).scalar()
        if entry is None:
            raise NotFound(f"no event {event!r}")
        return orjson.loads(entry)

    def list_events(
        self,
        asset: str | None = None,
        *,
        attributes: Mapping[str, str] | None = None,
        asset_attributes: Mapping[str, str] | None = None,
        operation: str | None = None,
        behaviour: str | None = None,
        since: str | float | None = None,
        before: str | float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Events in log order, filtered, one page at a time; the token resumes after the page.

        ``attributes``/``asset_attributes`` match by equality on the string form of a value;
        ``since`` is inclusive and ``before`` exclusive (RFC 3339 or unix seconds).
        """
        size = paging.page_size(page_size)
        after = int(paging.decode_token(page_token).get("i", -1)) if page_token else -1
        start, end = parse_time(since, "since"), parse_time(before, "before")
        query = sa.select(events_t.c.log_index, events_t.c.entry).order_by(events_t.c.log_index)
        if asset is not None:
            query = query.where(events_t.c.asset_uuid == asset)
        if operation is not None:
            query = query.where(events_t.c.operation == operation)
        if behaviour is not None:
            query = query.where(events_t.c.behaviour == behaviour)
        if start is not None:
            query = query.where(events_t.c.timestamp_accepted >= start)
        if end is not None:
            query = query.where(events_t.c.timestamp_accepted < end)
        wanted = [
            ("event_attributes", dict(attributes or {})),
            ("asset_attributes", dict(asset_attributes or {})),
        ]
        page: list[dict[str, Any]] = []
        last = after
        exhausted = False
        with self.db.connect() as conn:
            if asset is not None and not _asset_exists(conn, asset):
                raise NotFound(f"no asset {asset!r}")
            while len(page) < size:
                chunk = conn.execute(
                    query.where(events_t.c.log_index > last).limit(max(size, 200))
                ).all()
                if not chunk:
                    exhausted = True
                    break
                for index, entry in chunk:
                    record = orjson.loads(entry)
                    last = index
                    if paging.matches(record, wanted):
                        page.append(record)
                        if len(page) == size:
                            break
            if not exhausted and len(page) == size:
                more = conn.execute(query.where(events_t.c.log_index > last).limit(1)).first()
                exhausted = more is None
        return page, None if exhausted else paging.encode_token({"i": last})

    # -- verification ----------------------------------------------------------------------

    def verify_event(self, event: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(events_t).where(events_t.c.uuid == event)).first()
            if row is None:
                raise NotFound(f"no event {event!r}")
            history = _key_history(conn, row.asset_uuid)
            leaf = fetch_nodes(conn, [(0, row.log_index)])
        return {
            "identity": f"assets/{row.asset_uuid}/events/{row.uuid}",
            "log_index": row.log_index,
            **self._stored_verdict(row, history, leaf).to_dict(),
        }

    def verify_asset(self, asset: str) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        counts = dict.fromkeys(STATUSES, 0)
        with self.db.connect() as conn:
            if not _asset_exists(conn, asset):
                raise NotFound(f"no asset {asset!r}")
            history = _key_history(conn, asset)
            rows = conn.execute(
                sa.select(events_t)
                .where(events_t.c.asset_uuid == asset)
                .order_by(events_t.c.log_index)
            ).all()
            leaves = fetch_nodes(conn, [(0, row.log_index) for row in rows])
        for row in rows:
            verdict = self._stored_verdict(row, history, leaves)
            counts[verdict.status] += 1
            results.append(
                {
                    "identity": f"assets/{asset}/events/{row.uuid}",
                    "log_index": row.log_index,
                    **verdict.to_dict(),
                }
            )
        return {"identity": f"assets/{asset}", "events": results, "counts": counts}

    def _stored_verdict(self, row: Any, history: list[KeyRecord], leaves: Mapping) -> Verdict:
        """Recomputed from the stored bytes: the entry and the key history."""
        stored = leaves.get((0, row.log_index))
        if stored is None or stored != merkle.leaf_hash(row.entry):
            return Verdict(BAD, "entry_not_in_log")
        record = orjson.loads(row.entry)
        key = key_for_index(history, row.log_index)
        return check_evidence(record.get("event_attributes"), self._device_key(key))

    # -- log -------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self.log.origin

    def public_key(self) -> str:
        """The log's verifier key, ``<origin>+<hex key id>+<base64>``."""
        return self.log.public_key()

    def ensure_state(self) -> None:
        self.log.ensure_state()

    def state(self) -> tuple[int, bytes]:
        """The current ``(size, root)``."""
        return self.log.state()

    def checkpoint(self) -> dict[str, Any]:
        return self.log.checkpoint()

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        return self.log.inclusion_proof(index, size)

    def consistency_proof(self, first: int, second: int | None = None) -> dict[str, Any]:
        return self.log.consistency_proof(first, second)

    def entries(self, start: int, end: int) -> list[bytes]:
        return self.log.entries(start, end)

    def bundle(self, asset: str, *, older_size: int | None = None) -> dict[str, Any]:
        """An offline audit bundle: asset, key history, events with inclusion proofs, checkpoint.

        With ``older_size``, also a consistency proof from that size to the bundle's.
        """
        checkpoint = self.checkpoint()
        size = checkpoint["size"]
        if older_size is not None and not 0 <= older_size <= size:
            raise InvalidRequest(f"older_size must be in [0, {size}]")
        described = self.read_asset(asset)
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(events_t.c.log_index, events_t.c.entry)
                .where(events_t.c.asset_uuid == asset, events_t.c.log_index < size)
                .order_by(events_t.c.log_index)
                .limit(MAX_BUNDLE_EVENTS)
            ).all()
            proofs = self.log.inclusion_proofs(conn, [row.log_index for row in rows], size)
        events = [
            {
                "log_index": row.log_index,
                "entry": _b64(row.entry),
                "event": orjson.loads(row.entry),
                "inclusion_proof": [h.hex() for h in proofs[row.log_index]],
            }
            for row in rows
        ]
        bundle: dict[str, Any] = {
            "v": 1,
            "kind": BUNDLE_KIND,
            "origin": checkpoint["origin"],
            "log_key": self.public_key(),
            "checkpoint": checkpoint["checkpoint"],
            "size": size,
            "root_hash": checkpoint["root_hash"],
            "asset": {k: v for k, v in described.items() if k != "key_history"},
            "keys": described["key_history"],
            "events": events,
        }
        if older_size is not None:
            bundle["consistency"] = {
                "first": older_size,
                "hashes": self.consistency_proof(older_size, size)["hashes"],
            }
        return bundle

    # -- internals -------------------------------------------------------------------------

    def _signing_of(self, asset: str) -> _Signing:
        """The asset's signing rules as last seen: a hint, re-read inside every append."""
        signing = self._signing.get(asset)
        if signing is None:
            with self.db.connect() as conn:
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
        for row in driver_rows(conn, _assets_with_keys_sql(len(uuids)), uuids):
            uuid, require_signature, attributes, seq = row[:4]
            asset = found.get(uuid)
            if asset is None:
                asset = _Asset(bool(require_signature), [], orjson.loads(attributes))
                found[uuid] = asset
            if seq is not None:
                asset.keys.append(_key_record_of(row[3:]))
        for uuid, asset in found.items():
            self._remember(uuid, asset)
        return found

    def _device_key(self, record: KeyRecord | None) -> DeviceKey | None:
        if record is None:
            return None
        slot = (record.alg, record.public_key)
        key = self._keys.get(slot)
        if key is None:
            key = DeviceKey(record.alg, record.public_key)
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            self._keys[slot] = key
        return key


# --- helpers -------------------------------------------------------------------------------


def _slot(record: KeyRecord | None) -> tuple[str, str] | None:
    return None if record is None else (record.alg, record.public_key)


def _asset_exists(conn: Connection, asset: str) -> bool:
    found = conn.execute(sa.select(assets_t.c.uuid).where(assets_t.c.uuid == asset)).first()
    return found is not None


def _key_history(conn: Connection, asset: str) -> list[KeyRecord]:
    rows = conn.execute(
        sa.select(keys_t).where(keys_t.c.asset_uuid == asset).order_by(keys_t.c.seq)
    )
    return [_key_record(row) for row in rows]


def _key_record(row: Any) -> KeyRecord:
    return _key_record_of((row.seq, row.alg, row.public_key, row.valid_from, row.valid_from_index))


def _key_record_of(values: Sequence[Any]) -> KeyRecord:
    """A key history entry from ``(seq, alg, public_key, valid_from, valid_from_index)``."""
    seq, alg, public_key, valid_from, valid_from_index = values
    return KeyRecord(
        seq=int(seq),
        alg=alg,
        public_key=public_key,
        valid_from=rfc3339(valid_from),
        valid_from_index=int(valid_from_index),
    )


def _parse_key(device_key: Mapping[str, Any]) -> DeviceKey:
    if not isinstance(device_key, Mapping) or set(device_key) - {"alg", "public_key"}:
        raise InvalidRequest("device_key is {alg, public_key}")
    try:
        return parse_device_key(device_key.get("alg", ""), device_key.get("public_key", ""))
    except CryptoError as exc:
        raise InvalidRequest(f"device_key: {exc}") from exc


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
