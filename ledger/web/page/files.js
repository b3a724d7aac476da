// What the page does with the files it is given: tell them apart (a proof bundle, a holder's
// credential), establish the trust (the log key written into the page or pasted, or a
// published root and size, with the page's witness policy), and verify each bundle with the
// credentials it proves, as `credledger verify CREDENTIAL --bundle BUNDLE` does
// (ledger/verifycmd.py). The answers are verify.js's, written as `credledger verify --json`
// writes them (verdictAsDict).
import {
  BUNDLE_FORMAT, VerifyError, b64decode, encodeUtf8, fromHex, isObject, loadJson,
  parseCosigner, parseCredential, parseVerifier, verdictAsDict, verifyBundle,
} from "../verifier/index.js";

const decoder = new TextDecoder("utf-8", { fatal: false });

/** "bundle", "credential", "tlog-proof" or "other", by the first bytes, as verifycmd's
 * file_kind tells them apart (the strict readers then check each). */
export function fileKind(bytes) {
  const text = decoder.decode(bytes.subarray(0, 4096)).trimStart();
  if (text.startsWith("c2sp.org/tlog-proof@")) return "tlog-proof";
  if (!text.startsWith("{")) return "other";
  if (text.includes('"@context"')) return "credential";
  if (text.includes(`"${BUNDLE_FORMAT}"`) || text.includes('"credential-ledger/bundle@')) {
    return "bundle";
  }
  return "other";
}

/** A trusted root given as 64 hex digits or as the base64 a checkpoint prints. */
function parseRoot(text) {
  const raw = /^[0-9a-fA-F]{64}$/.test(text) ? fromHex(text.toLowerCase()) : b64decode(text);
  if (raw === null || raw.length !== 32) {
    throw new VerifyError("trust.root", "the root: want 64 hex digits or the base64 of 32 bytes");
  }
  return raw;
}

async function trustOptions(trust) {
  const options = { logKey: null, root: null, size: null, witnesses: [], minWitnesses: 0 };
  if (trust.root || trust.size) {
    if (!trust.root || !/^[0-9]{1,19}$/.test(trust.size || "")) {
      throw new VerifyError("trust.root", "give a published root and its tree size together");
    }
    options.root = parseRoot(trust.root);
    options.size = BigInt(trust.size);
  } else if (trust.logKey) {
    options.logKey = await parseVerifier(trust.logKey);
  } else {
    throw new VerifyError("trust.missing", "give the log key, or a published root and size");
  }
  options.witnesses = await Promise.all((trust.witnesses || []).map((w) => parseCosigner(w)));
  options.minWitnesses = trust.minWitnesses || 0;
  return options;
}

/** The id a credential file names (for pairing it with its bundle), or null. */
function credentialId(bytes) {
  try {
    const doc = loadJson(bytes, { what: "credential", prefix: "credential" });
    return isObject(doc) && typeof doc.get("id") === "string" ? doc.get("id") : null;
  } catch {
    return null;
  }
}

/** Verify what was given: `inputs` are byte arrays (files, or pasted text as UTF-8). Returns
 * {answer, reason?, results: [verdict as credledger verify --json writes it]}. */
export async function checkFiles(inputs, { trust, subject = null, at = Date.now() }) {
  const bundles = [];
  const credentials = [];
  for (const input of inputs) {
    const bytes = typeof input === "string" ? encodeUtf8(input) : input;
    const kind = fileKind(bytes);
    if (kind === "bundle") bundles.push(bytes);
    else if (kind === "credential") credentials.push(bytes);
    else if (kind === "tlog-proof") {
      throw new VerifyError("page.tlog-proof", "a tlog-proof proves inclusion only; give the " +
        "holder's proof bundle (credledger verify checks tlog-proofs)");
    } else {
      throw new VerifyError("page.unknown-file", "a file that is neither a credential nor a " +
        "proof bundle");
    }
  }
  if (!bundles.length) {
    throw new VerifyError("page.no-bundle", "a credential is checked with its proof bundle " +
      "(the holder has it: 'credledger prove' wrote it beside the credential)");
  }
  const options = await trustOptions(trust);
  const results = [];
  for (const bundle of bundles) {
    // Each credential goes with the bundle that names it; one no bundle names is refused
    // below by verifyBundle (credential.not-proven), as the command line refuses it.
    const text = decoder.decode(bundle);
    const mine = bundles.length === 1 ? credentials : credentials.filter((c) => {
      const id = credentialId(c);
      return id !== null && text.includes(JSON.stringify(id));
    });
    const parsed = mine.map((c) => parseCredential(c));
    const verdict = await verifyBundle(bundle, {
      ...options, at, credentials: parsed,
      subject: parsed.length ? subject : null,
    });
    results.push(verdictAsDict(verdict));
  }
  const order = ["REVOKED", "KEY COMPROMISED", "NOT FOUND", "SUSPENDED", "EXPIRED", "VALID"];
  const answers = new Set(results.map((r) => r.answer));
  const answer = order.find((a) => answers.has(a)) || "NOT FOUND";
  return { answer, results };
}
