"""The barrier: everything secret in storage is encrypted under a key that lives only in memory.

Two levels, as in HashiCorp Vault:

* the *unseal key* (32 random bytes) is split by Shamir into ``secret_shares`` shares, any
  ``secret_threshold`` of which rebuild it; it is never stored, only handed out as shares;
* it seals (AES-256-GCM, associated data ``trustee:barrier-key:v1``) a random 32-byte
  *barrier key*, kept in the ``barrier`` row; the barrier key encrypts the data.

While sealed, the barrier key is not in memory and :meth:`Barrier.encrypt` and
:meth:`Barrier.decrypt` raise :class:`~trustee.errors.Sealed`. Unsealing collects shares until
the threshold, rebuilds the unseal key, and opens the barrier key; sealing overwrites it.
Shares and keys never appear in messages or reprs.
"""

import hashlib
import hmac
import os
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from trustee.crypto import aead, shamir
from trustee.crypto.encoding import hex_decode
from trustee.crypto.errors import CryptoError
from trustee.errors import InvalidRequest, NotInitialized, Sealed
from trustee.secret import Secret
from trustee.storage import Database
from trustee.storage.schema import barrier as barrier_table

BARRIER_KEY_AAD = b"trustee:barrier-key:v1"
KEY_SIZE = 32
MAX_SHARES = 10
SEALED_MESSAGE = "trustee is sealed"
_UNSEAL_FAILED = "unseal failed: the shares do not open the barrier"


@dataclass(frozen=True)
class SealStatus:
    """What ``sys/seal-status`` reports: ``t`` of ``n`` shares needed, ``progress`` given."""

    initialized: bool
    sealed: bool
    t: int
    n: int
    progress: int


@dataclass(frozen=True)
class _Config:
    shares: int
    threshold: int
    sealed_barrier_key: bytes

    def __repr__(self) -> str:
        return f"_Config(shares={self.shares}, threshold={self.threshold})"


class Barrier:
    """Seal state and envelope encryption over one database. Safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.RLock()
        self._key: bytearray | None = None
        self._progress: list[bytearray] = []
        self._config: _Config | None = None  # cached once seen: initialisation is forever

    def __repr__(self) -> str:
        return f"<Barrier sealed={self.sealed}>"

    # -- state ---------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return self._load_config() is not None

    @property
    def sealed(self) -> bool:
        return self._key is None

    def status(self) -> SealStatus:
        with self._lock:
            config = self._load_config()
            if config is None:
                return SealStatus(initialized=False, sealed=True, t=0, n=0, progress=0)
            return SealStatus(
                initialized=True,
                sealed=self._key is None,
                t=config.threshold,
                n=config.shares,
                progress=len(self._progress),
            )

    # -- initialisation ------------------------------------------------------------------

    def initialize(self, secret_shares: int, secret_threshold: int) -> list[str]:
        """Create the keys and return the unseal shares as hex, the only time they exist.

        The barrier stays sealed: the caller unseals with the shares it was given.
        """
        _check_share_config(secret_shares, secret_threshold)
        with self._lock:
            if self._load_config() is not None:
                raise InvalidRequest("trustee is already initialized")
            unseal_key = bytearray(os.urandom(KEY_SIZE))
            barrier_key = bytearray(os.urandom(KEY_SIZE))
            try:
                sealed_key = aead.seal(unseal_key, barrier_key, BARRIER_KEY_AAD)
                shares = shamir.split(bytes(unseal_key), secret_shares, secret_threshold)
            finally:
                _wipe(unseal_key)
                _wipe(barrier_key)
            try:
                with self._db.begin() as conn:
                    conn.execute(
                        sa.insert(barrier_table).values(
                            id=1,
                            secret_shares=secret_shares,
                            secret_threshold=secret_threshold,
                            sealed_barrier_key=sealed_key,
                            created_time=time.time(),
                        )
                    )
            except sa.exc.IntegrityError:  # another replica initialised first
                raise InvalidRequest("trustee is already initialized") from None
            self._config = _Config(secret_shares, secret_threshold, sealed_key)
            return [share.hex() for share in shares]

    # -- unsealing -----------------------------------------------------------------------

    def unseal(self, share_hex: str | Secret) -> SealStatus:
        """Add one share; at the threshold, rebuild the unseal key and open the barrier.

        A share already given is ignored. When the shares do not open the barrier, the
        progress is reset and :class:`InvalidRequest` raised, naming no share.
        """
        with self._lock:
            config = self._require_config()
            if self._key is not None:
                return self.status()
            share = _parse_share(share_hex, config)
            if any(hmac.compare_digest(share, given) for given in self._progress):
                _wipe(share)
                return self.status()
            self._progress.append(share)
            if len(self._progress) < config.threshold:
                return self.status()
            try:
                if config.threshold == 1:
                    unseal_key = bytearray(self._progress[0])
                else:
                    unseal_key = bytearray(shamir.combine([bytes(p) for p in self._progress]))
            except CryptoError:
                self.reset_unseal_progress()
                raise InvalidRequest(_UNSEAL_FAILED) from None
            try:
                self._open(unseal_key, config)
            finally:
                _wipe(unseal_key)
                self.reset_unseal_progress()
            return self.status()

    def unseal_with_key(self, unseal_key: bytes | bytearray | Secret) -> SealStatus:
        """Unseal in one step with the whole unseal key (auto-unseal from a file or variable)."""
        with self._lock:
            config = self._require_config()
            if self._key is None:
                key = unseal_key.reveal() if isinstance(unseal_key, Secret) else unseal_key
                if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
                    raise InvalidRequest(f"an unseal key is {KEY_SIZE} bytes")
                self.reset_unseal_progress()
                self._open(bytearray(key), config)
            return self.status()

    def reset_unseal_progress(self) -> None:
        with self._lock:
            for share in self._progress:
                _wipe(share)
            self._progress = []

    def seal(self) -> None:
        """Forget the barrier key (overwriting it) and any unseal progress."""
        with self._lock:
            if self._key is not None:
                _wipe(self._key)
                self._key = None
            self.reset_unseal_progress()

    # -- envelope encryption -------------------------------------------------------------

    def check_unsealed(self) -> None:
        """Raise :class:`Sealed` now, before work that would need the barrier later."""
        if self._key is None:
            raise Sealed(SEALED_MESSAGE)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM under the barrier key, bound to ``aad``; :class:`Sealed` when sealed."""
        with self._lock:
            return aead.seal(self._require_key(), plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Open a blob from :meth:`encrypt`; :class:`CryptoError` if it or ``aad`` was altered."""
        with self._lock:
            return aead.open_sealed(self._require_key(), blob, aad)

    def subkey(self, label: bytes) -> bytes:
        """A 32-byte key for one purpose (``label``), derived from the barrier key: the same on
        every replica of one deployment, unknown to anyone without the unseal shares."""
        with self._lock:
            key = bytes(self._require_key())
        return hmac.new(key, b"trustee:subkey:" + label, hashlib.sha256).digest()

    # -- internals -----------------------------------------------------------------------

    def _open(self, unseal_key: bytearray, config: _Config) -> None:
        try:
            barrier_key = aead.open_sealed(unseal_key, config.sealed_barrier_key, BARRIER_KEY_AAD)
        except CryptoError:
            raise InvalidRequest(_UNSEAL_FAILED) from None
        finally:
            _wipe(unseal_key)
        self._key = bytearray(barrier_key)
        del barrier_key

    def _require_key(self) -> bytearray:
        if self._key is None:
            raise Sealed(SEALED_MESSAGE)
        return self._key

    def _require_config(self) -> _Config:
        config = self._load_config()
        if config is None:
            raise NotInitialized("trustee is not initialized")
        return config

    def _load_config(self) -> _Config | None:
        if self._config is None:
            with self._db.connect() as conn:
                row = conn.execute(
                    sa.select(
                        barrier_table.c.secret_shares,
                        barrier_table.c.secret_threshold,
                        barrier_table.c.sealed_barrier_key,
                    ).where(barrier_table.c.id == 1)
                ).first()
            if row is not None:
                self._config = _Config(row[0], row[1], bytes(row[2]))
        return self._config


def _check_share_config(shares: object, threshold: object) -> None:
    if not _is_int(shares) or not _is_int(threshold):
        raise InvalidRequest("secret_shares and secret_threshold must be integers")
    if not 1 <= shares <= MAX_SHARES:
        raise InvalidRequest(f"secret_shares must be between 1 and {MAX_SHARES}")
    if not 1 <= threshold <= shares:
        raise InvalidRequest("secret_threshold must be between 1 and secret_shares")
    if threshold == 1 and shares > 1:
        raise InvalidRequest("secret_threshold must be at least 2 when secret_shares is above 1")


def _parse_share(share_hex: str | Secret, config: _Config) -> bytearray:
    text = share_hex.reveal() if isinstance(share_hex, Secret) else share_hex
    if isinstance(text, bytes | bytearray):
        raise InvalidRequest("an unseal key share is a hex string")
    try:
        share = bytearray(hex_decode(text.strip() if isinstance(text, str) else text))
    except CryptoError:
        raise InvalidRequest("an unseal key share is a hex string") from None
    expected = KEY_SIZE if config.shares == 1 else KEY_SIZE + 1
    if len(share) != expected:
        _wipe(share)
        raise InvalidRequest(f"an unseal key share is {expected} bytes ({2 * expected} hex digits)")
    return share


def _wipe(buffer: bytearray) -> None:
    for index in range(len(buffer)):
        buffer[index] = 0


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
