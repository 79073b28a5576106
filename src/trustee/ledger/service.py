"""The ledger service: one object over the parts that share a database and a log.

Each job lives in its own module: assets (:mod:`trustee.ledger.assets`), the append pipeline
(:mod:`trustee.ledger.append`), reads and verdicts (:mod:`trustee.ledger.queries`) and audit
bundles (:mod:`trustee.ledger.bundles`), over the transparency log
(:mod:`trustee.ledger.log`). Every answer is a typed record (:mod:`trustee.ledger.models`,
:mod:`trustee.ledger.bundle`) that the faces render; log proofs and checkpoints are the log's
own dicts. This facade keeps one name per operation for the faces, the CLI and the bench.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trustee.custody.barrier import Barrier
from trustee.ledger.append import Appender, OtherLeaf
from trustee.ledger.assets import AssetStore
from trustee.ledger.bundle import BUNDLE_KIND, Bundle
from trustee.ledger.bundles import make_bundle
from trustee.ledger.commit import GroupCommitter
from trustee.ledger.evidence import DeviceKeys
from trustee.ledger.indexer import Indexer
from trustee.ledger.log import DEFAULT_ORIGIN, LOG_KEY_AAD, TransparencyLog
from trustee.ledger.models import Asset, AssetVerdicts, Event, EventVerdict
from trustee.ledger.paging import DEFAULT_PAGE_SIZE, PageTokens
from trustee.ledger.queries import EventQueries
from trustee.ledger.records import EventRequest, rfc3339
from trustee.ledger.terms import IndexState
from trustee.storage import Database

__all__ = [
    "BUNDLE_KIND",
    "DEFAULT_ORIGIN",
    "LOG_KEY_AAD",
    "EventRequest",
    "LedgerService",
    "rfc3339",
]


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
        attribute_index: bool = True,
    ) -> None:
        """``attribute_index=False`` neither writes nor reads the attribute index and runs no
        indexer: for the bench's comparison only (assets written so lack their terms)."""
        self.db = db
        self.barrier = barrier
        self.log = TransparencyLog(db, barrier, origin, clock=clock)
        device_keys = DeviceKeys()
        self.appender = Appender(
            db,
            self.log,
            device_keys,
            clock=clock,
            max_batch=max_batch,
            attribute_index=attribute_index,
        )
        tokens = PageTokens(lambda: barrier.subkey(b"ledger-page-tokens"))
        self.index = IndexState(db) if attribute_index else None
        self.assets = AssetStore(
            db,
            self.log,
            clock=clock,
            on_key_change=self.appender.forget,
            tokens=tokens,
            index=self.index,
        )
        self.queries = EventQueries(db, device_keys, tokens, self.index)
        self.indexer = (
            Indexer(db, activity=lambda: self.appender.committer.items) if attribute_index else None
        )
        if self.indexer is not None and db.dialect_name == "postgresql":
            # On SQLite, SQLite makes the terms from the entries (see index_events).
            self.appender.committed = self.indexer.remember

    @property
    def committer(self) -> GroupCommitter[EventRequest | OtherLeaf, object]:
        return self.appender.committer

    def close(self) -> None:
        if self.indexer is not None:
            self.indexer.stop()
        self.appender.close()

    # -- the attribute index ---------------------------------------------------------------

    def start_indexer(self) -> None:
        """Start indexing appended events behind the appends (:mod:`trustee.ledger.indexer`),
        in a thread of this process, until :meth:`close`."""
        if self.indexer is not None:
            self.indexer.start()

    # -- assets ----------------------------------------------------------------------------

    def create_asset(
        self,
        attributes: Mapping[str, Any] | None = None,
        device_key: Mapping[str, Any] | None = None,
        *,
        require_signature: bool = False,
        principal: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Asset:
        return self.assets.create(
            attributes,
            device_key,
            require_signature=require_signature,
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def read_asset(self, asset: str) -> Asset:
        return self.assets.read(asset)

    def list_assets(
        self,
        *,
        attributes: Mapping[str, str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        """Asset uuids, filtered, one page at a time (the Vault face's ``keys``)."""
        assets, token = self.assets.list_assets(
            attributes=attributes, page_size=page_size, page_token=page_token
        )
        return [asset.uuid for asset in assets], token

    def find_assets(
        self,
        *,
        attributes: Mapping[str, str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> tuple[list[Asset], str | None]:
        """Assets whose attributes equal ``attributes``, one page at a time."""
        return self.assets.list_assets(
            attributes=attributes, page_size=page_size, page_token=page_token
        )

    def count_assets(
        self, *, attributes: Mapping[str, str] | None = None, page_token: str | None = None
    ) -> int:
        return self.assets.count_assets(attributes=attributes, page_token=page_token)

    def rotate_key(self, asset: str, device_key: Mapping[str, Any]) -> Asset:
        """Make ``device_key`` the asset's key from the next log index on; history is kept."""
        return self.assets.rotate_key(asset, device_key)

    # -- events ----------------------------------------------------------------------------

    def post_event(self, request: EventRequest) -> Event:
        """Append one event durably; concurrent callers share a commit (see
        :meth:`Appender.post_event <trustee.ledger.append.Appender.post_event>`)."""
        return self.appender.post_event(request)

    async def post_event_async(self, request: EventRequest) -> Event:
        return await self.appender.post_event_async(request)

    def post_events(self, requests: Sequence[EventRequest]) -> list[Event]:
        """Append events in one durable transaction, at consecutive indexes; all or none."""
        return self.appender.post_events(requests)

    def read_event(self, event: str) -> Event:
        return self.queries.read_event(event)

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
    ) -> tuple[list[Event], str | None]:
        """Events in log order, filtered, one page at a time (see
        :meth:`trustee.ledger.queries.EventQueries.list_events`)."""
        return self.queries.list_events(
            asset,
            attributes=attributes,
            asset_attributes=asset_attributes,
            operation=operation,
            behaviour=behaviour,
            since=since,
            before=before,
            page_size=page_size,
            page_token=page_token,
        )

    def count_events(self, asset: str | None = None, **filters: Any) -> int:
        """How many events :meth:`list_events` would list with ``filters`` over all pages."""
        return self.queries.count_events(asset, **filters)

    # -- verification and bundles ----------------------------------------------------------

    def verify_event(self, event: str) -> EventVerdict:
        return self.queries.verify_event(event)

    def verify_asset(self, asset: str) -> AssetVerdicts:
        return self.queries.verify_asset(asset)

    def bundle(self, asset: str, *, older_size: int | None = None) -> Bundle:
        """An offline audit bundle (see :func:`trustee.ledger.bundles.make_bundle`)."""
        return make_bundle(self.db, self.log, self.assets, asset, older_size=older_size)

    # -- log -------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return self.log.origin

    def public_key(self) -> str:
        """The log's verifier key, ``<origin>+<hex key id>+<base64>``."""
        return self.log.public_key()

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
