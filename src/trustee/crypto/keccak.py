"""Keccak-256 as Ethereum uses it.

This is the original Keccak submission, not NIST SHA3-256 (``hashlib.sha3_256``), which
differs in padding and gives different digests.
"""

from sha3 import keccak_256 as _keccak_256


def keccak256(data: bytes) -> bytes:
    digest: bytes = _keccak_256(data).digest()  # safe-pysha3 ships no hints
    return digest
