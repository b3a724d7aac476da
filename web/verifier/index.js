// The verifier's format-independent core, as one module: everything a page needs to check
// RFC 9162 proofs, status-map proofs, signed checkpoints with cosignatures and canonical msgpack
// under the ledger's rules (web/README.md maps each export to docs/FORMAT.md).

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
