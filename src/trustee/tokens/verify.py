"""Verifying a JWT from the token alone: the signer's address is recovered, never told.

The steps, in order; each block below carries its number:

1. size   — refuse anything over 16 KiB before decoding it (``too_large``);
2. parse  — three strict base64url parts, JSON objects (``malformed``);
3. algorithm — ES256K, ES256K-R, or the original Vault trustee plugin's tokens (header
   ``ES256`` with a secp256k1 signature and an ``eth`` claim); anything else, and any
   ``crit`` header, is ``unsupported_algorithm``;
4. signature — the key is recovered from the signature (or taken from the cache for a known
   address) and must derive the address the token names in ``kid`` or ``iss``
   (``bad_signature``); ES256K tries recovery ids 0 and 1, and 2 and 3 when r < p − n
   (:func:`~trustee.crypto.secp256k1.iter_recovered_keys`), ES256K-R uses its byte (0..3);
5. issuer — the address whose key signed must be ``iss`` (``issuer_mismatch``);
6. time   — ``exp`` and ``nbf`` with leeway, as of ``at`` (``expired``, ``not_yet_valid``);
7. audience — when the token has ``aud`` the verifier must name one of them, and when the
   verifier asks for one the token must carry it (``audience_mismatch``);
8. trust  — when a trust list is given, the issuer must be on it (``untrusted_issuer``).

Claims are returned only once the signature is verified: nothing unauthenticated leaves here.
"""

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trustee.crypto.address import address_from_public_key
from trustee.crypto.errors import CryptoError
from trustee.crypto.keccak import keccak256
from trustee.crypto.messages import eip191_hash
from trustee.crypto.secp256k1 import (
    VerifyingKey,
    iter_recovered_keys,
    recover_public_key,
)
from trustee.tokens.compact import MAX_TOKEN_BYTES, CompactError, CompactJWS, parse_compact
from trustee.tokens.issuers import address_of_issuer
from trustee.tokens.keycache import DEFAULT_KEY_CACHE, KeyCache
from trustee.tokens.reasons import Reason
from trustee.tokens.trust import TrustList

DEFAULT_LEEWAY_SECONDS = 60
LEGACY_ALGORITHM = "trustee-legacy"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The verdict on one token. ``reason`` is None exactly when ``valid`` is True."""

    valid: bool
    address: str | None = None
    algorithm: str | None = None
    claims: dict[str, Any] | None = None
    trusted: bool | None = None
    reason: Reason | None = None
    detail: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The ``data`` object of ``trustee/verify`` and ``trustee verify --json``."""
        answer: dict[str, Any] = {
            "valid": self.valid,
            "address": self.address,
            "algorithm": self.algorithm,
            "claims": self.claims,
            "trusted": self.trusted,
        }
        if not self.valid:
            answer["reason"] = str(self.reason)
        return answer


def verify_token(
    token: str | bytes,
    trusted: TrustList | Iterable[str] | None = None,
    audience: str | None = None,
    at: float | None = None,
    leeway: float = DEFAULT_LEEWAY_SECONDS,
    *,
    key_cache: KeyCache = DEFAULT_KEY_CACHE,
) -> VerificationResult:
    """Verify ``token``; never raises for bad tokens, only for bad verifier arguments."""
    trust_list = _trust_list(trusted)

    # 1. size
    if type(token) is not str and isinstance(token, bytes | bytearray):
        if len(token) > MAX_TOKEN_BYTES:
            return _refuse(Reason.TOO_LARGE, f"over {MAX_TOKEN_BYTES} bytes")
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            return _refuse(Reason.MALFORMED, "a token is ASCII")
    if not isinstance(token, str):
        return _refuse(Reason.MALFORMED, "a token is a string")
    if len(token) > MAX_TOKEN_BYTES:
        return _refuse(Reason.TOO_LARGE, f"over {MAX_TOKEN_BYTES} bytes")

    # 2. parse
    try:
        jws = parse_compact(token)
    except (CompactError, UnicodeEncodeError) as exc:
        return _refuse(Reason.MALFORMED, str(exc))
    header, claims = jws.header, jws.payload

    # 3. algorithm
    alg = header.get("alg")
    if "crit" in header:
        return _refuse(Reason.UNSUPPORTED_ALGORITHM, "no critical header extension is understood")
    if alg == "ES256K" and len(jws.signature) == 64:
        algorithm = "ES256K"
    elif alg == "ES256K-R" and len(jws.signature) == 65:
        algorithm = "ES256K-R"
    elif alg == "ES256" and "eth" in claims and len(jws.signature) == 64:
        algorithm = LEGACY_ALGORITHM
    elif alg in ("ES256K", "ES256K-R", "ES256") and ("eth" in claims or alg != "ES256"):
        return _refuse(Reason.MALFORMED, f"{alg} signature has the wrong length")
    else:
        return _refuse(Reason.UNSUPPORTED_ALGORITHM, f"algorithm {alg!r} is not accepted")

    try:
        issuer = address_of_issuer(claims.get("iss"))
        named = address_of_issuer(header["kid"]) if "kid" in header else None
    except (CryptoError, ValueError) as exc:
        return _refuse(Reason.MALFORMED, f"iss or kid: {exc}")
    if issuer is None:
        return _refuse(Reason.MALFORMED, "iss must be an Ethereum address or did:ethr")

    # 4. signature
    if algorithm == LEGACY_ALGORITHM:
        signer = _legacy_signer(jws, key_cache)
    else:
        signer = _es256k_signer(jws, named or issuer, key_cache)
    if signer is None:
        return _refuse(Reason.BAD_SIGNATURE, "the signature does not verify", algorithm)

    # 5. issuer
    if signer.lower() != issuer.lower():
        return _refuse(
            Reason.ISSUER_MISMATCH, f"signed by {signer}, iss is {issuer}", algorithm, signer
        )

    def refuse(reason: Reason, detail: str) -> VerificationResult:
        return VerificationResult(False, signer, algorithm, claims, None, reason, detail)

    # 6. time
    now = time.time() if at is None else at
    legacy = algorithm == LEGACY_ALGORITHM
    try:
        expires = _numeric_date(claims, "exp", legacy)
        not_before = _numeric_date(claims, "nbf", legacy)
    except ValueError as exc:
        return refuse(Reason.MALFORMED, str(exc))
    if expires is not None and now >= expires + leeway:
        return refuse(Reason.EXPIRED, f"expired at {expires}")
    if not_before is not None and now < not_before - leeway:
        return refuse(Reason.NOT_YET_VALID, f"not valid before {not_before}")

    # 7. audience
    token_audience = claims.get("aud")
    if token_audience is not None or audience is not None:
        audiences = [token_audience] if isinstance(token_audience, str) else token_audience
        if not isinstance(audiences, list) or audience not in audiences:
            return refuse(
                Reason.AUDIENCE_MISMATCH,
                f"the token is for {token_audience!r}, the verifier is {audience!r}",
            )

    # 8. trust
    if trust_list is None:
        return VerificationResult(True, signer, algorithm, claims, None)
    if signer not in trust_list:
        return VerificationResult(
            False, signer, algorithm, claims, False, Reason.UNTRUSTED_ISSUER, "not on trust list"
        )
    return VerificationResult(True, signer, algorithm, claims, True)


def _es256k_signer(jws: CompactJWS, expected: str, key_cache: KeyCache) -> str | None:
    """The EIP-55 address whose key made the signature, if it is ``expected``'s key."""
    expected_lower = expected.lower()
    rs = jws.signature[:64]
    digest = hashlib.sha256(jws.signing_input).digest()
    candidates: Iterable[bytes]  # the one recovered key, or every key the signature admits
    if len(jws.signature) == 65:
        # ES256K-R always recovers: the recovery id is signed material, and a cached key would
        # accept a flipped one, making the verdict depend on what the cache held. The byte is
        # the id itself (0..3; 2 and 3 recover only when r < p − n), never 27 + id.
        if jws.signature[64] > 3:
            return None
        try:
            candidates = [recover_public_key(digest, jws.signature)]
        except CryptoError:
            return None
    else:
        cached = key_cache.get(expected_lower)
        if cached is not None:
            return expected if cached.verify_digest(rs, digest) else None
        candidates = iter_recovered_keys(digest, rs)
    expected_raw = expected_lower[2:]
    for public_key in candidates:
        if keccak256(public_key[1:])[-20:].hex() == expected_raw:
            key_cache.put(expected_lower, VerifyingKey(public_key))
            return expected
    return None


def _legacy_signer(jws: CompactJWS, key_cache: KeyCache) -> str | None:
    """The original plugin's tokens name their key by an EIP-191 signature of ``jti``."""
    jti, eth = jws.payload.get("jti"), jws.payload.get("eth")
    if not isinstance(jti, str) or not isinstance(eth, str) or len(eth) != 132:
        return None
    try:
        hint = bytes.fromhex(eth[2:]) if eth[:2] in ("0x", "0X") else b""
        public_key = recover_public_key(eip191_hash(jti.encode("utf-8")), hint)
    except (ValueError, CryptoError):
        return None
    address = address_from_public_key(public_key)
    key = key_cache.get(address.lower()) or VerifyingKey(public_key)
    # The plugin signed with Go's ecdsa (random k, high s possible); verify_digest normalises.
    if not key.verify_digest(jws.signature, hashlib.sha256(jws.signing_input).digest()):
        return None
    key_cache.put(address.lower(), key)
    return address


def _numeric_date(claims: dict[str, Any], name: str, legacy: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if type(value) is int or type(value) is float:  # not bool, which is an int
        return float(value)
    if legacy and isinstance(value, str) and value.isdigit() and len(value) <= 12:
        # The original plugin wrote exp/nbf as strings; they must still be enforced.
        return float(int(value))
    raise ValueError(f"{name} must be a NumericDate")


def _trust_list(trusted: TrustList | Iterable[str] | None) -> TrustList | None:
    if trusted is None or isinstance(trusted, TrustList):
        return trusted
    return TrustList(trusted)


def _refuse(
    reason: Reason, detail: str, algorithm: str | None = None, address: str | None = None
) -> VerificationResult:
    return VerificationResult(False, address, algorithm, None, None, reason, detail)
