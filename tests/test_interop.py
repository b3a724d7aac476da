"""Interoperability: what the command line writes is accepted by verifiers written from the specs.

A ledger is built through the CLI only (``python -m ledger`` in a subprocess): one issuer, its
achievements, one ``issue --batch`` of 300 Open Badges credentials (1,500 with
``CREDLEDGER_INTEROP_FULL=1``), a checkpoint,
5 revocations (10 in the full run), a second checkpoint. Its outputs are then checked with code
written in this file from the specifications alone, never with ``ledger.merkle``, ``ledger.note``
or any other module of the package:

- RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) verifiers, transcribed step by step,
  with RFC 6962 hashing (leaf ``SHA-256(0x00 || d)``, node ``SHA-256(0x01 || l || r)``);
- a c2sp.org/signed-note verifier (Ed25519, key ID ``SHA-256(name || 0x0A || 0x01 || key)[:4]``,
  text split from signatures at the last blank line) and a c2sp.org/tlog-checkpoint parser;
- a c2sp.org/tlog-proof parser.

These verifiers first pass the known answers in tests/vectors/ (rfc6962.json, signed-note.json)
and refuse their bit flips, so a failure below points at the ledger, not at them. Then:
``checkpoint`` notes verify under the printed log verifier key; ``prove --format tlog-proof``
outputs (with ``entry N --raw``) prove inclusion against their checkpoint; ``consistency``
proofs link the two checkpoints and prefixes of the log. Every accepted proof is also tampered
with (each bit, the index off by one, the path cut or lengthened, another entry), and each
tampered copy must be refused.

``benchmarks/interop_check.py`` reuses this module's builder and verifiers for the full scenario
and adds third-party implementations (sigstore, tlog-scales, aics-tlog, metamorphic-log,
pymerkle).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).resolve().parent / "vectors"
FULL = os.environ.get("CREDLEDGER_INTEROP_FULL") == "1"


class Rejected(Exception):
    """An independent verifier refused its input."""


# ------------------------------------------------------------------------------- RFC 9162 §2.1


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return sha256(b"\x00" + entry)


def rfc_node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively, over leaf hashes (slow reference for small trees)."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return rfc_node_hash(rfc_mth(leaves[:k]), rfc_mth(leaves[k:]))


def rfc_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), over leaf hashes."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return rfc_path(m, leaves[:k]) + [rfc_mth(leaves[k:])]
    return rfc_path(m - k, leaves[k:]) + [rfc_mth(leaves[:k])]


def rfc_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), over leaf hashes."""

    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        if m == len(d):
            return [] if b else [rfc_mth(d)]
        k = _split(len(d))
        if m <= k:
            return subproof(m, d[:k], b) + [rfc_mth(d[k:])]
        return subproof(m - k, d[k:], False) + [rfc_mth(d[:k])]

    return subproof(m, leaves, True)


def rfc_verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes],
                         root: bytes) -> None:
    """RFC 9162 §2.1.3.2, step by step; raises :class:`Rejected`."""
    # 1. leaf_index must be smaller than tree_size.
    if not 0 <= index < size:
        raise Rejected(f"inclusion: index {index} is not below size {size}")
    # 2. fn = leaf_index, sn = tree_size - 1. 3. r = hash.
    fn, sn = index, size - 1
    r = leaf_hash
    # 4. For each p in inclusion_path:
    for p in proof:
        # a. sn == 0 with path left: fail.
        if sn == 0:
            raise Rejected("inclusion: the path is longer than the tree is deep")
        # b. If LSB(fn) is set, or fn == sn: r = HASH(0x01 || p || r), then, if LSB(fn) is not
        #    set, right-shift fn and sn until LSB(fn) is set or fn is 0.
        if fn & 1 or fn == sn:
            r = rfc_node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        # Otherwise r = HASH(0x01 || r || p).
        else:
            r = rfc_node_hash(r, p)
        # c. Right-shift fn and sn once.
        fn >>= 1
        sn >>= 1
    # 5. sn must be 0 and r the root.
    if sn != 0:
        raise Rejected("inclusion: the path is shorter than the tree is deep")
    if r != root:
        raise Rejected(f"inclusion: calculated root {r.hex()}, want {root.hex()}")


def rfc_verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                           root2: bytes) -> None:
    """RFC 9162 §2.1.4.2, step by step, plus the two trivial cases; raises :class:`Rejected`.

    The RFC's algorithm needs 0 < first < second. Outside it: equal sizes are consistent with
    an empty proof and equal roots, and the empty tree with an empty proof.
    """
    if not 0 <= size1 <= size2:
        raise Rejected(f"consistency: sizes {size1} and {size2} are not in order")
    if size1 == size2:
        if proof or root1 != root2:
            raise Rejected("consistency: equal sizes need an empty proof and equal roots")
        return
    if size1 == 0:
        if proof or root1 != sha256(b""):
            raise Rejected("consistency: from the empty tree needs an empty proof")
        return
    # 1. An empty consistency_path fails.
    path = list(proof)
    if not path:
        raise Rejected("consistency: empty proof")
    # 2. If first is an exact power of 2, prepend first_hash.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = size1 - 1, size2 - 1
    # 4. While LSB(fn) is set, right-shift fn and sn.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of the path.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        # a. sn == 0 with values left: fail.
        if sn == 0:
            raise Rejected("consistency: the proof is too long")
        # b. If LSB(fn) is set or fn == sn: fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c ||
        #    sr), then, if LSB(fn) is not set, right-shift until LSB(fn) is set or fn is 0.
        if fn & 1 or fn == sn:
            fr = rfc_node_hash(c, fr)
            sr = rfc_node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        # Otherwise sr = HASH(0x01 || sr || c).
        else:
            sr = rfc_node_hash(sr, c)
        # c. Right-shift fn and sn once.
        fn >>= 1
        sn >>= 1
    # 7. fr must be first_hash, sr second_hash, and sn 0.
    if fr != root1:
        raise Rejected(f"consistency: calculated first root {fr.hex()}, want {root1.hex()}")
    if sr != root2:
        raise Rejected(f"consistency: calculated second root {sr.hex()}, want {root2.hex()}")
    if sn != 0:
        raise Rejected("consistency: the proof is too short")


# ----------------------------------------------------------------- c2sp.org/signed-note et al.

EM_DASH = "\u2014"


def b64decode_strict(text: str, what: str) -> bytes:
    """RFC 4648 §4 base64, canonical only."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(f"{what}: not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise Rejected(f"{what}: not canonical base64")
    return raw


@dataclass(frozen=True)
class NoteKey:
    """An Ed25519 (type 0x01) note verifier key."""

    name: str
    key_id: bytes
    public_key: bytes


def c2sp_key_id(name: str, public_key: bytes) -> bytes:
    """c2sp.org/signed-note: SHA-256(key name || 0x0A || 0x01 || 32-byte key)[:4]."""
    return sha256(name.encode() + b"\x0a\x01" + public_key)[:4]


def parse_note_key(vkey: str) -> NoteKey:
    """``<name>+<8 hex key ID>+<base64(0x01 || public key)>``; the key ID must match."""
    name, sep, rest = vkey.partition("+")
    hex_id, sep2, b64 = rest.partition("+")
    if not sep or not sep2 or not name or len(hex_id) != 8:
        raise Rejected("vkey: want name+hexid+base64key")
    if any(c.isspace() or c == "+" for c in name):
        raise Rejected("vkey: the name has a space or '+'")
    try:
        key_id = bytes.fromhex(hex_id)
    except ValueError:
        raise Rejected("vkey: the key id is not hex") from None
    material = b64decode_strict(b64, "vkey")
    if len(material) != 33 or material[0] != 0x01:
        raise Rejected("vkey: want type 0x01 and a 32-byte Ed25519 key")
    if c2sp_key_id(name, material[1:]) != key_id:
        raise Rejected("vkey: the key id does not match the name and key")
    return NoteKey(name, key_id, material[1:])


@dataclass(frozen=True)
class NoteLine:
    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[NoteLine]]:
    """Split a signed note into its text (with the final newline) and its signature lines."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Rejected("note: control character")
    cut = note.rfind("\n\n")  # the LAST blank line separates text from signatures
    if cut < 0:
        raise Rejected("note: no blank line before the signatures")
    text, block = note[:cut + 1], note[cut + 2:]
    if not block.endswith("\n"):
        raise Rejected("note: the signatures must end with a newline")
    lines = []
    for line in block[:-1].split("\n"):
        dash, sp, rest = line.partition(" ")
        name, sp2, b64 = rest.partition(" ")
        if dash != EM_DASH or not sp or not sp2 or not name or " " in b64:
            raise Rejected(f"note: malformed signature line {line[:40]!r}")
        blob = b64decode_strict(b64, "note signature")
        if len(blob) < 5:
            raise Rejected("note: signature too short")
        lines.append(NoteLine(name, blob[:4], blob[4:]))
    if not lines:
        raise Rejected("note: no signature lines")
    return text, lines


def open_signed_note(note: str, keys: Sequence[NoteKey]) -> str:
    """c2sp.org/signed-note verification; returns the verified text.

    Unknown keys (name and ID not both matching) are ignored; a known key whose signature fails
    rejects the note; at least one known key must verify.
    """
    text, lines = split_note(note)
    verified = 0
    for line in lines:
        for key in keys:
            if (line.name, line.key_id) != (key.name, key.key_id):
                continue
            try:
                Ed25519PublicKey.from_public_bytes(key.public_key).verify(
                    line.signature, text.encode("utf-8"))
            except InvalidSignature:
                raise Rejected(f"note: the signature of {key.name} does not verify") from None
            verified += 1
    if not verified:
        raise Rejected("note: no signature from a trusted key")
    return text


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint_body(text: str) -> CheckpointBody:
    """c2sp.org/tlog-checkpoint note text: origin, decimal size, base64 root, extensions."""
    if not text.endswith("\n"):
        raise Rejected("checkpoint: the text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise Rejected("checkpoint: want at least three non-empty lines")
    origin, size_text, root_text = lines[:3]
    if not size_text.isascii() or not size_text.isdigit() or str(int(size_text)) != size_text:
        raise Rejected(f"checkpoint: bad size {size_text!r}")
    root = b64decode_strict(root_text, "checkpoint root")
    if len(root) != 32:
        raise Rejected("checkpoint: the root is not 32 bytes")
    return CheckpointBody(origin, int(size_text), root, tuple(lines[3:]))


@dataclass(frozen=True)
class TlogProof:
    extra: bytes | None
    index: int
    proof: tuple[bytes, ...]
    note: str


def parse_tlog_proof(text: str) -> TlogProof:
    """c2sp.org/tlog-proof@v1: header, optional ``extra``, ``index``, hashes, blank line, note."""
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Rejected("tlog-proof: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Rejected(f"tlog-proof: first line {lines[0]!r}")
    pos, extra = 1, None
    if len(lines) > pos and lines[pos].startswith("extra "):
        extra = b64decode_strict(lines[pos][len("extra "):], "tlog-proof extra")
        pos += 1
    if len(lines) <= pos or not lines[pos].startswith("index "):
        raise Rejected("tlog-proof: no index line")
    digits = lines[pos][len("index "):]
    if not digits.isascii() or not digits.isdigit() or str(int(digits)) != digits:
        raise Rejected(f"tlog-proof: bad index {digits!r}")
    hashes = tuple(b64decode_strict(line, "tlog-proof hash") for line in lines[pos + 1:])
    if any(len(h) != 32 for h in hashes):
        raise Rejected("tlog-proof: a proof hash is not 32 bytes")
    return TlogProof(extra, int(digits), hashes, note)


# ------------------------------------------------------------------------------- the CLI


def run_cli(store: Path, *args: str) -> bytes:
    """Run ``python -m ledger --dir STORE ARGS`` and return its stdout (exit 0 required)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLEDGER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run([sys.executable, "-m", "ledger", "--dir", str(store), *args],
                          env=env, capture_output=True, timeout=600, check=False)
    if done.returncode != 0:
        raise AssertionError(f"credledger {' '.join(args)}: exit {done.returncode}: "
                             f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout


@dataclass
class Built:
    """A ledger built through the CLI, and what it printed."""

    store: Path
    log_vkey: str
    issued: list[str]  # the issuer's own credential ids in batch order: entry first + i
    revoked: list[str]
    first: int = 1  # the batch's first entry (after the issuer's and achievements' entries)
    notes: dict[int, str] = field(default_factory=dict)  # checkpoint size -> note text
    size1: int = 0  # after the batch
    size2: int = 0  # after the revocations

    def cli(self, *args: str) -> bytes:
        return run_cli(self.store, *args)


def build_ledger(workdir: Path, *, issuances: int, revocations: int, seed: int = 9162) -> Built:
    """init, key new, issuer add, issue --batch, checkpoint, revoke xR, checkpoint."""
    store = workdir / "store"
    init = json.loads(run_cli(store, "init", "--origin", "interop.example/credentials", "--json"))
    key_file = workdir / "uni.key"
    uni = json.loads(run_cli(store, "key", "new", str(key_file), "--name", "uni.example", "--json"))
    run_cli(store, "issuer", "add", "uni", "--key", uni["vkey"], "--name", "Interop University")
    modules = 5  # each credential awards one of these registered achievements
    for m in range(modules):
        run_cli(store, "achievement", "add", "uni", f"module-{m}", "--key", str(key_file),
                "--name", f"Module {m} of the interop course",
                "--description", f"What module {m} covers.", "--criteria", "Pass its exam.")
    ids = [f"cred-{i:05d}" for i in range(issuances)]
    batch = workdir / "cohort.jsonl"
    out = workdir / "credentials"
    with batch.open("w", encoding="utf-8") as f:
        for i, cred in enumerate(ids):
            row: dict[str, Any] = {"id": cred, "subject": f"learner{i}@example.org",
                                   "subject_type": "emailAddress",
                                   "achievement": f"module-{i % modules}"}
            if i % 2 == 0:
                row["expires"] = "2031-06-30"
            if i % 5 == 0:
                row["result"] = "A"
            f.write(json.dumps(row) + "\n")
    run_cli(store, "issue", "uni", "--key", str(key_file), "--batch", str(batch),
            "--out", str(out), "--json")
    built = Built(store=store, log_vkey=init["log_vkey"], issued=ids, revoked=[],
                  first=1 + modules)
    built.size1 = built.first + issuances
    built.notes[built.size1] = run_cli(store, "checkpoint").decode("utf-8")
    for cred in random.Random(seed).sample(ids, revocations):
        run_cli(store, "revoke", "uni", cred, "--key", str(key_file), "--reason", "withdrawn",
                "--out", str(out))
        built.revoked.append(cred)
    built.size2 = built.size1 + revocations
    built.notes[built.size2] = run_cli(store, "checkpoint").decode("utf-8")
    return built


@dataclass(frozen=True)
class ProofSample:
    cred: str
    want_index: int
    size: int | None  # --size, or None for the latest checkpoint
    text: str  # prove --format tlog-proof
    raw: bytes  # entry N --raw


def sample_proofs(built: Built, count: int, *, size: int | None = None,
                  seed: int = 6962) -> list[ProofSample]:
    """``prove --format tlog-proof`` for the first, the last, a revoked and random credentials."""
    chosen = {0, len(built.issued) - 1, built.issued.index(built.revoked[0])}
    rest = [i for i in range(len(built.issued)) if i not in chosen]
    chosen.update(random.Random(seed).sample(rest, max(0, count - len(chosen))))
    samples = []
    for i in sorted(chosen):
        extra = ["--size", str(size)] if size is not None else []
        text = built.cli("prove", "uni", built.issued[i], "--format", "tlog-proof",
                         "--out", str(built.store.parent / "credentials"),
                         *extra).decode("utf-8")
        raw = built.cli("entry", str(built.first + i), "--raw")
        samples.append(ProofSample(built.issued[i], built.first + i, size, text, raw))
    return samples


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    issuances, revocations = (1500, 10) if FULL else (300, 5)
    return build_ledger(tmp_path_factory.mktemp("interop"), issuances=issuances,
                        revocations=revocations)


@pytest.fixture(scope="module")
def log_key(built: Built) -> NoteKey:
    return parse_note_key(built.log_vkey)


@pytest.fixture(scope="module")
def samples(built: Built) -> list[ProofSample]:
    return sample_proofs(built, 30 if FULL else 10)


def _bit_flips(data: bytes) -> Iterator[bytes]:
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        yield bytes(flipped)


def _refused(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except Rejected:
        return True
    return False


# ------------------------------------------------------------- the verifiers pass known answers


def test_fresh_merkle_verifiers_pass_the_rfc6962_vectors() -> None:
    vectors = json.loads((VECTORS / "rfc6962.json").read_text(encoding="utf-8"))
    leaves = [rfc_leaf_hash(bytes.fromhex(d)) for d in vectors["leaves"]]
    for size, root in vectors["roots"].items():
        assert rfc_mth(leaves[:int(size)]).hex() == root
    for v in vectors["inclusion"]:
        proof = [bytes.fromhex(h) for h in v["proof"]]
        leaf, root = bytes.fromhex(v["leaf_hash"]), bytes.fromhex(v["root"])
        assert proof == rfc_path(v["index"], leaves[:v["size"]])
        rfc_verify_inclusion(v["index"], v["size"], leaf, proof, root)
        for n, h in enumerate(proof):
            for bad in _bit_flips(h):
                assert _refused(rfc_verify_inclusion, v["index"], v["size"], leaf,
                                proof[:n] + [bad] + proof[n + 1:], root)
        for bad in _bit_flips(leaf):
            assert _refused(rfc_verify_inclusion, v["index"], v["size"], bad, proof, root)
        # (The size is not tampered with: a proof for size n can also fit size n + 1 when the
        # path has the same shape. The signed checkpoint, not the proof, binds the size.)
        for index in (v["index"] + 1, v["index"] - 1):
            if index >= 0:
                assert _refused(rfc_verify_inclusion, index, v["size"], leaf, proof, root)
        assert _refused(rfc_verify_inclusion, v["index"], v["size"], leaf, proof + [root], root)
    for v in vectors["consistency"]:
        proof = [bytes.fromhex(h) for h in v["proof"]]
        r1, r2 = bytes.fromhex(v["root1"]), bytes.fromhex(v["root2"])
        if v["size1"]:
            assert proof == (rfc_proof(v["size1"], leaves[:v["size2"]])
                             if v["size1"] < v["size2"] else [])
        rfc_verify_consistency(v["size1"], v["size2"], proof, r1, r2)
        for n, h in enumerate(proof):
            for bad in _bit_flips(h):
                assert _refused(rfc_verify_consistency, v["size1"], v["size2"],
                                proof[:n] + [bad] + proof[n + 1:], r1, r2)
        if proof:
            assert _refused(rfc_verify_consistency, v["size1"], v["size2"], proof[:-1], r1, r2)
            assert _refused(rfc_verify_consistency, v["size1"], v["size2"], proof + [r2], r1, r2)
            assert _refused(rfc_verify_consistency, v["size1"], v["size2"], proof, r2, r1)


def test_fresh_merkle_verifiers_agree_with_the_reference_on_small_trees() -> None:
    leaves = [rfc_leaf_hash(i.to_bytes(2, "big")) for i in range(40)]
    for size in range(1, 41):
        root = rfc_mth(leaves[:size])
        for index in range(size):
            rfc_verify_inclusion(index, size, leaves[index], rfc_path(index, leaves[:size]), root)
        for size1 in range(1, size):
            rfc_verify_consistency(size1, size, rfc_proof(size1, leaves[:size]),
                                   rfc_mth(leaves[:size1]), root)


def test_fresh_note_verifier_passes_the_signed_note_vectors() -> None:
    vectors = json.loads((VECTORS / "signed-note.json").read_text(encoding="utf-8"))
    for v in vectors["valid"]:
        key = parse_note_key(v["vkey"])
        text = open_signed_note(v["note"], [key])
        assert v["note"].startswith(text + "\n" + EM_DASH)
        stranger = NoteKey(key.name, bytes(4), key.public_key)  # same name, other id: ignored
        assert _refused(open_signed_note, v["note"], [stranger])
        tampered = v["note"].replace(text, text[:-2] + "!\n", 1)
        assert _refused(open_signed_note, tampered, [key])
    for bad in vectors["malformed_vkeys"]:
        assert _refused(parse_note_key, bad)


# ------------------------------------------------------------------------- the ledger's output


def test_checkpoints_verify_as_signed_notes(built: Built, log_key: NoteKey) -> None:
    assert sorted(built.notes) == [built.size1, built.size2]
    for size, note in built.notes.items():
        text = open_signed_note(note, [log_key])
        cp = parse_checkpoint_body(text)
        assert (cp.origin, cp.size, cp.extensions) == (log_key.name, size, ())
        _, lines = split_note(note)
        assert [(line.name, line.key_id) for line in lines] == [(log_key.name, log_key.key_id)]
        assert note == f"{text}\n{EM_DASH} {lines[0].name} " \
                       f"{base64.b64encode(lines[0].key_id + lines[0].signature).decode()}\n"
        # A stranger's extra signature is ignored; any change to what was signed is refused.
        other = f"{EM_DASH} other.example/witness {base64.b64encode(bytes(68)).decode()}\n"
        assert open_signed_note(note + other, [log_key]) == text
        for bad_text in (text.replace(f"\n{size}\n", f"\n{size + 1}\n"),
                         text.replace(cp.origin, cp.origin + "x", 1)):
            assert _refused(open_signed_note, note.replace(text, bad_text, 1), [log_key])
        for n in range(0, 64 * 8, 7):  # bits of the signature, not the key id
            sig = bytearray(lines[0].signature)
            sig[n // 8] ^= 1 << (n % 8)
            blob = base64.b64encode(lines[0].key_id + bytes(sig)).decode()
            assert _refused(open_signed_note, f"{text}\n{EM_DASH} {log_key.name} {blob}\n",
                            [log_key])
    r1 = parse_checkpoint_body(open_signed_note(built.notes[built.size1], [log_key])).root
    r2 = parse_checkpoint_body(open_signed_note(built.notes[built.size2], [log_key])).root
    assert r1 != r2


def _check_sample(built: Built, key: NoteKey, s: ProofSample) -> tuple[TlogProof, CheckpointBody]:
    p = parse_tlog_proof(s.text)
    want_note = built.notes[s.size if s.size is not None else built.size2]
    assert p.note == want_note, f"{s.cred}: the proof's checkpoint is not the one signed"
    cp = parse_checkpoint_body(open_signed_note(p.note, [key]))
    assert p.index == s.want_index, f"{s.cred}: index {p.index}, want {s.want_index}"
    assert p.extra == s.raw, f"{s.cred}: the extra data is not 'entry {p.index} --raw'"
    rfc_verify_inclusion(p.index, cp.size, rfc_leaf_hash(s.raw), p.proof, cp.root)
    return p, cp


def test_tlog_proofs_verify_independently(built: Built, log_key: NoteKey,
                                          samples: list[ProofSample]) -> None:
    assert len(samples) >= 10
    for s in samples:
        _check_sample(built, log_key, s)


def test_tlog_proofs_against_the_older_checkpoint(built: Built, log_key: NoteKey) -> None:
    old = sample_proofs(built, 10 if FULL else 4, size=built.size1, seed=1)
    for s in old:
        _, cp = _check_sample(built, log_key, s)
        assert cp.size == built.size1


def test_tampered_tlog_proofs_are_refused(built: Built, log_key: NoteKey,
                                          samples: list[ProofSample]) -> None:
    s = samples[len(samples) // 2]
    p, cp = _check_sample(built, log_key, s)
    leaf = rfc_leaf_hash(s.raw)
    proof = list(p.proof)
    for n, h in enumerate(proof):
        for bad in _bit_flips(h):
            assert _refused(rfc_verify_inclusion, p.index, cp.size, leaf,
                            proof[:n] + [bad] + proof[n + 1:], cp.root)
    for bad in _bit_flips(s.raw[:64]):
        assert _refused(rfc_verify_inclusion, p.index, cp.size,
                        rfc_leaf_hash(bad + s.raw[64:]), proof, cp.root)
    for index in (p.index + 1, p.index - 1):
        assert _refused(rfc_verify_inclusion, index, cp.size, leaf, proof, cp.root)
    assert _refused(rfc_verify_inclusion, p.index, cp.size, leaf, proof[:-1], cp.root)
    assert _refused(rfc_verify_inclusion, p.index, cp.size, leaf, proof + [cp.root], cp.root)
    other = next(o for o in samples if o is not s)
    assert _refused(rfc_verify_inclusion, p.index, cp.size, rfc_leaf_hash(other.raw), proof,
                    cp.root)


def fetch_consistency(built: Built, size1: int, size2: int,
                 *, plain: bool = True) -> tuple[list[bytes], bytes, bytes]:
    """``consistency SIZE1 SIZE2 --json`` (and, with ``plain``, the same proof as text)."""
    as_json = json.loads(built.cli("consistency", str(size1), str(size2), "--json"))
    assert (as_json["size1"], as_json["size2"]) == (size1, size2)
    proof = [b64decode_strict(h, "consistency hash") for h in as_json["proof"]]
    if plain:
        text = built.cli("consistency", str(size1), str(size2)).decode("ascii")
        assert [b64decode_strict(line, "consistency hash") for line in text.splitlines()] == proof
    return (proof, b64decode_strict(as_json["root1"], "root1"),
            b64decode_strict(as_json["root2"], "root2"))


def test_consistency_between_the_checkpoints(built: Built, log_key: NoteKey) -> None:
    cp1 = parse_checkpoint_body(open_signed_note(built.notes[built.size1], [log_key]))
    cp2 = parse_checkpoint_body(open_signed_note(built.notes[built.size2], [log_key]))
    proof, root1, root2 = fetch_consistency(built, cp1.size, cp2.size)
    assert (root1, root2) == (cp1.root, cp2.root)
    rfc_verify_consistency(cp1.size, cp2.size, proof, cp1.root, cp2.root)
    for n, h in enumerate(proof):
        for bad in _bit_flips(h):
            assert _refused(rfc_verify_consistency, cp1.size, cp2.size,
                            proof[:n] + [bad] + proof[n + 1:], cp1.root, cp2.root)
    assert _refused(rfc_verify_consistency, cp1.size, cp2.size, proof[:-1], cp1.root, cp2.root)
    assert _refused(rfc_verify_consistency, cp1.size, cp2.size, proof + [cp2.root], cp1.root,
                    cp2.root)
    assert _refused(rfc_verify_consistency, cp1.size, cp2.size, proof, cp2.root, cp1.root)
    # The same size twice: an empty proof.
    for size, cp in ((cp1.size, cp1), (cp2.size, cp2)):
        same, r1, r2 = fetch_consistency(built, size, size, plain=size == cp2.size)
        assert same == [] and r1 == r2 == cp.root
        rfc_verify_consistency(size, size, same, cp.root, cp.root)


def test_consistency_of_prefixes_with_the_signed_tree(built: Built, log_key: NoteKey) -> None:
    """A proof from any prefix size to the signed size: the new root is the signed one, so a
    proof that verifies shows the printed prefix root is the root of that prefix."""
    cp2 = parse_checkpoint_body(open_signed_note(built.notes[built.size2], [log_key]))
    sizes = sorted({1, 2, 3, 4, 7, 8, 64, 255, 256, 257, built.size1 - 1, built.size1,
                    built.size2 - 1})
    for size1 in sizes:
        proof, root1, root2 = fetch_consistency(built, size1, cp2.size, plain=False)
        assert root2 == cp2.root
        rfc_verify_consistency(size1, cp2.size, proof, root1, cp2.root)
        assert _refused(rfc_verify_consistency, size1, cp2.size, proof,
                        sha256(root1), cp2.root)
