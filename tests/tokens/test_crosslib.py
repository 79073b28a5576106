"""Our tokens against independent implementations: PyJWT, the legacy plugin's format, did-jwt."""

import uuid

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys import keys as eth_keys
from tokenlib import N, compact, openssl_rs, sha256, signing_input

from trustee.tokens import LEGACY_ALGORITHM, Reason, issue_token, verify_token

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
NOW = 1_800_000_000


def pyjwt_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(KEY, "big"), ec.SECP256K1())


def test_pyjwt_verifies_our_tokens_with_the_public_key() -> None:
    issued = issue_token(KEY, claims={"usage": ["knight_rider"]}, audience="agency")
    claims = pyjwt.decode(
        issued.jwt, pyjwt_key().public_key(), algorithms=["ES256K"], audience="agency"
    )
    assert claims == issued.claims and claims["iss"] == ADDRESS


def test_we_verify_tokens_pyjwt_signed() -> None:
    token = pyjwt.encode(
        {"iss": ADDRESS, "exp": NOW + 60, "role": "x"}, pyjwt_key(), algorithm="ES256K"
    )
    for _ in range(8):  # OpenSSL's random k gives high and low s alike
        result = verify_token(token, at=NOW)
        assert result.valid and result.address == ADDRESS and result.claims["role"] == "x"
        token = pyjwt.encode({"iss": ADDRESS, "exp": NOW + 60, "role": "x"}, pyjwt_key(), "ES256K")


@pytest.mark.parametrize("high_s", [True, False])
def test_high_and_low_s_es256k_both_verify(high_s: bool) -> None:
    header, payload = {"alg": "ES256K", "typ": "JWT"}, {"iss": ADDRESS}
    signature = openssl_rs(KEY, signing_input(header, payload).encode(), high_s=high_s)
    assert verify_token(compact(header, payload, signature)).valid


def legacy_token(*, exp: str, nbf: str, iss: str = ADDRESS.lower(), high_s: bool = True) -> str:
    """A token as the original Vault trustee plugin made it (Go: jwt-go ES256 + go-ethereum)."""
    jti = str(uuid.uuid4())
    eth = Account.sign_message(encode_defunct(text=jti), KEY).signature
    eth = eth[:64] + bytes([eth[64] - 27])  # go-ethereum's crypto.Sign gives v 0/1
    payload = {"exp": exp, "iss": iss, "nbf": nbf, "sub": iss, "jti": jti, "eth": "0x" + eth.hex()}
    header = {"alg": "ES256", "typ": "JWT"}
    return compact(
        header, payload, openssl_rs(KEY, signing_input(header, payload).encode(), high_s=high_s)
    )


def test_legacy_plugin_token_verifies_with_string_times() -> None:
    token = legacy_token(exp=str(NOW + 3600), nbf=str(NOW))
    result = verify_token(token, at=NOW + 10)
    assert result.valid and result.address == ADDRESS and result.algorithm == LEGACY_ALGORITHM


def test_legacy_string_times_are_enforced() -> None:
    token = legacy_token(exp=str(NOW + 3600), nbf=str(NOW))
    assert verify_token(token, at=NOW + 7200).reason is Reason.EXPIRED
    assert verify_token(token, at=NOW - 7200).reason is Reason.NOT_YET_VALID


def test_legacy_token_whose_eth_claim_is_for_someone_else() -> None:
    token = legacy_token(exp=str(NOW + 60), nbf=str(NOW), iss="0x" + "11" * 20)
    assert verify_token(token, at=NOW).reason is Reason.ISSUER_MISMATCH


def test_legacy_token_with_garbage_eth_is_bad_signature() -> None:
    header, payload = {"alg": "ES256"}, {"iss": ADDRESS, "jti": "x", "eth": "0x" + "00" * 65}
    token = compact(header, payload, openssl_rs(KEY, signing_input(header, payload).encode()))
    assert verify_token(token).reason is Reason.BAD_SIGNATURE


def test_our_legacy_eth_claim_is_what_the_plugin_checks() -> None:
    """The plugin recovers the key from eth over EIP-191(jti); eth-account does the same."""
    issued = issue_token(KEY, legacy_eth_claim=True)
    eth = bytes.fromhex(issued.claims["eth"][2:])
    assert eth[64] in (0, 1)
    signature = eth[:64] + bytes([eth[64] + 27])
    assert (
        Account.recover_message(encode_defunct(text=issued.claims["jti"]), signature=signature)
        == ADDRESS
    )
    assert verify_token(issued.jwt).valid


def did_jwt_es256k_r(iss: str) -> str:
    """ES256K-R as did-jwt issues it; the recovery id is found with pure-Python eth-keys."""
    header, payload = {"alg": "ES256K-R", "typ": "JWT"}, {"iss": iss, "exp": NOW + 60}
    data = signing_input(header, payload).encode()
    rs = openssl_rs(KEY, data, high_s=False)
    r, s = int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big")
    expected = eth_keys.PrivateKey(KEY).public_key
    for v in (0, 1):
        recovered = eth_keys.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(sha256(data))
        if recovered == expected:
            return compact(header, payload, rs + bytes([v]))
    raise AssertionError("no recovery id")


@pytest.mark.parametrize(
    "iss",
    [
        f"did:ethr:{ADDRESS}",
        f"did:ethr:0x1:{ADDRESS.lower()}",
        "did:ethr:0x" + eth_keys.PrivateKey(KEY).public_key.to_compressed_bytes().hex(),
    ],
)
def test_did_jwt_es256k_r_verifies(iss: str) -> None:
    result = verify_token(did_jwt_es256k_r(iss), at=NOW)
    assert result.valid and result.algorithm == "ES256K-R" and result.address == ADDRESS


def test_es256k_r_with_flipped_recovery_id_fails() -> None:
    token = did_jwt_es256k_r(ADDRESS)
    head, body, sig = token.split(".")
    from trustee.crypto.encoding import b64url_decode, b64url_encode

    raw = b64url_decode(sig)
    flipped = raw[:64] + bytes([raw[64] ^ 1])
    result = verify_token(f"{head}.{body}.{b64url_encode(flipped)}", at=NOW)
    assert result.reason is Reason.BAD_SIGNATURE
    assert N  # the order constant is shared with tokenlib's high-s helper
