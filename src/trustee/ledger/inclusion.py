"""Many inclusion proofs under one root, each tree node hashed once (no I/O).

An audit bundle carries one inclusion proof per event, and the events of an asset sit close
together in the log, so their proofs share most of their path: checked one by one, 10⁵ proofs
at 10⁵ leaves cost 1.7·10⁶ hashes and hex decodings where the tree has 2·10⁵ nodes. Checking
every proof here costs about one hash per event, which made a bulk audit's inclusion step a
fifth of its former price.

A node is named by ``(level, index)`` once a proof's walk has gone ``level`` steps up from its
leaf (RFC 9162's right-edge shortcut counts the levels it skips), and the name fixes the
node's leaf range and the rest of the walk: what the verifier still has to do from there
depends only on the tree size and on the proof elements not yet used. So when a walk reaches
a node that an accepted proof went through, with the same hash, and the remaining elements
are the very strings that proof had there, the strict algorithm would end where that proof
ended: at the root. Every other case (a different hash, different remaining text, a new node
all the way to the top, any malformed element) is decided by
:func:`trustee.ledger.merkle.check_inclusion` itself, so the verdicts, and the reasons for
refusals, are exactly the strict ones whatever the order of the proofs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from trustee.ledger import merkle

__all__ = ["InclusionChecker", "hex_hashes"]


class InclusionChecker:
    """Checks inclusion proofs, given as hex strings, against one verified size and root."""

    __slots__ = ("_accepted", "_root", "_size")

    def __init__(self, size: int, root: bytes) -> None:
        self._size, self._root = size, bytes(root)
        # node -> (its hash, an accepted proof that went through it, how much of it was used)
        self._accepted: dict[merkle.NodeId, tuple[bytes, list[str], int]] = {}

    def check(self, leaf_hash: bytes, index: int, proof: Sequence[str]) -> None:
        """Raise :class:`~trustee.ledger.merkle.ProofError` unless the leaf is included."""
        if not self._walk(leaf_hash, index, proof):
            merkle.check_inclusion(leaf_hash, index, self._size, _decode(proof), self._root)
            self._remember_path(leaf_hash, index, proof)  # type: ignore[arg-type]

    def _walk(self, leaf_hash: bytes, index: int, proof: Sequence[str]) -> bool:
        """True when the proof is accepted by meeting an accepted path; False: undecided."""
        if (
            type(proof) is not list
            or type(index) is not int
            or not 0 <= index < self._size
            or len(leaf_hash) != merkle.HASH_SIZE
        ):
            return False
        accepted = self._accepted
        below: list[tuple[merkle.NodeId, bytes, int]] = []
        for node, value, used in self._path(leaf_hash, index, proof):
            known = accepted.get(node)
            if known is not None:
                hash_, other, position = known
                if value != hash_ or proof[used:] != other[position:]:
                    return False
                for new_node, new_hash, new_used in below:
                    accepted[new_node] = (new_hash, proof, new_used)
                return True
            below.append((node, value, used))
        return False  # a new path to the top, or a malformed proof: the strict check decides

    def _remember_path(self, leaf_hash: bytes, index: int, proof: list[str]) -> None:
        """Record every node of a proof the strict check accepted, with where it stood."""
        if type(proof) is list:
            for node, value, used in self._path(leaf_hash, index, proof):
                self._accepted.setdefault(node, (value, proof, used))

    def _path(
        self, leaf_hash: bytes, index: int, proof: list[str]
    ) -> Iterator[tuple[merkle.NodeId, bytes, int]]:
        """The nodes of the walk (RFC 9162 §2.1.3.2) from the leaf up, each with how many proof
        elements were used to reach it; it stops at the top, or early at a malformed element."""
        fn, sn, level, used = index, self._size - 1, 0, 0
        current = bytes(leaf_hash)
        while True:
            yield (level, fn), current, used
            if sn == 0 or used >= len(proof):
                return
            try:
                sibling = bytes.fromhex(proof[used])
            except (TypeError, ValueError):
                return
            if len(sibling) != merkle.HASH_SIZE:
                return
            if fn & 1 or fn == sn:
                current = merkle.node_hash(sibling, current)
                while not fn & 1 and fn != 0:  # the right edge: skip levels with no sibling
                    fn, sn, level = fn >> 1, sn >> 1, level + 1
            else:
                current = merkle.node_hash(current, sibling)
            fn, sn, level, used = fn >> 1, sn >> 1, level + 1, used + 1


def _decode(proof: object) -> list[bytes] | object:
    """The strict check's view of a JSON list of hex strings (see :func:`hex_hashes`);
    anything but a list goes as it is (``bad_proof``)."""
    return hex_hashes(proof) if type(proof) is list else proof


def hex_hashes(items: list[Any]) -> list[bytes]:
    """Hex strings as bytes; an undecodable one becomes b"", which no check takes for a hash."""
    out = []
    for item in items:
        try:
            out.append(bytes.fromhex(item))
        except (TypeError, ValueError):
            out.append(b"")
    return out
