"""Each reason code of docs/api.md §7, produced by the token that should produce it."""

import time

import pytest
from tokenlib import b64, compact, openssl_rs, signing_input

from trustee.crypto.address import address_from_public_key
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.tokens import KeyCache, Reason, TokenError, TrustList, issue_token, verify_token

ALICE = bytes.fromhex("4646464646464646464646464646464646464646464646464646464646464646")
ALICE_ADDRESS = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
NOW = 1_800_000_000


@pytest.fixture
def token() -> str:
    return issue_token(ALICE, audience="agency", ttl=600, now=NOW).jwt


def test_valid_token_names_its_signer(token: str) -> None:
    result = verify_token(token, audience="agency", at=NOW + 1, key_cache=KeyCache())
    assert result.valid and result.reason is None
    assert result.address == ALICE_ADDRESS
    assert result.algorithm == "ES256K"
    assert result.claims["iss"] == ALICE_ADDRESS and result.trusted is None


def test_cached_key_gives_the_same_answer(token: str) -> None:
    cache = KeyCache()
    first = verify_token(token, audience="agency", at=NOW, key_cache=cache)
    second = verify_token(token, audience="agency", at=NOW, key_cache=cache)
    assert len(cache) == 1 and first == second and second.valid


def test_expired_and_leeway(token: str) -> None:
    assert verify_token(token, audience="agency", at=NOW + 600 + 59).valid
    result = verify_token(token, audience="agency", at=NOW + 600 + 60)
    assert result.reason is Reason.EXPIRED and result.address == ALICE_ADDRESS
    assert verify_token(token, audience="agency", at=NOW + 610, leeway=0).reason is Reason.EXPIRED


def test_not_yet_valid() -> None:
    jwt = issue_token(ALICE, not_before=NOW + 3600, now=NOW).jwt
    assert verify_token(jwt, at=NOW).reason is Reason.NOT_YET_VALID
    assert verify_token(jwt, at=NOW + 3600).valid


def test_audience_rules(token: str) -> None:
    assert verify_token(token, audience="other", at=NOW).reason is Reason.AUDIENCE_MISMATCH
    # RFC 7519 §4.1.3: a token with aud is refused by a verifier that names none.
    assert verify_token(token, at=NOW).reason is Reason.AUDIENCE_MISMATCH
    listed = issue_token(ALICE, audience=["a", "b"], now=NOW).jwt
    assert verify_token(listed, audience="b", at=NOW).valid
    no_aud = issue_token(ALICE, now=NOW).jwt
    assert verify_token(no_aud, audience="a", at=NOW).reason is Reason.AUDIENCE_MISMATCH


def test_trust(token: str) -> None:
    bob = address_from_public_key(public_key_from_private(generate_private_key()))
    trusted = verify_token(token, trusted=[ALICE_ADDRESS.lower()], audience="agency", at=NOW)
    assert trusted.valid and trusted.trusted is True
    untrusted = verify_token(token, trusted=TrustList([bob]), audience="agency", at=NOW)
    assert not untrusted.valid and untrusted.trusted is False
    assert untrusted.reason is Reason.UNTRUSTED_ISSUER
    assert untrusted.to_dict()["reason"] == "untrusted_issuer"


def test_tampered_payload_is_bad_signature(token: str) -> None:
    header, _payload, signature = token.split(".")
    forged = b64(b'{"iss":"' + ALICE_ADDRESS.encode() + b'","aud":"agency","admin":true}')
    result = verify_token(f"{header}.{forged}.{signature}", audience="agency", at=NOW)
    assert result.reason is Reason.BAD_SIGNATURE and result.claims is None


def test_signed_by_another_key_claiming_alice_is_bad_signature() -> None:
    mallory = generate_private_key()
    header = {"alg": "ES256K", "typ": "JWT"}
    payload = {"iss": ALICE_ADDRESS, "exp": NOW + 60}
    jwt = compact(header, payload, openssl_rs(mallory, signing_input(header, payload).encode()))
    assert verify_token(jwt, at=NOW).reason is Reason.BAD_SIGNATURE


def test_kid_of_the_real_signer_but_other_iss_is_issuer_mismatch() -> None:
    mallory = generate_private_key()
    mallory_address = address_from_public_key(public_key_from_private(mallory))
    header = {"alg": "ES256K", "kid": mallory_address}
    payload = {"iss": ALICE_ADDRESS}
    jwt = compact(header, payload, openssl_rs(mallory, signing_input(header, payload).encode()))
    result = verify_token(jwt, at=NOW)
    assert result.reason is Reason.ISSUER_MISMATCH and result.address == mallory_address


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none"},
        {"alg": "HS256"},
        {"alg": "RS256"},
        {"alg": "ES256"},  # P-256 without the legacy eth claim
        {"alg": "EdDSA"},
        {"alg": "ES256K", "crit": ["exp"], "exp": 1},
        {},
    ],
)
def test_unsupported_algorithms(header: dict) -> None:
    payload = {"iss": ALICE_ADDRESS}
    jwt = compact(header, payload, openssl_rs(ALICE, signing_input(header, payload).encode()))
    assert verify_token(jwt, at=NOW).reason is Reason.UNSUPPORTED_ALGORITHM


def test_alg_none_with_empty_signature() -> None:
    jwt = signing_input({"alg": "none"}, {"iss": ALICE_ADDRESS}) + "."
    assert verify_token(jwt).reason is Reason.UNSUPPORTED_ALGORITHM


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    """Algorithm confusion: an HMAC 'signed' with the issuer's public key must not pass."""
    import hashlib
    import hmac

    header, payload = {"alg": "HS256", "typ": "JWT"}, {"iss": ALICE_ADDRESS}
    data = signing_input(header, payload).encode()
    mac = hmac.new(public_key_from_private(ALICE), data, hashlib.sha256).digest()
    result = verify_token(compact(header, payload, mac))
    assert not result.valid and result.reason is Reason.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AA",
        b64(b"[1]") + "." + b64(b"{}") + ".AA",
        b64(b'{"alg":"ES256K","alg":"none"}') + "." + b64(b"{}") + "." + b64(bytes(64)),
        b64(b'{"alg":"ES256K"}') + "." + b64(b"not json") + "." + b64(bytes(64)),
        b64(b'{"alg":"ES256K"}') + "." + b64(b'{"iss":"alice"}') + "." + b64(bytes(64)),
        b64(b'{"alg":"ES256K"}') + "." + b64(b'{"iss":"' + ALICE_ADDRESS.encode() + b'"}') + ".AA",
        # A mixed-case address with a broken checksum is a typo, not an issuer.
        b64(b'{"alg":"ES256K"}')
        + "."
        + b64(b'{"iss":"0x9D8A62f656a8d1615C1294fd71e9CFb3E4855A4F"}')
        + "."
        + b64(bytes(64)),
        "é.é.é",
    ],
)
def test_malformed(token: str) -> None:
    assert verify_token(token).reason is Reason.MALFORMED


def test_oversized_is_refused_before_decoding() -> None:
    assert verify_token("a" * 16385).reason is Reason.TOO_LARGE
    assert verify_token(b"a" * 16385).reason is Reason.TOO_LARGE


def test_non_numeric_exp_is_malformed_for_es256k() -> None:
    header, payload = {"alg": "ES256K"}, {"iss": ALICE_ADDRESS, "exp": "1800000000"}
    jwt = compact(header, payload, openssl_rs(ALICE, signing_input(header, payload).encode()))
    assert verify_token(jwt).reason is Reason.MALFORMED


def test_issue_refuses_reserved_claims_and_bad_options() -> None:
    for claim in ("iss", "exp", "nbf", "iat", "jti", "sub", "aud", "eth"):
        with pytest.raises(TokenError):
            issue_token(ALICE, claims={claim: "x"})
    with pytest.raises(TokenError):
        issue_token(ALICE, ttl=0)
    with pytest.raises(TokenError):
        issue_token(ALICE, audience=[])
    with pytest.raises(TokenError):
        issue_token(ALICE, claims={"blob": "x" * 20000})


def test_issued_token_layout() -> None:
    issued = issue_token(ALICE, claims={"role": "driver"}, subject="car-42", ttl=90, now=NOW)
    assert list(issued.claims)[:6] == ["iss", "sub", "iat", "nbf", "exp", "jti"]
    assert issued.claims["exp"] == NOW + 90 and issued.claims["sub"] == "car-42"
    assert "jwt" not in repr(issued).lower() or issued.jwt not in repr(issued)


def test_default_time_is_now() -> None:
    jwt = issue_token(ALICE).jwt
    assert verify_token(jwt).valid
    assert verify_token(jwt, at=time.time() + 7200).reason is Reason.EXPIRED
