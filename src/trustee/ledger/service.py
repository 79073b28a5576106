"""The ledger service: assets, device-signed events and the transparency log under them.

Every accepted event is one leaf of an RFC 9162 Merkle log. The leaf is the RFC 8785 bytes of
the stored record, including its ``log_index``, so the index is assigned inside the append
transaction: it locks the log state row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already holds the database write lock), builds the records, reads the old
frontier (:func:`~trustee.ledger.merkle.append_node_ids`), and inserts the events, the new
nodes and the new size and root before it commits. The answer is given only after the commit,
so an acknowledged event survives a crash. A batch (:meth:`LedgerService.post_events`) is one
transaction and all-or-nothing.

Proofs read only the nodes they need (fewer than ``2·log2(n)`` rows, one query), whatever the
size of the log. Checkpoints are C2SP signed notes under the log's Ed25519 key, which is made
on first use and kept sealed by the barrier.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from trustee.crypto.device import DeviceKey, parse_device_key
from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.crypto.errors import CryptoError
from trustee.custody.barrier import Barrier
from trustee.errors import InvalidRequest, NotFound
from trustee.ledger import merkle
from trustee.ledger.audit import BUNDLE_KIND
from trustee.ledger.canonical import CanonicalJSONError, canonical_json
from trustee.ledger.evidence import (
    BAD,
    STATUSES,
    KeyRecord,
    Verdict,
    check_evidence,
    key_for_index,
)
from trustee.ledger.note import format_checkpoint, make_verifier_key, sign_note
from trustee.storage import Database
from trustee.storage.schema_ledger import (
    ledger_asset_keys as keys_t,
)
from trustee.storage.schema_ledger import (
    ledger_assets as assets_t,
)
from trustee.storage.schema_ledger import (
    ledger_events as events_t,
)
from trustee.storage.schema_ledger import (
    ledger_log_key as log_key_t,
)
from trustee.storage.schema_ledger import (
    ledger_log_nodes as nodes_t,
)
from trustee.storage.schema_ledger import (
    ledger_log_state as state_t,
)

__all__ = [
    "BUNDLE_KIND",
    "DEFAULT_ORIGIN",
    "LOG_KEY_AAD",
    "EventRequest",
    "LedgerService",
    "rfc3339",
]

DEFAULT_ORIGIN = "trustee.local/ledger"
LOG_KEY_AAD = b"trustee:log-key:v1"
MAX_ATTRIBUTES_BYTES = 64 * 1024
MAX_KEY_CHARS = 256
MAX_TEXT_CHARS = 256
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_ENTRIES = 1000
MAX_BUNDLE_EVENTS = 100_000
_NODE_CHUNK = 400  # node ids per query: two bound parameters each, well under SQLite's limit


@dataclass
class EventRequest:
    """One event to append: what the device and the caller declared, and who is calling."""

    asset_uuid: str
    event_attributes: dict[str, Any] = field(default_factory=dict)
    asset_attributes: dict[str, Any] = field(default_factory=dict)
    operation: str = "Record"
    behaviour: str = "RecordEvidence"
    timestamp_declared: str | None = None
    principal_declared: dict[str, Any] | None = None
    principal_accepted: dict[str, Any] = field(default_factory=dict)


def rfc3339(seconds: float) -> str:
    """UTC RFC 3339 with microseconds, e.g. ``2025-01-02T03:04:05.678901Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | float | int | None, what: str) -> float | None:
    """Unix seconds from a number or an RFC 3339 string; None passes through."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRequest(f"{what} must be RFC 3339 or unix seconds") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class LedgerService:
    """Assets, events and the log over one database; safe to share between threads."""

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
        self._keys: dict[tuple[str, str], DeviceKey] = {}
        self._state_ready = False

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
        _check_attributes(attributes, "attributes")
        key = _parse_key(device_key) if device_key is not None else None
        if require_signature and key is None:
            raise InvalidRequest("require_signature needs a device_key")
        asset = str(uuid_module.uuid4())
        now = self._clock()
        with self.db.begin() as conn:
            conn.execute(
                sa.insert(assets_t).values(
                    uuid=asset,
                    attributes=_dumps(attributes),
                    require_signature=bool(require_signature),
                    created_time=now,
                    principal=_dumps(dict(principal or {})),
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
        size = _page_size(page_size)
        after = _decode_token(page_token).get("a") if page_token else None
        query = sa.select(assets_t.c.uuid).order_by(assets_t.c.uuid).limit(size + 1)
        if after is not None:
            query = query.where(assets_t.c.uuid > str(after))
        with self.db.connect() as conn:
            uuids = list(conn.execute(query).scalars())
        more = len(uuids) > size
        uuids = uuids[:size]
        return uuids, _encode_token({"a": uuids[-1]}) if more else None

    def rotate_key(self, asset: str, device_key: Mapping[str, Any]) -> dict[str, Any]:
        """Make ``device_key`` the asset's key from the next log index on; history is kept."""
        key = _parse_key(device_key)
        with self.db.begin() as conn:
            self._ensure_state(conn)
            size, _ = self._locked_state(conn)
            if (
                conn.execute(sa.select(assets_t.c.uuid).where(assets_t.c.uuid == asset)).first()
                is None
            ):
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
                    valid_from_index=size,
                )
            )
        return self.read_asset(asset)

    # -- events ----------------------------------------------------------------------------

    def post_event(self, request: EventRequest) -> dict[str, Any]:
        return self.post_events([request])[0]

    def post_events(self, requests: Sequence[EventRequest]) -> list[dict[str, Any]]:
        """Append events in one durable transaction; all are written or none.

        Raises :class:`InvalidRequest` (and writes nothing) when an event is malformed, or is
        unsigned or badly signed for an asset that requires signatures.
        """
        if not requests:
            return []
        for request in requests:
            _check_event(request)
        self.ensure_state()
        now = self._clock()
        accepted = rfc3339(now)
        with self.db.begin() as conn:
            size, _ = self._locked_state(conn)
            assets = self._assets_for(conn, {r.asset_uuid for r in requests})
            records: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            leaves: list[bytes] = []
            changed: dict[str, dict[str, Any]] = {}
            for offset, request in enumerate(requests):
                asset = assets.get(request.asset_uuid)
                if asset is None:
                    raise NotFound(f"no asset {request.asset_uuid!r}")
                log_index = size + offset
                record = key_for_index(asset["keys"], log_index)
                verdict = check_evidence(request.event_attributes, self._device_key(record))
                if asset["require_signature"] and not verdict.good:
                    raise InvalidRequest(
                        f"asset {request.asset_uuid} requires a good device signature: "
                        f"{verdict.status} ({verdict.reason})"
                    )
                if request.asset_attributes:
                    merged = changed.setdefault(request.asset_uuid, dict(asset["attributes"]))
                    merged.update(request.asset_attributes)
                    _check_attributes(merged, "the asset's attributes after the update")
                event = str(uuid_module.uuid4())
                stored = {
                    "identity": f"assets/{request.asset_uuid}/events/{event}",
                    "asset_identity": f"assets/{request.asset_uuid}",
                    "operation": request.operation,
                    "behaviour": request.behaviour,
                    "event_attributes": request.event_attributes,
                    "asset_attributes": request.asset_attributes,
                    "timestamp_declared": request.timestamp_declared,
                    "principal_declared": request.principal_declared,
                    "principal_accepted": request.principal_accepted,
                    "timestamp_accepted": accepted,
                    "log_index": log_index,
                }
                entry = _canonical(stored)
                leaves.append(merkle.leaf_hash(entry))
                records.append(stored)
                rows.append(
                    {
                        "uuid": event,
                        "asset_uuid": request.asset_uuid,
                        "log_index": log_index,
                        "entry": entry,
                        "timestamp_accepted": now,
                        "operation": request.operation,
                        "behaviour": request.behaviour,
                        "verdict": verdict.status,
                        "reason": verdict.reason[:64],
                    }
                )
            frontier = _fetch_nodes(conn, merkle.append_node_ids(size))
            new_nodes = merkle.append_nodes(size, leaves, frontier)
            known = dict(frontier)
            known.update({(level, index): hash_ for level, index, hash_ in new_nodes})
            new_size = size + len(requests)
            root = merkle.root_from_nodes(new_size, known)
            conn.execute(sa.insert(events_t), rows)
            conn.execute(
                sa.insert(nodes_t),
                [{"level": lv, "node_index": ix, "hash": h} for lv, ix, h in new_nodes],
            )
            conn.execute(
                sa.update(state_t)
                .where(state_t.c.id == 1)
                .values(size=new_size, root=root, updated_time=now)
            )
            for asset_uuid, merged in changed.items():
                conn.execute(
                    sa.update(assets_t)
                    .where(assets_t.c.uuid == asset_uuid)
                    .values(attributes=_dumps(merged))
                )
        return records

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
        size = _page_size(page_size)
        after = int(_decode_token(page_token).get("i", -1)) if page_token else -1
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
        wanted = [("event_attributes", dict(attributes or {}))]
        wanted.append(("asset_attributes", dict(asset_attributes or {})))
        page: list[dict[str, Any]] = []
        last = after
        exhausted = False
        with self.db.connect() as conn:
            if asset is not None and (
                conn.execute(sa.select(assets_t.c.uuid).where(assets_t.c.uuid == asset)).first()
                is None
            ):
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
                    if _matches(record, wanted):
                        page.append(record)
                        if len(page) == size:
                            break
            if not exhausted and len(page) == size:
                more = conn.execute(query.where(events_t.c.log_index > last).limit(1)).first()
                exhausted = more is None
        return page, None if exhausted else _encode_token({"i": last})

    def verify_event(self, event: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(events_t).where(events_t.c.uuid == event)).first()
            if row is None:
                raise NotFound(f"no event {event!r}")
            history = _key_history(conn, row.asset_uuid)
            leaf = _fetch_nodes(conn, [(0, row.log_index)])
        return {
            "identity": f"assets/{row.asset_uuid}/events/{row.uuid}",
            "log_index": row.log_index,
            **self._verdict(row, history, leaf).to_dict(),
        }

    def verify_asset(self, asset: str) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        counts = dict.fromkeys(STATUSES, 0)
        with self.db.connect() as conn:
            if (
                conn.execute(sa.select(assets_t.c.uuid).where(assets_t.c.uuid == asset)).first()
                is None
            ):
                raise NotFound(f"no asset {asset!r}")
            history = _key_history(conn, asset)
            rows = conn.execute(
                sa.select(events_t)
                .where(events_t.c.asset_uuid == asset)
                .order_by(events_t.c.log_index)
            ).all()
            leaves = _fetch_nodes(conn, [(0, row.log_index) for row in rows])
        for row in rows:
            verdict = self._verdict(row, history, leaves)
            counts[verdict.status] += 1
            results.append(
                {
                    "identity": f"assets/{asset}/events/{row.uuid}",
                    "log_index": row.log_index,
                    **verdict.to_dict(),
                }
            )
        return {"identity": f"assets/{asset}", "events": results, "counts": counts}

    def _verdict(self, row: Any, history: list[KeyRecord], leaves: Mapping) -> Verdict:
        stored = leaves.get((0, row.log_index))
        if stored is None or stored != merkle.leaf_hash(row.entry):
            return Verdict(BAD, "entry_not_in_log")
        record = orjson.loads(row.entry)
        key = key_for_index(history, row.log_index)
        return check_evidence(record.get("event_attributes"), self._device_key(key))

    # -- log -------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self._log_signer()[0]

    def public_key(self) -> str:
        """The log's verifier key, ``<origin>+<hex key id>+<base64>``."""
        origin, private = self._log_signer()
        return make_verifier_key(origin, private.public_key())

    def state(self) -> tuple[int, bytes]:
        """The current ``(size, root)``."""
        self.ensure_state()
        with self.db.connect() as conn:
            row = conn.execute(sa.select(state_t.c.size, state_t.c.root)).one()
        return int(row.size), bytes(row.root)

    def checkpoint(self) -> dict[str, Any]:
        size, root = self.state()
        origin, private = self._log_signer()
        note = sign_note(format_checkpoint(origin, size, root), origin, private)
        return {"checkpoint": note, "size": size, "root_hash": root.hex(), "origin": origin}

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        size = self._check_size(size)
        if not 0 <= index < size:
            raise InvalidRequest(f"index must be in [0, {size})")
        groups = merkle.inclusion_proof_node_ids(index, size)
        with self.db.connect() as conn:
            nodes = _fetch_nodes(
                conn, merkle.unique_node_ids([*groups, merkle.root_node_ids(size)])
            )
        proof = merkle.inclusion_proof(index, size, nodes)
        return {
            "index": index,
            "size": size,
            "hashes": [h.hex() for h in proof],
            "root_hash": merkle.root_from_nodes(size, nodes).hex(),
        }

    def consistency_proof(self, first: int, second: int | None = None) -> dict[str, Any]:
        second = self._check_size(second)
        if not 0 <= first <= second:
            raise InvalidRequest(f"first must be in [0, {second}]")
        groups = merkle.consistency_proof_node_ids(first, second)
        with self.db.connect() as conn:
            nodes = _fetch_nodes(
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
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(events_t.c.entry)
                .where(events_t.c.log_index >= start, events_t.c.log_index < end)
                .order_by(events_t.c.log_index)
            ).scalars()
            return [bytes(entry) for entry in rows]

    def bundle(self, asset: str, *, older_size: int | None = None) -> dict[str, Any]:
        """An offline audit bundle: asset, key history, events with inclusion proofs, checkpoint.

        With ``older_size``, also a consistency proof from that size to the bundle's.
        """
        checkpoint = self.checkpoint()
        size = checkpoint["size"]
        described = self.read_asset(asset)
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(events_t.c.log_index, events_t.c.entry)
                .where(events_t.c.asset_uuid == asset, events_t.c.log_index < size)
                .order_by(events_t.c.log_index)
                .limit(MAX_BUNDLE_EVENTS)
            ).all()
            groups = {
                row.log_index: merkle.inclusion_proof_node_ids(row.log_index, size) for row in rows
            }
            nodes = _fetch_nodes(
                conn, merkle.unique_node_ids(g for gs in groups.values() for g in gs)
            )
        events = []
        for row in rows:
            proof = [merkle.fold_range([nodes[n] for n in g]) for g in groups[row.log_index]]
            events.append(
                {
                    "log_index": row.log_index,
                    "entry": base64.b64encode(row.entry).decode("ascii"),
                    "event": orjson.loads(row.entry),
                    "inclusion_proof": [h.hex() for h in proof],
                }
            )
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
            if not 0 <= older_size <= size:
                raise InvalidRequest(f"older_size must be in [0, {size}]")
            bundle["consistency"] = {
                "first": older_size,
                "hashes": self.consistency_proof(older_size, size)["hashes"],
            }
        return bundle

    # -- internals -------------------------------------------------------------------------

    def ensure_state(self) -> None:
        if self._state_ready:
            return
        with self.db.begin() as conn:
            self._ensure_state(conn)
        self._state_ready = True

    def _ensure_state(self, conn: Connection) -> None:
        if conn.execute(sa.select(state_t.c.id)).first() is None:
            conn.execute(
                sa.insert(state_t).values(
                    id=1, size=0, root=merkle.EMPTY_ROOT, updated_time=self._clock()
                )
            )

    def _locked_state(self, conn: Connection) -> tuple[int, bytes]:
        row = conn.execute(
            sa.select(state_t.c.size, state_t.c.root).where(state_t.c.id == 1).with_for_update()
        ).one()
        return int(row.size), bytes(row.root)

    def _check_size(self, size: int | None) -> int:
        current, _ = self.state()
        if size is None:
            return current
        if not 0 <= size <= current:
            raise InvalidRequest(f"size must be in [0, {current}]")
        return size

    def _assets_for(self, conn: Connection, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(uuids)
        found: dict[str, dict[str, Any]] = {}
        for row in conn.execute(sa.select(assets_t).where(assets_t.c.uuid.in_(wanted))):
            found[row.uuid] = {
                "require_signature": bool(row.require_signature),
                "attributes": orjson.loads(row.attributes),
                "keys": [],
            }
        for row in conn.execute(
            sa.select(keys_t).where(keys_t.c.asset_uuid.in_(wanted)).order_by(keys_t.c.seq)
        ):
            if row.asset_uuid in found:
                found[row.asset_uuid]["keys"].append(_key_record(row))
        return found

    def _device_key(self, record: KeyRecord | None) -> DeviceKey | None:
        if record is None:
            return None
        slot = (record.alg, record.public_key)
        key = self._keys.get(slot)
        if key is None:
            key = DeviceKey(record.alg, record.public_key)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[slot] = key
        return key

    def _log_signer(self) -> tuple[str, Ed25519PrivateKey]:
        if self._signer is not None:
            return self._signer
        with self._lock:
            if self._signer is None:
                self.barrier.check_unsealed()
                row = self._load_log_key()
                if row is None:
                    private = Ed25519PrivateKey.generate()
                    try:
                        with self.db.begin() as conn:
                            conn.execute(
                                sa.insert(log_key_t).values(
                                    id=1,
                                    origin=self._origin,
                                    public_key=private.public_key().public_bytes_raw(),
                                    sealed_seed=self.barrier.encrypt(
                                        private.private_bytes_raw(), LOG_KEY_AAD
                                    ),
                                    created_time=self._clock(),
                                )
                            )
                    except IntegrityError:
                        pass  # another process made it first: use theirs
                    row = self._load_log_key()
                    assert row is not None
                seed = self.barrier.decrypt(row.sealed_seed, LOG_KEY_AAD)
                private = Ed25519PrivateKey.from_private_bytes(seed)
                if private.public_key().public_bytes_raw() != bytes(row.public_key):
                    raise CryptoError("the stored log key does not match its public key")
                self._signer = (row.origin, private)
        return self._signer

    def _load_log_key(self) -> Any:
        with self.db.connect() as conn:
            return conn.execute(sa.select(log_key_t).where(log_key_t.c.id == 1)).first()


# --- helpers -------------------------------------------------------------------------------


def _fetch_nodes(conn: Connection, ids: Sequence[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
    found: dict[merkle.NodeId, bytes] = {}
    ids = list(ids)
    for start in range(0, len(ids), _NODE_CHUNK):
        chunk = ids[start : start + _NODE_CHUNK]
        rows = conn.execute(
            sa.select(nodes_t.c.level, nodes_t.c.node_index, nodes_t.c.hash).where(
                sa.tuple_(nodes_t.c.level, nodes_t.c.node_index).in_(chunk)
            )
        )
        for level, index, hash_ in rows:
            found[(int(level), int(index))] = bytes(hash_)
    return found


def _key_history(conn: Connection, asset: str) -> list[KeyRecord]:
    rows = conn.execute(
        sa.select(keys_t).where(keys_t.c.asset_uuid == asset).order_by(keys_t.c.seq)
    )
    return [_key_record(row) for row in rows]


def _key_record(row: Any) -> KeyRecord:
    return KeyRecord(
        seq=int(row.seq),
        alg=row.alg,
        public_key=row.public_key,
        valid_from=rfc3339(row.valid_from),
        valid_from_index=int(row.valid_from_index),
    )


def _parse_key(device_key: Mapping[str, Any]) -> DeviceKey:
    if not isinstance(device_key, Mapping) or set(device_key) - {"alg", "public_key"}:
        raise InvalidRequest("device_key is {alg, public_key}")
    try:
        return parse_device_key(device_key.get("alg", ""), device_key.get("public_key", ""))
    except CryptoError as exc:
        raise InvalidRequest(f"device_key: {exc}") from exc


def _canonical(value: Any) -> bytes:
    try:
        return canonical_json(value)
    except CanonicalJSONError as exc:
        raise InvalidRequest(str(exc)) from exc


def _dumps(value: Any) -> str:
    return _canonical(value).decode("utf-8")


def _check_attributes(attributes: Any, what: str) -> None:
    if not isinstance(attributes, dict):
        raise InvalidRequest(f"{what} must be an object")
    for key in attributes:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            raise InvalidRequest(f"{what}: keys are 1 to {MAX_KEY_CHARS} characters")
    if len(_canonical(attributes)) > MAX_ATTRIBUTES_BYTES:
        raise InvalidRequest(f"{what} are larger than {MAX_ATTRIBUTES_BYTES} bytes of JSON")


def _check_text(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise InvalidRequest(f"{what} must be text of at most {MAX_TEXT_CHARS} characters")


def _check_event(request: EventRequest) -> None:
    if not isinstance(request.asset_uuid, str) or len(request.asset_uuid) > 64:
        raise InvalidRequest("bad asset id")
    _check_text(request.operation, "operation")
    _check_text(request.behaviour, "behaviour")
    _check_text(request.timestamp_declared, "timestamp_declared", optional=True)
    _check_attributes(request.event_attributes, "event_attributes")
    _check_attributes(request.asset_attributes, "asset_attributes")
    if request.principal_declared is not None:
        _check_attributes(request.principal_declared, "principal_declared")
    if (
        len(_canonical(request.event_attributes)) + len(_canonical(request.asset_attributes))
        > MAX_ATTRIBUTES_BYTES
    ):
        raise InvalidRequest(f"attributes are larger than {MAX_ATTRIBUTES_BYTES} bytes in total")


def _matches(record: Mapping[str, Any], wanted: list[tuple[str, dict[str, Any]]]) -> bool:
    for section, equal in wanted:
        values = record.get(section) or {}
        for key, expected in equal.items():
            if key not in values:
                return False
            actual = values[key]
            if actual != expected and _as_text(actual) != str(expected):
                return False
    return True


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode("utf-8")


def _page_size(page_size: Any) -> int:
    try:
        size = int(page_size)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("page_size must be an integer") from exc
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
    return size


def _encode_token(value: dict[str, Any]) -> str:
    return b64url_encode(orjson.dumps({"v": 1, **value}))


def _decode_token(token: str) -> dict[str, Any]:
    try:
        value = orjson.loads(b64url_decode(token))
    except (CryptoError, ValueError, TypeError) as exc:
        raise InvalidRequest("next_page_token is not one this server made") from exc
    if not isinstance(value, dict) or value.get("v") != 1:
        raise InvalidRequest("next_page_token is not one this server made")
    return value
