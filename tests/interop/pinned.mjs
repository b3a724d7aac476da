// What the interop scripts (vc.mjs, status.mjs) share: a document loader that serves only the
// contexts pinned in ledger/contexts/ (their SHA-256 checked against the table in its README),
// resolves did:key locally, serves the status list credentials it is given, and refuses every
// other URL (nothing is fetched); reading stdin; and an error's one-line message.
import {createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as didKey from '@digitalbazaar/did-method-key';

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

/** A document loader serving the pinned contexts, did:key, and `lists` (URL -> document). */
export function loaderServing(lists = {}) {
  return async function documentLoader(url) {
    if(PINNED.has(url)) {
      return {contextUrl: null, documentUrl: url, document: structuredClone(PINNED.get(url))};
    }
    if(Object.hasOwn(lists, url)) {
      return {contextUrl: null, documentUrl: url, document: structuredClone(lists[url])};
    }
    if(url.startsWith('did:key:')) {
      const document = await didKeyDriver.get({url});
      return {contextUrl: null, documentUrl: url, document};
    }
    throw new Error(`refused: ${url} is neither a pinned context nor a served list`);
  };
}

export function readStdin() {
  return JSON.parse(readFileSync(0, 'utf8'));
}

/** An error (or a list of them, or one with .errors) as one line. */
export function message(error) {
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
