"""A tiny RFC 9162 reference, written from the RFC's text and sharing nothing with trustee.

§2.1.1 defines the tree hash (MTH) recursively; §2.1.3.1 the inclusion path (PATH); §2.1.4.1
the consistency proof (PROOF / SUBPROOF); §2.1.3.2 and §2.1.4.2 the verification algorithms,
step by step. Subtree hashes are memoised by leaf range, which keeps it usable at 10⁵ leaves.
"""

import functools
import hashlib


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """MTH, PATH and PROOF over a list of entries, exactly as the RFC recurses."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self._mth = functools.cache(self._hash)

    def mth(self, lo: int, hi: int) -> bytes:
        return self._mth(lo, hi)

    def root(self, n: int) -> bytes:
        return self.mth(0, n)

    def _hash(self, lo: int, hi: int) -> bytes:
        if hi == lo:
            return hashlib.sha256(b"").digest()
        if hi - lo == 1:
            return leaf(self.entries[lo])
        k = _split(hi - lo)
        return node(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def path(self, m: int, n: int, lo: int = 0) -> list[bytes]:
        """PATH(m, D[lo:lo+n])."""
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self.path(m, k, lo), self.mth(lo + k, lo + n)]
        return [*self.path(m - k, n - k, lo + k), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[0:n]) for 0 < m < n."""
        return self._subproof(m, n, 0, True)

    def _subproof(self, m: int, n: int, lo: int, b: bool) -> list[bytes]:
        if m == n:
            return [] if b else [self.mth(lo, lo + n)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, k, lo, b), self.mth(lo + k, lo + n)]
        return [*self._subproof(m - k, n - k, lo + k, False), self.mth(lo, lo + k)]


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, path: list[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 (for 0 < first < second)."""
    if not proof:
        return False
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def root_of(entries: list[bytes]) -> bytes:
    """MTH of the whole list."""
    return Tree(entries).root(len(entries))
