// RFC 9162 Merkle tree hashing and inclusion proofs, with WebCrypto SHA-256.
// leaf hash = SHA-256(0x00 ‖ entry); node hash = SHA-256(0x01 ‖ left ‖ right).

import { concat, equalBytes, fromHex, toHex } from "./encoding.js";

export class NoWebCrypto extends Error {
  constructor() {
    super(
      "this browser offers no WebCrypto here (it needs a secure context: HTTPS or localhost)",
    );
    this.name = "NoWebCrypto";
  }
}

export function subtle() {
  if (!globalThis.crypto || !globalThis.crypto.subtle) throw new NoWebCrypto();
  return globalThis.crypto.subtle;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

export async function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

export async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** The root of a whole list of entries (RFC 9162 §2.1.1), for checks and tests. */
export async function rootOf(entries) {
  if (entries.length === 0) return sha256(new Uint8Array(0));
  if (entries.length === 1) return leafHash(entries[0]);
  let split = 1;
  while (split * 2 < entries.length) split *= 2;
  return nodeHash(await rootOf(entries.slice(0, split)), await rootOf(entries.slice(split)));
}

/**
 * Walk an inclusion proof up the tree (RFC 9162 §2.1.3.2) and record every step.
 *
 * Answers `{ ok, root, steps, error }`: `steps[k]` says which proof hash was combined, on which
 * side, the node it made and how many levels up it sits. `ok` is false, with `error`, when the
 * proof has the wrong shape or the computed root is not `expectedRoot`.
 */
export async function walkInclusion(index, size, leaf, proof, expectedRoot) {
  const fail = (error, steps = [], root = null) => ({ ok: false, root, steps, error });
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return fail(`leaf index ${index} is outside a tree of size ${size}`);
  }
  if (proof.some((hash) => hash.length !== 32) || leaf.length !== 32) {
    return fail("every hash in a proof is 32 bytes");
  }
  let fn = index;
  let sn = size - 1;
  let level = 0;
  let node = leaf;
  const steps = [];
  for (const [position, sibling] of proof.entries()) {
    if (sn === 0) return fail("the proof is longer than the path to the root", steps, node);
    let siblingOnLeft;
    let promoted = 0;
    if (fn % 2 === 1 || fn === sn) {
      siblingOnLeft = true;
      if (fn % 2 === 0) {
        // A right-edge node with no sibling at this level rises unchanged.
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
          promoted += 1;
        }
      }
    } else {
      siblingOnLeft = false;
    }
    const parent = siblingOnLeft ? await nodeHash(sibling, node) : await nodeHash(node, sibling);
    level += promoted + 1;
    steps.push({ position, sibling, siblingOnLeft, node, parent, level, promoted });
    node = parent;
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail("the proof is shorter than the path to the root", steps, node);
  if (expectedRoot && !equalBytes(node, expectedRoot)) {
    return fail("the computed root differs from the checkpoint's root", steps, node);
  }
  return { ok: true, root: node, steps, error: null };
}

/** Convenience for callers holding hex: true when the proof verifies. */
export async function verifyInclusionHex(index, size, leafHex, proofHex, rootHex) {
  const proof = proofHex.map(fromHex);
  const result = await walkInclusion(index, size, fromHex(leafHex), proof, fromHex(rootHex));
  return { ok: result.ok, root: result.root ? toHex(result.root) : null, error: result.error };
}
