// An independent verifier (and signer) for the ledger's Open Badges 3.0 credentials: Digital
// Bazaar's @digitalbazaar/vc with the eddsa-rdfc-2022 cryptosuite, run by
// tests/test_vc_interop.py. Tests only; never shipped.
//
//   node vc.mjs verify [--now ISO] < credential.json   -> {"verified": bool, "error": str|null}
//                                                         (a JSON array of credentials: an
//                                                         array of answers, in order)
//   node vc.mjs sign SEED_HEX CREATED < unsigned.json  -> the credential, signed by the did:key
//                                                         of the 32-byte Ed25519 seed
//
// The document loader (pinned.mjs) serves only the contexts pinned in ledger/contexts/ (their SHA-256
// checked against the table in its README), resolves did:key locally, and refuses every other
// URL: nothing is fetched.

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';

import {loaderServing, message, readStdin} from './pinned.mjs';

const documentLoader = loaderServing();

async function verify(args) {
  const nowAt = args.indexOf('--now');
  const now = nowAt >= 0 ? args[nowAt + 1] : undefined;
  const input = readStdin();
  if(Array.isArray(input)) {  // several credentials: one answer each, in order
    const out = [];
    for(const credential of input) {
      out.push(await verifyOne(credential, now).catch(e => ({verified: false,
        error: message(e)})));
    }
    return out;
  }
  return verifyOne(input, now);
}

async function verifyOne(credential, now) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const result = await vc.verifyCredential({credential, suite, documentLoader, now});
  let error = result.verified ? null : message(result.error);
  if(!result.verified && !error && result.results) {
    error = message(result.results.map(r => r.error).filter(Boolean));
  }
  return {verified: result.verified, error};
}

async function sign([seedHex, created]) {
  const seed = Buffer.from(seedHex, 'hex');
  const keyPair = await Ed25519Multikey.generate({seed});
  const did = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.controller = did;
  keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
  const suite = new DataIntegrityProof({
    signer: keyPair.signer(), date: created, cryptosuite: eddsaRdfc2022CryptoSuite
  });
  const credential = readStdin();
  return vc.issue({credential, suite, documentLoader});
}

const [mode, ...args] = process.argv.slice(2);
try {
  const out = mode === 'sign' ? await sign(args) : await verify(args);
  process.stdout.write(JSON.stringify(out) + '\n');
} catch(e) {
  process.stdout.write(JSON.stringify({verified: false, error: message(e)}) + '\n');
  process.exitCode = mode === 'sign' ? 1 : 0;
}
