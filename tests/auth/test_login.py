"""auth/trustee roles and login: a JWT from a trusted address becomes a server token."""

import json
import time

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from trustee.auth.login import LoginDenied, LoginError
from trustee.crypto.address import address_from_public_key
from trustee.crypto.encoding import b64url_encode
from trustee.crypto.secp256k1 import es256k_sign, generate_private_key, public_key_from_private
from trustee.errors import PermissionDenied
from trustee.server.app import create_app
from trustee.storage.schema_auth import auth_roles
from trustee.tokens import issue_token


class Party:
    """Someone outside the server who signs its own JWTs."""

    def __init__(self) -> None:
        self.key = generate_private_key()
        self.address = address_from_public_key(public_key_from_private(self.key))

    def jwt(self, **options) -> str:
        return issue_token(self.key, **options).jwt

    def raw(self, payload: dict) -> str:
        header = b64url_encode(orjson.dumps({"alg": "ES256K", "typ": "JWT"}))
        signing_input = header + "." + b64url_encode(orjson.dumps({"iss": self.address} | payload))
        return signing_input + "." + b64url_encode(es256k_sign(signing_input.encode(), self.key))


@pytest.fixture
def core(dev_core):
    return dev_core.core


@pytest.fixture
def client(core):
    with TestClient(create_app(core)) as client:
        client.headers["X-Vault-Token"] = "root"
        yield client


@pytest.fixture
def kitt():
    return Party()


ROLE = {
    "bound_audiences": ["rental-agency", "spare"],
    "bound_claims": {"usage": ["knight_*"], "country": "US"},
    "claim_mappings": {"usage": "usage", "sub": "driver"},
    "token_policies": ["renter"],
    "token_ttl": "1h",
    "token_max_ttl": "2h",
}


def setup_role(client, party, **overrides):
    client.post("/v1/trustee/trust-lists/drivers", json={"addresses": [party.address]})
    answer = client.post(
        "/v1/auth/trustee/role/renter", json={"trust_list": "drivers", **ROLE, **overrides}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def login(client, jwt, role="renter"):
    return client.post("/v1/auth/trustee/login", json={"role": role, "jwt": jwt}, headers={})


def good_jwt(party, **claims):
    return party.jwt(
        subject="michael",
        audience="rental-agency",
        claims={"usage": ["knight_rider", "other"], "country": "US"} | claims,
        ttl=600,
    )


def test_role_crud(client, kitt):
    data = setup_role(client, kitt)
    assert data["token_ttl"] == 3600 and data["token_max_ttl"] == 7200
    assert data["bound_claims"] == {"usage": ["knight_*"], "country": ["US"]}
    assert client.get("/v1/auth/trustee/role?list=true").json()["data"]["keys"] == ["renter"]
    assert client.get("/v1/auth/trustee/role/renter").json()["data"]["trust_list"] == "drivers"
    assert client.post("/v1/auth/trustee/role/x", json={"token_policies": ["a"]}).status_code == 400
    assert client.post("/v1/auth/trustee/role/x", json={"bogus": 1}).status_code == 400
    assert client.delete("/v1/auth/trustee/role/renter").status_code == 204
    assert client.get("/v1/auth/trustee/role/renter").status_code == 404


def test_login_yields_a_token_with_the_role_policies_and_metadata(client, kitt):
    setup_role(client, kitt)
    answer = login(client, good_jwt(kitt))
    assert answer.status_code == 200, answer.text
    auth = answer.json()["auth"]
    assert auth["policies"] == ["default", "renter"]
    assert auth["lease_duration"] == 3600
    assert auth["renewable"] is True
    assert auth["metadata"] == {
        "role": "renter",
        "issuer": kitt.address,
        "usage": '["knight_rider","other"]',
        "driver": "michael",
    }
    me = client.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": auth["client_token"]})
    assert me.status_code == 200
    assert me.json()["data"]["meta"]["issuer"] == kitt.address
    assert (
        client.get(
            "/v1/trustee/trustees?list=true", headers={"X-Vault-Token": auth["client_token"]}
        ).status_code
        == 403
    )


def test_any_bound_audience_is_accepted(client, kitt):
    setup_role(client, kitt)
    jwt = kitt.jwt(audience=["elsewhere", "spare"], claims={"usage": "knight_x", "country": "US"})
    assert login(client, jwt).status_code == 200


def test_bound_issuers_without_a_trust_list(client, kitt):
    client.post("/v1/auth/trustee/role/direct", json={"bound_issuers": [kitt.address], **ROLE})
    assert login(client, good_jwt(kitt), role="direct").status_code == 200
    assert login(client, good_jwt(Party()), role="direct").status_code == 403


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda kitt: good_jwt(Party()), 403, "untrusted_issuer"),
        (
            lambda kitt: kitt.jwt(
                audience="other", claims={"usage": "knight_rider", "country": "US"}
            ),
            400,
            "audience_mismatch",
        ),
        (
            lambda kitt: kitt.jwt(audience="rental-agency", claims={"usage": "knight_rider"}),
            400,
            "claim_mismatch",
        ),
        (lambda kitt: good_jwt(kitt, usage=["pizza"]), 400, "claim_mismatch"),
        (lambda kitt: good_jwt(kitt, country=["FR"]), 400, "claim_mismatch"),
        (
            lambda kitt: kitt.jwt(
                audience="rental-agency",
                claims={"usage": "knight_rider", "country": "US"},
                ttl=10,
                now=int(time.time()) - 3600,
            ),
            400,
            "expired",
        ),
        (
            lambda kitt: kitt.raw(
                {
                    "aud": "rental-agency",
                    "sub": "m",
                    "exp": int(time.time()) + 60,
                    "usage": "knight",
                    "country": "US",
                }
            ),
            400,
            "missing_jti",
        ),
        (
            lambda kitt: kitt.raw(
                {
                    "aud": "rental-agency",
                    "sub": "m",
                    "jti": "j1",
                    "usage": "knight",
                    "country": "US",
                }
            ),
            400,
            "missing_exp",
        ),
        (lambda kitt: good_jwt(kitt)[:-4] + "AAAA", 400, "bad_signature"),
        (lambda kitt: "not-a-jwt", 400, "malformed"),
    ],
)
def test_refusals_carry_their_reason(client, kitt, make, status, reason):
    setup_role(client, kitt)
    answer = login(client, make(kitt))
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"][0].startswith(f"login refused: {reason}")


def test_unknown_role(client, kitt):
    answer = login(client, good_jwt(kitt), role="nobody")
    assert answer.status_code == 400
    assert "unknown_role" in answer.json()["errors"][0]


def test_a_jti_is_accepted_once(client, kitt):
    setup_role(client, kitt)
    jwt = good_jwt(kitt)
    assert login(client, jwt).status_code == 200
    again = login(client, jwt)
    assert again.status_code == 400
    assert again.json()["errors"][0].startswith("login refused: replayed")


def test_issued_token_expires_and_renews_as_configured(core, kitt):
    core.trust_lists.put("drivers", [kitt.address])
    core.roles.put("renter", {"trust_list": "drivers", **ROLE})
    start = time.time()
    result = core.login.login("renter", good_jwt(kitt), now=start)
    token = result.issued.client_token
    assert result.issued.lease_duration == 3600
    assert core.tokens.lookup(token, now=start + 3599) is not None
    renewed = core.tokens.renew(token, now=start + 3000)
    assert renewed.expire_time == pytest.approx(start + 3000 + 3600)
    capped = core.tokens.renew(token, "10h", now=start + 6000)
    assert capped.expire_time == pytest.approx(start + 7200)
    assert core.tokens.lookup(token, now=start + 7201) is None
    with pytest.raises(PermissionDenied):
        core.tokens.renew(token, now=start + 7300)


def test_issued_token_is_revocable(client, kitt):
    setup_role(client, kitt)
    token = login(client, good_jwt(kitt)).json()["auth"]["client_token"]
    headers = {"X-Vault-Token": token}
    assert client.post("/v1/auth/token/revoke-self", headers=headers).status_code == 204
    assert client.get("/v1/auth/token/lookup-self", headers=headers).status_code == 403


def test_service_errors_are_typed(core, kitt):
    core.roles.put("renter", {"bound_issuers": [kitt.address], **ROLE})
    with pytest.raises(LoginDenied) as denied:
        core.login.login("renter", good_jwt(Party()))
    assert denied.value.reason == "untrusted_issuer"
    with pytest.raises(LoginError) as refused:
        core.login.login("renter", good_jwt(kitt, usage="nope"))
    assert refused.value.reason == "claim_mismatch"


def test_a_role_never_grants_root(client, core, kitt):
    answer = client.post(
        "/v1/auth/trustee/role/admin",
        json={"bound_issuers": [kitt.address], "token_policies": ["root"]},
    )
    assert answer.status_code == 400
    assert "root" in answer.json()["errors"][0]
    # A role stored some other way is still refused at login, before its jti is spent.
    config = core.roles.put("admin", {"bound_issuers": [kitt.address]}).to_dict()
    config = {key: value for key, value in config.items() if key != "name"}
    with core.db.begin() as conn:
        conn.execute(
            sa.update(auth_roles)
            .where(auth_roles.c.name == "admin")
            .values(config=json.dumps(config | {"token_policies": ["root"]}))
        )
    jwt = kitt.jwt(subject="m", ttl=600)
    with pytest.raises(LoginDenied) as denied:
        core.login.login("admin", jwt)
    assert denied.value.reason == "root_policy"


def test_expired_jtis_are_purged(core, kitt):
    core.roles.put("renter", {"bound_issuers": [kitt.address], **ROLE})
    start = time.time()
    core.login.login("renter", good_jwt(kitt), now=start)
    assert core.login.purge_used(now=start + 60) == 0  # still live: kept to catch replays
    assert core.login.purge_used(now=start + 600 + core.login.leeway + 1) == 1
