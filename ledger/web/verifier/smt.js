// The status map's proofs (docs/FORMAT.md §5.4, §5.6; ledger/smt.py `verify_proof`): a binary
// sparse Merkle tree over 256-bit keys in compact form. A subtree with no key hashes to EMPTY
// (32 zero bytes), one with exactly one key K of value hash V to SHA-256(0x02 || K || V), one
// with more to SHA-256(0x03 || left || right). Bit i of a key (the most significant bit of
// byte 0 first) picks the side at depth i: 0 left, 1 right.
//
// Checks, in ledger/smt.py's order:
//
//   map.shape        root, key, leaf_key, leaf_value or a sibling not 32 bytes; leaf_key and
//                    leaf_value not both given or both null; more than 256 siblings
//   map.collapsible  the deepest sibling is EMPTY: the terminal's parent would hold one key or
//                    none, and the compact tree would not have a branch there
//   map.empty-depth  an EMPTY terminal at depth 256
//   map.absence-leaf a leaf of another key that does not share the key's first d bits
//   map.root         the proof leads to another root

import { VerifyError } from "./errors.js";
import { equal, isBytes, toHex } from "./bytes.js";
import { sha256 } from "./sha256.js";

export const KEY_SIZE = 32;
export const MAX_DEPTH = 256;
export const EMPTY = new Uint8Array(32);
const LEAF = Uint8Array.of(0x02);
const BRANCH = Uint8Array.of(0x03);

/** SHA-256(0x02 || key || valueHash): a subtree holding exactly this key. */
export function mapLeafHash(key, valueHash) {
  return sha256(LEAF, key, valueHash);
}

/** SHA-256(0x03 || left || right): a subtree holding two keys or more. */
export function mapBranchHash(left, right) {
  return sha256(BRANCH, left, right);
}

function describe(value) {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return value === null ? "None" : typeof value;
}

function checkSize(value, what) {
  if (!isBytes(value, KEY_SIZE)) {
    throw new VerifyError("map.shape", `map proof ${what} must be ${KEY_SIZE} bytes, got ${
      describe(value)}`);
  }
}

/** Bit i of a 32-byte key, most significant bit of byte 0 first. */
export function keyBit(key, i) {
  return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

function sharedBits(a, b) {
  for (let i = 0; i < KEY_SIZE; i++) {
    const x = a[i] ^ b[i];
    if (x) return 8 * i + Math.clz32(x) - 24;
  }
  return MAX_DEPTH;
}

/**
 * Check a status-map proof `{key, leafKey, leafValue, siblings}` (leafKey and leafValue null
 * for an EMPTY terminal; siblings from the root downwards) against the map `root`. Returns the
 * proven value hash, or null when the proof shows the key absent.
 */
export async function verifyMapProof(root, proof) {
  checkSize(root, "root");
  const { key, siblings } = proof;
  const leafKey = proof.leafKey ?? null;
  const leafValue = proof.leafValue ?? null;
  checkSize(key, "key");
  if ((leafKey === null) !== (leafValue === null)) {
    throw new VerifyError("map.shape", "map proof leaf_key and leaf_value must both be given " +
                          "or both be None");
  }
  if (leafKey !== null) {
    checkSize(leafKey, "leaf_key");
    checkSize(leafValue, "leaf_value");
  }
  if (!Array.isArray(siblings)) {
    throw new VerifyError("map.shape", "map proof siblings must be a list");
  }
  if (siblings.length > MAX_DEPTH) {
    throw new VerifyError("map.shape", `map proof has ${siblings.length} siblings, want at ` +
                          `most ${MAX_DEPTH}`);
  }
  siblings.forEach((s, i) => checkSize(s, `sibling ${i}`));

  const depth = siblings.length;
  if (depth > 0 && equal(siblings[depth - 1], EMPTY)) {
    const kind = leafKey === null ? "empty" : "leaf";
    throw new VerifyError("map.collapsible", `map proof ${kind} terminal at depth ${depth} has ` +
                          "an EMPTY sibling: its parent would not be a branch");
  }
  let node;
  if (leafKey === null) {
    if (depth === MAX_DEPTH) {
      throw new VerifyError("map.empty-depth", `map proof empty terminal at depth ${MAX_DEPTH}: ` +
                            "its parent would hold at most one key and not be a branch");
    }
    node = EMPTY;
  } else {
    const shared = sharedBits(key, leafKey);
    if (shared < depth) {
      throw new VerifyError("map.absence-leaf", `map proof absence leaf ${toHex(leafKey)} at ` +
        `depth ${depth} shares only ${shared} leading bits with key ${toHex(key)}, want at ` +
        `least ${depth}`);
    }
    node = await mapLeafHash(leafKey, leafValue);
  }
  for (let i = depth - 1; i >= 0; i--) {
    node = keyBit(key, i) ? await mapBranchHash(siblings[i], node)
                          : await mapBranchHash(node, siblings[i]);
  }
  if (!equal(node, root)) {
    throw new VerifyError("map.root", `map proof for key ${toHex(key)}: root mismatch: ` +
                          `calculated ${toHex(node)}, expected ${toHex(root)}`);
  }
  return leafKey !== null && equal(leafKey, key) ? leafValue : null;
}
