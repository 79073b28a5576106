"""trustee.auth.middleware: a recipient honours a bearer JWT only from a trusted address."""

import time

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from trustee.auth.middleware import TrusteeAuthMiddleware, TrusteeUser
from trustee.crypto.address import address_from_public_key
from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.tokens import TrustList, issue_token


class Party:
    def __init__(self) -> None:
        self.key = generate_private_key()
        self.address = address_from_public_key(public_key_from_private(self.key))

    def jwt(self, audience: str | None = "agency", **options) -> str:
        return issue_token(self.key, audience=audience, **options).jwt


TRUSTED, STRANGER = Party(), Party()


async def whoami(request: Request) -> JSONResponse:
    user = request.user
    assert isinstance(user, TrusteeUser)
    return JSONResponse(
        {
            "address": user.address,
            "display_name": user.display_name,
            "claims": user.claims,
            "scopes": request.auth.scopes,
            "verdict": request.scope["trustee"].to_dict(),
        }
    )


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "has_user": "user" in request.scope})


def make_client(**options) -> TestClient:
    app = Starlette(
        routes=[
            Route("/whoami", whoami),
            Route("/health", health),
            Route("/public/{rest:path}", health),
        ]
    )
    settings = {"trusted": [TRUSTED.address], "audience": "agency", "realm": "agency"} | options
    app.add_middleware(TrusteeAuthMiddleware, **settings)
    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge_of(answer) -> dict[str, str]:
    scheme, _, params = answer.headers["www-authenticate"].partition(" ")
    assert scheme == "Bearer"
    pairs = (part.strip().split("=", 1) for part in params.split(","))
    return {key: value.strip('"') for key, value in pairs}


def test_a_trusted_token_reaches_the_app_with_its_claims():
    token = TRUSTED.jwt(subject="michael", claims={"usage": ["knight_rider"]})
    with make_client() as client:
        answer = client.get("/whoami", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["address"] == TRUSTED.address
    assert body["display_name"] == "michael"
    assert body["claims"]["usage"] == ["knight_rider"]
    assert body["claims"]["iss"] == TRUSTED.address
    assert body["scopes"] == ["trustee"]
    assert body["verdict"]["valid"] is True and body["verdict"]["trusted"] is True


def test_without_a_token_the_challenge_names_only_the_realm():
    with make_client() as client:
        for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
            answer = client.get("/whoami", headers=headers)
            assert answer.status_code == 401
            assert challenge_of(answer) == {"realm": "agency"}
            assert answer.json()["errors"] == ["a bearer token is required"]


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = orjson.loads(b64url_decode(payload)) | {"usage": ["knight_rider", "delorean"]}
    return ".".join([header, b64url_encode(orjson.dumps(claims)), signature])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: STRANGER.jwt(), "untrusted_issuer"),
        (lambda: TRUSTED.jwt(ttl=60, now=int(time.time()) - 3600), "expired"),
        (lambda: TRUSTED.jwt(not_before=int(time.time()) + 3600), "not_yet_valid"),
        (lambda: tampered(TRUSTED.jwt()), "bad_signature"),
        (lambda: TRUSTED.jwt(audience="someone-else"), "audience_mismatch"),
        (lambda: TRUSTED.jwt(audience=None), "audience_mismatch"),
        (lambda: "not.a-jwt", "malformed"),
        (
            lambda: b64url_encode(b'{"alg":"none"}') + "." + TRUSTED.jwt().split(".")[1] + ".",
            "unsupported_algorithm",
        ),
    ],
)
def test_a_bad_token_is_refused_with_its_reason(make, reason):
    with make_client() as client:
        answer = client.get("/whoami", headers=bearer(make()))
    assert answer.status_code == 401
    assert challenge_of(answer) == {
        "realm": "agency",
        "error": "invalid_token",
        "error_description": reason,
    }
    assert answer.json() == {"errors": [f"invalid token: {reason}"], "reason": reason}


def test_the_scheme_is_case_insensitive():
    with make_client() as client:
        answer = client.get("/whoami", headers={"Authorization": "bearer " + TRUSTED.jwt()})
    assert answer.status_code == 200


def test_leeway_is_the_recipients_choice():
    just_expired = TRUSTED.jwt(ttl=60, now=int(time.time()) - 90)
    with make_client(leeway=60) as client:
        assert client.get("/whoami", headers=bearer(just_expired)).status_code == 200
    with make_client(leeway=0) as client:
        assert client.get("/whoami", headers=bearer(just_expired)).status_code == 401


def test_exempt_paths_pass_untouched():
    with make_client(exempt_paths=["/health", "/public/"]) as client:
        assert client.get("/health").json() == {"ok": True, "has_user": False}
        assert client.get("/public/a/b").status_code == 200
        assert client.get("/health/more").status_code == 401
        assert client.get("/whoami").status_code == 401


def test_a_trust_list_object_and_a_realm_with_quotes():
    trust = TrustList([TRUSTED.address, STRANGER.address])
    with make_client(trusted=trust, realm='we "trust"') as client:
        assert client.get("/whoami", headers=bearer(STRANGER.jwt())).status_code == 200
        refused = client.get("/whoami")
    assert refused.headers["www-authenticate"] == 'Bearer realm="we trust"'


def test_a_recipient_must_name_its_audience():
    with pytest.raises(ValueError, match="audience"):
        TrusteeAuthMiddleware(lambda *a: None, trusted=[TRUSTED.address], audience="")


@pytest.mark.parametrize(
    "authorization", ["Bearer \xe9t\xe9.a.b", "B\xe9arer x", "Bearer " + "a" * 20000]
)
def test_odd_headers_are_refused_not_errors(authorization):
    with make_client() as client:
        answer = client.get("/whoami", headers={"Authorization": authorization.encode("latin-1")})
    assert answer.status_code == 401
