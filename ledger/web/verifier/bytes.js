// Bytes and text at the edges (docs/FORMAT.md §1.6, ledger/parse.py): canonical padded base64,
// lowercase hex, strict UTF-8, and the few Python string operations the formats are defined
// with (str.isspace, str.strip, str.split with maxsplit, str.partition), spelled out so that
// JavaScript's different built-ins (trim, split's limit, \s) never change a verdict.

export const utf8 = new TextEncoder();
// fatal: invalid UTF-8 is refused, never replaced; ignoreBOM: a leading U+FEFF is kept as a
// character, as Python's "utf-8" codec keeps it (TextDecoder drops it by default).
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The UTF-8 bytes of a string (the caller has checked it holds no lone surrogate). */
export function encodeUtf8(text) {
  return utf8.encode(text);
}

/** The string of strictly valid UTF-8 bytes, or null (Python's bytes.decode("utf-8")). */
export function decodeUtf8(bytes) {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a JavaScript string can be UTF-8 (holds no lone surrogate). */
export function isWellFormed(text) {
  return !LONE_SURROGATE.test(text);
}

/** Concatenate byte arrays. */
export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `value` is a Uint8Array of exactly `size` bytes. */
export function isBytes(value, size) {
  return value instanceof Uint8Array && (size === undefined || value.length === size);
}

const HEX = "0123456789abcdef";

/** Lowercase hex. */
export function toHex(bytes) {
  let s = "";
  for (const b of bytes) s += HEX[b >> 4] + HEX[b & 15];
  return s;
}

/** Bytes of lowercase hex (an even number of digits), or null. */
export function fromHex(text) {
  if (typeof text !== "string" || !/^(?:[0-9a-f]{2})*$/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));
// Standard padded base64 (RFC 4648 §4): only the alphabet, padding only to complete the last
// group of four.
const B64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard padded base64 of bytes. */
export function b64encode(bytes) {
  let s = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    s += B64[n >> 18] + B64[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    s += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=";
  }
  return s;
}

/**
 * The bytes of canonical padded base64, or null: anything outside the alphabet, misplaced
 * padding, or a spelling whose unused trailing bits are not zero (which would give one value
 * two spellings) is refused, as `ledger.parse.b64decode` refuses it.
 */
export function b64decode(text) {
  if (typeof text !== "string" || !B64_SHAPE.test(text)) return null;
  const body = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (const c of body) {
    acc = (acc << 6) | B64_VALUE.get(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) return null; // non-zero trailing bits: not the canonical spelling
  return out;
}

// Python's str.isspace(), character by character (the same set for every Unicode version the
// project supports): tab to carriage return, the information separators U+001C-U+001F, space,
// NEL, no-break space, and the Unicode spaces and line/paragraph separators. Not JavaScript's \s,
// which adds U+FEFF and lacks U+001C-U+001F and U+0085.
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python's str.isspace() for one character (a code point). */
export function isPySpace(ch) {
  return PY_SPACE.has(ch.codePointAt(0));
}

// Python's str.isprintable(): false for the Unicode categories "Other" (Cc, Cf, Cs, Co, Cn) and
// "Separator" (Zl, Zp, Zs), except the ASCII space. The categories come from the JavaScript
// engine's Unicode tables, which may be newer than Python's (web/README.md, "Known limits").
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's str.isprintable() for one character (a code point). */
export function isPyPrintable(ch) {
  return ch === " " || !NOT_PRINTABLE.test(ch);
}

/** Python's str.strip() with no argument. */
export function pyStrip(text) {
  const chars = [...text];
  let a = 0;
  let b = chars.length;
  while (a < b && isPySpace(chars[a])) a++;
  while (b > a && isPySpace(chars[b - 1])) b--;
  return chars.slice(a, b).join("");
}

/** Python's str.split(sep, maxsplit): at most maxsplit splits, the rest kept whole. */
export function pySplit(text, sep, maxsplit) {
  const out = [];
  let rest = text;
  while (out.length < maxsplit) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

/** Python's str.partition(sep): [head, sep or "", tail]. */
export function pyPartition(text, sep) {
  const i = text.indexOf(sep);
  if (i < 0) return [text, "", ""];
  return [text.slice(0, i), sep, text.slice(i + sep.length)];
}

/** Big-endian unsigned integer of bytes, as a BigInt. */
export function bigEndian(bytes) {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** A non-negative integer given as a number or a bigint, as a BigInt (null if it is not one). */
export function asBigInt(value) {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  return null;
}
