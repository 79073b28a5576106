"""The service's receipt key: P-256 (ES256), made on first use, kept sealed by the barrier.

Made, sealed and loaded as the log's checkpoint key is (:mod:`trustee.ledger.log`): one row,
the private key encrypted under the barrier key with its own associated data, so a sealed
server cannot sign receipts. ES256 because every COSE receipt verifier reads it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.exc import IntegrityError

from trustee.crypto.errors import CryptoError
from trustee.custody.barrier import Barrier
from trustee.scitt.keys import ES256, CoseKey, sign
from trustee.storage import Database
from trustee.storage.schema_scitt import scitt_receipt_key as key_t

__all__ = ["RECEIPT_KEY_AAD", "ReceiptKey"]

RECEIPT_KEY_AAD = b"trustee:scitt-receipt-key:v1"
_SIGNATURES = 256
"""Signatures kept by message. Every receipt at one tree size signs the same bytes (the
protected header and the root; the proof is unprotected) when its claims are equal, as for the
statements of one batch with one subject: one signature serves them all."""


class ReceiptKey:
    """Signs receipts; safe to share between threads."""

    alg = ES256

    def __init__(self, db: Database, barrier: Barrier, *, clock: Callable[[], float] = time.time):
        self._db = db
        self._barrier = barrier
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: tuple[ec.EllipticCurvePrivateKey, CoseKey] | None = None
        self._kid: tuple[CoseKey, bytes] | None = None
        self._signatures: OrderedDict[bytes, bytes] = OrderedDict()

    @property
    def public(self) -> CoseKey:
        return self._key()[1]

    @property
    def kid(self) -> bytes:
        public = self.public
        known = self._kid
        if known is None or known[0] is not public:
            known = self._kid = (public, public.thumbprint())
        return known[1]

    def sign(self, message: bytes) -> bytes:
        """An ES256 signature of ``message``; the same one for the same message while it is
        among the last few signed (:data:`_SIGNATURES`)."""
        private = self._key()[0]  # refuses when sealed, whatever is remembered
        with self._lock:
            signature = self._signatures.get(message)
        if signature is not None:
            return signature
        signature = sign(ES256, private, message)
        with self._lock:
            self._signatures[message] = signature
            while len(self._signatures) > _SIGNATURES:
                self._signatures.popitem(last=False)
        return signature

    def _key(self) -> tuple[ec.EllipticCurvePrivateKey, CoseKey]:
        if self._barrier.sealed:
            self._loaded = None  # sealing puts the key away with the barrier's
            self._signatures.clear()
            self._barrier.check_unsealed()
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._barrier.check_unsealed()
                row = self._load()
                if row is None:
                    self._create()
                    row = self._load()
                    assert row is not None
                der = self._barrier.decrypt(row.sealed_private, RECEIPT_KEY_AAD)
                private = serialization.load_der_private_key(der, None)
                if not isinstance(private, ec.EllipticCurvePrivateKey):
                    raise CryptoError("the stored receipt key is not an EC key")
                public = CoseKey.from_public_key(private.public_key())
                if b"\x04" + public.x + public.y != bytes(row.public_key):
                    raise CryptoError("the stored receipt key does not match its public key")
                self._loaded = (private, public)
        return self._loaded

    def _create(self) -> None:
        private = ec.generate_private_key(ec.SECP256R1())
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        try:
            with self._db.begin() as conn:
                conn.execute(
                    sa.insert(key_t).values(
                        id=1,
                        public_key=public,
                        sealed_private=self._barrier.encrypt(der, RECEIPT_KEY_AAD),
                        created_time=self._clock(),
                    )
                )
        except IntegrityError:
            pass  # another process made it first: use theirs

    def _load(self) -> Any:
        with self._db.connect() as conn:
            return conn.execute(sa.select(key_t).where(key_t.c.id == 1)).first()
