"""Group commit: concurrent appends share transactions, each caller gets its own answer.

The committer is checked with a gate in its integrate function, so the batches it forms are
known without timing; the service is checked with real threads on both storage engines.
"""

import asyncio
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

import rfc9162
from ledgerlib import Device, evidence, open_core, reopen
from trustee.errors import InvalidRequest, NotFound
from trustee.ledger.commit import GroupCommitter, Pending
from trustee.ledger.models import Event
from trustee.ledger.service import EventRequest

WAIT = 30  # seconds: only a guard against a hang, never a measured duration


def wait_until(condition, what: str) -> None:
    event = threading.Event()
    for _ in range(WAIT * 100):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(f"gave up waiting: {what}")


class Gate:
    """An integrate function that records batches and holds the first one until opened.

    With ``hand_over_early`` it hands leadership on before it waits, as the service does just
    before its commit.
    """

    def __init__(self, *, hand_over_early: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.hand_over_early = hand_over_early

    def __call__(self, batch: Sequence[Pending[int, int]], hand_over) -> None:
        self.batches.append([p.item for p in batch])
        if self.hand_over_early:
            hand_over()
        self.entered.set()
        assert self.opened.wait(WAIT)
        for pending in batch:
            if pending.item < 0:
                pending.refuse(InvalidRequest(f"negative {pending.item}"))
            else:
                pending.settle(pending.prepared * 10)


def answers_behind_a_held_batch(
    committer: GroupCommitter[int, int], gate: Gate, values: Iterable[int]
) -> list[int]:
    """Submit 0 and hold its batch at ``gate`` until ``values`` are all queued behind it, then
    open the gate; the answers, 0's first."""
    values = list(values)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(committer.submit, 0)
        assert gate.entered.wait(WAIT)
        later = [pool.submit(committer.submit, value) for value in values]
        wait_until(lambda: committer.queued() == len(values), f"{len(values)} callers queued")
        gate.opened.set()
        return [future.result(WAIT) for future in [first, *later]]


def test_callers_queued_behind_a_commit_form_the_next_batch() -> None:
    gate = Gate()
    committer: GroupCommitter[int, int] = GroupCommitter(gate)
    results: dict[int, object] = {}

    def call(value: int) -> None:
        try:
            results[value] = committer.submit(value)
        except InvalidRequest as exc:
            results[value] = exc

    with ThreadPoolExecutor(max_workers=8) as pool:
        pool.submit(call, 0)
        assert gate.entered.wait(WAIT)  # the first caller leads a batch of one
        for value in (1, -2, 3, 4, -5, 6):
            pool.submit(call, value)
        wait_until(lambda: committer.queued() == 6, "six callers queued")
        gate.opened.set()
    assert gate.batches[0] == [0]
    assert sorted(gate.batches[1]) == [-5, -2, 1, 3, 4, 6]  # one transaction for all six
    assert len(gate.batches) == 2
    assert {k: v for k, v in results.items() if k >= 0} == {0: 0, 1: 10, 3: 30, 4: 40, 6: 60}
    assert all(isinstance(results[k], InvalidRequest) for k in (-2, -5))  # refused alone
    assert committer.batches == 2 and committer.items == 7


def test_max_batch_splits_the_queue() -> None:
    gate = Gate()
    committer: GroupCommitter[int, int] = GroupCommitter(gate, max_batch=2)
    assert answers_behind_a_held_batch(committer, gate, range(1, 6)) == [0, 10, 20, 30, 40, 50]
    assert [len(b) for b in gate.batches] == [1, 2, 2, 1]


def test_a_failed_preparation_refuses_that_item_alone() -> None:
    integrated: list[list[int]] = []

    def prepare(value: int) -> int:
        if value % 3 == 0:
            raise InvalidRequest(f"{value} is a multiple of three")
        return value

    def integrate(batch: Sequence[Pending[int, int]], _hand_over) -> None:
        integrated.append([p.item for p in batch])
        for pending in batch:
            pending.settle(pending.prepared)

    committer: GroupCommitter[int, int] = GroupCommitter(integrate, prepare=prepare)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {value: pool.submit(committer.submit, value) for value in range(1, 13)}
        for value, future in futures.items():
            if value % 3:
                assert future.result(WAIT) == value
            else:
                with pytest.raises(InvalidRequest, match="multiple of three"):
                    future.result(WAIT)
    assert sorted(v for batch in integrated for v in batch) == [1, 2, 4, 5, 7, 8, 10, 11]


def test_the_next_leader_prepares_while_a_batch_commits() -> None:
    """Leadership passes on before the commit; batches still commit in order."""
    gate = Gate(hand_over_early=True)
    prepared: list[int] = []

    def prepare(value: int) -> int:
        prepared.append(value)
        return value

    committer: GroupCommitter[int, int] = GroupCommitter(gate, prepare=prepare)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(committer.submit, 0)
        assert gate.entered.wait(WAIT)  # batch [0] is committing, and has handed over
        later = [pool.submit(committer.submit, 1)]
        wait_until(lambda: prepared == [0, 1], "the next leader prepared its batch")
        later += [pool.submit(committer.submit, v) for v in (2, 3)]
        wait_until(lambda: committer.queued() == 2, "two more callers queued")
        assert gate.batches == [[0]]  # the prepared batch waits for the commit before it
        gate.opened.set()
        assert [f.result(WAIT) for f in [first, *later]] == [0, 10, 20, 30]
    assert gate.batches[0] == [0] and sorted(v for b in gate.batches[1:] for v in b) == [1, 2, 3]


def test_a_helper_thread_prepares_part_of_a_batch() -> None:
    """Preparation (signature checks, in C without the interpreter lock) runs on two threads:
    two items of one batch are prepared at the same time, each by a different thread."""
    gate = Gate()
    both_preparing = threading.Barrier(2, timeout=WAIT)
    preparers: dict[int, str] = {}

    def prepare(value: int) -> int:
        if value in (1, 2):  # the first two items of the second batch meet here
            both_preparing.wait()
        preparers[value] = threading.current_thread().name
        return value

    committer: GroupCommitter[int, int] = GroupCommitter(gate, prepare=prepare)
    answers = answers_behind_a_held_batch(committer, gate, range(1, 7))
    assert answers == [0, 10, 20, 30, 40, 50, 60]
    assert sorted(gate.batches[1]) == [1, 2, 3, 4, 5, 6]
    assert preparers[1] != preparers[2]
    committer.close()


def test_a_failing_transaction_fails_its_batch_only() -> None:
    calls = []

    def integrate(batch: Sequence[Pending[int, int]], _hand_over) -> None:
        calls.append([p.item for p in batch])
        if len(calls) == 1:
            raise OSError("disk full")
        for pending in batch:
            pending.settle(pending.item)

    committer: GroupCommitter[int, int] = GroupCommitter(integrate)
    with pytest.raises(OSError, match="disk full"):
        committer.submit(1)
    assert committer.submit(2) == 2  # the next batch has a leader again


def test_an_unsettled_item_is_an_error_not_a_silent_none() -> None:
    committer: GroupCommitter[int, int] = GroupCommitter(lambda batch, hand_over: None)
    with pytest.raises(RuntimeError, match="without settling"):
        committer.submit(1)


# --- callers on an event loop ---------------------------------------------------------------


def test_awaiting_callers_share_batches_with_threads_and_get_their_own_answers() -> None:
    """Awaiting callers queue behind a thread's batch, and the first of them leads the next
    batch; the loop is never blocked: it keeps queueing while a batch is in its transaction."""
    gate = Gate()
    committer: GroupCommitter[int, int] = GroupCommitter(gate)

    async def scenario(pool: ThreadPoolExecutor) -> tuple[list[object], object]:
        threaded = pool.submit(committer.submit, 0)  # a thread leads the first batch
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        awaited = [asyncio.ensure_future(committer.submit_async(v)) for v in (1, -2, 3)]
        while committer.queued() < 3:  # the loop runs: the three are queued, none answered
            await asyncio.sleep(0.01)
        assert not any(task.done() for task in awaited)
        gate.opened.set()
        answers = await asyncio.gather(*awaited, return_exceptions=True)
        return answers, await asyncio.wrap_future(threaded)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers, first = asyncio.run(asyncio.wait_for(scenario(pool), WAIT))
    assert first == 0
    assert answers[0] == 10 and answers[2] == 30
    assert isinstance(answers[1], InvalidRequest)  # refused alone
    assert gate.batches == [[0], [1, -2, 3]]
    committer.close()


def test_a_batch_led_for_a_cancelled_caller_still_commits() -> None:
    """Callers queue behind whoever leads; the batch a cancelled coroutine led runs anyway."""
    gate = Gate()
    committer: GroupCommitter[int, int] = GroupCommitter(gate)

    async def scenario() -> list[int]:
        leader = asyncio.ensure_future(committer.submit_async(1))
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        behind = [asyncio.ensure_future(committer.submit_async(v)) for v in (2, 3)]
        while committer.queued() < 2:
            await asyncio.sleep(0.01)
        leader.cancel()
        gate.opened.set()
        return list(await asyncio.gather(*behind))

    assert asyncio.run(asyncio.wait_for(scenario(), WAIT)) == [20, 30]
    assert gate.batches == [[1], [2, 3]]
    committer.close()


# --- the service under concurrent callers -----------------------------------------------------


def test_concurrent_posts_get_consecutive_indexes_and_are_durable(storage_url: str) -> None:
    core, share = open_core(storage_url)
    service = core.ledger
    device, stranger = Device("ES256K"), Device("ES256K")
    strict = service.create_asset({"n": "strict"}, device.device_key, require_signature=True)
    lenient = service.create_asset({"n": "lenient"}, device.device_key)
    clients, per_client = 12, 15

    def client(number: int) -> list[object]:
        outcomes: list[object] = []
        for i in range(per_client):
            text = f'{{"client": {number}, "i": {i}}}'
            # Every third event on the strict asset is signed by a stranger: refused alone.
            signer = stranger if i % 3 == 2 else device
            asset = strict if number % 2 else lenient
            request = EventRequest(
                asset.uuid,
                event_attributes=evidence(signer, text),
                principal_accepted={"display_name": f"client {number}"},
            )
            try:
                outcomes.append(service.post_event(request))
            except InvalidRequest as exc:
                outcomes.append(exc)
        return outcomes

    with ThreadPoolExecutor(max_workers=clients) as pool:
        answers = [o for outcomes in pool.map(client, range(clients)) for o in outcomes]
    accepted = [a for a in answers if isinstance(a, Event)]
    refused = [a for a in answers if isinstance(a, InvalidRequest)]
    assert len(refused) == (clients // 2) * (per_client // 3)
    assert all("requires a good device signature" in str(r) for r in refused)
    # Lenient: the stranger's events are kept and verify BAD; nothing is lost.
    assert len(accepted) == clients * per_client - len(refused)
    indexes = sorted(record.log_index for record in accepted)
    assert indexes == list(range(len(accepted)))
    size, root = service.state()
    entries = service.entries(0, size)
    assert size == len(accepted) and rfc9162.Tree(entries).root(size) == root
    counts = service.verify_asset(lenient.uuid).counts
    assert counts["GOOD"] == (clients // 2) * (per_client - per_client // 3)
    assert counts["BAD"] == (clients // 2) * (per_client // 3)
    assert service.verify_asset(strict.uuid).counts["BAD"] == 0
    core.close()

    # Every acknowledged event is there after a restart, byte for byte.
    core, service = reopen(storage_url, share)
    try:
        assert service.state() == (size, root)
        for record in accepted[:: max(1, len(accepted) // 20)]:
            event = record.uuid
            assert service.read_event(event) == record
    finally:
        core.close()


def test_refusals_before_the_transaction_write_nothing(storage_url: str) -> None:
    core, _ = open_core(storage_url)
    try:
        service = core.ledger
        with pytest.raises(NotFound):
            service.post_event(EventRequest("no-such-asset"))
        asset = service.create_asset({}).uuid
        with pytest.raises(InvalidRequest):
            service.post_event(EventRequest(asset, operation="x" * 300))
        with pytest.raises(InvalidRequest):
            service.post_event(EventRequest(asset, event_attributes={"n": 2**60}))
        assert service.state()[0] == 0
        assert service.post_event(EventRequest(asset)).log_index == 0
    finally:
        core.close()


def test_rotation_between_prepare_and_commit_is_seen(storage_url: str) -> None:
    """An event signed for the old key, appended after a rotation, is judged by the new key."""
    core, _ = open_core(storage_url)
    try:
        service = core.ledger
        old, new = Device("EdDSA"), Device("EdDSA")
        asset = service.create_asset({}, old.device_key, require_signature=True).uuid
        stale = service.appender.prepare(EventRequest(asset, event_attributes=evidence(old)))
        assert stale.verdict.good  # against the key the caller saw
        other = core.ledger.__class__(core.db, core.barrier)  # a second process, in effect
        other.rotate_key(asset, new.device_key)
        with core.db.begin() as conn:
            [outcome] = service.appender.append(conn, [stale], atomic=False)
        assert isinstance(outcome, InvalidRequest)
        assert service.state()[0] == 0
    finally:
        core.close()


def test_two_services_on_one_database_share_one_log(storage_url: str) -> None:
    """Two replicas (separate engines and committers) appending at once: one log, no gaps."""
    first, share = open_core(storage_url)
    second_core, second = reopen(storage_url, share)
    try:
        services = [first.ledger, second]
        device = Device("EdDSA")
        asset = first.ledger.create_asset({}, device.device_key).uuid

        def client(number: int) -> list[int]:
            service = services[number % 2]
            return [
                service.post_event(
                    EventRequest(asset, event_attributes=evidence(device, f"{number}/{i}"))
                ).log_index
                for i in range(12)
            ]

        with ThreadPoolExecutor(max_workers=8) as pool:
            indexes = sorted(i for chunk in pool.map(client, range(8)) for i in chunk)
        assert indexes == list(range(96))
        size, root = first.ledger.state()
        entries = second.entries(0, size)
        assert (size, root) == (96, rfc9162.Tree(entries).root(96))
        assert second.checkpoint()["root_hash"] == root.hex()
        assert first.ledger.verify_asset(asset).counts["GOOD"] == 96
    finally:
        second_core.close()
        first.close()
