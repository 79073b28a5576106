"""Issuing ES256K JWTs whose ``iss`` is the signer's Ethereum address (docs/api.md §7)."""

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson

from trustee.crypto.address import address_from_public_key
from trustee.crypto.encoding import b64url_encode
from trustee.crypto.messages import eip191_hash
from trustee.crypto.secp256k1 import es256k_sign, public_key_from_private, sign_recoverable
from trustee.ids import uuid4_text
from trustee.tokens.compact import MAX_TOKEN_BYTES

#: Claims the issuer sets; a caller naming them is refused rather than silently overridden.
RESERVED_CLAIMS = frozenset({"iss", "iat", "nbf", "exp", "jti", "eth", "sub", "aud"})
MAX_TTL_SECONDS = 10 * 365 * 24 * 3600

IssuerFormat = Literal["address", "did:ethr"]
"""How ``iss`` (and the default ``sub``) name the trustee: its EIP-55 address, or the
``did:ethr:0x<EIP-55 address>`` DID that did-jwt's ``verifyJWT`` resolves. ``kid`` is the
address either way, as in the JWK set."""
ISSUER_FORMATS: tuple[str, ...] = get_args(IssuerFormat)


class TokenError(ValueError):
    """The claims or options given to :func:`issue_token` cannot make a valid token."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    jwt: str
    claims: dict[str, Any]

    def __repr__(self) -> str:
        return f"IssuedToken(claims={self.claims!r}, jwt='<{len(self.jwt)} chars>')"


def issue_token(
    private_key: bytes,
    *,
    claims: Mapping[str, Any] | None = None,
    subject: str | None = None,
    audience: str | list[str] | None = None,
    ttl: int = 3600,
    not_before: int | None = None,
    now: int | None = None,
    legacy_eth_claim: bool = False,
    address: str | None = None,
    issuer_format: IssuerFormat = "address",
) -> IssuedToken:
    """Sign a JWT as the trustee holding ``private_key``.

    ``address`` may be passed when the caller already knows it, saving a keccak. With
    ``legacy_eth_claim`` the payload also carries the original Vault trustee plugin's ``eth``
    claim (r‖s‖v over the EIP-191 hash of ``jti``), so that plugin's verifiers accept it.
    ``issuer_format="did:ethr"`` writes ``iss`` (and the default ``sub``) as
    ``did:ethr:0x<address>``; :func:`~trustee.tokens.verify_token` accepts both forms.
    """
    extra = dict(claims or {})
    clashes = sorted(RESERVED_CLAIMS.intersection(extra))
    if clashes:
        raise TokenError(
            f"claims {', '.join(clashes)} are set by the issuer; use subject/audience/ttl instead"
        )
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= MAX_TTL_SECONDS:
        raise TokenError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
    issued_at = int(time.time()) if now is None else int(now)
    if not_before is not None and (not isinstance(not_before, int) or isinstance(not_before, bool)):
        raise TokenError("not_before must be unix seconds")
    valid_from = issued_at if not_before is None else not_before
    audience_claim = _audience_claim(audience)
    if subject is not None and (not isinstance(subject, str) or not subject):
        raise TokenError("subject must be a non-empty string")

    if issuer_format not in ISSUER_FORMATS:
        raise TokenError(f"issuer_format must be one of {', '.join(ISSUER_FORMATS)}")
    signer = address or address_from_public_key(public_key_from_private(private_key))
    issuer = signer if issuer_format == "address" else f"did:ethr:{signer}"
    jti = uuid4_text()
    payload: dict[str, Any] = {"iss": issuer, "sub": subject or issuer}
    if audience_claim is not None:
        payload["aud"] = audience_claim
    payload.update(iat=issued_at, nbf=valid_from, exp=valid_from + ttl, jti=jti)
    payload.update(extra)
    if legacy_eth_claim:
        eth = sign_recoverable(eip191_hash(jti.encode("ascii")), private_key)
        payload["eth"] = "0x" + eth.hex()

    try:
        payload_json = orjson.dumps(payload)
    except TypeError as exc:
        raise TokenError("claims must be JSON values") from exc
    signing_input = _encoded_header(signer) + "." + b64url_encode(payload_json)
    signature = es256k_sign(signing_input.encode("ascii"), private_key)
    token = signing_input + "." + b64url_encode(signature)
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError(f"the token would exceed {MAX_TOKEN_BYTES} bytes; verifiers refuse it")
    return IssuedToken(jwt=token, claims=payload)


def _audience_claim(audience: str | list[str] | None) -> str | list[str] | None:
    if audience is None:
        return None
    if isinstance(audience, str):
        if not audience:
            raise TokenError("audience must not be empty")
        return audience
    if (
        isinstance(audience, list)
        and audience
        and all(isinstance(item, str) and item for item in audience)
    ):
        return audience[0] if len(audience) == 1 else list(audience)
    raise TokenError("audience must be a non-empty string or list of strings")


@functools.lru_cache(maxsize=4096)
def _encoded_header(address: str) -> str:
    """A trustee's header never changes: encode it once. ``kid`` is the address, the JWK set's
    ``kid``, whichever form ``iss`` takes."""
    return b64url_encode(orjson.dumps({"alg": "ES256K", "typ": "JWT", "kid": address}))
