// node web/test/node-runner.mjs CORPUS.json RESULTS.json: the corpus through the verifier
// modules in node (tests/test_web_verifier.py runs it and compares with Python's verdicts).

import { readFileSync, writeFileSync } from "node:fs";
import { runCorpus } from "./corpus.mjs";

const [corpusPath, resultsPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(corpusPath, "utf8"));
const out = await runCorpus(cases);
out.engine = `node ${process.version}`;
writeFileSync(resultsPath, JSON.stringify(out));
