"""Bounded connections: how long a client may take, how many it may hold, what running out logs.

uvicorn bounds none of this by itself: its keep-alive timer starts only after a first response,
so a connection that never sends a byte is kept for ever, and once a byte arrives nothing bounds
how long the rest of the request head may take. :class:`BoundedH11Protocol` adds both timers
and a cap on open connections; :func:`connection_cap` fits the cap to the process's descriptor
limit; :class:`DescriptorStormFilter` turns asyncio's per-attempt tracebacks when ``accept()``
runs out of descriptors into one line now and then.

The figures, per server process:

- a request head must be complete within :data:`HEAD_TIMEOUT_SECONDS` of the connection's
  opening or of the previous response, else the connection is closed without an answer;
- a connection with no request in progress is closed after :data:`KEEP_ALIVE_SECONDS` of
  silence, the first request included;
- request bodies and responses are never cut by these timers: once the head is in, the
  request is the application's (bodies are capped at 1 MiB by the gate);
- at most :func:`connection_cap` connections are open; past it a new connection is answered
  ``503`` and closed at once, before it is read, so the cap also bounds descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import resource

from uvicorn.protocols.http.h11_impl import H11Protocol

from trustee.server.asgi import keepalive
from trustee.throttle import Throttle

HEAD_TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_SECONDS = keepalive.KEEP_ALIVE_SECONDS
MAX_CONNECTIONS = 1000
"""The cap when descriptors allow it: far above the benchmark's 64 connections and any single
client's needs, far below what one process can serve before latency suffers."""
BACKLOG = 256
"""The listen queue. asyncio also accepts up to this many connections per turn of the loop
before any of them is looked at, so it is also the burst of descriptors the cap must leave
room for."""
RESERVED_DESCRIPTORS = BACKLOG + 64
"""Descriptors kept out of the cap: one accept burst, plus the database, the audit file, the
logs and the interpreter's own."""
LOG_EVERY_SECONDS = 10.0

_OVER_CAP_BODY = b'{"errors":["too many connections"]}\n'
_OVER_CAP_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n"
    b"\r\n%s" % (len(_OVER_CAP_BODY), _OVER_CAP_BODY)
)

logger = logging.getLogger("uvicorn.error")


def connection_cap() -> int:
    """The most connections one process keeps open, raising its soft descriptor limit if needed.

    Each connection holds a descriptor, and a process out of descriptors can accept no one,
    not even after its idle connections time out, until some close. So the cap stays
    :data:`RESERVED_DESCRIPTORS` below the soft ``RLIMIT_NOFILE``. A soft limit too low for
    :data:`MAX_CONNECTIONS` (1024 is common) is raised towards the hard limit, as far as the
    cap needs and no further; if the hard limit is lower, the cap shrinks to fit (and is at
    least a quarter of the limit, so a tiny limit still serves someone).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass  # keep the limit the process was given; the cap fits it below
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return min(MAX_CONNECTIONS, max(soft - RESERVED_DESCRIPTORS, soft // 4))


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head and a connection cap.

    The head timer runs from the connection's opening and from each complete response, and is
    ignored (not cancelled: cheaper) while a request is being served, so a slow upload or a
    long streaming response is never cut. uvicorn's own keep-alive timer, which starts only
    after a response, is also started on a fresh connection, so one that never speaks is
    closed as an idle one would be. WebSocket upgrades are not served (``ws="none"``): the
    head timer would otherwise close a transport that no longer belongs to this protocol.
    """

    _over_cap = Throttle(LOG_EVERY_SECONDS)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cap = self.limit_concurrency
        if cap is not None and len(self.connections) > cap:
            transport.write(_OVER_CAP_ANSWER)
            transport.close()
            count = self._over_cap.due()
            if count is not None:
                logger.warning(
                    "connection cap of %d reached: new connections are answered 503 "
                    "(count %d since the last such line)",
                    cap,
                    count,
                )
            return
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        self._start_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
        self.head_timer = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self.head_timer = None
        awaiting_head = self.cycle is None or self.cycle.response_complete
        if awaiting_head and not self.transport.is_closing():
            self.transport.close()


class DescriptorStormFilter(logging.Filter):
    """Makes asyncio's "accept() out of system resource" one line per :data:`LOG_EVERY_SECONDS`.

    When ``accept()`` fails for want of descriptors, asyncio logs a traceback and, in the same
    turn, retries up to the listen backlog's number of times, logging each: thousands of
    tracebacks a second while the descriptors stay taken. asyncio already pauses accepting for
    a second after such a failure, so the server recovers as soon as descriptors free up; all
    that is missing is a log an operator can read. Other records pass untouched.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.throttle = Throttle(LOG_EVERY_SECONDS)

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("socket.accept() out of system resource"):
            return True
        count = self.throttle.due()
        if count is None:
            return False
        error = record.exc_info[1] if record.exc_info else None
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "error"
        record.msg = (
            "accept() failed: %s (count %d since the last such line); "
            "new connections wait until some close"
        )
        record.args = (reason, count)
        record.exc_info = None
        record.exc_text = None
        return True
