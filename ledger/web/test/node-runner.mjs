// node ledger/web/test/node-runner.mjs CORPUS.json RESULTS.json: the corpus through the verifier
// modules in node (tests/test_web_verifier.py runs it and compares with Python's verdicts), and
// WebCrypto's Ed25519 alone on the Ed25519 cases.

import { readFileSync, writeFileSync } from "node:fs";
import { rawEd25519, runCorpus } from "./corpus.mjs";

const [corpusPath, resultsPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(corpusPath, "utf8"));
const out = await runCorpus(cases);
out.engine = `node ${process.version}`;
out.rawEd25519 = await rawEd25519(cases);
writeFileSync(resultsPath, JSON.stringify(out));
