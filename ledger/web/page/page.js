// The verifier page's user interface: files in (dropped, picked or pasted), one answer out.
// Every check is the verifier modules' (../verifier/index.js); this module reads the inputs,
// calls them, and shows what they say. Nothing is fetched: the page works from file://,
// offline.
import { checkFiles } from "./files.js";
import * as verifier from "../verifier/index.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("credledger-config").textContent);
const given = new Map(); // file name -> text

$("log-key").value = config.logKey || "";
if (config.witnesses && config.witnesses.length) {
  $("witness-policy").textContent =
    `Witnesses: at least ${config.minWitnesses} of ${config.witnesses.length} must have ` +
    "cosigned the checkpoint.";
}

function listFiles() {
  const list = $("file-list");
  list.replaceChildren(...[...given.keys()].map((name) => {
    const li = document.createElement("li");
    li.textContent = `✓ ${name}`;
    return li;
  }));
}

async function addFiles(files) {
  for (const file of files) {
    given.set(file.name, new Uint8Array(await file.arrayBuffer()));
  }
  listFiles();
}

$("files").addEventListener("change", (event) => addFiles(event.target.files));
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  addFiles(event.dataTransfer.files);
});

function row(dl, term, value) {
  if (value === null || value === undefined || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = String(value);
  dl.append(dt, dd);
}

const TONE = { VALID: "ok", INCLUDED: "ok", SUSPENDED: "warn", EXPIRED: "warn" };

const SAYS = {
  VALID: "The credential is genuine and in force.",
  REVOKED: "The issuer revoked this credential.",
  SUSPENDED: "The issuer suspended this credential (it may be reinstated).",
  EXPIRED: "The credential was genuine, but its validity has ended.",
  "KEY COMPROMISED": "It was signed with a key the issuer reports as stolen: do not rely on it.",
  "NOT FOUND": "The log proves this credential was never issued (as of its checkpoint).",
  INVALID: "A check failed: these files do not prove anything.",
};

function credentialBlock(cred) {
  const dl = document.createElement("dl");
  row(dl, "Answer", cred.answer);
  row(dl, "Issuer", cred.issuer_name ? `${cred.issuer_name} (${cred.issuer})` : cred.issuer);
  row(dl, "Achievement", cred.title ? `${cred.title} (${cred.achievement})` : cred.achievement);
  row(dl, "Issued", cred.issued_time);
  row(dl, "Valid until", cred.expires);
  if (cred.changed_index !== null && cred.changed_index !== undefined) {
    const what = cred.answer === "REVOKED" ? "Revoked" : cred.answer === "SUSPENDED"
      ? "Suspended" : "Reinstated";
    row(dl, what, `${cred.changed_time} (reason: ${cred.reason || "unspecified"})`);
  }
  if (cred.compromise) {
    row(dl, "Key", `${cred.compromise.key_id}, reported stolen from entry ` +
      `${cred.compromise.compromised_since} on`);
  } else if (cred.key_revoked) {
    row(dl, "Key", `${cred.key_id}, revoked after this issuance (entry ${cred.key_revoked.index})`);
  }
  if (cred.issuer_retired) row(dl, "Issuer retired", `at entry ${cred.issuer_retired.index}`);
  row(dl, "Stacks", (cred.parts || []).join(", "));
  row(dl, "Credential", cred.credential_checked
    ? "the holder's file is exactly the credential the log holds"
    : "not given: only the proof bundle was checked");
  row(dl, "Holder", cred.holder_checked ? `“${cred.subject}” is the one the credential names`
    : cred.credential_checked ? "not checked (no holder given above)" : "");
  row(dl, "Credential id", cred.id);
  return dl;
}

function show(result) {
  const out = $("result");
  out.replaceChildren();
  const box = document.createElement("div");
  box.className = `verdict ${TONE[result.answer] || "bad"}`;
  const answer = document.createElement("div");
  answer.className = "answer";
  answer.textContent = result.answer;
  const says = document.createElement("p");
  says.textContent = result.reason || SAYS[result.answer] || "";
  box.append(answer, says);
  for (const verdict of result.results || []) {
    for (const cred of verdict.credentials) box.append(credentialBlock(cred));
    const dl = document.createElement("dl");
    row(dl, "As of", verdict.as_of ? `${verdict.as_of} (the log's checkpoint)` : "an empty log");
    row(dl, "Checkpoint", `${verdict.checkpoint.origin}, ${verdict.checkpoint.size} entries`);
    row(dl, "Trusted by", verdict.trusted_by);
    box.append(dl);
  }
  out.append(box);
  out.dataset.answer = result.answer;
}

async function check() {
  const files = new Map(given);
  const encoder = new TextEncoder();
  for (const [id, name] of [["paste-credential", "pasted credential"], ["paste-bundle", "pasted bundle"]]) {
    if ($(id).value.trim()) files.set(name, encoder.encode($(id).value));
  }
  if (!files.size) {
    show({ answer: "NOTHING TO CHECK", reason: "Give the credential and its proof bundle." });
    return;
  }
  const subject = $("subject").value.trim();
  const trust = {
    logKey: $("log-key").value.trim() || null,
    root: $("root").value.trim() || null,
    size: $("size").value.trim() || null,
    witnesses: config.witnesses || [],
    minWitnesses: config.minWitnesses || 0,
  };
  $("result").textContent = "Checking…";
  delete $("result").dataset.answer;
  const started = performance.now();
  try {
    show(await checkFiles([...files.values()], { trust, subject: subject || null, at: Date.now() }));
  } catch (exc) {
    if (exc && exc.check === "ed25519.unsupported") {
      show({ answer: "CANNOT CHECK", reason: "This browser cannot verify Ed25519 signatures " +
        "(WebCrypto): open the page in a current browser, or use credledger verify." });
      return;
    }
    const check = exc && exc.check ? ` (${exc.check})` : "";
    show({ answer: "INVALID", reason: `${exc && exc.message ? exc.message : String(exc)}${check}` });
  }
  $("result").dataset.ms = String(performance.now() - started);
}

$("check").addEventListener("click", check);
// For scripted use and the tests: the page's own verifier modules, as the page loaded them.
globalThis.credledgerVerifier = verifier;
globalThis.credledgerCheckFiles = checkFiles;
document.documentElement.dataset.ready = "true";
