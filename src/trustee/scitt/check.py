"""One verdict for what a recipient holds: a transparent statement, or a statement and its
receipt, checked against the service's receipt keys, offline.

:func:`verdict_of` never raises for bad input: a recipient (and ``trustee scitt verify``) gets a
:class:`Verdict` whose ``reason`` is one closed set, the statement's own reasons
(:class:`~trustee.scitt.statement.Reason`) plus those of receipts:

- ``no_receipt``: a statement with no receipt in label 394 and none given beside it;
- ``bad_receipt``: a receipt that is not one, names a key outside the key set, or whose
  inclusion proof and signature do not prove this statement's entry.

The order is the statement's checklist first (its signature, under the key it carries), then
each receipt over the statement's entry (:func:`~trustee.scitt.statement.entry_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trustee.scitt.cose import CoseError, Sign1, decode_sign1
from trustee.scitt.receipt import (
    HDR_RECEIPTS,
    KeySet,
    ReceiptCheck,
    ReceiptError,
    split_transparent_statement,
    verify_receipt,
)
from trustee.scitt.statement import (
    MAX_STATEMENT_BYTES,
    Reason,
    Statement,
    StatementError,
    entry_of,
    verify_statement,
)

__all__ = ["BAD_RECEIPT", "NO_RECEIPT", "Verdict", "verdict_of"]

NO_RECEIPT, BAD_RECEIPT = "no_receipt", "bad_receipt"


@dataclass(frozen=True)
class Verdict:
    """``valid`` with what was proven, or not, with ``reason`` (a code) and ``detail``."""

    valid: bool
    reason: str | None = None
    detail: str = ""
    statement: Statement | None = None
    receipts: list[ReceiptCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``trustee scitt verify --json``)."""
        if not self.valid or self.statement is None:
            return {"valid": False, "reason": self.reason, "detail": self.detail}
        statement = self.statement
        return {
            "valid": True,
            "issuer": statement.issuer,
            "subject": statement.subject,
            "content_type": statement.content_type,
            "algorithm": statement.algorithm,
            "key_source": statement.key_source,
            "address": statement.address,
            "key_thumbprint": statement.key.thumbprint().hex(),
            "receipts": [
                {
                    "tree_size": receipt.tree_size,
                    "leaf_index": receipt.leaf_index,
                    "root": receipt.root.hex(),
                    "kid": receipt.kid.hex(),
                    "issuer": receipt.issuer,
                    "issued_at": receipt.issued_at,
                }
                for receipt in self.receipts
            ],
        }


def verdict_of(data: bytes, keys: KeySet, receipt: bytes | None = None) -> Verdict:
    """Verify ``data``: with ``receipt``, a statement and that receipt (receipts embedded in
    ``data`` are then not read); without, a transparent statement and every receipt in it."""
    if len(data) > MAX_STATEMENT_BYTES + MAX_STATEMENT_BYTES // 4:
        return _refused(Reason.TOO_LARGE, "the statement is larger than a service registers")
    try:
        message = decode_sign1(data)
    except CoseError as exc:
        return _refused(Reason.MALFORMED, f"not a COSE_Sign1 statement: {exc}")
    receipts: list[bytes | Sign1]
    if receipt is not None:
        receipts = [receipt]
    elif HDR_RECEIPTS not in message.unprotected:
        return _refused(
            NO_RECEIPT, "no receipt in the statement (label 394); give the receipt beside it"
        )
    else:
        try:
            message, found = split_transparent_statement(data)
        except ReceiptError as exc:
            return _refused(BAD_RECEIPT, str(exc))
        receipts = list(found)
    entry = entry_of(message)
    try:
        statement = verify_statement(entry)
    except StatementError as exc:
        return _refused(exc.reason, exc.message)
    checked = []
    for one in receipts:
        try:
            checked.append(verify_receipt(one, entry, keys))
        except ReceiptError as exc:
            return _refused(BAD_RECEIPT, str(exc))
    return Verdict(True, statement=statement, receipts=checked)


def _refused(reason: str, detail: str) -> Verdict:
    return Verdict(False, str(reason), detail)
