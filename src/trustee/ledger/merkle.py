"""RFC 9162 Merkle tree hashing, proofs and proof verification, with no I/O.

Hashing is RFC 9162 §2.1.1 with SHA-256: a leaf is ``SHA-256(0x00 ‖ entry)``, an interior node
``SHA-256(0x01 ‖ left ‖ right)``, and the empty tree's root is ``SHA-256("")``.

Storage model
-------------
A log stores only *complete perfect subtrees*. The node id ``(level, index)`` names the root of
the leaves ``[index·2^level, (index+1)·2^level)``. It comes into being when the tree reaches
``(index+1)·2^level`` leaves and never changes afterwards, so a node is written once and read
forever: rows are immutable, cacheable and identical on every replica, and one stored tree
answers for every past size as well as the current one.

Everything else is *ephemeral*: the root of a tree whose size is not a power of two, or a proof
element whose subtree is ragged on the right. Such a hash covers a leaf range ``[begin, end)``
with ``begin`` aligned to a power of two at least ``end - begin``; RFC 9162's MTH splits that
range largest-power-of-two first, so it equals the right-to-left fold of the perfect subtrees
that tile the range (at most one per bit of its length). A *range* below is that list of node
ids, left to right.

Flow (as in transparency-dev/merkle): ``*_node_ids`` says which ids a root or proof needs, pure
arithmetic; the caller fetches them (one query: see :func:`unique_node_ids`); ``root_from_nodes``,
``inclusion_proof`` and ``consistency_proof`` assemble hashes from what was fetched; ``verify_*``
check proofs exactly as RFC 9162 §2.1.3.2 and §2.1.4.2 say. Costs: a root reads popcount(size)
nodes, an inclusion proof fewer than 2·log2(size), appending a batch reads only the root ids of
the old size (:func:`append_node_ids`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeGuard

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_TREE_SIZE = 2**64 - 1
"""RFC 9162 sizes and indices are uint64; anything larger is an input error, not a tree."""

NodeId = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index·2^level, (index+1)·2^level)``."""

NodeSource = Mapping[NodeId, bytes] | Callable[[NodeId], bytes | None]
"""Where assembly functions read node hashes: a mapping (e.g. the rows just fetched), or a
callable returning the hash (``None`` or ``KeyError`` for a missing node)."""

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "MemoryTree",
    "MerkleError",
    "MissingNodeError",
    "NodeId",
    "NodeSource",
    "ProofError",
    "append_node_ids",
    "append_nodes",
    "check_consistency",
    "check_inclusion",
    "consistency_proof",
    "consistency_proof_node_ids",
    "fold_range",
    "inclusion_proof",
    "inclusion_proof_node_ids",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_nodes",
    "root_node_ids",
    "unique_node_ids",
    "verify_consistency",
    "verify_inclusion",
]


class MerkleError(ValueError):
    """Bad input to a tree computation: an index outside the tree, a size out of range."""


class MissingNodeError(MerkleError):
    """A node the computation needs was not supplied: storage is behind or incomplete."""

    def __init__(self, node_id: NodeId) -> None:
        super().__init__(f"node (level={node_id[0]}, index={node_id[1]}) is missing")
        self.node_id = node_id


class ProofError(MerkleError):
    """A proof that does not verify, with a short ``reason`` code and the ``evidence``.

    The evidence (sizes, index, roots and proof as hex) is what an auditor needs to show a
    third party that the log misbehaved, so it travels with the error instead of being lost.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        evidence: dict[str, Any] | Callable[[], dict[str, Any]],
    ) -> None:
        super().__init__(f"{message} ({reason})")
        self.reason = reason
        # A callable is made into the evidence only here, on failure: hexing every proof
        # hash up front cost a third of a bulk audit whose proofs all verify.
        self.evidence = evidence() if callable(evidence) else evidence


# --- hashing -------------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash: the 0x00 prefix keeps a leaf from posing as an interior node."""
    return hashlib.sha256(b"\x00" + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash, ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of a range's perfect subtrees, right to left, into the range's MTH."""
    if not hashes:
        raise MerkleError("an empty range has no hash")
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


# --- node ids (pure arithmetic) ------------------------------------------------------------


def root_node_ids(size: int) -> list[NodeId]:
    """The perfect subtrees that tile a tree of ``size`` leaves, left to right (one per bit)."""
    _check_size(size)
    return _tile(0, size)


def append_node_ids(size_before: int) -> list[NodeId]:
    """The existing nodes that :func:`append_nodes` may read when appending after ``size_before``.

    They are the root ids of the old tree: a new leaf only ever completes parents whose left
    halves are perfect subtrees on that frontier, or nodes created by the same batch. Fetch them
    in one query before appending.
    """
    return root_node_ids(size_before)


def inclusion_proof_node_ids(index: int, size: int) -> list[list[NodeId]]:
    """The ranges whose folded hashes form the inclusion proof of leaf ``index`` at ``size``.

    One range per proof element, bottom up (the order RFC 9162's PATH emits). All but one are a
    single node; the one whose subtree is ragged on the right lists several.
    """
    _check_size(size)
    _check_index(index, size)
    return _subtree_path(index, 0, size)


def consistency_proof_node_ids(first: int, second: int) -> list[list[NodeId]]:
    """The ranges whose folded hashes form the consistency proof from ``first`` to ``second``.

    Empty when there is nothing to prove (``first`` is 0 or equals ``second``). Otherwise the
    proof is the last perfect subtree of the old tree (left out when the old tree is itself
    perfect: the verifier holds its root) followed by that subtree's inclusion path in the new
    tree, which is what RFC 9162's SUBPROOF produces.
    """
    _check_size(first)
    _check_size(second)
    if first > second:
        raise MerkleError(f"first ({first}) is larger than second ({second})")
    if first in (0, second):
        return []
    level = (first & -first).bit_length() - 1
    index = (first >> level) - 1
    path = _subtree_path(index, level, second)
    return [[(level, index)], *path] if index else path


def unique_node_ids(ranges: Iterable[Iterable[NodeId]]) -> list[NodeId]:
    """Every node id the ranges mention, once, in first-seen order: what to fetch."""
    return list(dict.fromkeys(node for group in ranges for node in group))


# --- assembly from fetched nodes -----------------------------------------------------------


def root_from_nodes(size: int, nodes: NodeSource) -> bytes:
    """The RFC 9162 root of the first ``size`` leaves, from the ids of :func:`root_node_ids`."""
    ids = root_node_ids(size)
    if not ids:
        return EMPTY_ROOT
    get = _getter(nodes)
    return fold_range([get(node) for node in ids])


def inclusion_proof(index: int, size: int, nodes: NodeSource) -> list[bytes]:
    """RFC 9162 inclusion proof (PATH) for leaf ``index`` in the tree of ``size`` leaves."""
    get = _getter(nodes)
    return [
        fold_range([get(node) for node in group]) for group in inclusion_proof_node_ids(index, size)
    ]


def consistency_proof(first: int, second: int, nodes: NodeSource) -> list[bytes]:
    """RFC 9162 consistency proof (PROOF) from the tree of ``first`` leaves to ``second``."""
    get = _getter(nodes)
    return [
        fold_range([get(node) for node in group])
        for group in consistency_proof_node_ids(first, second)
    ]


def append_nodes(
    size_before: int, leaf_hashes: Sequence[bytes], nodes: NodeSource
) -> list[tuple[int, int, bytes]]:
    """The ``(level, index, hash)`` nodes that appending ``leaf_hashes`` brings into being.

    Each leaf is a level-0 node; each parent whose right half the batch completes follows it.
    Nothing existing changes, so storage only inserts these rows. ``nodes`` must supply the ids
    of :func:`append_node_ids` (``size_before``); nodes made earlier in the batch are used
    directly. The new root is ``root_from_nodes(size_after, ...)`` over the old frontier plus
    these rows.
    """
    _check_size(size_before)
    if size_before + len(leaf_hashes) > MAX_TREE_SIZE:
        raise MerkleError("the tree would grow beyond 2**64 - 1 leaves")
    get = _getter(nodes)
    made: dict[NodeId, bytes] = {}
    out: list[tuple[int, int, bytes]] = []
    for offset, hash_ in enumerate(leaf_hashes):
        _check_hash(hash_, "leaf hash")
        level, index, current = 0, size_before + offset, bytes(hash_)
        made[(0, index)] = current
        out.append((0, index, current))
        while index & 1:
            sibling = (level, index - 1)
            left = made[sibling] if sibling in made else get(sibling)
            current = node_hash(left, current)
            level, index = level + 1, index >> 1
            made[(level, index)] = current
            out.append((level, index, current))
    return out


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2, step by step) ---------------------------


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` of ``size`` leaves.

    Raises :class:`ProofError` when the proof cannot belong to that position (wrong length,
    index outside the tree, malformed hashes). Comparing the result with a trusted root is
    :func:`check_inclusion`.
    """

    def evidence() -> dict[str, Any]:
        return {
            "index": index,
            "size": size,
            "leaf_hash": _hex(leaf_hash),
            "proof": [_hex(p) for p in proof] if _is_sequence(proof) else repr(proof)[:64],
        }

    _check_proof_inputs(evidence, proof, leaf_hash=leaf_hash)
    if not (_is_int(index) and _is_int(size) and 0 <= size <= MAX_TREE_SIZE):
        raise ProofError("bad_size", "index and size must be integers in uint64 range", evidence)
    # 1. leaf_index >= tree_size fails.
    if not 0 <= index < size:
        raise ProofError("index_out_of_range", "the leaf index is outside the tree", evidence)
    # 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
    fn, sn = index, size - 1
    result = bytes(leaf_hash)
    # 4. For each p in inclusion_path:
    for p in proof:
        # a. sn == 0 fails: the path is longer than the tree is tall.
        if sn == 0:
            raise ProofError("proof_too_long", "the proof has more hashes than the path", evidence)
        # b. LSB(fn) set or fn == sn: p is a left sibling.
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            # ii. skip the levels where this node has no right sibling.
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, p)
        # c. up one level.
        fn >>= 1
        sn >>= 1
    # 5. sn must have reached 0.
    if sn != 0:
        raise ProofError("proof_too_short", "the proof stops below the root", evidence)
    return result


def check_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` with evidence unless ``proof`` includes the leaf under ``root``."""
    if not _is_hash(root):
        raise ProofError("bad_hash", f"root must be {HASH_SIZE} bytes", {"root": _hex(root)})
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if not hmac.compare_digest(computed, bytes(root)):
        raise ProofError(
            "root_mismatch",
            "the proof leads to a different root",
            {
                "index": index,
                "size": size,
                "leaf_hash": _hex(leaf_hash),
                "proof": [_hex(p) for p in proof],
                "root": _hex(root),
                "computed_root": computed.hex(),
            },
        )


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows the leaf at ``index`` is in the tree of ``size`` with ``root``.

    The size is bound by the signed checkpoint, not by the proof: a few (index, size) pairs share
    a path shape, so always take ``size`` and ``root`` from the same verified checkpoint.
    """
    try:
        check_inclusion(leaf_hash, index, size, proof, root)
    except ProofError:
        return False
    return True


def check_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` with evidence unless ``proof`` shows ``first`` is a prefix.

    RFC 9162 §2.1.4.2 covers ``0 < first < second``; the edges are decided here:

    * ``first == second``: the proof must be empty and the roots equal;
    * ``first == 0``: every tree extends the empty tree, so the proof must be empty, but the old
      root must still be ``SHA-256("")`` (a size-0 checkpoint with another root is not a tree);
    * ``first > second`` fails: logs only grow.
    """
    evidence = {
        "first": first,
        "second": second,
        "first_root": _hex(first_root),
        "second_root": _hex(second_root),
        "proof": [_hex(p) for p in proof] if _is_sequence(proof) else repr(proof)[:64],
    }
    _check_proof_inputs(evidence, proof, first_root=first_root, second_root=second_root)
    if not (_is_int(first) and _is_int(second) and first >= 0 and second <= MAX_TREE_SIZE):
        raise ProofError("bad_size", "sizes must be integers in uint64 range", evidence)
    if first > second:
        raise ProofError("first_after_second", "the first tree is larger than the second", evidence)
    if first == 0:
        if proof:
            raise ProofError("non_empty_proof", "nothing to prove from an empty tree", evidence)
        if not hmac.compare_digest(bytes(first_root), EMPTY_ROOT):
            raise ProofError("first_root_mismatch", "an empty tree's root is SHA-256('')", evidence)
        if second == 0 and not hmac.compare_digest(bytes(second_root), EMPTY_ROOT):
            raise ProofError(
                "second_root_mismatch", "an empty tree's root is SHA-256('')", evidence
            )
        return
    if first == second:
        if proof:
            raise ProofError("non_empty_proof", "equal sizes need an empty proof", evidence)
        if not hmac.compare_digest(bytes(first_root), bytes(second_root)):
            raise ProofError("root_mismatch", "two roots for the same size", evidence)
        return
    # 1. An empty consistency_path fails.
    if not proof:
        raise ProofError("empty_proof", "a growing tree needs a non-empty proof", evidence)
    # 2. If first is an exact power of 2, prepend first_hash.
    path = [bytes(first_root), *proof] if first & (first - 1) == 0 else list(proof)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = first - 1, second - 1
    # 4. While LSB(fn) is set, shift both right.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of the path.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        # a. sn == 0 fails.
        if sn == 0:
            raise ProofError("proof_too_long", "the proof has more hashes than the path", evidence)
        # b. LSB(fn) set or fn == sn: c is a left sibling of both trees' paths.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            # c is only in the second tree, to the right.
            sr = node_hash(sr, c)
        # c. up one level.
        fn >>= 1
        sn >>= 1
    # 7. sn must be 0 and both roots must match.
    if sn != 0:
        raise ProofError("proof_too_short", "the proof stops below the root", evidence)
    if not hmac.compare_digest(fr, bytes(first_root)):
        evidence["computed_first_root"] = fr.hex()
        raise ProofError("first_root_mismatch", "the proof does not lead to first_root", evidence)
    if not hmac.compare_digest(sr, bytes(second_root)):
        evidence["computed_second_root"] = sr.hex()
        raise ProofError("second_root_mismatch", "the proof does not lead to second_root", evidence)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree of ``first`` leaves is a prefix of ``second``'s."""
    try:
        check_consistency(first, second, first_root, second_root, proof)
    except ProofError:
        return False
    return True


# --- an in-memory tree ---------------------------------------------------------------------


class MemoryTree:
    """A whole log in a dict of perfect-subtree nodes: for tests and the offline auditor.

    It uses exactly the functions a storage engine uses, so it doubles as their executable
    specification. Past sizes stay answerable because nodes never change.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self._nodes: dict[NodeId, bytes] = {}
        self._size = 0
        self.extend(entries)

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> Mapping[NodeId, bytes]:
        """A read-only view of the stored nodes, as a storage table would hold them."""
        return MappingProxyType(self._nodes)

    def append(self, entry: bytes) -> int:
        """Append one entry; return its leaf index."""
        self.append_leaf_hashes([leaf_hash(entry)])
        return self._size - 1

    def extend(self, entries: Iterable[bytes]) -> None:
        self.append_leaf_hashes([leaf_hash(entry) for entry in entries])

    def append_leaf_hashes(self, leaf_hashes: Sequence[bytes]) -> None:
        for level, index, hash_ in append_nodes(self._size, leaf_hashes, self._nodes):
            self._nodes[(level, index)] = hash_
        self._size += len(leaf_hashes)

    def leaf_hash(self, index: int) -> bytes:
        _check_index(index, self._size)
        return self._nodes[(0, index)]

    def root(self, size: int | None = None) -> bytes:
        return root_from_nodes(self._at(size), self._nodes)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._at(size), self._nodes)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, self._at(second), self._nodes)

    def _at(self, size: int | None) -> int:
        if size is None:
            return self._size
        _check_size(size)
        if size > self._size:
            raise MerkleError(f"size {size} is beyond the tree ({self._size} leaves)")
        return size

    def __repr__(self) -> str:
        return f"MemoryTree(size={self._size})"


# --- helpers -------------------------------------------------------------------------------


def _tile(begin: int, end: int) -> list[NodeId]:
    """Perfect subtrees covering ``[begin, end)``, each as large as alignment allows."""
    ids: list[NodeId] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


def _subtree_path(index: int, level: int, size: int) -> list[list[NodeId]]:
    """Inclusion path of perfect node ``(level, index)`` in the tree of ``size`` leaves.

    Below ``inner`` levels the node and the tree's last leaf are in different subtrees, so every
    sibling exists (the topmost of them may be ragged: a range). Above, siblings exist only
    where the node is a right child, and those are perfect left subtrees (the "border").
    """
    last = (size - 1) >> level
    inner = (index ^ last).bit_length()
    path: list[list[NodeId]] = []
    for height in range(inner):
        node_level = level + height
        begin = ((index >> height) ^ 1) << node_level
        path.append(_tile(begin, min(begin + (1 << node_level), size)))
    node, node_level = index >> inner, level + inner
    while node:
        if node & 1:
            path.append([(node_level, node - 1)])
        node >>= 1
        node_level += 1
    return path


def _getter(nodes: NodeSource) -> Callable[[NodeId], bytes]:
    lookup: Callable[[NodeId], bytes | None]
    lookup = nodes.get if isinstance(nodes, Mapping) else nodes

    def get(node: NodeId) -> bytes:
        try:
            value = lookup(node)
        except KeyError:
            value = None
        if value is None:
            raise MissingNodeError(node)
        if not _is_hash(value):
            raise MerkleError(f"node (level={node[0]}, index={node[1]}) is not a 32-byte hash")
        return bytes(value)

    return get


def _check_size(size: int) -> None:
    if not _is_int(size) or not 0 <= size <= MAX_TREE_SIZE:
        raise MerkleError("a tree size is an integer from 0 to 2**64 - 1")


def _check_index(index: int, size: int) -> None:
    if not _is_int(index) or not 0 <= index < size:
        raise MerkleError(f"leaf index {index!r} is outside a tree of {size} leaves")


def _check_hash(value: object, what: str) -> None:
    if not _is_hash(value):
        raise MerkleError(f"{what} must be {HASH_SIZE} bytes")


def _check_proof_inputs(
    evidence: dict[str, Any] | Callable[[], dict[str, Any]], proof: object, **hashes: object
) -> None:
    for name, value in hashes.items():
        if not _is_hash(value):
            raise ProofError("bad_hash", f"{name} must be {HASH_SIZE} bytes", evidence)
    if not _is_sequence(proof):
        raise ProofError("bad_proof", "the proof must be a list of hashes", evidence)
    for position, element in enumerate(proof):
        if not _is_hash(element):
            raise ProofError("bad_proof", f"proof[{position}] is not a 32-byte hash", evidence)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sequence(value: object) -> TypeGuard[Sequence[object]]:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _hex(value: object) -> str:
    return bytes(value).hex() if isinstance(value, bytes | bytearray) else repr(value)[:64]
