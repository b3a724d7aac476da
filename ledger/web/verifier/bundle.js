// Proof bundles, read (docs/FORMAT.md §9; ledger/bundle.py `parse_bundle`): strictly, every
// size limit checked before any hashing, in `parse_bundle`'s order. A bundle holds the signed
// checkpoint, entries with their inclusion proofs, status-map proofs with their records, and
// the credentials it proves (issuer and handle); nothing personal.
//
// Checks: bundle.too-large, bundle.items, bundle.json, bundle.duplicate (json.js),
// bundle.shape (an object without exactly its fields), bundle.format-v1, bundle.format,
// bundle.checkpoint, bundle.list (not a list, or longer than its limit), bundle.index,
// bundle.entry-twice, bundle.base64, bundle.hash-size, bundle.map-twice, bundle.no-credentials;
// map.shape (a leaf key without a value or the reverse), field.id and field.handle (a
// credential's issuer and id).

import { VerifyError } from "./errors.js";
import { b64decode, toHex } from "./bytes.js";
import { checkHandle, checkId } from "./events.js";
import { isObject, loadJson } from "./json.js";

export const BUNDLE_FORMAT = "credential-ledger/bundle@v2";
export const MAX_BUNDLE_SIZE = 16 << 20;
export const MAX_ENTRIES = 4096;
export const MAX_MAP_PROOFS = 4096;
export const MAX_CREDENTIALS = 1024;
export const MAX_PATH = 64;
export const MAX_BUNDLE_ITEMS = 1 << 19;
const MAX_B64 = 4 * Math.ceil(65535 / 3);

function fail(check, message) {
  return new VerifyError(check, `bundle: ${message}`);
}

function pyLen(value) {
  return typeof value === "string" ? [...value].length : value.length;
}

function b64(value, what, size = null) {
  if (typeof value !== "string" || pyLen(value) > MAX_B64) throw fail("bundle.base64", `${what}: want base64 text`);
  const raw = b64decode(value);
  if (raw === null) throw fail("bundle.base64", `${what}: not canonical base64`);
  if (size !== null && raw.length !== size) {
    throw fail("bundle.hash-size", `${what}: want ${size} bytes, got ${raw.length}`);
  }
  return raw;
}

function list(value, what, limit) {
  if (!Array.isArray(value)) throw fail("bundle.list", `${what}: want a list`);
  if (value.length > limit) throw fail("bundle.list", `${what}: more than ${limit} items`);
  return value;
}

/** `parse.json_fields`: an object with exactly `keys` (and any of `optional`). */
export function jsonFields(value, what, keys, optional = [], check = "bundle.shape") {
  if (!isObject(value)) throw new VerifyError(check, `${what}: want an object`);
  const missing = keys.filter((k) => !value.has(k)).sort();
  const extra = [...value.keys()].filter((k) => !keys.includes(k) && !optional.includes(k));
  if (missing.length || extra.length) {
    const name = missing.length ? missing[0] : extra.sort(byCodePoint)[0];
    throw new VerifyError(check, `${what}: ${missing.length ? "missing" : "unknown"} field ${
      JSON.stringify(name)}`);
  }
  return value;
}

/** Python's order of strings (by code point). */
export function byCodePoint(a, b) {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

function obj(value, what, keys) {
  return jsonFields(value, `bundle: ${what}`, keys);
}

/**
 * Strictly parse a bundle (bytes, or text): {checkpoint, entries: Map(index BigInt ->
 * {entry, proof}), proofs: Map(hex key -> {proof, record}), credentials: [[issuer, handle]]}.
 */
export function parseBundle(data) {
  if (pyLen(data) > MAX_BUNDLE_SIZE) throw fail("bundle.too-large", `larger than ${MAX_BUNDLE_SIZE} bytes`);
  let doc = loadJson(data, { what: "bundle", prefix: "bundle", maxItems: MAX_BUNDLE_ITEMS });
  doc = obj(doc, "top level", ["format", "checkpoint", "entries", "map", "credentials"]);
  const format = doc.get("format");
  if (format !== BUNDLE_FORMAT) {
    if (format === "credential-ledger/bundle@v1") {
      throw fail("bundle.format-v1", "format: credential-ledger/bundle@v1 is of entry format 1; " +
                 `this verifier reads '${BUNDLE_FORMAT}'`);
    }
    throw fail("bundle.format", `format: want '${BUNDLE_FORMAT}'`);
  }
  if (typeof doc.get("checkpoint") !== "string") throw fail("bundle.checkpoint", "checkpoint: want the note text");
  const entries = new Map();
  list(doc.get("entries"), "entries", MAX_ENTRIES).forEach((raw, n) => {
    const item = obj(raw, `entries[${n}]`, ["index", "entry", "proof"]);
    const index = item.get("index");
    if (typeof index !== "bigint" || index < 0n || index >= 1n << 63n) {
      throw fail("bundle.index", `entries[${n}].index: want a non-negative integer`);
    }
    if (entries.has(index)) throw fail("bundle.entry-twice", `entry ${index} appears twice`);
    const proof = list(item.get("proof"), `entries[${n}].proof`, MAX_PATH)
      .map((h) => b64(h, `entries[${n}].proof`, 32));
    entries.set(index, { entry: b64(item.get("entry"), `entries[${n}].entry`), proof });
  });
  const proofs = new Map();
  list(doc.get("map"), "map", MAX_MAP_PROOFS).forEach((raw, n) => {
    const item = obj(raw, `map[${n}]`, ["key", "leaf_key", "leaf_value", "siblings", "record"]);
    const key = b64(item.get("key"), `map[${n}].key`, 32);
    const hex = toHex(key);
    if (proofs.has(hex)) throw fail("bundle.map-twice", `map[${n}]: the same key appears twice`);
    const siblings = list(item.get("siblings"), `map[${n}].siblings`, 256)
      .map((h) => b64(h, `map[${n}].siblings`, 32));
    const leafKey = item.get("leaf_key") === null ? null : b64(item.get("leaf_key"), "leaf_key", 32);
    const leafValue = item.get("leaf_value") === null ? null : b64(item.get("leaf_value"), "leaf_value", 32);
    const record = item.get("record") === null ? null : b64(item.get("record"), `map[${n}].record`);
    if ((leafKey === null) !== (leafValue === null)) {
      throw fail("map.shape", `map[${n}]: map proof leaf_key and leaf_value must both be given or both be None`);
    }
    proofs.set(hex, { proof: { key, leafKey, leafValue, siblings }, record });
  });
  const credentials = [];
  list(doc.get("credentials"), "credentials", MAX_CREDENTIALS).forEach((raw, n) => {
    const item = obj(raw, `credentials[${n}]`, ["issuer", "id"]);
    try {
      credentials.push([checkId(item.get("issuer"), "issuer"), checkHandle(item.get("id"))]);
    } catch (exc) {
      if (exc instanceof VerifyError) exc.message = `bundle: credentials[${n}]: ${exc.message}`;
      throw exc;
    }
  });
  if (credentials.length === 0) throw fail("bundle.no-credentials", "credentials: empty");
  return { checkpoint: doc.get("checkpoint"), entries, proofs, credentials };
}
