"""SCITT for recipients and issuers: signed statements, COSE receipts, offline verification.

Pure functions over bytes, no server and no storage, as :mod:`trustee.tokens` is::

    from trustee.scitt import parse_key_set, verify_transparent_statement

    keys = parse_key_set(open("scitt-keys.cbor", "rb").read())   # /.well-known/scitt-keys
    checked = verify_transparent_statement(open("statement.cose", "rb").read(), keys)
    print(checked.statement.issuer, [r.leaf_index for r in checked.receipts])

Issuers sign with a PEM key file the same way the ``trustee scitt sign --key`` command does::

    from trustee.scitt import load_signing_key

    key = load_signing_key(open("device.pem", "rb").read())   # Ed25519, P-256, P-384, secp256k1
    statement = key.sign_statement(b'{"temp_c": 71.5}', content_type="application/json")

Everything raises a ``ValueError`` subclass saying why on bad input: :class:`StatementError`
(with a :class:`Reason`) for statements, :class:`ReceiptError` for receipts, :class:`BadKey`
for key files.
"""

from trustee.scitt.check import Verdict, verdict_of
from trustee.scitt.cose import CoseError, Sign1, decode_sign1
from trustee.scitt.keys import ALGORITHMS, BadKey, CoseKey
from trustee.scitt.pem import SigningKey, load_signing_key, load_verifying_key
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
    "BadKey",
    "CoseError",
    "CoseKey",
    "Reason",
    "ReceiptCheck",
    "ReceiptError",
    "Sign1",
    "SigningKey",
    "Statement",
    "StatementError",
    "TransparentCheck",
    "Verdict",
    "build_receipt",
    "decode_sign1",
    "entry_of",
    "key_set_bytes",
    "load_signing_key",
    "load_verifying_key",
    "parse_key_set",
    "sign_statement",
    "split_transparent_statement",
    "transparent_statement",
    "verdict_of",
    "verify_receipt",
    "verify_statement",
    "verify_transparent_statement",
]
