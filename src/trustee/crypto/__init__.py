"""Sharp tools: pure cryptographic primitives and encodings, no I/O.

Most callers want the recipes built on these (:mod:`trustee.tokens`, :mod:`trustee.custody`,
:mod:`trustee.ledger`). Curve arithmetic and ciphers come from libsecp256k1 (coincurve) and
pyca/cryptography; what lives here is the glue that Ethereum and JOSE formats need, each piece
checked against published vectors and a second library in the tests.
"""

from trustee.crypto.errors import CryptoError

__all__ = ["CryptoError"]
