"""A small HTTP/1.1 load generator, used by the HTTP figures when ``wrk`` is not installed.

It runs in its own process (``python -m bench.loadgen < load.json``) so its work never shares
an event loop or interpreter lock with a server. Each connection sends one prepared request at
a time over keep-alive and reads the answer by its ``Content-Length``: raw asyncio streams
rather than an HTTP client library, so that the generator stays cheaper than the servers it
measures. It prints one JSON object with the same fields as the ``wrk`` script of
:mod:`bench.http`.
"""

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit


def build_request(url: str, method: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    lines = [
        f"{method} {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _connection(
    host: str, port: int, request: bytes, stop_at: float, latencies: list[float]
) -> int:
    """Send ``request`` until ``stop_at``; append each latency; return the non-2xx count."""
    reader, writer = await asyncio.open_connection(host, port)
    failures = 0
    try:
        while (started := time.perf_counter()) < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            failures += not 200 <= status < 300
    finally:
        writer.close()
    return failures


async def run_load(
    url: str, method: str, body: bytes, headers: dict[str, str], connections: int, seconds: float
) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = build_request(url, method, body, headers)
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + seconds
    outcomes = await asyncio.gather(
        *(_connection(host, port, request, stop_at, latencies) for _ in range(connections)),
        return_exceptions=True,
    )
    return summary(latencies, outcomes, time.perf_counter() - started)


def summary(latencies: list[float], outcomes: list[Any], elapsed: float) -> dict[str, float]:
    """A run's figures from its answers' latencies and its connections' outcomes (the count
    of non-2xx answers each, or the exception that ended it)."""
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] if latencies else 0

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "non2xx": sum(o for o in outcomes if isinstance(o, int)),
        "socket_errors": sum(1 for o in outcomes if isinstance(o, BaseException)),
        "p50_ms": percentile(50) * 1000,
        "p99_ms": percentile(99) * 1000,
    }


def main() -> int:
    """Read the load as JSON on stdin (headers may hold a server token: never on argv)."""
    spec = json.load(sys.stdin)
    result = asyncio.run(
        run_load(
            spec["url"],
            spec.get("method", "GET"),
            spec.get("body", "").encode(),
            spec.get("headers", {}),
            spec.get("connections", 16),
            spec.get("seconds", 3.0),
        )
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
