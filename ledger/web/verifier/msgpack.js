// Canonical msgpack (docs/FORMAT.md §1.1) and its strict decoding (§1.2), as
// ledger/events.py does it: `unpackArray` accepts bytes exactly when `events.unpack_array`
// does, and fails the same check when it does not.
//
// `events.unpack_array` runs msgpack-python's unpackb (raw=False, strict_map_key=True), then
// refuses anything but arrays, nil, bools, integers, str and bin nested at most 8 deep, then
// re-encodes with packb(use_bin_type=True) and refuses bytes that differ. The checks here, in
// that order (the `check` of the VerifyError thrown):
//
//   msgpack.value      not exactly one msgpack value: truncated, trailing bytes, the unused
//                      byte 0xc1, invalid UTF-8 in a str, a map key that is not str or bin,
//                      a timestamp extension (type -1) that msgpack-python cannot read, or
//                      more than 1024 containers open at once (msgpack-python's stack)
//   msgpack.array      the value is not an array
//   msgpack.type       a map, a float or an extension value inside (first one, depth first)
//   msgpack.depth      arrays nested deeper than 8 levels (ledger.events.MAX_NESTING)
//   msgpack.canonical  the value does not re-encode to exactly the input
//
// Decoded values: arrays are Arrays, nil is null, bools are booleans, integers are BigInts
// (whatever their size, so that no integer is ever a float and a bool is never an integer),
// str is a string, bin a Uint8Array.

import { VerifyError } from "./errors.js";
import { concat, decodeUtf8, encodeUtf8, equal } from "./bytes.js";

export const MAX_NESTING = 8;
/** Containers msgpack-python's unpacker holds open at once; one more is its StackError. */
export const STACK_LIMIT = 1024;

// Values a map, a float or an extension decodes to: they only exist to be refused (after the
// whole input has decoded, as msgpack-python decodes first and checks after).
class Refused {
  constructor(type) {
    this.type = type;
  }
}

class Reader {
  constructor(data, what) {
    this.data = data;
    this.at = 0;
    this.what = what;
    this.open = 0;
  }

  fail(why) {
    throw new VerifyError("msgpack.value", `${this.what}: not one msgpack value (${why})`);
  }

  take(n) {
    if (this.at + n > this.data.length) this.fail("incomplete input");
    const out = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  uint(n) {
    const b = this.take(n);
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    return v;
  }

  int(n) {
    const v = this.uint(n);
    const bits = BigInt(8 * n);
    return v >= 1n << (bits - 1n) ? v - (1n << bits) : v;
  }

  length(n) {
    return Number(this.uint(n));
  }

  str(n) {
    const text = decodeUtf8(this.take(n));
    if (text === null) this.fail("invalid UTF-8 in a str");
    return text;
  }

  array(n) {
    this.push();
    const out = [];
    for (let i = 0; i < n; i++) out.push(this.value());
    this.open--;
    return out;
  }

  map(n) {
    this.push();
    for (let i = 0; i < n; i++) {
      const key = this.value();
      // strict_map_key: only str or bin keys (checked as each key is read).
      if (typeof key !== "string" && !(key instanceof Uint8Array)) {
        this.fail("a map key that is not str or bin");
      }
      this.value();
    }
    this.open--;
    return new Refused("map");
  }

  push() {
    this.open++;
    if (this.open > STACK_LIMIT) this.fail("nested data too deep");
  }

  ext(n) {
    const type = this.int(1);
    const data = this.take(n);
    if (type === -1n) {
      // msgpack-python reads type -1 as a Timestamp: 4, 8 or 12 bytes with nanoseconds below
      // 10^9, or a ValueError.
      if (n === 8) {
        const nanos = (new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0)) >> 34n;
        if (nanos > 999999999n) this.fail("timestamp nanoseconds out of range");
      } else if (n === 12) {
        const nanos = new DataView(data.buffer, data.byteOffset, 12).getUint32(0);
        if (nanos > 999999999) this.fail("timestamp nanoseconds out of range");
      } else if (n !== 4) {
        this.fail(`invalid timestamp data (length ${n})`);
      }
      return new Refused("Timestamp");
    }
    // msgpack-python's ExtType takes codes 0 to 127 only: another negative one is a ValueError.
    if (type < 0n) this.fail("extension type code must be 0 to 127");
    return new Refused("ExtType");
  }

  value() {
    const b = this.take(1)[0];
    if (b <= 0x7f) return BigInt(b);
    if (b <= 0x8f) return this.map(b & 0x0f);
    if (b <= 0x9f) return this.array(b & 0x0f);
    if (b <= 0xbf) return this.str(b & 0x1f);
    if (b >= 0xe0) return BigInt(b - 0x100);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.take(this.length(1)).slice();
      case 0xc5: return this.take(this.length(2)).slice();
      case 0xc6: return this.take(this.length(4)).slice();
      case 0xc7: return this.ext(this.length(1));
      case 0xc8: return this.ext(this.length(2));
      case 0xc9: return this.ext(this.length(4));
      case 0xca: this.take(4); return new Refused("float");
      case 0xcb: this.take(8); return new Refused("float");
      case 0xcc: return this.uint(1);
      case 0xcd: return this.uint(2);
      case 0xce: return this.uint(4);
      case 0xcf: return this.uint(8);
      case 0xd0: return this.int(1);
      case 0xd1: return this.int(2);
      case 0xd2: return this.int(4);
      case 0xd3: return this.int(8);
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.str(this.length(1));
      case 0xda: return this.str(this.length(2));
      case 0xdb: return this.str(this.length(4));
      case 0xdc: return this.array(this.length(2));
      case 0xdd: return this.array(this.length(4));
      case 0xde: return this.map(this.length(2));
      case 0xdf: return this.map(this.length(4));
      default: this.fail("the unused byte 0xc1"); // 0xc1
    }
    return undefined; // not reached
  }
}

function typeName(value) {
  if (value instanceof Refused) return value.type;
  return typeof value;
}

// `events._check_plain`: depth first, in order; the depth is checked as each array is entered.
function checkPlain(items, what, depth) {
  if (depth >= MAX_NESTING) {
    throw new VerifyError("msgpack.depth", `${what}: arrays nested deeper than ${MAX_NESTING} levels`);
  }
  for (const item of items) {
    if (Array.isArray(item)) checkPlain(item, what, depth + 1);
    else if (item instanceof Refused) {
      throw new VerifyError("msgpack.type",
                            `${what}: ${typeName(item)} is not allowed in canonical values`);
    }
  }
}

/**
 * Strictly decode one canonical msgpack array (`ledger.events.unpack_array`). Throws a
 * VerifyError whose check is one of msgpack.value, .array, .type, .depth, .canonical.
 */
export function unpackArray(data, what = "value") {
  if (!(data instanceof Uint8Array)) {
    throw new VerifyError("msgpack.value", `${what}: want bytes`);
  }
  const reader = new Reader(data, what);
  const value = reader.value();
  if (reader.at !== data.length) reader.fail("trailing bytes");
  if (!Array.isArray(value)) {
    throw new VerifyError("msgpack.array", `${what}: want a msgpack array, got ${
      value === null ? "nil" : typeName(value)}`);
  }
  checkPlain(value, what, 0);
  if (!equal(pack(value), data)) {
    throw new VerifyError("msgpack.canonical",
                          `${what}: not canonical msgpack (does not re-encode identically)`);
  }
  return value;
}

function header(small, tag8, tag16, tag32, n, smallMax) {
  if (n <= smallMax) return [small | n];
  if (tag8 !== null && n <= 0xff) return [tag8, n];
  if (n <= 0xffff) return [tag16, n >> 8, n & 0xff];
  return [tag32, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

function bigBytes(v, n) {
  const out = new Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

// msgpack-python's packer: the shortest form; unsigned types for non-negative integers,
// signed ones only for negative integers.
function packInt(v, out) {
  if (v < 0n) {
    if (v >= -32n) out.push(Number(v + 256n));
    else if (v >= -128n) out.push(0xd0, ...bigBytes(v + 256n, 1));
    else if (v >= -32768n) out.push(0xd1, ...bigBytes(v + 65536n, 2));
    else if (v >= -(1n << 31n)) out.push(0xd2, ...bigBytes(v + (1n << 32n), 4));
    else if (v >= -(1n << 63n)) out.push(0xd3, ...bigBytes(v + (1n << 64n), 8));
    else throw new RangeError("integer below -2^63");
  } else if (v < 128n) out.push(Number(v));
  else if (v < 256n) out.push(0xcc, Number(v));
  else if (v < 65536n) out.push(0xcd, ...bigBytes(v, 2));
  else if (v < 1n << 32n) out.push(0xce, ...bigBytes(v, 4));
  else if (v < 1n << 64n) out.push(0xcf, ...bigBytes(v, 8));
  else throw new RangeError("integer of 2^64 or more");
}

function packInto(value, chunks, out) {
  if (value === null) out.push(0xc0);
  else if (value === false) out.push(0xc2);
  else if (value === true) out.push(0xc3);
  else if (typeof value === "bigint") packInt(value, out);
  else if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError("only integers are packed");
    packInt(BigInt(value), out);
  } else if (typeof value === "string") {
    const b = encodeUtf8(value);
    out.push(...header(0xa0, 0xd9, 0xda, 0xdb, b.length, 31));
    flush(chunks, out);
    chunks.push(b);
  } else if (value instanceof Uint8Array) {
    out.push(...header(0, 0xc4, 0xc5, 0xc6, value.length, -1));
    flush(chunks, out);
    chunks.push(value);
  } else if (Array.isArray(value)) {
    out.push(...header(0x90, null, 0xdc, 0xdd, value.length, 15));
    for (const item of value) packInto(item, chunks, out);
  } else {
    throw new TypeError(`${typeName(value)} is not allowed in canonical values`);
  }
}

function flush(chunks, out) {
  if (out.length) {
    chunks.push(Uint8Array.from(out));
    out.length = 0;
  }
}

/** The canonical encoding of a value of arrays, null, booleans, integers, strings and bytes. */
export function pack(value) {
  const chunks = [];
  const out = [];
  packInto(value, chunks, out);
  flush(chunks, out);
  return concat(...chunks);
}
