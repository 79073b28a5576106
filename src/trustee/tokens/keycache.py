"""Address → parsed public key, so a repeat issuer costs one verify instead of recoveries.

Entries are facts (a key derives its address), never trust: a poisoned entry is impossible
because only keys whose keccak hash gives the address are stored.
"""

import threading

from trustee.crypto.secp256k1 import VerifyingKey


class KeyCache:
    def __init__(self, max_entries: int = 65536) -> None:
        self._entries: dict[str, VerifyingKey] = {}
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, address_lower: str) -> VerifyingKey | None:
        return self._entries.get(address_lower)

    def put(self, address_lower: str, key: VerifyingKey) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                # Evict the oldest insertion; dicts keep insertion order.
                self._entries.pop(next(iter(self._entries)))
            self._entries[address_lower] = key

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


DEFAULT_KEY_CACHE = KeyCache()
