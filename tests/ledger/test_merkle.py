"""RFC 9162 Merkle tree: exhaustive small trees against a naive reference, vectors, mutations.

The reference is tests/rfc9162.py, written straight from RFC 9162's recursive definitions
(MTH §2.1.1, PATH §2.1.3.1, PROOF/SUBPROOF §2.1.4.1) over leaf ranges, memoised so that it also
serves as the fast reference for large trees. It shares nothing with the module but SHA-256.
"""

import hashlib
import itertools
import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rfc9162
from trustee.ledger import merkle
from trustee.ledger.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    MerkleError,
    MissingNodeError,
    ProofError,
    append_node_ids,
    append_nodes,
    check_consistency,
    check_inclusion,
    consistency_proof_node_ids,
    inclusion_proof_node_ids,
    root_from_inclusion_proof,
    root_from_nodes,
    root_node_ids,
    unique_node_ids,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle.json"
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def entries(n: int, seed: int = 0) -> list[bytes]:
    return [f"entry-{seed}-{i}".encode() * (1 + i % 3) for i in range(n)]


SMALL = 64
SMALL_DATA = entries(SMALL)
SMALL_REF = rfc9162.Tree(SMALL_DATA)
SMALL_TREE = MemoryTree(SMALL_DATA)


# --- published vectors ----------------------------------------------------------------------


def test_rfc6962_roots_from_shared_vectors():
    vectors = json.loads(VECTORS.read_text())
    leaves = [bytes.fromhex(h) for h in vectors["leaves_hex"]]
    tree = MemoryTree(leaves)
    for n, root in vectors["roots"].items():
        assert tree.root(int(n)).hex() == root
        assert rfc9162.Tree(leaves).mth(0, int(n)).hex() == root


# transparency-dev/merkle proof/verify_test.go (and Trillian before it): proofs over the same
# eight leaves; leaf numbers there are 1-based, converted to 0-based indices here.
TD_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
TD_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def vector_tree():
    vectors = json.loads(VECTORS.read_text())
    return MemoryTree(bytes.fromhex(h) for h in vectors["leaves_hex"])


@pytest.mark.parametrize(("index", "size", "proof"), TD_INCLUSION)
def test_transparency_dev_inclusion_vectors(vector_tree, index, size, proof):
    expected = [bytes.fromhex(h) for h in proof]
    assert vector_tree.inclusion_proof(index, size) == expected
    leaf = vector_tree.leaf_hash(index)
    assert verify_inclusion(leaf, index, size, expected, vector_tree.root(size))


@pytest.mark.parametrize(("first", "second", "proof"), TD_CONSISTENCY)
def test_transparency_dev_consistency_vectors(vector_tree, first, second, proof):
    expected = [bytes.fromhex(h) for h in proof]
    assert vector_tree.consistency_proof(first, second) == expected
    roots = vector_tree.root(first), vector_tree.root(second)
    assert verify_consistency(first, second, *roots, expected)


# --- exhaustive small trees against the reference -------------------------------------------


def test_hash_primitives_match_rfc():
    assert merkle.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert merkle.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def test_roots_every_size():
    tree = MemoryTree()
    for n in range(SMALL + 1):
        assert tree.root() == SMALL_REF.mth(0, n), n
        if n < SMALL:
            tree.append(SMALL_DATA[n])


def test_inclusion_every_index_every_size():
    for n in range(1, SMALL + 1):
        root = SMALL_REF.mth(0, n)
        for m in range(n):
            proof = SMALL_TREE.inclusion_proof(m, n)
            assert proof == SMALL_REF.path(m, n), (m, n)
            assert verify_inclusion(rfc9162.leaf(SMALL_DATA[m]), m, n, proof, root)
            assert root_from_inclusion_proof(rfc9162.leaf(SMALL_DATA[m]), m, n, proof) == root


def test_consistency_every_pair():
    for n in range(SMALL + 1):
        for m in range(n + 1):
            proof = SMALL_TREE.consistency_proof(m, n)
            expected = SMALL_REF.proof(m, n) if 0 < m < n else []
            assert proof == expected, (m, n)
            assert verify_consistency(m, n, SMALL_REF.mth(0, m), SMALL_REF.mth(0, n), proof)


def test_stored_nodes_are_exactly_the_complete_perfect_subtrees():
    expected = {
        (level, index)
        for level in range(8)
        for index in range(SMALL >> level)
        if (index + 1) << level <= SMALL
    }
    assert set(SMALL_TREE.nodes) == expected
    for (level, index), value in SMALL_TREE.nodes.items():
        lo = index << level
        assert value == SMALL_REF.mth(lo, lo + (1 << level))


def test_append_in_batches_equals_one_by_one():
    rng = random.Random(7)
    for _ in range(30):
        data = entries(rng.randrange(1, 200), seed=rng.randrange(1000))
        single = MemoryTree(data)
        batched = MemoryTree()
        position = 0
        while position < len(data):
            step = rng.randrange(1, 40)
            batched.extend(data[position : position + step])
            position += step
        assert dict(batched.nodes) == dict(single.nodes)
        assert batched.root() == rfc9162.Tree(data).mth(0, len(data))


def test_append_reads_only_the_old_frontier():
    data = entries(300, seed=3)
    tree = MemoryTree(data[:123])
    reads: list[tuple[int, int]] = []

    def fetch(node):
        reads.append(node)
        return tree.nodes[node]

    new = append_nodes(123, [rfc9162.leaf(e) for e in data[123:200]], fetch)
    assert set(reads) <= set(append_node_ids(123))
    store = {**tree.nodes, **{(lv, ix): h for lv, ix, h in new}}
    assert root_from_nodes(200, store) == rfc9162.Tree(data).mth(0, 200)
    # Nothing existing is rewritten: every new node id is new.
    assert not {(lv, ix) for lv, ix, _ in new} & set(tree.nodes)


# --- large sizes, sampled --------------------------------------------------------------------


def test_random_sizes_up_to_100k_against_reference():
    rng = random.Random(9162)
    big = 100_000
    data = entries(big, seed=1)
    ref = rfc9162.Tree(data)
    tree = MemoryTree(data)
    sizes = sorted({big, 2**16, 2**16 + 1, 2**16 - 1, *(rng.randrange(1, big) for _ in range(25))})
    for n in sizes:
        root = ref.mth(0, n)
        assert tree.root(n) == root
        for m in {0, n - 1, *(rng.randrange(n) for _ in range(8))}:
            proof = tree.inclusion_proof(m, n)
            assert proof == ref.path(m, n)
            assert verify_inclusion(rfc9162.leaf(data[m]), m, n, proof, root)
        for m in {1, n - 1, *(rng.randrange(1, n + 1) for _ in range(6))}:
            if not 0 < m < n:
                continue
            proof = tree.consistency_proof(m, n)
            assert proof == ref.proof(m, n)
            assert verify_consistency(m, n, ref.mth(0, m), root, proof)


def test_node_reads_are_logarithmic_at_ten_million():
    n = 10**7
    bound = 2 * math.log2(n)
    rng = random.Random(1)
    indices = {0, 1, n // 2, n - 2, n - 1, *(rng.randrange(n) for _ in range(2000))}
    for m in indices:
        ranges = inclusion_proof_node_ids(m, n)
        ids = unique_node_ids(ranges)
        assert len(ids) <= bound, (m, len(ids))
        assert len(ranges) <= math.ceil(math.log2(n))
        assert all((index + 1) << level <= n for level, index in ids)
    for m in {1, 2**23, n - 1, *(rng.randrange(1, n) for _ in range(500))}:
        ids = unique_node_ids(consistency_proof_node_ids(m, n))
        assert len(ids) <= bound + 1
    assert len(root_node_ids(n)) == bin(n).count("1")


# --- verification edge cases ------------------------------------------------------------------


def test_empty_and_single_leaf_trees():
    tree = MemoryTree()
    assert tree.root() == EMPTY_ROOT
    assert root_node_ids(0) == []
    with pytest.raises(MerkleError):
        inclusion_proof_node_ids(0, 0)
    assert not verify_inclusion(SOME_HASH, 0, 0, [], EMPTY_ROOT)
    tree.append(b"data")
    leaf = merkle.leaf_hash(b"data")
    assert tree.root() == leaf
    assert tree.inclusion_proof(0) == []
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 1, 1, [], leaf)


@pytest.mark.parametrize(
    ("first", "second", "first_root", "second_root", "proof", "ok"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 5, EMPTY_ROOT, SOME_HASH, [], True),  # every tree extends the empty tree
        (0, 5, SOME_HASH, SOME_HASH, [], False),  # ... whose root is SHA-256("")
        (0, 0, SOME_HASH, SOME_HASH, [], False),
        (0, 5, EMPTY_ROOT, SOME_HASH, [EMPTY_ROOT], False),  # and needs no proof
        (3, 3, SOME_HASH, SOME_HASH, [], True),
        (3, 3, SOME_HASH, EMPTY_ROOT, [], False),
        (3, 3, SOME_HASH, SOME_HASH, [SOME_HASH], False),
        (4, 3, SOME_HASH, SOME_HASH, [], False),  # logs do not shrink
        (1, 2, SOME_HASH, EMPTY_ROOT, [], False),  # growth needs a proof
        (-1, 2, SOME_HASH, EMPTY_ROOT, [], False),
        (1, 2**64, SOME_HASH, EMPTY_ROOT, [SOME_HASH], False),
    ],
)
def test_consistency_edges(first, second, first_root, second_root, proof, ok):
    assert verify_consistency(first, second, first_root, second_root, proof) is ok


def test_errors_carry_evidence():
    n = 11
    proof = SMALL_TREE.inclusion_proof(4, n)
    with pytest.raises(ProofError) as caught:
        check_inclusion(rfc9162.leaf(SMALL_DATA[4]), 4, n, proof, SOME_HASH)
    assert caught.value.reason == "root_mismatch"
    assert caught.value.evidence["computed_root"] == SMALL_REF.mth(0, n).hex()
    assert caught.value.evidence["proof"] == [p.hex() for p in proof]

    old = SMALL_REF.mth(0, 5)
    cproof = SMALL_TREE.consistency_proof(5, 9)
    with pytest.raises(ProofError) as caught:
        check_consistency(5, 9, old, SOME_HASH, cproof)
    assert caught.value.reason == "second_root_mismatch"
    assert caught.value.evidence["first_root"] == old.hex()
    assert caught.value.evidence["second_root"] == SOME_HASH.hex()


@pytest.mark.parametrize(
    "bad_proof", [None, "abcd", b"x" * 32, [b"short"], [SOME_HASH, 7], [SOME_HASH.hex()]]
)
def test_malformed_proofs_fail_without_raising_elsewhere(bad_proof):
    assert not verify_inclusion(SOME_HASH, 0, 2, bad_proof, SOME_HASH)
    assert not verify_consistency(1, 2, SOME_HASH, SOME_HASH, bad_proof)


def test_bad_inputs_to_proof_computation():
    for args in [(-1, 5), (5, 5), (0, -1), (True, 3), (0, 2**64)]:
        with pytest.raises(MerkleError):
            inclusion_proof_node_ids(*args)
    for args in [(5, 4), (-1, 4), (1, 2**64)]:
        with pytest.raises(MerkleError):
            consistency_proof_node_ids(*args)
    with pytest.raises(MerkleError):
        SMALL_TREE.root(SMALL + 1)
    with pytest.raises(MerkleError):
        append_nodes(0, [b"short"], {})


def test_missing_nodes_are_reported_by_id():
    with pytest.raises(MissingNodeError) as caught:
        root_from_nodes(3, {(1, 0): SOME_HASH})
    assert caught.value.node_id == (0, 2)
    with pytest.raises(MissingNodeError):
        merkle.inclusion_proof(0, 3, lambda node: None)
    with pytest.raises(MerkleError):
        root_from_nodes(1, {(0, 0): b"not 32 bytes"})


def test_size_is_bound_by_the_checkpoint_not_the_proof():
    """RFC 9162's checks are about shape; (index 0, size 3) and (0, 4) share one.

    This is why callers must take size and root from the same signed checkpoint.
    """
    proof = SMALL_TREE.inclusion_proof(0, 3)
    assert verify_inclusion(rfc9162.leaf(SMALL_DATA[0]), 0, 4, proof, SMALL_REF.mth(0, 3))


# --- mutation-named negative cases ------------------------------------------------------------


def flip(proof: list[bytes], position: int, bit: int = 3) -> list[bytes]:
    mutated = list(proof)
    mutated[position] = bytes([mutated[position][0] ^ (1 << bit)]) + mutated[position][1:]
    return mutated


def inclusion_mutations(index, size, proof, root, leaf):
    yield "leaf-index-plus-1", (leaf, index + 1, size, proof, root)
    yield "leaf-index-minus-1", (leaf, index - 1, size, proof, root)
    yield "leaf-index-xor-2", (leaf, index ^ 2, size, proof, root)
    yield "wrong-size", (leaf, index, size * 2, proof, root)
    yield "wrong-size-half", (leaf, index, size // 2, proof, root)
    yield "wrong-leaf", (rfc9162.leaf(b"WrongLeaf"), index, size, proof, root)
    yield "empty-root", (leaf, index, size, proof, EMPTY_ROOT)
    yield "random-root", (leaf, index, size, proof, SOME_HASH)
    yield "trailing-garbage", (leaf, index, size, [*proof, b""], root)
    yield "trailing-root", (leaf, index, size, [*proof, root], root)
    yield "preceding-garbage", (leaf, index, size, [b"", *proof], root)
    yield "preceding-root", (leaf, index, size, [root, *proof], root)
    for i in range(len(proof)):
        yield f"modified-proof[{i}]-bit", (leaf, index, size, flip(proof, i), root)
    if proof:
        yield "truncated-proof", (leaf, index, size, proof[:-1], root)
    if len(proof) > 1:
        yield "inserted-component", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root)


def consistency_mutations(first, second, root1, root2, proof):
    yield "first-minus-1", (first - 1, second, root1, root2, proof)
    yield "first-plus-1", (first + 1, second, root1, root2, proof)
    yield "first-xor-2", (first ^ 2, second, root1, root2, proof)
    yield "wrong-size", (first, second * 2, root1, root2, proof)
    yield "wrong-size-half", (first, second // 2, root1, root2, proof)
    yield "wrong-root1", (first, second, SOME_HASH, root2, proof)
    yield "wrong-root2", (first, second, root1, SOME_HASH, proof)
    yield "swapped-roots", (first, second, root2, root1, proof)
    yield "empty-proof", (first, second, root1, root2, [])
    yield "trailing-garbage", (first, second, root1, root2, [*proof, b""])
    yield "trailing-root1", (first, second, root1, root2, [*proof, root1])
    yield "trailing-root2", (first, second, root1, root2, [*proof, root2])
    yield "preceding-garbage", (first, second, root1, root2, [b"", *proof])
    yield "preceding-root1", (first, second, root1, root2, [root1, *proof])
    yield "preceding-root2", (first, second, root1, root2, [root2, *proof])
    yield "preceding-proof[0]", (first, second, root1, root2, [proof[0], *proof])
    yield "truncated-proof", (first, second, root1, root2, proof[:-1])
    for i in range(len(proof)):
        yield f"modified-proof[{i}]-bit", (first, second, root1, root2, flip(proof, i, 4))


def test_inclusion_mutations_all_fail():
    count = 0
    for n in range(1, SMALL + 1):
        root = SMALL_REF.mth(0, n)
        for m in range(n):
            proof = SMALL_TREE.inclusion_proof(m, n)
            for name, args in inclusion_mutations(m, n, proof, root, rfc9162.leaf(SMALL_DATA[m])):
                assert not verify_inclusion(*args), (name, m, n)
                count += 1
    assert count > 30_000


def test_consistency_mutations_all_fail():
    count = 0
    for n in range(2, SMALL + 1):
        for m in range(1, n):
            proof = SMALL_TREE.consistency_proof(m, n)
            roots = SMALL_REF.mth(0, m), SMALL_REF.mth(0, n)
            for name, args in consistency_mutations(m, n, *roots, proof):
                assert not verify_consistency(*args), (name, m, n)
                count += 1
    assert count > 40_000


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_property_proofs_verify_and_any_bit_flip_fails(size, data):
    tree = MemoryTree(entries(size, seed=size))
    ref = rfc9162.Tree(entries(size, seed=size))
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index, size)
    leaf = tree.leaf_hash(index)
    assert proof == ref.path(index, size)
    assert verify_inclusion(leaf, index, size, proof, tree.root())
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        mutated = list(proof)
        value = bytearray(mutated[position])
        value[bit // 8] ^= 1 << (bit % 8)
        mutated[position] = bytes(value)
        assert not verify_inclusion(leaf, index, size, mutated, tree.root())

    first = data.draw(st.integers(0, size))
    cproof = tree.consistency_proof(first, size)
    assert verify_consistency(first, size, tree.root(first), tree.root(), cproof)
    if cproof:
        position = data.draw(st.integers(0, len(cproof) - 1))
        mutated = flip(cproof, position, data.draw(st.integers(0, 7)))
        assert not verify_consistency(first, size, tree.root(first), tree.root(), mutated)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=12))
def test_property_batches_do_not_change_the_tree(batch_sizes):
    data = entries(sum(batch_sizes), seed=len(batch_sizes))
    batched, position = MemoryTree(), 0
    for step in batch_sizes:
        batched.extend(data[position : position + step])
        position += step
        assert batched.root() == rfc9162.Tree(data).mth(0, position)
    assert dict(batched.nodes) == dict(MemoryTree(data).nodes)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 2**40), st.data())
def test_property_node_ids_are_complete_subtrees_within_the_tree(size, data):
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(0, size))
    for ranges in (inclusion_proof_node_ids(index, size), consistency_proof_node_ids(first, size)):
        for group in ranges:
            assert group
            assert all((i + 1) << lv <= size for lv, i in group)
            # each range is contiguous and left to right
            ends = [(i << lv, (i + 1) << lv) for lv, i in group]
            assert all(a[1] == b[0] for a, b in itertools.pairwise(ends))
    assert sum(1 << lv for lv, _ in root_node_ids(size)) == size
