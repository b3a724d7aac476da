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
// The document loader serves only the contexts pinned in ledger/contexts/ (their SHA-256
// checked against the table in its README), resolves did:key locally, and refuses every other
// URL: nothing is fetched.
import {createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as didKey from '@digitalbazaar/did-method-key';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';

const CONTEXTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ledger',
  'contexts');

function pinnedContexts() {
  const table = readFileSync(join(CONTEXTS, 'README.md'), 'utf8');
  const pinned = new Map();
  const row = /^\| (\S+\.jsonld) \| (\S+) \| [^|]+ \| ([0-9a-f]{64}) \|$/;
  for(const line of table.split('\n')) {
    const m = line.match(row);
    if(!m) {
      continue;
    }
    const data = readFileSync(join(CONTEXTS, m[1]));
    const digest = createHash('sha256').update(data).digest('hex');
    if(digest !== m[3]) {
      throw new Error(`${m[1]}: sha256 ${digest}, want ${m[3]}`);
    }
    pinned.set(m[2], JSON.parse(data.toString('utf8')));
  }
  return pinned;
}

const PINNED = pinnedContexts();
const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

async function documentLoader(url) {
  if(PINNED.has(url)) {
    return {contextUrl: null, documentUrl: url, document: structuredClone(PINNED.get(url))};
  }
  if(url.startsWith('did:key:')) {
    const document = await didKeyDriver.get({url});
    return {contextUrl: null, documentUrl: url, document};
  }
  throw new Error(`refused: ${url} is not a pinned context`);
}

function readStdin() {
  return JSON.parse(readFileSync(0, 'utf8'));
}

function message(error) {
  if(!error) {
    return null;
  }
  const errors = Array.isArray(error) ? error : [error];
  return errors.map(e => {
    if(e && Array.isArray(e.errors) && e.errors.length) {
      return message(e.errors);
    }
    return (e && (e.message || e.name)) || String(e);
  }).join('; ');
}

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
