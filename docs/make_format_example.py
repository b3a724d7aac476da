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

The story then goes on through the real code only, each result checked against bytes computed
by hand: ``export_tiles`` publishes the log as C2SP tlog-tiles, a witness (``Witness.create``,
whose ``WitnessKey.generate`` is likewise handed a fixed seed) cosigns checkpoints at fixed
times, three more entries are appended, and the tiles are exported again and audited.

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
    REVOKE,
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
from ledger.note import Checkpoint, Signer, parse_note, sign_checkpoint
from ledger.witness import ALG_COSIGNATURE, WitnessKey, cosigned_message

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

# The continuation (tiles and witness, §15.9 and §15.10).
WITNESS_NAME = "witness.example"
WITNESS_SEED = hashlib.sha256(b"witness").digest()
MORE_CREDS = (("c-2", "Charles Babbage", hashlib.sha256(b"salt2").digest()),
              ("c-3", "Grace Hopper", hashlib.sha256(b"salt3").digest()))
REVOKE_REASON = "issued in error"
T_COSIGN1 = 1_767_225_900_750  # 2026-01-01T00:05:00.750Z: the witness cosigns size 2
T_ISSUE2 = 1_767_226_200_000  # 2026-01-01T00:10:00.000Z: c-2 and c-3, one batch
T_ENTRY2 = 1_767_226_200_250  # entries 2 and 3 share one sequencing time
T_REVOKE = 1_767_226_800_000  # 2026-01-01T00:20:00.000Z: c-2 is revoked
T_ENTRY4 = 1_767_226_800_250
T_COSIGN2 = 1_767_227_400_750  # 2026-01-01T00:30:00.750Z: the witness cosigns size 5
MAX_AGE_OK = 36 * 3_600_000  # verify --max-age 36h
MAX_AGE_STALE = 12 * 3_600_000  # verify --max-age 12h

DOC = Path(__file__).resolve().parent / "FORMAT.md"
BEGIN = "<!-- BEGIN GENERATED EXAMPLE (python docs/make_format_example.py --write) -->"
END = "<!-- END GENERATED EXAMPLE -->"


def expires_ms(date: str) -> int:
    """``YYYY-MM-DD`` -> UTC ms of the following midnight, exactly as ``credledger issue``."""
    from ledger.batchfile import parse_date as _parse_date

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
        smap = smt.MapWriter(b.nodes.get, root)
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
        b.maps.append(smt.SparseMap(b.nodes.get, root))
        b.entries.append(data)
        b.state_roots.append(root)
        b.changes.append(changes)
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


@contextmanager
def fixed_witness_key() -> Iterator[None]:
    """Make ``WitnessKey.generate`` (used by ``Witness.create``) return the fixed-seed key."""
    original = WitnessKey.__dict__["generate"]
    WitnessKey.generate = classmethod(lambda cls, name: cls(name, WITNESS_SEED))  # type: ignore
    try:
        yield
    finally:
        WitnessKey.generate = original  # type: ignore


def more_statements(b: Built) -> list[Any]:
    """Entries 2-4: issue c-2 and c-3 (one batch), then revoke c-2; all signed by ``uni``."""
    out = []
    for cred_id, subject, salt in MORE_CREDS:
        st = make_statement(ISSUE, ISSUER_ID, T_ISSUE2, cred_id, subject_commitment(salt, subject),
                            TITLE, EXPIRES, None, [])
        out.append(sign_statement(st, ISSUER_SEED))
    st = make_statement(REVOKE, ISSUER_ID, T_REVOKE, MORE_CREDS[0][0], REVOKE_REASON)
    out.append(sign_statement(st, ISSUER_SEED))
    return out


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative POSIX path -> bytes), sorted; no temporary files."""
    files = {p.relative_to(root).as_posix(): p.read_bytes()
             for p in sorted(root.rglob("*")) if p.is_file()}
    assert not [f for f in files if f.rsplit("/", 1)[-1].startswith(".")], files
    return files


def continue_story(ledger: Any, b: Built, note: str, tmp: Path) -> dict[str, Any]:
    """Export tiles at size 2, run a witness, append entries 2-4, cosign and export size 5."""
    from ledger.bundle import build_bundle, dump_bundle
    from ledger.errors import SignatureError
    from ledger.tileaudit import audit_tiles
    from ledger.tiles import export_tiles
    from ledger.verify import verify_bundle
    from ledger.witness import Witness, WitnessRefused, parse_cosigner

    art: dict[str, Any] = {}
    log_key = b.log.verifier()
    tiles = tmp / "tiles"
    # Export 1: the checkpoint of size 2.
    rep = export_tiles(ledger, tiles)
    art["export1"] = (rep, tree_files(tiles))
    # The witness: created with the fixed key, cosigns size 2 (its first, so no proof).
    wdir = tmp / "witness"
    with fixed_witness_key():
        w = Witness.create(wdir, WITNESS_NAME)
    art["witness_key_file"] = (wdir / "witness.key").read_bytes()
    art["state0"] = (wdir / "state.json").read_text()
    cos2 = w.cosign(note, log_key, [], now_ms=T_COSIGN1)
    art["cosigned2"] = ledger.add_cosignatures(cos2, [w.key.verifier()])
    assert art["cosigned2"] == cos2, "merging into a note with only the log line appends"
    art["state1"] = (wdir / "state.json").read_text()
    # Entries 2-4, the checkpoint of size 5, the consistency proof 2 -> 5, the cosignature.
    more = more_statements(b)
    ledger.append(more[:2])
    ledger.append(more[2:])
    note5 = ledger.checkpoint()
    proof = ledger.consistency_proof(2, 5)
    cos5 = w.cosign(note5, log_key, proof, now_ms=T_COSIGN2)
    stored5 = ledger.add_cosignatures(cos5, [w.key.verifier()])
    assert stored5 == cos5 == ledger.checkpoint_note(5)
    art.update(note5=note5, proof25=proof, cosigned5=cos5,
               state2=(wdir / "state.json").read_text())
    try:
        w.cosign(note, log_key, [], now_ms=T_COSIGN2)
        raise AssertionError("the witness cosigned an older checkpoint")
    except WitnessRefused as exc:
        art["refused"] = str(exc)
    # Export 2 (size 5), then export 3 (nothing new).
    rep = export_tiles(ledger, tiles)
    art["export2"] = (rep, tree_files(tiles))
    rep = export_tiles(ledger, tiles)
    art["export3"] = (rep, tree_files(tiles))
    assert art["export3"][1] == art["export2"][1]
    art["entries"] = [ledger.entry_bytes(i) for i in range(5)]
    art["audit"] = audit_tiles(tiles, log_key)
    assert art["audit"].size == 5 and art["audit"].root == ledger.root_at(5)
    # A verifier who trusts the witness.
    wv = parse_cosigner(str(w.key.verifier()))
    bundle = dump_bundle(build_bundle(ledger, [(ISSUER_ID, CRED_ID)]))
    art["verdict5"] = verify_bundle(bundle, log_key=log_key, at=T_VERIFY, witnesses=(wv,),
                                    min_witnesses=1, max_age_ms=MAX_AGE_OK)
    try:
        verify_bundle(bundle, log_key=log_key, at=T_VERIFY, witnesses=(wv,), min_witnesses=1,
                      max_age_ms=MAX_AGE_STALE)
        raise AssertionError("a stale cosignature passed --max-age")
    except SignatureError as exc:
        art["stale"] = str(exc)
    return art


def through_ledger(b: Built, signed: list[Any], note: str) -> dict[str, Any]:
    """Run the same story through the real Ledger on LMDB; check it agrees; return artefacts."""
    from ledger.bundle import build_bundle, dump_bundle
    from ledger.holder import holder_document as _holder_document
    from ledger.log import Ledger
    from ledger.tlogproof import TlogProof, check_tlog_proof
    from ledger.verify import verify_bundle

    times = iter([T_ENTRY0, T_ENTRY1, T_ENTRY2, T_ENTRY4])
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
                ("meta", "entries", "tree", "mapnodes", "maproots", "records", "status", "creds",
                 "checkpoints")
            })
            more = continue_story(ledger, b, note, Path(tmp))
    return {"doc": doc, "bundle": bundle, "verdict": verdict, "tlog": tlog, "store": store,
            **more}


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

    o("## 15. Worked example")
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
    o("### 15.1 Keys")
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
    o("### 15.2 Entry 0: register-issuer")
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
    o("### 15.3 Entry 1: issue")
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
    o("### 15.4 Status map after entry 1")
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
    o("The encodings of the nodes reachable from that root (65 bytes each; §15.8 shows where the")
    o("store keeps them):")
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
    o("### 15.5 Checkpoint of size 2")
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
    o("### 15.6 tlog-proof of entry 1")
    o()
    o("`credledger prove uni c-1 --format tlog-proof` against this checkpoint writes:")
    o()
    o.code(art["tlog"].rstrip("\n"), "text")

    # Holder document, batch line, bundle, verdict.
    o("### 15.7 Holder document, batch line, bundle and verdict")
    o()
    o("The holder document `credledger issue` writes for this credential "
      "(`credentials/uni/c-1.json`):")
    o()
    o.code(json.dumps(art["doc"], indent=2), "json")
    o("While `issue` runs, the same document is the one line of the pending salts file")
    o("`credentials/uni/.pending-c-1.jsonl` (§10.1):")
    o()
    o.code(json.dumps(art["doc"]), "json")
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
    o("### 15.8 The LMDB store after the checkpoint")
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
                    vtxt = f"signed note, {len(v)} bytes (§15.5)"
                elif len(v) > 32:
                    vtxt = f"{len(v)} bytes {v[:8].hex()}..."
                else:
                    vtxt = v.hex() if v else "(empty)"
            slines.append(f"  {ktxt}")
            slines.append(f"    = {vtxt}")
    o.code(slines)
    o("`tree` keys are level (1 byte) || index (u64): (0, 0) and (0, 1) hold the two leaf hashes,")
    o("(1, 0) the perfect subtree over both, here the root. The `creds` key is msgpack")
    o(f"`[\"{ISSUER_ID}\", \"{CRED_ID}\"]` then u64 1, the issuance's index. `mapnodes` keys are the")
    o("batch (u64: its first entry's index) then the node's place among the batch's new nodes")
    o("(u32), children first; a leaf's value is its 65-byte encoding, a branch's is its encoding")
    o("then its left and right children's locations (12 bytes each; for an EMPTY side, 12 zero")
    o("bytes that are never read: a side is EMPTY by its hash, and (0, 0) is a real location).")
    per_batch: dict[int, int] = {}
    for loc, _ in art["store"]["mapnodes"]:
        batch = int.from_bytes(loc[:8], "big")
        per_batch[batch] = per_batch.get(batch, 0) + 1
    o(f"The first batch wrote {per_batch[0]} nodes, the second {per_batch[1]}: its new leaf and the")
    o("branches above it, pointing back at the first batch's nodes it did not change.")
    roots = dict(art["store"]["maproots"])
    nodes = dict(art["store"]["mapnodes"])
    top = nodes[roots[b.state_roots[1]]]
    o()
    o(f"The second batch's root, at {_location(roots[b.state_roots[1]])}:")
    o()
    o.code([f"{top[:1].hex()}  branch", f"{top[1:33].hex()}  left hash",
            f"{top[33:65].hex()}  right hash",
            f"{top[65:77].hex()}  left location {_location(top[65:77])}",
            f"{top[77:].hex()}  right location {_location(top[77:])}"])
    o(f"`maproots` keeps both batches' map roots: `{b.state_roots[0].hex()[:16]}...` (after entry 0)")
    o(f"at {_location(roots[b.state_roots[0]])} and `{b.state_roots[1].hex()[:16]}...` at "
      f"{_location(roots[b.state_roots[1]])}: old map versions stay provable.")
    o()
    head = art["store"]["meta"]
    hv = dict(head)[b"head"]
    o("The head record:")
    o()
    o.code(annotate(hv, ["size", "root", "state_root", "last_time"]))
    tiles_example(o, b, art)
    witness_example(o, b, art)
    return o.text()


def _location(loc: bytes) -> str:
    return f"({int.from_bytes(loc[:8], 'big')}, {int.from_bytes(loc[8:], 'big')})"


def _summary(paths: list[str]) -> list[str]:
    """Tile paths, with each level's run of full tiles shortened when long."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) > 4:
            out.extend([run[0], f"... ({len(run) - 2} more full tiles)", run[-1]])
        else:
            out.extend(run)
        run.clear()

    for path in paths:
        if ".p/" in path:
            flush()
            out.append(path)
        elif run and path.split("/")[1] != run[-1].split("/")[1]:
            flush()
            run.append(path)
        else:
            run.append(path)
    flush()
    return out


def tiles_example(o: Out, b: Built, art: dict[str, Any]) -> None:
    from ledger.tiles import bundle_path, parse_bundle, parse_tile, tile_path, tiles_of

    entries: list[bytes] = art["entries"]
    assert entries[:2] == b.entries
    more = more_statements(b)
    o("### 15.9 Tiles: two exports, three more entries")
    o()
    o("`credledger export tiles DIR` right after the checkpoint of size 2 (§15.5) writes three")
    o("files, in this order (the checkpoint last, §13.5):")
    o()
    rep1, files1 = art["export1"]
    o.code([f"{rel:<24}{len(files1[rel]):>5} bytes" for rel in rep1.written])
    o(f"Then a witness cosigns that checkpoint (§15.10) and three more statements of issuer "
      f"`{ISSUER_ID}`")
    o("are appended, the first two as one batch (one transaction, one sequencing time):")
    o()
    o("| index | statement | statement time | entry time | entry bytes |")
    o("| --- | --- | --- | --- | --- |")
    rows = [(f"issue `{MORE_CREDS[0][0]}` (subject {MORE_CREDS[0][1]}, salt `SHA-256(\"salt2\")`)",
             T_ISSUE2, T_ENTRY2),
            (f"issue `{MORE_CREDS[1][0]}` (subject {MORE_CREDS[1][1]}, salt `SHA-256(\"salt3\")`)",
             T_ISSUE2, T_ENTRY2),
            (f"revoke `{MORE_CREDS[0][0]}`, reason \"{REVOKE_REASON}\"", T_REVOKE, T_ENTRY4)]
    for i, ((what, ts, te), item) in enumerate(zip(rows, more, strict=True), start=2):
        st = item.verify()
        assert st.time == ts
        e = entries[i]
        assert merkle.leaf_hash(e) and len(e) < 0xFFFF
        o(f"| {i} | {what} | {iso(ts)} | {iso(te)} | {len(e)} |")
    o()
    o("After `credledger checkpoint` (size 5) and its cosignature, the second export writes:")
    o()
    rep2, files2 = art["export2"]
    o.code([f"{rel:<24}{len(files2[rel]):>5} bytes" for rel in rep2.written])
    rep3, files3 = art["export3"]
    o("It leaves the partial tiles of size 2 in place, as tlog-tiles allows. A third export, with")
    o(f"no new checkpoint, writes nothing ({rep3.files_skipped} files skipped: the bundle and tile")
    o("wholly inside the published tree exist, and the checkpoint file is identical). DIR now holds:")
    o()
    o.code([f"{rel:<24}{len(data):>5} bytes" for rel, data in files3.items()])
    assert list(rep3.written) == [] and rep2.files_written == 3

    # Path encoding, from the real functions.
    o("Paths from `tile_path`/`bundle_path` (§13.2), and the tiles `tiles_of` lists for a few")
    o("tree sizes:")
    o()
    examples = [("level 0, N 0, full", tile_path(0, 0)),
                ("level 0, N 0, width 5", tile_path(0, 0, 5)),
                ("entries, N 0, width 2", bundle_path(0, 2)),
                ("level 1, N 999, full", tile_path(1, 999)),
                ("level 1, N 1000, full", tile_path(1, 1000)),
                ("level 2, N 1234067, width 17", tile_path(2, 1234067, 17)),
                ("entries, N 1234067, full", bundle_path(1234067))]
    assert examples[5][1] == "tile/2/x001/x234/067.p/17"
    lines = [f"{label:<30}{path}" for label, path in examples]
    for size in (5, 256, 600, 70_000):
        paths = [tile_path(lv, n, w) for lv, n, w in tiles_of(size)]
        lines += ["", f"size {size}: {len(paths)} hash tiles (and as many level-0 entry bundles)"]
        lines += [f"  {path}" for path in _summary(paths)]
    o.code(lines)

    # The level-0 tile.
    tile = files3["tile/0/000.p/5"]
    hashes = parse_tile(tile, 5)
    assert hashes == [merkle.leaf_hash(e) for e in entries]
    assert merkle.root_of(hashes) == art["audit"].root
    assert files3["tile/0/000.p/2"] == tile[:64]
    o(f"`tile/0/000.p/5`, {len(tile)} bytes: five 32-byte hashes, hash `i` the leaf hash")
    o("`H(00 || entry i)` of entry `i` (no header, no count, no separator):")
    o()
    o.code([f"{32 * i:04x}  {h.hex()}  # entry {i}" for i, h in enumerate(hashes)])
    o("The RFC 9162 root over these five hashes is the checkpoint's root,")
    o(f"`{art['audit'].root.hex()}`; `tile/0/000.p/2` is its first 64 bytes.")
    o()

    # The entry bundle of size 2.
    bundle2 = files3["tile/entries/000.p/2"]
    assert bundle2 == b"".join(len(e).to_bytes(2, "big") + e for e in b.entries)
    assert parse_bundle(bundle2, 2) == b.entries
    o(f"`tile/entries/000.p/2`, {len(bundle2)} bytes: each entry as a big-endian uint16 length,")
    o("then the exact entry bytes (§4):")
    o()
    lines = []
    pos = 0
    for i, e in enumerate(b.entries):
        lines.append(f"{pos:04x}  {hexs(bundle2[pos:pos + 2]):<24}# length of entry {i}: "
                     f"{len(e)} bytes")
        pos += 2
        lines.append(f"{pos:04x}  {hexs(bundle2[pos:pos + 4]) + ' ...':<24}# entry {i}, the "
                     f"{len(e)} bytes of §15.{i + 2}")
        pos += len(e)
    lines.append(f"{pos:04x}  (end)")
    o.code(lines)
    o("In full:")
    o()
    o.code(dump(bundle2))
    bundle5 = files3["tile/entries/000.p/5"]
    assert parse_bundle(bundle5, 5) == entries
    o(f"`tile/entries/000.p/5` ({len(bundle5)} bytes) starts with the same {len(bundle2)} bytes "
      "and goes on the same way:")
    o()
    lines = []
    pos = 0
    for i, e in enumerate(entries):
        lines.append(f"{pos:04x}  {hexs(bundle5[pos:pos + 2])}  length {len(e)}, entry {i} at "
                     f"{pos + 2:04x}..{pos + 2 + len(e):04x}")
        pos += 2 + len(e)
    o.code(lines)
    rep = art["audit"]
    o("`credledger audit --tiles DIR --log-key <log verifier key>` replays the five entries from")
    o(f"the bundles and checks the tile against them: {rep.size} entries, {rep.issuers} issuer, "
      f"{rep.credentials} credentials,")
    o(f"{rep.revocations} revocation, root `{rep.root.hex()[:16]}...`.")
    o()


def witness_example(o: Out, b: Built, art: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.witness import cosigner_key_id

    key = WitnessKey(WITNESS_NAME, WITNESS_SEED)
    pub = key.public_key
    kid = cosigner_key_id(WITNESS_NAME, pub)
    o("### 15.10 Witness cosignatures")
    o()
    o(f"The witness `{WITNESS_NAME}` has the seed `SHA-256(\"witness\")` "
      "(`credledger witness init DIR")
    o(f"--name {WITNESS_NAME}` draws a random one). Its public key is")
    o(f"`{pub.hex()}`;")
    o("its key id (§14.1) is the first 4 bytes of `SHA-256(name || 0a || 04 || public_key)`:")
    o()
    kid_in = WITNESS_NAME.encode() + b"\n" + bytes([ALG_COSIGNATURE]) + pub
    assert hashlib.sha256(kid_in).digest()[:4] == kid
    o.code(dump(kid_in) + [f"SHA-256 = {hashlib.sha256(kid_in).hexdigest()}",
                           f"key id  = {kid.hex()}"])
    vkey = str(key.verifier())
    assert art["witness_key_file"] == (str(key) + "\n").encode()
    o("Its cosigner key (what verifiers pass to `--witness`) and its key file `DIR/witness.key`")
    o("(mode 0600, the string and a newline):")
    o()
    o.code([f"cosigner key:  {vkey}", f"witness.key:   {key}"])
    o(f"`DIR/state.json` starts as `{art['state0']}`. The witness cosigns the checkpoint of size 2")
    o(f"(§15.5) at {T_COSIGN1} ms ({iso(T_COSIGN1)}), its first for this origin, so with no")
    o("consistency proof; the timestamp is in whole seconds. "
      "`credledger checkpoint --add-cosignatures`")
    o("then stores the note below with the checkpoint of size 2:")
    o()
    o.code(art["cosigned2"].rstrip("\n"), "text")
    o("`credledger consistency 2 5` prints the RFC 9162 proof from size 2 to size 5 that the")
    o("witness then needs (`--proof`):")
    o()
    proof = art["proof25"]
    o.code([b64(h) for h in proof], "text")
    o(f"At {T_COSIGN2} ms it cosigns the checkpoint of size 5. The signed message, "
      "`cosignature/v1\\n`,")
    ts = T_COSIGN2 // 1000
    note5 = parse_note(art["note5"])
    msg = cosigned_message(note5.text, ts)
    o(f"`time {ts}\\n`, then the checkpoint body ({len(msg)} bytes):")
    o()
    o.code(dump(msg))
    o("The cosigned note, as `credledger witness cosign` writes it, "
      "`--add-cosignatures` stores it")
    o("and `export tiles` publishes it as DIR/`checkpoint`:")
    o()
    cosigned = art["cosigned5"]
    assert art["export3"][1]["checkpoint"] == cosigned.encode()
    o.code(cosigned.rstrip("\n"), "text")
    sig = parse_note(cosigned).signatures[-1]
    raw = base64.b64decode(cosigned.rstrip("\n").rsplit(" ", 1)[1])
    want = Ed25519PrivateKey.from_private_bytes(WITNESS_SEED).sign(msg)
    assert raw == kid + ts.to_bytes(8, "big") + want and sig.key_id == kid
    o("The last line is the em dash `e2 80 94`, a space, the witness name, a space and base64 of")
    o(f"{len(raw)} bytes:")
    o()
    o.code([f"00  {hexs(raw[:4]):<24}  key id {kid.hex()}",
            f"04  {hexs(raw[4:12]):<24}  timestamp, u64 big-endian: {ts} s = {iso(ts * 1000)}",
            f"0c  {hexs(raw[12:28])}  Ed25519 signature (64 bytes)",
            *[f"    {hexs(raw[i:i + 16])}" for i in range(28, 76, 16)]])
    o("`DIR/state.json` afterwards:")
    o()
    o.code(art["state2"].rstrip("\n"), "json")
    o("Asked again to cosign the checkpoint of size 2, the witness refuses (exit 1):")
    o(f"`{art['refused']}`.")
    o()
    v = art["verdict5"]
    o(f"`credledger verify` of a bundle for `{CRED_ID}` against the checkpoint of size 5, with")
    o(f"`--witness {vkey[:24]}... --max-age 36h` at {iso(T_VERIFY)}, answers")
    o(f"`{v.credentials[0].answer}`, trusted by")
    o(f"`{v.trusted_by}`.")
    o(f"With `--max-age 12h` the same bundle is INVALID: `{art['stale']}`.")


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
