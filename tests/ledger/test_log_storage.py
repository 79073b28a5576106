"""The log as stored in SQLite, checked against an independent RFC 9162 reference (rfc9162.py).

Every size up to 64 (every index, every pair of sizes) through the service's own queries, and
a 10⁵-leaf log at random sizes through the storage layer. Proofs must read a handful of rows by
index, never scan the node table.
"""

import math
import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import rfc9162
from ledgerlib import open_core
from trustee.ledger.log import TransparencyLog
from trustee.ledger.service import EventRequest, LedgerService

SMALL = 64


def unhex(hashes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    """A 64-event log built in uneven batches, and the reference over its exact entries."""
    core, _ = open_core(tmp_path_factory.mktemp("small"))
    service = core.ledger
    asset = service.create_asset({"name": "meter"}).uuid
    done, step = 0, 1
    while done < SMALL:
        count = min(step, SMALL - done)
        requests = [
            EventRequest(asset, event_attributes={"reading": str(done + i)}) for i in range(count)
        ]
        if count == 1:
            service.post_event(requests[0])
        else:
            service.post_events(requests)
        done, step = done + count, step % 5 + 1
    entries = service.entries(0, SMALL)
    yield service, rfc9162.Tree(entries)
    core.close()


def test_roots_every_size(small) -> None:
    service, ref = small
    assert service.checkpoint()["root_hash"] == ref.root(SMALL).hex()
    for n in range(SMALL + 1):
        answer = service.consistency_proof(n, SMALL)
        assert answer["first_root_hash"] == ref.root(n).hex(), n


def test_inclusion_every_index_every_size(small) -> None:
    service, ref = small
    for n in range(1, SMALL + 1):
        root = ref.root(n)
        for m in range(n):
            answer = service.inclusion_proof(m, n)
            proof = unhex(answer["hashes"])
            assert proof == ref.path(m, n), (m, n)
            assert answer["root_hash"] == root.hex()
            assert rfc9162.verify_inclusion(m, n, rfc9162.leaf(ref.entries[m]), proof, root)


def test_consistency_every_pair(small) -> None:
    service, ref = small
    for n in range(2, SMALL + 1):
        for m in range(1, n):
            proof = unhex(service.consistency_proof(m, n)["hashes"])
            assert proof == ref.proof(m, n), (m, n)
            assert rfc9162.verify_consistency(m, n, ref.root(m), ref.root(n), proof)
    assert service.consistency_proof(0, SMALL)["hashes"] == []
    assert service.consistency_proof(SMALL, SMALL)["hashes"] == []


# --- 10⁵ leaves through the storage layer ---------------------------------------------------

BIG = 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory):
    """10⁵ leaves appended to the stored tree in uneven batches (no event rows: the log alone)."""
    core, _ = open_core(tmp_path_factory.mktemp("big"))
    log: TransparencyLog = core.ledger.log
    log.ensure_state()
    entries = [f"leaf {i}".encode() for i in range(BIG)]
    rng = random.Random(9162)
    done = 0
    while done < BIG:
        count = min(rng.randrange(1, 20_000), BIG - done)
        with core.db.begin() as conn:
            state = log.lock(conn)
            log.append(conn, state, [rfc9162.leaf(e) for e in entries[done : done + count]], 0.0)
        done += count
    yield core, log, rfc9162.Tree(entries)
    core.close()


def test_random_sizes_up_to_100k(big) -> None:
    _, log, ref = big
    assert log.state() == (BIG, ref.root(BIG))
    rng = random.Random(6962)
    sizes = {BIG, 2**16, 2**16 - 1, 2**16 + 1, *(rng.randrange(2, BIG) for _ in range(20))}
    for n in sorted(sizes):
        root = ref.root(n)
        for m in {0, n - 1, *(rng.randrange(n) for _ in range(5))}:
            answer = log.inclusion_proof(m, n)
            proof = unhex(answer["hashes"])
            assert proof == ref.path(m, n)
            assert answer["root_hash"] == root.hex()
            assert rfc9162.verify_inclusion(m, n, rfc9162.leaf(ref.entries[m]), proof, root)
        for m in {1, n - 1, *(rng.randrange(1, n) for _ in range(5))}:
            answer = log.consistency_proof(m, n)
            proof = unhex(answer["hashes"])
            assert proof == ref.proof(m, n)
            assert answer["first_root_hash"] == ref.root(m).hex()
            assert rfc9162.verify_consistency(m, n, ref.root(m), root, proof)


def test_a_proof_is_a_few_indexed_reads(big) -> None:
    core, log, _ = big
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        statements.append((statement, parameters))

    sa.event.listen(core.db.engine, "before_cursor_execute", record)
    try:
        log.inclusion_proof(BIG // 3, BIG)
    finally:
        sa.event.remove(core.db.engine, "before_cursor_execute", record)
    node_queries = [(s, p) for s, p in statements if "ledger_log_nodes" in s]
    assert len(node_queries) == 1
    statement, parameters = node_queries[0]
    # Fewer than 2·log2(n) nodes, each looked up by primary key, never a scan of the table.
    assert len(parameters) // 2 < 2 * math.log2(BIG)
    with core.db.connect() as conn:
        plan = [
            row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        ]
    assert not any(step.startswith("SCAN ledger_log_nodes") for step in plan), plan
    assert any("USING" in step and "ledger_log_nodes" in step for step in plan), plan


# --- property: any batching, any interleaving of sizes ----------------------------------------


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_property_batches_give_the_reference_tree(tmp_path_factory, batches) -> None:
    folder: Path = tmp_path_factory.mktemp("prop")
    core, _ = open_core(folder)
    try:
        service: LedgerService = core.ledger
        asset = service.create_asset({}).uuid
        for number, count in enumerate(batches):
            service.post_events(
                [EventRequest(asset, event_attributes={"b": str(number)}) for _ in range(count)]
            )
        total = sum(batches)
        ref = rfc9162.Tree(service.entries(0, total))
        assert service.state() == (total, ref.root(total))
        index = (total * 7) // 11
        proof = unhex(service.inclusion_proof(index, total)["hashes"])
        assert rfc9162.verify_inclusion(
            index, total, rfc9162.leaf(ref.entries[index]), proof, ref.root(total)
        )
        for first in {1, batches[0], total - 1} - {0, total}:
            proof = unhex(service.consistency_proof(first, total)["hashes"])
            assert rfc9162.verify_consistency(first, total, ref.root(first), ref.root(total), proof)
    finally:
        core.close()
