"""The JWK set: PyJWT's PyJWKClient, pointed at a real server, verifies our tokens."""

import threading
import time

import jwt
import pytest
import uvicorn
from fastapi.testclient import TestClient

from live_server import free_port
from trustee.server.app import create_app


@pytest.fixture
def core(dev_core):
    return dev_core.core


@pytest.fixture
def server_url(core):
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(core), host="127.0.0.1", port=port, http="h11", log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_jwks_lists_every_live_trustee(core):
    alice = core.trustees.create("alice")
    bob = core.trustees.create("bob")
    with TestClient(create_app(core)) as client:
        answer = client.get("/v1/trustee/jwks")
        assert answer.status_code == 200
        keys = answer.json()["keys"]
        assert answer.json()["data"]["keys"] == keys
        assert sorted(key["kid"] for key in keys) == sorted([alice.address, bob.address])
        assert all(key["kty"] == "EC" and key["crv"] == "secp256k1" for key in keys)
        well_known = client.get("/.well-known/jwks.json")
        assert well_known.json() == {"keys": keys}
        core.trustees.delete("bob")
        assert [key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]] == [
            alice.address
        ]


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/v1/trustee/jwks"])
def test_pyjwkclient_verifies_a_claimed_token(core, server_url, path):
    core.trustees.create("alice")
    core.trustees.create("bob")
    issued = core.trustees.claim(
        "alice", audience="rental-agency", claims={"usage": ["knight_rider"]}
    )
    signing_key = jwt.PyJWKClient(server_url + path).get_signing_key_from_jwt(issued.jwt)
    claims = jwt.decode(
        issued.jwt, signing_key.key, algorithms=["ES256K"], audience="rental-agency"
    )
    assert claims["iss"] == core.trustees.read("alice").address
    assert claims["usage"] == ["knight_rider"]


def test_jwk_set_lists_each_address_once_sorted(core):
    from trustee.custody.jwks import jwk_set

    created = [core.trustees.create(name) for name in ("carol", "dave")]
    keys = jwk_set(core.trustees)["keys"]
    assert [key["kid"] for key in keys] == sorted(info.address for info in created)
