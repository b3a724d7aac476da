// The offline verifier's answers (docs/FORMAT.md §9.2; ledger/verify.py `verify_bundle`):
// a proof bundle checked against a trusted log key or (root, size), with an optional witness
// policy, and the holder's credentials beside it. The same steps in the same order as Python,
// the same answers (VALID, REVOKED, KEY COMPROMISED, SUSPENDED, EXPIRED, NOT FOUND, as of the
// bundle's checkpoint), and a VerifyError naming the failed check where Python's is INVALID.
//
// Checks of its own (the rest are the modules' it calls: bundle.*, note.*, checkpoint.*,
// cosig.*, merkle.*, map.*, field.*, text.*, statement.*, entry.*, record.*, credential.*):
//   trust.missing            neither a log key nor a root and size to trust
//   bundle.trust-mismatch    the checkpoint is not the trusted (size, root)
//   bundle.not-in-tree       an entry index the tree does not have
//   bundle.missing-entry, bundle.missing-map-proof   what a check needs is not in the bundle
//   bundle.entry-index       an entry says it is another index than it is proven at
//   bundle.absent-record     a record given with a proof of absence
//   bundle.record-hash       a record that is not the proven value
//   bundle.record-kind       a record of another kind than its key's
//   bundle.record-names      a record that names another issuer or id than its key
//   bundle.absent            the map proves a needed record (issuer, key, achievement) absent
//   bundle.not-issuance, bundle.not-status-change, bundle.not-registration, bundle.key-intro,
//   bundle.key-revocation    an entry a record names is not the statement it should be
//   bundle.wrong-key         the issuance (or reinstatement) is signed by a key not the issuer's
//   bundle.key-inactive      ... by a key not active at that index
//   bundle.state-without-entry  a changed state without the entry that changed it
//   bundle.too-many          more than 1024 credentials with the parts of stacked ones
//   credential.no-id, credential.two-different, credential.no-credential,
//   credential.not-proven    the credentials given beside the bundle

import { VerifyError } from "./errors.js";
import { equal, toHex } from "./bytes.js";
import { checkWitnessPolicy } from "./cosignature.js";
import { leafHash, verifyInclusion } from "./merkle.js";
import { openCheckpoint, parseCheckpoint, parseNote } from "./note.js";
import { EMPTY, verifyMapProof } from "./smt.js";
import { MAX_CREDENTIALS, byCodePoint, parseBundle } from "./bundle.js";
import {
  ACHIEVEMENT, CRED, ISSUE, ISSUED, ISSUER, KEY, REGISTER_ACHIEVEMENT, REGISTER_ISSUER, REINSTATE,
  REVOKE, REVOKE_KEY, REVOKED, ROTATE_KEY, SUSPEND, SUSPENDED, activeAt, decodeEntry, decodeRecord,
  keyId, mapKey, recordHash, revokedIndex, untrustedFrom, verifySignedStatement,
} from "./events.js";
import { checkCredential, checkCredentialAgainstIssuance, identifierMatches } from "./credential.js";
import { isObject, pyEqual } from "./json.js";

export const VALID = "VALID";
export const REVOKED_ANSWER = "REVOKED";
export const SUSPENDED_ANSWER = "SUSPENDED";
export const EXPIRED = "EXPIRED";
export const KEY_COMPROMISED = "KEY COMPROMISED";
export const NOT_FOUND = "NOT FOUND";
export const INVALID = "INVALID";

function bundleError(check, message) {
  return new VerifyError(check, message);
}

/** Rethrow a VerifyError from a lower check with `prefix` before its message. */
async function within(prefix, fn) {
  try {
    return await fn();
  } catch (exc) {
    if (exc instanceof VerifyError) exc.message = `${prefix}${exc.message}`;
    throw exc;
  }
}

class Checker {
  constructor(bundle, cp) {
    this.bundle = bundle;
    this.cp = cp;
    this.entries = new Map();
    this.statements = new Map();
    this.stateRoot = EMPTY;
  }

  async init() {
    if (this.cp.size !== 0n) {
      const last = await this.entry(this.cp.size - 1n, "the tree's last entry");
      this.stateRoot = last.stateRoot;
    }
  }

  async entry(index, what) {
    if (this.entries.has(index)) return this.entries.get(index);
    if (!(index >= 0n && index < this.cp.size)) {
      throw bundleError("bundle.not-in-tree", `${what}: entry ${index} is not in the tree of size ${this.cp.size}`);
    }
    if (!this.bundle.entries.has(index)) throw bundleError("bundle.missing-entry", `${what}: the bundle lacks entry ${index}`);
    const { entry: data, proof } = this.bundle.entries.get(index);
    await within(`${what}: entry ${index} inclusion proof fails: `, async () =>
      verifyInclusion(index, this.cp.size, await leafHash(data), proof, this.cp.root));
    const entry = await within(`${what}: entry ${index} is malformed: `, async () => decodeEntry(data));
    if (entry.index !== index) {
      throw bundleError("bundle.entry-index", `${what}: entry at index ${index} says it is entry ${entry.index}`);
    }
    this.entries.set(index, entry);
    return entry;
  }

  async record(kind, issuer, ident = "") {
    const k = toHex(await mapKey(kind, issuer, ident));
    const what = `status of ${kind} ${issuer}${ident ? `/${ident}` : ""}`;
    if (!this.bundle.proofs.has(k)) throw bundleError("bundle.missing-map-proof", `${what}: the bundle lacks its status-map proof`);
    const { proof, record } = this.bundle.proofs.get(k);
    const value = await within(`${what}: status-map proof fails: `, () => verifyMapProof(this.stateRoot, proof));
    if (value === null) {
      if (record !== null) throw bundleError("bundle.absent-record", `${what}: a record is given for an absent key`);
      return null;
    }
    if (record === null || !equal(await recordHash(record), value)) {
      throw bundleError("bundle.record-hash", `${what}: the record does not match the proven value hash`);
    }
    return record;
  }

  async need(kind, issuer, ident = "") {
    const raw = await this.record(kind, issuer, ident);
    if (raw === null) {
      throw bundleError("bundle.absent", `${kind} ${issuer}${ident ? `/${ident}` : ""}: the map proves it does not exist`);
    }
    return raw;
  }

  async statement(entry, what) {
    if (this.statements.has(entry.index)) return this.statements.get(entry.index);
    let st;
    try {
      st = await verifySignedStatement(entry.statement, entry.signer, entry.signature);
    } catch (exc) {
      if (exc instanceof VerifyError) {
        exc.message = exc.check === "entry.signature"
          ? `${what}: the signature on entry ${entry.index} does not verify (${exc.message})`
          : `${what}: entry ${entry.index}: ${exc.message}`;
      }
      throw exc;
    }
    this.statements.set(entry.index, st);
    return st;
  }

  async key(issuer, signer, what) {
    const kid = await keyId(signer);
    const key = await decoded(await this.need(KEY, issuer, kid), KEY, `key ${kid}`);
    if (key.issuer !== issuer || !equal(key.publicKey, signer)) {
      throw bundleError("bundle.wrong-key", `${what}: signed by key ${kid}, not a key of ${issuer}`);
    }
    if (key.revokedAt !== null) {
      const rst = await this.statement(await this.entry(key.revokedAt, `key ${kid} revocation`), `key ${kid} revocation`);
      if (rst.kind !== REVOKE_KEY || rst.issuer !== issuer || rst.fields.length !== 3 ||
          rst.fields[0] !== kid || rst.fields[1] !== key.reason || rst.fields[2] !== key.compromisedSince) {
        throw bundleError("bundle.key-revocation", `key ${kid}: entry ${key.revokedAt} does not flag it as ` +
                          `compromised since entry ${key.compromisedSince}`);
      }
    }
    return key;
  }

  async achievement(issuer, achId, what) {
    const rec = await decoded(await this.need(ACHIEVEMENT, issuer, achId), ACHIEVEMENT, `achievement ${issuer}/${achId}`);
    if (rec.issuer !== issuer || rec.achievementId !== achId) {
      throw bundleError("bundle.record-names", `${what}: the achievement record names ${rec.issuer}/${rec.achievementId}`);
    }
    const where = `achievement ${achId} registration`;
    const ast = await this.statement(await this.entry(rec.registeredAt, where), where);
    if (ast.kind !== REGISTER_ACHIEVEMENT || ast.issuer !== issuer || ast.fields[0] !== achId) {
      throw bundleError("bundle.not-registration", `achievement ${issuer}/${achId}: entry ${rec.registeredAt} does not register it`);
    }
    return [ast.fields[1], ast.fields[2], ast.fields[3]];
  }

  async credential(issuer, credId, at, doc, subject) {
    const raw = await this.record(CRED, issuer, credId);
    if (raw === null) return notFound(issuer, credId);
    const name = `${issuer}/${credId}`;
    const rec = await decoded(raw, CRED, name);
    if (rec.issuer !== issuer || rec.credId !== credId) {
      throw bundleError("bundle.record-names", `${name}: the record names ${rec.issuer}/${rec.credId}`);
    }
    const issued = await this.entry(rec.issuedIndex, `${name} issuance`);
    const st = await this.statement(issued, `${name} issuance`);
    if (st.kind !== ISSUE || st.issuer !== issuer || st.fields[0] !== credId) {
      throw bundleError("bundle.not-issuance", `${name}: entry ${rec.issuedIndex} is not its issuance`);
    }
    const kid = await keyId(issued.signer);
    const key = await this.key(issuer, issued.signer, name);
    if (!activeAt(key, rec.issuedIndex)) {
      throw bundleError("bundle.key-inactive", `${name}: key ${kid} was not active at entry ${rec.issuedIndex}`);
    }
    const introWhat = `key ${kid} registration`;
    const intro = await this.statement(await this.entry(key.activeFrom, introWhat), introWhat);
    if (!((intro.kind === REGISTER_ISSUER && equal(intro.fields[2], key.publicKey)) ||
          (intro.kind === ROTATE_KEY && equal(intro.fields[0], key.publicKey))) || intro.issuer !== issuer) {
      throw bundleError("bundle.key-intro", `key ${kid}: entry ${key.activeFrom} does not introduce it`);
    }
    const issuerRec = await decoded(await this.need(ISSUER, issuer), ISSUER, `issuer ${issuer}`);
    if (issuerRec.issuer !== issuer) {
      throw bundleError("bundle.record-names", `issuer ${issuer}: the record names ${issuerRec.issuer}`);
    }
    let compromise = compromiseOf(key, rec.issuedIndex, ISSUE);
    let changedTime = null;
    if (rec.changedIndex !== null) {
      const what = `${name} status change`;
      const ch = await this.entry(rec.changedIndex, what);
      const cst = await this.statement(ch, what);
      const want = { [REVOKED]: REVOKE, [SUSPENDED]: SUSPEND, [ISSUED]: REINSTATE }[rec.state];
      if (cst.kind !== want || cst.issuer !== issuer || cst.fields[0] !== credId || cst.fields[1] !== rec.reason) {
        throw bundleError("bundle.not-status-change", `${name}: entry ${rec.changedIndex} does not ${want} it`);
      }
      changedTime = ch.time;
      if (want === REINSTATE) {
        const rkey = await this.key(issuer, ch.signer, `${name} reinstatement`);
        if (!activeAt(rkey, rec.changedIndex)) {
          throw bundleError("bundle.key-inactive", `${name}: key ${rkey.keyId} was not active at entry ${rec.changedIndex}`);
        }
        compromise = compromise ?? compromiseOf(rkey, rec.changedIndex, REINSTATE);
      }
    } else if (rec.state !== ISSUED) {
      throw bundleError("bundle.state-without-entry", `${name}: state ${rec.state} without a status entry`);
    }
    const achId = st.fields[2];
    const expires = st.fields[4];
    const achievement = await this.achievement(issuer, achId, name);
    if (doc !== undefined) {
      await within(`${name}: the credential: `, () => checkCredentialAgainstIssuance(doc, st, issued.signer, {
        origin: this.cp.origin, issuerName: issuerRec.name, issuerUrl: issuerRec.url, achievement }));
      if (subject !== null) {
        const badge = checkCredential(doc);
        if (!(await identifierMatches(badge, subject))) {
          throw bundleError("credential.holder", `${name}: the holder ${JSON.stringify(subject)} is not the one ` +
                            "the credential names (no identifier hashes to it)");
        }
      }
    }
    let answer;
    if (rec.state === REVOKED) {
      answer = REVOKED_ANSWER;
      compromise = null;
    } else if (compromise !== null) answer = KEY_COMPROMISED;
    else if (rec.state === SUSPENDED) answer = SUSPENDED_ANSWER;
    else if (expires !== null && expires < BigInt(at)) answer = EXPIRED;
    else answer = VALID;
    const revoked = revokedIndex(key);
    return {
      issuer, credId, answer, title: achievement[0], issuedIndex: rec.issuedIndex, issuedTime: issued.time,
      expires, changedIndex: rec.changedIndex, changedTime, reason: rec.reason, parts: [...st.fields[6]],
      subject: doc !== undefined ? subject : null, keyId: kid, digest: toHex(st.fields[1]),
      achievement: achId, validFrom: st.fields[3], credential: doc !== undefined,
      keyRevokedIndex: revoked, keyRevokedReason: revoked !== null ? key.reason : "",
      issuerRetiredIndex: issuerRec.retiredAt,
      issuerRetiredReason: issuerRec.retiredAt !== null ? issuerRec.reason : "",
      issuerName: issuerRec.name, keyCompromisedSince: untrustedFrom(key), compromise,
    };
  }
}

function notFound(issuer, credId) {
  return {
    issuer, credId, answer: NOT_FOUND, title: "", issuedIndex: null, issuedTime: null, expires: null,
    changedIndex: null, changedTime: null, reason: "", parts: [], subject: null, keyId: "", digest: null,
    achievement: "", validFrom: null, credential: false, keyRevokedIndex: null, keyRevokedReason: "",
    issuerRetiredIndex: null, issuerRetiredReason: "", issuerName: "", keyCompromisedSince: null,
    compromise: null,
  };
}

function compromiseOf(key, index, kind) {
  const since = untrustedFrom(key);
  const revoked = revokedIndex(key);
  if (since === null || revoked === null || index < since) return null;
  return { entry: index, kind, keyId: key.keyId, since, revokedAt: revoked, reason: key.reason };
}

async function decoded(raw, kind, what) {
  const rec = await within(`${what}: malformed record: `, () => decodeRecord(raw));
  if (rec.kind !== kind) throw bundleError("bundle.record-kind", `${what}: the record is of the wrong kind`);
  return rec;
}

/**
 * `verify.verify_bundle`: what the bundle (bytes or text) proves about each of its credentials
 * (and the parts of stacked ones), as of its checkpoint, judged at `at` (UTC ms).
 *
 * Trust: `logKey` (from note.js's parseVerifier), or `root` (32 bytes) and `size`. With
 * `witnesses` (cosignature.js's parseCosigner), `minWitnesses` and `maxAgeMs`, the witness
 * policy. `credentials`: the holder's credentials (parsed: credential.js's parseCredential),
 * each of a credential the bundle proves; `subject`: the holder's identifier, checked against
 * them. Returns {checkpoint, credentials: [answer], trustedBy, at, asOf, valid, answer}.
 */
export async function verifyBundle(data, {
  logKey = null, root = null, size = null, at, credentials = [], subject = null, witnesses = [],
  minWitnesses = 0, maxAgeMs = null,
} = {}) {
  const bundle = parseBundle(data);
  let cp;
  let trustedBy;
  if (logKey !== null) {
    cp = await openCheckpoint(bundle.checkpoint, logKey);
    trustedBy = `log key ${logKey.name}+${toHex(logKey.keyId)}`;
  } else if (root !== null && size !== null) {
    cp = parseCheckpoint(parseNote(bundle.checkpoint).text);
    if (cp.size !== BigInt(size) || !equal(cp.root, root)) {
      throw bundleError("bundle.trust-mismatch", `the bundle is for the tree of size ${cp.size} with root ${
        toHex(cp.root)}; the trusted one has size ${size}, root ${toHex(root)}`);
    }
    trustedBy = `root ${toHex(root)} at size ${size}`;
  } else {
    throw new VerifyError("trust.missing", "give the log key, or a trusted root and size");
  }
  if (witnesses.length || minWitnesses || (maxAgeMs !== null && maxAgeMs !== undefined)) {
    const times = await checkWitnessPolicy(bundle.checkpoint, witnesses, { minWitnesses, maxAgeMs, nowMs: at });
    const labels = [...times.keys()].sort(byCodePoint);
    trustedBy += `, cosigned by ${labels.join(", ") || "no trusted witness"}`;
  }
  const checker = new Checker(bundle, cp);
  await checker.init();
  const docs = new Map();
  for (const d of credentials) {
    const handle = isObject(d) ? d.get("id") : undefined;
    if (typeof handle !== "string") throw bundleError("credential.no-id", "a credential without an id is given");
    if (!docs.has(handle)) docs.set(handle, d);
    else if (!pyEqual(docs.get(handle), d)) {
      throw bundleError("credential.two-different", `two different credentials ${JSON.stringify(handle)} are given`);
    }
  }
  if (subject !== null && docs.size === 0) {
    throw bundleError("credential.no-credential", "a holder (--subject) is checked against the holder's " +
                      "credential; none is given");
  }
  const answers = [];
  const seen = new Set();
  const queue = [...bundle.credentials];
  while (queue.length) {
    const [issuer, credId] = queue.shift();
    const id = JSON.stringify([issuer, credId]);
    if (seen.has(id)) continue;
    seen.add(id);
    if (seen.size > MAX_CREDENTIALS) {
      throw bundleError("bundle.too-many", `more than ${MAX_CREDENTIALS} credentials in one stack`);
    }
    answers.push(await checker.credential(issuer, credId, at, docs.get(credId), subject));
    const raw = await checker.record(CRED, issuer, credId);
    if (raw !== null) {
      const rec = await decoded(raw, CRED, `${issuer}/${credId}`);
      const st = await checker.statement(await checker.entry(rec.issuedIndex, "issuance"), "issuance");
      if (st.kind === ISSUE) for (const p of st.fields[6]) queue.push([issuer, p]);
    }
  }
  const proven = new Set(answers.map((a) => a.credId));
  for (const handle of docs.keys()) {
    if (!proven.has(handle)) {
      throw bundleError("credential.not-proven", `the credential ${JSON.stringify(handle)} is given, but the ` +
                        "bundle does not prove it");
    }
  }
  const asOf = cp.size ? (await checker.entry(cp.size - 1n, "the tree's last entry")).time : null;
  const valid = answers.length > 0 && answers.every((a) => a.answer === VALID);
  return { checkpoint: cp, credentials: answers, trustedBy, at, asOf, valid, answer: valid ? VALID : worst(answers) };
}

function worst(answers) {
  const have = new Set(answers.map((a) => a.answer));
  for (const a of [REVOKED_ANSWER, KEY_COMPROMISED, NOT_FOUND, SUSPENDED_ANSWER, EXPIRED, VALID]) {
    if (have.has(a)) return a;
  }
  return NOT_FOUND;
}

/** `verify._iso`: UTC milliseconds as YYYY-MM-DDThh:mm:ssZ (or "N ms" past year 9999). */
export function iso(ms) {
  if (ms === null || ms === undefined) return null;
  const n = BigInt(ms);
  if (n < -62135596800000n || n > 253402300799999n) return `${n} ms`;
  const text = new Date(Number(n)).toISOString(); // YYYY-MM-DDThh:mm:ss.sssZ
  return `${text.slice(0, 19)}Z`;
}

const num = (v) => (v === null ? null : (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v));

/** An answer as `CredentialAnswer.as_dict` writes it (`credledger verify --json`). */
export function answerAsDict(a) {
  return {
    issuer: a.issuer, issuer_name: a.issuerName || null, id: a.credId, answer: a.answer,
    achievement: a.achievement || null, title: a.title, issued_index: num(a.issuedIndex),
    issued_time: iso(a.issuedTime), valid_from: iso(a.validFrom), expires: iso(a.expires),
    changed_index: num(a.changedIndex), changed_time: iso(a.changedTime), reason: a.reason,
    parts: [...a.parts], credential_checked: a.credential, subject: a.subject,
    holder_checked: a.subject !== null, key_id: a.keyId, digest: a.digest,
    key_revoked: a.keyRevokedIndex === null ? null : {
      index: num(a.keyRevokedIndex), reason: a.keyRevokedReason, compromised_since: num(a.keyCompromisedSince) },
    compromise: a.compromise === null ? null : {
      entry: num(a.compromise.entry), kind: a.compromise.kind, key_id: a.compromise.keyId,
      compromised_since: num(a.compromise.since), revoked_at: num(a.compromise.revokedAt),
      reason: a.compromise.reason },
    issuer_retired: a.issuerRetiredIndex === null ? null : {
      index: num(a.issuerRetiredIndex), reason: a.issuerRetiredReason },
  };
}

/** A verdict as `Verdict.as_dict` writes it. */
export function verdictAsDict(v) {
  return {
    valid: v.valid, answer: v.answer,
    checkpoint: { origin: v.checkpoint.origin, size: num(v.checkpoint.size), root: toHex(v.checkpoint.root) },
    trusted_by: v.trustedBy, at: iso(v.at), as_of: iso(v.asOf),
    credentials: v.credentials.map(answerAsDict),
  };
}
