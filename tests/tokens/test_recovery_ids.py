"""Recovery ids 2 and 3 in the token verifier's signature step (step 4 of verify_token).

No token can carry such a signature for a key chosen in advance: the signature must be over
SHA-256 of a signing input that names the signer's address, and finding a nonce point whose x
is at least n takes about 2¹²⁸ tries. So the Wycheproof vectors whose nonce point has
x = r + n (the key recovers only with id 2 or 3) are fed to the signature step itself, with
the vector's message as the signing input and the vector key's address as the one the token
names: the step hashes, recovers and compares exactly as it does for a whole token.
"""

from __future__ import annotations

import hashlib

import coincurve
import pytest
from eth_utils import keccak, to_checksum_address
from tokenlib import compact, openssl_rs, signing_input

from trustee.tokens.compact import CompactJWS
from trustee.tokens.keycache import KeyCache
from trustee.tokens.reasons import Reason
from trustee.tokens.verify import _es256k_signer, verify_token
from wycheproof import vector

P1363_K1 = "ecdsa_secp256k1_sha256_p1363_test.json"
LARGE_X = [115, 247]  # "k*G has a large x-coordinate", "r = 2, x = n + 2"


def _case(tc_id: int) -> tuple[bytes, bytes, str, int]:
    """message, r‖s, the key's address, the recovery id (found by coincurve)."""
    v = vector(P1363_K1, tc_id)
    public_key = bytes.fromhex(v.key["uncompressed"])
    digest = hashlib.sha256(v.msg).digest()
    ids = [
        recovery
        for recovery in range(4)
        if coincurve.PublicKey.from_signature_and_message(
            v.sig + bytes([recovery]), digest, hasher=None
        ).format(compressed=False)
        == public_key
    ]
    assert len(ids) == 1 and ids[0] in (2, 3)
    return v.msg, v.sig, to_checksum_address(keccak(public_key[1:])[-20:]), ids[0]


@pytest.mark.parametrize("tc_id", LARGE_X)
def test_es256k_step_recovers_a_key_that_needs_id_2_or_3(tc_id: int) -> None:
    message, rs, address, _ = _case(tc_id)
    jws = CompactJWS({"alg": "ES256K"}, {}, message, rs)
    cache = KeyCache()
    assert _es256k_signer(jws, address, cache) == address
    assert cache.get(address.lower()) is not None  # later tokens verify against the cache
    assert _es256k_signer(jws, address, cache) == address
    other = "0x" + "11" * 20
    assert _es256k_signer(jws, other, KeyCache()) is None
    tampered = CompactJWS({"alg": "ES256K"}, {}, message + b"!", rs)
    assert _es256k_signer(tampered, address, KeyCache()) is None


@pytest.mark.parametrize("tc_id", LARGE_X)
def test_es256k_r_step_takes_recovery_bytes_2_and_3(tc_id: int) -> None:
    message, rs, address, recovery = _case(tc_id)
    for byte in (0, 1, 2, 3, recovery + 27, 4, 255):
        jws = CompactJWS({"alg": "ES256K-R"}, {}, message, rs + bytes([byte]))
        want = address if byte == recovery else None
        assert _es256k_signer(jws, address, KeyCache()) == want, byte


def test_es256k_r_token_with_an_id_that_cannot_exist_is_bad_signature() -> None:
    """An ordinary r (≥ p − n) with v = 2 or 3 recovers nothing: bad_signature, not an error."""
    private_key = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
    public_key = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    address = to_checksum_address(keccak(public_key[1:])[-20:])
    header, payload = {"alg": "ES256K-R", "typ": "JWT"}, {"iss": address}
    rs = openssl_rs(private_key, signing_input(header, payload).encode(), high_s=False)
    digest = hashlib.sha256(signing_input(header, payload).encode()).digest()
    right = next(
        recovery
        for recovery in (0, 1)
        if coincurve.PublicKey.from_signature_and_message(
            rs + bytes([recovery]), digest, hasher=None
        ).format(compressed=False)
        == public_key
    )
    assert verify_token(compact(header, payload, rs + bytes([right])), key_cache=KeyCache()).valid
    for byte in (right ^ 1, 2, 3, 27 + right):
        result = verify_token(compact(header, payload, rs + bytes([byte])), key_cache=KeyCache())
        assert result.reason == Reason.BAD_SIGNATURE, byte
