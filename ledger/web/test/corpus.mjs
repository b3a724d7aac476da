// Runs the differential corpus (tests/web_corpus.py writes it) through the verifier modules, in
// node (node-runner.mjs) and in Chromium (tests/test_web_browser.py): one result per case,
// {id, ok, check, value}, in the JSON shapes the Python side writes, for Python to compare.
// A case that throws anything but a VerifyError is reported with check "crash: ...", which
// never equals a Python verdict.

import {
  VerifyError, checkWitnessPolicy, ed25519Verdict, fromHex, leafHash, nodeHash, openCheckpoint,
  openNote, parseCheckpoint, parseCosigner, parseVerifier, toHex, unpackArray, verifyConsistency,
  verifyInclusion, verifyMapProof,
} from "../verifier/index.js";

function bytes(hex) {
  const b = fromHex(hex);
  if (b === null) throw new Error(`bad hex in the corpus: ${hex.slice(0, 20)}`);
  return b;
}

/** A decoded msgpack value as JSON, as tests/web_corpus.py's `tag` writes it. */
export function tag(value) {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "bigint") return { int: value.toString() };
  if (typeof value === "string") return { str: value };
  if (value instanceof Uint8Array) return { bin: toHex(value) };
  if (Array.isArray(value)) return value.map(tag);
  throw new Error(`unexpected decoded value ${typeof value}`);
}

function key(v) {
  return { name: v.name, key_id: toHex(v.keyId), public_key: toHex(v.publicKey) };
}

function noteData(i) {
  return "data" in i ? bytes(i.data) : i.text;
}

const RUN = {
  async msgpack(i) {
    return tag(unpackArray(bytes(i.hex), "value"));
  },
  async hash(i) {
    const h = i.kind === "leaf" ? await leafHash(bytes(i.data))
                                : await nodeHash(bytes(i.left), bytes(i.right));
    return toHex(h);
  },
  async inclusion(i) {
    const leaf = "entry" in i ? await leafHash(bytes(i.entry)) : bytes(i.leaf_hash);
    await verifyInclusion(BigInt(i.index), BigInt(i.size), leaf, i.proof.map(bytes), bytes(i.root));
    return null;
  },
  async consistency(i) {
    await verifyConsistency(BigInt(i.size1), BigInt(i.size2), i.proof.map(bytes), bytes(i.root1),
                            bytes(i.root2));
    return null;
  },
  async map(i) {
    const opt = (h) => (h === null ? null : bytes(h));
    const value = await verifyMapProof(bytes(i.root), {
      key: bytes(i.key), leafKey: opt(i.leaf_key), leafValue: opt(i.leaf_value),
      siblings: i.siblings.map(bytes),
    });
    return value === null ? null : toHex(value);
  },
  async ed25519(i) {
    const why = await ed25519Verdict(bytes(i.pk), bytes(i.msg), bytes(i.sig));
    if (why !== null) throw new VerifyError(`ed25519.${why}`, "refused");
    return null;
  },
  async "verifier-key"(i) {
    return key(await parseVerifier(i.text));
  },
  async "cosigner-key"(i) {
    return key(await parseCosigner(i.text));
  },
  async note(i) {
    const verifiers = [];
    for (const v of i.verifiers) verifiers.push(await parseVerifier(v));
    const { note, verified } = await openNote(noteData(i), verifiers);
    return {
      text: note.text,
      signatures: note.signatures.map((s) => [s.name, toHex(s.keyId), toHex(s.signature)]),
      verified: verified.map((v) => `${v.name}+${toHex(v.keyId)}`),
    };
  },
  async checkpoint(i) {
    const cp = await openCheckpoint(noteData(i), await parseVerifier(i.verifier));
    return { origin: cp.origin, size: cp.size.toString(), root: toHex(cp.root) };
  },
  async "parse-checkpoint"(i) {
    const cp = parseCheckpoint(i.text);
    return { origin: cp.origin, size: cp.size.toString(), root: toHex(cp.root) };
  },
  async witness(i) {
    const witnesses = [];
    for (const w of i.witnesses) witnesses.push(await parseCosigner(w));
    const times = await checkWitnessPolicy(i.note, witnesses, {
      minWitnesses: i.min, maxAgeMs: i.max_age_ms, nowMs: i.now_ms,
    });
    return Object.fromEntries([...times].map(([label, ts]) => [label, ts.toString()]));
  },
};

/** The verdict of the JavaScript modules on one case. */
export async function runCase(c) {
  const run = RUN[c.domain];
  if (run === undefined) return { id: c.id, ok: false, check: `crash: no domain ${c.domain}`, value: null };
  try {
    const value = await run(c.input);
    return { id: c.id, ok: true, check: null, value };
  } catch (exc) {
    if (exc instanceof VerifyError) return { id: c.id, ok: false, check: exc.check, value: null };
    return { id: c.id, ok: false, check: `crash: ${exc && exc.stack ? exc.stack : exc}`, value: null };
  }
}

/** Every case's verdict, in order, and how long the run took (ms). */
export async function runCorpus(cases) {
  const start = Date.now();
  const results = [];
  for (const c of cases) results.push(await runCase(c));
  return { results, ms: Date.now() - start };
}

/**
 * WebCrypto's own Ed25519 verdict on the corpus's Ed25519 cases, without the ledger's byte
 * checks: [id, true | false | "throws NAME"] each. The tests show what the byte checks add.
 */
export async function rawEd25519(cases) {
  const out = [];
  for (const c of cases) {
    if (c.domain !== "ed25519") continue;
    let verdict;
    try {
      const key = await globalThis.crypto.subtle.importKey("raw", bytes(c.input.pk),
                                                           { name: "Ed25519" }, false, ["verify"]);
      verdict = await globalThis.crypto.subtle.verify({ name: "Ed25519" }, key, bytes(c.input.sig),
                                                      bytes(c.input.msg));
    } catch (exc) {
      verdict = `throws ${exc && exc.name}`;
    }
    out.push([c.id, verdict]);
  }
  return out;
}
