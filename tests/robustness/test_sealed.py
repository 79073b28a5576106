"""A sealed server answers 503 on every path that touches what the barrier protects, for
every operation the OpenAPI document lists; only the seal life cycle itself answers."""

import re

import pytest
from robustlib import OperatedServer

pytestmark = pytest.mark.integration

# What a sealed server still answers: how to unseal it, whether it is initialised, and the
# public token check, which holds no secret (the same answer as `trustee verify` offline).
OPEN_WHILE_SEALED = {
    ("POST", "/v1/trustee/verify"): 200,
    ("PUT", "/v1/trustee/verify"): 200,
    ("GET", "/v1/sys/init"): 200,
    ("POST", "/v1/sys/init"): 409,
    ("PUT", "/v1/sys/init"): 409,
    ("GET", "/v1/sys/seal-status"): 200,
    ("GET", "/v1/sys/liveness"): 200,
    ("POST", "/v1/sys/unseal"): 200,
    ("PUT", "/v1/sys/unseal"): 200,
}
# Bodies that pass validation, so the answer is about the seal and not the input.
BODIES = {
    "/v1/trustee/verify": {"token": "a.b.c"},
    "/v1/auth/trustee/login": {"role": "renter", "jwt": "a.b.c"},
    "/v1/auth/trustee/siwe/nonce": {"role": "renter"},
    "/v1/auth/trustee/siwe/login": {"role": "renter", "message": "m", "signature": "0x00"},
}
PATH_VALUES = {
    "address": "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F",
    "asset": "2f0c2b3e-8a6e-4a53-9f3e-6a1c4c1d2e3f",
    "event": "2f0c2b3e-8a6e-4a53-9f3e-6a1c4c1d2e3f",
}


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    operated = OperatedServer(tmp_path_factory.mktemp("sealed"))
    with operated.client() as client:
        assert client.post("/v1/trustee/trustees/alice").status_code == 200
        document = client.get("/v1/openapi.json").json()
        assert client.post("/v1/sys/seal").status_code == 204
    yield operated, document
    assert operated.stop() == 0


def operations(document):
    for path, item in document["paths"].items():
        for method in item:
            url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "alice"), path)
            yield method.upper(), path, url


def test_every_secret_path_is_503_while_sealed(sealed):
    server, document = sealed
    wrong = []
    with server.client() as client:
        for method, path, url in operations(document):
            body = BODIES.get(path, {}) if method in ("POST", "PUT") else None
            answer = client.request(method, url, json=body)
            expected = OPEN_WHILE_SEALED.get((method, path), 503)
            if answer.status_code != expected:
                wrong.append(f"{method} {path}: {answer.status_code} {answer.text[:100]}")
    assert not wrong, "\n".join(wrong)


def test_sealed_answers_say_so_and_health_reports_it(sealed):
    server, _ = sealed
    with server.client() as client:
        answer = client.get("/v1/trustee/trustees/alice")
        health = client.get("/v1/sys/health")
    assert answer.json() == {"errors": ["trustee is sealed"]}
    assert health.status_code == 503 and health.json()["sealed"] is True
