// The verifier page's user interface: files in (dropped, picked or pasted), one answer out.
// Every check is the verifier modules' (../verifier/index.js); this module reads the inputs,
// calls them, and shows what they say. Nothing is fetched: the page works from file://,
// offline.
import { checkFiles } from "./files.js";

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
    given.set(file.name, await file.text());
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

function show(result) {
  const out = $("result");
  out.replaceChildren();
  const box = document.createElement("div");
  box.className = `verdict ${TONE[result.answer] || "bad"}`;
  const answer = document.createElement("div");
  answer.className = "answer";
  answer.textContent = result.answer;
  box.append(answer);
  if (result.reason) {
    const p = document.createElement("p");
    p.textContent = result.reason;
    box.append(p);
  }
  for (const cred of result.credentials || []) {
    const dl = document.createElement("dl");
    row(dl, "Answer", cred.answer);
    row(dl, "Issuer", cred.issuerName ? `${cred.issuerName} (${cred.issuer})` : cred.issuer);
    row(dl, "Achievement", cred.title);
    row(dl, "Credential", cred.id);
    row(dl, "Issued", cred.issuedTime);
    row(dl, "Valid until", cred.expires);
    if (cred.changedIndex !== null && cred.changedIndex !== undefined) {
      row(dl, "Status changed", `${cred.changedTime} (reason: ${cred.reason || "unspecified"})`);
    }
    row(dl, "Key", cred.keyNote);
    row(dl, "Issuer retired", cred.issuerRetired);
    row(dl, "Stacks", (cred.parts || []).join(", "));
    row(dl, "Credential file", cred.credentialChecked ? "checked: it is the one the log holds"
      : "not given: only the bundle was checked");
    row(dl, "Holder", cred.subject ? `“${cred.subject}” matches the credential`
      : cred.credentialChecked ? "not checked (no holder given)" : "");
    box.append(dl);
  }
  if (result.checkpoint) {
    const dl = document.createElement("dl");
    row(dl, "As of", result.asOf ? `${result.asOf} (the checkpoint's last entry)` : "an empty log");
    row(dl, "Checkpoint", `${result.checkpoint.origin}, size ${result.checkpoint.size}`);
    row(dl, "Trusted by", result.trustedBy);
    box.append(dl);
  }
  out.append(box);
}

async function check() {
  const files = new Map(given);
  if ($("paste-credential").value.trim()) files.set("pasted credential", $("paste-credential").value);
  if ($("paste-bundle").value.trim()) files.set("pasted bundle", $("paste-bundle").value);
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
  try {
    show(await checkFiles([...files.values()], { trust, subject: subject || null, at: Date.now() }));
  } catch (exc) {
    show({ answer: "INVALID", reason: exc && exc.message ? exc.message : String(exc) });
  }
}

$("check").addEventListener("click", check);
globalThis.credledgerPageReady = true;
