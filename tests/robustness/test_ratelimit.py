"""Token buckets per client for sys/unseal and auth/trustee/login: a burst, then a steady rate,
then 429 with Retry-After. The clock is a parameter, so nothing here sleeps."""

import pytest
from fastapi.testclient import TestClient

from trustee.core import Core
from trustee.server.app import front
from trustee.server.asgi.ratelimit import RateLimits, Rule, TokenBuckets
from trustee.server.faces.vault import FACE, create_api
from trustee.server.faces.vault.face import RATE_LIMITS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_refusal_then_refill():
    clock = Clock()
    buckets = TokenBuckets(Rule(burst=3, per_second=0.5), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(2.0)  # one token takes 2 s at 0.5/s
    clock.now += 2
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0


def test_clients_have_their_own_buckets():
    buckets = TokenBuckets(Rule(burst=1, per_second=1), clock=Clock())
    assert buckets.take("10.0.0.1") == 0
    assert buckets.take("10.0.0.1") > 0
    assert buckets.take("10.0.0.2") == 0


def test_refused_requests_do_not_extend_the_wait():
    clock = Clock()
    buckets = TokenBuckets(Rule(burst=1, per_second=1), clock=clock)
    buckets.take("a")
    for _ in range(50):
        buckets.take("a")
    clock.now += 1
    assert buckets.take("a") == 0


def test_the_table_of_clients_is_bounded():
    clock = Clock()
    buckets = TokenBuckets(Rule(burst=2, per_second=1), clock=clock, max_clients=10)
    for index in range(10):
        buckets.take(f"c{index}")
    clock.now += 5  # every bucket is full again, so forgetting them loses nothing
    assert buckets.take("newcomer") == 0
    assert len(buckets._buckets) == 1


@pytest.fixture
def client(tmp_path):
    """The app with limits whose clock stands still: the burst is exact however slowly the
    machine answers."""
    core, _ = Core.dev(root_token="root", folder=tmp_path)
    app = front(create_api(core), (FACE,), limits=RateLimits(RATE_LIMITS, clock=lambda: 0.0))
    with TestClient(app) as client:
        yield client
    core.close()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/sys/unseal", {"key": "00" * 32}),
        ("/v1/auth/trustee/login", {"role": "nobody", "jwt": "a.b.c"}),
        ("/v1/auth/trustee/siwe/nonce", {"role": "nobody"}),
        ("/v1/auth/trustee/siwe/login", {"role": "nobody", "message": "m", "signature": "0x"}),
    ],
)
def test_429_with_retry_after_once_the_burst_is_spent(client, path, body):
    burst = int(RATE_LIMITS[path].burst)
    statuses = [client.post(path, json=body).status_code for _ in range(burst)]
    assert 429 not in statuses
    refused = client.post(path, json=body)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["errors"][0].startswith("too many requests")
    # Other routes, and the seal questions operators ask meanwhile, are not limited.
    assert client.get("/v1/sys/seal-status").status_code == 200
