"""The differential corpus of the browser verifier's entry format 2 modules (ledger/web/verifier/
events.js, json.js, bundle.js, credential.js, verify.js): inputs from a real store
(tests/web_v2_world.py), tampered every way the tests know, and the Python verdict of each.

A case is ``{"id", "domain", "input", "expect"}``; ``expect`` is ``{"ok", "check", "value"}``
as in tests/web_corpus.py: ``check`` names the failed check in the JavaScript vocabulary
(ledger/web/README.md), mapped from the message of the error Python raises (:func:`classify`; an
unknown message fails the test). Domains:

* ``verify``: ``credledger verify CREDENTIAL... --bundle BUNDLE``'s core: each credential
  parsed (``openbadges.parse_credential``), then ``verify.verify_bundle`` with the trust
  anchor, witness policy, ``at`` and subject; the value is ``Verdict.as_dict()``;
* ``statement``, ``entry``, ``record``: ``events.decode_statement``, ``decode_entry``,
  ``decode_record``; the value is the decoded fields (tagged as web_corpus.tag does);
* ``signed``: ``SignedStatement.verify`` (decoding, then the signature).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from ledger.errors import LedgerError
from ledger.events import SignedStatement, decode_entry, decode_statement, key_id
from ledger.note import Signer, parse_checkpoint, parse_note, parse_verifier, sign_note
from ledger.openbadges import parse_credential
from ledger.records import decode_record
from ledger.verify import verify_bundle
from ledger.witness import WitnessKey, add_cosignature, parse_cosigner
from web_v2_world import AT, DAY, ORIGIN, T0, World

SEED = 20260518


# ------------------------------------------------------------------------------ verdicts

# (pattern of the message, check): the first pattern found in the message names the check.
# Wrapped messages (verify.py's BundleError around a decoder's error) keep the inner text, so
# the inner patterns come first.
_CHECKS: list[tuple[str, str]] = [
    (r"^bundle: credentials: empty", "bundle.no-credentials"),
    (r"^(proof|@context): missing$", "credential.shape"),
    # credential, after "the credential: " or from parse_credential
    (r"the credential differs from its logged issuance: its id", "credential.id"),
    (r"its digest is not the one the log committed", "credential.digest"),
    (r"proof\.proofValue: the signature does not verify", "credential.digest"),
    (r"it is signed by another key than the logged", "credential.key"),
    (r"the issuer's name or url is not the registered", "credential.issuer"),
    (r"validFrom is not the logged one", "credential.valid-from"),
    (r"validUntil is not the logged one", "credential.valid-until"),
    (r"its achievement is not the registered achievement", "credential.achievement"),
    (r"its credentialStatus is not the logged", "credential.status-entries"),
    (r"its parts \(evidence\) are not the logged", "credential.parts"),
    (r"is not the one the credential names", "credential.holder"),
    (r"^credential: \d+ bytes, at most", "credential.too-large"),
    (r"^credential: not JSON", "credential.json"),
    (r"^credential: member .* appears twice", "credential.duplicate"),
    (r"canonicalization: ", "credential.canonical-text"),
    (r"a member name must be ASCII here|a number JSON does not hold exactly", "credential.normal-form"),
    (r"(^|: )(proof(\.[^:]*)?|@context): (?!want exactly)", "credential.proof"),
    (r": want a JSON object$|: missing$|: not a member of this .* format$", "credential.shape"),
    (r"^@context: want exactly|: @context: want exactly", "credential.context"),
    (r"want an absolute (IRI|URL)", "credential.iri"),
    (r"(^|: )issuer\.id: did:key", "credential.issuer-key"),
    (r": got .*, want \[|want 'BitstringStatusListEntry'|want 'IdentityObject'", "credential.type"),
    (r"a lone surrogate \(U\+", "credential.unicode"),
    (r": want a string$|: empty$|characters, at most 16384$", "credential.text"),
    (r"want an RFC 3339 date-time|is not a valid date-time", "credential.datetime"),
    (r"validUntil: not after validFrom", "credential.validity"),
    (r"want a non-empty list$|items, at most 1024$", "credential.list"),
    (r"is not one of OB 3\.0's values", "credential.enum"),
    (r"hashed: want true|identityHash: want 'sha256\$'|salt: want a non-empty string", "credential.identifier"),
    (r"results, want one|names no resultDescription", "credential.result"),
    (r"evidence: a part is listed twice", "credential.evidence-twice"),
    (r"credentialStatus(\[\d\])?(\.\w+)?: ", "credential.status"),
    (r"a credential without an id is given", "credential.no-id"),
    (r"two different credentials .* are given", "credential.two-different"),
    (r"a holder \(--subject\) is checked against", "credential.no-credential"),
    (r"is given, but the bundle does not prove it", "credential.not-proven"),
    # msgpack, the decoders
    (r"not one msgpack value", "msgpack.value"),
    (r"want a msgpack array", "msgpack.array"),
    (r"is not allowed in canonical values", "msgpack.type"),
    (r"nested deeper than", "msgpack.depth"),
    (r"not canonical msgpack", "msgpack.canonical"),
    (r"entry is \d+ bytes; at most", "entry.too-large"),
    (r"entry version 1:", "entry.version-1"),
    (r"entry version: want", "entry.version"),
    (r"entry statement: want bin", "entry.statement"),
    (r"the signature on entry \d+ does not verify|statement signer .* is a small-order|"
     r"has a small-order point as r|statement signature does not verify", "entry.signature"),
    (r"statement: want at least 3 fields", "statement.short"),
    (r"statement kind: want one of", "statement.kind"),
    (r"parts: want an array of at most", "statement.parts"),
    (r"parts: the same credential is listed twice", "statement.parts-twice"),
    (r"parts: a credential cannot be a part of itself", "statement.part-of-itself"),
    (r"valid_until: must be after valid_from", "statement.valid-until"),
    (r"status_index: want an integer from 0", "statement.status-index"),
    (r"(^|: )purpose: want revocation", "statement.purpose"),
    (r"list number: want 0 to", "statement.list-number"),
    (r"list: want the list credential's bytes", "statement.list"),
    (r"record: empty", "record.empty"),
    (r"cred record state:", "record.state"),
    (r"cred record reason:", "record.reason"),
    (r"key record end:", "record.key-end"),
    (r"key record: key id does not match", "record.key-id"),
    (r"(slot|status-list) record key id:", "record.key-id-format"),
    (r"slot record status_index", "record.status-index"),
    (r"status-list record purpose", "record.purpose"),
    (r"status-list record number", "record.list-number"),
    (r"record kind: want", "record.kind"),
    (r"revoked_at is set but|compromised_since \d+ is not in|a revoked key's revoked_at|"
     r"a rotated key is revoked after", "record.compromise"),
    (r"want \d+ fields, got|want 8 or 10 fields|want 2 or 3 fields", "field.count"),
    (r"want 1 to 256 characters of \[", "field.id"),
    (r": want text, got", "text.type"),
    (r": at most \d+ characters, got", "text.length"),
    (r": must not be empty", "text.empty"),
    (r"not valid Unicode \(a lone surrogate", "text.unicode"),
    (r"control characters are not allowed", "text.control"),
    (r"one of Open Badges 3\.0's AchievementType", "field.achievement-type"),
    (r"want a non-negative integer of milliseconds", "field.time"),
    (r"want a non-negative integer index", "field.index"),
    (r"want urn:uuid: and a random UUID", "field.handle"),
    (r"reason: want one of", "field.reason-code"),
    (r"a small-order point, which anyone", "field.small-order"),
    (r"not a canonical point encoding", "field.non-canonical"),
    (r"key id: want 16 lowercase hex", "field.key-id"),
    (r"^bundle: larger than", "bundle.too-large"),
    (r"^bundle: more than \d+ JSON items", "bundle.items"),
    (r"^bundle: not JSON", "bundle.json"),
    (r"^bundle: member .* appears twice", "bundle.duplicate"),
    (r"^bundle: [^:]*: want an object|^bundle: [^:]*: (missing|unknown) field", "bundle.shape"),
    (r"^bundle: format: credential-ledger/bundle@v1", "bundle.format-v1"),
    (r"^bundle: format: want", "bundle.format"),
    (r"^bundle: checkpoint: want", "bundle.checkpoint"),
    (r"^bundle: [^:]*: want a list|^bundle: [^:]*: more than \d+ items", "bundle.list"),
    (r"^bundle: entries\[\d+\]\.index", "bundle.index"),
    (r"^bundle: entry \d+ appears twice", "bundle.entry-twice"),
    (r"^bundle: [^:]*: (want base64 text|not base64|not canonical base64)", "bundle.base64"),
    (r"^bundle: [^:]*: want 32 bytes, got", "bundle.hash-size"),
    (r"^bundle: map\[\d+\]: the same key", "bundle.map-twice"),
    (r"map proof leaf_key and leaf_value must both", "map.shape"),
    # merkle and the status map, wrapped
    (r"inclusion proof fails: .*root mismatch", "merkle.root"),
    (r"inclusion proof fails: .*got \d+ hashes, want", "merkle.length"),
    (r"status-map proof fails: .*root mismatch", "map.root"),
    (r"status-map proof fails: .*has an EMPTY sibling", "map.collapsible"),
    (r"status-map proof fails: .*empty terminal at depth 256", "map.empty-depth"),
    (r"status-map proof fails: .*absence leaf", "map.absence-leaf"),
    # verify.py's own
    (r"give the log key, or a trusted root and size", "trust.missing"),
    (r"the bundle is for the tree of size \d+ with root", "bundle.trust-mismatch"),
    (r"is not in the tree of size", "bundle.not-in-tree"),
    (r"the bundle lacks entry", "bundle.missing-entry"),
    (r"the bundle lacks its status-map proof", "bundle.missing-map-proof"),
    (r"entry at index \d+ says it is entry", "bundle.entry-index"),
    (r"a record is given for an absent key", "bundle.absent-record"),
    (r"the record does not match the proven value hash", "bundle.record-hash"),
    (r"the record is of the wrong kind", "bundle.record-kind"),
    (r"the (achievement )?record names", "bundle.record-names"),
    (r"the map proves it does not exist", "bundle.absent"),
    (r"is not its issuance", "bundle.not-issuance"),
    (r"does not (revoke|suspend|reinstate) it", "bundle.not-status-change"),
    (r"does not register it", "bundle.not-registration"),
    (r"does not introduce it", "bundle.key-intro"),
    (r"does not flag it as compromised", "bundle.key-revocation"),
    (r"not a key of", "bundle.wrong-key"),
    (r"was not active at entry", "bundle.key-inactive"),
    (r"without a status entry", "bundle.state-without-entry"),
    (r"credentials in one stack", "bundle.too-many"),
]
_LAST: list[tuple[str, str]] = [(r": want \d+ bytes, got", "field.bytes")]
"""Tried after the core's patterns (a cosignature's wrong length is the core's cosig.length)."""


def classify(exc: Exception) -> str:
    """The check a Python error stands for, in the JavaScript modules' vocabulary."""
    from web_corpus import classify as core_classify

    text = str(exc)
    inner = text.split("the credential: ", 1)[1] if "the credential: " in text else text
    for pattern, check in _CHECKS:
        if re.search(pattern, inner):
            return check
    for domain in ("checkpoint", "witness"):  # notes, checkpoints, cosignatures: the core's
        try:
            return core_classify(domain, exc)
        except AssertionError:
            continue
    for pattern, check in _LAST:
        if re.search(pattern, inner):
            return check
    raise AssertionError(f"unclassified error {type(exc).__name__}: {text}")


def every_check() -> set[str]:
    return {check for _, check in _CHECKS + _LAST}


def tag(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, (list, tuple)):
        return [tag(v) for v in value]
    raise TypeError(type(value))


def _run_verify(i: dict[str, Any]) -> Any:
    docs = [parse_credential(bytes.fromhex(c)) for c in i["credentials"]]
    trust: dict[str, Any] = {}
    if "log_key" in i:
        trust["log_key"] = parse_verifier(i["log_key"])
    if "root" in i:
        trust["root"], trust["size"] = bytes.fromhex(i["root"]), i["size"]
    verdict = verify_bundle(
        bytes.fromhex(i["bundle"]), **trust, at=i["at"], credentials=tuple(docs),
        subject=i.get("subject"), witnesses=tuple(parse_cosigner(w) for w in i.get("witnesses", [])),
        min_witnesses=i.get("min_witnesses", 0), max_age_ms=i.get("max_age_ms"))
    return json.loads(json.dumps(verdict.as_dict()))


def _statement_value(st: Any) -> Any:
    return tag([st.kind, st.issuer, st.time, *st.fields])


def _run(domain: str, i: dict[str, Any]) -> Any:
    if domain == "verify":
        return _run_verify(i)
    data = bytes.fromhex(i["hex"])
    if domain == "statement":
        return _statement_value(decode_statement(data))
    if domain == "entry":
        e = decode_entry(data)
        return tag([e.index, e.time, e.prev_root, e.state_root, e.statement, e.signer, e.signature])
    if domain == "record":
        decode_record(data)
        return msgpack.unpackb(data)[0]
    if domain == "signed":
        st = SignedStatement(data, bytes.fromhex(i["signer"]), bytes.fromhex(i["signature"])).verify()
        return _statement_value(st)
    raise AssertionError(domain)


def python_verdict(domain: str, i: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"ok": True, "check": None, "value": _run(domain, i)}
    except LedgerError as exc:
        return {"ok": False, "check": classify(exc), "value": None, "message": str(exc)}


# ------------------------------------------------------------------------------ trees


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return _sha(b"\0" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _sha(b"\1" + _mth(leaves[:k]) + _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return _path(m, leaves[:k]) + [_mth(leaves[k:])]
    return _path(m - k, leaves[k:]) + [_mth(leaves[:k])]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------------------ cases


class Cases:
    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.names: set[str] = set()

    def add(self, domain: str, name: str, inp: dict[str, Any]) -> None:
        assert name not in self.names, name
        self.names.add(name)
        self.cases.append({"id": name, "domain": domain, "input": inp,
                           "expect": python_verdict(domain, inp)})


class Corpus:
    def __init__(self, world: World) -> None:
        self.w = world
        self.cases = Cases()
        self.rng = random.Random(SEED)
        self.vkey = world.log_vkey
        ledger = world.ledger
        self.size = ledger.head().size
        self.leaves = [ledger.entry_bytes(i) for i in range(self.size)]

    def verify(self, name: str, bundle: bytes | str, creds: list[bytes | str] = (), **kw: Any) -> None:
        enc = (lambda d: (d.encode() if isinstance(d, str) else d).hex())
        inp: dict[str, Any] = {"bundle": enc(bundle), "credentials": [enc(c) for c in creds],
                               "at": kw.pop("at", AT)}
        if "root" in kw:
            inp["root"], inp["size"] = kw.pop("root"), kw.pop("size")
        elif "no_trust" not in kw:
            inp["log_key"] = kw.pop("log_key", self.vkey)
        kw.pop("no_trust", None)
        inp.update(kw)
        self.cases.add("verify", name, inp)

    # -------------------------------------------------------------------- re-rooting

    def rerooted(self, bundle_text: str, changes: dict[int, bytes]) -> str:
        """The bundle with entries replaced (index -> new bytes), its proofs and checkpoint
        made for the tree those entries make (signed by the log key: the tree is the log's
        as far as the checkpoint says)."""
        doc = json.loads(bundle_text)
        cp = parse_checkpoint(parse_note(doc["checkpoint"]).text)
        leaves = list(self.leaves[:cp.size])
        for i, data in changes.items():
            leaves[i] = data
        root = _mth(leaves)
        for item in doc["entries"]:
            item["entry"] = _b64(leaves[item["index"]])
            item["proof"] = [_b64(h) for h in _path(item["index"], leaves)]
        text = f"{cp.origin}\n{cp.size}\n{_b64(root)}\n"
        doc["checkpoint"] = sign_note(text, self.w.log)
        return json.dumps(doc, indent=1)

    def remapped(self, bundle_text: str, records: dict[bytes, bytes | None]) -> str:
        """The bundle with its status map made again (in memory, of the bundle's own records
        with ``records`` set, a None deleting one), the tree's last entry carrying the new
        map root (a statement's signature does not cover its entry's state_root), then the
        tree and checkpoint made again around it (:meth:`rerooted`)."""
        from ledger import smt

        doc = json.loads(bundle_text)
        present = {base64.b64decode(m["key"]): (None if m["record"] is None else base64.b64decode(m["record"]))
                   for m in doc["map"]}
        keys = list(present) + [k for k in records if k not in present]
        present.update(records)
        nodes: dict[bytes, bytes] = {}
        writer = smt.MapWriter(nodes.get)
        for k, rec in present.items():
            if rec is not None:
                writer.set(k, _sha(rec))
        nodes.update(writer.new_nodes())
        root = writer.root
        view = smt.SparseMap(nodes.get, root)
        doc["map"] = []
        for k in keys:
            p = view.prove(k, root)
            doc["map"].append({
                "key": _b64(k), "leaf_key": None if p.leaf_key is None else _b64(p.leaf_key),
                "leaf_value": None if p.leaf_value is None else _b64(p.leaf_value),
                "siblings": [_b64(h) for h in p.siblings],
                "record": None if present.get(k) is None else _b64(present[k])})
        cp = parse_checkpoint(parse_note(doc["checkpoint"]).text)
        last = msgpack.unpackb(self.leaves[cp.size - 1])
        last[4] = root
        return self.rerooted(json.dumps(doc), {cp.size - 1: msgpack.packb(last, use_bin_type=True)})

    def map_forgeries(self) -> None:
        """Status-map records forged (and the map made again around them): the checks of
        what each proven record must say."""
        from ledger.records import (
            ACHIEVEMENT,
            CRED,
            ISSUER,
            KEY,
            AchievementRecord,
            CredRecord,
            IssuerRecord,
            KeyRecord,
            map_key,
        )

        w = self.w
        for name in ("s1", "s4", "c1"):
            issuer, handle = w.handles[name]
            text = w.bundle(name)
            creds = [w.credential_text(name)]
            doc = json.loads(text)
            recs = {base64.b64decode(m["key"]): base64.b64decode(m["record"])
                    for m in doc["map"] if m["record"] is not None}
            ck = map_key(CRED, issuer, handle)
            cred = decode_record(recs[ck])
            issued = cred.issued_index
            st = decode_statement(decode_entry(self.leaves[issued]).statement)
            signer = decode_entry(self.leaves[issued]).signer
            kk = map_key(KEY, issuer, key_id(signer))
            key = decode_record(recs[kk])
            ik, ak = map_key(ISSUER, issuer), map_key(ACHIEVEMENT, issuer, st.fields[2])
            iss, ach = decode_record(recs[ik]), decode_record(recs[ak])
            other = w.handles["s6"][1]
            forged: dict[str, dict[bytes, bytes | None]] = {
                "same": {},
                "cred-kind": {ck: iss.encode()},
                "cred-names": {ck: CredRecord(issuer, other, cred.state, issued, cred.changed_index, cred.reason, cred.last_time).encode()},
                "cred-not-in-tree": {ck: CredRecord(issuer, handle, "issued", 10**6, None, "", cred.last_time).encode()},
                "cred-other-entry": {ck: CredRecord(issuer, handle, "issued", key.active_from, None, "", cred.last_time).encode()},
                "cred-revoked-no-entry": {ck: CredRecord(issuer, handle, "revoked", issued, None, "", cred.last_time).encode()},
                "cred-revoked-by-issuance": {ck: CredRecord(issuer, handle, "revoked", issued, issued, "withdrawn", cred.last_time).encode()},
                "cred-reinstated-by-issuance": {ck: CredRecord(issuer, handle, "issued", issued, issued, "unspecified", cred.last_time).encode()},
                "cred-malformed": {ck: msgpack.packb(["cred", issuer], use_bin_type=True)},
                "cred-absent": {ck: None},
                "issuer-absent": {ik: None},
                "issuer-names": {ik: IssuerRecord("other", iss.name, iss.url, iss.registered_at, None, "").encode()},
                "issuer-retired": {ik: IssuerRecord(issuer, iss.name, iss.url, iss.registered_at, issued, "merged").encode()},
                "issuer-renamed": {ik: IssuerRecord(issuer, "Renamed", iss.url, iss.registered_at, None, "").encode()},
                "key-absent": {kk: None},
                "key-kind": {kk: ach.encode()},
                "key-other-issuer": {kk: KeyRecord("college", key.key_id, key.public_key, key.active_from, key.ended_at, key.end, key.reason).encode()},
                "key-late": {kk: KeyRecord(issuer, key.key_id, key.public_key, issued + 1, None, "", "").encode()},
                "key-intro-issuance": {kk: KeyRecord(issuer, key.key_id, key.public_key, issued, None, "", "").encode()},
                "key-ended": {kk: KeyRecord(issuer, key.key_id, key.public_key, key.active_from, issued, "revoked", "stolen").encode()},
                "key-revoked-after": {kk: KeyRecord(issuer, key.key_id, key.public_key, key.active_from, issued + 1, "revoked", "stolen").encode()},
                "key-compromise-by-issuance": {kk: KeyRecord(issuer, key.key_id, key.public_key, key.active_from, issued + 1, "revoked", "x", issued + 1, key.active_from).encode()},
                "ach-absent": {ak: None},
                "ach-names": {ak: AchievementRecord(issuer, "zz", ach.registered_at).encode()},
                "ach-by-issuance": {ak: AchievementRecord(issuer, ach.achievement_id, issued).encode()},
            }
            for fname, change in forged.items():
                self.verify(f"remapped/{name}/{fname}", self.remapped(text, change), creds)
                if fname in ("same", "issuer-retired", "key-revoked-after"):
                    self.verify(f"remapped/{name}/{fname}/bundle-only", self.remapped(text, change))
        # More than 1024 credentials (with parts) in one bundle: 1025 never issued.
        from ledger.bundle import build_bundle
        from statements import handle as h

        a = build_bundle(w.ledger, [("uni", h(n)) for n in range(1, 1001)])
        b = build_bundle(w.ledger, [("uni", h(n)) for n in range(1001, 1026)])
        a["credentials"] += b["credentials"]
        a["map"] += b["map"]
        self.verify("remapped/too-many", json.dumps(a))

    # -------------------------------------------------------------------- families

    def build(self) -> list[dict[str, Any]]:
        self.honest()
        self.trust()
        self.bundle_bytes()
        self.bundle_structure()
        self.entries_rerooted()
        self.map_forgeries()
        self.credentials()
        self.decoders()
        return self.cases.cases

    def honest(self) -> None:
        w = self.w
        for name in w.docs:
            b = w.bundle(name)
            self.verify(f"honest/{name}/credential", b, [w.credential_text(name)])
            self.verify(f"honest/{name}/bundle-only", b)
            root = w.ledger.root_at(w.sizes["last"]).hex()
            self.verify(f"honest/{name}/root", b, root=root, size=w.sizes["last"])
            self.verify(f"honest/{name}/at-start", b, [w.credential_text(name)], at=T0)
        for name in ("s1", "s2", "s3", "s5", "stack"):
            b = w.bundle(name, size=w.sizes["first"])
            root = w.ledger.root_at(w.sizes["first"]).hex()
            self.verify(f"historic/{name}", b, [w.credential_text(name)], root=root,
                        size=w.sizes["first"])
        stack = w.bundle("stack")
        self.verify("stack/with-parts", stack, [w.credential_text(n) for n in ("stack", "s1", "s7")])
        self.verify("stack/part-only", stack, [w.credential_text("s7")])
        self.verify("multi/s1-s2-c1", w.bundle("s1", "s2", "c1"),
                    [w.credential_text(n) for n in ("c1", "s1")])
        from statements import handle

        absent = [("uni", handle(424242)), ("nobody", handle(1))]
        from ledger.bundle import build_bundle, dump_bundle

        self.absent = dump_bundle(build_bundle(w.ledger, absent))
        self.verify("absent/bundle", self.absent)
        self.verify("absent/with-credential", self.absent, [w.credential_text("s1")])
        for subject, n in (("ada@example.org", "s1"), ("ADA@example.org", "s1"),
                           ("S-0004", "s4"), ("Edsger W. Dijkstra", "s5"), ("", "s1"),
                           ("ada@example.org\ud800", "s1")):
            self.verify(f"subject/{n}/{subject!r}", w.bundle(n), [w.credential_text(n)],
                        subject=subject)
        self.verify("subject/no-credential", w.bundle("s1"), subject="ada@example.org")
        self.verify("subject/stack", stack, [w.credential_text(n) for n in ("stack", "s1", "s7")],
                    subject="ada@example.org")

    def trust(self) -> None:
        w = self.w
        b = w.bundle("s1")
        doc = [w.credential_text("s1")]
        other = Signer(ORIGIN, b"\x07" * 32)
        self.verify("trust/other-key-same-name", b, doc, log_key=str(other.verifier()))
        self.verify("trust/other-name", b, doc, log_key=str(Signer("other.example/log", w.log.seed).verifier()))
        self.verify("trust/none", b, doc, no_trust=True)
        root = w.ledger.root_at(w.sizes["last"])
        self.verify("trust/root-wrong", b, doc, root=_sha(root).hex(), size=w.sizes["last"])
        self.verify("trust/size-wrong", b, doc, root=root.hex(), size=w.sizes["last"] - 1)
        w1, w2 = WitnessKey("w1.example", b"\x11" * 32), WitnessKey("w2.example", b"\x12" * 32)
        v1, v2 = str(w1.verifier()), str(w2.verifier())
        self.verify("witness/none-cosigned", b, doc, witnesses=[v1], min_witnesses=1)
        self.verify("witness/max-age-without", b, doc, max_age_ms=DAY)
        bundle = json.loads(b)
        t = AT // 1000
        for name, stamps, kw in (
                ("one", [(w1, t - 60)], {"witnesses": [v1], "min_witnesses": 1}),
                ("two", [(w1, t - 60), (w2, t - 30)], {"witnesses": [v1, v2], "min_witnesses": 2}),
                ("too-few", [(w1, t - 60)], {"witnesses": [v1, v2], "min_witnesses": 2}),
                ("too-old", [(w1, t - 3 * 86400)], {"witnesses": [v1], "min_witnesses": 1, "max_age_ms": DAY}),
                ("future", [(w1, t + 3600)], {"witnesses": [v1], "min_witnesses": 1, "max_age_ms": DAY}),
                ("fresh", [(w1, t - 3600)], {"witnesses": [v1], "min_witnesses": 1, "max_age_ms": DAY})):
            note = bundle["checkpoint"]
            for key, ts in stamps:
                note = add_cosignature(note, key, ts)
            changed = dict(bundle, checkpoint=note)
            self.verify(f"witness/{name}", json.dumps(changed), doc, **kw)
        bad = add_cosignature(bundle["checkpoint"], w1, t)
        bad = bad.replace(bad.splitlines()[-1], bad.splitlines()[-1][:-4] + "AAA=")
        self.verify("witness/bad-signature", json.dumps(dict(bundle, checkpoint=bad)), doc,
                    witnesses=[v1], min_witnesses=1)

    def bundle_bytes(self) -> None:
        """Byte mutations of whole bundle files: each kind at sampled positions."""
        w = self.w
        rng = self.rng
        for name, text, creds in (("s1", w.bundle("s1"), [w.credential_text("s1")]),
                                  ("s2", w.bundle("s2"), []), ("c1", w.bundle("c1"), []),
                                  ("absent", self.absent, [])):
            data = text.encode()
            for n in range(45):
                at = rng.randrange(len(data))
                kind = n % 5
                if kind == 0:
                    out = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
                elif kind == 1:
                    out = data[:at] + data[at + 1:]
                elif kind == 2:
                    out = data[:at] + bytes([rng.choice(b'{}[],:"\\0123456789aAz=+/ \n\x00\xff')]) + data[at:]
                elif kind == 3:
                    out = data[:at]
                else:
                    out = data[:at] + bytes([rng.randrange(256)]) + data[at + 1:]
                self.verify(f"bytes/{name}/{n}", out, creds)
        for name, out in (("utf16", text.encode("utf-16")), ("utf16le", text.encode("utf-16-le")),
                          ("utf32", text.encode("utf-32")), ("bom", b"\xef\xbb\xbf" + data),
                          ("nan", data.replace(b'"index": ', b'"index": NaN, "x": ', 1)),
                          ("big-int", data.replace(b'"index": ', b'"index": 1' + b"0" * 4400 + b', "x": ', 1)),
                          ("deep", b"[" * 2000 + b"]" * 2000),
                          ("items", b"[" + b"{}," * 600_000 + b"{}]"),
                          ("surrogate", data.replace(b'"format"', b'"\xed\xa0\x80format"', 1)),
                          ("escaped-surrogate", data.replace(b'"format"', b'"\\ud800format"', 1)),
                          ("too-large", b" " * (16 << 20) + data)):
            self.verify(f"bytes/special/{name}", out)

    def bundle_structure(self) -> None:
        w = self.w
        base = json.loads(w.bundle("s1"))
        doc = [w.credential_text("s1")]

        def edit(name: str, change: Callable[[dict[str, Any]], Any], bundle: dict[str, Any] = base,
                 creds: list[str] = doc) -> None:
            b = copy.deepcopy(bundle)
            change(b)
            self.verify(f"structure/{name}", json.dumps(b), creds)

        for n in range(len(base["entries"])):
            edit(f"drop-entry-{n}", lambda b, n=n: b["entries"].pop(n))
            edit(f"entry-index+1-{n}", lambda b, n=n: b["entries"][n].update(index=b["entries"][n]["index"] + 1))
            edit(f"proof-drop-{n}", lambda b, n=n: b["entries"][n]["proof"].pop() if b["entries"][n]["proof"] else None)
            edit(f"entry-flip-{n}", lambda b, n=n: b["entries"][n].update(
                entry=_b64(bytes([base64.b64decode(b["entries"][n]["entry"])[0] ^ 1]) +
                           base64.b64decode(b["entries"][n]["entry"])[1:])))
        for n in range(len(base["map"])):
            edit(f"drop-map-{n}", lambda b, n=n: b["map"].pop(n))
            edit(f"record-none-{n}", lambda b, n=n: b["map"][n].update(record=None))
            edit(f"sibling-flip-{n}", lambda b, n=n: b["map"][n].update(
                siblings=[_b64(_sha(base64.b64decode(s))) for s in b["map"][n]["siblings"]]))
            edit(f"leaf-key-only-{n}", lambda b, n=n: b["map"][n].update(leaf_value=None))
            edit(f"record-swap-{n}", lambda b, n=n: b["map"][n].update(
                record=b["map"][(n + 1) % len(b["map"])]["record"]))
        absent = json.loads(self.absent)
        edit("absent-with-record", lambda b: b["map"][0].update(record=base["map"][0]["record"]), absent, [])
        for name, change in {
            "format-v1": lambda b: b.update(format="credential-ledger/bundle@v1"),
            "format-other": lambda b: b.update(format=2),
            "extra-member": lambda b: b.update(extra=1),
            "no-map": lambda b: b.pop("map"),
            "checkpoint-list": lambda b: b.update(checkpoint=[b["checkpoint"]]),
            "entries-object": lambda b: b.update(entries={}),
            "entries-too-many": lambda b: b.update(entries=b["entries"] * 1366),
            "entry-twice": lambda b: b["entries"].append(b["entries"][0]),
            "map-twice": lambda b: b["map"].append(b["map"][0]),
            "index-negative": lambda b: b["entries"][0].update(index=-1),
            "index-float": lambda b: b["entries"][0].update(index=1.0),
            "index-bool": lambda b: b["entries"][0].update(index=True),
            "index-huge": lambda b: b["entries"][0].update(index=1 << 63),
            "entry-not-b64": lambda b: b["entries"][0].update(entry="!!!!"),
            "entry-noncanonical": lambda b: b["entries"][0].update(entry=b["entries"][0]["entry"][:-2] + "B="),
            "proof-short-hash": lambda b: b["entries"][0]["proof"].append(_b64(b"\0" * 31)),
            "proof-65": lambda b: b["entries"][0].update(proof=[_b64(b"\0" * 32)] * 65),
            "siblings-257": lambda b: b["map"][0].update(siblings=[_b64(b"\0" * 32)] * 257),
            "key-short": lambda b: b["map"][0].update(key=_b64(b"\0" * 31)),
            "credentials-empty": lambda b: b.update(credentials=[]),
            "credentials-bad-handle": lambda b: b["credentials"][0].update(id="urn:uuid:X"),
            "credentials-bad-issuer": lambda b: b["credentials"][0].update(issuer="-uni"),
            "credentials-extra": lambda b: b["credentials"][0].update(x=1),
            "credentials-other": lambda b: b["credentials"][0].update(id=self.w.handles["s6"][1]),
            "item-not-object": lambda b: b["entries"].insert(0, []),
        }.items():
            edit(name, change)
        text = self.w.bundle("s1")
        self.verify("structure/duplicate-member", text.replace('"format":', '"format": 1, "format":', 1), doc)
        self.verify("structure/duplicate-inner", text.replace('"index":', '"index": 0, "index":', 1), doc)

    def entries_rerooted(self) -> None:
        """Entries replaced, the tree and checkpoint made again around them: the checks past
        inclusion (decoding, indexes, signatures, what each entry must say)."""
        w = self.w
        ledger = w.ledger
        for name in ("s1", "s4", "c1", "stack", "s2"):
            text = w.bundle(name)
            doc = json.loads(text)
            indexes = [e["index"] for e in doc["entries"]]
            creds = [w.credential_text(name)]
            self.verify(f"rerooted/{name}/same", self.rerooted(text, {}), creds)
            for i in indexes:
                data = self.leaves[i]
                other = self.leaves[(i + 1) % len(self.leaves)]
                items = msgpack.unpackb(data)
                st_items = msgpack.unpackb(items[5])
                o_items = msgpack.unpackb(other)
                variants: dict[str, bytes] = {
                    "other-entry": other,
                    "other-statement": msgpack.packb([*items[:5], *o_items[5:]], use_bin_type=True),
                    "index-field": msgpack.packb([*items[:1], items[1] + 1, *items[2:]], use_bin_type=True),
                    "signature": msgpack.packb([*items[:7], bytes([items[7][0] ^ 1]) + items[7][1:]], use_bin_type=True),
                    "signer-other": msgpack.packb([*items[:6], w.log.public_key, items[7]], use_bin_type=True),
                    "version-1": msgpack.packb([1, *items[1:]], use_bin_type=True),
                    "time-field": msgpack.packb([*items[:2], items[2] + 1, *items[3:]], use_bin_type=True),
                    "statement-time": msgpack.packb([*items[:5], msgpack.packb([*st_items[:2], st_items[2] + 1, *st_items[3:]], use_bin_type=True), *items[6:]], use_bin_type=True),
                    "byte-0": bytes([data[0] ^ 1]) + data[1:],
                    "truncated": data[:-1],
                }
                for k in range(4):
                    at = self.rng.randrange(len(data))
                    variants[f"byte-{at}"] = data[:at] + bytes([data[at] ^ (1 << self.rng.randrange(8))]) + data[at + 1:]
                for vname, new in variants.items():
                    self.verify(f"rerooted/{name}/{i}/{vname}", self.rerooted(text, {i: new}), creds)

    def credentials(self) -> None:
        w = self.w
        b1 = w.bundle("s1")
        s1 = w.docs["s1"]
        self.verify("credential/other-credential", b1, [w.credential_text("s6")])
        self.verify("credential/two-same", b1, [w.credential_text("s1"), w.credential_text("s1")])
        changed = copy.deepcopy(s1)
        changed["name"] = "Other"
        self.verify("credential/two-different", b1, [w.credential_text("s1"), json.dumps(changed)])
        self.verify("credential/two-equal-respelled", b1, [w.credential_text("s1"), json.dumps(s1)])
        swapped = copy.deepcopy(s1)
        swapped["proof"] = copy.deepcopy(w.docs["s6"]["proof"])
        self.verify("credential/swapped-proof", b1, [json.dumps(swapped)])
        for name in ("s2", "stack", "c1", "s8"):  # each credential with another's bundle
            self.verify(f"credential/{name}-with-s1-bundle", b1, [w.credential_text(name)])
        for n, (path, value) in enumerate(_leaf_changes(s1)):
            doc = copy.deepcopy(s1)
            _put(doc, path, value)
            self.verify(f"credential/field/{n}/{'.'.join(map(str, path))}", b1, [json.dumps(doc)])
        for n, doc in enumerate(_member_changes(s1)):
            self.verify(f"credential/member/{n}", b1, [json.dumps(doc)])
        for n, text in enumerate(_respellings(s1)):
            self.verify(f"credential/respelled/{n}", b1, [text])
        data = w.credential_text("s1").encode()
        for n in range(60):
            at = self.rng.randrange(len(data))
            out = data[:at] + bytes([data[at] ^ (1 << self.rng.randrange(8))]) + data[at + 1:]
            self.verify(f"credential/bytes/{n}", b1, [out])
        text = w.credential_text("s1")
        for name, out in (("duplicate", text.replace('"name":', '"name": "x", "name":', 1)),
                          ("nan", text.replace('"hashed": true', '"hashed": NaN', 1)),
                          ("not-json", text[:-3]), ("too-large", text + " " * (1 << 20)),
                          ("control", text.replace('"name": "', '"name": "\\u0001', 1)),
                          ("cr", text.replace('"name": "', '"name": "\\r', 1)),
                          ("surrogate", text.replace('"name": "', '"name": "\\udc00', 1))):
            self.verify(f"credential/special/{name}", b1, [out])
        for name in ("s5", "s4", "c1", "stack", "s6"):
            doc = w.docs[name]
            b = w.bundle(name)
            for n, (path, value) in enumerate(_leaf_changes(doc)):
                if n % 4:
                    continue
                d = copy.deepcopy(doc)
                _put(d, path, value)
                self.verify(f"credential/{name}/field/{n}", b, [json.dumps(d)])

    def decoders(self) -> None:
        """The decoders alone, on every entry, statement and record of the store and each
        field of them replaced by values of every kind."""
        w = self.w
        records: list[bytes] = []
        for name in ("s1", "s4", "c1", "stack", "s2", "f-key"):
            for item in json.loads(w.bundle(name))["map"]:
                if item["record"] is not None:
                    records.append(base64.b64decode(item["record"]))
        records = list(dict.fromkeys(records))
        odd = [None, True, 0, -1, 1 << 63, (1 << 64) - 1, "", "x", "uni", "a" * 257, "\x01",
               "tab\there", "line\nfeed", "revoked", "unspecified", b"", b"\0" * 32, [], ["x"],
               "urn:uuid:00000000-0000-4000-8000-000000000000", "0123456789abcdef", 131072 * 64]
        for n, data in enumerate(records):
            self.cases.add("record", f"record/{n}", {"hex": data.hex()})
            items = msgpack.unpackb(data)
            for k in range(len(items)):
                for m, v in enumerate(odd):
                    new = msgpack.packb([*items[:k], v, *items[k + 1:]], use_bin_type=True)
                    self.cases.add("record", f"record/{n}/{k}/{m}", {"hex": new.hex()})
            self.cases.add("record", f"record/{n}/short", {"hex": msgpack.packb(items[:-1], use_bin_type=True).hex()})
        for i, data in enumerate(self.leaves):
            items = msgpack.unpackb(data)
            st = items[5]
            self.cases.add("entry", f"entry/{i}", {"hex": data.hex()})
            self.cases.add("signed", f"signed/{i}", {"hex": st.hex(), "signer": items[6].hex(),
                                                     "signature": items[7].hex()})
            self.cases.add("signed", f"signed/{i}/bad", {"hex": st.hex(), "signer": items[6].hex(),
                                                         "signature": (bytes([items[7][0] ^ 1]) + items[7][1:]).hex()})
            st_items = msgpack.unpackb(st)
            for k in range(len(st_items)):
                for m, v in enumerate(odd):
                    new = msgpack.packb([*st_items[:k], v, *st_items[k + 1:]], use_bin_type=True)
                    self.cases.add("statement", f"statement/{i}/{k}/{m}", {"hex": new.hex()})
            self.cases.add("statement", f"statement/{i}/extra", {"hex": msgpack.packb([*st_items, 0], use_bin_type=True).hex()})
            for k in range(len(items)):
                for m, v in enumerate(odd[:8] + [b"\0" * 31]):
                    new = msgpack.packb([*items[:k], v, *items[k + 1:]], use_bin_type=True)
                    self.cases.add("entry", f"entry/{i}/{k}/{m}", {"hex": new.hex()})


def _leaf_changes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """For every value in the credential: other values in its place."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaf_changes(v, (*path, k))
        return
    if isinstance(doc, list):
        for n, v in enumerate(doc):
            yield from _leaf_changes(v, (*path, n))
        return
    if isinstance(doc, str):
        yield path, doc + "x"
        yield path, doc[:-1] if doc else "y"
        yield path, " " if doc else "z"
        yield path, 7
    else:
        yield path, "true"
        yield path, None


def _put(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value


def _member_changes(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each member of each object removed, one added, each list emptied or an item doubled."""
    paths: list[tuple[Any, ...]] = []

    def walk(v: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, (*path, k))
        elif isinstance(v, list):
            for n, x in enumerate(v):
                walk(x, (*path, n))

    walk(doc, ())

    def at(d: Any, path: tuple[Any, ...]) -> Any:
        for p in path:
            d = d[p]
        return d

    for path in paths:
        target = at(doc, path)
        if isinstance(target, dict):
            for k in target:
                d = copy.deepcopy(doc)
                del at(d, path)[k]
                yield d
            d = copy.deepcopy(doc)
            at(d, path)["extra"] = "x"
            yield d
        elif isinstance(target, list):
            d = copy.deepcopy(doc)
            at(d, path).clear()
            yield d
            d = copy.deepcopy(doc)
            at(d, path).append(copy.deepcopy(target[0]))
            yield d
            if len(target) > 1:
                d = copy.deepcopy(doc)
                at(d, path).reverse()
                yield d


def _respellings(doc: dict[str, Any]) -> Iterator[str]:
    """The same credential, spelled otherwise: each must verify."""
    def reverse(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: reverse(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [reverse(x) for x in v]
        return v

    def bare(v: Any, top: bool = True) -> Any:
        if isinstance(v, dict):
            return {k: (x if k == "@context" else bare(x[0] if isinstance(x, list) and len(x) == 1
                                                      and k in ("type",) else x, False))
                    for k, x in v.items()}
        if isinstance(v, list):
            return [bare(x, False) for x in v]
        return v

    yield json.dumps(doc)
    yield json.dumps(doc, separators=(",", ":"))
    yield json.dumps(doc, ensure_ascii=True, indent="\t")
    yield json.dumps(reverse(doc), indent=3)
    yield json.dumps(bare(doc))
    swapped = copy.deepcopy(doc)
    swapped["type"] = list(reversed(swapped["type"]))
    swapped["credentialStatus"] = list(reversed(swapped["credentialStatus"]))
    yield json.dumps(swapped)
    yield json.dumps(doc).replace('"name"', '"\\u006eame"').replace("/", "\\/")
    yield " \n\t" + json.dumps(doc) + "\r\n"
