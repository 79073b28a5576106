"""Log lines that cannot become a storm: at most one per period, with a count of the rest.

An outage (storage down, descriptors exhausted) makes every request fail the same way; a line
per request would bury the first useful one and fill the disk.
"""

import time
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """At most one report per ``seconds``; counts the events it held back in between."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.held = 0
        self.last: float | None = None

    def due(self) -> int | None:
        """Record one event; the number of events to report (this one included) if a report
        is due now, else None."""
        self.held += 1
        now = self.clock()
        if self.last is not None and now - self.last < self.seconds:
            return None
        count, self.held, self.last = self.held, 0, now
        return count
