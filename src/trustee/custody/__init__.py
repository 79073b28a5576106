"""Custody: the barrier (seal, unseal, envelope encryption) and the trustees it protects.

Private keys are stored only as AES-256-GCM ciphertexts under the barrier key, each bound to
its trustee's name and address; they are decrypted inside one operation and never returned.
"""

from trustee.custody.barrier import Barrier, SealStatus
from trustee.custody.trustees import TrusteeService

__all__ = ["Barrier", "SealStatus", "TrusteeService"]
