"""Making an asset's audit bundle: its events with inclusion proofs under one checkpoint.

The format is :mod:`trustee.ledger.bundle`; this module only gathers what goes in it, so the
server and the offline auditor (which never imports this) agree on one type.
"""

from __future__ import annotations

import sqlalchemy as sa

from trustee.errors import InvalidRequest
from trustee.ledger.assets import AssetStore
from trustee.ledger.bundle import Bundle, BundleEvent, ConsistencyProof, describe_asset
from trustee.ledger.log import TransparencyLog
from trustee.storage import Database
from trustee.storage.schema_ledger import ledger_events as events_t

__all__ = ["MAX_BUNDLE_EVENTS", "make_bundle"]

MAX_BUNDLE_EVENTS = 100_000


def make_bundle(
    db: Database,
    log: TransparencyLog,
    assets: AssetStore,
    asset: str,
    *,
    older_size: int | None = None,
) -> Bundle:
    """An offline audit bundle: asset, key history, events with inclusion proofs, checkpoint.

    With ``older_size``, also a consistency proof from that size to the bundle's. Events come
    from the checkpoint's tree only (an event appended meanwhile waits for the next bundle), at
    most :data:`MAX_BUNDLE_EVENTS` of them.
    """
    checkpoint = log.checkpoint()
    size = checkpoint["size"]
    if older_size is not None and not 0 <= older_size <= size:
        raise InvalidRequest(f"older_size must be in [0, {size}]")
    described = assets.read(asset)
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(events_t.c.log_index, events_t.c.entry)
            .where(events_t.c.asset_uuid == asset, events_t.c.log_index < size)
            .order_by(events_t.c.log_index)
            .limit(MAX_BUNDLE_EVENTS)
        ).all()
        proofs = log.inclusion_proofs(conn, [row.log_index for row in rows], size)
    consistency = None
    if older_size is not None:
        hashes = log.consistency_proof(older_size, size)["hashes"]
        consistency = ConsistencyProof(older_size, hashes)
    return Bundle(
        origin=checkpoint["origin"],
        log_key=log.public_key(),
        checkpoint=checkpoint["checkpoint"],
        size=size,
        root_hash=checkpoint["root_hash"],
        asset=describe_asset(described),
        keys=described.key_history,
        events=tuple(
            BundleEvent(
                log_index=row.log_index,
                entry=bytes(row.entry),
                inclusion_proof=[h.hex() for h in proofs[row.log_index]],
            )
            for row in rows
        ),
        consistency=consistency,
    )
