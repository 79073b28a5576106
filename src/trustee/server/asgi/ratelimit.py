"""Per-client token buckets in front of the routes worth guessing at (each face names its own).

Each client IP gets a bucket per rule: ``burst`` requests at once, refilled at
``per_second``; an empty bucket means a 429 with ``Retry-After``, which the request's face
renders. The client is the TCP peer: ``X-Forwarded-For`` is not trusted, because any client
can write it; behind a proxy, limit at the proxy.
"""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.types import Scope


@dataclass(frozen=True)
class Rule:
    """``burst`` requests at once, then ``per_second`` on average, per client."""

    burst: float
    per_second: float


MAX_CLIENTS = 10_000
"""Buckets kept per rule; past this, full buckets are dropped (they hold no information)."""

_LIMITED_METHODS = frozenset({"POST", "PUT"})


class TokenBuckets:
    """The buckets of one rule, keyed by client. ``clock`` is a parameter so tests need no sleep."""

    def __init__(
        self,
        rule: Rule,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.rule = rule
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str) -> float:
        """Spend one of ``client``'s tokens: 0 when allowed, else seconds until one refills."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (self.rule.burst, now))
        tokens = min(self.rule.burst, tokens + (now - at) * self.rule.per_second)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rule.per_second
        if client not in self._buckets and len(self._buckets) >= self._max_clients:
            self._forget_full(now)
        self._buckets[client] = (tokens - 1, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        rule = self.rule
        self._buckets = {
            client: (tokens, at)
            for client, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * rule.per_second < rule.burst
        }
        if len(self._buckets) >= self._max_clients:
            # Every tracked client is mid-burst: an attack from many addresses. Forgetting them
            # all lets each try ``burst`` more times; keeping them would grow without bound.
            self._buckets.clear()


class RateLimits:
    """The buckets of every rule, by full path: whether a request may pass."""

    def __init__(
        self, rules: Mapping[str, Rule], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.buckets = {path: TokenBuckets(rule, clock=clock) for path, rule in rules.items()}

    def retry_after(self, scope: Scope) -> int:
        """0 when the request may pass (other paths always may); else whole seconds to wait."""
        if scope["method"] not in _LIMITED_METHODS:
            return 0
        buckets = self.buckets.get(scope["path"].rstrip("/"))
        if buckets is None:
            return 0
        client = scope.get("client")
        wait = buckets.take(client[0] if client else "unknown")
        return max(1, math.ceil(wait)) if wait else 0
