"""Signed statements: read one, find the key it carries, verify it, and name its issuer.

Checklist, in order, each step with its reason (:class:`Reason`):

1. size, then shape: one tagged COSE_Sign1 with an attached payload (``malformed``);
2. algorithm from the protected header: EdDSA, ES256, ES384 or ES256K
   (``unsupported_algorithm``); any ``crit`` label must be one read here (``malformed``);
3. the key, from the protected header only (an unprotected key would be anyone's): the leaf
   of ``x5chain`` (33), else the CWT ``cnf`` COSE_Key (claims 15 → 8 → 1), else for ES256K an
   Ethereum address in ``kid`` (or ``iss``), matched by recovering the key from the signature
   as trustee's tokens are (``no_key``, ``key_mismatch``);
4. the signature under that key (``bad_signature``).

Only then are ``iss``, ``sub`` and the content type read. The chain of an ``x5chain`` is not
validated here: which issuers count is the registration policy's decision.

The *entry* of a statement, the log leaf, is the statement with an empty unprotected header,
in deterministic CBOR: ``18([protected, {}, payload, signature])``. Unprotected headers are
not signed (anyone may change them), so the leaf leaves them out, and anyone can recompute it
from the statement or from a transparent statement alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import es256k_recover_candidates
from trustee.ledger import merkle
from trustee.scitt.cose import (
    HDR_ALG,
    HDR_CONTENT_TYPE,
    HDR_CRIT,
    HDR_CWT_CLAIMS,
    HDR_KID,
    HDR_X5CHAIN,
    CoseError,
    Sign1,
    decode_sign1,
)
from trustee.scitt.keys import ALGORITHMS, ES256K, BadKey, CoseKey
from trustee.tokens.issuers import address_of_issuer

__all__ = [
    "MAX_STATEMENT_BYTES",
    "Reason",
    "Statement",
    "StatementError",
    "entry_of",
    "verify_statement",
]

MAX_STATEMENT_BYTES = 1024 * 1024
CWT_ISS, CWT_SUB, CWT_IAT, CWT_CNF = 1, 2, 6, 8
CNF_COSE_KEY = 1
HDR_SCITT_ISSUER, HDR_SCITT_FEED = 391, 392  # earlier SCITT drafts' issuer and feed labels
UNDERSTOOD = frozenset({HDR_ALG, HDR_CRIT, HDR_CONTENT_TYPE, HDR_KID, HDR_CWT_CLAIMS, HDR_X5CHAIN})
_ADDRESS_TEXT = re.compile(rb"0[xX][0-9a-fA-F]{40}")


class Reason(StrEnum):
    """Why a statement was refused: a closed set, as for tokens."""

    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    NO_KEY = "no_key"
    KEY_MISMATCH = "key_mismatch"
    BAD_SIGNATURE = "bad_signature"


class StatementError(ValueError):
    """A statement this service will not register; ``reason`` says which step failed."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Statement:
    """A statement whose signature verified under ``key``; the rest read after that."""

    message: Sign1
    alg: int
    key: CoseKey
    key_source: str
    """Where the key came from: ``x5chain``, ``cnf`` or ``kid`` (recovered, ES256K)."""
    issuer: str | None
    subject: str | None
    content_type: str | None
    kid: bytes | None

    @property
    def entry(self) -> bytes:
        """The log leaf's bytes (module docstring)."""
        return entry_of(self.message)

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.entry)

    @property
    def address(self) -> str | None:
        """The Ethereum address of a secp256k1 signer; None for other keys."""
        return self.key.address()

    @property
    def algorithm(self) -> str:
        return ALGORITHMS[self.alg]


def entry_of(message: Sign1) -> bytes:
    """The statement with an empty unprotected header, in deterministic CBOR."""
    return message.encode(unprotected={})


def verify_statement(data: bytes, *, max_bytes: int = MAX_STATEMENT_BYTES) -> Statement:
    """The checklist above; :class:`StatementError` at the first failing step."""
    # 1. Size and shape.
    if len(data) > max_bytes:
        raise StatementError(Reason.TOO_LARGE, f"a statement is at most {max_bytes} bytes")
    try:
        message = decode_sign1(data)
    except CoseError as exc:
        raise StatementError(Reason.MALFORMED, f"not a COSE_Sign1 statement: {exc}") from None
    if message.payload is None:
        raise StatementError(Reason.MALFORMED, "the payload is detached; register it attached")
    protected = message.protected
    # 2. Algorithm and critical labels.
    alg = protected.get(HDR_ALG)
    if not isinstance(alg, int) or isinstance(alg, bool) or alg not in ALGORITHMS:
        names = ", ".join(sorted(set(ALGORITHMS.values())))
        raise StatementError(
            Reason.UNSUPPORTED_ALGORITHM, f"alg must be one of {names} in the protected header"
        )
    _check_crit(protected.get(HDR_CRIT))
    claims = _claims(protected.get(HDR_CWT_CLAIMS))
    kid = protected.get(HDR_KID)
    if kid is not None and not isinstance(kid, bytes):
        raise StatementError(Reason.MALFORMED, "kid must be a byte string")
    # 3-4. The key, then the signature under it.
    to_be_signed = message.to_be_signed()
    key, source = _carried_key(protected, claims)
    if key is not None:
        if not key.fits(alg):
            raise StatementError(
                Reason.KEY_MISMATCH, f"the {source} key does not sign {ALGORITHMS[alg]}"
            )
        named = _address_named(kid, claims) if alg == ES256K else None
        if named is not None and named != key.address():
            raise StatementError(Reason.KEY_MISMATCH, "kid names another address than the key")
        if not key.verify(alg, to_be_signed, message.signature):
            raise StatementError(Reason.BAD_SIGNATURE, "the signature does not verify")
    elif alg == ES256K:
        key, source = _recovered_key(to_be_signed, message.signature, kid, claims), "kid"
    else:
        raise StatementError(
            Reason.NO_KEY,
            "the protected header carries no key: x5chain (33) or a CWT cnf COSE_Key, "
            "or for ES256K an address in kid",
        )
    return Statement(
        message=message,
        alg=alg,
        key=key,
        key_source=source,
        issuer=_text(claims.get(CWT_ISS), "iss") or _text(protected.get(HDR_SCITT_ISSUER), "iss"),
        subject=_text(claims.get(CWT_SUB), "sub") or _text(protected.get(HDR_SCITT_FEED), "sub"),
        content_type=_content_type(protected.get(HDR_CONTENT_TYPE)),
        kid=kid,
    )


def _check_crit(crit: object) -> None:
    if crit is None:
        return
    if not isinstance(crit, list) or not crit:
        raise StatementError(Reason.MALFORMED, "crit must be a non-empty array of labels")
    unknown = [label for label in crit if label not in UNDERSTOOD]
    if unknown:
        raise StatementError(Reason.MALFORMED, f"critical header labels not understood: {unknown}")


def _claims(value: object) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StatementError(Reason.MALFORMED, "CWT claims (15) must be a map")
    return value


def _carried_key(protected: dict[Any, Any], claims: dict[Any, Any]) -> tuple[CoseKey | None, str]:
    chain = protected.get(HDR_X5CHAIN)
    try:
        if chain is not None:
            leaf = chain[0] if isinstance(chain, list) and chain else chain
            if not isinstance(leaf, bytes) or (
                isinstance(chain, list) and not all(isinstance(cert, bytes) for cert in chain)
            ):
                raise StatementError(Reason.MALFORMED, "x5chain must be certificates (bstr)")
            return CoseKey.from_certificate(leaf), "x5chain"
        cnf = claims.get(CWT_CNF)
        if cnf is not None:
            if not isinstance(cnf, dict) or CNF_COSE_KEY not in cnf:
                raise StatementError(Reason.MALFORMED, "cnf must hold a COSE_Key (label 1)")
            return CoseKey.from_map(cnf[CNF_COSE_KEY]), "cnf"
    except BadKey as exc:
        raise StatementError(Reason.UNSUPPORTED_ALGORITHM, str(exc)) from None
    return None, ""


def _address_named(kid: bytes | None, claims: dict[Any, Any]) -> str | None:
    """The address a statement names in ``kid`` (20 bytes, or ``0x…`` text) or else ``iss``."""
    try:
        if kid is not None and len(kid) == 20:
            return address_of_issuer("0x" + kid.hex())
        if kid is not None and _ADDRESS_TEXT.fullmatch(kid):
            return address_of_issuer(kid.decode("ascii"))
        if kid is None:
            return address_of_issuer(claims.get(CWT_ISS))
    except CryptoError as exc:
        raise StatementError(Reason.MALFORMED, f"kid or iss: {exc}") from None
    return None


def _recovered_key(
    to_be_signed: bytes, signature: bytes, kid: bytes | None, claims: dict[Any, Any]
) -> CoseKey:
    address = _address_named(kid, claims)
    if address is None:
        raise StatementError(
            Reason.NO_KEY, "an ES256K statement without a key names its address in kid or iss"
        )
    try:
        candidates = es256k_recover_candidates(to_be_signed, signature)
    except CryptoError:
        candidates = []
    for public_key in candidates:
        key = CoseKey.from_secp256k1(public_key)
        if key.address() == address:
            return key
    raise StatementError(Reason.BAD_SIGNATURE, f"the signature is not by {address}")


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise StatementError(Reason.MALFORMED, f"{what} must be text")
    return value


def _content_type(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f"coap/{value}"  # a CoAP Content-Format number
    raise StatementError(Reason.MALFORMED, "content type (3) must be text or a number")
