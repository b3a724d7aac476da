// C2SP signed notes, checkpoints and log key strings (docs/FORMAT.md §7; ledger/note.py):
// parsed as strictly as ledger/note.py parses them, verified under the ledger's Ed25519 rule.
//
// Checks (the `check` of the VerifyError), in ledger/note.py's order:
//
// parseVerifier (a log key string <name>+<8 hex key id>+<base64(0x01 || public key)>):
//   key.separators    not three parts around '+'
//   key.name          an empty name, or one with '+', a space or a control character
//   key.id-format     the key id is not 8 lowercase hex digits
//   key.base64        the key is not canonical padded base64
//   key.length        the key does not decode to 33 bytes
//   key.type          the type byte is not 0x01 (Ed25519)
//   key.id-mismatch   the key id is not the one of this name and key
//
// parseNote:
//   note.too-large          more than 1 MiB of UTF-8
//   note.utf8               not valid UTF-8
//   note.control            a control character other than newline
//   note.no-blank-line      no blank line before the signatures
//   note.no-signatures      nothing after the last blank line
//   note.unterminated       the last signature line does not end with a newline
//   note.too-many-signatures more than 100 signature lines
//   note.signature-prefix   a line that does not start with an em dash and a space
//   note.signature-space    no space between the key name and the signature
//   note.signature-name     an invalid key name
//   note.signature-base64   the signature is not canonical padded base64
//   note.signature-short    the signature holds no more than a 4-byte key id
//
// openNote (then): note.ambiguous-keys (two trusted keys of one name and key id),
//   note.bad-signature (a trusted key's line does not verify), note.untrusted (no line of a
//   trusted key).
//
// parseCheckpoint: checkpoint.newline, checkpoint.lines (not 3 lines), checkpoint.size (not
//   decimal without leading zeros, over 20 digits, or 2^64 or more), checkpoint.root (not
//   canonical base64, or not 32 bytes), checkpoint.origin (empty, or a control character).
// openCheckpoint (then): checkpoint.origin-mismatch (the origin is not the log key's name).

import { VerifyError } from "./errors.js";
import {
  b64decode, decodeUtf8, encodeUtf8, equal, isPySpace, isWellFormed, pyPartition,
  pySplit, toHex,
} from "./bytes.js";
import { sha256 } from "./sha256.js";
import { verifyEd25519 } from "./ed25519.js";

export const MAX_NOTE_SIZE = 1 << 20;
export const MAX_SIGNATURES = 100;
export const ALG_ED25519 = 0x01;
const SIGNATURE_PREFIX = "\u2014 ";
const MAX_SIZE = (1n << 64n) - 1n;
// Every ASCII control character except newline (c2sp.org/signed-note).
const FORBIDDEN_CONTROL = /[\x00-\x09\x0b-\x1f]/;

/** Why `name` is not a valid key name (`note._name_problem`), or null. */
export function nameProblem(name) {
  if (!name) return "key name is empty";
  if (name.includes("+")) return "key name contains '+'";
  for (const ch of name) {
    if (isPySpace(ch) || ch.codePointAt(0) < 0x20) {
      return "key name contains a space or control character";
    }
  }
  if (!isWellFormed(name)) return "key name is not valid UTF-8";
  return null;
}

/** The 4-byte key id of an Ed25519 note key: SHA-256(name || 0x0a || 0x01 || key)[:4]. */
export async function noteKeyId(name, publicKey) {
  const digest = await sha256(encodeUtf8(name), Uint8Array.of(0x0a, ALG_ED25519), publicKey);
  return digest.slice(0, 4);
}

/**
 * Parse a verifier key string `<name>+<8 hex key id>+<base64(0x01 || public key)>` strictly
 * (`note.parse_verifier`): returns {name, keyId, publicKey}.
 */
export async function parseVerifier(text) {
  const fail = (check, why) => new VerifyError(check, `malformed verifier key: ${why}`);
  const parts = pySplit(text, "+", 2);
  if (parts.length !== 3) {
    throw fail("key.separators", "want <name>+<key id>+<base64 key>");
  }
  const [name, hexId, encoded] = parts;
  const problem = nameProblem(name);
  if (problem !== null) throw fail("key.name", problem);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw fail("key.id-format", "key id is not 8 lowercase hex digits");
  const raw = b64decode(encoded);
  if (raw === null) throw fail("key.base64", "key is not canonical padded base64");
  if (raw.length !== 33) throw fail("key.length", `key decodes to ${raw.length} bytes, want 33`);
  if (raw[0] !== ALG_ED25519) throw fail("key.type", `key type is 0x${raw[0].toString(16)}, want 0x01`);
  const publicKey = raw.slice(1);
  const keyId = await noteKeyId(name, publicKey);
  if (toHex(keyId) !== hexId) {
    throw fail("key.id-mismatch", `key id ${hexId} does not match the key (computed ${toHex(keyId)})`);
  }
  return { name, keyId, publicKey };
}

function noteError(check, why) {
  return new VerifyError(check, `malformed note: ${why}`);
}

/**
 * Parse a signed note (c2sp.org/signed-note) without verifying it (`note.parse_note`):
 * bytes or a string; returns {text, signatures: [{name, keyId, signature}]}.
 */
export function parseNote(data) {
  let text;
  if (data instanceof Uint8Array) {
    if (data.length > MAX_NOTE_SIZE) throw noteError("note.too-large", "more than 1 MiB");
    text = decodeUtf8(data);
    if (text === null) throw noteError("note.utf8", "not valid UTF-8");
  } else {
    if (typeof data !== "string") throw new TypeError("a note is a Uint8Array or a string");
    text = data;
    // Python counts characters first (code points), then UTF-8 bytes.
    if (text.length > MAX_NOTE_SIZE && [...text].length > MAX_NOTE_SIZE) {
      throw noteError("note.too-large", "more than 1 MiB");
    }
    if (!isWellFormed(text)) throw noteError("note.utf8", "not valid UTF-8");
    if (encodeUtf8(text).length > MAX_NOTE_SIZE) throw noteError("note.too-large", "more than 1 MiB");
  }
  if (FORBIDDEN_CONTROL.test(text)) throw noteError("note.control", "a control character");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) throw noteError("note.no-blank-line", "no blank line before the signatures");
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (!block) throw noteError("note.no-signatures", "no signature lines after the blank line");
  if (!block.endsWith("\n")) {
    throw noteError("note.unterminated", "last signature line does not end with a newline");
  }
  const count = block.split("\n").length - 1;
  if (count > MAX_SIGNATURES) {
    throw noteError("note.too-many-signatures", `${count} signature lines, limit ${MAX_SIGNATURES}`);
  }
  const signatures = block.slice(0, -1).split("\n").map((line, i) => parseSignatureLine(line, i + 1));
  return { text: body, signatures };
}

function parseSignatureLine(line, number) {
  const where = `signature line ${number}`;
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw noteError("note.signature-prefix", `${where} does not start with an em dash and a space`);
  }
  const [name, space, encoded] = pyPartition(line.slice(SIGNATURE_PREFIX.length), " ");
  if (!space) throw noteError("note.signature-space", `${where} has no space after the key name`);
  const problem = nameProblem(name);
  if (problem !== null) throw noteError("note.signature-name", `${where}: ${problem}`);
  const raw = b64decode(encoded);
  if (raw === null) throw noteError("note.signature-base64", `${where}: not canonical padded base64`);
  if (raw.length <= 4) {
    throw noteError("note.signature-short", `${where}: signature decodes to ${raw.length} bytes`);
  }
  return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
}

function index(name, keyId) {
  return `${name} ${toHex(keyId)}`; // a name holds no space
}

/**
 * Parse a signed note and check it against the trusted `verifiers` (`note.open_note`): a line
 * whose name and key id do not both match a trusted key is ignored; every line that matches
 * must verify; at least one must. Returns {note, verified}: the trusted verifiers whose
 * signatures verified, in the order of their first lines.
 */
export async function openNote(data, verifiers) {
  const note = parseNote(data);
  const known = new Map();
  for (const v of verifiers) {
    const at = index(v.name, v.keyId);
    const other = known.get(at);
    if (other === undefined) known.set(at, v);
    else if (!equal(other.publicKey, v.publicKey)) {
      throw new VerifyError("note.ambiguous-keys", `ambiguous trusted keys: two different keys ` +
                            `are named ${v.name}+${toHex(v.keyId)}`);
    }
  }
  const message = encodeUtf8(note.text);
  const verified = new Map();
  for (const sig of note.signatures) {
    const at = index(sig.name, sig.keyId);
    const trusted = known.get(at);
    if (trusted === undefined) continue;
    if (!(await verifyEd25519(trusted.publicKey, message, sig.signature))) {
      throw new VerifyError("note.bad-signature", `invalid signature from trusted key ${
        sig.name}+${toHex(sig.keyId)}`);
    }
    if (!verified.has(at)) verified.set(at, trusted);
  }
  if (verified.size === 0) {
    throw new VerifyError("note.untrusted", "note has no signature from a trusted key");
  }
  return { note, verified: [...verified.values()] };
}

function checkpointError(check, why) {
  return new VerifyError(check, `malformed checkpoint: ${why}`);
}

/**
 * Parse a checkpoint note text `<origin>\n<size>\n<base64 root>\n` (`note.parse_checkpoint`):
 * returns {origin, size (a BigInt), root}. No extension lines.
 */
export function parseCheckpoint(text) {
  if (!text.endsWith("\n")) throw checkpointError("checkpoint.newline", "does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length !== 3) {
    throw checkpointError("checkpoint.lines", `${lines.length} lines, want 3 (origin, size, root)`);
  }
  const [origin, sizeText, rootText] = lines;
  if (sizeText.length > 20 || !/^(?:0|[1-9][0-9]*)$/.test(sizeText)) {
    throw checkpointError("checkpoint.size", "size is not ASCII decimal without leading zeros");
  }
  const root = b64decode(rootText);
  if (root === null) throw checkpointError("checkpoint.root", "root is not canonical padded base64");
  if (!origin) throw checkpointError("checkpoint.origin", "origin is empty");
  if (FORBIDDEN_CONTROL.test(origin) || !isWellFormed(origin)) {
    throw checkpointError("checkpoint.origin", "origin contains a control character");
  }
  const size = BigInt(sizeText);
  if (size > MAX_SIZE) throw checkpointError("checkpoint.size", `size ${size} is not in [0, 2**64)`);
  if (root.length !== 32) throw checkpointError("checkpoint.root", `root is ${root.length} bytes, want 32`);
  return { origin, size, root };
}

/**
 * Verify a signed checkpoint against the log's key (`note.open_checkpoint`): the note must
 * carry the key's valid signature, and its origin must be the key's name.
 */
export async function openCheckpoint(data, verifier) {
  const { note } = await openNote(data, [verifier]);
  const cp = parseCheckpoint(note.text);
  if (cp.origin !== verifier.name) {
    throw new VerifyError("checkpoint.origin-mismatch", `checkpoint origin ${
      JSON.stringify(cp.origin)} does not match log key name ${JSON.stringify(verifier.name)}`);
  }
  return { ...cp, note };
}

