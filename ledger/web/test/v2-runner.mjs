// node ledger/web/test/v2-runner.mjs CORPUS.json RESULTS.json: the entry format 2 corpus
// (tests/web_v2_corpus.py) through the verifier modules, one result per case: {id, ok, check,
// value, message}. A case that throws anything but a VerifyError is reported with check
// "crash: ...", which never equals a Python verdict.

import { readFileSync, writeFileSync } from "node:fs";
import {
  VerifyError, decodeEntry, decodeRecord, decodeStatement, fromHex, parseCosigner,
  parseCredential, parseVerifier, verdictAsDict, verifyBundle, verifySignedStatement,
} from "../verifier/index.js";
import { tag } from "./corpus.mjs";

const bytes = (hex) => fromHex(hex);

const RUN = {
  async verify(i) {
    const credentials = i.credentials.map((c) => parseCredential(bytes(c)));
    const trust = {};
    if ("log_key" in i) trust.logKey = await parseVerifier(i.log_key);
    if ("root" in i) {
      trust.root = bytes(i.root);
      trust.size = BigInt(i.size);
    }
    const witnesses = [];
    for (const w of i.witnesses ?? []) witnesses.push(await parseCosigner(w));
    const verdict = await verifyBundle(bytes(i.bundle), {
      ...trust, at: i.at, credentials, subject: i.subject ?? null, witnesses,
      minWitnesses: i.min_witnesses ?? 0, maxAgeMs: i.max_age_ms ?? null,
    });
    return verdictAsDict(verdict);
  },
  async statement(i) {
    const st = decodeStatement(bytes(i.hex));
    return tag([st.kind, st.issuer, st.time, ...st.fields]);
  },
  async entry(i) {
    const e = decodeEntry(bytes(i.hex));
    return tag([e.index, e.time, e.prevRoot, e.stateRoot, e.statement, e.signer, e.signature]);
  },
  async record(i) {
    return (await decodeRecord(bytes(i.hex))).kind;
  },
  async signed(i) {
    const st = await verifySignedStatement(bytes(i.hex), bytes(i.signer), bytes(i.signature));
    return tag([st.kind, st.issuer, st.time, ...st.fields]);
  },
};

const [corpusPath, resultsPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(corpusPath, "utf8"));
const start = Date.now();
const results = [];
for (const c of cases) {
  try {
    results.push({ id: c.id, ok: true, check: null, value: await RUN[c.domain](c.input) });
  } catch (exc) {
    results.push(exc instanceof VerifyError
      ? { id: c.id, ok: false, check: exc.check, value: null, message: exc.message }
      : { id: c.id, ok: false, check: `crash: ${exc && exc.stack ? exc.stack : exc}`, value: null });
  }
}
writeFileSync(resultsPath, JSON.stringify({ results, ms: Date.now() - start, engine: `node ${process.version}` }));
