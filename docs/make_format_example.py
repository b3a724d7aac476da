#!/usr/bin/env python3
"""Generate the worked example of docs/FORMAT.md from the real code, with fixed inputs.

Every key is derived from a fixed seed, every time is fixed, and the salt is fixed; Ed25519
signatures are deterministic (RFC 8032), so the output is the same on every run and machine.

The script builds the example twice and insists that both agree byte for byte:

1. by hand, the way ``ledger/log.py`` appends: ``ledger.events`` for statements, records and
   entries, ``ledger.log.apply_rules`` for the rules, ``ledger.smt`` for the status map and
   ``ledger.merkle`` for the log (this is the path annotated in the document);
2. through the public ``Ledger`` API on a temporary LMDB store with an injected clock. Only
   ``Ledger.create`` draws random keys (through ``Signer.generate``); the script hands it the
   fixed seeds instead.

Usage (from the repository root):

    python docs/make_format_example.py           print the example section (Markdown)
    python docs/make_format_example.py --write   replace the example section in docs/FORMAT.md
    python docs/make_format_example.py --check   exit 1 if docs/FORMAT.md's section is stale

The section sits between the ``BEGIN``/``END GENERATED EXAMPLE`` comment lines of FORMAT.md.
The seeds below are public: never use them for anything real.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger import merkle, smt
from ledger.events import (
    ISSUE,
    REGISTER_ISSUER,
    SIGN_CONTEXT,
    Entry,
    Record,
    decode_record,
    key_id,
    make_statement,
    map_key,
    pack,
    record_hash,
    sign_statement,
    signing_message,
    subject_commitment,
)
from ledger.log import RecordState, apply_rules
from ledger.note import Checkpoint, Signer, sign_checkpoint

# ------------------------------------------------------------------------------ fixed inputs

ORIGIN = "example.org/credentials"
LOG_SEED = hashlib.sha256(b"log").digest()
REGISTRY_SEED = bytes(range(32))
ISSUER_SEED = hashlib.sha256(b"issuer").digest()
SALT = hashlib.sha256(b"salt").digest()

ISSUER_ID = "uni"
ISSUER_NAME = "Example University"
ISSUER_URL = "https://uni.example"
CRED_ID = "c-1"
SUBJECT = "Ada Lovelace"
TITLE = "Python 101"
EXPIRES_DATE = "2028-06-30"

T_REGISTER = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z: registry signs the registration
T_ENTRY0 = 1_767_225_600_250  # the ledger sequences it 250 ms later
T_ISSUE = 1_767_225_660_000  # 2026-01-01T00:01:00.000Z: the issuer signs the issuance
T_ENTRY1 = 1_767_225_660_250
T_VERIFY = 1_767_312_000_000  # 2026-01-02T00:00:00.000Z: when the verifier judges expiry

DOC = Path(__file__).resolve().parent / "FORMAT.md"
BEGIN = "<!-- BEGIN GENERATED EXAMPLE (python docs/make_format_example.py --write) -->"
END = "<!-- END GENERATED EXAMPLE -->"


def expires_ms(date: str) -> int:
    """``YYYY-MM-DD`` -> UTC ms of the following midnight, exactly as ``credledger issue``."""
    from ledger.cli import _parse_date

    ms = _parse_date(date, "expires")
    assert ms is not None
    return ms


EXPIRES = expires_ms(EXPIRES_DATE)


# ------------------------------------------------------------------------------ formatting


def iso(ms: int) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def hexs(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def dump(data: bytes, width: int = 16) -> list[str]:
    """Hex dump lines with offsets."""
    return [f"{i:04x}  {hexs(data[i:i + width])}" for i in range(0, len(data), width)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        self.lines.extend(text.split("\n"))

    def code(self, lines: list[str] | str, lang: str = "") -> None:
        self(f"```{lang}")
        self(lines if isinstance(lines, str) else "\n".join(lines))
        self("```")
        self()

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------ msgpack annotation
#
# A tiny reader for the msgpack subset the ledger writes (fixarray/array16, fixstr/str8/str16,
# bin8/bin16, positive fixint/uint8..uint64, nil, false, true), so each value can be shown
# next to its bytes.

_COL = 58  # where the description column starts


def _token(data: bytes, pos: int) -> tuple[int, int, str, Any]:
    """Return (header length, payload length, type name, value or element count) at ``pos``."""
    b = data[pos]
    if b <= 0x7F:
        return 1, 0, "positive fixint", b
    if 0x90 <= b <= 0x9F:
        return 1, 0, "fixarray", b & 0x0F
    if b == 0xDC:
        return 3, 0, "array 16", int.from_bytes(data[pos + 1:pos + 3], "big")
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return 1, n, "fixstr", data[pos + 1:pos + 1 + n].decode()
    if b in (0xD9, 0xDA):
        w = 1 if b == 0xD9 else 2
        n = int.from_bytes(data[pos + 1:pos + 1 + w], "big")
        return 1 + w, n, f"str {8 * w}", data[pos + 1 + w:pos + 1 + w + n].decode()
    if b in (0xC4, 0xC5, 0xC6):
        w = {0xC4: 1, 0xC5: 2, 0xC6: 4}[b]
        n = int.from_bytes(data[pos + 1:pos + 1 + w], "big")
        return 1 + w, n, f"bin {8 * w}", data[pos + 1 + w:pos + 1 + w + n]
    if b in (0xCC, 0xCD, 0xCE, 0xCF):
        w = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[b]
        return 1 + w, 0, f"uint {8 * w}", int.from_bytes(data[pos + 1:pos + 1 + w], "big")
    if b == 0xC0:
        return 1, 0, "nil", None
    if b in (0xC2, 0xC3):
        return 1, 0, "bool", b == 0xC3
    raise ValueError(f"byte {b:02x} at {pos}: not in the ledger's msgpack subset")


def _row(raw: bytes, indent: int, desc: str, out: list[str]) -> None:
    """One annotated value: hex (wrapped at 16 bytes) and, on the first line, its meaning."""
    pad = "  " * indent
    chunks = [raw[i:i + 16] for i in range(0, len(raw), 16)] or [b""]
    first = pad + hexs(chunks[0])
    out.append(first.ljust(_COL) + "# " + desc if desc else first)
    for c in chunks[1:]:
        out.append(pad + "   " + hexs(c))


def annotate(data: bytes, names: list[Any], *, elide: dict[str, str] | None = None) -> list[str]:
    """Annotate one msgpack array. ``names`` names its elements in order; a nested array's name
    is a ``(name, [element names])`` tuple. ``elide`` maps a field name to a note shown instead
    of that field's payload bytes."""
    out: list[str] = []
    elide = elide or {}

    def walk(pos: int, names: list[Any], indent: int, label: str) -> int:
        hl, _, kind, count = _token(data, pos)
        assert kind in ("fixarray", "array 16"), kind
        _row(data[pos:pos + hl], indent, f"{label}{kind}: {count} elements", out)
        pos += hl
        for i in range(count):
            name = names[i] if i < len(names) else names[-1] if names else f"[{i}]"
            if isinstance(name, tuple):
                pos = walk(pos, name[1], indent + 1, f"{name[0]}: ")
                continue
            hl, pl, kind, value = _token(data, pos)
            raw = data[pos:pos + hl + pl]
            if kind.startswith("bin"):
                if name in elide:
                    _row(raw[:hl], indent + 1, f"{name}: {kind}, {pl} bytes: {elide[name]}", out)
                else:
                    _row(raw, indent + 1, f"{name}: {kind}, {pl} bytes", out)
            elif kind in ("fixstr", "str 8", "str 16"):
                _row(raw, indent + 1, f"{name}: {kind} {json.dumps(value)}", out)
            elif kind == "nil":
                _row(raw, indent + 1, f"{name}: nil", out)
            else:
                extra = f" ({iso(value)})" if isinstance(value, int) and value > 10**12 else ""
                _row(raw, indent + 1, f"{name}: {kind} {value}{extra}", out)
            pos += hl + pl
        return pos

    end = walk(0, names, 0, "")
    assert end == len(data), (end, len(data))
    return out


STATEMENT_NAMES: dict[str, list[Any]] = {
    REGISTER_ISSUER: ["kind", "issuer", "time", "name", "url", "public_key"],
    ISSUE: ["kind", "issuer", "time", "cred_id", "subject", "title", "expires", "document",
            ("parts", ["part"])],
}
ENTRY_NAMES = ["version", "index", "time", "prev_root", "state_root", "statement", "signer",
               "signature"]
RECORD_NAMES: dict[str, list[Any]] = {
    "cred": ["kind", "issuer", "cred_id", "state", "issued_index", "changed_index", "reason",
             "last_time"],
    "key": ["kind", "issuer", "key_id", "public_key", "active_from", "ended_at", "end", "reason"],
    "issuer": ["kind", "issuer", "name", "url", "registered_at", "retired_at", "reason"],
}


# ------------------------------------------------------------------------------ building


class Built:
    """Everything the hand-built path produces."""

    def __init__(self) -> None:
        self.log = Signer(ORIGIN, LOG_SEED)
        self.registry = Signer(ORIGIN + "/registry", REGISTRY_SEED)
        self.issuer = Signer(ISSUER_ID, ISSUER_SEED)
        self.nodes: dict[bytes, bytes] = {}
        self.records: dict[bytes, bytes] = {}  # value hash -> record
        self.status: dict[bytes, bytes] = {}  # map key -> value hash
        self.state_roots: list[bytes] = []
        self.entries: list[bytes] = []
        self.changes: list[list[Record]] = []
        self.maps: list[smt.SparseMap] = []


def build() -> tuple[Built, Any, Any]:
    b = Built()
    st0 = make_statement(REGISTER_ISSUER, ISSUER_ID, T_REGISTER, ISSUER_NAME, ISSUER_URL,
                         b.issuer.public_key)
    st1 = make_statement(ISSUE, ISSUER_ID, T_ISSUE, CRED_ID, subject_commitment(SALT, SUBJECT),
                         TITLE, EXPIRES, None, [])
    signed = [sign_statement(st0, REGISTRY_SEED), sign_statement(st1, ISSUER_SEED)]

    # As Ledger.append does it, one batch per statement (each is its own transaction).
    def load(k: bytes) -> Record | None:
        vh = b.status.get(k)
        return None if vh is None else decode_record(b.records[vh])

    cr = merkle.CompactRange()
    root = smt.EMPTY
    for index, (item, t) in enumerate(zip(signed, (T_ENTRY0, T_ENTRY1), strict=True)):
        st = item.verify()
        state = RecordState(load)
        smap = smt.SparseMap(b.nodes.get, root)
        changes = apply_rules(state, st, item.signer, index, b.registry.public_key)
        for rec in changes:
            data = rec.encode()
            vh = record_hash(data)
            smap.set(rec.key(), vh)
            state.changed[rec.key()] = rec
            b.records[vh] = data
            b.status[rec.key()] = vh
        entry = Entry(index, t, cr.root(), smap.root, item.statement, item.signer, item.signature)
        data = entry.encode()
        cr.append(merkle.leaf_hash(data))
        b.nodes.update(smap.new_nodes())
        root = smap.root
        b.entries.append(data)
        b.state_roots.append(root)
        b.changes.append(changes)
        b.maps.append(smap)
    cp = Checkpoint(ORIGIN, cr.size, cr.root())
    note = sign_checkpoint(cp, b.log)
    return b, signed, note


@contextmanager
def fixed_keys() -> Iterator[None]:
    """Make ``Signer.generate`` (used by ``Ledger.create``) return the fixed-seed keys."""
    seeds = {ORIGIN: LOG_SEED, ORIGIN + "/registry": REGISTRY_SEED}
    original = Signer.__dict__["generate"]
    Signer.generate = classmethod(lambda cls, name: cls(name, seeds[name]))  # type: ignore
    try:
        yield
    finally:
        Signer.generate = original  # type: ignore


def through_ledger(b: Built, signed: list[Any], note: str) -> dict[str, Any]:
    """Run the same story through the real Ledger on LMDB; check it agrees; return artefacts."""
    from ledger.bundle import build_bundle, dump_bundle
    from ledger.cli import _holder_document
    from ledger.log import Ledger
    from ledger.tlogproof import TlogProof, check_tlog_proof
    from ledger.verify import verify_bundle

    times = iter([T_ENTRY0, T_ENTRY1])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store"
        with fixed_keys():
            ledger, log_signer, registry = Ledger.create(path, ORIGIN, clock=lambda: next(times))
        with ledger:
            assert log_signer.seed == LOG_SEED and registry.seed == REGISTRY_SEED
            ledger.append([signed[0]])
            ledger.append([signed[1]])
            for i, data in enumerate(b.entries):
                assert ledger.entry_bytes(i) == data, f"entry {i} differs from the Ledger's"
            assert ledger.checkpoint() == note, "checkpoint differs from the Ledger's"
            doc = _holder_document(origin=ORIGIN, issuer_id=ISSUER_ID, cred_id=CRED_ID,
                                   subject=SUBJECT, salt=SALT, title=TITLE, expires=EXPIRES_DATE,
                                   parts=[], document=None)
            bundle = dump_bundle(build_bundle(ledger, [(ISSUER_ID, CRED_ID)], documents=[doc]))
            verdict = verify_bundle(bundle, log_key=b.log.verifier(), at=T_VERIFY)
            assert verdict.valid
            tlog = TlogProof(1, tuple(ledger.inclusion_proof(1, 2)), note,
                             ledger.entry_bytes(1)).format()
            check_tlog_proof(tlog, verifier=b.log.verifier())
            store = ledger.store.read(lambda t: {
                db: list(t.items(db)) for db in
                ("meta", "entries", "tree", "nodes", "records", "status", "creds", "checkpoints")
            })
    return {"doc": doc, "bundle": bundle, "verdict": verdict, "tlog": tlog, "store": store}


# ------------------------------------------------------------------------------ the section


def smt_tree(nodes: dict[bytes, bytes], root: bytes, names: dict[bytes, str]) -> list[str]:
    """ASCII view of the status map, from the stored node encodings."""
    lines: list[str] = []

    def walk(h: bytes, depth: int, path: str) -> None:
        pad = "  " * depth
        if h == smt.EMPTY:
            lines.append(f"{pad}{path or 'root'}: EMPTY")
            return
        enc = nodes[h]
        if enc[0] == 2:
            k = enc[1:33]
            lines.append(f"{pad}{path or 'root'}: leaf {h.hex()[:16]}... = H(02 || K || V), "
                         f"K = {k.hex()[:8]}... ({names[k]})")
            return
        lines.append(f"{pad}{path or 'root'}: branch {h.hex()[:16]}... = H(03 || left || right),"
                     f" depth {depth} splits on bit {depth}")
        walk(enc[1:33], depth + 1, f"bit {depth} = 0")
        walk(enc[33:], depth + 1, f"bit {depth} = 1")

    walk(root, 0, "")
    return lines


def bits(k: bytes, n: int = 8) -> str:
    return format(k[0], "08b")[:n]


def section() -> str:
    b, signed, note = build()
    art = through_ledger(b, signed, note)
    o = Out()
    reg_vkey = b.registry.verifier()
    iss_pub = b.issuer.public_key

    o("## 13. Worked example")
    o()
    o("Generated by `python docs/make_format_example.py` from the real code with fixed inputs;")
    o("do not edit by hand (`--write` regenerates this section, `--check` tells whether it is")
    o("stale). The script builds every byte by hand as `ledger/log.py` does, then runs the same")
    o("story through `Ledger.create`/`append`/`checkpoint` on a temporary LMDB store and")
    o("`build_bundle`/`verify_bundle`, and fails unless both agree. The seeds are public:")
    o("never use them for anything real.")
    o()
    o("| input | value |")
    o("| --- | --- |")
    o(f"| origin (log key name) | `{ORIGIN}` |")
    o("| log key seed | `SHA-256(\"log\")` |")
    o(f"| registry key seed (name `{ORIGIN}/registry`) | `bytes(range(32))` = `000102...1f` |")
    o(f"| issuer key seed (issuer `{ISSUER_ID}`) | `SHA-256(\"issuer\")` |")
    o(f"| subject, salt | `{SUBJECT}`, `SHA-256(\"salt\")` |")
    o(f"| register statement time, entry 0 time | {T_REGISTER} ({iso(T_REGISTER)}), "
      f"{T_ENTRY0} ({iso(T_ENTRY0)}) |")
    o(f"| issue statement time, entry 1 time | {T_ISSUE} ({iso(T_ISSUE)}), "
      f"{T_ENTRY1} ({iso(T_ENTRY1)}) |")
    o(f"| expiry | `{EXPIRES_DATE}`, stored as {EXPIRES} ({iso(EXPIRES)}) |")
    o(f"| verification time | {T_VERIFY} ({iso(T_VERIFY)}) |")
    o()

    # Keys.
    o("### 13.1 Keys")
    o()
    o("| key | Ed25519 public key (hex) | ledger key id | note key id |")
    o("| --- | --- | --- | --- |")
    for label, s in (("log", b.log), ("registry", b.registry), ("issuer `uni` (key name `uni`)", b.issuer)):
        o(f"| {label} | `{s.public_key.hex()}` | `{key_id(s.public_key)}` | `{s.key_id.hex()}` |")
    o()
    o("The ledger key id is hex of `SHA-256(public_key)[:8]` (§5.1); the note key id is")
    o("`SHA-256(name || 0a || 01 || public_key)[:4]` (§7.2), e.g. for the log key:")
    o()
    kid_in = ORIGIN.encode() + b"\n\x01" + b.log.public_key
    o.code(dump(kid_in) + [f"SHA-256 = {hashlib.sha256(kid_in).hexdigest()}",
                           f"key id  = {b.log.key_id.hex()}"])
    o("Key strings (§7.3):")
    o()
    o.code([f"log verifier key:      {b.log.verifier()}",
            f"registry verifier key: {reg_vkey}",
            f"log signer key file:   {b.log}"])

    # Register-issuer statement.
    st0 = signed[0]
    o("### 13.2 Entry 0: register-issuer")
    o()
    o(f"The statement, {len(st0.statement)} bytes:")
    o()
    o.code(annotate(st0.statement, STATEMENT_NAMES[REGISTER_ISSUER]))
    o(f"The signing message is `SIGN_CONTEXT` ({len(SIGN_CONTEXT)} bytes) followed by the "
      "statement:")
    o()
    msg = signing_message(st0.statement)
    o.code(dump(msg))
    o("Signed by the registry key (signer and signature as they appear in the entry):")
    o()
    o.code([f"signer    {st0.signer.hex()}",
            f"signature {st0.signature.hex()[:64]}",
            f"          {st0.signature.hex()[64:]}"])
    e0 = b.entries[0]
    o("Applying it creates two records (§5.3), the issuer record and the key record. The map")
    o("then holds 2 keys; its root is this entry's `state_root`:")
    o(f"`{b.state_roots[0].hex()}`. `prev_root` is the root of the empty tree,")
    o(f"`SHA-256(\"\")` = `{merkle.EMPTY_ROOT.hex()}`.")
    o()
    o(f"The entry, {len(e0)} bytes:")
    o()
    o.code(annotate(e0, ENTRY_NAMES, elide={"statement": "the statement bytes above"}))
    o("In full:")
    o()
    o.code(dump(e0))
    lh0 = merkle.leaf_hash(e0)
    o(f"Leaf hash `SHA-256(00 || entry)` = `{lh0.hex()}`.")
    o("After entry 0 the tree has size 1 and its root is that leaf hash.")
    o()

    # Issue statement.
    st1 = signed[1]
    o("### 13.3 Entry 1: issue")
    o()
    commit = subject_commitment(SALT, SUBJECT)
    o("The subject commitment is `SHA-256(salt || UTF-8 subject)`:")
    o()
    o.code([f"salt       {SALT.hex()}",
            f"subject    {SUBJECT.encode().hex()}  ({json.dumps(SUBJECT)})",
            f"commitment {commit.hex()}"])
    o(f"The statement, {len(st1.statement)} bytes (no document digest, no parts):")
    o()
    o.code(annotate(st1.statement, STATEMENT_NAMES[ISSUE]))
    o("Signed by the issuer key over `SIGN_CONTEXT || statement`:")
    o()
    o.code([f"signer    {st1.signer.hex()}",
            f"signature {st1.signature.hex()[:64]}",
            f"          {st1.signature.hex()[64:]}"])
    e1 = b.entries[1]
    o(f"The entry, {len(e1)} bytes; its `prev_root` is the tree root after entry 0 (the leaf hash")
    o("of entry 0), its `state_root` the map root after the credential record is added:")
    o()
    o.code(annotate(e1, ENTRY_NAMES, elide={"statement": "the statement bytes above"}))
    o.code(dump(e1))
    lh1 = merkle.leaf_hash(e1)
    root2 = merkle.node_hash(lh0, lh1)
    o(f"Leaf hash = `{lh1.hex()}`.")
    o()
    o("Tree root after 2 entries = `SHA-256(01 || leaf hash 0 || leaf hash 1)` =")
    o(f"`{root2.hex()}` (base64 `{b64(root2)}`).")
    o()

    # Status map.
    o("### 13.4 Status map after entry 1")
    o()
    names: dict[bytes, str] = {}
    o("Map keys (§5.1):")
    o()
    rows = []
    for label, (kind, issuer, ident) in (
        ("issuer uni", ("issuer", ISSUER_ID, "")),
        (f"key uni/{key_id(iss_pub)}", ("key", ISSUER_ID, key_id(iss_pub))),
        ("cred uni/c-1", ("cred", ISSUER_ID, CRED_ID)),
    ):
        k = map_key(kind, issuer, ident)
        names[k] = label
        rows.append(f"{label}")
        rows.append(f"  msgpack [kind, issuer, id] = {pack([kind, issuer, ident]).hex()}")
        rows.append(f"  K = {k.hex()}  (first bits {bits(k)})")
    o.code(rows)
    o("Records and value hashes. The credential record written by entry 1:")
    o()
    cred_key = map_key("cred", ISSUER_ID, CRED_ID)
    cred_rec = b.records[b.status[cred_key]]
    o.code(annotate(cred_rec, RECORD_NAMES["cred"]) +
           [f"V = SHA-256(record) = {record_hash(cred_rec).hex()}"])
    o("The key and issuer records written by entry 0:")
    o()
    for kind, ident in (("key", key_id(iss_pub)), ("issuer", "")):
        rec = b.records[b.status[map_key(kind, ISSUER_ID, ident)]]
        o.code(annotate(rec, RECORD_NAMES[kind]) + [f"V = {record_hash(rec).hex()}"])
    root = b.state_roots[1]
    o("The compact tree (hashes abbreviated; `H` is SHA-256):")
    o()
    o.code(smt_tree(b.nodes, root, names))
    o(f"`state_root` after entry 1 = `{root.hex()}`.")
    o()
    o("Stored node encodings reachable from that root (65 bytes each, `nodes` database):")
    o()
    enc_lines = []

    def list_nodes(h: bytes) -> None:
        if h == smt.EMPTY:
            return
        enc = b.nodes[h]
        enc_lines.append(f"{h.hex()}:")
        enc_lines.append(f"  {enc[:1].hex()} {enc[1:33].hex()}")
        enc_lines.append(f"     {enc[33:].hex()}")
        if enc[0] == 3:
            list_nodes(enc[1:33])
            list_nodes(enc[33:])

    list_nodes(root)
    o.code(enc_lines)
    proof = b.maps[1].prove(cred_key)
    o("The membership proof for the credential's key (as it appears in the bundle, §9.1), and the")
    o("proof that `uni/c-2` was never issued:")
    o()
    absent = map_key("cred", ISSUER_ID, "c-2")
    aproof = b.maps[1].prove(absent)
    plines = [f"key        {proof.key.hex()}",
              f"leaf_key   {proof.leaf_key.hex() if proof.leaf_key else None}",
              f"leaf_value {proof.leaf_value.hex() if proof.leaf_value else None}",
              f"siblings   ({len(proof.siblings)}, root downwards)"]
    plines += [f"  {s.hex()}" for s in proof.siblings]
    plines += ["", f"key        {aproof.key.hex()}  (cred uni/c-2, first bits {bits(absent)})",
               f"leaf_key   {aproof.leaf_key.hex() if aproof.leaf_key else None}",
               f"leaf_value {aproof.leaf_value.hex() if aproof.leaf_value else None}",
               f"siblings   ({len(aproof.siblings)}, root downwards)"]
    plines += [f"  {s.hex()}" for s in aproof.siblings]
    assert smt.verify_proof(root, proof) == b.status[cred_key]
    assert smt.verify_proof(root, aproof) is None
    o.code(plines)
    if aproof.leaf_key is None:
        o("The absence proof ends at an EMPTY terminal: `verify_proof` returns nothing for the key.")
    else:
        o("The absence proof ends at another key's leaf on the path: `verify_proof` returns "
          "nothing for the key.")
    o()

    # Checkpoint.
    o("### 13.5 Checkpoint of size 2")
    o()
    body = Checkpoint(ORIGIN, 2, root2).body()
    o("Body (the signed message, UTF-8):")
    o()
    o.code(dump(body.encode()))
    o("The signed note as the ledger stores and prints it:")
    o()
    o.code(note.rstrip("\n"), "text")
    sig_b64 = note.rstrip("\n").rsplit(" ", 1)[1]
    raw = base64.b64decode(sig_b64)
    o(f"The signature line's base64 decodes to {len(raw)} bytes: key id `{raw[:4].hex()}`, then")
    o(f"the Ed25519 signature `{raw[4:].hex()}`.")
    o()

    # tlog-proof.
    o("### 13.6 tlog-proof of entry 1")
    o()
    o("`credledger prove uni c-1 --format tlog-proof` against this checkpoint writes:")
    o()
    o.code(art["tlog"].rstrip("\n"), "text")

    # Holder document, batch line, bundle, verdict.
    o("### 13.7 Holder document, batch line, bundle and verdict")
    o()
    o("The holder document `credledger issue` writes for this credential "
      "(`credentials/uni/c-1.json`):")
    o()
    o.code(json.dumps(art["doc"], indent=2), "json")
    o("The batch line that issues the same credential:")
    o()
    o.code(json.dumps({"id": CRED_ID, "subject": SUBJECT, "title": TITLE,
                       "expires": EXPIRES_DATE}), "json")
    o("The proof bundle `credledger prove uni c-1 --document credentials/uni/c-1.json` writes:")
    o()
    o.code(art["bundle"].rstrip("\n"), "json")
    o(f"`verify_bundle(bundle, log_key=<log verifier key>, at={T_VERIFY})` "
      "(`credledger verify --json`) answers:")
    o()
    o.code(json.dumps(art["verdict"].as_dict(), indent=2), "json")

    # Store.
    o("### 13.8 The LMDB store after the checkpoint")
    o()
    o("Every key and value of every named database (hex unless noted; long values abbreviated")
    o("to their length and first bytes):")
    o()
    slines = []
    for db, items in art["store"].items():
        slines.append(f"{db}:")
        for k, v in items:
            if db == "meta":
                ktxt = k.decode()
                if k in (b"origin", b"format", b"log_vkey"):
                    vtxt = json.dumps(v.decode())
                elif k == b"head":
                    vtxt = f"{v.hex()[:24]}... ({len(v)} bytes: msgpack [size, root, state_root, last_time])"
                else:
                    vtxt = v.hex()
            else:
                ktxt = k.hex()
                if db == "checkpoints":
                    vtxt = f"signed note, {len(v)} bytes (§13.5)"
                elif len(v) > 32:
                    vtxt = f"{len(v)} bytes {v[:8].hex()}..."
                else:
                    vtxt = v.hex() if v else "(empty)"
            slines.append(f"  {ktxt}")
            slines.append(f"    = {vtxt}")
    o.code(slines)
    o("`tree` keys are level (1 byte) || index (u64): (0, 0) and (0, 1) hold the two leaf hashes,")
    o("(1, 0) the perfect subtree over both, here the root. The `creds` key is msgpack")
    o(f"`[\"{ISSUER_ID}\", \"{CRED_ID}\"]` then u64 1, the issuance's index. `nodes` still holds "
      f"`{b.state_roots[0].hex()[:16]}...`,")
    o("the map root after entry 0: old map versions stay provable.")
    o()
    head = art["store"]["meta"]
    hv = dict(head)[b"head"]
    o("The head record:")
    o()
    o.code(annotate(hv, ["size", "root", "state_root", "last_time"]))
    return o.text()


# ------------------------------------------------------------------------------ main


def _replace(doc: str, text: str) -> str:
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC}: the generated-example markers are missing")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{text}{END}{tail}"


def main(argv: list[str]) -> int:
    text = section()
    if not argv:
        sys.stdout.write(text)
        return 0
    if argv == ["--write"]:
        DOC.write_text(_replace(DOC.read_text(encoding="utf-8"), text), encoding="utf-8")
        print(f"wrote the example section of {DOC}", file=sys.stderr)
        return 0
    if argv == ["--check"]:
        current = DOC.read_text(encoding="utf-8")
        if _replace(current, text) != current:
            print(f"{DOC}: the example section is stale; run "
                  "python docs/make_format_example.py --write", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
