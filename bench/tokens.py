"""Token figures: offline verify (cold and cached key), against raw coincurve and PyJWT; issue."""

import hashlib

import coincurve
import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec

from bench.harness import Figure, compare
from trustee.crypto.address import address_from_public_key
from trustee.crypto.keccak import keccak256
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.tokens import KeyCache, issue_token, verify_token
from trustee.tokens.compact import parse_compact


class NoCache(KeyCache):
    """Every token pays for recovery, as a verifier seeing each issuer once would."""

    def get(self, address_lower: str):  # type: ignore[override]
        return None

    def put(self, address_lower, key) -> None:  # type: ignore[override]
        return None


def run(count: int, rounds: int) -> list[Figure]:
    keys = [generate_private_key() for _ in range(64)]
    tokens = [
        issue_token(keys[i % 64], claims={"usage": ["knight_rider"]}).jwt for i in range(count)
    ]
    parsed = [parse_compact(t) for t in tokens]
    expected = [p.payload["iss"].lower() for p in parsed]
    no_cache, cache = NoCache(), KeyCache()

    def raw_recover(i: int) -> None:
        # What the cryptography costs at least: recover id 0, keccak, compare; else id 1 (1.5 avg).
        jws = parsed[i]
        digest = hashlib.sha256(jws.signing_input).digest()
        for recovery_id in (0, 1):
            public_key = coincurve.PublicKey.from_signature_and_message(
                jws.signature + bytes([recovery_id]), digest, hasher=None
            ).format(compressed=False)
            if "0x" + keccak256(public_key[1:])[-20:].hex() == expected[i]:
                return

    def ours_cold(i: int) -> None:
        assert verify_token(tokens[i], key_cache=no_cache).valid

    verify_ours, verify_raw = compare(ours_cold, raw_recover, count, rounds)

    public = {
        p.payload["iss"].lower(): coincurve.PublicKey(public_key_from_private(k))
        for p, k in zip(parsed, [keys[i % 64] for i in range(count)], strict=True)
    }
    der = [
        coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(p.signature))
        for p in parsed
    ]

    def raw_verify(i: int) -> None:
        assert public[expected[i]].verify(der[i], parsed[i].signing_input)

    def ours_cached(i: int) -> None:
        assert verify_token(tokens[i], key_cache=cache).valid

    for i in range(count):
        ours_cached(i)  # warm the cache: a repeat issuer
    cached_ours, cached_raw = compare(ours_cached, raw_verify, count, rounds)

    crypto_keys = {
        p.payload["iss"].lower(): ec.derive_private_key(
            int.from_bytes(keys[i % 64], "big"), ec.SECP256K1()
        ).public_key()
        for i, p in enumerate(parsed)
    }
    pyjwt_count = max(count // 8, 50)

    def pyjwt_decode(i: int) -> None:
        pyjwt.decode(tokens[i], crypto_keys[expected[i]], algorithms=["ES256K"])

    vs_pyjwt_ours, vs_pyjwt = compare(ours_cold, pyjwt_decode, pyjwt_count, rounds)

    key = keys[0]
    address = address_from_public_key(public_key_from_private(key))
    message = b"x" * 200
    signer = coincurve.PrivateKey(key)

    def raw_sign(_: int) -> None:
        signer.sign_recoverable(message)

    def ours_issue(_: int) -> None:
        issue_token(key, claims={"usage": ["knight_rider"]}, address=address)

    issue_ours, issue_raw = compare(ours_issue, raw_sign, count, rounds)
    return [
        Figure(
            "verify_token by address (cold key, 1 core)",
            verify_ours,
            verify_raw,
            0.8,
            note="baseline: coincurve 1.5 recoveries + keccak per token",
        ),
        Figure(
            "verify_token repeat issuer (cached key)",
            cached_ours,
            cached_raw,
            0.8,
            note="baseline: coincurve verify with the key",
        ),
        Figure(
            "verify_token (cold) vs PyJWT ES256K with key",
            vs_pyjwt_ours,
            vs_pyjwt,
            4.0,
            note="baseline: PyJWT decode given the public key",
        ),
        Figure("issue_token", issue_ours, issue_raw, 0.7, note="baseline: coincurve sign"),
    ]
