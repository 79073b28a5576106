// SCITT receipts (RFC 9942, RFC9162_SHA256) checked in the page, as the server's
// scitt/receipt.py checks them. Pure functions over bytes: no fetching, no DOM.
//
// Checklist of checkReceipt, in order (each failure says which step):
// 1. the receipt is a tagged COSE_Sign1 whose payload is detached;
// 2. its protected header says RFC9162_SHA256 (395: 1) and ES256 (1: -7), and names a kid;
// 3. the key set holds a P-256 key whose RFC 9679 thumbprint is that kid (recomputed here:
//    a key set cannot give a key another key's name);
// 4. the inclusion proof (396 → -1: bstr .cbor [tree_size, leaf_index, path]) is well formed;
// 5. the leaf hash SHA-256(0x00 ‖ entry) of the statement's entry (the statement with an
//    empty unprotected header) walks up the path to a root (RFC 9162 §2.1.3.2);
// 6. the receipt's ES256 signature verifies over ["Signature1", protected, h'', root].
//
// The statement's own signature is the issuer's, not the service's: the receipt proves that
// these exact bytes are in the log, which this page checks; who signed them is for the
// command line's `trustee scitt verify`, which knows every statement algorithm.

import { Tagged, decodeCbor, encodeBytes, encodeInt, encodeText, head } from "./cbor.js";
import { concat, equalBytes, toHex } from "./encoding.js";
import { leafHash, sha256, subtle, walkInclusion } from "./merkle.js";

export const COSE_SIGN1_TAG = 18;
export const ES256 = -7;
const HDR_ALG = 1;
const HDR_KID = 4;
const HDR_RECEIPTS = 394;
const HDR_VDS = 395;
const HDR_VDP = 396;
const VDS_RFC9162_SHA256 = 1;
const VDP_INCLUSION = -1;
const MAX_RECEIPTS = 16;
// COSE_Key labels and values (RFC 9052 §7, IANA registries).
const KEY_KTY = 1;
const KEY_KID = 2;
const KEY_CRV = -1;
const KEY_X = -2;
const KEY_Y = -3;
const KTY_EC2 = 2;
const CRV_P256 = 1;

export class ScittError extends Error {
  constructor(message) {
    super(message);
    this.name = "ScittError";
  }
}

/** A COSE_Sign1 from decoded CBOR: the protected header's bytes as received, and the rest. */
export function sign1Of(value, what = "message") {
  if (!(value instanceof Tagged) || value.tag !== COSE_SIGN1_TAG) {
    throw new ScittError(`the ${what} is not a COSE_Sign1 (CBOR tag 18)`);
  }
  const body = value.value;
  if (!Array.isArray(body) || body.length !== 4) {
    throw new ScittError(`the ${what} is not an array of four items`);
  }
  const [protectedBytes, unprotected, payload, signature] = body;
  if (!(protectedBytes instanceof Uint8Array)) {
    throw new ScittError(`the ${what}'s protected header is not a byte string`);
  }
  if (!(unprotected instanceof Map)) {
    throw new ScittError(`the ${what}'s unprotected header is not a map`);
  }
  if (payload !== null && !(payload instanceof Uint8Array)) {
    throw new ScittError(`the ${what}'s payload is neither a byte string nor nil`);
  }
  if (!(signature instanceof Uint8Array)) {
    throw new ScittError(`the ${what}'s signature is not a byte string`);
  }
  let headers = new Map();
  if (protectedBytes.length) {
    try {
      headers = decodeCbor(protectedBytes);
    } catch (error) {
      throw new ScittError(`the ${what}'s protected header: ${error.message}`);
    }
    if (!(headers instanceof Map)) {
      throw new ScittError(`the ${what}'s protected header does not encode a map`);
    }
  }
  return { protectedBytes, protected: headers, unprotected, payload, signature };
}

export function decodeSign1(bytes, what = "message") {
  let value;
  try {
    value = decodeCbor(bytes);
  } catch (error) {
    throw new ScittError(`the ${what} is not well-formed CBOR: ${error.message}`);
  }
  return sign1Of(value, what);
}

/**
 * The log entry of a statement: 18([protected, {}, payload, signature]) in deterministic
 * CBOR, rebuilt from the items' own bytes (the protected header is never re-serialised).
 */
export function entryOf(message) {
  return concat(
    head(6, COSE_SIGN1_TAG),
    head(4, 4),
    encodeBytes(message.protectedBytes),
    head(5, 0),
    message.payload === null ? Uint8Array.of(0xf6) : encodeBytes(message.payload),
    encodeBytes(message.signature),
  );
}

/** RFC 9052 §4.4 Sig_structure for COSE_Sign1 with an empty external_aad. */
export function sigStructure(protectedBytes, payload) {
  return concat(
    head(4, 4),
    encodeText("Signature1"),
    encodeBytes(protectedBytes),
    encodeBytes(new Uint8Array(0)),
    encodeBytes(payload),
  );
}

/** The statement and the receipts of a transparent statement (unprotected 394). */
export function splitTransparentStatement(bytes) {
  const message = decodeSign1(bytes, "transparent statement");
  const found = message.unprotected.get(HDR_RECEIPTS);
  if (!Array.isArray(found) || !found.length || found.length > MAX_RECEIPTS) {
    throw new ScittError("a transparent statement holds 1 to 16 receipts at unprotected 394");
  }
  const receipts = found.map((item) =>
    item instanceof Uint8Array ? decodeSign1(item, "receipt") : sign1Of(item, "receipt"),
  );
  return { statement: message, receipts };
}

/** RFC 9679 thumbprint of a P-256 COSE_Key: SHA-256 of {1: 2, -1: 1, -2: x, -3: y}. */
export async function thumbprint(x, y) {
  return sha256(
    concat(
      head(5, 4),
      encodeInt(KEY_KTY),
      encodeInt(KTY_EC2),
      encodeInt(KEY_CRV),
      encodeInt(CRV_P256),
      encodeInt(KEY_X),
      encodeBytes(x),
      encodeInt(KEY_Y),
      encodeBytes(y),
    ),
  );
}

/** P-256 keys of a COSE_KeySet by the hex of their recomputed thumbprint. */
export async function parseKeySet(bytes) {
  let value;
  try {
    value = decodeCbor(bytes);
  } catch (error) {
    throw new ScittError(`the key set is not well-formed CBOR: ${error.message}`);
  }
  const items = Array.isArray(value) ? value : [value];
  const keys = new Map();
  for (const item of items) {
    if (!(item instanceof Map)) throw new ScittError("a key set holds COSE_Key maps");
    if (item.get(KEY_KTY) !== KTY_EC2 || item.get(KEY_CRV) !== CRV_P256) continue;
    const x = item.get(KEY_X);
    const y = item.get(KEY_Y);
    if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.length !== 32 ||
      y.length !== 32) {
      throw new ScittError("a P-256 key's x and y are 32-byte strings");
    }
    const kid = await thumbprint(x, y);
    const named = item.get(KEY_KID);
    if (named !== undefined && !(named instanceof Uint8Array && equalBytes(named, kid))) {
      throw new ScittError("the key set names a key by a kid that is not its thumbprint");
    }
    keys.set(toHex(kid), { kid, x, y });
  }
  return keys;
}

function inclusionOf(unprotected) {
  const vdp = unprotected.get(HDR_VDP);
  const proofs = vdp instanceof Map ? vdp.get(VDP_INCLUSION) : undefined;
  if (!Array.isArray(proofs) || proofs.length !== 1 || !(proofs[0] instanceof Uint8Array)) {
    throw new ScittError("a receipt holds one inclusion proof at unprotected 396 → -1");
  }
  let proof;
  try {
    proof = decodeCbor(proofs[0]);
  } catch (error) {
    throw new ScittError(`inclusion proof: ${error.message}`);
  }
  if (!Array.isArray(proof) || proof.length !== 3) {
    throw new ScittError("an inclusion proof is [tree_size, leaf_index, inclusion_path]");
  }
  const [treeSize, leafIndex, path] = proof;
  if (!Number.isSafeInteger(treeSize) || !Number.isSafeInteger(leafIndex)) {
    throw new ScittError("tree_size and leaf_index must be integers");
  }
  if (!Array.isArray(path) || path.length > 64 ||
    !path.every((hash) => hash instanceof Uint8Array && hash.length === 32)) {
    throw new ScittError("an inclusion path is at most 64 hashes of 32 bytes");
  }
  return { treeSize, leafIndex, path };
}

async function es256Verify(key, message, signature) {
  if (signature.length !== 64) return false;
  let publicKey;
  try {
    publicKey = await subtle().importKey(
      "raw",
      concat(Uint8Array.of(4), key.x, key.y),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
  } catch (error) {
    if (error && error.name === "NoWebCrypto") throw error;
    return false; // not a point of P-256: no signature verifies under it
  }
  // COSE signatures are r ‖ s, fixed width: what WebCrypto's ECDSA takes.
  return subtle().verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, signature, message);
}

/**
 * Check one receipt (decoded with sign1Of/decodeSign1) for `entry` under `keys`
 * (parseKeySet). Answers { ok, reason, step, leafHash, root, treeSize, leafIndex, kid }.
 */
export async function checkReceipt(receipt, entry, keys) {
  const answer = { ok: false, reason: null, step: 0, leafHash: null, root: null };
  const fail = (step, reason) => Object.assign(answer, { ok: false, step, reason });
  // 1.
  if (receipt.payload !== null) return fail(1, "a receipt's payload (the root) is detached");
  // 2.
  const headers = receipt.protected;
  if (headers.get(HDR_VDS) !== VDS_RFC9162_SHA256) {
    return fail(2, "not an RFC9162_SHA256 receipt (protected 395 must be 1)");
  }
  if (headers.get(HDR_ALG) !== ES256) return fail(2, "the receipt's alg is not ES256");
  const kid = headers.get(HDR_KID);
  if (!(kid instanceof Uint8Array)) return fail(2, "the receipt names no kid");
  answer.kid = toHex(kid);
  // 3.
  const key = keys.get(answer.kid);
  if (!key) return fail(3, "the receipt's kid names no key of the service's key set");
  // 4.
  let inclusion;
  try {
    inclusion = inclusionOf(receipt.unprotected);
  } catch (error) {
    return fail(4, error.message);
  }
  Object.assign(answer, { treeSize: inclusion.treeSize, leafIndex: inclusion.leafIndex });
  // 5.
  answer.leafHash = await leafHash(entry);
  const walk = await walkInclusion(
    inclusion.leafIndex, inclusion.treeSize, answer.leafHash, inclusion.path, null,
  );
  if (!walk.ok) return fail(5, `inclusion proof: ${walk.error}`);
  answer.root = walk.root;
  answer.pathLength = inclusion.path.length;
  // 6.
  const good = await es256Verify(key, sigStructure(receipt.protectedBytes, walk.root),
    receipt.signature);
  if (!good) return fail(6, "the receipt's signature does not verify for this statement");
  return Object.assign(answer, { ok: true, step: 6, reason: null });
}

/**
 * A transparent statement (bytes) checked against a key set (bytes): every receipt it holds.
 * Never throws on bad input: { ok, reason, entry, receipts: [checkReceipt answers] }.
 */
export async function checkTransparentStatement(bytes, keySetBytes) {
  let keys;
  let parts;
  try {
    keys = await parseKeySet(keySetBytes);
    parts = splitTransparentStatement(bytes);
  } catch (error) {
    if (!(error instanceof ScittError)) throw error;
    return { ok: false, reason: error.message, entry: null, receipts: [] };
  }
  const entry = entryOf(parts.statement);
  const receipts = [];
  for (const receipt of parts.receipts) receipts.push(await checkReceipt(receipt, entry, keys));
  const bad = receipts.find((r) => !r.ok);
  return {
    ok: !bad,
    reason: bad ? bad.reason : null,
    entry,
    statement: parts.statement,
    receipts,
  };
}

/** A statement and a separate receipt (both bytes), as `trustee scitt register` writes them. */
export async function checkStatementAndReceipt(statementBytes, receiptBytes, keySetBytes) {
  try {
    const keys = await parseKeySet(keySetBytes);
    const statement = decodeSign1(statementBytes, "statement");
    const receipt = decodeSign1(receiptBytes, "receipt");
    const entry = entryOf(statement);
    const checked = await checkReceipt(receipt, entry, keys);
    return { ok: checked.ok, reason: checked.reason, entry, statement, receipts: [checked] };
  } catch (error) {
    if (!(error instanceof ScittError)) throw error;
    return { ok: false, reason: error.message, entry: null, receipts: [] };
  }
}
