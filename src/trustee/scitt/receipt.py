"""RFC 9942 COSE receipts over the RFC 9162 log, transparent statements, COSE key sets.

A receipt is a COSE_Sign1 by the service's receipt key:

* protected: ``alg`` (1), ``kid`` (4) = the key's RFC 9679 thumbprint, ``vds`` (395) = 1
  (RFC9162_SHA256), CWT claims (15): ``iss`` the log's origin, ``sub`` the statement's subject
  when it has one, ``iat`` the registration time;
* unprotected: ``vdp`` (396) ``{-1: [bstr .cbor [tree_size, leaf_index, inclusion_path]]}``;
* payload: detached (nil); the signature covers the tree root at ``tree_size``, which the
  verifier recomputes from the entry (:func:`~trustee.scitt.statement.entry_of`) and the path.
  That root is the root of the log's C2SP checkpoint of the same size.

A transparent statement is the statement with its receipts in unprotected label 394, as an
array of byte strings each holding one receipt. Verification here needs no server: the key
set (``/.well-known/scitt-keys``, or any copy of it) and the bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trustee.ledger import merkle
from trustee.scitt import cbor
from trustee.scitt.cose import (
    HDR_ALG,
    HDR_CWT_CLAIMS,
    HDR_KID,
    CoseError,
    Sign1,
    decode_sign1,
    make_sign1,
    sign1_of,
)
from trustee.scitt.keys import KEY_KID, BadKey, CoseKey
from trustee.scitt.statement import (
    CWT_IAT,
    CWT_ISS,
    CWT_SUB,
    Statement,
    StatementError,
    entry_of,
    verify_statement,
)

__all__ = [
    "HDR_RECEIPTS",
    "HDR_VDP",
    "HDR_VDS",
    "KeySet",
    "ReceiptCheck",
    "ReceiptError",
    "TransparentCheck",
    "build_receipt",
    "key_set_bytes",
    "parse_key_set",
    "transparent_statement",
    "verify_receipt",
    "verify_transparent_statement",
]

HDR_RECEIPTS, HDR_VDS, HDR_VDP = 394, 395, 396
VDS_RFC9162_SHA256 = 1
VDP_INCLUSION = -1
MAX_RECEIPTS = 16

KeySet = Mapping[bytes, CoseKey]
"""Receipt keys by ``kid`` (RFC 9679 thumbprint)."""


class ReceiptError(ValueError):
    """A receipt that does not prove what it says (or is not a receipt)."""


@dataclass(frozen=True)
class ReceiptCheck:
    """What a verified receipt proves: the entry is leaf ``leaf_index`` of the tree of
    ``tree_size`` leaves whose root is ``root``, signed by the key ``kid``."""

    tree_size: int
    leaf_index: int
    root: bytes
    kid: bytes
    issuer: str | None
    issued_at: int | None


@dataclass(frozen=True)
class TransparentCheck:
    statement: Statement
    receipts: list[ReceiptCheck]


def build_receipt(
    *,
    tree_size: int,
    leaf_index: int,
    path: Sequence[bytes],
    root: bytes,
    alg: int,
    kid: bytes,
    sign: Callable[[bytes], bytes],
    issuer: str | None = None,
    subject: str | None = None,
    issued_at: int | None = None,
) -> bytes:
    """A receipt for leaf ``leaf_index`` at ``tree_size``; ``sign`` signs with the receipt key."""
    claims: dict[int, Any] = {}
    if issuer is not None:
        claims[CWT_ISS] = issuer
    if subject is not None:
        claims[CWT_SUB] = subject
    if issued_at is not None:
        claims[CWT_IAT] = issued_at
    protected: dict[int, Any] = {HDR_ALG: alg, HDR_KID: kid, HDR_VDS: VDS_RFC9162_SHA256}
    if claims:
        protected[HDR_CWT_CLAIMS] = claims
    proof = cbor.encode([tree_size, leaf_index, list(path)])
    unprotected = {HDR_VDP: {VDP_INCLUSION: [proof]}}
    return make_sign1(protected, root, sign, unprotected=unprotected, detached=True)


def verify_receipt(receipt: bytes | Sign1, entry: bytes, keys: KeySet) -> ReceiptCheck:
    """Check ``receipt`` for the statement entry ``entry`` under ``keys``; raise
    :class:`ReceiptError` saying why not."""
    try:
        message = receipt if isinstance(receipt, Sign1) else decode_sign1(receipt)
    except CoseError as exc:
        raise ReceiptError(f"not a receipt: {exc}") from None
    protected = message.protected
    if protected.get(HDR_VDS) != VDS_RFC9162_SHA256:
        raise ReceiptError("not an RFC9162_SHA256 receipt (protected 395 must be 1)")
    if message.payload is not None:
        raise ReceiptError("a receipt's payload (the root) must be detached")
    kid = protected.get(HDR_KID)
    key = keys.get(kid) if isinstance(kid, bytes) else None
    if key is None or not isinstance(kid, bytes):
        raise ReceiptError("the receipt's kid names no key of the key set")
    alg = protected.get(HDR_ALG)
    if not isinstance(alg, int) or not key.fits(alg):
        raise ReceiptError("the receipt's alg does not fit its key")
    tree_size, leaf_index, path = _inclusion(message.unprotected)
    try:
        root = merkle.root_from_inclusion_proof(
            merkle.leaf_hash(entry), leaf_index, tree_size, path
        )
    except merkle.ProofError as exc:
        raise ReceiptError(f"inclusion proof: {exc}") from None
    if not key.verify(alg, message.to_be_signed(root), message.signature):
        raise ReceiptError("the receipt's signature does not verify for this entry")
    claims = protected.get(HDR_CWT_CLAIMS)
    claims = claims if isinstance(claims, dict) else {}
    issuer, issued_at = claims.get(CWT_ISS), claims.get(CWT_IAT)
    return ReceiptCheck(
        tree_size=tree_size,
        leaf_index=leaf_index,
        root=root,
        kid=kid,
        issuer=issuer if isinstance(issuer, str) else None,
        issued_at=issued_at if isinstance(issued_at, int) else None,
    )


def _inclusion(unprotected: dict[Any, Any]) -> tuple[int, int, list[bytes]]:
    vdp = unprotected.get(HDR_VDP)
    proofs = vdp.get(VDP_INCLUSION) if isinstance(vdp, dict) else None
    if not isinstance(proofs, list) or len(proofs) != 1 or not isinstance(proofs[0], bytes):
        raise ReceiptError("a receipt holds one inclusion proof at unprotected 396 → -1")
    try:
        proof = cbor.decode(proofs[0])
    except cbor.CBORError as exc:
        raise ReceiptError(f"inclusion proof: {exc}") from None
    if not (isinstance(proof, list) and len(proof) == 3):
        raise ReceiptError("an inclusion proof is [tree_size, leaf_index, inclusion_path]")
    tree_size, leaf_index, path = proof
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (tree_size, leaf_index)):
        raise ReceiptError("tree_size and leaf_index must be integers")
    if not isinstance(path, list) or not all(isinstance(h, bytes) and len(h) == 32 for h in path):
        raise ReceiptError("an inclusion path is an array of 32-byte hashes")
    if len(path) > 64:
        raise ReceiptError("an inclusion path has at most 64 hashes")
    return tree_size, leaf_index, path


# -- transparent statements ------------------------------------------------------------------


def transparent_statement(statement: bytes | Sign1, receipts: Iterable[bytes]) -> bytes:
    """The statement with ``receipts`` in unprotected label 394 (other labels kept)."""
    message = statement if isinstance(statement, Sign1) else decode_sign1(statement)
    header = {**message.unprotected, HDR_RECEIPTS: list(receipts)}
    return message.encode(unprotected=header)


def split_transparent_statement(data: bytes) -> tuple[Sign1, list[Sign1]]:
    """The statement and its receipts. Receipts are read as byte strings (RFC 9942) or, as
    some clients embed them, as COSE_Sign1 values."""
    try:
        message = decode_sign1(data)
    except CoseError as exc:
        raise ReceiptError(f"not a transparent statement: {exc}") from None
    found = message.unprotected.get(HDR_RECEIPTS)
    if not isinstance(found, list) or not found or len(found) > MAX_RECEIPTS:
        raise ReceiptError("a transparent statement holds 1 to 16 receipts at unprotected 394")
    receipts = []
    for item in found:
        try:
            receipts.append(decode_sign1(item) if isinstance(item, bytes) else sign1_of(item))
        except CoseError as exc:
            raise ReceiptError(f"receipt: {exc}") from None
    return message, receipts


def verify_transparent_statement(data: bytes, keys: KeySet) -> TransparentCheck:
    """The statement's own signature (:func:`verify_statement`) and every receipt in it."""
    message, receipts = split_transparent_statement(data)
    entry = entry_of(message)
    try:
        statement = verify_statement(entry)
    except StatementError as exc:
        raise ReceiptError(f"statement: {exc.message}") from None
    return TransparentCheck(statement, [verify_receipt(r, entry, keys) for r in receipts])


# -- key sets -------------------------------------------------------------------------------


def key_set_bytes(keys: Iterable[tuple[CoseKey, int]]) -> bytes:
    """A COSE_KeySet (an array of COSE_Key maps), each with its ``kid`` and ``alg``."""
    return cbor.encode([key.to_map(kid=key.thumbprint(), alg=alg) for key, alg in keys])


def parse_key_set(data: bytes | list[Any] | dict[Any, Any]) -> dict[bytes, CoseKey]:
    """Keys by ``kid`` from a COSE_KeySet (bytes or decoded) or from one COSE_Key.

    A key's ``kid`` must be its RFC 9679 thumbprint, which is recomputed: a key set cannot
    give a key another key's name.
    """
    try:
        value = cbor.decode(data) if isinstance(data, bytes) else data
    except cbor.CBORError as exc:
        raise ReceiptError(f"key set: {exc}") from None
    items = value if isinstance(value, list) else [value]
    keys: dict[bytes, CoseKey] = {}
    for item in items:
        try:
            key = CoseKey.from_map(item)
        except BadKey as exc:
            raise ReceiptError(f"key set: {exc}") from None
        kid = item.get(KEY_KID) if isinstance(item, dict) else None
        if kid is not None and kid != key.thumbprint():
            raise ReceiptError("key set: a kid is not its key's RFC 9679 thumbprint")
        keys[key.thumbprint()] = key
    return keys
