"""``issuer_format="did:ethr"``: ``iss`` as did-jwt's verifyJWT resolves it, verified by address."""

import pytest
from fastapi.testclient import TestClient

from trustee.crypto.encoding import b64url_decode
from trustee.server.app import create_app
from trustee.tokens import TokenError, issue_token, verify_token

KEY = bytes.fromhex("46" * 32)
ADDRESS = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"


def test_did_ethr_issuer_verifies_by_address():
    issued = issue_token(KEY, audience="agency", issuer_format="did:ethr")
    assert issued.claims["iss"] == issued.claims["sub"] == f"did:ethr:{ADDRESS}"
    header = b64url_decode(issued.jwt.split(".")[0])
    assert b'"kid":"' + ADDRESS.encode() + b'"' in header  # the JWK set's kid
    result = verify_token(issued.jwt, trusted=[ADDRESS], audience="agency")
    assert result.valid and result.address == ADDRESS and result.trusted
    with_subject = issue_token(KEY, subject="car-7", issuer_format="did:ethr")
    assert with_subject.claims["sub"] == "car-7"
    assert issue_token(KEY).claims["iss"] == ADDRESS  # the default is unchanged


def test_unknown_issuer_format_is_refused():
    with pytest.raises(TokenError, match="issuer_format"):
        issue_token(KEY, issuer_format="did:key")  # type: ignore[arg-type]


def test_claim_route_takes_issuer_format(dev_core):
    with TestClient(create_app(dev_core.core)) as client:
        client.headers["X-Vault-Token"] = dev_core.root
        client.post("/v1/trustee/import/did-alice", json={"private_key": KEY.hex()})
        answer = client.post(
            "/v1/trustee/trustees/did-alice/claim",
            json={"audience": "agency", "issuer_format": "did:ethr"},
        )
        assert answer.status_code == 200, answer.text
        jwt = answer.json()["data"]["jwt"]
        assert answer.json()["data"]["claims"]["iss"] == f"did:ethr:{ADDRESS}"
        verdict = client.post(
            "/v1/trustee/verify", json={"token": jwt, "audience": "agency", "trusted": [ADDRESS]}
        ).json()["data"]
        assert verdict["valid"] and verdict["address"] == ADDRESS and verdict["trusted"]
        bad = client.post("/v1/trustee/trustees/did-alice/claim", json={"issuer_format": "did:web"})
        assert bad.status_code == 400


def test_trustee_verify_cli_accepts_both_issuer_forms():
    from typer.testing import CliRunner

    from trustee.cli.main import app

    runner = CliRunner()
    for issuer_format in ("address", "did:ethr"):
        jwt = issue_token(KEY, audience="agency", issuer_format=issuer_format).jwt
        args = ["verify", jwt, "--trust", ADDRESS, "--audience", "agency", "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert '"valid": true' in result.output.replace('"valid":true', '"valid": true')
