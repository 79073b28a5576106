"""Offline audit of a ledger bundle: a pure function, no server, no storage.

Checklist, in order (each step labelled below):

1. the bundle's shape (kind, version, the pieces present);
2. the checkpoint: its signature verifies with the *given* log key (never the bundle's own copy)
   and it names the log's origin; its size and root are what everything else is checked against;
3. with an older checkpoint: it verifies with the same key, and the bundle's consistency proof
   shows the older tree is a prefix of the checkpoint's;
4. each event: its entry bytes are RFC 8785 canonical JSON; the leaf hash recomputed from them is
   included at its ``log_index`` under the checkpoint root; it belongs to the bundle's asset;
5. each event's device signature, against the key in force at its log index in the key history.

Limits: a bundle proves that the events it holds are in the log; it cannot prove that no other
event of the asset exists, and the key history is the server's statement (it is not itself a
log leaf).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from trustee.crypto.device import DeviceKey
from trustee.crypto.errors import CryptoError
from trustee.ledger import merkle
from trustee.ledger.bundle import (
    UNREADABLE_ENTRY,
    Bundle,
    BundleError,
    BundleEvent,
    ConsistencyProof,
    UnreadableEvent,
)
from trustee.ledger.canonical import CanonicalJSONError, canonical_json
from trustee.ledger.evidence import BAD, GOOD, KeyRecord, check_evidence, key_for_index
from trustee.ledger.inclusion import InclusionChecker, hex_hashes
from trustee.ledger.note import Checkpoint, NoteError, open_checkpoint, parse_verifier_key

__all__ = ["AuditReport", "AuditRow", "audit_bundle"]

_Item = BundleEvent | UnreadableEvent
# Below this many events, starting worker processes costs more than the audit itself.
PARALLEL_MIN_EVENTS = 10_000
# Chunks per worker: enough to balance uneven chunks and to report progress as they complete.
CHUNKS_PER_WORKER = 4


@dataclass(frozen=True)
class AuditRow:
    """One event's outcome: included in the log, and its device-signature verdict."""

    log_index: int | None
    identity: str
    included: bool
    signature: str
    reason: str

    @property
    def status(self) -> str:
        return GOOD if self.included and self.signature == GOOD else BAD

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_index": self.log_index,
            "identity": self.identity,
            "status": self.status,
            "included": self.included,
            "signature": self.signature,
            "reason": self.reason,
        }


@dataclass
class AuditReport:
    checkpoint_ok: bool = False
    checkpoint_reason: str = ""
    size: int | None = None
    root_hash: str | None = None
    consistency_ok: bool | None = None
    consistency_reason: str = ""
    rows: list[AuditRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        return (
            self.checkpoint_ok
            and self.consistency_ok is not False
            and not self.problems
            and all(row.status == GOOD for row in self.rows)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "all_ok": self.all_ok,
            "checkpoint_ok": self.checkpoint_ok,
            "checkpoint_reason": self.checkpoint_reason,
            "size": self.size,
            "root_hash": self.root_hash,
            "consistency_ok": self.consistency_ok,
            "consistency_reason": self.consistency_reason,
            "problems": list(self.problems),
            "events": [row.to_dict() for row in self.rows],
        }


def audit_bundle(
    bundle: Bundle | Mapping[str, Any],
    log_key: str,
    older_checkpoint: str | None = None,
    *,
    on_event: Callable[[AuditRow], None] | None = None,
    workers: int | None = None,
    min_parallel: int = PARALLEL_MIN_EVENTS,
) -> AuditReport:
    """Check ``bundle`` against the trusted verifier key ``log_key``; never raises on bad input.

    ``bundle`` is a :class:`Bundle` or its JSON document (as read from a file), read with
    :meth:`Bundle.from_json`.

    Events are independent of one another, so with ``workers`` > 1 (None: every core) and at
    least ``min_parallel`` events they are audited in worker processes, chunk by chunk; the rows
    and the ``on_event`` calls keep the bundle's order, and the report is the serial one.
    """
    report = AuditReport()
    # 1. Shape.
    if not isinstance(bundle, Bundle):
        try:
            bundle = Bundle.from_json(bundle)
        except BundleError as exc:
            report.problems.append(str(exc))
            return report
    report.problems.extend(bundle.problems)  # what the reader had to skip
    events = bundle.events
    # 2. Checkpoint, under the key the auditor trusts.
    checkpoint = _open(bundle.checkpoint, log_key, report)
    if checkpoint is not None:
        report.checkpoint_ok = True
        report.checkpoint_reason = "signature verified"
        report.size, report.root_hash = checkpoint.size, checkpoint.root_hash.hex()
    # 3. Consistency with an older checkpoint.
    if older_checkpoint is not None:
        _check_consistency(bundle.consistency, log_key, older_checkpoint, checkpoint, report)
    # 4-5. Every event.
    asset_identity = bundle.asset_identity
    history = list(bundle.keys)
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count > 1 and len(events) >= max(min_parallel, 2):
        rows = _audit_parallel(events, checkpoint, asset_identity, history, count)
    else:
        rows = iter(_audit_chunk(events, checkpoint, asset_identity, history))
    for row in rows:
        report.rows.append(row)
        if on_event is not None:
            on_event(row)
    return report


def _audit_chunk(
    items: Sequence[_Item],
    checkpoint: Checkpoint | None,
    asset_identity: str | None,
    history: list[KeyRecord],
) -> list[AuditRow]:
    """Audit consecutive events; the serial path, and a worker's unit of work."""
    keys = _device_keys(history)
    inclusion = (
        None if checkpoint is None else InclusionChecker(checkpoint.size, checkpoint.root_hash)
    )
    return [_audit_event(item, inclusion, asset_identity, history, keys) for item in items]


# What a worker process audits, installed once per process by _install_shared.
_shared: tuple[Sequence[_Item], Checkpoint | None, str | None, list[KeyRecord]] | None = None


def _install_shared(
    events: Sequence[_Item],
    checkpoint: Checkpoint | None,
    asset_identity: str | None,
    history: list[KeyRecord],
) -> None:
    global _shared
    _shared = (events, checkpoint, asset_identity, history)


def _audit_range(start: int, end: int) -> list[tuple[Any, ...]]:
    """A worker's chunk, by position in the events it was given; rows travel back as tuples."""
    assert _shared is not None, "the worker was started without its events"
    events, checkpoint, asset_identity, history = _shared
    rows = _audit_chunk(events[start:end], checkpoint, asset_identity, history)
    return [(r.log_index, r.identity, r.included, r.signature, r.reason) for r in rows]


def _audit_parallel(
    events: Sequence[_Item],
    checkpoint: Checkpoint | None,
    asset_identity: str | None,
    history: list[KeyRecord],
    workers: int,
) -> Iterator[AuditRow]:
    """Rows of ``events`` in order, audited by ``workers`` processes over contiguous chunks.

    The events reach the workers once, when they start: forked, a worker shares the parent's
    copy of the bundle and receives only the bounds of each chunk (pickling every event to a
    worker cost more than auditing it). Where fork is missing, the start method's own way of
    passing the initial arguments applies.
    """
    size = max(1, -(-len(events) // (workers * CHUNKS_PER_WORKER)))
    bounds = [(start, min(start + size, len(events))) for start in range(0, len(events), size)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=min(workers, len(bounds)),
        mp_context=context,
        initializer=_install_shared,
        initargs=(events, checkpoint, asset_identity, history),
    ) as pool:
        starts, ends = zip(*bounds, strict=True)
        for rows in pool.map(_audit_range, starts, ends):
            for row in rows:
                yield AuditRow(*row)


def _device_keys(history: list[KeyRecord]) -> dict[KeyRecord, DeviceKey | KeyRecord]:
    """Each history key parsed once rather than once per event; unusable keys stay records, so
    :func:`check_evidence` gives them the same verdict as before."""
    keys: dict[KeyRecord, DeviceKey | KeyRecord] = {}
    for record in history:
        try:
            keys[record] = record.device_key()
        except CryptoError:
            keys[record] = record
    return keys


def _open(note: Any, log_key: str, report: AuditReport) -> Checkpoint | None:
    if not isinstance(note, str):
        report.checkpoint_reason = "bundle has no checkpoint"
        return None
    try:
        origin = parse_verifier_key(log_key).name
        return open_checkpoint(note, [log_key], origin=origin)
    except NoteError as exc:
        report.checkpoint_reason = str(exc)
        return None


def _check_consistency(
    proof: ConsistencyProof | None,
    log_key: str,
    older_note: str,
    checkpoint: Checkpoint | None,
    report: AuditReport,
) -> None:
    report.consistency_ok = False
    try:
        origin = parse_verifier_key(log_key).name
        older = open_checkpoint(older_note, [log_key], origin=origin)
    except NoteError as exc:
        report.consistency_reason = f"older checkpoint: {exc}"
        return
    if checkpoint is None:
        report.consistency_reason = "no verified checkpoint to compare with"
        return
    hashes: list[bytes] = []
    if older.size not in (0, checkpoint.size):
        if proof is None or proof.first != older.size:
            report.consistency_reason = (
                f"bundle has no consistency proof from size {older.size}: "
                f"fetch it with ?older_size={older.size}"
            )
            return
        hashes = hex_hashes(proof.hashes)
    try:
        merkle.check_consistency(
            older.size, checkpoint.size, older.root_hash, checkpoint.root_hash, hashes
        )
    except merkle.ProofError as exc:
        report.consistency_reason = f"{exc.reason}: {exc}"
        return
    report.consistency_ok = True
    report.consistency_reason = f"size {older.size} is a prefix of size {checkpoint.size}"


def _audit_event(
    item: _Item,
    inclusion: InclusionChecker | None,
    asset_identity: str | None,
    history: list[KeyRecord],
    keys: Mapping[KeyRecord, DeviceKey | KeyRecord],
) -> AuditRow:
    if isinstance(item, UnreadableEvent):
        return AuditRow(None, "?", False, BAD, item.reason)
    entry = item.entry
    try:
        record = orjson.loads(entry)
    except ValueError:
        return AuditRow(None, "?", False, BAD, UNREADABLE_ENTRY)
    if not isinstance(record, dict):
        return AuditRow(None, "?", False, BAD, "entry is not a JSON object")
    identity = str(record.get("identity", "?"))
    index = record.get("log_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return AuditRow(None, identity, False, BAD, "entry has no log_index")
    try:
        canonical = canonical_json(record) == entry
    except CanonicalJSONError:
        canonical = False
    if not canonical:
        return AuditRow(index, identity, False, BAD, "entry is not canonical JSON")
    if asset_identity is not None and record.get("asset_identity") != asset_identity:
        return AuditRow(index, identity, False, BAD, "entry belongs to another asset")
    # 4. Inclusion at the entry's own index, under the verified checkpoint.
    included, why = False, "no verified checkpoint"
    if inclusion is not None:
        try:
            inclusion.check(merkle.leaf_hash(entry), index, item.inclusion_proof)  # type: ignore[arg-type]
            included, why = True, ""
        except merkle.ProofError as exc:
            why = f"inclusion: {exc.reason}"
    # 5. Device signature, with the key in force at that index.
    in_force = key_for_index(history, index)
    key = keys.get(in_force, in_force) if in_force is not None else None
    verdict = check_evidence(record.get("event_attributes"), key)
    reason = "; ".join(part for part in (why, verdict.reason) if part)
    return AuditRow(index, identity, included, verdict.status, reason)
