// C2SP signed notes and tlog checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint),
// checked the same way the server's ledger/note.py does.

import { api } from "./api.js";
import { concat, equalBytes, fromBase64, toHex, utf8 } from "./encoding.js";
import { sha256, subtle } from "./merkle.js";

const SIGNATURE_PREFIX = "\u2014 "; // em dash, space
const ED25519 = 0x01;

export class NoteError extends Error {
  constructor(message) {
    super(message);
    this.name = "NoteError";
  }
}

/** Thrown when the browser cannot check Ed25519 itself. */
export class NoEd25519 extends Error {
  constructor(cause) {
    super(`this browser has no WebCrypto Ed25519 (${cause})`);
    this.name = "NoEd25519";
  }
}

function validName(name) {
  return Boolean(name) && !name.includes("+") && !/\s/u.test(name);
}

/** `name+hexid+base64(0x01 ‖ key)`: parse and check the id against the key. */
export async function parseVerifierKey(text) {
  // Split at the first two "+" only: base64 has "+" of its own.
  const match = typeof text === "string" ? text.trim().match(/^([^+]*)\+([^+]*)\+(.*)$/s) : null;
  const parts = match ? match.slice(1) : [];
  if (parts.length !== 3 || !validName(parts[0]) || !/^[0-9a-fA-F]{8}$/.test(parts[1])) {
    throw new NoteError("a verifier key is name+hexid+base64");
  }
  let raw;
  try {
    raw = fromBase64(parts[2]);
  } catch (error) {
    throw new NoteError(`verifier key: ${error.message}`);
  }
  if (raw.length !== 33 || raw[0] !== ED25519) {
    throw new NoteError("verifier key must be an Ed25519 key (type 0x01, 32 bytes)");
  }
  const name = parts[0];
  const publicKey = raw.slice(1);
  const keyId = await computeKeyId(name, publicKey);
  if (toHex(keyId) !== parts[1].toLowerCase()) {
    throw new NoteError("verifier key id does not match the key");
  }
  return { name, keyId, publicKey, text: text.trim() };
}

export async function computeKeyId(name, publicKey) {
  const digest = await sha256(concat(utf8(name), Uint8Array.of(0x0a, ED25519), publicKey));
  return digest.slice(0, 4);
}

/** Split a signed note into its text and signature lines, strictly. */
export function splitNote(note) {
  if (typeof note !== "string") throw new NoteError("a signed note is text");
  if (/[\x00-\x09\x0b-\x1f]/.test(note)) throw new NoteError("note has a control character");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("no blank line before the signatures");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw new NoteError("signatures must end with a newline");
  const signatures = block
    .slice(0, -1)
    .split("\n")
    .map((line) => {
      if (!line.startsWith(SIGNATURE_PREFIX)) {
        throw new NoteError("a signature line starts with an em dash and a space");
      }
      const rest = line.slice(SIGNATURE_PREFIX.length);
      const space = rest.indexOf(" ");
      const name = space < 0 ? "" : rest.slice(0, space);
      let raw;
      try {
        raw = fromBase64(rest.slice(space + 1));
      } catch (error) {
        throw new NoteError(`signature: ${error.message}`);
      }
      if (!validName(name) || raw.length < 5) throw new NoteError("malformed signature line");
      return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
    });
  return { text, signatures };
}

/** Origin, decimal size and base64 root hash (32 bytes), then optional extension lines. */
export function parseCheckpoint(text) {
  const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : [];
  if (lines.length < 3 || !lines[0]) throw new NoteError("a checkpoint has origin, size, root");
  if (!/^(0|[1-9][0-9]{0,19})$/.test(lines[1]) || !Number.isSafeInteger(Number(lines[1]))) {
    throw new NoteError("checkpoint size must be a decimal integer");
  }
  let root;
  try {
    root = fromBase64(lines[2]);
  } catch (error) {
    throw new NoteError(`checkpoint root: ${error.message}`);
  }
  if (root.length !== 32) throw new NoteError("checkpoint root must be 32 bytes");
  return { origin: lines[0], size: Number(lines[1]), root, rootHex: toHex(root) };
}

async function importEd25519(publicKey) {
  let crypto;
  try {
    crypto = subtle();
  } catch (error) {
    throw new NoEd25519(error.message);
  }
  try {
    return await crypto.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    if (error && error.name === "NotSupportedError") throw new NoEd25519(error.message);
    throw new NoteError(`the verifier key is not a usable Ed25519 key (${error.message})`);
  }
}

/**
 * Verify a signed checkpoint in the browser: every signature by the known key must verify
 * and at least one must be there. Throws NoEd25519 when the browser cannot do it.
 */
export async function openCheckpointHere(note, key) {
  const { text, signatures } = splitNote(note);
  const mine = signatures.filter((s) => s.name === key.name && equalBytes(s.keyId, key.keyId));
  if (!mine.length) throw new NoteError(`the note has no signature by ${key.name}`);
  const cryptoKey = await importEd25519(key.publicKey);
  for (const { signature } of mine) {
    const good = await subtle().verify({ name: "Ed25519" }, cryptoKey, signature, utf8(text));
    if (!good) throw new NoteError(`invalid signature for key ${key.name}+${toHex(key.keyId)}`);
  }
  return parseCheckpoint(text);
}

/**
 * Fetch the current checkpoint and check its signature with `keyText` (the log's key unless the
 * caller gives another): here with WebCrypto Ed25519 when the browser has it, else by the
 * server's checkpoint verifier. Answers `{ok, where, checkpoint, note, key, error}`;
 * `where` is "browser" or "server".
 */
export async function loadCheckpoint(keyText) {
  const served = await api("ledger/log/checkpoint");
  const logKey = keyText ? { key: keyText } : await api("ledger/log/public-key");
  const result = { ok: false, where: "browser", note: served.checkpoint, key: logKey.key };
  let key;
  try {
    key = await parseVerifierKey(logKey.key);
  } catch (error) {
    return { ...result, error: error.message };
  }
  try {
    result.checkpoint = await openCheckpointHere(served.checkpoint, key);
    result.ok = true;
  } catch (error) {
    if (!(error instanceof NoEd25519)) return { ...result, error: error.message };
    result.where = "server";
    result.reasonForServer = error.message;
    const answer = await api("/ui/checkpoint/verify", {
      method: "POST",
      auth: false,
      body: { checkpoint: served.checkpoint, key: logKey.key },
    });
    if (!answer.verified) return { ...result, error: answer.error };
    result.checkpoint = parseCheckpoint(splitNote(served.checkpoint).text);
    result.ok = answer.root_hash === result.checkpoint.rootHex;
    if (!result.ok) result.error = "the server's reading of the checkpoint differs from ours";
  }
  if (result.ok && result.checkpoint.origin !== key.name) {
    return { ...result, ok: false, error: `checkpoint is for ${result.checkpoint.origin}` };
  }
  return result;
}
