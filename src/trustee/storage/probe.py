"""Whether the database answers, asked cheaply enough for a load balancer to ask often.

A balancer probes every replica every few seconds, and an orchestrator may too; during an
outage each probe would wait on a connection. So one probe runs at a time, in a thread of its
own, for at most ``timeout`` seconds, and its answer is kept for ``ttl`` seconds: a burst of
health checks costs one round trip, and a hung database costs a health check ``timeout``, not
a worker thread for ever.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from trustee.errors import StorageUnavailable
from trustee.storage.database import Database

__all__ = ["StorageProbe"]

TTL_SECONDS = 1.0
TIMEOUT_SECONDS = 2.0


class StorageProbe:
    def __init__(
        self,
        db: Database,
        *,
        ttl: float = TTL_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._answer: tuple[float, bool] | None = None  # (when, answers)
        self._running: Future[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storage-probe")

    def answers(self) -> bool:
        """True when the database answered a round trip within the last ``ttl`` seconds."""
        with self._lock:
            now = self._clock()
            if self._answer is not None and now - self._answer[0] < self._ttl:
                return self._answer[1]
            running = self._running
            if running is None:
                running = self._running = self._executor.submit(self._db.ping)
        try:
            running.result(timeout=self._timeout)
            answered = True
        except (StorageUnavailable, FutureTimeout):
            answered = False
        with self._lock:
            self._answer = (self._clock(), answered)
            if running.done() and self._running is running:
                self._running = None
        return answered

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
