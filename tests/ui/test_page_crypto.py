"""The page's own cryptography, run in the browser against references in Python: RFC 9162
hashing and inclusion proofs (every index of every tree up to 40 leaves, the RFC 6962 roots,
mutations that must fail) and C2SP checkpoint signatures made by the server's note module."""

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import rfc9162
from trustee.ledger.note import format_checkpoint, key_id, make_verifier_key, sign_note

pytestmark = pytest.mark.integration  # a live server; the browser fixture skips without chromium

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle.json"
MAX_SIZE = 40


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


CHECK_PROOFS = """
async (cases) => {
  const m = await import("/ui/js/merkle.js");
  const e = await import("/ui/js/encoding.js");
  const failures = [];
  const run = async (c, index, size, leaf, proof, root) =>
    (await m.walkInclusion(index, size, e.fromHex(leaf), proof.map(e.fromHex), e.fromHex(root))).ok;
  for (const c of cases) {
    const leaf = e.toHex(await m.leafHash(e.fromHex(c.entry)));
    if (leaf !== c.leaf) failures.push(["leaf-hash", c.index, c.size]);
    if (!(await run(c, c.index, c.size, leaf, c.proof, c.root))) {
      failures.push(["valid-proof-refused", c.index, c.size]);
    }
    const otherLeaf = (leaf[0] === "0" ? "1" : "0") + leaf.slice(1);
    const mutants = {
      "leaf-index-plus-1": [c.index + 1, c.size, leaf, c.proof],
      "wrong-leaf": [c.index, c.size, otherLeaf, c.proof],
      "trailing-garbage": [c.index, c.size, leaf, [...c.proof, c.root]],
    };
    if (c.index > 0) mutants["leaf-index-minus-1"] = [c.index - 1, c.size, leaf, c.proof];
    if (c.proof.length) {
      const flipped = (c.proof[0][0] === "0" ? "1" : "0") + c.proof[0].slice(1);
      mutants["modified-proof[0]-bit"] = [c.index, c.size, leaf, [flipped, ...c.proof.slice(1)]];
      mutants["truncated-proof"] = [c.index, c.size, leaf, c.proof.slice(0, -1)];
    }
    for (const [name, args] of Object.entries(mutants)) {
      if (await run(c, ...args, c.root)) failures.push([name, c.index, c.size]);
    }
  }
  return failures;
}
"""

CHECK_ROOTS = """
async (leaves) => {
  const m = await import("/ui/js/merkle.js");
  const e = await import("/ui/js/encoding.js");
  const roots = {};
  for (let n = 0; n <= leaves.length; n += 1) {
    roots[n] = e.toHex(await m.rootOf(leaves.slice(0, n).map(e.fromHex)));
  }
  return roots;
}
"""

CHECK_NOTES = """
async (cases) => {
  const n = await import("/ui/js/note.js");
  const e = await import("/ui/js/encoding.js");
  const answers = [];
  for (const c of cases) {
    try {
      const key = await n.parseVerifierKey(c.key);
      if (e.toHex(key.keyId) !== c.key_id) throw new Error("key id differs");
      const cp = await n.openCheckpointHere(c.note, key);
      answers.push(["ok", cp.origin, cp.size, cp.rootHex]);
    } catch (error) {
      answers.push(["refused", error.name, error.message]);
    }
  }
  return answers;
}
"""


@pytest.fixture(scope="module")
def page(browser, demo):
    context = browser.new_context(base_url=demo.address)
    page = context.new_page()
    page.goto("/ui/#/token")
    page.get_by_role("heading", name="Token checker").wait_for()
    yield page
    context.close()


def test_inclusion_proofs_every_index_every_size_and_mutations(page) -> None:
    leaves = [f"leaf {i}".encode() for i in range(MAX_SIZE)]
    cases = []
    for size in range(1, MAX_SIZE + 1):
        reference = rfc9162.Tree(leaves[:size])
        root = reference.mth(0, size).hex()
        for index in range(size):
            cases.append(
                {
                    "index": index,
                    "size": size,
                    "entry": leaves[index].hex(),
                    "leaf": reference.mth(index, index + 1).hex(),
                    "proof": [h.hex() for h in reference.path(index, size)],
                    "root": root,
                }
            )
    assert len(cases) == MAX_SIZE * (MAX_SIZE + 1) // 2
    assert page.evaluate(CHECK_PROOFS, cases) == []


def test_roots_match_the_rfc6962_vectors(page) -> None:
    vectors = json.loads(VECTORS.read_text())
    roots = page.evaluate(CHECK_ROOTS, vectors["leaves_hex"])
    assert roots == vectors["roots"]


def test_checkpoints_signed_by_the_server_code_verify_in_the_page(page) -> None:
    origin = "log.example/a"

    def verifier(private: Ed25519PrivateKey) -> str:
        return make_verifier_key(origin, private.public_key())

    # Keys until one's base64 holds a "+": the parser must split at the first two "+" only.
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    while all("+" not in verifier(k).split("+", 2)[2] for k in keys):
        keys.append(Ed25519PrivateKey.generate())
    cases, expected = [], []
    for number, private in enumerate(keys):
        public = private.public_key().public_bytes_raw()
        root = sha256(b"root %d" % number)
        note = sign_note(format_checkpoint(origin, number + 5, root), origin, private)
        cases.append(
            {"key": verifier(private), "key_id": key_id(origin, public).hex(), "note": note}
        )
        expected.append(["ok", origin, number + 5, root.hex()])

    note, first = cases[0]["note"], cases[0]
    text, signature_line = note.split("\n\n")
    blob = base64.b64decode(signature_line.split(" ")[-1])
    flipped = base64.b64encode(blob[:-1] + bytes([blob[-1] ^ 1])).decode()
    bad = {
        "altered-size": note.replace("\n5\n", "\n6\n", 1),
        "flipped-signature-bit": f"{text}\n\n{signature_line.rsplit(' ', 1)[0]} {flipped}\n",
        "no-blank-line": note.replace("\n\n", "\n", 1),
        "no-signature": text + "\n\n",
    }
    cases += [dict(first, note=mutated) for mutated in bad.values()]
    stranger = Ed25519PrivateKey.generate()
    stranger_id = key_id(origin, stranger.public_key().public_bytes_raw()).hex()
    cases.append({"key": verifier(stranger), "key_id": stranger_id, "note": note})
    answers = page.evaluate(CHECK_NOTES, cases)
    assert answers[: len(keys)] == expected
    refused = answers[len(keys) :]
    assert [a[:2] for a in refused] == [["refused", "NoteError"]] * (len(bad) + 1), refused
    assert "invalid signature" in refused[0][2]
    assert "invalid signature" in refused[1][2]
    assert "no signature by log.example/a" in refused[-1][2]
