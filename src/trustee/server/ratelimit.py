"""Per-client token buckets in front of the two routes worth guessing at.

``sys/unseal`` takes shares from anyone (a sealed server has no tokens to check), and every
wrong share resets the operators' progress; ``auth/trustee/login`` costs a signature recovery
per attempt and is where a stolen or replayed JWT would be tried. Each client IP gets a bucket
per rule: ``burst`` requests at once, refilled at ``per_second``; an empty bucket answers 429
with ``Retry-After``. The client is the TCP peer: ``X-Forwarded-For`` is not trusted, because
any client can write it; behind a proxy, limit at the proxy.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Scope

from trustee.server.envelope import error_response


@dataclass(frozen=True)
class Rule:
    """``burst`` requests at once, then ``per_second`` on average, per client."""

    burst: float
    per_second: float


DEFAULT_RULES: dict[str, Rule] = {
    "/v1/sys/unseal": Rule(burst=10, per_second=1),
    "/v1/auth/trustee/login": Rule(burst=30, per_second=10),
}
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
    """The buckets of every rule, by path: whether a request may pass, and the 429 if not."""

    def __init__(
        self,
        rules: dict[str, Rule] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.buckets = {
            path: TokenBuckets(rule, clock=clock)
            for path, rule in (DEFAULT_RULES if rules is None else rules).items()
        }

    def refusal(self, scope: Scope) -> Response | None:
        """None when the request may pass (other paths always may); else the 429 to send."""
        if scope["method"] not in _LIMITED_METHODS:
            return None
        buckets = self.buckets.get(scope["path"].rstrip("/"))
        if buckets is None:
            return None
        client = scope.get("client")
        wait = buckets.take(client[0] if client else "unknown")
        if not wait:
            return None
        retry_after = max(1, math.ceil(wait))
        response = error_response(429, f"too many requests: retry after {retry_after} s")
        response.headers["Retry-After"] = str(retry_after)
        return response
