"""The differential corpus of the browser verifier (ledger/web/verifier/): inputs, and what the Python
code says of each.

Every case is ``{"id", "domain", "input", "expect"}``: ``input`` is plain JSON (bytes as hex,
integers that may pass 2^53 as decimal strings), and ``expect`` is the Python verdict:
``{"ok": true, "check": null, "value": ...}`` for an accepted input, with what it decodes or
proves to, or ``{"ok": false, "check": "...", "value": null}`` for a refused one, ``check``
naming the failed check in the JavaScript modules' vocabulary (ledger/web/README.md lists it). The
Python verdict is computed by the ledger's own functions, on the input as it comes back from
JSON (what the JavaScript side reads), and its category from the error the Python code raises
(:func:`classify`; a message it does not know fails the test rather than pass unclassified).

What the corpus holds (:func:`build_corpus`):

* canonical msgpack: every entry, statement and status record of two real ledger stores (one
  with every statement kind, a key flagged as compromised and a reinstatement; one registrar
  with hundreds of credentials), each of tests/test_fuzz.py's twelve byte-mutation kinds of
  them (each forced in turn, the rest of the mutation as test_fuzz draws it), its
  structure-aware msgpack mutations and raw byte soups, and hand-made edge cases of every
  rule (shortest forms, signed types, str against bin, bools, floats, extension types and
  timestamps, maps, nesting at 8 and at msgpack-python's 1024 containers, trailing bytes,
  invalid UTF-8);
* RFC 9162: the RFC 6962 reference tree's vectors; inclusion and consistency proofs of random
  trees and of the stores' trees, and each kind of tamper (a changed hash, index, size, leaf or
  root, a hash added, dropped, swapped or of the wrong size, sizes at 2^63 and 2^64 - 1);
* status-map proofs from the stores at every checkpoint (present and absent keys) and from
  synthetic maps with keys that share up to 255 bits, and each kind of tamper (siblings
  changed, dropped, added, made EMPTY; leaf key, value or key changed; half a leaf; depth 256;
  257 siblings; wrong sizes);
* Ed25519: every Wycheproof and speccheck vector (tests/vectors/), and tampered signatures;
* log and witness key strings, signed notes and checkpoints (valid, wrong key, tampered text,
  bad encodings, duplicate and foreign signature lines, trusted keys whose 32-bit key ids
  collide), and witness cosignatures under policies (counts, ages, clocks).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import statements
from statements import handle, named

from ledger import ed25519, merkle, smt
from ledger.errors import (
    EncodingError,
    KeyFileError,
    LedgerError,
    ProofError,
    RootMismatchError,
    SignatureError,
)
from ledger.events import (
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    decode_entry,
    key_id,
    make_statement,
    pack,
    sign_statement,
    unpack_array,
)
from ledger.log import Ledger
from ledger.note import (
    Signer,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_verifier,
    sign_note,
)
from ledger.parse import b64encode
from ledger.records import map_key
from ledger.witness import (
    WitnessKey,
    add_cosignature,
    check_witness_policy,
    cosigner_key_id,
    parse_cosigner,
)

VECTORS = Path(__file__).resolve().parent / "vectors"
ORIGIN = "web.example/log"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000
SEED = 20260517


# ------------------------------------------------------------------------------ verdicts


class Refused(LedgerError):
    """A refusal the Python code gives as a value rather than an error (Ed25519's False)."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


# (error type, pattern of its message, check): the first that matches names the check.
_CHECKS: dict[str, list[tuple[type[Exception], str, str]]] = {
    "msgpack": [
        (EncodingError, r"not one msgpack value", "msgpack.value"),
        (EncodingError, r"want a msgpack array", "msgpack.array"),
        (EncodingError, r"is not allowed in canonical values", "msgpack.type"),
        (EncodingError, r"nested deeper than", "msgpack.depth"),
        (EncodingError, r"not canonical msgpack", "msgpack.canonical"),
    ],
    "merkle": [
        (RootMismatchError, r"", "merkle.root"),
        (ProofError, r"leaf index -?\d+ not in tree size", "merkle.index"),
        (ProofError, r"got \d+ bytes, want 32", "merkle.hash-size"),
        (ProofError, r"want 0 <= size1 <= size2", "merkle.sizes"),
        (ProofError, r"got \d+ hashes, want \d+", "merkle.length"),
    ],
    "map": [
        (RootMismatchError, r"", "map.root"),
        (ProofError, r"must be 32 bytes|must both be given|siblings must be|want at most 256",
         "map.shape"),
        (ProofError, r"has an EMPTY sibling", "map.collapsible"),
        (ProofError, r"empty terminal at depth 256", "map.empty-depth"),
        (ProofError, r"absence leaf", "map.absence-leaf"),
    ],
    "verifier-key": [
        (KeyFileError, r"separator", "key.separators"),
        (KeyFileError, r"malformed verifier key: key name", "key.name"),
        (KeyFileError, r"key id is not 8 lowercase hex", "key.id-format"),
        (KeyFileError, r"not canonical padded base64", "key.base64"),
        (KeyFileError, r"decodes to \d+ bytes, want 33", "key.length"),
        (KeyFileError, r"key type is", "key.type"),
        (KeyFileError, r"does not match the key", "key.id-mismatch"),
    ],
    "cosigner-key": [
        (KeyFileError, r"want <name>\+<key id>\+<base64 key>", "key.separators"),
        (KeyFileError, r"the name must be non-empty", "key.name"),
        (KeyFileError, r"key id is not 8 lowercase hex", "key.id-format"),
        (KeyFileError, r"malformed witness key: not (canonical )?base64", "key.base64"),
        (KeyFileError, r"want type 0x04", "key.type"),
        (KeyFileError, r"key id does not match", "key.id-mismatch"),
    ],
    "note": [
        (EncodingError, r"note is too large", "note.too-large"),
        (EncodingError, r"signature line \d+ does not start with an em dash", "note.signature-prefix"),
        (EncodingError, r"signature line \d+ has no space", "note.signature-space"),
        (EncodingError, r"signature line \d+: key name", "note.signature-name"),
        (EncodingError, r"signature line \d+: signature is not canonical", "note.signature-base64"),
        (EncodingError, r"signature line \d+: signature decodes to", "note.signature-short"),
        (EncodingError, r"malformed note: not valid UTF-8", "note.utf8"),
        (EncodingError, r"malformed note: control character", "note.control"),
        (EncodingError, r"no blank line before the signatures", "note.no-blank-line"),
        (EncodingError, r"no signature lines after the blank line", "note.no-signatures"),
        (EncodingError, r"last signature line does not end with a newline", "note.unterminated"),
        (EncodingError, r"signature lines, limit", "note.too-many-signatures"),
        (KeyFileError, r"ambiguous trusted keys", "note.ambiguous-keys"),
        (SignatureError, r"invalid signature from trusted key", "note.bad-signature"),
        (SignatureError, r"note has no signature from a trusted key", "note.untrusted"),
    ],
    "checkpoint": [
        (EncodingError, r"malformed checkpoint: does not end with a newline", "checkpoint.newline"),
        (EncodingError, r"malformed checkpoint: \d+ lines, want 3", "checkpoint.lines"),
        (EncodingError, r"malformed checkpoint: size", "checkpoint.size"),
        (EncodingError, r"malformed checkpoint: root", "checkpoint.root"),
        (EncodingError, r"malformed checkpoint: origin", "checkpoint.origin"),
        (SignatureError, r"does not match log key name", "checkpoint.origin-mismatch"),
    ],
    "cosig": [
        (KeyFileError, r"ambiguous trusted witness keys", "cosig.ambiguous-keys"),
        (SignatureError, r"want 72 bytes", "cosig.length"),
        (SignatureError, r"timestamp out of range", "cosig.timestamp"),
        (SignatureError, r"invalid cosignature from witness", "cosig.bad-signature"),
        (SignatureError, r"distinct trusted witness key\(s\), want at least", "cosig.too-few"),
        (SignatureError, r"--max-age needs at least one", "cosig.none"),
        (SignatureError, r"dated after the time of the check", "cosig.future"),
        (SignatureError, r"older than the allowed", "cosig.too-old"),
    ],
}

# Which groups of checks each domain's Python code can fail, in the order they are tried.
_GROUPS: dict[str, tuple[str, ...]] = {
    "msgpack": ("msgpack",),
    "hash": (),
    "inclusion": ("merkle",),
    "consistency": ("merkle",),
    "map": ("map",),
    "ed25519": (),
    "verifier-key": ("verifier-key",),
    "cosigner-key": ("cosigner-key",),
    "note": ("note",),
    "checkpoint": ("note", "checkpoint"),
    "parse-checkpoint": ("checkpoint",),
    "witness": ("note", "cosig"),
}


def classify(domain: str, exc: Exception) -> str:
    """The check a Python error stands for, in the JavaScript modules' vocabulary."""
    if isinstance(exc, Refused):
        return exc.check
    for group in _GROUPS[domain]:
        for kind, pattern, check in _CHECKS[group]:
            if isinstance(exc, kind) and re.search(pattern, str(exc)):
                return check
    raise AssertionError(f"unclassified {domain} error {type(exc).__name__}: {exc}")


def every_check() -> set[str]:
    """Every check the corpus can name (all of them must occur in it)."""
    checks = {check for rules in _CHECKS.values() for _, _, check in rules}
    return checks | {f"ed25519.{c}" for c in ("size", "key", "r", "equation")}


def _b(text: str) -> bytes:
    return bytes.fromhex(text)


def tag(value: Any) -> Any:
    """A decoded msgpack value as JSON, the way ledger/web/test/corpus.mjs writes it."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, list):
        return [tag(v) for v in value]
    raise TypeError(type(value).__name__)


def _run_msgpack(i: dict[str, Any]) -> Any:
    return tag(unpack_array(_b(i["hex"]), "value"))


def _run_hash(i: dict[str, Any]) -> Any:
    if i["kind"] == "leaf":
        return merkle.leaf_hash(_b(i["data"])).hex()
    return merkle.node_hash(_b(i["left"]), _b(i["right"])).hex()


def _leaf(i: dict[str, Any]) -> bytes:
    return merkle.leaf_hash(_b(i["entry"])) if "entry" in i else _b(i["leaf_hash"])


def _run_inclusion(i: dict[str, Any]) -> Any:
    merkle.verify_inclusion(int(i["index"]), int(i["size"]), _leaf(i),
                            [_b(p) for p in i["proof"]], _b(i["root"]))
    return None


def _run_consistency(i: dict[str, Any]) -> Any:
    merkle.verify_consistency(int(i["size1"]), int(i["size2"]), [_b(p) for p in i["proof"]],
                              _b(i["root1"]), _b(i["root2"]))
    return None


def _opt(text: str | None) -> bytes | None:
    return None if text is None else _b(text)


def _run_map(i: dict[str, Any]) -> Any:
    proof = smt.MapProof(_b(i["key"]), _opt(i["leaf_key"]), _opt(i["leaf_value"]),
                         tuple(_b(s) for s in i["siblings"]))
    value = smt.verify_proof(_b(i["root"]), proof)
    return None if value is None else value.hex()


def _run_ed25519(i: dict[str, Any]) -> Any:
    pk, msg, sig = _b(i["pk"]), _b(i["msg"]), _b(i["sig"])
    ok = ed25519.verify(pk, msg, sig)
    if len(pk) != 32 or len(sig) != 64:
        why = "size"
    else:
        why = ed25519.rule_violation(pk, sig) or ("equation" if not ok else "")
    assert ok == (why == ""), "ed25519.verify disagrees with its own rule"
    if not ok:
        raise Refused(f"ed25519.{why}")
    return None


def _key(v: Any) -> dict[str, str]:
    return {"name": v.name, "key_id": v.key_id.hex(), "public_key": v.public_key.hex()}


def _note_data(i: dict[str, Any]) -> bytes | str:
    return _b(i["data"]) if "data" in i else i["text"]


def _note_value(note: Any, verified: list[Any]) -> dict[str, Any]:
    return {"text": note.text,
            "signatures": [[s.name, s.key_id.hex(), s.signature.hex()] for s in note.signatures],
            "verified": [f"{v.name}+{v.key_id.hex()}" for v in verified]}


def _run_note(i: dict[str, Any]) -> Any:
    note, verified = open_note(_note_data(i), [parse_verifier(v) for v in i["verifiers"]])
    return _note_value(note, verified)


def _run_checkpoint(i: dict[str, Any]) -> Any:
    cp = open_checkpoint(_note_data(i), parse_verifier(i["verifier"]))
    return {"origin": cp.origin, "size": str(cp.size), "root": cp.root.hex()}


def _run_parse_checkpoint(i: dict[str, Any]) -> Any:
    cp = parse_checkpoint(i["text"])
    return {"origin": cp.origin, "size": str(cp.size), "root": cp.root.hex()}


def _run_witness(i: dict[str, Any]) -> Any:
    times = check_witness_policy(i["note"], [parse_cosigner(w) for w in i["witnesses"]],
                                 min_witnesses=i["min"], max_age_ms=i["max_age_ms"],
                                 now_ms=i["now_ms"])
    return {label: str(ts) for label, ts in times.items()}


_RUN: dict[str, Callable[[dict[str, Any]], Any]] = {
    "msgpack": _run_msgpack, "hash": _run_hash, "inclusion": _run_inclusion,
    "consistency": _run_consistency, "map": _run_map, "ed25519": _run_ed25519,
    "verifier-key": lambda i: _key(parse_verifier(i["text"])),
    "cosigner-key": lambda i: _key(parse_cosigner(i["text"])),
    "note": _run_note, "checkpoint": _run_checkpoint,
    "parse-checkpoint": _run_parse_checkpoint, "witness": _run_witness,
}


def python_verdict(domain: str, inp: dict[str, Any]) -> dict[str, Any]:
    """What the Python code says of ``inp``: accepted with a value, or the check it fails."""
    try:
        value = _RUN[domain](inp)
    except LedgerError as exc:
        return {"ok": False, "check": classify(domain, exc), "value": None}
    return {"ok": True, "check": None, "value": value}


class Cases:
    """The cases, with their Python verdicts, in the order they are added."""

    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.names: set[str] = set()

    def add(self, domain: str, name: str, inp: dict[str, Any]) -> dict[str, Any]:
        inp = json.loads(json.dumps(inp))  # exactly what the JavaScript side reads
        case_id = f"{domain}/{name}"
        assert case_id not in self.names, case_id
        self.names.add(case_id)
        case = {"id": case_id, "domain": domain, "input": inp,
                "expect": python_verdict(domain, inp)}
        self.cases.append(case)
        return case


# ------------------------------------------------------------------------------ real stores


def _seed32(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@functools.cache
def _signer(name: str) -> Signer:
    return Signer(name, _seed32("web corpus " + name))


class Store:
    """A real ledger store and what the corpus takes from it."""

    def __init__(self, ledger: Ledger, log: Signer) -> None:
        self.ledger = ledger
        self.log = log
        self.checkpoints: list[int] = []
        self.map_ids: list[tuple[str, str, str]] = []

    @property
    def size(self) -> int:
        return self.ledger.head().size

    def entries(self) -> list[bytes]:
        return [self.ledger.entry_bytes(i) for i in range(self.size)]

    def checkpoint(self) -> int:
        self.ledger.checkpoint()
        self.checkpoints.append(self.size)
        return self.size


def _deterministic_keys() -> Any:
    """Ledger.create draws its log and registry keys at random: here they derive from their
    names, so that the corpus is the same on every run."""
    return mock.patch.object(Signer, "generate",
                             classmethod(lambda cls, name: _signer(name)))


def story_store(path: Path) -> Store:
    """A store with every statement kind: two issuers and their achievements, a rotation, a
    key flagged as compromised after its rotation, a revocation, a suspension, a
    reinstatement, a status list publication, a retirement. Credentials are named by handles
    (tests/statements.py: ``named``)."""
    clock = itertools.count(T0 + 250, 60_000)
    with _deterministic_keys():
        ledger, log, registry = Ledger.create(path, ORIGIN, clock=lambda: next(clock))
    store = Store(ledger, log)
    uni, uni2, poly = _signer("uni-a"), _signer("uni-b"), _signer("poly")
    times = itertools.count(T0, 1000)

    def add(signer: Signer, kind: str, issuer: str, *fields: Any) -> None:
        st = make_statement(kind, issuer, next(times), *fields)
        ledger.append([sign_statement(st, signer.seed)])

    def put(signer: Signer, st: Any) -> None:
        ledger.append([sign_statement(st, signer.seed)])

    def issue(signer: Signer, issuer: str, cred: str, **kw: Any) -> None:
        put(signer, statements.issue(issuer, next(times), named(cred),
                                     digest=_seed32("credential " + cred),
                                     valid_until=kw.get("expires"),
                                     parts=[named(p) for p in kw.get("parts", ())]))
        store.map_ids.append(("cred", issuer, named(cred)))

    def change(signer: Signer, kind: str, issuer: str, cred: str, reason: str) -> None:
        put(signer, statements.status(kind, issuer, next(times), named(cred), reason))

    add(registry, REGISTER_ISSUER, "uni", "Example University \u00e9", "https://uni.example",
        uni.public_key)
    put(uni, statements.register_achievement("uni", next(times)))
    issue(uni, "uni", "c1", expires=T0 + 400 * DAY)
    issue(uni, "uni", "c2")
    issue(uni, "uni", "c3", parts=("c1",))
    store.checkpoint()
    change(uni, REVOKE, "uni", "c2", "issued-in-error")
    issue(uni, "uni", "c4")
    change(uni, SUSPEND, "uni", "c4", "under-review")
    change(uni, REINSTATE, "uni", "c4", "review-complete")
    issue(uni, "uni", "c6")
    change(uni, SUSPEND, "uni", "c6", "unspecified")
    store.checkpoint()
    issue(uni, "uni", "c7", expires=T0 + 10 * DAY)
    put(uni, statements.publish("uni", next(times), tree_size=ledger.head().size))
    add(uni, ROTATE_KEY, "uni", uni2.public_key)
    issue(uni2, "uni", "c5", parts=("c4",))
    add(registry, REVOKE_KEY, "uni", key_id(uni.public_key), "laptop stolen", 2)
    add(registry, REGISTER_ISSUER, "poly", "Poly", "", poly.public_key)
    put(poly, statements.register_achievement("poly", next(times), "eng100"))
    put(poly, statements.issue("poly", next(times), named("p1"), achievement="eng100",
                               digest=_seed32("credential p1")))
    store.map_ids.append(("cred", "poly", named("p1")))
    add(registry, REVOKE_KEY, "poly", key_id(poly.public_key), "compromised")
    add(registry, RETIRE_ISSUER, "poly", "merged")
    store.checkpoint()
    store.map_ids += [("issuer", "uni", ""), ("issuer", "poly", ""),
                      ("key", "uni", key_id(uni.public_key)),
                      ("key", "uni", key_id(uni2.public_key)),
                      ("key", "poly", key_id(poly.public_key)),
                      ("achievement", "uni", statements.ACHIEVEMENT),
                      ("cred", "uni", named("c9")), ("cred", "poly", named("c1")),
                      ("issuer", "nobody", ""), ("key", "uni", "0" * 16),
                      ("cred", "nobody", named("c1"))]
    return store


def registrar_store(path: Path, count: int = 400) -> Store:
    """A registrar that issues ``count`` credentials in four batches, revoking some between
    (credential ``n`` is ``handle(n)``, at status index ``n``)."""
    clock = itertools.count(T0 + 500, 3_600_000)
    with _deterministic_keys():
        ledger, log, registry = Ledger.create(path, "registrar.example/log",
                                              clock=lambda: next(clock))
    store = Store(ledger, log)
    key = _signer("registrar")
    times = itertools.count(T0, 10)
    ledger.append([sign_statement(make_statement(
        REGISTER_ISSUER, "reg", next(times), "Registrar", "https://reg.example", key.public_key),
        registry.seed)])
    ledger.append([sign_statement(statements.register_achievement("reg", next(times)),
                                  key.seed)])
    per = count // 4
    for batch in range(4):
        items = []
        for n in range(batch * per, (batch + 1) * per):
            st = statements.issue("reg", next(times), n, digest=_seed32(f"S{n:05d}"))
            items.append(sign_statement(st, key.seed))
        ledger.append(items)
        if batch:
            ledger.append([sign_statement(statements.status(
                REVOKE, "reg", next(times), batch * 7, "issued-in-error"), key.seed)])
        store.checkpoint()
    store.map_ids += [("cred", "reg", handle(n)) for n in range(0, count, 13)]
    store.map_ids += [("cred", "reg", handle(count + n)) for n in range(12)]
    store.map_ids += [("issuer", "reg", ""), ("key", "reg", key_id(key.public_key))]
    return store


# ------------------------------------------------------------------------------ msgpack


class _Forced(random.Random):
    """A Random whose first ``randrange(n)`` call returns ``op``: that is how test_fuzz's
    mutators pick their mutation kind, so each kind can be asked for in turn."""

    def __init__(self, seed: Any, n: int, op: int) -> None:
        super().__init__(seed)
        self._n, self._op, self._used = n, op, False

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if not self._used and stop is None and start == self._n:
            self._used = True
            return self._op
        return super().randrange(start, stop, step)


MSGPACK_EDGES: dict[str, bytes] = {
    # shortest forms and their longer spellings
    "empty-array": b"\x90", "nil": b"\x91\xc0", "bools": b"\x92\xc2\xc3",
    "fixint-127": b"\x91\x7f", "uint8-127": b"\x91\xcc\x7f", "uint8-128": b"\x91\xcc\x80",
    "uint16-255": b"\x91\xcd\x00\xff", "uint16-256": b"\x91\xcd\x01\x00",
    "uint32-65535": b"\x91\xce\x00\x00\xff\xff", "uint32-65536": b"\x91\xce\x00\x01\x00\x00",
    "uint64-2^32-1": b"\x91\xcf\x00\x00\x00\x00\xff\xff\xff\xff",
    "uint64-2^32": b"\x91\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
    "uint64-max": b"\x91\xcf" + b"\xff" * 8, "uint64-2^63": b"\x91\xcf\x80" + bytes(7),
    "uint64-2^53+1": b"\x91\xcf\x00\x20\x00\x00\x00\x00\x00\x01",
    "example-time": b"\x91\xcf\x00\x00\x01\x9b\x76\xda\xa8\x00",
    # negative integers: canonical in the shortest signed type, refused later by field checks
    "neg-fixint": b"\x91\xff", "neg-fixint-32": b"\x91\xe0", "int8-neg33": b"\x91\xd0\xdf",
    "int8-neg32": b"\x91\xd0\xe0", "int8-neg128": b"\x91\xd0\x80", "int16-neg129": b"\x91\xd1\xff\x7f",
    "int16-neg128": b"\x91\xd1\xff\x80", "int32-neg32769": b"\x91\xd2\xff\xff\x7f\xff",
    "int64-min": b"\x91\xd3\x80" + bytes(7), "int64-neg2^31": b"\x91\xd3\xff\xff\xff\xff\x80\x00\x00\x00",
    "int64-neg2^31-1": b"\x91\xd3\xff\xff\xff\xff\x7f\xff\xff\xff",
    # positive values in signed types
    "int8-1": b"\x91\xd0\x01", "int64-1": b"\x91\xd3" + bytes(7) + b"\x01",
    "int16-200": b"\x91\xd1\x00\xc8",
    # text and bytes
    "fixstr": b"\x91\xa3uni", "str8-short": b"\x91\xd9\x03uni", "str8-32": b"\x91\xd9\x20" + b"a" * 32,
    "fixstr-31": b"\x91\xbf" + b"a" * 31, "str16-short": b"\x91\xda\x00\x03uni",
    "str-utf8": b"\x91\xa2\xc3\xa9", "str-bom": b"\x91\xa3\xef\xbb\xbf", "str-nonchar": b"\x91\xa3\xef\xbf\xbf",
    "str-astral": b"\x91\xa4\xf0\x9f\x90\x8d", "str-nul": b"\x91\xa1\x00",
    "str-invalid": b"\x91\xa1\xff", "str-overlong": b"\x91\xa2\xc0\xaf",
    "str-surrogate": b"\x91\xa3\xed\xa0\x80", "str-truncated-utf8": b"\x91\xa1\xc3",
    "str-above-max": b"\x91\xa4\xf4\x90\x80\x80", "bin8": b"\x91\xc4\x02\x00\x01",
    "bin8-empty": b"\x91\xc4\x00", "bin16-short": b"\x91\xc5\x00\x02\x00\x01",
    "bin32-short": b"\x91\xc6\x00\x00\x00\x02\x00\x01", "bin-as-str": b"\x91\xa2\x00\x01",
    # arrays
    "array16-short": b"\xdc\x00\x01\xc0", "array32-short": b"\xdd\x00\x00\x00\x01\xc0",
    "array16-16": b"\xdc\x00\x10" + b"\xc0" * 16, "fixarray-15": b"\x9f" + b"\xc0" * 15,
    "array16-empty": b"\xdc\x00\x00", "array-huge-count": b"\xdd\xff\xff\xff\xff",
    # not arrays
    "top-int": b"\x01", "top-nil": b"\xc0", "top-str": b"\xa1a", "top-map": b"\x80",
    "top-map-intkey": b"\x81\x01\x02", "top-float": b"\xcb" + bytes(8), "top-bool": b"\xc3",
    "top-bin": b"\xc4\x00", "top-ext": b"\xd4\x01\x00",
    # refused types inside
    "float32": b"\x91\xca\x00\x00\x00\x00", "float64": b"\x91\xcb" + bytes(8),
    "map-str-key": b"\x91\x81\xa1a\x01", "map-bin-key": b"\x91\x81\xc4\x00\x01",
    "map-int-key": b"\x91\x81\x01\x02", "map-nil-key": b"\x91\x81\xc0\x02",
    "map-list-key": b"\x91\x81\x91\x01\x02", "map-map-key": b"\x91\x81\x80\x01",
    "map-empty": b"\x91\x80", "map16-empty": b"\x91\xde\x00\x00", "map32": b"\x91\xdf\x00\x00\x00\x00",
    "map-dup-keys": b"\x91\x82\xa1a\x01\xa1a\x02",
    "ext-fix1": b"\x91\xd4\x05\x00", "ext-fix2": b"\x91\xd5\x05\x00\x00",
    "ext-fix16": b"\x91\xd8\x7f" + bytes(16), "ext8": b"\x91\xc7\x03\x01abc",
    "ext16": b"\x91\xc8\x00\x01\x01a", "ext32": b"\x91\xc9\x00\x00\x00\x01\x01a",
    "ext-neg-type": b"\x91\xd4\x80\x00",
    "ts32": b"\x91\xd6\xff\x00\x00\x00\x00", "ts64-ok": b"\x91\xd7\xff" + bytes(8),
    "ts64-max-nanos": b"\x91\xd7\xff" + ((999_999_999 << 34).to_bytes(8, "big")),
    "ts64-bad-nanos": b"\x91\xd7\xff" + ((1_000_000_000 << 34).to_bytes(8, "big")),
    "ts96-ok": b"\x91\xc7\x0c\xff" + (999_999_999).to_bytes(4, "big") + bytes(8),
    "ts96-bad-nanos": b"\x91\xc7\x0c\xff" + (1_000_000_000).to_bytes(4, "big") + bytes(8),
    "ts-bad-length": b"\x91\xd5\xff\x00\x00", "ts-ext8-4": b"\x91\xc7\x04\xff\x00\x00\x00\x00",
    "ts-ext8-0": b"\x91\xc7\x00\xff", "float-then-truncated": b"\x92\xca\x00\x00\x00\x00\xa3ab",
    "float-then-deep": b"\x92\xca\x00\x00\x00\x00" + b"\x91" * 9 + b"\xc0",
    "deep-then-float": b"\x92" + b"\x91" * 9 + b"\xc0" + b"\xca\x00\x00\x00\x00",
    "map-in-deep": b"\x91" * 7 + b"\x80", "map-in-too-deep": b"\x91" * 9 + b"\x80",
    # nesting: 8 levels allowed, 9 refused; msgpack-python holds at most 1024 containers
    "depth-8": b"\x91" * 7 + b"\x90", "depth-9": b"\x91" * 8 + b"\x90",
    "depth-1024": b"\x91" * 1023 + b"\xc0", "depth-1024-empty": b"\x91" * 1023 + b"\x90",
    "depth-1025-empty": b"\x91" * 1024 + b"\x90", "depth-1025": b"\x91" * 1024 + b"\x91\xc0",
    "depth-1024-open": b"\x91" * 1024, "depth-1025-map": b"\x81\xa0" * 1025 + b"\xc0",
    "depth-5000": b"\x91" * 5000 + b"\xc0",
    # framing
    "empty": b"", "trailing": b"\x90\x00", "trailing-nil": b"\x91\xc0\xc0", "truncated": b"\x92\xc0",
    "truncated-str": b"\x91\xa5ab", "truncated-uint": b"\x91\xcd\x01", "c1": b"\x91\xc1",
    "c1-top": b"\xc1", "str32-huge": b"\x91\xdb\xff\xff\xff\xff",
    "bin32-huge": b"\x91\xc6\xff\xff\xff\xff",
}


def _msgpack_cases(cases: Cases, stores: list[Store]) -> None:
    import test_fuzz  # its mutators: the same byte-mutation kinds, kept in step

    valid: list[bytes] = []
    for n, store in enumerate(stores):
        entries = store.entries()
        picked = entries if len(entries) <= 40 else entries[:20] + entries[-20:]
        for i, e in enumerate(picked):
            valid.append(e)
            valid.append(decode_entry(e).statement)
        for kind, issuer, ident in store.map_ids:
            rec = store.ledger.record(kind, issuer, ident)
            if rec is not None:
                valid.append(rec.encode())
        valid.append(pack([kind for kind, _, _ in store.map_ids]))
    valid = list(dict.fromkeys(valid))
    for i, data in enumerate(valid):
        cases.add("msgpack", f"valid-{i}", {"hex": data.hex()})
    for name, data in MSGPACK_EDGES.items():
        cases.add("msgpack", f"edge-{name}", {"hex": data.hex()})
    rng = random.Random(SEED)
    pool = valid[:8]
    for op in range(12):
        for n in range(24):
            seed = rng.choice(valid)
            out = test_fuzz.mutate_bytes(_Forced(SEED * 100 + op * 1000 + n, 12, op), seed, pool)
            cases.add("msgpack", f"mutate-bytes-op{op}-{n}", {"hex": out.hex()})
    for n in range(160):
        seed = rng.choice(valid)
        out = test_fuzz.mutate_msgpack(random.Random(SEED + 7 * n), seed, pool)
        cases.add("msgpack", f"mutate-msgpack-{n}", {"hex": out.hex()})
    for n in range(40):
        cases.add("msgpack", f"raw-{n}", {"hex": test_fuzz.raw_bytes(random.Random(SEED - n)).hex()})


# ------------------------------------------------------------------------------ RFC 9162


def _tree(leaves: list[bytes]) -> Callable[[int, int], bytes]:
    hashes = [merkle.leaf_hash(x) for x in leaves]

    @functools.cache
    def subtree(begin: int, end: int) -> bytes:
        return merkle.root_of(hashes[begin:end])
    return subtree


def _inclusion(leaves: list[bytes], index: int, size: int) -> list[bytes]:
    sub = _tree(leaves)
    return [sub(b, e) for b, e in merkle.inclusion_path(index, size)]


def _consistency(leaves: list[bytes], size1: int, size2: int) -> list[bytes]:
    sub = _tree(leaves)
    return [sub(b, e) for b, e in merkle.consistency_path(size1, size2)]


def _flip(data: bytes, bit: int = 0) -> bytes:
    i = (bit // 8) % len(data)
    return data[:i] + bytes([data[i] ^ (1 << (bit % 8))]) + data[i + 1:]


def _hexes(items: list[bytes]) -> list[str]:
    return [x.hex() for x in items]


def _merkle_cases(cases: Cases, stores: list[Store]) -> None:
    vectors = json.loads((VECTORS / "rfc6962.json").read_text(encoding="utf-8"))
    leaves6962 = [_b(x) for x in vectors["leaves"]]
    cases.add("hash", "leaf-empty", {"kind": "leaf", "data": ""})
    for i, leaf in enumerate(leaves6962):
        cases.add("hash", f"leaf-{i}", {"kind": "leaf", "data": leaf.hex()})
    cases.add("hash", "node-0-1", {"kind": "node", "left": merkle.leaf_hash(leaves6962[0]).hex(),
                                   "right": merkle.leaf_hash(leaves6962[1]).hex()})
    rng = random.Random(SEED + 1)
    trees: list[tuple[str, list[bytes]]] = [("rfc6962", leaves6962)]
    for n in (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 100):
        trees.append((f"random{n}", [rng.randbytes(rng.randint(0, 40)) for _ in range(n)]))
    for s, store in enumerate(stores):
        trees.append((f"store{s}", store.entries()))

    for name, leaves in trees:
        size = len(leaves)
        sub = _tree(leaves)
        root = sub(0, size)
        indexes = sorted({0, size - 1, size // 2, rng.randrange(size)})
        for index in indexes:
            proof = _inclusion(leaves, index, size)
            base = {"index": str(index), "size": str(size), "entry": leaves[index].hex(),
                    "proof": _hexes(proof), "root": root.hex()}
            cases.add("inclusion", f"{name}-{index}-valid", base)
            tampers: dict[str, dict[str, Any]] = {
                "root-flipped": {"root": _flip(root, index).hex()},
                "entry-changed": {"entry": (leaves[index] + b"\x00").hex()},
                "index+1": {"index": str(index + 1)},
                "index-1": {"index": str(index - 1)},
                "size+1": {"size": str(size + 1)},
                "size-1": {"size": str(size - 1)},
                "size-0": {"size": "0"},
                "index=size": {"index": str(size)},
                "size-2^64-1": {"size": str(2**64 - 1)},
                "index-2^63": {"index": str(2**63), "size": str(2**63 + 1)},
                "extra-hash": {"proof": _hexes(proof + [root])},
                "leaf-hash-31": {"leaf_hash": bytes(31).hex()},
                "root-33": {"root": (root + b"\x00").hex()},
            }
            if proof:
                tampers |= {
                    "hash-flipped": {"proof": _hexes([_flip(proof[0], 7)] + proof[1:])},
                    "last-hash-flipped": {"proof": _hexes(proof[:-1] + [_flip(proof[-1], 200)])},
                    "hash-dropped": {"proof": _hexes(proof[:-1])},
                    "first-dropped": {"proof": _hexes(proof[1:])},
                    "hash-31": {"proof": _hexes([proof[0][:31]] + proof[1:])},
                    "reversed": {"proof": _hexes(proof[::-1])},
                    "leaf-as-hash": {"proof": _hexes([merkle.leaf_hash(leaves[index])] + proof[1:])},
                }
            if len(proof) > 1:
                tampers["swapped"] = {"proof": _hexes([proof[1], proof[0]] + proof[2:])}
            for t, change in tampers.items():
                inp = dict(base, **change)
                if "leaf_hash" in change:
                    del inp["entry"]
                cases.add("inclusion", f"{name}-{index}-{t}", inp)
        # consistency
        pairs = {(0, size), (size, size), (1, size), (size // 2, size), (rng.randint(1, size), size)}
        for size1, size2 in sorted(pairs):
            proof = _consistency(leaves, size1, size2) if size1 else []
            root1 = sub(0, size1) if size1 else merkle.EMPTY_ROOT
            base = {"size1": str(size1), "size2": str(size2), "proof": _hexes(proof),
                    "root1": root1.hex(), "root2": root.hex()}
            cases.add("consistency", f"{name}-{size1}-{size2}-valid", base)
            tampers = {
                "root1-flipped": {"root1": _flip(root1, 3).hex()},
                "root2-flipped": {"root2": _flip(root, 9).hex()},
                "swapped-sizes": {"size1": str(size2), "size2": str(size1)},
                "size1+1": {"size1": str(size1 + 1)},
                "size2+1": {"size2": str(size2 + 1)},
                "size1-negative": {"size1": "-1"},
                "sizes-huge": {"size1": str(2**63), "size2": str(2**64 - 1)},
                "extra-hash": {"proof": _hexes(proof + [root])},
                "root1-31": {"root1": root1[:31].hex()},
            }
            if proof:
                tampers |= {
                    "hash-flipped": {"proof": _hexes([_flip(proof[0], 1)] + proof[1:])},
                    "last-flipped": {"proof": _hexes(proof[:-1] + [_flip(proof[-1], 77)])},
                    "hash-dropped": {"proof": _hexes(proof[:-1])},
                    "empty-proof": {"proof": []},
                    "hash-33": {"proof": _hexes(proof[:-1] + [proof[-1] + b"\x00"])},
                }
            if len(proof) > 1:
                tampers["reversed"] = {"proof": _hexes(proof[::-1])}
            for t, change in tampers.items():
                cases.add("consistency", f"{name}-{size1}-{size2}-{t}", dict(base, **change))
    # The RFC 6962 vectors' own proofs.
    for n, v in enumerate(vectors.get("inclusion", [])):
        cases.add("inclusion", f"rfc6962-vector-{n}", {
            "index": str(v["index"]), "size": str(v["size"]),
            "entry": leaves6962[v["index"]].hex(), "proof": v["proof"],
            "root": vectors["roots"][str(v["size"])]})
    for n, v in enumerate(vectors.get("consistency", [])):
        cases.add("consistency", f"rfc6962-vector-{n}", {
            "size1": str(v["size1"]), "size2": str(v["size2"]), "proof": v["proof"],
            "root1": vectors["roots"][str(v["size1"])], "root2": vectors["roots"][str(v["size2"])]})


# ------------------------------------------------------------------------------ status map


def _proof_input(root: bytes, p: smt.MapProof) -> dict[str, Any]:
    return {"root": root.hex(), "key": p.key.hex(),
            "leaf_key": None if p.leaf_key is None else p.leaf_key.hex(),
            "leaf_value": None if p.leaf_value is None else p.leaf_value.hex(),
            "siblings": _hexes(list(p.siblings))}


def _map_tampers(base: dict[str, Any], rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    sib = base["siblings"]
    leaf_key, leaf_value, key = base["leaf_key"], base["leaf_value"], base["key"]

    def flip(h: str, bit: int = 0) -> str:
        return _flip(_b(h), bit).hex()

    yield "root-flipped", {"root": flip(base["root"], 255)}
    yield "key-flipped-first-bit", {"key": flip(key, 7)}
    yield "key-flipped-last-bit", {"key": flip(key, 248)}
    yield "extra-sibling-empty", {"siblings": sib + ["00" * 32]}
    yield "extra-sibling", {"siblings": sib + [rng.randbytes(32).hex()]}
    yield "root-31", {"root": base["root"][:62]}
    yield "key-33", {"key": key + "00"}
    yield "257-siblings", {"siblings": (sib + [rng.randbytes(32).hex()] * 257)[:257]}
    if sib:
        yield "sibling-flipped", {"siblings": [flip(sib[0], 3)] + sib[1:]}
        yield "deepest-flipped", {"siblings": sib[:-1] + [flip(sib[-1], 100)]}
        yield "deepest-empty", {"siblings": sib[:-1] + ["00" * 32]}
        yield "top-dropped", {"siblings": sib[1:]}
        yield "deepest-dropped", {"siblings": sib[:-1]}
        yield "sibling-31", {"siblings": sib[:-1] + [sib[-1][:62]]}
        yield "reversed", {"siblings": sib[::-1]}
    if leaf_key is None:
        yield "made-present", {"leaf_key": key, "leaf_value": rng.randbytes(32).hex()}
        yield "half-leaf", {"leaf_value": rng.randbytes(32).hex()}
    else:
        yield "value-flipped", {"leaf_value": flip(leaf_value, 5)}
        yield "leaf-key-flipped", {"leaf_key": flip(leaf_key, 254)}
        yield "leaf-key-first-bit", {"leaf_key": flip(leaf_key, 7)}
        yield "leaf-dropped", {"leaf_key": None, "leaf_value": None}
        yield "half-leaf", {"leaf_value": None}
        yield "swapped-leaf", {"leaf_key": leaf_value, "leaf_value": leaf_key}
        yield "value-31", {"leaf_value": leaf_value[:62]}
        yield "key-is-leaf-value", {"key": leaf_value}


def _synthetic_map(keys: list[bytes]) -> tuple[bytes, Callable[[bytes], smt.MapProof]]:
    nodes: dict[bytes, bytes] = {}
    writer = smt.MapWriter(nodes.get)
    for k in keys:
        writer.set(k, hashlib.sha256(b"value " + k).digest())
    nodes.update(writer.new_nodes())
    root = writer.root
    reader = smt.SparseMap(nodes.get, root)
    return root, reader.prove


def _map_cases(cases: Cases, stores: list[Store]) -> None:
    rng = random.Random(SEED + 2)
    for s, store in enumerate(stores):
        entries = store.entries()
        for size in store.checkpoints:
            root = decode_entry(entries[size - 1]).state_root
            ids = store.map_ids if size == store.checkpoints[-1] else store.map_ids[::3]
            for kind, issuer, ident in ids:
                p, _ = store.ledger.map_proof(map_key(kind, issuer, ident), root)
                name = f"store{s}-{size}-{kind}-{issuer}-{ident or '-'}"
                base = _proof_input(root, p)
                cases.add("map", f"{name}-valid", base)
                if size == store.checkpoints[-1] and (s == 0 or rng.random() < 0.3):
                    for t, change in _map_tampers(base, rng):
                        cases.add("map", f"{name}-{t}", dict(base, **change))
    # Synthetic maps: keys that share 255, 254, 200 bits with others; an empty map.
    x = bytearray(rng.randbytes(32))
    x[31] &= 0xFC
    k1 = bytes(x)
    k2 = k1[:31] + bytes([k1[31] | 1])      # shares 255 bits with k1: both at depth 256
    k3 = k1[:31] + bytes([k1[31] | 2])      # shares 254 bits with k1 and k2
    k4 = _flip(k1, 8 * 25 + 7)              # shares 200 bits
    others = [rng.randbytes(32) for _ in range(6)]
    root, prove = _synthetic_map([k1, k2, k3, k4, *others])
    absent = [k1[:31] + bytes([k1[31] | 3]), _flip(k1, 8 * 25 + 6), _flip(k1, 0),
              rng.randbytes(32), k4[:31] + bytes([k4[31] ^ 1])]
    for n, k in enumerate([k1, k2, k3, k4, *others[:2], *absent]):
        p = prove(k)
        base = _proof_input(root, p)
        cases.add("map", f"synthetic-{n}-depth{len(p.siblings)}-valid", base)
        for t, change in _map_tampers(base, rng):
            cases.add("map", f"synthetic-{n}-{t}", dict(base, **change))
    deep = _proof_input(root, prove(k1))
    assert len(deep["siblings"]) == 256
    cases.add("map", "synthetic-empty-at-256", dict(deep, leaf_key=None, leaf_value=None))
    cases.add("map", "synthetic-absence-leaf-at-256", dict(deep, key=k2.hex()))
    cases.add("map", "empty-map-absent", {"root": "00" * 32, "key": k1.hex(), "leaf_key": None,
                                          "leaf_value": None, "siblings": []})
    cases.add("map", "empty-map-claims-leaf", {"root": "00" * 32, "key": k1.hex(),
                                               "leaf_key": k1.hex(), "leaf_value": k1.hex(),
                                               "siblings": []})
    one_root, one_prove = _synthetic_map([k1])
    for n, k in enumerate((k1, k2, rng.randbytes(32))):
        cases.add("map", f"one-key-{n}", _proof_input(one_root, one_prove(k)))


# ------------------------------------------------------------------------------ Ed25519


L = 2**252 + 27742317777372353535851937790883648493


def _ed25519_cases(cases: Cases) -> None:
    data = json.loads((VECTORS / "wycheproof-ed25519.json").read_text(encoding="utf-8"))
    for group in data["testGroups"]:
        for t in group["tests"]:
            cases.add("ed25519", f"wycheproof-{t['tcId']}",
                      {"pk": group["publicKey"]["pk"], "msg": t["msg"], "sig": t["sig"]})
    spec = json.loads((VECTORS / "ed25519-speccheck.json").read_text(encoding="utf-8"))
    for n, c in enumerate(spec):
        cases.add("ed25519", f"speccheck-{n}",
                  {"pk": c["pub_key"], "msg": c["message"], "sig": c["signature"]})
    signer = _signer("ed25519-tampers")
    pk = signer.public_key
    msg = b"credential-ledger/v1 statement\n\x93\xa5issue"
    sig = signer.sign(msg)
    r, s = sig[:32], int.from_bytes(sig[32:], "little")
    tampers = {
        "valid": (pk, msg, sig),
        "message-flipped": (pk, _flip(msg, 3), sig),
        "message-empty": (pk, b"", sig),
        "r-flipped": (pk, msg, _flip(r, 9) + sig[32:]),
        "s-flipped": (pk, msg, r + _flip(sig[32:], 9)),
        "s-plus-l": (pk, msg, r + (s + L).to_bytes(32, "little")),
        "s-plus-8l": (pk, msg, r + ((s + 8 * L) % 2**256).to_bytes(32, "little")),
        "s-zero": (pk, msg, r + bytes(32)),
        "s-l": (pk, msg, r + L.to_bytes(32, "little")),
        "key-flipped": (_flip(pk, 1), msg, sig),
        "key-sign-bit": (pk[:31] + bytes([pk[31] ^ 0x80]), msg, sig),
        "key-identity": (bytes([1]) + bytes(31), msg, sig),
        "key-noncanonical": (bytes([0xef]) + b"\xff" * 30 + b"\x7f", msg, sig),
        "key-noncanonical-sign": (bytes([0xf0]) + b"\xff" * 31, msg, sig),
        "key-31": (pk[:31], msg, sig),
        "key-33": (pk + b"\x00", msg, sig),
        "sig-63": (pk, msg, sig[:63]),
        "sig-65": (pk, msg, sig + b"\x00"),
        "sig-empty": (pk, msg, b""),
        "r-identity": (pk, msg, bytes([1]) + bytes(31) + sig[32:]),
        "r-order-8-sign": (pk, msg, _b("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b138"
                                       "02886d53fc85") + sig[32:]),
        "r-noncanonical": (pk, msg, _b("f0" + "ff" * 30 + "7f") + sig[32:]),
        "other-key": (_signer("other").public_key, msg, sig),
    }
    for name, (k, m, sg) in tampers.items():
        cases.add("ed25519", f"tamper-{name}", {"pk": k.hex(), "msg": m.hex(), "sig": sg.hex()})


# ------------------------------------------------------------------------------ notes and keys


def _colliding_keys(name: str, key_id_of: Callable[[str, bytes], bytes]) -> tuple[bytes, bytes]:
    """Two 32-byte keys whose key ids under ``name`` are equal (a birthday search over 2^32)."""
    rng = random.Random(SEED + len(name))
    seen: dict[bytes, bytes] = {}
    while True:
        k = rng.randbytes(32)
        i = key_id_of(name, k)
        if i in seen and seen[i] != k:
            return seen[i], k
        seen[i] = k


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _noncanonical(b64: str) -> str:
    """The same bytes spelled with a non-zero unused trailing bit (``b64`` is padded)."""
    data = b64.rstrip("=")
    pad = len(b64) - len(data)
    assert pad in (1, 2), b64
    return data[:-1] + _B64[_B64.index(data[-1]) | 1] + "=" * pad


def _padded(body: str, line: str, total: int) -> str:
    """A note of ``total`` UTF-8 bytes: ``body`` after a run of x's, then ``line``."""
    fixed = len(f"\n{body}\n\n{line}".encode())
    return "x" * (total - fixed) + f"\n{body}\n\n{line}"


def _note_key_id(name: str, pk: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]


def _vkey(name: str, pk: bytes, alg: int = 1) -> str:
    kid = (_note_key_id(name, pk) if alg == 1 else cosigner_key_id(name, pk)).hex()
    return f"{name}+{kid}+{b64encode(bytes([alg]) + pk)}"


def _key_string_cases(cases: Cases) -> None:
    good = _signer("keys.example/log")
    pk = good.public_key
    valid = str(good.verifier())
    name, kid, enc = valid.split("+", 2)
    raw = base64.b64decode(enc)
    texts = {
        "valid": valid,
        "valid-unicode-name": _vkey("caf\u00e9.example/\U0001f40d", pk),
        "valid-feff-name": _vkey("log\ufeff", pk),  # U+FEFF: not a space to Python
        "valid-del-name": _vkey("log\x7f", pk),
        "valid-c1-name": _vkey("log\x80", pk),
        "name-nel": _vkey("log\x85", pk),
        "name-nbsp": _vkey("log\xa0", pk),
        "name-info-sep": _vkey("log\x1c", pk),
        "name-tab": _vkey("log\t", pk),
        "name-ideographic-space": _vkey("log\u3000", pk),
        "name-line-sep": _vkey("log\u2028", pk),
        "name-zwsp": _vkey("log\u200b", pk),  # not a space to Python: accepted
        "name-empty": f"+{kid}+{enc}",
        "no-plus": valid.replace("+", "-"),
        "one-plus": f"{name}+{kid}",
        "plus-in-name": f"a+{valid}",
        "uppercase-id": f"{name}+{kid.upper()}+{enc}",
        "short-id": f"{name}+{kid[:7]}+{enc}",
        "id-mismatch": f"{name}+{'0' * 8 if kid != '0' * 8 else '1' * 8}+{enc}",
        "base64-extra-padding": f"{name}+{kid}+{enc}=",
        "base64-bad-char": f"{name}+{kid}+{enc[:-1]}*",
        "unpadded-base64": f"{name}+{kid}+{enc.rstrip('=')}",
        "urlsafe-base64": f"{name}+{kid}+{enc.replace('+', '-').replace('/', '_')}",
        "base64-space": f"{name}+{kid}+ {enc}",
        "type-4": f"{name}+{kid}+{b64encode(bytes([4]) + pk)}",
        "short-key": f"{name}+{kid}+{b64encode(raw[:32])}",
        "long-key": f"{name}+{kid}+{b64encode(raw + b'x')}",
        "leading-space": " " + valid,
        "trailing-newline": valid + "\n",
        "empty": "",
        "private-key": str(good),
    }
    for n, text in texts.items():
        cases.add("verifier-key", n, {"text": text})
    w = WitnessKey("w.example", _seed32("witness key strings"))
    wv = str(w.verifier())
    wname, wkid, wenc = wv.split("+", 2)
    wpk = w.verifier().public_key
    wtexts = {
        "valid": wv,
        "valid-unicode": _vkey("t\u00e9moin.example", wpk, 4),
        "surrounding-space": " \t" + wv + "\n ",
        "surrounding-info-sep": "\x1c" + wv + "\x85",
        "surrounding-feff": "\ufeff" + wv,  # not stripped by Python: then not printable
        "name-zwsp": _vkey("w\u200b", wpk, 4),
        "name-soft-hyphen": _vkey("w\xad", wpk, 4),
        "name-unassigned": _vkey("w\u0378", wpk, 4),
        "name-private-use": _vkey("w\ue000", wpk, 4),
        "name-del": _vkey("w\x7f", wpk, 4),
        "name-c1": _vkey("w\x80", wpk, 4),
        "name-nbsp": _vkey("w\xa0", wpk, 4),
        "name-line-sep": _vkey("w\u2028", wpk, 4),
        "name-emoji": _vkey("w\U0001f40d", wpk, 4),
        "name-combining": _vkey("w\u0301", wpk, 4),
        "name-empty": f"+{wkid}+{wenc}",
        "one-plus": f"{wname}+{wkid}",
        "uppercase-id": f"{wname}+{wkid.upper()}+{wenc}",
        "id-mismatch": f"{wname}+{'f' * 8 if wkid != 'f' * 8 else 'e' * 8}+{wenc}",
        "type-1": _vkey("w.example", wpk, 1).replace(
            _note_key_id("w.example", wpk).hex(), cosigner_key_id("w.example", wpk).hex()),
        "short-key": f"{wname}+{wkid}+{b64encode(bytes([4]) + wpk[:31])}",
        "base64-extra-padding": f"{wname}+{wkid}+{wenc}=",
        "log-key-string": valid,
        "private": str(w),
    }
    for n, text in wtexts.items():
        cases.add("cosigner-key", n, {"text": text})


def _note_cases(cases: Cases, stores: list[Store]) -> None:
    import test_fuzz

    story = stores[0]
    log_v = str(story.log.verifier())
    other_v = str(stores[1].log.verifier())
    uni, poly = _signer("uni-a"), _signer("poly")
    notes = [story.ledger.checkpoint_note(size) for size in story.checkpoints]
    notes += [stores[1].ledger.checkpoint_note(size) for size in stores[1].checkpoints[:2]]
    multi = sign_note("a note\n\nwith a blank line\n", uni, poly)
    trusted = [log_v, str(uni.verifier()), str(poly.verifier())]

    def add(name: str, data: bytes | str, verifiers: list[str]) -> None:
        inp: dict[str, Any] = {"verifiers": verifiers}
        if isinstance(data, bytes):
            inp["data"] = data.hex()
        else:
            inp["text"] = data
        cases.add("note", name, inp)

    for n, note in enumerate(notes):
        add(f"checkpoint-{n}", note.encode(), trusted)
        add(f"checkpoint-{n}-other-log", note.encode(), [other_v])
        add(f"checkpoint-{n}-as-text", note, trusted)
    add("multi-signed", multi.encode(), trusted)
    add("multi-signed-one-trusted", multi.encode(), [str(poly.verifier())])
    add("multi-signed-none-trusted", multi.encode(), [log_v])
    add("no-verifiers", notes[0].encode(), [])
    note0 = notes[-3]
    text0, sigs0 = note0.split("\n\n")
    line = sigs0
    foreign = sign_note(text0 + "\n", _signer("foreign")).split("\n\n")[1]
    same_name_other_key = sign_note(text0 + "\n", Signer(ORIGIN, _seed32("impostor"))).split("\n\n")[1]
    body_changed = text0.replace("\n", "\n", 1)[:-1] + ("A" if text0[-1] != "A" else "B")
    crafted: dict[str, str] = {
        "duplicate-line": f"{text0}\n\n{line}{line}",
        "foreign-line-first": f"{text0}\n\n{foreign}{line}",
        "foreign-line-only": f"{text0}\n\n{foreign}",
        "impostor-same-name": f"{text0}\n\n{same_name_other_key}",
        "impostor-and-log": f"{text0}\n\n{same_name_other_key}{line}",
        "body-changed": f"{body_changed}\n\n{line}",
        "blank-line-in-text": f"{text0}\n\nextra\n\n{line}",
        "crlf": f"{text0}\n\n{line}".replace("\n", "\r\n"),
        "no-final-newline": f"{text0}\n\n{line}"[:-1],
        "no-blank-line": f"{text0}\n{line}",
        "nothing-after-blank": f"{text0}\n\n",
        "hyphen-not-em-dash": f"{text0}\n\n" + line.replace("\u2014", "-", 1),
        "en-dash": f"{text0}\n\n" + line.replace("\u2014", "\u2013", 1),
        "no-space-after-dash": f"{text0}\n\n" + line.replace("\u2014 ", "\u2014", 1),
        "two-spaces": f"{text0}\n\n" + line.replace(" ", "  ", 1),
        "name-only": f"{text0}\n\n\u2014 {ORIGIN}\n",
        "tab-in-line": f"{text0}\n\n" + line.replace(" ", "\t", 1),
        "short-signature": f"{text0}\n\n\u2014 {ORIGIN} AAAA\n",
        "four-bytes": f"{text0}\n\n\u2014 {ORIGIN} AAAAAA==\n",
        "five-bytes": f"{text0}\n\n\u2014 {ORIGIN} AAAAAAA=\n",
        "noncanonical-base64": f"{text0}\n\n" + line[:line.rindex(" ") + 1]
                               + _noncanonical(line[line.rindex(" ") + 1:-1]) + "\n",
        "base64-bad-char": f"{text0}\n\n" + line[:-3] + "!" + line[-2:],
        "trailing-space": f"{text0}\n\n{line[:-1]} \n",
        "101-lines": f"{text0}\n\n" + foreign * 100 + line,
        "100-lines": f"{text0}\n\n" + foreign * 99 + line,
        "nul": f"{text0}\x00\n\n{line}",
        "tab-in-text": f"{text0}\t\n\n{line}",
        "del-in-text": f"{text0}\x7f\n\n{line}",
        "bom": f"\ufeff{text0}\n\n{line}",
        "nel-in-name": f"{text0}\n\n" + line.replace(ORIGIN, ORIGIN + "\x85", 1),
        "nbsp-in-name": f"{text0}\n\n" + line.replace(ORIGIN, ORIGIN + "\xa0", 1),
        "plus-in-name": f"{text0}\n\n" + line.replace(ORIGIN, ORIGIN + "+x", 1),
        "empty-name": f"{text0}\n\n" + line.replace(ORIGIN, "", 1),
        "lone-surrogate-text": f"{text0}\ud800\n\n{line}",
        "over-1mib": f"{text0}{'x' * (1 << 20)}\n\n{line}",
        "exactly-1mib": _padded(text0, line, 1 << 20),
        "1mib-and-one": _padded(text0, line, (1 << 20) + 1),
    }
    for name, text in crafted.items():
        if "surrogate" in name:
            add(name, text, trusted)
            add(f"{name}-bytes", text.encode("utf-8", "surrogatepass"), trusted)
        else:
            add(name, text.encode(), trusted)
    for name, data in {"invalid-utf8": note0.encode()[:5] + b"\xff" + note0.encode()[5:],
                       "utf16": note0.encode("utf-16"), "latin1-dash": note0.encode("utf-8").replace(
                           "\u2014".encode(), b"\x97"),
                       "overlong": note0.encode().replace(b"\n", b"\xc0\x8a", 1),
                       "empty": b"", "over-1mib-bytes": b"x" * ((1 << 20) + 1)}.items():
        add(name, data, trusted)
    # Trusted keys of one name whose 32-bit key ids collide: the trust list is ambiguous.
    a, b = _colliding_keys("collide.example", _note_key_id)
    add("ambiguous-trusted-keys", note0.encode(),
        [log_v, _vkey("collide.example", a), _vkey("collide.example", b)])
    add("same-key-twice", note0.encode(), [log_v, log_v])
    # Mutations as test_fuzz makes them (text kinds, then as bytes).
    rng = random.Random(SEED + 3)
    for n in range(120):
        op = n % 13
        text = test_fuzz.mutate_text(_Forced(SEED + 31 * n, 13, op), rng.choice(notes + [multi]),
                                     notes)
        add(f"mutate-text-op{op}-{n}", text.encode("utf-8", "surrogatepass"), trusted)

    # Checkpoints under the log key.
    log = story.log
    impostor = Signer("other.example/log", _seed32("other log"))
    root = b64encode(bytes(range(32)))

    def cp(name: str, text: str, signer: Signer = log, verifier: Signer | None = None) -> None:
        note = sign_note(text, signer)
        cases.add("checkpoint", name, {"data": note.encode().hex(),
                                       "verifier": str((verifier or signer).verifier())})

    for n, note in enumerate(notes[:3]):
        cases.add("checkpoint", f"stored-{n}", {"data": note.encode().hex(), "verifier": log_v})
        cases.add("checkpoint", f"stored-{n}-wrong-key", {"data": note.encode().hex(),
                                                          "verifier": other_v})
    cp("valid", f"{ORIGIN}\n5\n{root}\n")
    cp("size-0", f"{ORIGIN}\n0\n{b64encode(merkle.EMPTY_ROOT)}\n")
    cp("size-max", f"{ORIGIN}\n{2**64 - 1}\n{root}\n")
    cp("size-2^64", f"{ORIGIN}\n{2**64}\n{root}\n")
    cp("size-21-digits", f"{ORIGIN}\n{10**20}\n{root}\n")
    cp("size-leading-zero", f"{ORIGIN}\n05\n{root}\n")
    cp("size-plus", f"{ORIGIN}\n+5\n{root}\n")
    cp("size-arabic-digit", f"{ORIGIN}\n\u0665\n{root}\n")
    cp("size-space", f"{ORIGIN}\n5 \n{root}\n")
    cp("root-31", f"{ORIGIN}\n5\n{b64encode(bytes(31))}\n")
    cp("root-noncanonical", f"{ORIGIN}\n5\n{_noncanonical(root)}\n")
    cp("extension-line", f"{ORIGIN}\n5\n{root}\nextension\n")
    cp("two-lines", f"{ORIGIN}\n5\n")
    cp("origin-mismatch", f"{ORIGIN}\n5\n{root}\n", impostor)
    cp("empty-origin", f"\n5\n{root}\n")
    cp("origin-del", f"{ORIGIN}\x7f\n5\n{root}\n", Signer(ORIGIN + "\x7f", _seed32("del")))
    cp("unicode-origin", f"caf\u00e9.example\n5\n{root}\n", Signer("caf\u00e9.example", _seed32("c")))
    for name, text in {
            "valid": f"{ORIGIN}\n5\n{root}\n", "no-newline": f"{ORIGIN}\n5\n{root}",
            "origin-control": f"{ORIGIN}\x01\n5\n{root}\n", "origin-tab": f"a\tb\n5\n{root}\n",
            "origin-cr": f"a\r\n5\n{root}\n", "empty-origin-bad-size": f"\n05\n{root}\n",
            "empty-origin-bad-root": "\n5\nAAAA\n", "empty": "", "newline": "\n",
            "origin-del": f"a\x7f\n5\n{root}\n", "origin-nel": f"a\x85\n5\n{root}\n",
            "size-2^64-bad-root": f"o\n{2**64}\nAAAA\n", "origin-surrogate": f"a\udc00\n5\n{root}\n",
    }.items():
        cases.add("parse-checkpoint", name, {"text": text})


def _witness_cases(cases: Cases, stores: list[Store]) -> None:
    story = stores[0]
    size = story.checkpoints[-1]
    note = story.ledger.checkpoint_note(size)
    text = parse_note(note).text
    w1, w2, w3 = (WitnessKey(n, _seed32(n)) for n in ("w1.example", "w2.example", "w3.example"))
    same_key_other_name = WitnessKey("w1.alias", w1.seed)
    same_name_other_key = WitnessKey("w1.example", _seed32("w1 second key"))
    ts1, ts2, ts3 = (T0 + 29 * DAY) // 1000, (T0 + 28 * DAY) // 1000, (T0 + 27 * DAY) // 1000
    cos = add_cosignature(add_cosignature(note, w1, ts1), w2, ts2)
    cos3 = add_cosignature(cos, w3, ts3)
    v = {k.name if k is not same_name_other_key else "w1-second": str(k.verifier())
         for k in (w1, w2, w3, same_key_other_name, same_name_other_key)}
    now = T0 + 30 * DAY
    line_w1 = next(x for x in cos.split("\n") if x.startswith("\u2014 w1.example"))
    line_w2 = next(x for x in cos.split("\n") if x.startswith("\u2014 w2.example"))
    raw = base64.b64decode(line_w1.split(" ")[2])

    def with_line(payload: bytes, name: str = "w1.example") -> str:
        return f"{note}\u2014 {name} {b64encode(payload)}\n"

    later_ts = raw[:4] + (ts1 + 1).to_bytes(8, "big") + raw[12:]
    future = add_cosignature(note, w1, (now + 11 * 60 * 1000) // 1000)
    near_future = add_cosignature(note, w1, (now + 9 * 60 * 1000) // 1000)
    copied = note + line_w1.replace("w1.example", "w1.alias", 1) + "\n"
    newer_w1 = add_cosignature(note, w1, ts1 + 100)
    both_w1 = newer_w1 + line_w1 + "\n"
    two_keys_one_name = add_cosignature(cos, same_name_other_key, ts3)
    a, b = _colliding_keys("wc.example", cosigner_key_id)
    policies: dict[str, tuple[str, list[str], int, int | None, int]] = {
        "none-asked": (note, [], 0, None, now),
        "one-of-two": (cos, [v["w1.example"], v["w2.example"]], 1, None, now),
        "two-of-two": (cos, [v["w1.example"], v["w2.example"]], 2, None, now),
        "three-of-two": (cos, [v["w1.example"], v["w2.example"], v["w3.example"]], 3, None, now),
        "three-of-three": (cos3, [v["w1.example"], v["w2.example"], v["w3.example"]], 3, None, now),
        "untrusted-only": (cos, [v["w3.example"]], 1, None, now),
        "untrusted-min-0": (cos, [v["w3.example"]], 0, None, now),
        "max-age-ok": (cos, [v["w1.example"]], 1, 2 * DAY, now),
        "max-age-too-old": (cos, [v["w2.example"]], 1, DAY, now),
        "max-age-newest-counts": (cos, [v["w1.example"], v["w2.example"]], 1, DAY + 1000, now),
        "max-age-exact": (cos, [v["w1.example"]], 1, now - ts1 * 1000, now),
        "max-age-one-ms-short": (cos, [v["w1.example"]], 1, now - ts1 * 1000 - 1, now),
        "max-age-none-trusted": (cos, [v["w3.example"]], 0, DAY, now),
        "future-beyond-skew": (future, [v["w1.example"]], 1, DAY, now),
        "future-within-skew": (near_future, [v["w1.example"]], 1, DAY, now),
        "future-no-max-age": (future, [v["w1.example"]], 1, None, now),
        "same-key-two-names": (cos, [v["w1.example"], v["w1.alias"]], 2, None, now),
        "copied-line-other-name": (copied, [v["w1.example"], v["w1.alias"]], 1, None, now),
        "copied-line-counts-once": (copied, [v["w1.alias"]], 1, None, now),
        "two-keys-one-name": (two_keys_one_name, [v["w1.example"], v["w1-second"]], 2, None, now),
        "two-keys-one-name-one-signed": (cos, [v["w1.example"], v["w1-second"]], 1, None, now),
        "newest-of-two-lines": (both_w1, [v["w1.example"]], 1, None, now),
        "tampered-timestamp": (with_line(later_ts), [v["w1.example"]], 1, None, now),
        "71-bytes": (with_line(raw[:-1]), [v["w1.example"]], 1, None, now),
        "73-bytes": (with_line(raw + b"\x00"), [v["w1.example"]], 1, None, now),
        "timestamp-2^63": (with_line(raw[:4] + (2**63).to_bytes(8, "big") + raw[12:]),
                           [v["w1.example"]], 1, None, now),
        "signature-flipped": (with_line(raw[:-1] + bytes([raw[-1] ^ 1])), [v["w1.example"]], 1,
                              None, now),
        "w2-line-under-w1": (note + line_w2.replace("w2.example", "w1.example", 1) + "\n",
                             [v["w1.example"]], 1, None, now),
        "log-line-only": (note, [v["w1.example"]], 1, None, now),
        "ambiguous": (cos, [_vkey("wc.example", a, 4), _vkey("wc.example", b, 4)], 0, None, now),
        "body-changed": (cos.replace(f"\n{size}\n", f"\n{size + 1}\n", 1), [v["w1.example"]], 1,
                         None, now),
        "malformed-note": (cos.replace("\u2014 w1", "- w1", 1), [v["w1.example"]], 1, None, now),
    }
    for name, (note_text, ws, k, age, at) in policies.items():
        cases.add("witness", name, {"note": note_text, "witnesses": ws, "min": k,
                                    "max_age_ms": age, "now_ms": at})
    assert text  # the body the cosignatures sign


def build_corpus(tmp: Path) -> list[dict[str, Any]]:
    """Build two real stores under ``tmp`` and every case of the corpus."""
    stores = [story_store(tmp / "story"), registrar_store(tmp / "registrar")]
    cases = Cases()
    _msgpack_cases(cases, stores)
    _merkle_cases(cases, stores)
    _map_cases(cases, stores)
    _ed25519_cases(cases)
    _key_string_cases(cases)
    _note_cases(cases, stores)
    _witness_cases(cases, stores)
    for store in stores:
        store.ledger.close()
    return cases.cases


# ------------------------------------------------------------------------------ for the tests

_BUILT: list[dict[str, Any]] = []


def session_corpus(factory: Any) -> list[dict[str, Any]]:
    """The corpus, built once per test session (``factory``: pytest's tmp_path_factory)."""
    if not _BUILT:
        _BUILT.extend(build_corpus(factory.mktemp("web-corpus")))
    return _BUILT


def inputs(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cases without Python's verdicts: what the JavaScript side is given."""
    return [{"id": c["id"], "domain": c["domain"], "input": c["input"]} for c in cases]


def compare(cases: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[str]:
    """Every case whose JavaScript result differs from Python's verdict, one line each."""
    if [r.get("id") for r in results] != [c["id"] for c in cases]:
        return [f"{len(results)} results for {len(cases)} cases, or in another order"]

    def show(v: dict[str, Any]) -> str:
        text = json.dumps({k: v[k] for k in ("ok", "check", "value")})
        return text if len(text) <= 300 else text[:297] + "..."

    return [f"{c['id']}: Python {show(c['expect'])}, JavaScript {show(r)}"
            for c, r in zip(cases, results, strict=True)
            if {k: r.get(k) for k in ("ok", "check", "value")} != c["expect"]]


def summary(cases: list[dict[str, Any]]) -> str:
    """Cases per domain, accepted and refused: what a run's report shows."""
    counts: dict[str, list[int]] = {}
    for c in cases:
        counts.setdefault(c["domain"], [0, 0])[0 if c["expect"]["ok"] else 1] += 1
    parts = [f"{d} {a}+{r}" for d, (a, r) in sorted(counts.items())]
    return f"{len(cases)} cases (accepted+refused): " + ", ".join(parts)


def raw_ed25519_differences(cases: list[dict[str, Any]], raw: list[list[Any]]) -> list[str]:
    """The Ed25519 cases where WebCrypto alone (``rawEd25519`` of ledger/web/test/corpus.mjs) differs
    from Python's verdict. Each must be one the ledger's byte checks refuse (``ed25519.key`` or
    ``ed25519.r``): those checks, and nothing else, make WebCrypto give the ledger's verdict."""
    expect = {c["id"]: c["expect"] for c in cases}
    differ = [f"{i}: WebCrypto {v}, Python {expect[i]['check'] or 'accepts'}" for i, v in raw
              if (v is True) != expect[i]["ok"]]
    for i, v in raw:
        if (v is True) != expect[i]["ok"]:
            assert expect[i]["check"] in ("ed25519.key", "ed25519.r"), (i, v)
    return differ
