#!/usr/bin/env python3
"""Generate the worked example of docs/FORMAT.md from the real code, with fixed inputs.

Every key is derived from a fixed seed, every time is fixed, and so is every random draw of an
issuance (the credential's UUID, the salt of the holder's identifier, the status index); Ed25519
signatures are deterministic (RFC 8032) and so is RDFC-1.0, so the output is the same on every
run and machine.

The script builds the example twice and insists that both agree byte for byte:

1. by hand, the way ``ledger/log.py`` appends: ``ledger.openbadges`` builds and signs the Open
   Badges credential (with the names ``ledger.anchoring`` gives), ``ledger.events`` makes the
   statements, records and entries, ``ledger.rules.apply_rules`` applies the rules,
   ``ledger.smt`` keeps the status map and ``ledger.merkle`` the log (this is the path
   annotated in the document);
2. through the public API on a temporary LMDB store with an injected clock: ``Ledger.create``
   (only it draws random keys, through ``Signer.generate``; the script hands it the fixed
   seeds instead) and ``ledger.issuance.issue``, whose random draws are handed the fixed
   values, as ``credledger issue`` runs it.

The story then goes on through the real code only, each result checked against bytes computed
by hand: ``export_tiles`` publishes the log as C2SP tlog-tiles, a witness (``Witness.create``,
whose ``WitnessKey.generate`` is likewise handed a fixed seed) cosigns checkpoints at fixed
times, three more entries are appended (two credentials in one batch, then the revocation of
one of them with a reason code), and the tiles are exported again and audited.

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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger import anchoring, merkle, openbadges, smt
from ledger.events import (
    ISSUE,
    LIST_BITS,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REVOKE,
    SIGN_CONTEXT,
    Entry,
    key_id,
    make_statement,
    pack,
    sign_statement,
    signing_message,
)
from ledger.note import Checkpoint, Signer, parse_note, sign_checkpoint
from ledger.records import Record, decode_record, map_key, record_hash, slot_ident
from ledger.rules import RecordState, apply_rules
from ledger.witness import ALG_COSIGNATURE, WitnessKey, cosigned_message

# ------------------------------------------------------------------------------ fixed inputs

ORIGIN = "example.org/credentials"
LOG_SEED = hashlib.sha256(b"log").digest()
REGISTRY_SEED = bytes(range(32))
ISSUER_SEED = hashlib.sha256(b"issuer").digest()

ISSUER_ID = "uni"
ISSUER_NAME = "Example University"
ISSUER_URL = "https://uni.example"
ACH_ID = "py101"
ACH_NAME = "Python 101"
ACH_DESCRIPTION = "Variables, functions, files and tests in Python."
ACH_CRITERIA = "Pass the final project."
ACH_TYPE = "Course"


def fixed_uuid(label: bytes) -> str:
    """A version 4 UUID from fixed bytes, lower case, as ``str(uuid.uuid4())`` prints one."""
    return str(uuid.UUID(bytes=hashlib.sha256(label).digest()[:16], version=4))


def fixed_index(label: bytes) -> int:
    """A status index of list 0 from fixed bytes (``secrets.randbelow(131072)``'s stand-in)."""
    return int.from_bytes(hashlib.sha256(label).digest()[:8], "big") % LIST_BITS


# The credential of entry 2: the issuer's own id (it names the issuer's file, never logged),
# the holder's identifier and its type, a grade, the last valid day, and the three random
# draws of an issuance.
OWN_ID = "c-1"
SUBJECT = "ada@example.org"
SUBJECT_TYPE = "emailAddress"
RESULT = "A"
EXPIRES_DATE = "2028-06-30"
UUID = fixed_uuid(b"credential")
HANDLE = f"urn:uuid:{UUID}"
SALT = hashlib.sha256(b"salt").hexdigest()
STATUS_INDEX = fixed_index(b"status index")
NEVER_ISSUED = f"urn:uuid:{fixed_uuid(b'never issued')}"

T_REGISTER = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z: registry signs the registration
T_ENTRY0 = 1_767_225_600_250  # the ledger sequences it 250 ms later
T_ACHIEVE = 1_767_225_630_000  # 2026-01-01T00:00:30.000Z: the issuer registers py101
T_ENTRY1 = 1_767_225_630_250
T_ISSUE = 1_767_225_660_000  # 2026-01-01T00:01:00.000Z: the issuer issues (and signs) c-1
T_ENTRY2 = 1_767_225_660_250
T_VERIFY = 1_767_312_000_000  # 2026-01-02T00:00:00.000Z: when the verifier judges expiry

# The continuation (tiles and witness, §15.10 and §15.11).
WITNESS_NAME = "witness.example"
WITNESS_SEED = hashlib.sha256(b"witness").digest()
# (own id, subject, subject type, label of the fixed draws)
MORE_CREDS = (("c-2", "s-1002", "sisSourcedId", b"2"),
              ("c-3", "grace@example.org", "emailAddress", b"3"))
REVOKE_REASON = "issued-in-error"
T_COSIGN1 = 1_767_225_900_750  # 2026-01-01T00:05:00.750Z: the witness cosigns size 3
T_ISSUE2 = 1_767_226_200_000  # 2026-01-01T00:10:00.000Z: c-2 and c-3, one batch
T_ENTRY3 = 1_767_226_200_250  # entries 3 and 4 share one sequencing time
T_REVOKE = 1_767_226_800_000  # 2026-01-01T00:20:00.000Z: c-2 is revoked
T_ENTRY5 = 1_767_226_800_250
T_COSIGN2 = 1_767_227_400_750  # 2026-01-01T00:30:00.750Z: the witness cosigns size 6
MAX_AGE_OK = 36 * 3_600_000  # verify --max-age 36h
MAX_AGE_STALE = 12 * 3_600_000  # verify --max-age 12h

DOC = Path(__file__).resolve().parent / "FORMAT.md"
BEGIN = "<!-- BEGIN GENERATED EXAMPLE (python docs/make_format_example.py --write) -->"
END = "<!-- END GENERATED EXAMPLE -->"


def valid_until_ms(date: str) -> int:
    """``YYYY-MM-DD`` -> UTC ms of the last second of that day, exactly as ``credledger
    issue`` makes a credential's ``validUntil`` (the following midnight, less a second)."""
    from ledger.batchfile import parse_date as _parse_date

    ms = _parse_date(date, "expires")
    assert ms is not None
    return ms - 1000


VALID_UNTIL = valid_until_ms(EXPIRES_DATE)


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
    REGISTER_ACHIEVEMENT: ["kind", "issuer", "time", "achievement_id", "name", "description",
                           "criteria", "achievement_type"],
    ISSUE: ["kind", "issuer", "time", "credential", "digest", "achievement", "valid_from",
            "valid_until", "status_index", ("parts", ["part"])],
    REVOKE: ["kind", "issuer", "time", "credential", "reason"],
}
ENTRY_NAMES = ["version", "index", "time", "prev_root", "state_root", "statement", "signer",
               "signature"]
RECORD_NAMES: dict[str, list[Any]] = {
    "cred": ["kind", "issuer", "cred_id", "state", "issued_index", "changed_index", "reason",
             "last_time"],
    "key": ["kind", "issuer", "key_id", "public_key", "active_from", "ended_at", "end", "reason"],
    "issuer": ["kind", "issuer", "name", "url", "registered_at", "retired_at", "reason"],
    "achievement": ["kind", "issuer", "achievement_id", "registered_at"],
    "slot": ["kind", "issuer", "key_id", "status_index", "credential"],
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
        self.unsigned: dict[str, Any] = {}
        self.credential: dict[str, Any] = {}
        self.digest = b""


def build_credential(issuer: Signer, *, handle: str, subject: str, subject_type: str,
                     salt: str, status_index: int, result: str | None, time: int,
                     valid_until: int | None) -> dict[str, Any]:
    """The unsigned Open Badges credential ``credledger issue`` builds (``ledger.issuance``):
    the issuer's did:key, name and url; the registered achievement under its IRI (§16.8); the
    holder's identifier as a salted hash; validFrom the statement time in whole seconds,
    validUntil the last second of the expiry day; the status entries of its index."""
    ach = openbadges.Achievement(
        anchoring.achievement_iri(ORIGIN, ISSUER_ID, ACH_ID), ACH_NAME, ACH_DESCRIPTION,
        ACH_CRITERIA, result_name=None if result is None else "Result", result_type="Result")
    return openbadges.build_credential(
        credential_id=handle, issuer=openbadges.Issuer(issuer.public_key, ISSUER_NAME,
                                                       ISSUER_URL),
        achievement=ach, identity_type=subject_type, identity_value=subject, salt=salt,
        valid_from=anchoring.rfc3339(time - time % 1000),
        valid_until=None if valid_until is None else anchoring.rfc3339(valid_until),
        result=result,
        status=anchoring.credential_status(ORIGIN, ISSUER_ID, key_id(issuer.public_key),
                                           status_index))


def build() -> tuple[Built, Any, Any]:
    b = Built()
    b.unsigned = build_credential(b.issuer, handle=HANDLE, subject=SUBJECT,
                                  subject_type=SUBJECT_TYPE, salt=SALT,
                                  status_index=STATUS_INDEX, result=RESULT, time=T_ISSUE,
                                  valid_until=VALID_UNTIL)
    b.credential = openbadges.sign_credential(b.unsigned, ISSUER_SEED,
                                              created=anchoring.rfc3339(T_ISSUE))
    b.digest = openbadges.credential_digest(b.credential)
    st0 = make_statement(REGISTER_ISSUER, ISSUER_ID, T_REGISTER, ISSUER_NAME, ISSUER_URL,
                         b.issuer.public_key)
    st1 = make_statement(REGISTER_ACHIEVEMENT, ISSUER_ID, T_ACHIEVE, ACH_ID, ACH_NAME,
                         ACH_DESCRIPTION, ACH_CRITERIA, ACH_TYPE)
    st2 = make_statement(ISSUE, ISSUER_ID, T_ISSUE, HANDLE, b.digest, ACH_ID,
                         T_ISSUE - T_ISSUE % 1000, VALID_UNTIL, STATUS_INDEX, [])
    signed = [sign_statement(st0, REGISTRY_SEED), sign_statement(st1, ISSUER_SEED),
              sign_statement(st2, ISSUER_SEED)]

    # As Ledger.append does it, one batch per statement (each is its own transaction).
    def load(k: bytes) -> Record | None:
        vh = b.status.get(k)
        return None if vh is None else decode_record(b.records[vh])

    cr = merkle.CompactRange()
    root = smt.EMPTY
    for index, (item, t) in enumerate(zip(signed, (T_ENTRY0, T_ENTRY1, T_ENTRY2), strict=True)):
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
def fixed_draws(labels: list[bytes]) -> Iterator[None]:
    """Hand ``ledger.issuance`` the fixed draws of each credential, in order: its UUID
    (``uuid.uuid4``), the salt of its holder's identifier (``openbadges.new_salt``) and its
    status index (``secrets.randbelow``); every other random draw stays random."""
    import secrets as real_secrets

    from ledger import issuance

    uuids = iter([uuid.UUID(fixed_uuid(b"credential" + lb)) for lb in labels])
    salts = iter([hashlib.sha256(b"salt" + lb).hexdigest() for lb in labels])
    indexes = iter([fixed_index(b"status index" + lb) for lb in labels])

    class Secrets:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_secrets, name)

        def randbelow(self, n: int) -> int:
            assert n == LIST_BITS
            return next(indexes)

    saved = uuid.uuid4, openbadges.new_salt, issuance.secrets
    uuid.uuid4 = lambda: next(uuids)  # type: ignore[assignment]
    openbadges.new_salt = lambda: next(salts)
    issuance.secrets = Secrets()  # type: ignore[assignment]
    try:
        yield
    finally:
        uuid.uuid4, openbadges.new_salt, issuance.secrets = saved  # type: ignore[assignment]


@contextmanager
def fixed_witness_key() -> Iterator[None]:
    """Make ``WitnessKey.generate`` (used by ``Witness.create``) return the fixed-seed key."""
    original = WitnessKey.__dict__["generate"]
    WitnessKey.generate = classmethod(lambda cls, name: cls(name, WITNESS_SEED))  # type: ignore
    try:
        yield
    finally:
        WitnessKey.generate = original  # type: ignore


def issue_more(ledger: Any, b: Built, out: Path) -> list[dict[str, Any]]:
    """Entries 3-5: issue c-2 and c-3 (one batch, through ``issuance.issue``), then revoke
    c-2 with a reason code; all signed by ``uni``. The credentials it wrote."""
    from ledger.batchfile import CredentialRequest
    from ledger.issuance import issue, read_credential, resolve

    reqs = [CredentialRequest(own, subject, ACH_ID, subject_type, where=f"batch:{n}")
            for n, (own, subject, subject_type, _) in enumerate(MORE_CREDS, 1)]
    with fixed_draws([lb for *_, lb in MORE_CREDS]):
        issued = issue(ledger, ISSUER_ID, b.issuer, reqs, out, now=T_ISSUE2)
    creds = [read_credential(issued.out, own) for own, *_ in MORE_CREDS]
    handle = resolve(issued.out, MORE_CREDS[0][0])
    st = make_statement(REVOKE, ISSUER_ID, T_REVOKE, handle, REVOKE_REASON)
    ledger.append([sign_statement(st, ISSUER_SEED)])
    return creds


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative POSIX path -> bytes), sorted; no temporary files."""
    files = {p.relative_to(root).as_posix(): p.read_bytes()
             for p in sorted(root.rglob("*")) if p.is_file()}
    assert not [f for f in files if f.rsplit("/", 1)[-1].startswith(".")], files
    return files


def continue_story(ledger: Any, b: Built, note: str, tmp: Path) -> dict[str, Any]:
    """Export tiles at size 3, run a witness, append entries 3-5, cosign and export size 6."""
    from ledger.bundle import build_bundle, dump_bundle
    from ledger.errors import SignatureError
    from ledger.tileaudit import audit_tiles
    from ledger.tiles import export_tiles
    from ledger.verify import verify_bundle
    from ledger.witness import Witness, WitnessRefused, parse_cosigner

    art: dict[str, Any] = {}
    log_key = b.log.verifier()
    tiles = tmp / "tiles"
    # Export 1: the checkpoint of size 3.
    rep = export_tiles(ledger, tiles)
    art["export1"] = (rep, tree_files(tiles))
    # The witness: created with the fixed key, cosigns size 3 (its first, so no proof).
    wdir = tmp / "witness"
    with fixed_witness_key():
        w = Witness.create(wdir, WITNESS_NAME)
    art["witness_key_file"] = (wdir / "witness.key").read_bytes()
    art["state0"] = (wdir / "state.json").read_text()
    cos3 = w.cosign(note, log_key, [], now_ms=T_COSIGN1)
    art["cosigned3"] = ledger.add_cosignatures(cos3, [w.key.verifier()])
    assert art["cosigned3"] == cos3, "merging into a note with only the log line appends"
    art["state1"] = (wdir / "state.json").read_text()
    # Entries 3-5, the checkpoint of size 6, the consistency proof 3 -> 6, the cosignature.
    art["more_creds"] = issue_more(ledger, b, tmp / "credentials")
    note6 = ledger.checkpoint()
    proof = ledger.consistency_proof(3, 6)
    cos6 = w.cosign(note6, log_key, proof, now_ms=T_COSIGN2)
    stored6 = ledger.add_cosignatures(cos6, [w.key.verifier()])
    assert stored6 == cos6 == ledger.checkpoint_note(6)
    art.update(note6=note6, proof36=proof, cosigned6=cos6,
               state2=(wdir / "state.json").read_text())
    try:
        w.cosign(note, log_key, [], now_ms=T_COSIGN2)
        raise AssertionError("the witness cosigned an older checkpoint")
    except WitnessRefused as exc:
        art["refused"] = str(exc)
    # Export 2 (size 6), then export 3 (nothing new).
    rep = export_tiles(ledger, tiles)
    art["export2"] = (rep, tree_files(tiles))
    rep = export_tiles(ledger, tiles)
    art["export3"] = (rep, tree_files(tiles))
    assert art["export3"][1] == art["export2"][1]
    art["entries"] = [ledger.entry_bytes(i) for i in range(6)]
    art["audit"] = audit_tiles(tiles, log_key)
    assert art["audit"].size == 6 and art["audit"].root == ledger.root_at(6)
    # A verifier who trusts the witness.
    wv = parse_cosigner(str(w.key.verifier()))
    bundle = dump_bundle(build_bundle(ledger, [(ISSUER_ID, HANDLE)]))
    art["verdict6"] = verify_bundle(bundle, log_key=log_key, at=T_VERIFY, witnesses=(wv,),
                                    min_witnesses=1, max_age_ms=MAX_AGE_OK,
                                    credentials=(b.credential,))
    try:
        verify_bundle(bundle, log_key=log_key, at=T_VERIFY, witnesses=(wv,), min_witnesses=1,
                      max_age_ms=MAX_AGE_STALE, credentials=(b.credential,))
        raise AssertionError("a stale cosignature passed --max-age")
    except SignatureError as exc:
        art["stale"] = str(exc)
    return art


def through_ledger(b: Built, signed: list[Any], note: str) -> dict[str, Any]:
    """Run the same story through the real Ledger on LMDB and ``issuance.issue``; check it
    agrees; return artefacts."""
    from ledger.batchfile import CredentialRequest
    from ledger.bundle import build_bundle, dump_bundle
    from ledger.holder import pending_line, pending_record
    from ledger.issuance import issue
    from ledger.log import Ledger
    from ledger.tlogproof import TlogProof, check_tlog_proof
    from ledger.verify import verify_bundle

    times = iter([T_ENTRY0, T_ENTRY1, T_ENTRY2, T_ENTRY3, T_ENTRY5])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store"
        with fixed_keys():
            ledger, log_signer, registry = Ledger.create(path, ORIGIN, clock=lambda: next(times))
        with ledger:
            assert log_signer.seed == LOG_SEED and registry.seed == REGISTRY_SEED
            ledger.append([signed[0]])
            ledger.append([signed[1]])
            # The issuance as `credledger issue uni c-1 --subject ... --out credentials` runs it.
            out = Path(tmp) / "credentials"
            req = CredentialRequest(OWN_ID, SUBJECT, ACH_ID, SUBJECT_TYPE, RESULT, EXPIRES_DATE)
            with fixed_draws([b""]):
                issued = issue(ledger, ISSUER_ID, b.issuer, [req], out, now=T_ISSUE)
            for i, data in enumerate(b.entries):
                assert ledger.entry_bytes(i) == data, f"entry {i} differs from the Ledger's"
            assert ledger.checkpoint() == note, "checkpoint differs from the Ledger's"
            file = issued.out / f"{OWN_ID}.json"
            cred_file = file.read_bytes()
            assert json.loads(cred_file) == b.credential, "the issuer's copy differs"
            assert cred_file == (json.dumps(b.credential, indent=2) + "\n").encode("ascii")
            assert file.stat().st_mode & 0o777 == 0o600
            record = pending_record(origin=ORIGIN, issuer_id=ISSUER_ID, own_id=OWN_ID,
                                    credential=b.credential)
            assert issued.documents == (record,)
            bundle = dump_bundle(build_bundle(ledger, [(ISSUER_ID, HANDLE)]))
            verdict = verify_bundle(bundle, log_key=b.log.verifier(), at=T_VERIFY,
                                    credentials=(b.credential,), subject=SUBJECT)
            assert verdict.valid
            tlog = TlogProof(2, tuple(ledger.inclusion_proof(2, 3)), note,
                             ledger.entry_bytes(2)).format()
            check_tlog_proof(tlog, verifier=b.log.verifier())
            store = ledger.store.read(lambda t: {
                db: list(t.items(db)) for db in
                ("meta", "entries", "tree", "mapnodes", "maproots", "records", "status", "creds",
                 "achievements", "checkpoints")
            })
            more = continue_story(ledger, b, note, Path(tmp))
    return {"cred_file": cred_file, "pending_line": pending_line(record), "bundle": bundle,
            "verdict": verdict, "tlog": tlog, "store": store, **more}


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
    kid = key_id(iss_pub)

    o("## 15. Worked example")
    o()
    o("Generated by `python docs/make_format_example.py` from the real code with fixed inputs;")
    o("do not edit by hand (`--write` regenerates this section, `--check` tells whether it is")
    o("stale). The script builds every byte by hand as `ledger/log.py` does (the credential with")
    o("`ledger.openbadges`), then runs the same story through `Ledger.create`/`append`/")
    o("`checkpoint` and `issuance.issue` (as `credledger issue` runs it) on a temporary LMDB")
    o("store, and `build_bundle`/`verify_bundle`, and fails unless both agree. The seeds and")
    o("draws are public: never use them for anything real.")
    o()
    o("| input | value |")
    o("| --- | --- |")
    o(f"| origin (log key name) | `{ORIGIN}` |")
    o("| log key seed | `SHA-256(\"log\")` |")
    o(f"| registry key seed (name `{ORIGIN}/registry`) | `bytes(range(32))` = `000102...1f` |")
    o(f"| issuer key seed (issuer `{ISSUER_ID}`) | `SHA-256(\"issuer\")` |")
    o(f"| achievement | `{ACH_ID}`: \"{ACH_NAME}\", type `{ACH_TYPE}` |")
    o(f"| the issuer's own id for the credential (never logged) | `{OWN_ID}` |")
    o(f"| holder | `{SUBJECT}` (`{SUBJECT_TYPE}`), result `{RESULT}` |")
    o(f"| the credential's UUID (`uuid.uuid4()`'s draw) | the 16 bytes `SHA-256(\"credential\")[:16]` "
      f"with the version 4 and variant bits set: `{UUID}` |")
    o("| salt of the holder's identifier (`openbadges.new_salt()`'s draw) | hex of "
      "`SHA-256(\"salt\")` |")
    o(f"| status index (`secrets.randbelow(131072)`'s draw) | "
      f"`u64(SHA-256(\"status index\")[:8]) mod 131072` = {STATUS_INDEX} |")
    o(f"| register statement time, entry 0 time | {T_REGISTER} ({iso(T_REGISTER)}), "
      f"{T_ENTRY0} ({iso(T_ENTRY0)}) |")
    o(f"| register-achievement statement time, entry 1 time | {T_ACHIEVE} ({iso(T_ACHIEVE)}), "
      f"{T_ENTRY1} ({iso(T_ENTRY1)}) |")
    o(f"| issue statement time, entry 2 time | {T_ISSUE} ({iso(T_ISSUE)}), "
      f"{T_ENTRY2} ({iso(T_ENTRY2)}) |")
    o(f"| expiry | `{EXPIRES_DATE}`: `validUntil` {VALID_UNTIL} ({iso(VALID_UNTIL)}), the "
      "day's last second |")
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
    o(f"The issuer key's did:key (§16.2), the credential's issuer: `{b.credential['issuer']['id']}`.")
    o()

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

    # Register-achievement statement.
    st1 = signed[1]
    e1 = b.entries[1]
    lh1 = merkle.leaf_hash(e1)
    o("### 15.3 Entry 1: register-achievement")
    o()
    o(f"The issuer registers what it awards before it issues it (rule `unknown-achievement`, §6). "
      f"The statement, {len(st1.statement)} bytes, signed by the issuer key:")
    o()
    o.code(annotate(st1.statement, STATEMENT_NAMES[REGISTER_ACHIEVEMENT]))
    o.code([f"signer    {st1.signer.hex()}",
            f"signature {st1.signature.hex()[:64]}",
            f"          {st1.signature.hex()[64:]}"])
    o(f"The entry, {len(e1)} bytes (the achievement record it writes is in §15.5); its")
    o("`prev_root` is the tree root after entry 0 (the leaf hash of entry 0):")
    o()
    o.code(annotate(e1, ENTRY_NAMES, elide={"statement": "the statement bytes above"}))
    o(f"Leaf hash = `{lh1.hex()}`.")
    o()

    # The credential and the issue statement.
    st2 = signed[2]
    e2 = b.entries[2]
    lh2 = merkle.leaf_hash(e2)
    o("### 15.4 Entry 2: issue")
    o()
    o(f"`credledger issue {ISSUER_ID} {OWN_ID} --key uni.key --subject {SUBJECT} --subject-type "
      f"{SUBJECT_TYPE} --achievement {ACH_ID} --result {RESULT} --expires {EXPIRES_DATE}`")
    o("first builds and signs the holder's Open Badges 3.0 credential (§16), then the `issue`")
    o("statement that commits to it. The credential, as the issuer keeps it and the holder")
    o(f"receives it (`credentials/{ISSUER_ID}/{OWN_ID}.json`, mode `0600`, "
      f"{len(art['cred_file'])} bytes, §10):")
    o()
    o.code(art["cred_file"].decode().rstrip("\n"), "json")
    ident = b.credential["credentialSubject"]["identifier"][0]
    o("Where each value comes from:")
    o()
    o(f"- `id`: the handle, `urn:uuid:` and the random UUID (§1.4); the own id `{OWN_ID}` is in")
    o("  no byte of it, nor of the log.")
    o("- `issuer`: the did:key of the signing key (§16.2), with the name and url of the issuer")
    o("  record (§5.2).")
    o("- `validFrom`: the statement time in whole seconds; `validUntil`: the last second of")
    o(f"  `{EXPIRES_DATE}` (§16.8).")
    o("- `identityHash`: `sha256$` and hex of `SHA-256(UTF-8(identifier) || UTF-8(salt))` (§16.4):")
    ih_in = SUBJECT.encode() + SALT.encode()
    o()
    o.code([f"SHA-256(\"{SUBJECT}\" || \"{SALT[:16]}...\") = {hashlib.sha256(ih_in).hexdigest()}"])
    assert ident["identityHash"] == "sha256$" + hashlib.sha256(ih_in).hexdigest()
    o("- `achievement.id`: `https://<origin>/achievements/<issuer>/<achievement id>` (§16.8), with")
    o("  the registered name, description and criteria of entry 1; `result` holds the grade.")
    o(f"- `credentialStatus`: list {STATUS_INDEX // LIST_BITS} of key `{kid}`, bit "
      f"{STATUS_INDEX % LIST_BITS}, for each purpose (§17.1, §17.4).")
    o()
    o(f"Its digest (§16.6), `SHA-256` of the canonical JSON of the signed credential's set normal form: "
      f"`{b.digest.hex()}`.")
    o()
    o(f"The `issue` statement, {len(st2.statement)} bytes (no parts):")
    o()
    o.code(annotate(st2.statement, STATEMENT_NAMES[ISSUE]))
    o("Signed by the issuer key over `SIGN_CONTEXT || statement`:")
    o()
    o.code([f"signer    {st2.signer.hex()}",
            f"signature {st2.signature.hex()[:64]}",
            f"          {st2.signature.hex()[64:]}"])
    o(f"The entry, {len(e2)} bytes; its `prev_root` is the tree root after entries 0 and 1,")
    o("its `state_root` the map root after the credential and slot records are added:")
    o()
    o.code(annotate(e2, ENTRY_NAMES, elide={"statement": "the statement bytes above"}))
    o.code(dump(e2))
    root01 = merkle.node_hash(lh0, lh1)
    root3 = merkle.node_hash(root01, lh2)
    o(f"Leaf hash = `{lh2.hex()}`.")
    o()
    o("Tree root after 3 entries = `SHA-256(01 || SHA-256(01 || leaf hash 0 || leaf hash 1) ||")
    o(f"leaf hash 2)` = `{root3.hex()}` (base64 `{b64(root3)}`); the inner hash over")
    o(f"entries 0 and 1 is `{root01.hex()}`, entry 2's `prev_root`.")
    o()

    # Status map.
    o("### 15.5 Status map after entry 2")
    o()
    names: dict[bytes, str] = {}
    o("Map keys (§5.1):")
    o()
    rows = []
    keys = (
        ("issuer uni", ("issuer", ISSUER_ID, "")),
        (f"key uni/{kid}", ("key", ISSUER_ID, kid)),
        (f"achievement uni/{ACH_ID}", ("achievement", ISSUER_ID, ACH_ID)),
        ("cred uni/<handle>", ("cred", ISSUER_ID, HANDLE)),
        (f"slot uni/{slot_ident(kid, STATUS_INDEX)}", ("slot", ISSUER_ID,
                                                         slot_ident(kid, STATUS_INDEX))),
    )
    for label, (kind, issuer, ident_) in keys:
        k = map_key(kind, issuer, ident_)
        names[k] = label
        rows.append(f"{label}")
        rows.append(f"  msgpack [kind, issuer, id] = {pack([kind, issuer, ident_]).hex()}")
        rows.append(f"  K = {k.hex()}  (first bits {bits(k)})")
    o.code(rows)
    o("Records and value hashes. The credential and slot records written by entry 2:")
    o()
    for kind, ident_ in (("cred", HANDLE), ("slot", slot_ident(kid, STATUS_INDEX))):
        rec = b.records[b.status[map_key(kind, ISSUER_ID, ident_)]]
        o.code(annotate(rec, RECORD_NAMES[kind]) +
               [f"V = SHA-256(record) = {record_hash(rec).hex()}"])
    o("The achievement record written by entry 1, and the key and issuer records written by")
    o("entry 0:")
    o()
    for kind, ident_ in (("achievement", ACH_ID), ("key", kid), ("issuer", "")):
        rec = b.records[b.status[map_key(kind, ISSUER_ID, ident_)]]
        o.code(annotate(rec, RECORD_NAMES[kind]) + [f"V = {record_hash(rec).hex()}"])
    root = b.state_roots[2]
    o("The compact tree (hashes abbreviated; `H` is SHA-256):")
    o()
    o.code(smt_tree(b.nodes, root, names))
    o(f"`state_root` after entry 2 = `{root.hex()}`.")
    o()
    o("The encodings of the nodes reachable from that root (65 bytes each; §15.9 shows where the")
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
    cred_key = map_key("cred", ISSUER_ID, HANDLE)
    proof = b.maps[2].prove(cred_key)
    o("The membership proof for the credential's key (as it appears in the bundle, §9.1), and the")
    o(f"proof that `{NEVER_ISSUED}` was never issued:")
    o()
    absent = map_key("cred", ISSUER_ID, NEVER_ISSUED)
    aproof = b.maps[2].prove(absent)
    plines = [f"key        {proof.key.hex()}",
              f"leaf_key   {proof.leaf_key.hex() if proof.leaf_key else None}",
              f"leaf_value {proof.leaf_value.hex() if proof.leaf_value else None}",
              f"siblings   ({len(proof.siblings)}, root downwards)"]
    plines += [f"  {s.hex()}" for s in proof.siblings]
    plines += ["", f"key        {aproof.key.hex()}  (first bits {bits(absent)})",
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
    o("### 15.6 Checkpoint of size 3")
    o()
    body = Checkpoint(ORIGIN, 3, root3).body()
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
    o("### 15.7 tlog-proof of entry 2")
    o()
    o(f"`credledger prove {ISSUER_ID} {OWN_ID} --format tlog-proof` against this checkpoint writes:")
    o()
    o.code(art["tlog"].rstrip("\n"), "text")

    # Pending line, batch line, bundle, verdict.
    o("### 15.8 Pending record, batch line, bundle and verdict")
    o()
    o("While `issue` runs, the credential is the one line of the pending file")
    o(f"`credentials/{ISSUER_ID}/.pending-{OWN_ID}.jsonl` (§10.1), a pending record:")
    o()
    o.code(art["pending_line"].decode().rstrip("\n"), "json")
    o("The batch line that issues the same credential (§11):")
    o()
    o.code(json.dumps({"id": OWN_ID, "subject": SUBJECT, "subject_type": SUBJECT_TYPE,
                       "achievement": ACH_ID, "result": RESULT, "expires": EXPIRES_DATE}),
           "json")
    o(f"The proof bundle `credledger prove {ISSUER_ID} {OWN_ID} -o {OWN_ID}.bundle.json` writes "
      "(§9; the")
    o("credential is not in it: it travels beside it):")
    o()
    o.code(art["bundle"].rstrip("\n"), "json")
    o(f"`verify_bundle(bundle, log_key=<log verifier key>, at={T_VERIFY}, credentials=(credential,),")
    o(f"subject=\"{SUBJECT}\")` (`credledger verify credentials/{ISSUER_ID}/{OWN_ID}.json --bundle "
      f"{OWN_ID}.bundle.json --subject {SUBJECT} --json`) answers:")
    o()
    o.code(json.dumps(art["verdict"].as_dict(), indent=2), "json")

    # Store.
    o("### 15.9 The LMDB store after the checkpoint")
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
                    vtxt = f"signed note, {len(v)} bytes (§15.6)"
                elif len(v) > 32:
                    vtxt = f"{len(v)} bytes {v[:8].hex()}..."
                else:
                    vtxt = v.hex() if v else "(empty)"
            slines.append(f"  {ktxt}")
            slines.append(f"    = {vtxt}")
    o.code(slines)
    o("`tree` keys are level (1 byte) || index (u64): (0, 0), (0, 1) and (0, 2) hold the three")
    o("leaf hashes, (1, 0) the perfect subtree over the first two. The `creds` key is msgpack")
    o(f"`[\"{ISSUER_ID}\", <handle>]` then u64 2, the issuance's index; the `achievements` key is")
    o(f"`SHA-256(\"{ISSUER_ID}\")` then `{ACH_ID}`, its value u64 1. `mapnodes` keys are the")
    o("batch (u64: its first entry's index) then the node's place among the batch's new nodes")
    o("(u32), children first; a leaf's value is its 65-byte encoding, a branch's is its encoding")
    o("then its left and right children's locations (12 bytes each; for an EMPTY side, 12 zero")
    o("bytes that are never read: a side is EMPTY by its hash, and (0, 0) is a real location).")
    per_batch: dict[int, int] = {}
    for loc, _ in art["store"]["mapnodes"]:
        batch = int.from_bytes(loc[:8], "big")
        per_batch[batch] = per_batch.get(batch, 0) + 1
    o(f"The three batches wrote {per_batch[0]}, {per_batch[1]} and {per_batch[2]} nodes: each its")
    o("new leaves and the branches above them, pointing back at earlier batches' nodes it did not")
    o("change.")
    roots = dict(art["store"]["maproots"])
    nodes = dict(art["store"]["mapnodes"])
    top = nodes[roots[b.state_roots[2]]]
    o()
    o(f"The third batch's root, at {_location(roots[b.state_roots[2]])}:")
    o()
    o.code([f"{top[:1].hex()}  branch", f"{top[1:33].hex()}  left hash",
            f"{top[33:65].hex()}  right hash",
            f"{top[65:77].hex()}  left location {_location(top[65:77])}",
            f"{top[77:].hex()}  right location {_location(top[77:])}"])
    o("`maproots` keeps every batch's map root: " + ", ".join(
        f"`{b.state_roots[i].hex()[:16]}...` (after entry {i}) at {_location(roots[b.state_roots[i]])}"
        for i in range(3)) + ": old map versions stay provable.")
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
    from ledger.events import decode_entry, decode_statement
    from ledger.tiles import bundle_path, parse_bundle, parse_tile, tile_path, tiles_of

    entries: list[bytes] = art["entries"]
    assert entries[:3] == b.entries
    o("### 15.10 Tiles: two exports, three more entries")
    o()
    o("`credledger export tiles DIR` right after the checkpoint of size 3 (§15.6) writes three")
    o("files, in this order (the checkpoint last, §13.5):")
    o()
    rep1, files1 = art["export1"]
    o.code([f"{rel:<24}{len(files1[rel]):>5} bytes" for rel in rep1.written])
    o(f"Then a witness cosigns that checkpoint (§15.11) and three more statements of issuer "
      f"`{ISSUER_ID}`")
    o("are appended: `credledger issue --batch` of two credentials of the same achievement (one")
    o("transaction, one sequencing time; UUIDs, salts and status indexes drawn as in the inputs,")
    o("from `\"credential2\"`, `\"salt2\"`, `\"status index2\"` and the same with `3`), then a")
    o("revocation with a reason code:")
    o()
    o("| index | statement | statement time | entry time | entry bytes |")
    o("| --- | --- | --- | --- | --- |")
    creds = art["more_creds"]
    rows = [((f"issue `{creds[0]['id']}` (own id `{MORE_CREDS[0][0]}`, holder `{MORE_CREDS[0][1]}`"
             f" as `{MORE_CREDS[0][2]}`)"), T_ISSUE2, T_ENTRY3),
            ((f"issue `{creds[1]['id']}` (own id `{MORE_CREDS[1][0]}`, holder `{MORE_CREDS[1][1]}`"
             f" as `{MORE_CREDS[1][2]}`)"), T_ISSUE2, T_ENTRY3),
            (f"revoke `{creds[0]['id']}`, reason code `{REVOKE_REASON}`", T_REVOKE, T_ENTRY5)]
    for i, (what, ts, te) in enumerate(rows, start=3):
        e = entries[i]
        entry = decode_entry(e)
        st = decode_statement(entry.statement)
        assert st.time == ts and entry.time == te and len(e) < 0xFFFF
        assert st.fields[0] == creds[0 if i != 4 else 1]["id"]
        o(f"| {i} | {what} | {iso(ts)} | {iso(te)} | {len(e)} |")
    o()
    o("The revocation's statement, as every status statement (§3.2), holds the handle and a code:")
    o()
    o.code(annotate(decode_entry(entries[5]).statement, STATEMENT_NAMES[REVOKE]))
    o("After `credledger checkpoint` (size 6) and its cosignature, the second export writes:")
    o()
    rep2, files2 = art["export2"]
    o.code([f"{rel:<24}{len(files2[rel]):>5} bytes" for rel in rep2.written])
    rep3, files3 = art["export3"]
    o("It leaves the partial tiles of size 3 in place, as tlog-tiles allows. A third export, with")
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
                ("level 0, N 0, width 6", tile_path(0, 0, 6)),
                ("entries, N 0, width 3", bundle_path(0, 3)),
                ("level 1, N 999, full", tile_path(1, 999)),
                ("level 1, N 1000, full", tile_path(1, 1000)),
                ("level 2, N 1234067, width 17", tile_path(2, 1234067, 17)),
                ("entries, N 1234067, full", bundle_path(1234067))]
    assert examples[5][1] == "tile/2/x001/x234/067.p/17"
    lines = [f"{label:<30}{path}" for label, path in examples]
    for size in (6, 256, 600, 70_000):
        paths = [tile_path(lv, n, w) for lv, n, w in tiles_of(size)]
        lines += ["", f"size {size}: {len(paths)} hash tiles (and as many level-0 entry bundles)"]
        lines += [f"  {path}" for path in _summary(paths)]
    o.code(lines)

    # The level-0 tile.
    tile = files3["tile/0/000.p/6"]
    hashes = parse_tile(tile, 6)
    assert hashes == [merkle.leaf_hash(e) for e in entries]
    assert merkle.root_of(hashes) == art["audit"].root
    assert files3["tile/0/000.p/3"] == tile[:96]
    o(f"`tile/0/000.p/6`, {len(tile)} bytes: six 32-byte hashes, hash `i` the leaf hash")
    o("`H(00 || entry i)` of entry `i` (no header, no count, no separator):")
    o()
    o.code([f"{32 * i:04x}  {h.hex()}  # entry {i}" for i, h in enumerate(hashes)])
    o("The RFC 9162 root over these six hashes is the checkpoint's root,")
    o(f"`{art['audit'].root.hex()}`; `tile/0/000.p/3` is its first 96 bytes.")
    o()

    # The entry bundle of size 3.
    bundle3 = files3["tile/entries/000.p/3"]
    assert bundle3 == b"".join(len(e).to_bytes(2, "big") + e for e in b.entries)
    assert parse_bundle(bundle3, 3) == b.entries
    o(f"`tile/entries/000.p/3`, {len(bundle3)} bytes: each entry as a big-endian uint16 length,")
    o("then the exact entry bytes (§4):")
    o()
    lines = []
    pos = 0
    for i, e in enumerate(b.entries):
        lines.append(f"{pos:04x}  {hexs(bundle3[pos:pos + 2]):<24}# length of entry {i}: "
                     f"{len(e)} bytes")
        pos += 2
        lines.append(f"{pos:04x}  {hexs(bundle3[pos:pos + 4]) + ' ...':<24}# entry {i}, the "
                     f"{len(e)} bytes of §15.{i + 2}")
        pos += len(e)
    lines.append(f"{pos:04x}  (end)")
    o.code(lines)
    o("In full:")
    o()
    o.code(dump(bundle3))
    bundle6 = files3["tile/entries/000.p/6"]
    assert parse_bundle(bundle6, 6) == entries
    o(f"`tile/entries/000.p/6` ({len(bundle6)} bytes) starts with the same {len(bundle3)} bytes "
      "and goes on the same way:")
    o()
    lines = []
    pos = 0
    for i, e in enumerate(entries):
        lines.append(f"{pos:04x}  {hexs(bundle6[pos:pos + 2])}  length {len(e)}, entry {i} at "
                     f"{pos + 2:04x}..{pos + 2 + len(e):04x}")
        pos += 2 + len(e)
    o.code(lines)
    rep = art["audit"]
    o("`credledger audit --tiles DIR --log-key <log verifier key>` replays the six entries from")
    o(f"the bundles and checks the tile against them: {rep.size} entries, {rep.issuers} issuer, "
      f"{rep.achievements} achievement, {rep.credentials} credentials,")
    o(f"{rep.revocations} revocation, root `{rep.root.hex()[:16]}...`.")
    o()


def witness_example(o: Out, b: Built, art: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.witness import cosigner_key_id

    key = WitnessKey(WITNESS_NAME, WITNESS_SEED)
    pub = key.public_key
    kid = cosigner_key_id(WITNESS_NAME, pub)
    o("### 15.11 Witness cosignatures")
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
    o(f"`DIR/state.json` starts as `{art['state0']}`. The witness cosigns the checkpoint of size 3")
    o(f"(§15.6) at {T_COSIGN1} ms ({iso(T_COSIGN1)}), its first for this origin, so with no")
    o("consistency proof; the timestamp is in whole seconds. "
      "`credledger checkpoint --add-cosignatures`")
    o("then stores the note below with the checkpoint of size 3:")
    o()
    o.code(art["cosigned3"].rstrip("\n"), "text")
    o("`credledger consistency 3 6` prints the RFC 9162 proof from size 3 to size 6 that the")
    o("witness then needs (`--proof`):")
    o()
    proof = art["proof36"]
    o.code([b64(h) for h in proof], "text")
    o(f"At {T_COSIGN2} ms it cosigns the checkpoint of size 6. The signed message, "
      "`cosignature/v1\\n`,")
    ts = T_COSIGN2 // 1000
    note6 = parse_note(art["note6"])
    msg = cosigned_message(note6.text, ts)
    o(f"`time {ts}\\n`, then the checkpoint body ({len(msg)} bytes):")
    o()
    o.code(dump(msg))
    o("The cosigned note, as `credledger witness cosign` writes it, "
      "`--add-cosignatures` stores it")
    o("and `export tiles` publishes it as DIR/`checkpoint`:")
    o()
    cosigned = art["cosigned6"]
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
    o("Asked again to cosign the checkpoint of size 3, the witness refuses (exit 1):")
    o(f"`{art['refused']}`.")
    o()
    v = art["verdict6"]
    o("`credledger verify` of the credential of entry 2 with its bundle against the checkpoint of size 6, with")
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
