// The ledger's Ed25519 rule (docs/FORMAT.md §3.4, ledger/ed25519.py): a 64-byte signature
// R || S by a 32-byte key A over M is accepted exactly when
//
//   1. A is a canonical encoding (y < p) and not a point of small order (libsodium's
//      blocklist, sign bit ignored),
//   2. R is not a point of small order either,
//   3. S < L, and
//   4. the cofactorless equation of RFC 8032 §5.1.7 holds, compared on R's encoding.
//
// Rules 1 and 2 are byte comparisons, made here. Rules 3 and 4 are WebCrypto's Ed25519
// (crypto.subtle.verify), which is RFC 8032's cofactorless check with S < L in the engines
// tested: node's (OpenSSL, as `ledger.ed25519.verify_openssl`) and Chromium's (BoringSSL).
// tests/test_web_verifier.py and tests/test_web_browser.py hold both to Python's verdict on
// every Wycheproof and speccheck vector. No curve arithmetic and no third-party code here.
//
// `ed25519Verdict` names the part of the rule that refuses (null when the signature is
// accepted), in `ledger.ed25519.verify`'s order:
//
//   size      the key is not 32 bytes or the signature not 64
//   key       the key is not canonical or of small order (rule 1)
//   r         R is of small order (rule 2)
//   equation  S >= L, or the equation does not hold, or A is not a point (rules 3 and 4)

import { VerifyError } from "./errors.js";
import { fromHex, isBytes, toHex } from "./bytes.js";

/** Encodings of the points of small order, sign bit clear (libsodium's blocklist). */
export const SMALL_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4
  "0100000000000000000000000000000000000000000000000000000000000000", // identity
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1, order 2
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p (= 0), order 4
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1 (= 1)
].map(fromHex);

const SMALL_ORDER_HEX = new Set(SMALL_ORDER.map(toHex));
const P = (1n << 255n) - 19n;

/** Whether a 32-byte encoding names a point of small order (the sign bit ignored). */
export function isSmallOrder(encoding) {
  if (!isBytes(encoding, 32)) return false;
  const clear = encoding.slice();
  clear[31] &= 0x7f;
  return SMALL_ORDER_HEX.has(toHex(clear));
}

/** Whether a 32-byte point encoding has its y coordinate (the low 255 bits) below p. */
export function isCanonicalPoint(encoding) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(encoding[i]);
  return (y & ((1n << 255n) - 1n)) < P;
}

/** "key", "r" or null: which byte rule fails (`ledger.ed25519.rule_violation`). */
export function ruleViolation(publicKey, signature) {
  if (isSmallOrder(publicKey) || !isCanonicalPoint(publicKey)) return "key";
  if (isSmallOrder(signature.subarray(0, 32))) return "r";
  return null;
}

const keys = new Map(); // hex public key -> CryptoKey, or null for a key WebCrypto refuses

async function importKey(publicKey) {
  const id = toHex(publicKey);
  if (keys.has(id)) return keys.get(id);
  let key = null;
  try {
    key = await globalThis.crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false,
                                                   ["verify"]);
  } catch (exc) {
    if (exc && exc.name === "NotSupportedError") {
      throw new VerifyError("ed25519.unsupported", "this browser's WebCrypto has no Ed25519: " +
                            "use a current Chrome, Edge, Firefox or Safari");
    }
    key = null; // a key the engine refuses to import cannot verify anything
  }
  if (keys.size > 1024) keys.clear();
  keys.set(id, key);
  return key;
}

/** Which part of the rule refuses the signature, or null if it is accepted. */
export async function ed25519Verdict(publicKey, message, signature) {
  if (!isBytes(publicKey, 32) || !isBytes(signature, 64)) return "size";
  const broken = ruleViolation(publicKey, signature);
  if (broken !== null) return broken;
  const key = await importKey(publicKey);
  if (key === null) return "equation";
  let ok = false;
  try {
    ok = await globalThis.crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    ok = false;
  }
  return ok ? null : "equation";
}

/** Whether `signature` is `publicKey`'s over `message` under the ledger's rule. */
export async function verifyEd25519(publicKey, message, signature) {
  return (await ed25519Verdict(publicKey, message, signature)) === null;
}
