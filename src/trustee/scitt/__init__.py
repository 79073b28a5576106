"""SCITT for recipients and issuers: signed statements, COSE receipts, offline verification.

Pure functions over bytes, no server and no storage, as :mod:`trustee.tokens` is::

    from trustee.scitt import parse_key_set, verify_transparent_statement

    keys = parse_key_set(open("scitt-keys.cbor", "rb").read())   # /.well-known/scitt-keys
    checked = verify_transparent_statement(open("statement.cose", "rb").read(), keys)
    print(checked.statement.issuer, [r.leaf_index for r in checked.receipts])

Everything raises a ``ValueError`` subclass saying why on bad input: :class:`StatementError`
(with a :class:`Reason`) for statements, :class:`ReceiptError` for receipts.
"""

from trustee.scitt.cose import CoseError, Sign1, decode_sign1
from trustee.scitt.keys import ALGORITHMS, CoseKey
from trustee.scitt.receipt import (
    ReceiptCheck,
    ReceiptError,
    TransparentCheck,
    build_receipt,
    key_set_bytes,
    parse_key_set,
    split_transparent_statement,
    transparent_statement,
    verify_receipt,
    verify_transparent_statement,
)
from trustee.scitt.sign import sign_statement
from trustee.scitt.statement import (
    Reason,
    Statement,
    StatementError,
    entry_of,
    verify_statement,
)

__all__ = [
    "ALGORITHMS",
    "CoseError",
    "CoseKey",
    "Reason",
    "ReceiptCheck",
    "ReceiptError",
    "Sign1",
    "Statement",
    "StatementError",
    "TransparentCheck",
    "build_receipt",
    "decode_sign1",
    "entry_of",
    "key_set_bytes",
    "parse_key_set",
    "sign_statement",
    "split_transparent_statement",
    "transparent_statement",
    "verify_receipt",
    "verify_statement",
    "verify_transparent_statement",
]
