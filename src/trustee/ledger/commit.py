"""Group commit: many callers, one durable transaction per batch (no I/O of its own).

A durable append costs one fsync; the fsync, not the work, bounds a log that commits each
event alone. Callers therefore queue their items; whoever finds no batch forming becomes the
*leader*: it takes everything queued (up to ``max_batch``), prepares each item (checks,
serialisation, signature verification), and integrates the batch in one transaction; then it
wakes every caller of the batch.

One thread leads a batch, so any number of callers cost no fight for the interpreter lock:
the others sleep until their answer is ready. A helper thread takes part in the preparation,
which is mostly C that releases the lock (signature checks): two cores work on one batch.
Just before the commit (the fsync, during which Python code can run) the leader hands
leadership to the first caller queued behind it, who prepares the next batch meanwhile and
commits after it. Under light load a batch is one item and costs what a plain commit costs;
under load batches grow by themselves.

Each item is settled on its own: an item whose preparation fails is refused with that error
before the transaction, and the integrate function settles each item it is given
(:meth:`Pending.settle` or :meth:`Pending.refuse`), so one refused item never fails the
others. An exception escaping the integrate function (the database is down, the transaction
failed) fails every item it left unsettled: none of them was committed.

Callers on an event loop use :meth:`GroupCommitter.submit_async`: they await their outcome
instead of blocking a thread, and a batch they lead runs on a small pool of the committer's own
threads. A server then needs no thread per waiting request, and no crowd of woken threads
fights the loop for the interpreter lock after each commit: a batch's awaiting callers are
answered by one callback on their loop.

Ordering across processes is not this module's concern: the transaction it runs locks the log
state, so several processes each running a committer still append one batch at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommitter", "Pending"]

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_BATCH = 1000
_SHARED_PREPARATION = 4  # items in a batch from which a helper thread prepares some


class Pending(Generic[T, R]):
    """One caller's item, prepared form, and how it ended: a result or an error."""

    __slots__ = ("_error", "_lead", "_result", "_settled", "item", "prepared")

    def __init__(self, item: T) -> None:
        self.item = item
        self.prepared: Any = None
        self._lead = False
        self._settled = False
        self._result: R | None = None
        self._error: BaseException | None = None

    @property
    def settled(self) -> bool:
        return self._settled

    def settle(self, result: R) -> None:
        """The item was committed; ``result`` is what its caller receives."""
        self._result, self._settled = result, True

    def refuse(self, error: BaseException) -> None:
        """The item was not written; its caller receives ``error``."""
        self._error, self._settled = error, True

    def _wake(self) -> None:
        """Tell the caller its outcome is ready, or (``_lead`` set) that it leads a batch."""
        raise NotImplementedError

    def outcome(self) -> R:
        if not self._settled:
            raise RuntimeError("the batch ended without settling this item")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


class _BlockingPending(Pending[T, R]):
    """An item whose caller's thread sleeps until it is woken."""

    __slots__ = ("_signal",)

    def __init__(self, item: T) -> None:
        super().__init__(item)
        # A lock taken now and released once by whoever wakes this caller: the cheapest
        # one-shot signal (an Event is a Condition, a lock and a list on top of it).
        self._signal = threading.Lock()
        self._signal.acquire()

    def _wait(self) -> None:
        self._signal.acquire()

    def _wake(self) -> None:
        self._signal.release()


class _AwaitedPending(Pending[T, R]):
    """An item whose caller awaits it on an event loop; waking resolves the caller's future.

    Told to lead, it runs the batch on the committer's threads itself, so a batch goes ahead
    even when its caller's coroutine was cancelled meanwhile (every item behind it waits on it).
    """

    __slots__ = ("_done", "_loop", "_run")

    def __init__(
        self,
        item: T,
        loop: asyncio.AbstractEventLoop,
        run: Callable[[Pending[T, R]], None],
    ) -> None:
        super().__init__(item)
        self._loop = loop
        self._done: asyncio.Future[None] = loop.create_future()
        self._run = run

    def _wake(self) -> None:
        if self._lead:
            self._run(self)
        else:
            self._loop.call_soon_threadsafe(_resolve, (self._done,))

    async def wait(self) -> R:
        # A cancelled wait cancels ``_done`` alone: the item stays queued and its batch runs.
        await self._done
        return self.outcome()


def _resolve(futures: Sequence[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def _wake_callers(pendings: Sequence[Pending[Any, Any]]) -> None:
    """Wake the callers of a settled batch: one call into each event loop, not one per item.

    Every ``call_soon_threadsafe`` writes to the loop's wake-up pipe and schedules a callback;
    a batch of awaiting callers shares one.
    """
    futures: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for pending in pendings:
        if isinstance(pending, _AwaitedPending) and not pending._lead:
            futures.setdefault(pending._loop, []).append(pending._done)
        else:
            pending._wake()
    for loop, waiting in futures.items():
        loop.call_soon_threadsafe(_resolve, waiting)


def _as_is(item: Any) -> Any:
    return item


class GroupCommitter(Generic[T, R]):
    """Batches concurrent :meth:`submit` calls into calls of ``integrate``; thread-safe.

    ``prepare(item)`` runs for each item before its batch's transaction (its result is
    ``Pending.prepared``; an exception refuses that item alone). ``integrate(batch, hand_over)``
    runs the transaction for the items that prepared well, and calls ``hand_over()`` just
    before it commits, so the next leader prepares its batch during the fsync.
    """

    def __init__(
        self,
        integrate: Callable[[Sequence[Pending[T, R]], Callable[[], None]], None],
        *,
        prepare: Callable[[T], Any] = _as_is,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._integrate = integrate
        self._prepare = prepare
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._commit = threading.Lock()
        self._queue: list[Pending[T, R]] = []
        self._busy = False  # a leader is forming a batch; invariant: queue non-empty ⇒ busy
        # Threads for batches led by awaiting callers: one commits while the next prepares.
        self._leaders: ThreadPoolExecutor | None = None
        self._helpers: ThreadPoolExecutor | None = ThreadPoolExecutor(
            1, thread_name_prefix="group-commit-prepare"
        )
        self.batches = 0
        self.items = 0

    def submit(self, item: T) -> R:
        """Queue ``item``, wait until its batch has committed, return its result or raise."""
        pending: _BlockingPending[T, R] = _BlockingPending(item)
        with self._lock:
            self._queue.append(pending)
            lead = not self._busy
            self._busy = True
        if not lead:
            pending._wait()  # woken once: with an outcome, or to lead the next batch
            lead = pending._lead
        if lead:
            self._run_batch(pending)
        return pending.outcome()

    async def submit_async(self, item: T) -> R:
        """:meth:`submit` for a caller on an event loop: it awaits, no thread waits for it."""
        pending: _AwaitedPending[T, R] = _AwaitedPending(
            item, asyncio.get_running_loop(), self._lead_on_thread
        )
        with self._lock:
            self._queue.append(pending)
            lead = not self._busy
            self._busy = True
        if lead:
            self._lead_on_thread(pending)
        return await pending.wait()

    def _lead_on_thread(self, pending: _AwaitedPending[T, R]) -> None:
        """Run the batch ``pending`` leads on a committer thread, then answer its caller."""
        with self._lock:
            if self._leaders is None:
                self._leaders = ThreadPoolExecutor(4, thread_name_prefix="group-commit")
            leaders = self._leaders

        def lead() -> None:
            try:
                self._run_batch(pending)
            finally:
                pending._loop.call_soon_threadsafe(_resolve, (pending._done,))

        leaders.submit(lead)

    def close(self) -> None:
        """Let the committer's threads end once their batches are done."""
        with self._lock:
            leaders, self._leaders = self._leaders, None
            helpers, self._helpers = self._helpers, None
        if leaders is not None:
            leaders.shutdown(wait=True)
        if helpers is not None:
            helpers.shutdown(wait=True)

    def queued(self) -> int:
        """Items waiting for a leader (not those of batches being prepared or committed)."""
        with self._lock:
            return len(self._queue)

    def _run_batch(self, leader: Pending[T, R]) -> None:
        """Prepare and integrate the front of the queue (``leader`` is in it); wake its callers."""
        with self._lock:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        handed = False

        def hand_over() -> None:
            nonlocal handed
            if not handed:
                handed = True
                self._hand_over()

        try:
            # 1. Prepare, item by item, before any lock is taken.
            self._prepare_batch(batch)
            ready = [pending for pending in batch if not pending.settled]
            # 2. Commit in arrival order; the next leader prepares meanwhile.
            with self._commit:
                if ready:
                    self._integrate_batch(ready, hand_over)
        finally:
            hand_over()
            for pending in batch:
                if not pending.settled:
                    pending.refuse(RuntimeError("the batch ended without settling this item"))
            with self._lock:
                self.batches += 1
                self.items += len(batch)
            _wake_callers([pending for pending in batch if pending is not leader])

    def _prepare_batch(self, batch: list[Pending[T, R]]) -> None:
        """Prepare every item, a helper thread taking items from the same queue.

        Preparation is mostly C that releases the interpreter lock (signature checks), so two
        threads keep two cores busy. Items go to whichever thread asks next; a helper that has
        not started by the time the leader ran out of items is cancelled, not waited for.
        """
        items = iter(batch)  # shared: CPython hands each item out once

        def work() -> None:
            for pending in items:
                try:
                    pending.prepared = self._prepare(pending.item)
                except Exception as exc:  # handed to that item's caller only
                    pending.refuse(exc)

        helper = None
        if len(batch) >= _SHARED_PREPARATION and self._helpers is not None:
            helper = self._helpers.submit(work)
        work()
        if helper is not None and not helper.cancel():
            helper.result()

    def _hand_over(self) -> None:
        """Make the first queued caller the next leader, or mark that none is needed."""
        with self._lock:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._busy = False
            else:
                successor._lead = True
        if successor is not None:
            successor._wake()

    def _integrate_batch(self, ready: list[Pending[T, R]], hand_over: Callable[[], None]) -> None:
        try:
            self._integrate(ready, hand_over)
        except BaseException as exc:
            for pending in ready:
                if not pending.settled:
                    pending.refuse(exc)
            if not isinstance(exc, Exception):
                raise
