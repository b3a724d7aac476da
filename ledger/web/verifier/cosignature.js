// Witness cosignatures: C2SP tlog-cosignature, cosignature/v1 (docs/FORMAT.md §14;
// ledger/witness.py): cosigner key strings, the cosigned message, and the check of a note's
// cosignatures under a witness policy, as `credledger verify --witness` makes it.
//
// Checks (the `check` of the VerifyError), in ledger/witness.py's order:
//
// parseCosigner (<name>+<8 hex key id>+<base64(0x04 || public key)>, surrounding white space
//   ignored): key.separators, key.name (empty, '+', a space, or a character Python's
//   str.isprintable refuses), key.id-format, key.base64, key.type (not 33 bytes starting with
//   0x04), key.id-mismatch.
// cosignatureTimes: cosig.ambiguous-keys (two trusted keys of one name and key id),
//   cosig.length (a trusted line that is not 8 + 64 bytes after its key id),
//   cosig.timestamp (a timestamp over 2^63 - 1), cosig.bad-signature.
// checkWitnessPolicy (after parseNote's checks): cosig.too-few (fewer distinct trusted keys
//   than asked), cosig.none (a maximum age but no cosignature), cosig.future (every
//   cosignature dated after the time of the check, beyond the allowed clock skew),
//   cosig.too-old (the newest is older than the maximum age).

import { VerifyError } from "./errors.js";
import {
  b64decode, bigEndian, concat, encodeUtf8, equal, isPyPrintable, isPySpace, pySplit, pyStrip,
  toHex,
} from "./bytes.js";
import { sha256 } from "./sha256.js";
import { verifyEd25519 } from "./ed25519.js";
import { parseNote } from "./note.js";

export const ALG_COSIGNATURE = 0x04;
export const HEADER = "cosignature/v1\n";
export const MAX_TIMESTAMP = (1n << 63n) - 1n;
/** How far after the verifier's clock a cosignature may be dated and still show freshness. */
export const MAX_CLOCK_SKEW_MS = 10n * 60n * 1000n;

/** The 4-byte key id of a cosigner key: SHA-256(name || 0x0a || 0x04 || key)[:4]. */
export async function cosignerKeyId(name, publicKey) {
  const digest = await sha256(encodeUtf8(name), Uint8Array.of(0x0a, ALG_COSIGNATURE), publicKey);
  return digest.slice(0, 4);
}

function badName(name) {
  if (!name || name.includes("+")) return true;
  for (const ch of name) if (isPySpace(ch) || !isPyPrintable(ch)) return true;
  return false;
}

/** Parse a cosigner (witness verifier) key string strictly: returns {name, keyId, publicKey}. */
export async function parseCosigner(text) {
  const fail = (check, why) => new VerifyError(check, `malformed witness key: ${why}`);
  const parts = pySplit(pyStrip(text), "+", 2);
  if (parts.length !== 3) throw fail("key.separators", "want <name>+<key id>+<base64 key>");
  const [name, hexId, encoded] = parts;
  if (badName(name)) throw fail("key.name", "the name must be non-empty, without spaces or '+'");
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw fail("key.id-format", "key id is not 8 lowercase hex digits");
  const raw = b64decode(encoded);
  if (raw === null) throw fail("key.base64", "not canonical base64");
  if (raw.length !== 33 || raw[0] !== ALG_COSIGNATURE) {
    throw fail("key.type", "want type 0x04 and a 32-byte Ed25519 key");
  }
  const publicKey = raw.slice(1);
  const keyId = await cosignerKeyId(name, publicKey);
  if (toHex(keyId) !== hexId) throw fail("key.id-mismatch", "key id does not match the key");
  return { name, keyId, publicKey };
}

/** The message a witness signs: "cosignature/v1\ntime <seconds>\n" then the checkpoint body. */
export function cosignedMessage(body, timestamp) {
  return concat(encodeUtf8(`${HEADER}time ${BigInt(timestamp)}\n`), encodeUtf8(body));
}

/**
 * The label each trusted public key is counted under (`witness.witness_labels`): the name of
 * the first witness with that key, or name+<key id> when witnesses of different keys share it.
 */
export function witnessLabels(witnesses) {
  const keysOf = new Map();
  for (const w of witnesses) {
    if (!keysOf.has(w.name)) keysOf.set(w.name, new Set());
    keysOf.get(w.name).add(toHex(w.publicKey));
  }
  const labels = new Map();
  for (const w of witnesses) {
    const pk = toHex(w.publicKey);
    if (!labels.has(pk)) {
      labels.set(pk, keysOf.get(w.name).size === 1 ? w.name : `${w.name}+${toHex(w.keyId)}`);
    }
  }
  return labels;
}

/**
 * Verify the cosignatures of the trusted `witnesses` on a parsed `note`
 * (`witness.cosignature_times`): a Map from each distinct trusted key's label to its newest
 * valid timestamp (seconds, a BigInt). Lines of unknown keys are ignored; a trusted key's line
 * that fails refuses the whole note.
 */
export async function cosignatureTimes(note, witnesses) {
  const known = new Map();
  for (const w of witnesses) {
    const at = `${w.name} ${toHex(w.keyId)}`;
    const other = known.get(at);
    if (other === undefined) known.set(at, w);
    else if (!equal(other.publicKey, w.publicKey)) {
      throw new VerifyError("cosig.ambiguous-keys", `ambiguous trusted witness keys: two ` +
                            `different keys are named ${w.name}+${toHex(w.keyId)}`);
    }
  }
  const labels = witnessLabels(witnesses);
  const newest = new Map(); // hex public key -> timestamp
  for (const sig of note.signatures) {
    const w = known.get(`${sig.name} ${toHex(sig.keyId)}`);
    if (w === undefined) continue;
    if (sig.signature.length !== 72) {
      throw new VerifyError("cosig.length", `cosignature from ${w.name}: want 72 bytes, got ${
        sig.signature.length}`);
    }
    const ts = bigEndian(sig.signature.subarray(0, 8));
    if (ts > MAX_TIMESTAMP) {
      throw new VerifyError("cosig.timestamp", `cosignature from ${w.name}: timestamp out of range`);
    }
    if (!(await verifyEd25519(w.publicKey, cosignedMessage(note.text, ts), sig.signature.subarray(8)))) {
      throw new VerifyError("cosig.bad-signature", `invalid cosignature from witness ${w.name}`);
    }
    const pk = toHex(w.publicKey);
    if (!newest.has(pk) || newest.get(pk) < ts) newest.set(pk, ts);
  }
  const out = new Map();
  for (const [pk, ts] of newest) out.set(labels.get(pk), ts);
  return out;
}

/**
 * The witness policy of `credledger verify --witness` (`witness.check_witness_policy`): valid
 * cosignatures of at least `minWitnesses` distinct trusted keys and, with `maxAgeMs`, the newest
 * (not dated beyond the clock skew after `nowMs`) no older than that. Returns cosignatureTimes.
 */
export async function checkWitnessPolicy(noteText, witnesses, { minWitnesses, maxAgeMs = null, nowMs }) {
  const times = await cosignatureTimes(parseNote(noteText), witnesses);
  if (times.size < minWitnesses) {
    throw new VerifyError("cosig.too-few", `the checkpoint has cosignatures of ${times.size} ` +
                          `distinct trusted witness key(s), want at least ${minWitnesses}`);
  }
  if (maxAgeMs !== null && maxAgeMs !== undefined) {
    const now = BigInt(nowMs);
    const maxAge = BigInt(maxAgeMs);
    if (times.size === 0) {
      throw new VerifyError("cosig.none", "a maximum age needs at least one trusted witness cosignature");
    }
    const dated = [...times.values()].map((t) => t * 1000n).filter((t) => t <= now + MAX_CLOCK_SKEW_MS);
    if (dated.length === 0) {
      throw new VerifyError("cosig.future", "every trusted witness cosignature is dated after " +
                            "the time of the check (more than the allowed clock skew)");
    }
    const newest = dated.reduce((a, b) => (a > b ? a : b));
    if (now - newest > maxAge) {
      throw new VerifyError("cosig.too-old", `the newest witness cosignature is ${
        (now - newest) / 1000n} s old, older than the allowed ${maxAge / 1000n} s`);
    }
  }
  return times;
}
