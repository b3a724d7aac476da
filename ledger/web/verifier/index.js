// The verifier, as one module: the format-independent core (RFC 9162 proofs, status-map
// proofs, signed checkpoints with cosignatures, canonical msgpack under the ledger's rules) and
// entry format 2's statements, entries, records, proof bundles, holder credentials and
// verification (web/README.md maps each export to the Python it mirrors).

export { VerifyError } from "./errors.js";
export {
  b64decode, b64encode, decodeUtf8, encodeUtf8, equal, fromHex, toHex,
} from "./bytes.js";
export { sha256 } from "./sha256.js";
export { MAX_NESTING, pack, unpackArray } from "./msgpack.js";
export {
  EMPTY_ROOT, leafHash, nodeHash, rootFromInclusion, verifyConsistency, verifyInclusion,
} from "./merkle.js";
export { EMPTY, keyBit, mapBranchHash, mapLeafHash, verifyMapProof } from "./smt.js";
export {
  ed25519Verdict, isCanonicalPoint, isSmallOrder, ruleViolation, verifyEd25519,
} from "./ed25519.js";
export {
  MAX_NOTE_SIZE, MAX_SIGNATURES, nameProblem, noteKeyId, openCheckpoint, openNote,
  parseCheckpoint, parseNote, parseVerifier,
} from "./note.js";
export {
  checkWitnessPolicy, cosignatureTimes, cosignedMessage, cosignerKeyId, parseCosigner,
  witnessLabels,
} from "./cosignature.js";
export {
  ENTRY_VERSION, MAX_ENTRY_SIZE, SIGN_CONTEXT, checkText, codePoints, decodeEntry, decodeRecord,
  decodeStatement, keyId, mapKey, recordHash, signingMessage, verifySignedStatement,
} from "./events.js";
export { isObject, jsonItemsWithin, loadJson, pyEqual } from "./json.js";
export { BUNDLE_FORMAT, MAX_BUNDLE_SIZE, parseBundle } from "./bundle.js";
export {
  canonicalJson, checkAnchored, checkCredential, checkCredentialAgainstIssuance,
  checkCredentialStatus, credentialDigest, decodeDidKey, identifierMatches, identityHash,
  normalForm, parseCredential,
} from "./credential.js";
export {
  EXPIRED, INVALID, KEY_COMPROMISED, NOT_FOUND, REVOKED_ANSWER, SUSPENDED_ANSWER, VALID,
  answerAsDict, iso, verdictAsDict, verifyBundle,
} from "./verify.js";
