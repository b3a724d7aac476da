// Strict JSON as ledger/parse.py and ledger/vcjson.py read it: Python's `json.loads` with an
// object hook that refuses a member named twice in one object. JSON.parse cannot tell a
// repeated member (the last one silently wins), so this is a small reader of its own, which
// also reads what Python's reads and JSON.parse does not: NaN, Infinity and -Infinity, lone
// surrogates, and bytes in UTF-16 or UTF-32 (Python's `json.detect_encoding`, decoded with
// "surrogatepass").
//
// Values: objects are Maps (insertion order, no member twice), arrays Arrays, strings strings,
// integers BigInts (Python's int: refused past 4300 digits, as Python 3.11's int() refuses
// them), numbers with a fraction or exponent Numbers (Python's float), true, false, null.
//
// Checks (`${prefix}.x`, the prefix naming the document): .items (more `{`, `[` and `,` outside
// strings than allowed, counted before parsing: `parse.json_items_within`), .json (not JSON),
// .duplicate (a member named twice in one object; found when the object closes, as Python's
// hook finds it).

import { VerifyError } from "./errors.js";

/** Python's JSON parser nests about this deep before its RecursionError (the exact depth
 * depends on the caller's stack: web/README.md, "Known limits"). */
export const MAX_DEPTH = 900;
const MAX_INT_DIGITS = 4300;

// ------------------------------------------------------------------------ counting items

/** `parse.json_items_within`: at most `limit` structural characters outside strings. */
export function jsonItemsWithin(data, limit) {
  const code = typeof data === "string" ? (i) => data.charCodeAt(i) : (i) => data[i];
  const n = data.length;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = code(i);
    if (c === 0x7b || c === 0x5b || c === 0x2c) count++;
  }
  if (count <= limit) return true;
  count = 0;
  for (let i = 0; i < n; i++) {
    const c = code(i);
    if (c === 0x22) {
      let j = i + 1;
      for (;;) {
        if (j >= n) return true; // a string never closed: not JSON from here
        const d = code(j);
        if (d === 0x22) break;
        if (d === 0x5c) {
          if (j + 1 >= n) return true;
          j += 2;
        } else j++;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b || c === 0x2c) {
      count++;
      if (count > limit) return false;
    }
  }
  return true;
}

// ------------------------------------------------------------------------ bytes to text

/** Python's `json.detect_encoding`. */
function detectEncoding(b) {
  const starts = (...xs) => xs.every((x, i) => b[i] === x) && b.length >= xs.length;
  if (starts(0x00, 0x00, 0xfe, 0xff) || starts(0xff, 0xfe, 0x00, 0x00)) return "utf-32";
  if (starts(0xfe, 0xff) || starts(0xff, 0xfe)) return "utf-16";
  if (starts(0xef, 0xbb, 0xbf)) return "utf-8-sig";
  if (b.length >= 4) {
    if (!b[0]) return b[1] ? "utf-16-be" : "utf-32-be";
    if (!b[1]) return b[2] || b[3] ? "utf-16-le" : "utf-32-le";
  } else if (b.length === 2) {
    if (!b[0]) return "utf-16-be";
    if (!b[1]) return "utf-16-le";
  }
  return "utf-8";
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function fromCodePoints(points) {
  let s = "";
  for (let i = 0; i < points.length; i += 4096) {
    s += String.fromCharCode(...points.slice(i, i + 4096));
  }
  return s;
}

function pushCodePoint(out, cp) {
  if (cp >= 0x10000) {
    cp -= 0x10000;
    out.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
  } else out.push(cp);
}

/** UTF-8 with "surrogatepass" (encoded surrogates decode to lone surrogates); null if invalid. */
function utf8Surrogatepass(b) {
  try {
    return fatalUtf8.decode(b);
  } catch {
    // fall through: perhaps encoded surrogates, which Python passes
  }
  const out = [];
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let cp;
    let n;
    if (c < 0x80) {
      cp = c; n = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      cp = c & 0x1f; n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      cp = c & 0x0f; n = 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      cp = c & 0x07; n = 4;
    } else return null;
    if (i + n > b.length) return null;
    for (let k = 1; k < n; k++) {
      const d = b[i + k];
      if ((d & 0xc0) !== 0x80) return null;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n === 3 && cp < 0x800) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff))) return null;
    pushCodePoint(out, cp);
    i += n;
  }
  return fromCodePoints(out);
}

function utf16(b, little) {
  if (b.length % 2) return null;
  const out = [];
  for (let i = 0; i < b.length; i += 2) out.push(little ? b[i] | (b[i + 1] << 8) : (b[i] << 8) | b[i + 1]);
  return fromCodePoints(out); // surrogatepass: lone surrogates stay
}

function utf32(b, little) {
  if (b.length % 4) return null;
  const out = [];
  for (let i = 0; i < b.length; i += 4) {
    const cp = little ? (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0
                      : ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
    if (cp > 0x10ffff) return null;
    pushCodePoint(out, cp);
  }
  return fromCodePoints(out);
}

/** The text Python's json.loads reads from bytes, or null where its decoding fails. */
export function jsonText(b) {
  switch (detectEncoding(b)) {
    case "utf-8": return utf8Surrogatepass(b);
    case "utf-8-sig": return utf8Surrogatepass(b.subarray(3));
    case "utf-16": return utf16(b.subarray(2), b[0] === 0xff);
    case "utf-32": return utf32(b.subarray(4), b[0] === 0xff);
    case "utf-16-be": return utf16(b, false);
    case "utf-16-le": return utf16(b, true);
    case "utf-32-be": return utf32(b, false);
    default: return utf32(b, true);
  }
}

// ------------------------------------------------------------------------ the reader

class Syntax extends Error {}

class Reader {
  constructor(text, duplicate) {
    this.s = text;
    this.i = 0;
    this.duplicate = duplicate;
  }

  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.i++;
    }
  }

  value(depth) {
    const s = this.s;
    const c = s[this.i];
    if (c === '"') return this.string();
    if (c === "{") return this.object(depth + 1);
    if (c === "[") return this.array(depth + 1);
    for (const [word, value] of [["null", null], ["true", true], ["false", false], ["NaN", NaN],
                                 ["Infinity", Infinity], ["-Infinity", -Infinity]]) {
      if (s.startsWith(word, this.i)) {
        this.i += word.length;
        return value;
      }
    }
    return this.number();
  }

  number() {
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    m.lastIndex = this.i;
    const found = m.exec(this.s);
    if (found === null) throw new Syntax("Expecting value");
    this.i += found[0].length;
    if (found[1] === undefined && found[2] === undefined) {
      const digits = found[0].replace("-", "");
      if (digits.length > MAX_INT_DIGITS) throw new Syntax("Exceeds the limit for integer string conversion");
      return BigInt(found[0]);
    }
    return Number(found[0]);
  }

  string() {
    const s = this.s;
    let i = this.i + 1;
    let out = "";
    let start = i;
    for (;;) {
      if (i >= s.length) throw new Syntax("Unterminated string");
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) throw new Syntax("Invalid control character");
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += s.slice(start, i);
      const e = s[i + 1];
      const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }[e];
      if (simple !== undefined) {
        out += simple;
        i += 2;
      } else if (e === "u") {
        const hex = s.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Syntax("Invalid \\uXXXX escape");
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else throw new Syntax("Invalid \\escape");
      start = i;
    }
    out += s.slice(start, i);
    this.i = i + 1;
    return out;
  }

  object(depth) {
    if (depth > MAX_DEPTH) throw new Syntax("maximum recursion depth exceeded");
    const s = this.s;
    this.i++;
    const pairs = [];
    this.ws();
    if (s[this.i] === "}") {
      this.i++;
      return new Map();
    }
    for (;;) {
      if (s[this.i] !== '"') throw new Syntax("Expecting property name enclosed in double quotes");
      const name = this.string();
      this.ws();
      if (s[this.i] !== ":") throw new Syntax("Expecting ':' delimiter");
      this.i++;
      this.ws();
      const value = this.value(depth);
      pairs.push([name, value]);
      this.ws();
      if (s[this.i] === "}") {
        this.i++;
        break;
      }
      if (s[this.i] !== ",") throw new Syntax("Expecting ',' delimiter");
      this.i++;
      this.ws();
    }
    const out = new Map();
    for (const [name, value] of pairs) {
      if (out.has(name)) throw this.duplicate(name);
      out.set(name, value);
    }
    return out;
  }

  array(depth) {
    if (depth > MAX_DEPTH) throw new Syntax("maximum recursion depth exceeded");
    const s = this.s;
    this.i++;
    const out = [];
    this.ws();
    if (s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      if (s[this.i] === "]") {
        this.i++;
        return out;
      }
      if (s[this.i] !== ",") throw new Syntax("Expecting ',' delimiter");
      this.i++;
      this.ws();
    }
  }
}

/**
 * Parse JSON as `parse.load_json` does (bytes or a string; `maxItems` counted first when
 * given). `what` starts the messages ("bundle", "credential"); `prefix` names the checks.
 */
export function loadJson(data, { what, prefix, maxItems = null }) {
  if (maxItems !== null && !jsonItemsWithin(data, maxItems)) {
    throw new VerifyError(`${prefix}.items`, `${what}: more than ${maxItems} JSON items`);
  }
  const notJson = () => new VerifyError(`${prefix}.json`, `${what}: not JSON`);
  let text;
  if (typeof data === "string") {
    if (data.startsWith("\ufeff")) throw notJson(); // "Unexpected UTF-8 BOM"
    text = data;
  } else {
    text = jsonText(data);
    if (text === null) throw notJson();
  }
  const duplicate = (name) => new VerifyError(`${prefix}.duplicate`, `${what}: member ${
    JSON.stringify(name.slice(0, 40))} appears twice in one object`);
  const reader = new Reader(text, duplicate);
  try {
    reader.ws();
    const value = reader.value(0);
    reader.ws();
    if (reader.i !== text.length) throw new Syntax("Extra data");
    return value;
  } catch (exc) {
    if (exc instanceof Syntax || exc instanceof RangeError) throw notJson();
    throw exc;
  }
}

/** Whether a parsed JSON value is an object (a Map). */
export function isObject(value) {
  return value instanceof Map;
}

/** Python's == on parsed JSON values (1 == 1.0 == True; objects by members, any order). */
export function pyEqual(a, b) {
  const num = (v) => (typeof v === "boolean" ? (v ? 1 : 0) : v);
  const x = num(a);
  const y = num(b);
  if ((typeof x === "bigint" || typeof x === "number") && (typeof y === "bigint" || typeof y === "number")) {
    if (typeof x === "number" && typeof y === "number") return x === y;
    if (typeof x === "bigint" && typeof y === "bigint") return x === y;
    const f = typeof x === "number" ? x : y;
    const n = typeof x === "bigint" ? x : y;
    return Number.isInteger(f) && BigInt(f) === n;
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !pyEqual(v, b.get(k))) return false;
    return true;
  }
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => pyEqual(v, b[i]));
  }
  return a === b;
}
