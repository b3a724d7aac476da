// The holder's Open Badges 3.0 credential, checked beside its proof bundle as
// `ledger.verify._check_credential` checks it (docs/FORMAT.md §16; ledger/openbadges.py,
// ledger/vcjson.py, ledger/statuslist.py, ledger/didkey.py, ledger/multibase.py,
// ledger/dataintegrity.py, ledger/anchoring.py), with one difference: the Data Integrity
// proof's signature is not checked here (RDFC-1.0 needs a JSON-LD processor, which the page
// may not carry). Every check of the proof's fields is made; in the signature's place, the
// credential's digest must be the one the issuer's signed `issue` entry commits to, which a
// credential changed after it was signed (or another credential) cannot have. web/README.md
// says what that means, and the one case where `credledger verify` answers otherwise.
//
// Checks (`credential.*`; the message starts with the path that failed, as Python's does):
//   too-large, json, duplicate      the file (parse_credential)
//   shape                           an object without exactly its members (missing, unknown)
//   context, iri, type, text, unicode, datetime, validity, list, enum, identifier, result,
//   evidence-twice, status, issuer-key   check_credential's checks
//   proof                           the proof's fields (dataintegrity.check_proof), and its
//                                   verification method not the issuer's own did:key
//   canonical-text                  a control character (not tab, LF, CR) or a lone surrogate
//                                   anywhere, or nesting past 64 (dataintegrity._check_text)
//   normal-form, digest             the digest the log commits, and its comparison
//   id, key, issuer, valid-from, valid-until, achievement, status-entries, parts
//                                   anchoring.check_anchored: what the issuance entry says
//   holder                          the holder's identifier matches no identity hash

import { VerifyError } from "./errors.js";
import { encodeUtf8, equal, pyStrip, toHex } from "./bytes.js";
import { byCodePoint } from "./bundle.js";
import { isCanonicalPoint, isSmallOrder } from "./ed25519.js";
import { codePoints, keyId, LIST_BITS, PURPOSES } from "./events.js";
import { isObject, loadJson, pyEqual } from "./json.js";
import { sha256 } from "./sha256.js";

export const VC_V2 = "https://www.w3.org/ns/credentials/v2";
export const OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
export const DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2";
export const CONTEXT = [VC_V2, OB_V3];
export const CREDENTIAL_TYPE = ["VerifiableCredential", "OpenBadgeCredential"];
export const MAX_CREDENTIAL_BYTES = 1 << 20;
const MAX_TEXT = 16384;
const MAX_ITEMS = 1024;
const MAX_IRI = 2048;
const IDENTITY_TYPES = new Set([
  "name", "sourcedId", "systemId", "productId", "userName", "accountId", "emailAddress",
  "nationalIdentityNumber", "isbn", "issn", "lisSourcedId", "oneRosterSourcedId",
  "sisSourcedId", "ltiContextId", "ltiDeploymentId", "ltiToolId", "ltiPlatformId",
  "ltiUserId", "identifier"]);
const RESULT_TYPES = new Set([
  "GradePointAverage", "LetterGrade", "Percent", "PerformanceLevel", "PredictedScore",
  "RawScore", "Result", "RubricCriterion", "RubricCriterionLevel", "RubricScore",
  "ScaledScore", "Status"]);
const ENTRY_TYPE = "BitstringStatusListEntry";
const MAX_LIST_INDEX = (1 << 20) * 8;
const PROOF_FIELDS = ["type", "cryptosuite", "created", "verificationMethod", "proofPurpose", "proofValue"];

// Python's \s (str.isspace), spelled out: JavaScript's \s is another set.
const PY_SPACE_CLASS = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const IRI = new RegExp(`^[A-Za-z][A-Za-z0-9+.\\-]*:[^${PY_SPACE_CLASS}<>"{}|^\`\\\\\\u{D800}-\\u{DFFF}]*$`, "u");
const HASH = /^sha256\$[0-9a-fA-F]{64}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const DATETIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|([+-])(\d\d):(\d\d))$/;
const UNICODE_DIGIT_DATETIME = /^\p{Nd}{4}-\p{Nd}\p{Nd}-\p{Nd}\p{Nd}T\p{Nd}\p{Nd}:\p{Nd}\p{Nd}:\p{Nd}\p{Nd}(\.\p{Nd}{1,9})?(Z|[+-]\p{Nd}\p{Nd}:\p{Nd}\p{Nd})$/u;
const BAD_TEXT = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const INDEX = /^(?:0|[1-9][0-9]{0,15})$/;

function fail(check, path, message) {
  return new VerifyError(`credential.${check}`, `${path}: ${message}`);
}

function short(value) {
  let text;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (value instanceof Map) text = "an object";
  else if (Array.isArray(value)) text = "a list";
  else text = String(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

function member(name) {
  return /^[\x20-\x7e]*$/.test(name) ? name : JSON.stringify(name);
}

// ------------------------------------------------------------------------ vcjson

function jsonObject(value, path, required, optional = [], what = "credential") {
  if (!isObject(value)) throw fail("shape", path || "document", "want a JSON object");
  const missing = required.filter((k) => !value.has(k)).sort(byCodePoint);
  if (missing.length) throw fail("shape", path ? `${path}.${missing[0]}` : missing[0], "missing");
  const extra = [...value.keys()].filter((k) => !required.includes(k) && !optional.includes(k))
    .sort(byCodePoint);
  if (extra.length) {
    const name = member(extra[0]);
    throw fail("shape", path ? `${path}.${name}` : name, `not a member of this ${what} format`);
  }
  return value;
}

function types(value, path, want) {
  const items = Array.isArray(value) ? value : [value];
  if (!items.every((t) => typeof t === "string") || new Set(items).size !== items.length ||
      items.length !== want.length || !items.every((t) => want.includes(t))) {
    throw fail("type", path, `got ${short(value)}, want ${JSON.stringify(want)}`);
  }
}

/** `vcjson.iri`: an absolute IRI of at most 2048 characters (without '#' if not fragment). */
export function checkIri(value, path, fragment = true) {
  if (typeof value !== "string" || codePoints(value) > MAX_IRI || !IRI.test(value) ||
      (!fragment && value.includes("#"))) {
    const want = fragment ? "an absolute IRI (a URL or a URN)" : "an absolute URL without a fragment";
    throw fail("iri", path, `want ${want}, got ${short(value)}`);
  }
  return value;
}

function unicode(value, path) {
  const bad = LONE_SURROGATE.exec(value);
  if (bad) {
    throw fail("unicode", path, `a lone surrogate (U+${bad[0].charCodeAt(0).toString(16).toUpperCase()}), ` +
               "which is not Unicode text");
  }
  return value;
}

function text(value, path, { empty = false } = {}) {
  if (typeof value !== "string") throw fail("text", path, "want a string");
  if (!empty && !pyStrip(value)) throw fail("text", path, "empty");
  const n = codePoints(value);
  if (n > MAX_TEXT) throw fail("text", path, `${n} characters, at most ${MAX_TEXT}`);
  return unicode(value, path);
}

function list(value, path) {
  if (!Array.isArray(value) || value.length === 0) throw fail("list", path, "want a non-empty list");
  if (value.length > MAX_ITEMS) throw fail("list", path, `${value.length} items, at most ${MAX_ITEMS}`);
  return value;
}

function enumValue(value, path, known) {
  if (typeof value !== "string" || !(known.has(value) ||
      (value.startsWith("ext:") && codePoints(value) > 4 && codePoints(value) <= 256))) {
    throw fail("enum", path, `${short(value)} is not one of OB 3.0's values (or ext:...)`);
  }
  return unicode(value, path);
}

// ------------------------------------------------------------------------ date-times

function daysFromCivil(y, m, d) {
  // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y, m) {
  if (m === 2) return (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 29 : 28;
  return [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

/**
 * `dataintegrity.check_datetime`: an RFC 3339 date-time that Python's
 * `datetime.fromisoformat` reads. Returns {micros: BigInt microseconds since the epoch}.
 */
export function checkDatetime(value, what) {
  if (typeof value !== "string" || !UNICODE_DIGIT_DATETIME.test(value)) {
    throw new VerifyError("credential.datetime", `${what}: want an RFC 3339 date-time such as ` +
                          `2026-01-01T00:00:00Z, got ${short(value)}`);
  }
  const invalid = () => new VerifyError("credential.datetime", `${what}: ${JSON.stringify(value)} is not a valid date-time`);
  const m = DATETIME.exec(value);
  if (m === null) throw invalid(); // digits of another script: fromisoformat reads ASCII only
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const micro = Number((m[7] ?? "").slice(0, 6).padEnd(6, "0"));
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) {
    throw invalid();
  }
  let offset = 0;
  if (m[8] !== "Z") {
    offset = (Number(m[10]) * 60 + Number(m[11])) * 60 * (m[9] === "-" ? -1 : 1);
    if (Math.abs(offset) >= 86400) throw invalid();
  }
  const seconds = BigInt(daysFromCivil(y, mo, d)) * 86400n + BigInt(h * 3600 + mi * 60 + s - offset);
  // Python's datetime also refuses an instant whose UTC date is outside years 1 to 9999 only
  // when converting; an aware datetime near those ends is kept, as here.
  return { micros: seconds * 1000000n + BigInt(micro), text: value };
}

/** `anchoring.to_ms`: the instant in UTC milliseconds, floored (Python's integer `//`). */
export function toMs(datetime) {
  const q = datetime.micros / 1000n;
  return datetime.micros < 0n && q * 1000n !== datetime.micros ? q - 1n : q;
}

// ------------------------------------------------------------------------ did:key, base58btc

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** `multibase.b58decode`: the bytes of base58btc text; VerifyError(check) naming `what`. */
export function b58decode(value, what, check) {
  if (typeof value !== "string") throw new VerifyError(check, `${what}: want a string`);
  const n = codePoints(value);
  if (n > 1400) throw new VerifyError(check, `${what}: ${n} characters, at most 1400`);
  let big = 0n;
  for (const c of value) {
    const digit = ALPHABET.indexOf(c);
    if (digit < 0) throw new VerifyError(check, `${what}: ${JSON.stringify(c)} is not a base58btc character`);
    big = big * 58n + BigInt(digit);
  }
  let zeros = 0;
  while (zeros < value.length && value[zeros] === "1") zeros++;
  const body = [];
  while (big > 0n) {
    body.unshift(Number(big & 0xffn));
    big >>= 8n;
  }
  return Uint8Array.from([...new Array(zeros).fill(0), ...body]);
}

/** `didkey.decode`: the Ed25519 public key a did:key names, strictly checked. */
export function decodeDidKey(did, check = "credential.issuer-key") {
  const f = (why) => new VerifyError(check, `did:key: ${why}`);
  if (typeof did !== "string") throw f("want a string");
  if (codePoints(did) > 120) throw f(`${codePoints(did)} characters; an Ed25519 did:key has 56`);
  if (!did.startsWith("did:key:")) throw f("does not start with 'did:key:'");
  const value = did.slice(8);
  if (!value.startsWith("z")) throw f("the identifier is not multibase base58btc (no 'z')");
  const data = b58decode(value.slice(1), "did:key", check);
  if (data[0] !== 0xed || data[1] !== 0x01 || data.length < 2) {
    throw f(`multicodec ${toHex(data.subarray(0, 2)) || "none"}, want ed01 (ed25519-pub)`);
  }
  const key = data.slice(2);
  if (key.length !== 32) throw f(`an Ed25519 key of ${key.length} bytes, want 32`);
  if (!isCanonicalPoint(key)) throw f("the key is not a canonical point encoding");
  if (isSmallOrder(key)) throw f("the key is a point of small order");
  return key;
}

// ------------------------------------------------------------------------ status entries

function purposeOf(value, path) {
  if (typeof value !== "string" || !PURPOSES.includes(value)) {
    throw fail("status", path, `${short(value)}; want one of ${PURPOSES.join(", ")}`);
  }
  return value;
}

/** `statuslist.status_entry`: the credentialStatus entry for bit `index` of a list. */
export function statusEntry(listUrl, index, purpose) {
  checkIri(listUrl, "statusListCredential", false);
  purposeOf(purpose, "statusPurpose");
  return new Map([["id", `${listUrl}#${index}`], ["type", ENTRY_TYPE], ["statusPurpose", purpose],
                  ["statusListIndex", String(index)], ["statusListCredential", listUrl]]);
}

/** `statuslist.check_status_entry`: {listUrl, index, purpose}. */
function checkStatusEntry(value, path) {
  if (!isObject(value)) throw fail("shape", path, "want a JSON object");
  const fieldNames = ["id", "type", "statusPurpose", "statusListIndex", "statusListCredential"];
  const missing = fieldNames.filter((k) => !value.has(k)).sort(byCodePoint);
  if (missing.length) throw fail("shape", `${path}.${missing[0]}`, "missing");
  const extra = [...value.keys()].filter((k) => !fieldNames.includes(k)).sort(byCodePoint);
  if (extra.length) throw fail("shape", `${path}.${member(extra[0])}`, "not a member of this status entry format");
  if (value.get("type") !== ENTRY_TYPE) {
    throw fail("type", `${path}.type`, `got ${short(value.get("type"))}, want '${ENTRY_TYPE}'`);
  }
  const purpose = purposeOf(value.get("statusPurpose"), `${path}.statusPurpose`);
  const t = value.get("statusListIndex");
  if (typeof t !== "string" || !INDEX.test(t)) {
    throw fail("status", `${path}.statusListIndex`, `want a decimal string without leading zeros, got ${short(t)}`);
  }
  const index = Number(t);
  if (index >= MAX_LIST_INDEX) throw fail("status", `${path}.statusListIndex`, `${t} is past the largest list`);
  const url = checkIri(value.get("statusListCredential"), `${path}.statusListCredential`, false);
  if (value.get("id") !== `${url}#${index}`) {
    throw fail("status", `${path}.id`, `want the list URL, '#' and the index, got ${short(value.get("id"))}`);
  }
  return { listUrl: url, index, purpose };
}

/** `statuslist.check_credential_status`: the entries, revocation first. */
export function checkCredentialStatus(value) {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0 || items.length > PURPOSES.length) {
    throw fail("status", "credentialStatus", `want 1 to ${PURPOSES.length} entries`);
  }
  const entries = items.map((item, n) => checkStatusEntry(
    item, Array.isArray(value) ? `credentialStatus[${n}]` : "credentialStatus"));
  if (new Set(entries.map((e) => e.purpose)).size !== entries.length) {
    throw fail("status", "credentialStatus", "a purpose is listed twice");
  }
  return entries.sort((a, b) => PURPOSES.indexOf(a.purpose) - PURPOSES.indexOf(b.purpose));
}

// ------------------------------------------------------------------------ the credential

function identifier(value, path) {
  const obj = jsonObject(value, path, ["type", "identityType", "hashed", "identityHash", "salt"]);
  if (obj.get("type") !== "IdentityObject") {
    throw fail("type", `${path}.type`, `got ${short(obj.get("type"))}, want 'IdentityObject'`);
  }
  if (obj.get("hashed") !== true) throw fail("identifier", `${path}.hashed`, "want true: a holder is never named in clear");
  const hash = obj.get("identityHash");
  if (typeof hash !== "string" || !HASH.test(hash)) {
    throw fail("identifier", `${path}.identityHash`, "want 'sha256$' and 64 hex digits");
  }
  const salt = obj.get("salt");
  if (typeof salt !== "string" || !salt || codePoints(salt) > 256) {
    throw fail("identifier", `${path}.salt`, "want a non-empty string of at most 256 characters");
  }
  unicode(salt, `${path}.salt`);
  return { identityType: enumValue(obj.get("identityType"), `${path}.identityType`, IDENTITY_TYPES),
           identityHash: hash, salt };
}

function compareIdentifiers(a, b) {
  return byCodePoint(a.identityType, b.identityType) || byCodePoint(a.identityHash, b.identityHash) ||
    byCodePoint(a.salt, b.salt);
}

/**
 * `openbadges.check_credential`: what `doc` (a parsed JSON value) says, if it has exactly this
 * ledger's OpenBadgeCredential shape (with a proof if `signed`).
 */
export function checkCredential(doc, { signed = true } = {}) {
  const required = ["@context", "id", "type", "issuer", "validFrom", "name", "credentialSubject"];
  if (signed) required.push("proof");
  const top = jsonObject(doc, "", required, ["validUntil", "description", "evidence", "credentialStatus"]);
  if (!pyEqual(top.get("@context"), CONTEXT)) {
    throw fail("context", "@context", `want exactly ${JSON.stringify(CONTEXT)}, in that order`);
  }
  const id = checkIri(top.get("id"), "id");
  types(top.get("type"), "type", CREDENTIAL_TYPE);
  const profile = jsonObject(top.get("issuer"), "issuer", ["id", "type", "name"], ["url"]);
  let issuerKey;
  try {
    issuerKey = decodeDidKey(profile.get("id"));
  } catch (exc) {
    if (exc instanceof VerifyError) exc.message = `issuer.id: ${exc.message}`;
    throw exc;
  }
  types(profile.get("type"), "issuer.type", ["Profile"]);
  const issuerName = text(profile.get("name"), "issuer.name");
  const issuerUrl = profile.has("url") ? checkIri(profile.get("url"), "issuer.url") : null;
  const validFrom = checkDatetime(top.get("validFrom"), "validFrom");
  let validUntil = null;
  if (top.has("validUntil")) {
    validUntil = checkDatetime(top.get("validUntil"), "validUntil");
    if (validUntil.micros <= validFrom.micros) throw fail("validity", "validUntil", "not after validFrom");
  }
  const name = text(top.get("name"), "name");
  if (top.has("description")) text(top.get("description"), "description", { empty: true });
  const subject = jsonObject(top.get("credentialSubject"), "credentialSubject",
                             ["type", "identifier", "achievement"], ["id", "result"]);
  types(subject.get("type"), "credentialSubject.type", ["AchievementSubject"]);
  if (subject.has("id")) checkIri(subject.get("id"), "credentialSubject.id");
  const identifiers = list(subject.get("identifier"), "credentialSubject.identifier")
    .map((item, n) => identifier(item, `credentialSubject.identifier[${n}]`));
  const path = "credentialSubject.achievement";
  const achievement = jsonObject(subject.get("achievement"), path,
                                 ["id", "type", "name", "description", "criteria"], ["resultDescription"]);
  const achievementId = checkIri(achievement.get("id"), `${path}.id`);
  types(achievement.get("type"), `${path}.type`, ["Achievement"]);
  const achievementName = text(achievement.get("name"), `${path}.name`);
  const achievementDescription = text(achievement.get("description"), `${path}.description`);
  const criteria = jsonObject(achievement.get("criteria"), `${path}.criteria`, ["narrative"]);
  const achievementCriteria = text(criteria.get("narrative"), `${path}.criteria.narrative`);
  const described = new Set();
  const descriptions = achievement.has("resultDescription")
    ? list(achievement.get("resultDescription"), `${path}.resultDescription`) : [];
  descriptions.forEach((item, n) => {
    const where = `${path}.resultDescription[${n}]`;
    const rd = jsonObject(item, where, ["id", "type", "name", "resultType"]);
    described.add(checkIri(rd.get("id"), `${where}.id`));
    types(rd.get("type"), `${where}.type`, ["ResultDescription"]);
    text(rd.get("name"), `${where}.name`);
    enumValue(rd.get("resultType"), `${where}.resultType`, RESULT_TYPES);
  });
  let result = null;
  if (subject.has("result")) {
    const results = list(subject.get("result"), "credentialSubject.result");
    if (results.length !== 1) {
      throw fail("result", "credentialSubject.result", `${results.length} results, want one (a ` +
                 "JSON-LD set: its order is not signed)");
    }
    const where = "credentialSubject.result[0]";
    const res = jsonObject(results[0], where, ["type", "resultDescription", "value"]);
    types(res.get("type"), `${where}.type`, ["Result"]);
    if (!described.has(checkIri(res.get("resultDescription"), `${where}.resultDescription`))) {
      throw fail("result", `${where}.resultDescription`, "names no resultDescription of the achievement");
    }
    result = text(res.get("value"), `${where}.value`);
  }
  const parts = [];
  if (top.has("evidence")) {
    list(top.get("evidence"), "evidence").forEach((item, n) => {
      const ev = jsonObject(item, `evidence[${n}]`, ["id", "type"], ["name"]);
      parts.push(checkIri(ev.get("id"), `evidence[${n}].id`));
      types(ev.get("type"), `evidence[${n}].type`, ["Evidence"]);
      if (ev.has("name")) text(ev.get("name"), `evidence[${n}].name`);
    });
    if (new Set(parts).size !== parts.length) throw fail("evidence-twice", "evidence", "a part is listed twice");
  }
  const status = top.has("credentialStatus") ? checkCredentialStatus(top.get("credentialStatus")) : [];
  return {
    id, issuerDid: profile.get("id"), issuerKey, issuerName, issuerUrl, validFrom, validUntil, name,
    achievementId, achievementName, identifiers: identifiers.sort(compareIdentifiers), result,
    parts: parts.sort(byCodePoint), achievementDescription, achievementCriteria, status,
  };
}

/** `openbadges.parse_credential`: the credential in JSON bytes or text, strictly read. */
export function parseCredential(data) {
  const size = typeof data === "string" ? codePoints(data) : data.length;
  if (size > MAX_CREDENTIAL_BYTES) {
    throw new VerifyError("credential.too-large", `credential: ${size} bytes, at most ${MAX_CREDENTIAL_BYTES}`);
  }
  const doc = loadJson(data, { what: "credential", prefix: "credential" });
  checkCredential(doc);
  return doc;
}

// ------------------------------------------------------------------------ the proof's fields

function proofFail(path, message) {
  return new VerifyError("credential.proof", `${path}: ${message}`);
}

/** `dataintegrity.check_proof`: the proof's fields (not its signature). */
export function checkProof(doc) {
  const context = doc.get("@context");
  const contexts = Array.isArray(context) ? context : [context];
  if (context === undefined || context === null || contexts.length === 0) {
    throw proofFail("@context", "the document has none");
  }
  if (!contexts.includes(VC_V2) && !contexts.includes(DATA_INTEGRITY_V2)) {
    throw proofFail("@context", `names neither ${VC_V2} nor ${DATA_INTEGRITY_V2}, which define the proof`);
  }
  const proof = doc.has("proof") ? doc.get("proof") : null;
  if (proof === null) throw proofFail("proof", "the document has none");
  if (Array.isArray(proof)) throw proofFail("proof", "a set of proofs; want exactly one proof object");
  if (!isObject(proof)) throw proofFail("proof", "want a JSON object");
  const missing = PROOF_FIELDS.filter((k) => !proof.has(k)).sort(byCodePoint);
  if (missing.length) throw proofFail(`proof.${missing[0]}`, "missing");
  const extra = [...proof.keys()].filter((k) => !PROOF_FIELDS.includes(k) && k !== "@context").sort(byCodePoint);
  if (extra.length) throw proofFail(`proof.${member(extra[0])}`, "not a field this verifier accepts");
  if (proof.has("@context")) {
    const inner = proof.get("@context");
    if (!pyEqual(Array.isArray(inner) ? inner : [inner], contexts)) {
      throw proofFail("proof.@context", "differs from the document's @context");
    }
  }
  for (const [name, want] of [["type", "DataIntegrityProof"], ["cryptosuite", "eddsa-rdfc-2022"],
                              ["proofPurpose", "assertionMethod"]]) {
    if (proof.get(name) !== want) throw proofFail(`proof.${name}`, `got ${short(proof.get(name))}, want '${want}'`);
  }
  try {
    checkDatetime(proof.get("created"), "proof.created");
  } catch (exc) {
    if (exc instanceof VerifyError) exc.check = "credential.proof";
    throw exc;
  }
  const method = proof.get("verificationMethod");
  if (typeof method !== "string" || !method) throw proofFail("proof.verificationMethod", "want a non-empty string");
  const value = proof.get("proofValue");
  if (typeof value !== "string" || !value.startsWith("z")) {
    throw proofFail("proof.proofValue", "want multibase base58btc (a string starting with 'z')");
  }
  const signature = b58decode(value.slice(1), "proof.proofValue", "credential.proof");
  if (signature.length !== 64) throw proofFail("proof.proofValue", `a signature of ${signature.length} bytes, want 64`);
  return signature;
}

/** `dataintegrity._check_text`: strings and member names RDFC-1.0 and pyld write alike. */
export function checkCanonicalText(value, path, depth = 0) {
  if (depth > 64) throw fail("canonical-text", `canonicalization: ${path}`, "nested deeper than 64");
  if (typeof value === "string") {
    const lone = LONE_SURROGATE.exec(value);
    const bad = BAD_TEXT.exec(value);
    // Python finds the first of either; a lone surrogate is named as such.
    if (lone !== null && (bad === null || lone.index < bad.index)) {
      throw fail("canonical-text", `canonicalization: ${path}`, "a lone surrogate, which is not Unicode text");
    }
    if (bad !== null) {
      throw fail("canonical-text", `canonicalization: ${path}`, "a control character other than tab, line feed or carriage return");
    }
  } else if (isObject(value)) {
    for (const [key, item] of value) {
      checkCanonicalText(key, path, depth + 1);
      checkCanonicalText(item, `${path}.${key}`, depth + 1);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, n) => checkCanonicalText(item, `${path}[${n}]`, depth + 1));
  }
}

// ------------------------------------------------------------------------ the digest

const MAX_SAFE = (1n << 53n) - 1n;

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** `vcjson.normal_form`: every member's value but @context's a list, sorted by canonical JSON. */
export function normalForm(value) {
  if (isObject(value)) {
    const out = new Map();
    for (const [key, item] of value) {
      if (!/^[\x00-\x7f]*$/.test(key)) throw fail("normal-form", member(key), "a member name must be ASCII here");
      if (key === "@context") {
        out.set(key, Array.isArray(item) ? item.map(normalForm) : item);
      } else {
        const items = (Array.isArray(item) ? item : [item]).map(normalForm);
        const keyed = items.map((x) => [canonicalJson(x), x]);
        keyed.sort((a, b) => compareBytes(a[0], b[0]));
        out.set(key, keyed.map((k) => k[1]));
      }
    }
    return out;
  }
  if (Array.isArray(value)) return value.map(normalForm);
  if (typeof value === "number" || (typeof value === "bigint" && (value > MAX_SAFE || value < -MAX_SAFE))) {
    throw fail("normal-form", "", `a number JSON does not hold exactly: ${String(value)}`);
  }
  return value;
}

function canonicalText(value) {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(",")}]`;
  if (isObject(value)) {
    const keys = [...value.keys()].sort(byCodePoint);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(value.get(k))}`).join(",")}}`;
  }
  throw new TypeError(`${typeof value} is not canonical JSON here`);
}

/** `vcjson.canonical_json`: RFC 8785 of JSON without floats, as UTF-8 bytes. */
export function canonicalJson(value) {
  return encodeUtf8(canonicalText(value));
}

/** `openbadges.credential_digest`: SHA-256 of the canonical JSON of the normal form. */
export async function credentialDigest(doc) {
  if (!isObject(doc) || !doc.has("proof")) {
    throw fail("proof", "proof", "the credential is not signed; only a signed one has a digest");
  }
  checkCredential(doc);
  checkProof(doc);
  return sha256(canonicalJson(normalForm(doc)));
}

// ------------------------------------------------------------------------ anchoring

export function site(origin) {
  return `https://${origin}/`;
}

export function achievementIri(origin, issuer, achievementId) {
  return `${site(origin)}achievements/${issuer}/${achievementId}`;
}

export function listUrl(origin, issuer, kid, purpose, number) {
  return `${site(origin)}status/${issuer}/${kid}/${purpose}/${number}.json`;
}

/** `anchoring.credential_status`: the credentialStatus of status index `statusIndex`. */
export function credentialStatus(origin, issuer, kid, statusIndex) {
  const number = statusIndex / LIST_BITS;
  const bit = statusIndex % LIST_BITS;
  return PURPOSES.map((p) => statusEntry(listUrl(origin, issuer, kid, p, number), bit, p));
}

function mismatch(check, what) {
  return new VerifyError(`credential.${check}`, `the credential differs from its logged issuance: ${what}`);
}

/**
 * `anchoring.check_anchored`: the credential `badge` (whose digest is `digest`) is the one
 * the issue statement `st`, signed by `signer`, commits to in the log of `origin`.
 */
export async function checkAnchored(badge, digest, st, signer, { origin, issuerName, issuerUrl, achievement }) {
  const [handle, logged, achId, validFrom, validUntil, statusIndex, parts] = st.fields;
  if (badge.id !== handle) throw mismatch("id", `its id ${JSON.stringify(badge.id)} is not the logged credential ${handle}`);
  if (!equal(digest, logged)) {
    throw mismatch("digest", "its digest is not the one the log committed (it was changed after it " +
                   "was signed, or is another credential)");
  }
  if (!equal(badge.issuerKey, signer)) {
    throw mismatch("key", `it is signed by another key than the logged issuance's (${await keyId(signer)})`);
  }
  if (badge.issuerName !== issuerName || badge.issuerUrl !== (issuerUrl || null)) {
    throw mismatch("issuer", "the issuer's name or url is not the registered issuer's");
  }
  if (toMs(badge.validFrom) !== validFrom) throw mismatch("valid-from", "validFrom is not the logged one");
  if ((badge.validUntil === null ? null : toMs(badge.validUntil)) !== validUntil) {
    throw mismatch("valid-until", "validUntil is not the logged one");
  }
  const [name, description, criteria] = achievement;
  if (badge.achievementId !== achievementIri(origin, st.issuer, achId) || badge.achievementName !== name ||
      badge.achievementDescription !== description || badge.achievementCriteria !== criteria) {
    throw mismatch("achievement", `its achievement is not the registered achievement '${achId}'`);
  }
  const want = checkCredentialStatus(credentialStatus(origin, st.issuer, await keyId(signer), statusIndex));
  if (badge.status.length !== want.length || badge.status.some((e, i) => e.listUrl !== want[i].listUrl ||
      e.index !== want[i].index || e.purpose !== want[i].purpose)) {
    throw mismatch("status-entries", "its credentialStatus is not the logged status index's");
  }
  const sorted = [...parts].sort(byCodePoint);
  if (badge.parts.length !== sorted.length || badge.parts.some((p, i) => p !== sorted[i])) {
    throw mismatch("parts", "its parts (evidence) are not the logged ones");
  }
}

// ------------------------------------------------------------------------ the whole check

/**
 * `verify._check_credential`, less the proof's signature: the credential's shape, its proof's
 * fields (by the issuer's own did:key), the text RDFC-1.0 would refuse, then its digest against
 * the one the issuance `st` commits to (in the signature's place), then `check_anchored`.
 */
export async function checkCredentialAgainstIssuance(doc, st, signer, { origin, issuerName, issuerUrl, achievement }) {
  const badge = checkCredential(doc);
  const proof = doc.get("proof");
  const did = badge.issuerDid;
  const want = `${did}#${did.slice(8)}`;
  if (isObject(proof) && proof.get("verificationMethod") !== want) {
    throw proofFail("proof.verificationMethod", "not the issuer's own did:key");
  }
  checkProof(doc);
  const config = new Map([...proof].filter(([k]) => k !== "proofValue" && k !== "@context"));
  config.set("@context", doc.get("@context"));
  checkCanonicalText(config, "document");
  const unsecured = new Map([...doc].filter(([k]) => k !== "proof"));
  checkCanonicalText(unsecured, "document");
  const digest = await credentialDigest(doc);
  if (!equal(digest, st.fields[1])) {
    throw mismatch("digest", "its digest is not the one the log committed (it was changed after it " +
                   "was signed, or is another credential)");
  }
  await checkAnchored(badge, digest, st, signer, { origin, issuerName, issuerUrl, achievement });
  return badge;
}

/** `openbadges.identity_hash`: sha256$ and the hex SHA-256 of UTF-8(value || salt). */
export async function identityHash(value, salt) {
  const data = unicode(value, "identity value") + unicode(salt, "salt");
  return `sha256$${toHex(await sha256(encodeUtf8(data)))}`;
}

/** `openbadges.identifier_matches`: the holder's value hashes to one of the identifiers. */
export async function identifierMatches(badge, value, identityType = null) {
  for (const ident of badge.identifiers) {
    if (identityType !== null && ident.identityType !== identityType) continue;
    if (await identityHash(value, ident.salt) === ident.identityHash.toLowerCase()) return true;
  }
  return false;
}

