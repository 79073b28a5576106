"""COSE_Sign1 (RFC 9052 §4.2): decoding with every field checked, signing, encoding.

A message is ``18([protected: bstr .cbor header_map, unprotected: header_map, payload: bstr /
nil, signature: bstr])``. The protected header's *bytes* are what the signature covers, so
they are kept exactly as received and never re-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cbor2 import CBORTag

from trustee.scitt import cbor

__all__ = [
    "COSE_SIGN1_TAG",
    "HDR_ALG",
    "HDR_CONTENT_TYPE",
    "HDR_CRIT",
    "HDR_CWT_CLAIMS",
    "HDR_KID",
    "HDR_X5CHAIN",
    "CoseError",
    "Sign1",
    "decode_sign1",
    "sig_structure",
]

COSE_SIGN1_TAG = 18
HDR_ALG, HDR_CRIT, HDR_CONTENT_TYPE, HDR_KID = 1, 2, 3, 4
HDR_CWT_CLAIMS = 15  # RFC 9597
HDR_X5CHAIN = 33  # RFC 9360


class CoseError(ValueError):
    """Not a COSE_Sign1 message of the shape this service reads."""


@dataclass(frozen=True)
class Sign1:
    """One COSE_Sign1: the protected header as received and as read, and the rest."""

    protected_bytes: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any] = field(default_factory=dict)
    payload: bytes | None = None
    signature: bytes = b""

    def to_be_signed(self, payload: bytes | None = None) -> bytes:
        """The Sig_structure over this header and ``payload`` (the attached one by default)."""
        content = self.payload if payload is None else payload
        if content is None:
            raise CoseError("the payload is detached: give it to check the signature")
        return sig_structure(self.protected_bytes, content)

    def encode(self, unprotected: dict[Any, Any] | None = None) -> bytes:
        """The tagged message in deterministic CBOR, with ``unprotected`` when given."""
        header = self.unprotected if unprotected is None else unprotected
        body = [self.protected_bytes, header, self.payload, self.signature]
        return cbor.encode(CBORTag(COSE_SIGN1_TAG, body))

    @property
    def alg(self) -> object:
        return self.protected.get(HDR_ALG)


def sig_structure(protected_bytes: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """RFC 9052 §4.4 ``Sig_structure`` for COSE_Sign1."""
    return cbor.encode(["Signature1", protected_bytes, external_aad, payload])


def decode_sign1(data: bytes) -> Sign1:
    """A tagged COSE_Sign1 from ``data``; :class:`CoseError` naming the first problem."""
    try:
        value = cbor.decode(data)
    except cbor.CBORError as exc:
        raise CoseError(str(exc)) from None
    return sign1_of(value)


def sign1_of(value: object) -> Sign1:
    """A COSE_Sign1 from an already decoded value (a receipt inside a header, say)."""
    if not isinstance(value, CBORTag) or value.tag != COSE_SIGN1_TAG:
        raise CoseError("not a COSE_Sign1 message (CBOR tag 18)")
    body = value.value
    if not isinstance(body, list) or len(body) != 4:
        raise CoseError("a COSE_Sign1 is an array of four items")
    protected_bytes, unprotected, payload, signature = body
    if not isinstance(protected_bytes, bytes):
        raise CoseError("the protected header must be a byte string")
    protected = read_protected(protected_bytes)
    if not isinstance(unprotected, dict):
        raise CoseError("the unprotected header must be a map")
    _check_labels(unprotected, "unprotected")
    if payload is not None and not isinstance(payload, bytes):
        raise CoseError("the payload must be a byte string or nil")
    if not isinstance(signature, bytes):
        raise CoseError("the signature must be a byte string")
    duplicated = set(protected) & set(unprotected)
    if duplicated:
        raise CoseError("a header label appears in both buckets")  # RFC 9052 §3
    return Sign1(protected_bytes, protected, unprotected, payload, signature)


def read_protected(protected_bytes: bytes) -> dict[Any, Any]:
    """The protected header map (an empty byte string is the empty map)."""
    if not protected_bytes:
        return {}
    try:
        protected = cbor.decode(protected_bytes)
    except cbor.CBORError as exc:
        raise CoseError(f"protected header: {exc}") from None
    if not isinstance(protected, dict):
        raise CoseError("the protected header must encode a map")
    _check_labels(protected, "protected")
    return protected


def make_sign1(
    protected: dict[Any, Any],
    payload: bytes,
    signer: Any,
    *,
    unprotected: dict[Any, Any] | None = None,
    detached: bool = False,
) -> bytes:
    """Sign ``payload`` under ``protected`` with ``signer(to_be_signed) -> signature``."""
    protected_bytes = cbor.encode(protected)
    signature = signer(sig_structure(protected_bytes, payload))
    message = Sign1(
        protected_bytes,
        protected,
        unprotected or {},
        None if detached else payload,
        signature,
    )
    return message.encode()


def _check_labels(header: dict[Any, Any], where: str) -> None:
    if not all(isinstance(label, int | str) for label in header):
        raise CoseError(f"{where} header labels must be integers or text")
