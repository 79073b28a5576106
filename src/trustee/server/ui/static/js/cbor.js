// Strict CBOR (RFC 8949) for the COSE structures the page reads, and the few encodings it
// writes. The same rules as the server's scitt/cbor.py: one definite-length data item and
// nothing after it, no duplicate map keys, map keys integers or text, nesting at most 16, no
// "undefined" and none of the tags that let a few bytes stand for much more.
//
// Values: integers are Numbers (BigInt beyond 2^53), byte strings Uint8Array, text strings
// String (strict UTF-8), arrays Array, maps Map, tags Tagged, false/true/null as themselves.

import { concat, fromUtf8, utf8 } from "./encoding.js";

export const MAX_DEPTH = 16;
export const MAX_BYTES = 4 * 1024 * 1024;
const REFUSED_TAGS = new Set([25, 28, 29, 35, 256, 21065]);

export class CborError extends Error {
  constructor(message) {
    super(message);
    this.name = "CborError";
  }
}

export class Tagged {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

/** The one data item of `bytes`; CborError for anything else. */
export function decodeCbor(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new CborError("CBOR input must be bytes");
  if (bytes.length > MAX_BYTES) throw new CborError("CBOR input is too large");
  const reader = new Reader(bytes);
  const value = reader.item(0);
  if (reader.offset !== bytes.length) {
    throw new CborError("not one CBOR data item: bytes follow it");
  }
  return value;
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = 0;
  }

  need(count) {
    if (this.offset + count > this.bytes.length) throw new CborError("truncated CBOR");
  }

  byte() {
    this.need(1);
    const value = this.bytes[this.offset];
    this.offset += 1;
    return value;
  }

  /** The argument of a head: Number when safe, else BigInt. */
  argument(info) {
    if (info < 24) return info;
    if (info === 24) return this.byte();
    if (info === 25) {
      this.need(2);
      const value = this.view.getUint16(this.offset);
      this.offset += 2;
      return value;
    }
    if (info === 26) {
      this.need(4);
      const value = this.view.getUint32(this.offset);
      this.offset += 4;
      return value;
    }
    if (info === 27) {
      this.need(8);
      const value = this.view.getBigUint64(this.offset);
      this.offset += 8;
      return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
    }
    if (info === 31) throw new CborError("indefinite lengths are not allowed");
    throw new CborError("reserved additional information in a CBOR head");
  }

  length(info) {
    const value = this.argument(info);
    if (typeof value !== "number" || value > this.bytes.length - this.offset) {
      throw new CborError("truncated CBOR: a length runs past the end of the input");
    }
    return value;
  }

  item(depth) {
    if (depth > MAX_DEPTH) throw new CborError(`CBOR nested deeper than ${MAX_DEPTH}`);
    const head = this.byte();
    const major = head >> 5;
    const info = head & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const n = this.argument(info);
        if (typeof n === "bigint") return -1n - n;
        return n + 1 > Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2: {
        const size = this.length(info);
        const out = this.bytes.slice(this.offset, this.offset + size);
        this.offset += size;
        return out;
      }
      case 3: {
        const size = this.length(info);
        const raw = this.bytes.subarray(this.offset, this.offset + size);
        this.offset += size;
        try {
          return fromUtf8(raw);
        } catch {
          throw new CborError("a CBOR text string is not UTF-8");
        }
      }
      case 4: {
        const count = this.length(info);
        const out = [];
        for (let i = 0; i < count; i += 1) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const count = this.length(info);
        const out = new Map();
        const seen = new Set();
        for (let i = 0; i < count; i += 1) {
          const key = this.item(depth + 1);
          const kind = typeof key;
          if (kind !== "number" && kind !== "bigint" && kind !== "string") {
            throw new CborError("map keys must be integers or strings");
          }
          const id = `${kind === "string" ? "s" : "i"}:${String(key)}`;
          if (seen.has(id)) throw new CborError("a CBOR map repeats a key");
          seen.add(id);
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = this.argument(info);
        if (typeof tag !== "number" || REFUSED_TAGS.has(tag)) {
          throw new CborError("a CBOR tag that no SCITT structure uses");
        }
        return new Tagged(tag, this.item(depth + 1));
      }
      default:
        return this.simple(info);
    }
  }

  simple(info) {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 25) {
      this.need(2);
      const half = this.view.getUint16(this.offset);
      this.offset += 2;
      return halfToNumber(half);
    }
    if (info === 26) {
      this.need(4);
      const value = this.view.getFloat32(this.offset);
      this.offset += 4;
      return value;
    }
    if (info === 27) {
      this.need(8);
      const value = this.view.getFloat64(this.offset);
      this.offset += 8;
      return value;
    }
    if (info === 31) throw new CborError("a CBOR break outside an indefinite item");
    throw new CborError("a CBOR simple value that no SCITT structure uses");
  }
}

function halfToNumber(half) {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

// -- encoding: shortest heads (RFC 8949 §4.2.1), for the few structures the page rebuilds --

export function head(major, value) {
  const m = major << 5;
  if (value < 24) return Uint8Array.of(m | value);
  if (value < 0x100) return Uint8Array.of(m | 24, value);
  if (value < 0x10000) return Uint8Array.of(m | 25, value >> 8, value & 0xff);
  if (value < 0x100000000) {
    const out = new Uint8Array(5);
    out[0] = m | 26;
    new DataView(out.buffer).setUint32(1, value);
    return out;
  }
  const out = new Uint8Array(9);
  out[0] = m | 27;
  new DataView(out.buffer).setBigUint64(1, BigInt(value));
  return out;
}

export function encodeInt(value) {
  return value >= 0 ? head(0, value) : head(1, -1 - value);
}

export function encodeBytes(bytes) {
  return concat(head(2, bytes.length), bytes);
}

export function encodeText(text) {
  const bytes = utf8(text);
  return concat(head(3, bytes.length), bytes);
}
