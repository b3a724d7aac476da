// Statements, entries and status records of entry format 2 (docs/FORMAT.md §3 to §5.2;
// ledger/events.py, ledger/records.py): decoded exactly as strictly as
// `events.decode_statement`, `decode_entry` and `records.decode_record` decode them, the same
// checks in the same order, and a statement's signature checked as `SignedStatement.verify`
// checks it (Ed25519 over SIGN_CONTEXT and the statement's bytes, under the ledger's rule:
// ed25519.js).
//
// Decoded values keep msgpack's types (msgpack.js): integers are BigInts, bytes Uint8Arrays.
// A statement is {kind, issuer, time, fields}; an entry {index, time, prevRoot, stateRoot,
// statement, signer, signature}; a record {kind, ...} with the field names of its Python class
// in camelCase. Checks (the `check` of the VerifyError; web/README.md has the table):
//
//   field.*      one field: count, id, handle, time, index, bytes, key-id, reason-code,
//                achievement-type, small-order, non-canonical
//   text.*       a text field (`check_text`): type, length, empty, unicode, control
//   statement.*  short, kind, parts, parts-twice, part-of-itself, valid-until, status-index,
//                purpose, list-number, list
//   entry.*      too-large, version-1, version, statement, signature
//   record.*     empty, kind, state, reason, key-end, key-id, key-id-format, status-index,
//                purpose, list-number, compromise

import { VerifyError } from "./errors.js";
import { concat, encodeUtf8, isBytes, pyStrip, toHex } from "./bytes.js";
import { pack, unpackArray } from "./msgpack.js";
import { sha256 } from "./sha256.js";
import { ed25519Verdict, isCanonicalPoint, isSmallOrder, ruleViolation } from "./ed25519.js";

export const ENTRY_VERSION = 2n;
export const MAX_ENTRY_SIZE = 65535;
export const SIGN_CONTEXT = encodeUtf8("credential-ledger/v2 statement\n");

export const REGISTER_ISSUER = "register-issuer";
export const RETIRE_ISSUER = "retire-issuer";
export const ROTATE_KEY = "rotate-key";
export const REVOKE_KEY = "revoke-key";
export const ISSUE = "issue";
export const REVOKE = "revoke";
export const SUSPEND = "suspend";
export const REINSTATE = "reinstate";
export const REGISTER_ACHIEVEMENT = "register-achievement";
export const PUBLISH_STATUS_LIST = "publish-status-list";
export const KINDS = [
  REGISTER_ISSUER, RETIRE_ISSUER, ROTATE_KEY, REVOKE_KEY, ISSUE, REVOKE, SUSPEND, REINSTATE,
  REGISTER_ACHIEVEMENT, PUBLISH_STATUS_LIST,
];

export const CRED = "cred";
export const KEY = "key";
export const ISSUER = "issuer";
export const ACHIEVEMENT = "achievement";
export const SLOT = "slot";
export const STATUS_LIST = "status-list";

export const ISSUED = "issued";
export const SUSPENDED = "suspended";
export const REVOKED = "revoked";
export const CRED_STATES = [ISSUED, SUSPENDED, REVOKED];
export const KEY_ROTATED = "rotated";
export const KEY_REVOKED = "revoked";

export const REASON_CODES = {
  revoke: ["unspecified", "issued-in-error", "superseded", "withdrawn"],
  suspend: ["unspecified", "under-review"],
  reinstate: ["unspecified", "review-complete"],
};
const STATE_KIND = { revoked: "revoke", suspended: "suspend", issued: "reinstate" };
export const PURPOSES = ["revocation", "suspension"];
export const MAX_LIST_NUMBER = 63n;
export const LIST_BITS = 131072n;
export const MAX_STATUS_INDEX = (MAX_LIST_NUMBER + 1n) * LIST_BITS - 1n;
export const MAX_ID_LEN = 256;
export const MAX_TEXT_LEN = 4096;
export const MAX_PARTS = 256;
export const MAX_NAME_LEN = 256;
export const ACHIEVEMENT_TYPES = new Set([
  "Achievement", "ApprenticeshipCertificate", "Assessment", "Assignment", "AssociateDegree",
  "Award", "Badge", "BachelorDegree", "Certificate", "CertificateOfCompletion",
  "Certification", "CommunityService", "Competency", "Course", "CoCurricular", "Degree",
  "Diploma", "DoctoralDegree", "Fieldwork", "GeneralEducationDevelopment",
  "JourneymanCertificate", "LearningProgram", "License", "Membership",
  "ProfessionalDoctorate", "QualityAssuranceCredential", "MasterCertificate", "MasterDegree",
  "MicroCredential", "ResearchDoctorate", "SecondarySchoolDiploma"]);
const MAX_TIME = (1n << 63n) - 1n;

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@+-]*$/;
const KEY_ID = /^[0-9a-f]{16}$/;
const HANDLE = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const EXT_TERM = /^ext:[A-Za-z0-9][A-Za-z0-9._:@+-]*$/;
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const CONTROL_BUT_LF = /[\x00-\x08\x0b-\x1f\x7f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function fail(check, message) {
  return new VerifyError(check, message);
}

/** A value as an error message shows it (not Python's repr: the message is not compared). */
function show(value) {
  let text;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "bigint") text = value.toString();
  else if (value instanceof Uint8Array) text = `${value.length} bytes`;
  else if (Array.isArray(value)) text = "an array";
  else text = String(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

/** The number of code points (Python's len) of a string. */
export function codePoints(text) {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

const isInt = (v) => typeof v === "bigint";

// ------------------------------------------------------------------------ field checks

export function checkId(value, field) {
  if (typeof value !== "string" || value.length > MAX_ID_LEN || !ID.test(value)) {
    throw fail("field.id", `${field}: want 1 to ${MAX_ID_LEN} characters of [A-Za-z0-9._:@+-] ` +
               `starting with a letter or digit, got ${show(value)}`);
  }
  return value;
}

/** `events.check_text`: at most maxLen code points, no control character but tab (and line
 * feed with `lines`), no lone surrogate (whichever comes first is named). */
export function checkText(value, field, { maxLen = MAX_TEXT_LEN, empty = true, lines = false } = {}) {
  if (typeof value !== "string") throw fail("text.type", `${field}: want text, got ${show(value)}`);
  const n = codePoints(value);
  if (n > maxLen) throw fail("text.length", `${field}: at most ${maxLen} characters, got ${n}`);
  if (!empty && !pyStrip(value)) throw fail("text.empty", `${field}: must not be empty`);
  const control = (lines ? CONTROL_BUT_LF : CONTROL).exec(value);
  const lone = LONE_SURROGATE.exec(value);
  if (lone !== null && (control === null || lone.index < control.index)) {
    throw fail("text.unicode", `${field}: not valid Unicode (a lone surrogate cannot be UTF-8)`);
  }
  if (control !== null) throw fail("text.control", `${field}: control characters are not allowed`);
  return value;
}

export function checkAchievementType(value, field = "achievement type") {
  if (typeof value === "string" && (value === "" || ACHIEVEMENT_TYPES.has(value) ||
      (value.length <= MAX_ID_LEN && EXT_TERM.test(value)))) {
    return value;
  }
  throw fail("field.achievement-type", `${field}: want "", one of Open Badges 3.0's ` +
             `AchievementType terms or ext: and a name, got ${show(value)}`);
}

export function checkBytes(value, field, size) {
  if (!isBytes(value, size)) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw fail("field.bytes", `${field}: want ${size} bytes, got ${got}`);
  }
  return value;
}

export function checkTime(value, field) {
  if (!isInt(value) || value < 0n || value > MAX_TIME) {
    throw fail("field.time", `${field}: want a non-negative integer of milliseconds, got ${show(value)}`);
  }
  return value;
}

export function checkIndex(value, field) {
  if (!isInt(value) || value < 0n || value >= 1n << 63n) {
    throw fail("field.index", `${field}: want a non-negative integer index, got ${show(value)}`);
  }
  return value;
}

export function checkHandle(value, field = "credential") {
  if (typeof value !== "string" || !HANDLE.test(value)) {
    throw fail("field.handle", `${field}: want urn:uuid: and a random UUID in lower case, got ${show(value)}`);
  }
  return value;
}

export function checkReasonCode(value, kind) {
  const codes = REASON_CODES[kind];
  if (typeof value !== "string" || !codes.includes(value)) {
    throw fail("field.reason-code", `reason: want one of ${codes.join(", ")} for ${kind}, got ` +
               `${show(value)} (free text stays in the issuer's own records)`);
  }
  return value;
}

function opt(value, check, ...args) {
  return value === null ? null : check(value, ...args);
}

function fields(items, n, what) {
  if (items.length !== n) throw fail("field.count", `${what}: want ${n} fields, got ${items.length}`);
  return items;
}

// ------------------------------------------------------------------------ keys

/** The ledger's id of an Ed25519 public key: hex of the first 8 bytes of its SHA-256. */
export async function keyId(publicKey) {
  return toHex((await sha256(publicKey)).subarray(0, 8));
}

export function checkPublicKey(value, field) {
  checkBytes(value, field, 32);
  if (isSmallOrder(value)) {
    throw fail("field.small-order", `${field}: a small-order point, which anyone can sign for`);
  }
  if (!isCanonicalPoint(value)) throw fail("field.non-canonical", `${field}: not a canonical point encoding`);
  return value;
}

/** What a statement's signature covers: the context string, then the statement's bytes. */
export function signingMessage(statementBytes) {
  return concat(SIGN_CONTEXT, statementBytes);
}

/**
 * `SignedStatement.verify`: decode the statement, check the signer and signature sizes and the
 * signature under the ledger's Ed25519 rule (`events.verify_signature`). Returns the statement.
 */
export async function verifySignedStatement(statement, signer, signature) {
  const st = decodeStatement(statement);
  checkBytes(signer, "signer", 32);
  checkBytes(signature, "signature", 64);
  const kid = await keyId(signer);
  const broken = ruleViolation(signer, signature);
  if (broken === "key") {
    throw fail("entry.signature", `statement signer ${kid} is a small-order or non-canonical key`);
  }
  if (broken === "r") {
    throw fail("entry.signature", `statement signature by key ${kid} has a small-order point as r`);
  }
  if ((await ed25519Verdict(signer, signingMessage(statement), signature)) !== null) {
    throw fail("entry.signature", `statement signature does not verify with key ${kid}`);
  }
  return st;
}

// ------------------------------------------------------------------------ statements

const STATEMENT_FIELDS = {
  [REGISTER_ISSUER]: 3, [RETIRE_ISSUER]: 1, [ROTATE_KEY]: 1, [REVOKE_KEY]: 2, [ISSUE]: 7,
  [REVOKE]: 2, [SUSPEND]: 2, [REINSTATE]: 2, [REGISTER_ACHIEVEMENT]: 5, [PUBLISH_STATUS_LIST]: 4,
};

function isKind(kind) {
  return typeof kind === "string" && Object.hasOwn(STATEMENT_FIELDS, kind);
}

function validateFields(kind, items) {
  if (kind === REVOKE_KEY && items.length === 3) {
    const [kid, reason] = validateFields(kind, items.slice(0, 2));
    return [kid, reason, checkIndex(items[2], "compromised since")];
  }
  if (kind === REVOKE_KEY && items.length !== 2) {
    throw fail("field.count", `${kind} statement: want 2 or 3 fields, got ${items.length}`);
  }
  fields(items, STATEMENT_FIELDS[kind], `${kind} statement`);
  if (kind === REGISTER_ISSUER) {
    const [name, url, pub] = items;
    return [checkText(name, "name", { maxLen: MAX_NAME_LEN }), checkText(url, "url", { maxLen: 2048 }),
            checkPublicKey(pub, "public key")];
  }
  if (kind === REGISTER_ACHIEVEMENT) {
    const [ach, name, description, criteria, type] = items;
    return [checkId(ach, "achievement id"),
            checkText(name, "name", { maxLen: MAX_NAME_LEN, empty: false }),
            checkText(description, "description", { lines: true }),
            checkText(criteria, "criteria", { lines: true }),
            checkAchievementType(type)];
  }
  if (kind === RETIRE_ISSUER) return [checkText(items[0], "reason", { maxLen: 1024 })];
  if (kind === ROTATE_KEY) return [checkPublicKey(items[0], "new public key")];
  if (kind === REVOKE_KEY) {
    const kid = items[0];
    if (typeof kid !== "string" || !KEY_ID.test(kid)) {
      throw fail("field.key-id", `key id: want 16 lowercase hex digits, got ${show(kid)}`);
    }
    return [kid, checkText(items[1], "reason", { maxLen: 1024 })];
  }
  if (kind === ISSUE) {
    let [cred, digest, achievement, validFrom, validUntil, statusIndex, parts] = items;
    if (!Array.isArray(parts) || parts.length > MAX_PARTS) {
      throw fail("statement.parts", `parts: want an array of at most ${MAX_PARTS} credentials`);
    }
    const checked = parts.map((p) => checkHandle(p, "part"));
    if (new Set(checked).size !== checked.length) {
      throw fail("statement.parts-twice", "parts: the same credential is listed twice");
    }
    cred = checkHandle(cred);
    if (checked.includes(cred)) {
      throw fail("statement.part-of-itself", "parts: a credential cannot be a part of itself");
    }
    validFrom = checkTime(validFrom, "valid_from");
    if (validUntil !== null && checkTime(validUntil, "valid_until") <= validFrom) {
      throw fail("statement.valid-until", "valid_until: must be after valid_from");
    }
    if (!isInt(statusIndex) || statusIndex < 0n || statusIndex > MAX_STATUS_INDEX) {
      throw fail("statement.status-index", `status_index: want an integer from 0 to ${
        MAX_STATUS_INDEX}, got ${show(statusIndex)}`);
    }
    return [cred, checkBytes(digest, "digest", 32), checkId(achievement, "achievement"),
            validFrom, validUntil, statusIndex, checked];
  }
  if (kind === PUBLISH_STATUS_LIST) {
    const [purpose, number, treeSize, data] = items;
    if (!PURPOSES.includes(purpose)) {
      throw fail("statement.purpose", `purpose: want revocation or suspension, got ${show(purpose)}`);
    }
    if (!isInt(number) || number < 0n || number > MAX_LIST_NUMBER) {
      throw fail("statement.list-number", `list number: want 0 to ${MAX_LIST_NUMBER}, got ${show(number)}`);
    }
    if (!(data instanceof Uint8Array) || data.length === 0) {
      throw fail("statement.list", "list: want the list credential's bytes (bin)");
    }
    return [purpose, number, checkIndex(treeSize, "tree_size"), data];
  }
  return [checkHandle(items[0]), checkReasonCode(items[1], kind)];
}

/** Strictly decode statement bytes (`events.decode_statement`). */
export function decodeStatement(data) {
  const items = unpackArray(data, "statement");
  if (items.length < 3) {
    throw fail("statement.short", `statement: want at least 3 fields, got ${items.length}`);
  }
  const kind = items[0];
  if (!isKind(kind)) {
    throw fail("statement.kind", `statement kind: want one of ${KINDS.join(", ")}, got ${show(kind)}`);
  }
  const issuer = checkId(items[1], "issuer id");
  const time = checkTime(items[2], "time");
  return { kind, issuer, time, fields: validateFields(kind, items.slice(3)) };
}

// ------------------------------------------------------------------------ entries

/** Strictly decode entry bytes (`events.decode_entry`), the statement inside included. */
export function decodeEntry(data) {
  if (data.length > MAX_ENTRY_SIZE) {
    throw fail("entry.too-large", `entry is ${data.length} bytes; at most ${MAX_ENTRY_SIZE} allowed`);
  }
  const items = fields(unpackArray(data, "entry"), 8, "entry");
  const [version, index, time, prevRoot, stateRoot, statement, signer, signature] = items;
  if (version !== ENTRY_VERSION) {
    if (version === 1n) {
      throw fail("entry.version-1", "entry version 1: this ledger reads entry format 2, whose " +
                 "credentials are Open Badges 3.0 and whose log holds nothing personal; a " +
                 "version 1 store cannot be read as version 2 (docs/FORMAT.md §4)");
    }
    throw fail("entry.version", `entry version: want 2, got ${show(version)}`);
  }
  if (!(statement instanceof Uint8Array)) throw fail("entry.statement", "entry statement: want bin");
  decodeStatement(statement);
  return {
    index: checkIndex(index, "entry index"), time: checkTime(time, "entry time"),
    prevRoot: checkBytes(prevRoot, "prev_root", 32), stateRoot: checkBytes(stateRoot, "state_root", 32),
    statement, signer: checkBytes(signer, "signer", 32), signature: checkBytes(signature, "signature", 64),
  };
}

// ------------------------------------------------------------------------ status-map records

/** `SHA-256(canonical msgpack of [kind, issuer, ident])`: the status map's key. */
export function mapKey(kind, issuer, ident = "") {
  return sha256(pack([kind, issuer, ident]));
}

/** The value hash the map holds for a record: SHA-256 of its bytes. */
export function recordHash(record) {
  return sha256(record);
}

/** A key record's first index whose statements are not trusted (null: none). */
export function untrustedFrom(rec) {
  if (rec.compromisedSince !== null) return rec.compromisedSince;
  return rec.end === KEY_REVOKED ? rec.endedAt : null;
}

/** The index of the revoke-key entry that revoked the key, or null. */
export function revokedIndex(rec) {
  if (rec.revokedAt !== null) return rec.revokedAt;
  return rec.end === KEY_REVOKED ? rec.endedAt : null;
}

export function activeAt(rec, index) {
  return rec.activeFrom <= index && (rec.endedAt === null || index < rec.endedAt);
}

/** Strictly decode a status-map record (`records.decode_record`). */
export async function decodeRecord(data) {
  let items = unpackArray(data, "record");
  if (items.length === 0) throw fail("record.empty", "record: empty");
  const kind = items[0];
  if (kind === CRED) {
    const [, issuer, cred, state, issued, changed, reason, last] = fields(items, 8, "cred record");
    if (!CRED_STATES.includes(state)) throw fail("record.state", `cred record state: got ${show(state)}`);
    const want = changed === null ? [""] : REASON_CODES[STATE_KIND[state]];
    if (!want.includes(reason)) {
      throw fail("record.reason", `cred record reason: want ${want.map((w) => JSON.stringify(w)).join(
        " or ")} for a record in state ${state}, got ${show(reason)}`);
    }
    return {
      kind, issuer: checkId(issuer, "issuer id"), credId: checkHandle(cred), state,
      issuedIndex: checkIndex(issued, "issued_index"),
      changedIndex: opt(changed, checkIndex, "changed_index"), reason,
      lastTime: checkTime(last, "last_time"),
    };
  }
  if (kind === KEY) {
    let revokedAt = null;
    let since = null;
    if (items.length !== 8 && items.length !== 10) {
      throw fail("field.count", `key record: want 8 or 10 fields, got ${items.length}`);
    }
    if (items.length === 10) {
      revokedAt = checkIndex(items[8], "revoked_at");
      since = checkIndex(items[9], "compromised_since");
      items = items.slice(0, 8);
    }
    const [, issuer, kid, pub, start, ended, end, reason] = items;
    if (!["", KEY_ROTATED, KEY_REVOKED].includes(end) || (end === "") !== (ended === null)) {
      throw fail("record.key-end", `key record end: got ${show(end)}`);
    }
    checkBytes(pub, "public key", 32);
    if (kid !== await keyId(pub)) {
      throw fail("record.key-id", "key record: key id does not match the public key");
    }
    const rec = {
      kind, issuer: checkId(issuer, "issuer id"), keyId: kid, publicKey: pub,
      activeFrom: checkIndex(start, "active_from"), endedAt: opt(ended, checkIndex, "ended_at"),
      end, reason: checkText(reason, "reason", { maxLen: 1024 }), revokedAt,
      compromisedSince: since,
    };
    if (revokedAt !== null) checkCompromise(rec);
    return rec;
  }
  if (kind === ISSUER) {
    const [, issuer, name, url, reg, retired, reason] = fields(items, 7, "issuer record");
    return {
      kind, issuer: checkId(issuer, "issuer id"), name: checkText(name, "name", { maxLen: 256 }),
      url: checkText(url, "url", { maxLen: 2048 }), registeredAt: checkIndex(reg, "registered_at"),
      retiredAt: opt(retired, checkIndex, "retired_at"),
      reason: checkText(reason, "reason", { maxLen: 1024 }),
    };
  }
  if (kind === ACHIEVEMENT) {
    const [, issuer, ach, reg] = fields(items, 4, "achievement record");
    return {
      kind, issuer: checkId(issuer, "issuer id"), achievementId: checkId(ach, "achievement id"),
      registeredAt: checkIndex(reg, "registered_at"),
    };
  }
  if (kind === SLOT) {
    const [, issuer, kid, index, cred] = fields(items, 5, "slot record");
    if (typeof kid !== "string" || !KEY_ID.test(kid)) {
      throw fail("record.key-id-format", `slot record key id: got ${show(kid)}`);
    }
    if (!isInt(index) || index < 0n || index > MAX_STATUS_INDEX) {
      throw fail("record.status-index", `slot record status_index: got ${show(index)}`);
    }
    return { kind, issuer: checkId(issuer, "issuer id"), keyId: kid, statusIndex: index,
             credential: checkHandle(cred) };
  }
  if (kind === STATUS_LIST) {
    const [, issuer, kid, purpose, number, size, at] = fields(items, 7, "status-list record");
    if (typeof kid !== "string" || !KEY_ID.test(kid)) {
      throw fail("record.key-id-format", `status-list record key id: got ${show(kid)}`);
    }
    if (!PURPOSES.includes(purpose)) throw fail("record.purpose", `status-list record purpose: got ${show(purpose)}`);
    if (!isInt(number) || number < 0n || number > MAX_LIST_NUMBER) {
      throw fail("record.list-number", `status-list record number: got ${show(number)}`);
    }
    return { kind, issuer: checkId(issuer, "issuer id"), keyId: kid, purpose, number,
             treeSize: checkIndex(size, "tree_size"), publishedAt: checkIndex(at, "published_at") };
  }
  throw fail("record.kind", "record kind: want cred, key, issuer, achievement, slot or " +
             `status-list, got ${show(kind)}`);
}

function checkCompromise(rec) {
  const { endedAt: ended, revokedAt: revoked, compromisedSince: since } = rec;
  if (ended === null) {
    throw fail("record.compromise", "key record: revoked_at is set but the key has not ended");
  }
  if (!(rec.activeFrom <= since && since < ended)) {
    throw fail("record.compromise", `key record: compromised_since ${since} is not in the ` +
               `key's active span [${rec.activeFrom}, ${ended})`);
  }
  if (rec.end === KEY_REVOKED && revoked !== ended) {
    throw fail("record.compromise", "key record: a revoked key's revoked_at must equal ended_at");
  }
  if (rec.end === KEY_ROTATED && revoked <= ended) {
    throw fail("record.compromise", "key record: a rotated key is revoked after its rotation");
  }
}
