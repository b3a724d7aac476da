// An independent reader (and writer) of the ledger's bitstring status lists: Digital Bazaar's
// @digitalbazaar/vc-bitstring-status-list (checkStatus, createList, decodeList) with
// @digitalbazaar/vc and the eddsa-rdfc-2022 cryptosuite, run by
// tests/test_statuslist_interop.py. Tests only; never shipped.
//
//   node status.mjs check < {"credential": VC, "lists": {URL: list credential}, "now": ISO}
//       -> {"verified": bool, "error": str|null,
//           "statuses": [{"statusPurpose", "statusListIndex", "status": bool}] | null}
//       vc.verifyCredential with the library's checkStatus: the credential's proof, then each
//       BitstringStatusListEntry read in its list (whose proof and issuer are checked too)
//   node status.mjs encode < {"length": N, "set": [indexes]}   -> {"encodedList": "u..."}
//       createList, setStatus(index, true) for each, encode
//   node status.mjs decode < {"encodedList": "u..."}          -> {"length": N, "set": [...]}
//       decodeList; the indexes whose status is set
//   node status.mjs sign-list SEED_HEX CREATED < {"id", "statusPurpose", "length", "set",
//                                                 "validFrom"}  -> the signed list credential
//       createList + createCredential, the issuer and validFrom added, signed by the did:key of
//       the 32-byte Ed25519 seed with vc.issue
//
// Each mode also takes a JSON array of such inputs and answers with an array, in order.
//
// The document loader (pinned.mjs) serves only the contexts pinned in ledger/contexts/ (their SHA-256
// checked against the table in its README), resolves did:key locally, serves the list
// credentials it is given at their URLs, and refuses every other URL: nothing is fetched.

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {
  checkStatus, createCredential, createList, decodeList
} from '@digitalbazaar/vc-bitstring-status-list';

import {loaderServing, message, readStdin} from './pinned.mjs';

async function check({credential, lists, now}) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const documentLoader = loaderServing(lists || {});
  const result = await vc.verifyCredential({
    credential, suite, documentLoader, now, checkStatus
  });
  const status = result.statusResult;
  let error = null;
  if(!result.verified) {
    error = message(result.error) ||
      message((result.results || []).map(r => r.error).filter(Boolean)) ||
      message(status && status.error) || 'not verified';
  }
  const statuses = status && status.results ? status.results.map(r => ({
    statusPurpose: r.credentialStatus.statusPurpose,
    statusListIndex: r.credentialStatus.statusListIndex,
    status: r.status
  })) : null;
  return {verified: result.verified, error, statuses};
}

async function encode({length, set}) {
  const list = await createList({length});
  for(const index of set) {
    list.setStatus(index, true);
  }
  return {encodedList: await list.encode()};
}

function setIndexes(list) {
  const set = [];
  for(let i = 0; i < list.length; ++i) {
    if(list.getStatus(i)) {
      set.push(i);
    }
  }
  return set;
}

async function decode({encodedList}) {
  const list = await decodeList({encodedList});
  return {length: list.length, set: setIndexes(list)};
}

async function signList({id, statusPurpose, length, set, validFrom}, [seedHex, created]) {
  const seed = Buffer.from(seedHex, 'hex');
  const keyPair = await Ed25519Multikey.generate({seed});
  const did = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.controller = did;
  keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
  const list = await createList({length});
  for(const index of set) {
    list.setStatus(index, true);
  }
  const credential = await createCredential({id, list, statusPurpose});
  credential.issuer = did;
  credential.validFrom = validFrom;
  const suite = new DataIntegrityProof({
    signer: keyPair.signer(), date: created, cryptosuite: eddsaRdfc2022CryptoSuite
  });
  return vc.issue({credential, suite, documentLoader: loaderServing({})});
}

const MODES = {check, encode, decode, 'sign-list': signList};
const [mode, ...args] = process.argv.slice(2);
if(!Object.hasOwn(MODES, mode)) {
  process.stderr.write(`usage: node status.mjs check|encode|decode|sign-list\n`);
  process.exit(2);
}
try {
  // A JSON array on stdin: one answer each, in order (node starts once for many cases).
  const input = readStdin();
  let out;
  if(Array.isArray(input)) {
    out = [];
    for(const one of input) {
      out.push(await MODES[mode](one, args));
    }
  } else {
    out = await MODES[mode](input, args);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
} catch(e) {
  process.stderr.write(`status.mjs ${mode}: ${message(e)}\n`);
  process.exitCode = 1;
}
