"""Assets: creation, description, listing and device-key rotation.

An asset's key history is append-only: a rotation adds the new key from the log's next index
on, under the log's state lock, so no event can take an index while the key in force changes,
and every older event keeps the verdict of its own time.
"""

from __future__ import annotations

import time
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from trustee.crypto.device import DeviceKey, parse_device_key
from trustee.crypto.errors import CryptoError
from trustee.errors import InvalidRequest, NotFound
from trustee.ledger import idempotency, paging, terms
from trustee.ledger.evidence import KeyRecord
from trustee.ledger.log import TransparencyLog
from trustee.ledger.models import Asset
from trustee.ledger.paging import DEFAULT_PAGE_SIZE
from trustee.ledger.records import check_attributes, dumps, rfc3339
from trustee.ledger.signing_key import SIGNING_PUBKEY, signing_key_of
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_asset_keys as keys_t
from trustee.storage.schema_ledger import ledger_asset_terms as asset_terms_t
from trustee.storage.schema_ledger import ledger_assets as assets_t

__all__ = ["AssetStore", "asset_exists", "key_history", "key_record_of"]

_CREATION = "asset"
"""The scope of asset-creation idempotency keys."""


class AssetStore:
    """The ledger's assets over one database; safe to share between threads."""

    def __init__(
        self,
        db: Database,
        log: TransparencyLog,
        *,
        clock: Callable[[], float] = time.time,
        on_key_change: Callable[[str], None] = lambda asset: None,
        tokens: paging.PageTokens,
        index: terms.IndexState | None = None,
    ) -> None:
        self._db = db
        self._index = index
        self.use_index = True
        """False answers listings by the plain scan (the tests' and the bench's reference)."""
        self._log = log
        self._clock = clock
        self._on_key_change = on_key_change  # the append pipeline forgets what it cached
        self._tokens = tokens

    def create(
        self,
        attributes: Mapping[str, Any] | None = None,
        device_key: Mapping[str, Any] | None = None,
        *,
        require_signature: bool = False,
        principal: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Asset:
        """A new asset; its key is ``device_key`` or the PEM in the attribute
        ``arc_evidence_signing_pubkey`` (:mod:`trustee.ledger.signing_key`). With
        ``idempotency_key``, a retry of the same creation answers the asset the first one made
        (:mod:`trustee.ledger.idempotency`)."""
        attributes = dict(attributes or {})
        check_attributes(attributes, "attributes")
        key = parse_key(device_key) if device_key is not None else None
        named = signing_key_of(attributes, "attributes")
        if named is not None:
            if key is not None and key != named:
                raise InvalidRequest(f"device_key and attributes.{SIGNING_PUBKEY} differ")
            key = named
        if require_signature and key is None:
            raise InvalidRequest("require_signature needs a device_key")
        keyed = None
        if idempotency_key is not None:
            declared = {
                "attributes": attributes,
                "device_key": None if key is None else [key.alg, key.public_key],
                "require_signature": bool(require_signature),
            }
            keyed = (idempotency.check_key(idempotency_key), idempotency.request_hash(declared))
        try:
            asset = self._insert(attributes, key, require_signature, principal, keyed)
        except IntegrityError:
            if keyed is None:
                raise
            # Another replica recorded the key between our look-up and our insert: now the
            # look-up finds it.
            asset = self._insert(attributes, key, require_signature, principal, keyed)
        return self.read(asset)

    def _insert(
        self,
        attributes: dict[str, Any],
        key: DeviceKey | None,
        require_signature: bool,
        principal: Mapping[str, Any] | None,
        keyed: tuple[str, bytes] | None,
    ) -> str:
        asset = str(uuid_module.uuid4())
        now = self._clock()
        with self._db.begin() as conn:
            if keyed is not None:
                found = idempotency.find(conn, _CREATION, keyed[0], now)
                if found is not None:
                    if found[0] != keyed[1]:
                        raise idempotency.conflict(keyed[0])
                    return found[1]
                idempotency.record(conn, _CREATION, keyed[0], keyed[1], asset, now)
            conn.execute(
                sa.insert(assets_t).values(
                    uuid=asset,
                    attributes=dumps(attributes),
                    require_signature=bool(require_signature),
                    created_time=now,
                    principal=dumps(dict(principal or {})),
                )
            )
            if self._index is not None:
                terms.write_asset_terms(conn, asset, None, orjson.loads(dumps(attributes)))
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
        return asset

    def read(self, asset: str) -> Asset:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(assets_t).where(assets_t.c.uuid == asset)).first()
            if row is None:
                raise NotFound(f"no asset {asset!r}")
            history = key_history(conn, asset)
        return Asset(
            uuid=row.uuid,
            attributes=orjson.loads(row.attributes),
            require_signature=bool(row.require_signature),
            key_history=tuple(history),
            created_time=rfc3339(row.created_time),
            principal=orjson.loads(row.principal),
        )

    def list_assets(
        self,
        *,
        attributes: Mapping[str, str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> tuple[list[Asset], str | None]:
        """Assets in uuid order whose attributes equal ``attributes`` (the string form of a
        value matches too), one page at a time; the token resumes the same query."""
        size = paging.page_size(page_size)
        filters = {"attributes": dict(attributes or {})}
        query, after = self._tokens.resume("assets", page_token, {}, filters)
        page: list[str] = []
        more = False
        with self._db.connect() as conn:
            for uuid in self._matching(conn, query, after):
                if len(page) == size:
                    more = True
                    break
                page.append(uuid)
        token = self._tokens.encode("assets", query, page[-1]) if more else None
        return [self.read(uuid) for uuid in page], token

    def count_assets(
        self, *, attributes: Mapping[str, str] | None = None, page_token: str | None = None
    ) -> int:
        """How many assets :meth:`list_assets` would list over all its pages; with a page
        token, over all the pages of the token's query (a later page asks about the same
        listing)."""
        filters = {"attributes": dict(attributes or {})}
        query, _ = self._tokens.resume("assets", page_token, {}, filters)
        with self._db.connect() as conn:
            found = self._indexed_terms(conn, query)
            if found is not None and found[1]:
                return _count_indexed(conn, found[0])
            return sum(1 for _ in self._matching(conn, query, None))

    def _indexed_terms(
        self, conn: Connection, query: Mapping[str, Any]
    ) -> tuple[list[str], bool] | None:
        """The index terms of ``query`` and whether they decide it, or None to scan."""
        if not self.use_index or self._index is None or not query.get("attributes"):
            return None
        found = terms.query_terms(terms.ASSET, query["attributes"])
        if not found[0] or not self._index.assets_ready(conn):
            return None
        return found

    def _matching(self, conn: Connection, query: Mapping[str, Any], after: Any) -> Iterator[str]:
        found = self._indexed_terms(conn, query)
        if found is None:
            return _matching_assets(conn, query, after)
        return _matching_indexed(conn, found[0], query, after)

    def rotate_key(self, asset: str, device_key: Mapping[str, Any]) -> Asset:
        """Make ``device_key`` the asset's key from the next log index on; history is kept."""
        key = parse_key(device_key)
        self._log.ensure_state()
        with self._db.begin() as conn:
            state = self._log.lock(conn)  # no append may take an index while the key changes
            if not asset_exists(conn, asset):
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
        self._on_key_change(asset)
        return self.read(asset)


# --- shared with the append pipeline and the queries ---------------------------------------


def asset_exists(conn: Connection, asset: str) -> bool:
    found = conn.execute(sa.select(assets_t.c.uuid).where(assets_t.c.uuid == asset)).first()
    return found is not None


def _matching_assets(conn: Connection, query: Mapping[str, Any], after: Any) -> Iterator[str]:
    """Uuids of assets matching ``query`` after uuid ``after``, in uuid order."""
    wanted = [("attributes", dict(query.get("attributes") or {}))]
    last = None if after is None else str(after)
    while True:
        select = sa.select(assets_t.c.uuid, assets_t.c.attributes).order_by(assets_t.c.uuid)
        if last is not None:
            select = select.where(assets_t.c.uuid > last)
        chunk = conn.execute(select.limit(500)).all()
        if not chunk:
            return
        for uuid, attributes in chunk:
            last = uuid
            if paging.matches({"attributes": orjson.loads(attributes)}, wanted):
                yield uuid


def _terms_select(columns: Callable[[Any], Any], looked_up: list[str]) -> tuple[Any, Any]:
    """Assets having every term, joined on the uuid from the first term's rows."""
    first = asset_terms_t.alias("t0")
    select = sa.select(columns(first)).where(first.c.term == looked_up[0])
    for number, each in enumerate(looked_up[1:], start=1):
        other = asset_terms_t.alias(f"t{number}")
        select = select.join(
            other, sa.and_(other.c.asset_uuid == first.c.asset_uuid, other.c.term == each)
        )
    return select, first


def _count_indexed(conn: Connection, looked_up: list[str]) -> int:
    select, _ = _terms_select(lambda first: sa.func.count(), looked_up)
    return int(conn.execute(select).scalar() or 0)


def _matching_indexed(
    conn: Connection, looked_up: list[str], query: Mapping[str, Any], after: Any
) -> Iterator[str]:
    """:func:`_matching_assets` through the index: candidates by term, each re-checked."""
    wanted = [("attributes", dict(query.get("attributes") or {}))]
    last = None if after is None else str(after)
    chunk_size = 101
    while True:
        select, first = _terms_select(lambda first: first.c.asset_uuid, looked_up)
        if last is not None:
            select = select.where(first.c.asset_uuid > last)
        uuids = conn.execute(select.order_by(first.c.asset_uuid).limit(chunk_size)).scalars().all()
        if not uuids:
            return
        stored = dict(
            conn.execute(
                sa.select(assets_t.c.uuid, assets_t.c.attributes).where(assets_t.c.uuid.in_(uuids))
            ).all()
        )
        for uuid in uuids:
            last = uuid
            attributes = stored.get(uuid)
            if attributes is not None and paging.matches(
                {"attributes": orjson.loads(attributes)}, wanted
            ):
                yield uuid
        if len(uuids) < chunk_size:
            return
        chunk_size = min(chunk_size * 4, 5000)


def key_history(conn: Connection, asset: str) -> list[KeyRecord]:
    """The asset's keys, oldest first."""
    rows = conn.execute(
        sa.select(keys_t).where(keys_t.c.asset_uuid == asset).order_by(keys_t.c.seq)
    )
    return [
        key_record_of((row.seq, row.alg, row.public_key, row.valid_from, row.valid_from_index))
        for row in rows
    ]


def key_record_of(values: Sequence[Any]) -> KeyRecord:
    """A key history entry from ``(seq, alg, public_key, valid_from, valid_from_index)``."""
    seq, alg, public_key, valid_from, valid_from_index = values
    return KeyRecord(
        seq=int(seq),
        alg=alg,
        public_key=public_key,
        valid_from=rfc3339(valid_from),
        valid_from_index=int(valid_from_index),
    )


def parse_key(device_key: Mapping[str, Any]) -> DeviceKey:
    """A device key from ``{alg, public_key}``, or :class:`InvalidRequest` naming the fault."""
    if not isinstance(device_key, Mapping) or set(device_key) - {"alg", "public_key"}:
        raise InvalidRequest("device_key is {alg, public_key}")
    try:
        return parse_device_key(device_key.get("alg", ""), device_key.get("public_key", ""))
    except CryptoError as exc:
        raise InvalidRequest(f"device_key: {exc}") from exc
