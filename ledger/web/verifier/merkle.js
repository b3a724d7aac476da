// RFC 9162 §2.1 Merkle trees over SHA-256 (docs/FORMAT.md §2, ledger/merkle.py): leaf and node
// hashes, and the inclusion and consistency checks, exactly as ledger/merkle.py makes them.
//
// Indexes and sizes may be numbers or BigInts (a checkpoint's size can be 2^64 - 1); the walk
// uses BigInts so that no bit is lost. Checks, in ledger/merkle.py's order:
//
//   merkle.hash-size  a root, leaf hash or proof hash that is not 32 bytes
//   merkle.index      an inclusion proof's index not in [0, size)
//   merkle.sizes      a consistency proof with size1 < 0 or size2 < size1
//   merkle.length     a proof with too many or too few hashes for its index and size
//   merkle.root       the proof leads to another root

import { VerifyError } from "./errors.js";
import { asBigInt, equal, isBytes, toHex } from "./bytes.js";
import { sha256 } from "./sha256.js";

export const HASH_SIZE = 32;
/** The root of the empty tree, SHA-256(""). */
export const EMPTY_ROOT = Uint8Array.from(
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".match(/../g),
  (h) => parseInt(h, 16));

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

/** RFC 9162 leaf hash: SHA-256(0x00 || entry). */
export function leafHash(entry) {
  return sha256(LEAF, entry);
}

/** RFC 9162 inner node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(NODE, left, right);
}

function checkHash(what, value) {
  if (!isBytes(value, HASH_SIZE)) {
    const got = value instanceof Uint8Array ? value.length : typeof value;
    throw new VerifyError("merkle.hash-size", `${what}: got ${got} bytes, want ${HASH_SIZE}`);
  }
}

function bitCount(n) {
  let c = 0;
  for (; n > 0n; n >>= 1n) c += Number(n & 1n);
  return c;
}

function bitLength(n) {
  let c = 0;
  for (; n > 0n; n >>= 1n) c++;
  return c;
}

function inclusionProofSize(index, size) {
  const inner = BigInt(bitLength(index ^ (size - 1n)));
  return Number(inner) + bitCount(index >> inner);
}

function consistencyProofSize(size1, size2) {
  const inner = BigInt(bitLength((size1 - 1n) ^ (size2 - 1n)));
  const border = bitCount((size1 - 1n) >> inner);
  const shift = bitLength(size1 & -size1) - 1;
  const seed = (size1 & (size1 - 1n)) === 0n ? 0 : 1;
  return seed + Number(inner) - shift + border;
}

function integer(value, what) {
  const v = asBigInt(value);
  if (v === null) throw new TypeError(`${what}: want an integer`);
  return v;
}

/**
 * The root an inclusion proof implies (RFC 9162 §2.1.3.2), with every check of
 * verifyInclusion but the final comparison (`merkle.root_from_inclusion`).
 */
export async function rootFromInclusion(index, size, leaf, proof) {
  index = integer(index, "index");
  size = integer(size, "size");
  if (index < 0n || index >= size) {
    throw new VerifyError("merkle.index",
                          `inclusion proof: leaf index ${index} not in tree size ${size}`);
  }
  checkHash("inclusion proof leaf hash", leaf);
  proof.forEach((p, i) => checkHash(`inclusion proof hash ${i}`, p));
  const wrongLength = () => new VerifyError("merkle.length",
    `inclusion proof for index ${index} in tree size ${size}: got ${proof.length} hashes, ` +
    `want ${inclusionProofSize(index, size)}`);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw wrongLength();
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw wrongLength();
  return r;
}

/** Check that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves with `root`. */
export async function verifyInclusion(index, size, leaf, proof, root) {
  checkHash("inclusion proof root", root);
  const calculated = await rootFromInclusion(index, size, leaf, proof);
  if (!equal(calculated, root)) {
    throw new VerifyError("merkle.root",
      `inclusion proof for index ${index} in tree size ${size}: root mismatch: calculated ` +
      `${toHex(calculated)}, expected ${toHex(root)}`);
  }
}

function mismatch(what, expected, calculated) {
  return new VerifyError("merkle.root", `${what}: root mismatch: calculated ${
    toHex(calculated)}, expected ${toHex(expected)}`);
}

/**
 * Check that the tree of `size2` leaves with `root2` extends the one of `size1` with `root1`
 * (RFC 9162 §2.1.4.2; from the empty tree only the empty proof, with root1 the empty root).
 */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  size1 = integer(size1, "size1");
  size2 = integer(size2, "size2");
  const what = `consistency proof from tree size ${size1} to ${size2}`;
  if (size1 < 0n || size2 < size1) {
    throw new VerifyError("merkle.sizes", `${what}: want 0 <= size1 <= size2`);
  }
  checkHash(`${what}: old root`, root1);
  checkHash(`${what}: new root`, root2);
  proof.forEach((c, i) => checkHash(`${what}: hash ${i}`, c));
  const wrongLength = () => new VerifyError("merkle.length", `${what}: got ${proof.length} ` +
    `hashes, want ${size1 === size2 || size1 === 0n ? 0 : consistencyProofSize(size1, size2)}`);
  if (size1 === 0n) {
    if (proof.length) throw wrongLength();
    if (!equal(root1, EMPTY_ROOT)) throw mismatch(`${what}: old root`, root1, EMPTY_ROOT);
    if (size2 === 0n && !equal(root2, EMPTY_ROOT)) {
      throw mismatch(`${what}: new root`, root2, EMPTY_ROOT);
    }
    return;
  }
  if (size1 === size2) {
    if (proof.length) throw wrongLength();
    if (!equal(root1, root2)) throw mismatch(what, root2, root1);
    return;
  }
  if (!proof.length) throw wrongLength();
  let fr;
  let sr;
  let rest;
  if ((size1 & (size1 - 1n)) === 0n) {
    fr = sr = root1;
    rest = proof;
  } else {
    fr = sr = proof[0];
    rest = proof.slice(1);
  }
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  for (const c of rest) {
    if (sn === 0n) throw wrongLength();
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw wrongLength();
  if (!equal(fr, root1)) throw mismatch(`${what}: old root`, root1, fr);
  if (!equal(sr, root2)) throw mismatch(`${what}: new root`, root2, sr);
}
