"""The shared-path inclusion checker gives the strict verdict, proof by proof, in any order.

Trees and proofs come from the independent RFC 9162 reference in tests/rfc9162.py; each proof
is checked by the product's strict :func:`check_inclusion` and by :class:`InclusionChecker`
fed the same proofs in a random order, some of them altered.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rfc9162 import Tree, leaf
from trustee.ledger import merkle
from trustee.ledger.inclusion import InclusionChecker


def _strict(leaf_hash: bytes, index: object, size: int, proof: object, root: bytes) -> str:
    decoded: object = proof
    if isinstance(proof, list):
        decoded = []
        for element in proof:
            try:
                decoded.append(bytes.fromhex(element))  # type: ignore[union-attr]
            except (TypeError, ValueError):
                decoded.append(b"")  # type: ignore[union-attr]
    try:
        merkle.check_inclusion(leaf_hash, index, size, decoded, root)  # type: ignore[arg-type]
    except merkle.ProofError as exc:
        return exc.reason
    return "ok"


def _shared(checker: InclusionChecker, leaf_hash: bytes, index: object, proof: object) -> str:
    try:
        checker.check(leaf_hash, index, proof)  # type: ignore[arg-type]
    except merkle.ProofError as exc:
        return exc.reason
    return "ok"


def _altered(data: st.DataObject, proof: list[str], index: int, size: int) -> tuple[int, object]:
    """One of the ways a bundle's proof can be wrong, or the honest proof."""
    kind = data.draw(
        st.sampled_from(
            ["honest", "honest", "flip", "upper", "drop", "extra", "index", "junk", "tuple"]
        )
    )
    altered: list[object] = list(proof)
    if kind == "flip" and proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        text = proof[at]
        altered[at] = ("0" if text[0] != "0" else "1") + text[1:]
    elif kind == "upper" and proof:
        altered = [element.upper() for element in proof]  # still valid hex
    elif kind == "drop" and proof:
        altered.pop()
    elif kind == "extra":
        altered.append("00" * 32)
    elif kind == "index":
        index = data.draw(st.integers(-1, size))
    elif kind == "junk" and proof:
        altered[data.draw(st.integers(0, len(proof) - 1))] = data.draw(
            st.sampled_from(["zz" * 32, "ab", 7, None, "ab " * 31 + "ab"])
        )
    elif kind == "tuple":
        return index, tuple(proof)
    return index, altered


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 200), st.data())
def test_every_verdict_is_the_strict_one_in_any_order(size: int, data: st.DataObject) -> None:
    entries = [f"entry {i}".encode() for i in range(size)]
    tree = Tree(entries)
    root = tree.root(size)
    indexes = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=60))
    checker = InclusionChecker(size, root)
    for index in indexes:
        honest = [element.hex() for element in tree.path(index, size)]
        claimed_index, proof = _altered(data, honest, index, size)
        leaf_hash = leaf(entries[index])
        expected = _strict(leaf_hash, claimed_index, size, proof, root)
        assert _shared(checker, leaf_hash, claimed_index, proof) == expected


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 300), st.data())
def test_a_wrong_leaf_fails_even_after_its_neighbours_passed(size: int, data: st.DataObject):
    entries = [f"entry {i}".encode() for i in range(size)]
    tree = Tree(entries)
    checker = InclusionChecker(size, tree.root(size))
    for index in range(size):  # every path is known now
        checker.check(leaf(entries[index]), index, [e.hex() for e in tree.path(index, size)])
    index = data.draw(st.integers(0, size - 1))
    proof = [e.hex() for e in tree.path(index, size)]
    forged = leaf(b"not entry " + str(index).encode())
    assert _shared(checker, forged, index, proof) == "root_mismatch"
    other = (index + 1) % size  # a real leaf, claimed at another index
    assert _shared(checker, leaf(entries[other]), index, proof) == "root_mismatch"


def test_neighbouring_proofs_cost_about_one_hash_each(monkeypatch) -> None:
    size = 4096
    entries = [i.to_bytes(4, "big") for i in range(size)]
    tree = Tree(entries)
    proofs = [[e.hex() for e in tree.path(i, size)] for i in range(size)]
    hashes = 0
    real = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal hashes
        hashes += 1
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    checker = InclusionChecker(size, tree.root(size))
    for index in range(size):
        checker.check(leaf(entries[index]), index, proofs[index])
    # One at a time: 12 hashes per proof, 49,152 in all. Shared: at most one hash per proof
    # to meet a known node, one per new node, and the first proof's strict check.
    assert hashes <= 2 * size + 2 * 12
