"""Interoperability check: independent implementations judge what the ledger's CLI produces.

The scenario, through the CLI only (``python -m ledger`` in subprocesses): init, one issuer, one
``issue --batch`` of 1,500 credentials, a checkpoint (size 1,501), 10 revocations, a second
checkpoint (size 1,511). Then each implementation that is installed is asked about:

- signed notes: both checkpoint notes, with the log verifier key ``init`` printed;
- inclusion: 30 ``prove --format tlog-proof`` outputs against the latest checkpoint and 10
  against the first (``--size``), each with the ``entry N --raw`` bytes of its index;
- consistency: ``consistency 1501 1511`` between the checkpoints, the same size twice, and
  prefixes of the log (1, 2, 3, 4, 7, 8, 255, 256, 257, 1024, 1025, 1500, 1510) to the signed tree;
- static tiles: ``export tiles DIR``, read back by the tile readers of the packages.

Every genuine input must be accepted; every tampered copy (a flipped bit in a proof hash, the
entry, the root or a signature; the index off by one; a cut or lengthened proof; swapped roots;
a note under another name) must be refused. A genuine input refused by any implementation is a
disagreement about the ledger's output: the script prints it and exits 1. A tampered input
accepted by a third-party implementation is that implementation's leniency: it is printed, not
failed on.

Implementations (the versions this was written against) and what is called:

- fresh, from the specs (tests/test_interop.py): open_signed_note, parse_tlog_proof,
  rfc_verify_inclusion, rfc_verify_consistency, rfc_mth; an entry-bundle reader (here);
- sigstore 4.5.1: sigstore._internal.rekor.checkpoint.SignedCheckpoint and SignedNote.verify,
  sigstore._internal.merkle.verify_merkle_inclusion and ..rekor.checkpoint.verify_checkpoint on
  a Rekor v1 TransparencyLogEntry (no consistency verifier);
- tlog-scales 0.0.3: tlog.Checkpoint.verify, signing.Vkey, tlog.InclusionProof.check,
  tlog.ConsistencyProof.check, reader.TilesReader, cli.cmd_gen_proof;
- aics-tlog 0.2.1: parse_vkey, parse_note, verify_note, verify_checkpoint,
  verify_leaf_inclusion, verify_consistency, audit_tiles, tree_root_from_tiles, read_entry,
  inclusion_proof_from_tiles, consistency_proof_from_tiles;
- metamorphic-log 0.1.11 (Rust, through UniFFI): verify_signed_note, checkpoint_verify,
  verify_inclusion, checkpoint_verify_inclusion, verify_consistency,
  checkpoint_verify_consistency;
- pymerkle 7.0.0: verify_inclusion, verify_consistency (sha256, security=True, which is RFC 6962
  hashing), InmemoryTree.get_root. Its consistency proofs are laid out differently from RFC
  9162's; where its layout needs a hash the RFC proof does not carry, it reports "n/a".

Install the optional packages in a throwaway virtual environment. They are not runtime
dependencies of the project (pymerkle and tlog-scales are in the optional ``bench`` extra, for
benchmarks/bench.py; sigstore, metamorphic-log and aics-tlog are in no extra at all)::

    python3 -m venv /tmp/interop-venv
    /tmp/interop-venv/bin/pip install -e '.[test]'     # the ledger, and pytest: the fresh
                                                       # verifiers live in tests/test_interop.py
    /tmp/interop-venv/bin/pip install sigstore==4.5.1 tlog-scales==0.0.3 pymerkle==7.0.0 \\
        metamorphic-log==0.1.11
    # aics-tlog declares Python >= 3.12 but runs on 3.11; on 3.12+ drop the two flags:
    /tmp/interop-venv/bin/pip install --no-deps --ignore-requires-python aics-tlog==0.2.1
    /tmp/interop-venv/bin/python benchmarks/interop_check.py

Options: ``--issuances N --revocations N --proofs N --old-proofs N --seed N --keep DIR
--out FILE.json``. Missing packages are reported as "not installed" and skipped. Takes about
25 seconds on the 2-core development machine. Exit 0: no disagreement; 1: a disagreement; 3: the
check itself failed.
"""

# mypy: disable-error-code="import-not-found"

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _load_fresh() -> ModuleType:
    """tests/test_interop.py: the CLI builder and the verifiers written from the specs."""
    spec = importlib.util.spec_from_file_location("credledger_interop_fresh",
                                                  ROOT / "tests" / "test_interop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


F = _load_fresh()


class NotApplicable(Exception):
    """The implementation cannot express this input (not a verdict on it)."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# ------------------------------------------------------------------------------- the inputs


@dataclass(frozen=True)
class NoteCase:
    label: str
    note: str
    origin: str
    size: int
    root: bytes


@dataclass(frozen=True)
class InclusionCase:
    label: str
    index: int
    size: int
    raw: bytes
    proof: tuple[bytes, ...]
    root: bytes
    note: str


@dataclass(frozen=True)
class ConsistencyCase:
    label: str
    size1: int
    size2: int
    proof: tuple[bytes, ...]
    root1: bytes
    root2: bytes
    note1: str | None  # the signed notes, when both sizes have one
    note2: str | None


def tampered_notes(case: NoteCase) -> list[NoteCase]:
    """Copies that c2sp.org/signed-note says a verifier must refuse."""
    text, _, sigs = case.note.rpartition("\n\n")
    text += "\n"
    root_b64 = base64.b64encode(case.root).decode()
    dash, name, blob = sigs.rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    out = [
        ("size + 1", text.replace(f"\n{case.size}\n", f"\n{case.size + 1}\n") + "\n" + sigs),
        ("root bit", text.replace(root_b64, base64.b64encode(_flip(case.root, 3)).decode())
         + "\n" + sigs),
        ("signature bit", (f"{text}\n{dash} {name} "
                           f"{base64.b64encode(raw[:4] + _flip(raw[4:], 77)).decode()}\n")),
        ("unknown key id", (f"{text}\n{dash} {name} "
                            f"{base64.b64encode(_flip(raw[:4], 0) + raw[4:]).decode()}\n")),
        ("unknown key name", f"{text}\n{dash} {name}.other {blob}\n"),
    ]
    return [NoteCase(f"{case.label} [{what}]", note, case.origin, case.size, case.root)
            for what, note in out]


def tampered_inclusions(case: InclusionCase, salt: int) -> list[InclusionCase]:
    def variant(what: str, **changes: Any) -> InclusionCase:
        values = {**case.__dict__, **changes, "label": f"{case.label} [{what}]"}
        return InclusionCase(**values)

    proof = list(case.proof)
    out = [variant("entry bit", raw=_flip(case.raw, salt * 13 + 5))]
    if proof:
        k = salt % len(proof)
        out.append(variant(f"proof[{k}] bit", proof=tuple(
            proof[:k] + [_flip(proof[k], salt * 7 + 1)] + proof[k + 1:])))
        out.append(variant("proof cut", proof=tuple(proof[:-1])))
    out.append(variant("proof + root", proof=tuple(proof + [case.root])))
    out.append(variant("index + 1" if case.index + 1 < case.size else "index - 1",
                       index=case.index + 1 if case.index + 1 < case.size else case.index - 1))
    return out


def tampered_consistencies(case: ConsistencyCase, salt: int) -> list[ConsistencyCase]:
    def variant(what: str, **changes: Any) -> ConsistencyCase:
        values = {**case.__dict__, **changes, "label": f"{case.label} [{what}]"}
        return ConsistencyCase(**values)

    proof = list(case.proof)
    out = [variant(f"proof[{k}] bit", proof=tuple(
        proof[:k] + [_flip(proof[k], salt * 31 + k * 11)] + proof[k + 1:]))
        for k in range(len(proof))]
    if proof:
        out.append(variant("proof cut", proof=tuple(proof[:-1])))
    out.append(variant("proof + root2", proof=tuple(proof + [case.root2])))
    out.append(variant("root1 bit", root1=_flip(case.root1, salt), note1=None, note2=None))
    if case.root1 != case.root2:
        out.append(variant("roots swapped", root1=case.root2, root2=case.root1,
                           note1=None, note2=None))
    return out


# --------------------------------------------------------------------------- implementations


@dataclass
class Impl:
    """One implementation's checks; ``None`` where it has no such function."""

    name: str
    version: str | None
    functions: str
    note: Callable[[NoteCase, str], tuple[str, int, bytes]] | None = None
    inclusion: Callable[[InclusionCase, str], None] | None = None
    consistency: Callable[[ConsistencyCase, str], None] | None = None
    missing: str | None = None  # why it is not available


def fresh_impl() -> Impl:
    def note(case: NoteCase, vkey: str) -> tuple[str, int, bytes]:
        cp = F.parse_checkpoint_body(F.open_signed_note(case.note, [F.parse_note_key(vkey)]))
        return cp.origin, cp.size, cp.root

    def inclusion(case: InclusionCase, vkey: str) -> None:
        F.rfc_verify_inclusion(case.index, case.size, F.rfc_leaf_hash(case.raw), case.proof,
                               case.root)

    def consistency(case: ConsistencyCase, vkey: str) -> None:
        F.rfc_verify_consistency(case.size1, case.size2, case.proof, case.root1, case.root2)

    return Impl("fresh (RFC 9162, C2SP)", "tests/test_interop.py",
                "open_signed_note, rfc_verify_inclusion, rfc_verify_consistency",
                note, inclusion, consistency)


def sigstore_impl() -> Impl:
    functions = ("_internal.rekor.checkpoint.SignedCheckpoint+SignedNote.verify, "
                 "_internal.merkle.verify_merkle_inclusion, _internal.rekor.checkpoint."
                 "verify_checkpoint")
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from sigstore._internal.merkle import verify_merkle_inclusion
        from sigstore._internal.rekor.checkpoint import SignedCheckpoint, verify_checkpoint
        from sigstore._internal.trust import Keyring
        from sigstore._utils import KeyID
        from sigstore.models import TransparencyLogEntry
        from sigstore_models.common import v1 as common_v1
        from sigstore_models.rekor import v1 as rekor_v1
    except ImportError as exc:
        return Impl("sigstore", None, functions, missing=str(exc))

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    def keyring_and_hint(vkey: str) -> tuple[Any, Any]:
        _, hex_id, material = vkey.split("+", 2)
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(material)[1:])
        der = public.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        keyring = Keyring([common_v1.PublicKey(
            raw_bytes=b64(der), key_details=common_v1.PublicKeyDetails.PKIX_ED25519)])
        # sigstore picks the signature line whose 4-byte key hash equals the first 4 bytes of
        # the log ID it is given (for Rekor, SHA-256 of the SPKI); a C2SP key ID is those 4
        # bytes, so it is passed padded to a 32-byte log ID.
        return keyring, KeyID(bytes.fromhex(hex_id) + bytes(28))

    def note(case: NoteCase, vkey: str) -> tuple[str, int, bytes]:
        keyring, hint = keyring_and_hint(vkey)
        signed = SignedCheckpoint.from_text(case.note)
        signed.signed_note.verify(keyring, hint)
        cp = signed.checkpoint
        return cp.origin, cp.log_size, bytes.fromhex(cp.log_hash)

    def inclusion(case: InclusionCase, vkey: str) -> None:
        keyring, hint = keyring_and_hint(vkey)
        # A Rekor v1 TransparencyLogEntry, as it appears in a Sigstore bundle (JSON form).
        inner = rekor_v1.TransparencyLogEntry.model_validate({
            "logIndex": str(case.index),
            "logId": {"keyId": b64(hint)},
            "kindVersion": {"kind": "credledger-entry", "version": "1"},
            "inclusionProof": {"logIndex": str(case.index), "rootHash": b64(case.root),
                               "treeSize": str(case.size),
                               "hashes": [b64(h) for h in case.proof],
                               "checkpoint": {"envelope": case.note}},
            "canonicalizedBody": b64(case.raw),
        })
        entry = TransparencyLogEntry(inner)
        verify_merkle_inclusion(entry)
        verify_checkpoint(keyring, entry)

    return Impl("sigstore", _version("sigstore"), functions, note, inclusion, None)


def tlog_scales_impl() -> Impl:
    functions = ("tlog.Checkpoint.from_text+verify, signing.Vkey, tlog.InclusionProof.check, "
                 "tlog.ConsistencyProof.check")
    try:
        from tlog_scales import signing, tiles, tlog
    except ImportError as exc:
        return Impl("tlog-scales", None, functions, missing=str(exc))

    def note(case: NoteCase, vkey: str) -> tuple[str, int, bytes]:
        given = signing.Vkey.from_string(vkey)
        computed = signing.Vkey(given.name, None, given.sig_type, given.pubkey)
        if computed.key_id != given.key_id:
            raise ValueError(f"vkey id {given.key_id:08x}, tlog-scales computes "
                             f"{computed.key_id:08x}")
        cp = tlog.Checkpoint.from_text(case.note)
        cp.verify(computed)
        # tlog-scales verifies over its own serialisation of the body: it must be the note's.
        if case.note.rpartition("\n\n")[0] + "\n" != cp.serialize_body():
            raise ValueError("the note text is not tlog-scales' serialisation of its body")
        return cp.origin, cp.size, cp.root_hash

    def inclusion(case: InclusionCase, vkey: str) -> None:
        tlog.InclusionProof(case.index, case.size, list(case.proof)).check(
            tiles.leaf_hash(case.raw), case.root)

    def consistency(case: ConsistencyCase, vkey: str) -> None:
        tlog.ConsistencyProof(case.size1, case.size2, list(case.proof)).check(case.root1,
                                                                              case.root2)

    return Impl("tlog-scales", _version("tlog-scales"), functions, note, inclusion, consistency)


def aics_impl() -> Impl:
    functions = ("parse_vkey, parse_note, verify_note, verify_checkpoint, "
                 "verify_leaf_inclusion, verify_consistency")
    try:
        import aics_tlog
    except ImportError as exc:
        return Impl("aics-tlog", None, functions, missing=str(exc))

    def note(case: NoteCase, vkey: str) -> tuple[str, int, bytes]:
        key = aics_tlog.parse_vkey(vkey)
        parsed = aics_tlog.parse_note(case.note)
        if not aics_tlog.verify_note(parsed, [key]):
            raise ValueError("verify_note: False")
        res = aics_tlog.verify_checkpoint(parsed, key, expected_origin=key.name)
        if not res.ok:
            raise ValueError(f"verify_checkpoint: {res.error}")
        return res.origin, res.size, res.root

    def inclusion(case: InclusionCase, vkey: str) -> None:
        if not aics_tlog.verify_leaf_inclusion(case.raw, case.index, case.size, list(case.proof),
                                               case.root):
            raise ValueError("verify_leaf_inclusion: False")

    def consistency(case: ConsistencyCase, vkey: str) -> None:
        if not aics_tlog.verify_consistency(case.size1, case.size2, case.root1, case.root2,
                                            list(case.proof)):
            raise ValueError("verify_consistency: False")

    return Impl("aics-tlog", _version("aics-tlog"), functions, note, inclusion, consistency)


def metamorphic_impl() -> Impl:
    functions = ("verify_signed_note, checkpoint_verify, checkpoint_verify_inclusion, "
                 "verify_inclusion, checkpoint_verify_consistency, verify_consistency")
    try:
        import metamorphic_log as ml
    except (ImportError, OSError) as exc:
        return Impl("metamorphic-log", None, functions, missing=str(exc))

    def note(case: NoteCase, vkey: str) -> tuple[str, int, bytes]:
        if ml.verify_signed_note(case.note, [vkey]) < 1:
            raise ValueError("verify_signed_note: no signature verified")
        head = ml.checkpoint_verify(case.note, [vkey])
        return head.origin, head.size, bytes(head.root)

    def inclusion(case: InclusionCase, vkey: str) -> None:
        leaf = _sha256(b"\x00" + case.raw)
        ml.verify_inclusion(case.index, case.size, leaf, list(case.proof), case.root)
        ml.checkpoint_verify_inclusion(case.note, [vkey], case.index, leaf, list(case.proof))

    def consistency(case: ConsistencyCase, vkey: str) -> None:
        ml.verify_consistency(case.size1, case.size2, list(case.proof), case.root1, case.root2)
        if case.note1 is not None and case.note2 is not None:
            ml.checkpoint_verify_consistency(case.note1, case.note2, [vkey], list(case.proof))

    return Impl("metamorphic-log", _version("metamorphic-log"), functions, note, inclusion,
                consistency)


def _rfc_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges [begin, end) whose roots RFC 9162 §2.1.4.1 PROOF(size1, D[size2]) holds,
    in order (from the spec, so that pymerkle's differently ordered layout can be filled)."""

    def sub(m: int, begin: int, n: int, b: bool) -> list[tuple[int, int]]:
        if m == n:
            return [] if b else [(begin, begin + n)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return sub(m, begin, k, b) + [(begin + k, begin + n)]
        return sub(m - k, begin + k, n - k, False) + [(begin, begin + k)]

    return sub(size1, 0, size2, True)


def pymerkle_impl() -> Impl:
    functions = ("verify_inclusion, verify_consistency (sha256, security=True), with the rule "
                 "and layout of core._inclusion_path_layout / _consistency_path_layout")
    try:
        import pymerkle
        from pymerkle.core import _consistency_path_layout, _inclusion_path_layout
        from pymerkle.hasher import MerkleHasher
    except ImportError as exc:
        return Impl("pymerkle", None, functions, missing=str(exc))
    hasher = MerkleHasher("sha256", security=True)  # 0x00 leaf, 0x01 node prefixes: RFC 6962

    def inclusion(case: InclusionCase, vkey: str) -> None:
        # pymerkle's path is the leaf hash followed by RFC 9162's PATH, bottom-up; its rule
        # (left/right bits) is derived from the 1-based index and the size, and re-derived and
        # compared by verify().
        leaf = hasher.hash_buff(case.raw)
        rule, _ = _inclusion_path_layout(case.index + 1, case.size)
        proof = pymerkle.InclusionProof("sha256", True, case.size, case.index + 1, rule,
                                        [leaf, *case.proof])
        pymerkle.verify_inclusion(leaf, case.root, proof, index=case.index + 1, size=case.size,
                                  algorithm="sha256", security=True)

    def consistency(case: ConsistencyCase, vkey: str) -> None:
        # pymerkle lays a consistency proof out differently from RFC 9162 (it descends right
        # when size1 equals the split, where the RFC descends left). Its hashes are filled in
        # by leaf range from the RFC proof; where it needs a range the RFC proof does not hold
        # (besides the old root), it cannot judge this proof.
        if case.size1 == case.size2 or case.size1 == 0:
            raise NotApplicable("pymerkle has no proof form for equal or empty sizes")
        by_range = dict(zip(_rfc_ranges(case.size1, case.size2), case.proof))
        if len(case.proof) != len(by_range):
            raise NotApplicable(f"proof has {len(case.proof)} hashes where RFC 9162 has "
                                f"{len(by_range)}: no pymerkle layout to put them in")
        by_range.setdefault((0, case.size1), case.root1)
        rule, subset, ranges = _consistency_path_layout(case.size1, case.size2)
        if any(r not in by_range for r in ranges):
            raise NotApplicable("pymerkle's layout needs hashes the RFC 9162 proof does not carry")
        proof = pymerkle.ConsistencyProof("sha256", True, case.size2, case.size1, rule, subset,
                                          [by_range[r] for r in ranges])
        pymerkle.verify_consistency(case.root1, case.root2, proof, prior_size=case.size1,
                                    later_size=case.size2, algorithm="sha256", security=True)

    return Impl("pymerkle", _version("pymerkle"), functions, None, inclusion, consistency)


# ------------------------------------------------------------------------------- running


@dataclass
class Tally:
    genuine_accepted: int = 0
    genuine_rejected: int = 0
    tampered_refused: int = 0
    tampered_accepted: int = 0
    not_applicable: int = 0
    failures: list[str] = field(default_factory=list)  # genuine inputs refused: ledger bugs?
    lenient: list[str] = field(default_factory=list)  # tampered inputs accepted
    not_applicable_genuine: list[str] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)  # exception type -> tampered count

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _judge(check: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "accepted", check()
    except NotApplicable as exc:
        return "n/a", str(exc)
    except Exception as exc:  # noqa: BLE001 - a refusal, in whatever form each package raises
        message = " ".join(str(exc).split())
        return "refused", f"{type(exc).__name__}: {message[:160]}"


def run_kind(impls: Sequence[Impl], kind: str, genuine: Sequence[Any],
             tamper: Callable[[Any, int], list[Any]], vkey: str,
             expect: Callable[[Any, Any], str | None] | None = None) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    tampered = [(g, t) for n, g in enumerate(genuine) for t in tamper(g, n)]
    for impl in impls:
        check = getattr(impl, kind)
        if impl.missing is not None or check is None:
            continue
        tally = tallies.setdefault(impl.name, Tally())
        for case in genuine:
            verdict, detail = _judge(functools.partial(check, case, vkey))
            if verdict == "accepted" and expect is not None:
                problem = expect(case, detail)
                if problem is not None:
                    verdict, detail = "refused", problem
            if verdict == "accepted":
                tally.genuine_accepted += 1
            elif verdict == "n/a":
                tally.not_applicable += 1
                tally.not_applicable_genuine.append(f"{case.label}: {detail}")
            else:
                tally.genuine_rejected += 1
                tally.failures.append(f"{case.label}: {detail}")
        for _, case in tampered:
            verdict, detail = _judge(functools.partial(check, case, vkey))
            if verdict == "accepted":
                tally.tampered_accepted += 1
                tally.lenient.append(case.label)
            elif verdict == "n/a":
                tally.not_applicable += 1
            else:
                tally.tampered_refused += 1
                kind_of = detail.split(":", 1)[0]
                tally.refusals[kind_of] = tally.refusals.get(kind_of, 0) + 1
    return tallies


def _note_matches(case: NoteCase, parsed: tuple[str, int, bytes]) -> str | None:
    if tuple(parsed) != (case.origin, case.size, case.root):
        return f"parsed {parsed[0]!r} {parsed[1]} {bytes(parsed[2]).hex()}, want " \
               f"{case.origin!r} {case.size} {case.root.hex()}"
    return None


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_tile_entries(out_dir: Path, size: int) -> list[bytes]:
    """All entries of a c2sp.org/tlog-tiles tree from its entry bundles, read from the spec:
    ``tile/entries/<N>[.p/<W>]``, N in 3-digit groups with an ``x`` before each non-final one;
    a bundle is a sequence of big-endian uint16 lengths, each followed by that many bytes."""

    def encode(n: int) -> str:
        groups = [f"{n % 1000:03d}"]
        while n >= 1000:
            n //= 1000
            groups.insert(0, f"x{n % 1000:03d}")
        return "/".join(groups)

    entries: list[bytes] = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        path = f"tile/entries/{encode(n)}" + (f".p/{width}" if width < 256 else "")
        data = (out_dir / path).read_bytes()
        bundle = []
        while data:
            length = int.from_bytes(data[:2], "big")
            if len(data) < 2 + length:
                raise ValueError(f"{path}: truncated entry")
            bundle.append(data[2:2 + length])
            data = data[2 + length:]
        if len(bundle) != width:
            raise ValueError(f"{path}: {len(bundle)} entries, want {width}")
        entries += bundle
    return entries


def tiles_checks(built: Any, out_dir: Path, roots: dict[int, bytes],
                 samples: Sequence[Any], consistency: ConsistencyCase) -> list[dict[str, Any]]:
    """``export tiles``, read back by the packages' tile readers, and the roots recomputed."""
    results: list[dict[str, Any]] = []

    def record(impl: str, what: str, check: Callable[[], str | None]) -> None:
        verdict, detail = _judge(check)
        ok = verdict == "accepted" and detail is None
        results.append({"impl": impl, "check": what, "ok": ok,
                        "detail": None if ok else detail})

    built.cli("export", "tiles", str(out_dir))
    size2 = max(roots)
    size1 = min(roots)
    latest_note = built.notes[size2]
    entries: list[bytes] | None = None
    by_index = {s.want_index: s for s in samples}

    def fresh_entries() -> str | None:
        nonlocal entries
        entries = fresh_tile_entries(out_dir, size2)
        bad = [i for i, s in by_index.items() if entries[i] != s.raw]
        return f"entries differ from 'entry N --raw' at {bad}" if bad else None

    record("fresh (c2sp.org/tlog-tiles)", "entry bundles = 'entry N --raw' (samples)",
           fresh_entries)

    try:
        from tlog_scales import backend
        from tlog_scales import cli as tcli
        from tlog_scales import reader as treader
    except ImportError:
        results.append({"impl": "tlog-scales", "check": "tiles", "ok": None,
                        "detail": "not installed"})
    else:
        r = treader.TilesReader(backend.LocalBackend(out_dir))

        def ts_checkpoint() -> str | None:
            cp = r.get_checkpoint()
            if (out_dir / "checkpoint").read_text(encoding="utf-8") != latest_note:
                return "DIR/checkpoint is not the latest signed note"
            if cp.serialize() != latest_note:
                return "tlog-scales re-serialises the checkpoint differently"
            return None if (cp.size, cp.root_hash) == (size2, roots[size2]) else "size/root"

        def ts_root() -> str | None:
            got = r.calculate_root_hash()
            return None if got == roots[size2] else f"root from hash tiles {got.hex()}"

        def ts_entries() -> str | None:
            got = [r.get_entry(i) for i in range(size2)]
            if entries is not None and got != entries:
                return "tlog-scales reads other entries than the fresh reader"
            bad = [i for i, s in by_index.items() if got[i] != s.raw]
            return f"entries differ from 'entry N --raw' at {bad}" if bad else None

        def ts_proofs() -> str | None:
            for index, s in by_index.items():
                if s.size is not None:
                    continue
                mine = F.parse_tlog_proof(s.text)
                theirs = r.get_inclusion_proof(index, size2).node_hashes
                if list(mine.proof) != theirs:
                    return f"inclusion proof of {index} differs from tlog-scales'"
            theirs = r.get_consistency_proof(size1, size2).node_hashes
            if list(consistency.proof) != theirs:
                return f"consistency proof {size1}->{size2} differs from tlog-scales'"
            return None

        def ts_gen_proof() -> str | None:
            # tlog-scales' own `tlog-tiles gen-proof DIR INDEX` output must be the ledger's
            # tlog-proof without its optional extra line.
            for index, s in by_index.items():
                if s.size is not None:
                    continue
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    tcli.cmd_gen_proof(argparse.Namespace(location=str(out_dir),
                                                          leaf_index=index))
                lines = s.text.split("\n")
                ours = "\n".join([lines[0], *lines[2:]])
                if buf.getvalue() != ours:
                    return f"gen-proof {index} differs from 'prove --format tlog-proof'"
            return None

        record("tlog-scales", "checkpoint file = latest signed note", ts_checkpoint)
        record("tlog-scales", "root from hash tiles = signed root", ts_root)
        record("tlog-scales", "entry tiles = fresh reader's = 'entry N --raw'", ts_entries)
        record("tlog-scales", "proofs from tiles = the ledger's proofs", ts_proofs)
        record("tlog-scales", "gen-proof text = tlog-proof minus extra", ts_gen_proof)

    try:
        import aics_tlog
    except ImportError:
        results.append({"impl": "aics-tlog", "check": "tiles", "ok": None,
                        "detail": "not installed"})
    else:
        fs = aics_tlog.FileSystemTileReader(out_dir)

        def aics_audit() -> str | None:
            report = aics_tlog.audit_tiles(fs, size2, roots[size2])
            return None if report.size == size2 else f"audited size {report.size}"

        def aics_root() -> str | None:
            got = aics_tlog.tree_root_from_tiles(fs, size2)
            return None if got == roots[size2] else f"root from tiles {got.hex()}"

        def aics_entries_and_proofs() -> str | None:
            got = [aics_tlog.read_entry(fs, i, size2) for i in range(size2)]
            if entries is not None and got != entries:
                return "aics-tlog reads other entries than the fresh reader"
            for index, s in by_index.items():
                if s.raw != got[index]:
                    return f"entry {index} differs from 'entry N --raw'"
                if s.size is None and list(F.parse_tlog_proof(s.text).proof) != \
                        aics_tlog.inclusion_proof_from_tiles(fs, index, size2):
                    return f"inclusion proof of {index} differs from aics-tlog's"
            if list(consistency.proof) != aics_tlog.consistency_proof_from_tiles(fs, size1, size2):
                return "consistency proof differs from aics-tlog's"
            return None

        record("aics-tlog", "audit_tiles: every tile and bundle vs signed root", aics_audit)
        record("aics-tlog", "root from tiles = signed root", aics_root)
        record("aics-tlog", "entries and proofs from tiles = the ledger's", aics_entries_and_proofs)

    if entries is None:
        return results
    leaves = [F.rfc_leaf_hash(e) for e in entries]

    def fresh_roots() -> str | None:
        for size, root in roots.items():
            got = F.rfc_mth(leaves[:size])
            if got != root:
                return f"MTH of the first {size} entries is {got.hex()}, signed {root.hex()}"
        return None

    record("fresh (RFC 9162 §2.1.1)", "MTH of all entries = both signed roots", fresh_roots)
    try:
        import pymerkle
    except ImportError:
        results.append({"impl": "pymerkle", "check": "tree", "ok": None,
                        "detail": "not installed"})
    else:
        def pymerkle_roots() -> str | None:
            tree = pymerkle.InmemoryTree(algorithm="sha256")
            for e in entries or []:
                tree.append_entry(e)
            for size, root in roots.items():
                if tree.get_root(size) != root:
                    return f"pymerkle root at {size} is {tree.get_root(size).hex()}"
            return None

        record("pymerkle", "InmemoryTree of all entries: roots = both signed roots",
               pymerkle_roots)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--issuances", type=int, default=1500)
    ap.add_argument("--revocations", type=int, default=10)
    ap.add_argument("--proofs", type=int, default=30, help="tlog-proofs at the latest checkpoint")
    ap.add_argument("--old-proofs", type=int, default=10, help="tlog-proofs at the first one")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--keep", type=Path, default=None, help="build the ledger here and keep it")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)

    impls = [fresh_impl(), sigstore_impl(), tlog_scales_impl(), aics_impl(), metamorphic_impl(),
             pymerkle_impl()]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            work = args.keep
            work.mkdir(parents=True, exist_ok=False)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="interop-")))
        _progress(f"building: {args.issuances} issuances, {args.revocations} revocations in "
                  f"{work}")
        built = F.build_ledger(work, issuances=args.issuances, revocations=args.revocations,
                               seed=args.seed)
        vkey = built.log_vkey
        key = F.parse_note_key(vkey)
        origin = key.name
        roots: dict[int, bytes] = {}
        note_cases = []
        for size, note in built.notes.items():
            cp = F.parse_checkpoint_body(F.open_signed_note(note, [key]))
            roots[size] = cp.root
            note_cases.append(NoteCase(f"checkpoint {size}", note, origin, size, cp.root))

        _progress(f"proving: {args.proofs} + {args.old_proofs} tlog-proofs")
        samples = F.sample_proofs(built, args.proofs, seed=args.seed)
        old = F.sample_proofs(built, args.old_proofs, size=built.size1, seed=args.seed + 1)
        format_problems = []
        inclusion_cases = []
        for s in [*samples, *old]:
            p = F.parse_tlog_proof(s.text)  # the fresh c2sp.org/tlog-proof parser
            size = s.size if s.size is not None else built.size2
            if p.note != built.notes[size]:
                format_problems.append(f"{s.cred}: the proof's checkpoint is not the signed note")
            if p.extra != s.raw:
                format_problems.append(f"{s.cred}: extra is not 'entry {p.index} --raw'")
            if p.index != s.want_index:
                format_problems.append(f"{s.cred}: index {p.index}, want {s.want_index}")
            inclusion_cases.append(InclusionCase(f"{s.cred}@{size} (index {p.index})", p.index,
                                                 size, s.raw, p.proof, roots[size], p.note))

        _progress("consistency proofs")
        consistency_cases = []
        pairs = [(built.size1, built.size2), (built.size2, built.size2),
                 (built.size1, built.size1)]
        pairs += [(m, built.size2) for m in (1, 2, 3, 4, 7, 8, 255, 256, 257, 1024, 1025,
                                             built.size1 - 1, built.size2 - 1)
                  if 0 < m < built.size1]
        for size1, size2 in pairs:
            proof, root1, root2 = F.fetch_consistency(built, size1, size2,
                                                      plain=(size1, size2) == pairs[0])
            if size2 in roots and root2 != roots[size2]:
                format_problems.append(f"consistency {size1} {size2}: root2 is not the signed")
            if size1 in roots and root1 != roots[size1]:
                format_problems.append(f"consistency {size1} {size2}: root1 is not the signed")
            consistency_cases.append(ConsistencyCase(
                f"{size1}->{size2}", size1, size2, tuple(proof), root1, root2,
                built.notes.get(size1), built.notes.get(size2)))

        _progress("asking the implementations")
        results = {
            "signed-note": run_kind(impls, "note", note_cases, lambda c, n: tampered_notes(c),
                                    vkey, _note_matches),
            "inclusion": run_kind(impls, "inclusion", inclusion_cases, tampered_inclusions, vkey),
            "consistency": run_kind(impls, "consistency", consistency_cases,
                                    tampered_consistencies, vkey),
        }
        _progress("export tiles and read them back")
        tiles = tiles_checks(built, work / "tiles", roots, samples, consistency_cases[0])

    seconds = time.perf_counter() - started
    print_report(impls, results, tiles, format_problems, built, len(inclusion_cases),
                 len(consistency_cases), seconds)
    disagreements = (sum(t.genuine_rejected for r in results.values() for t in r.values())
                     + sum(1 for t in tiles if t["ok"] is False) + len(format_problems))
    if args.out is not None:
        args.out.write_text(json.dumps({
            "scenario": {"issuances": args.issuances, "revocations": args.revocations,
                         "size1": built.size1, "size2": built.size2, "seed": args.seed,
                         "inclusion_cases": len(inclusion_cases),
                         "consistency_cases": len(consistency_cases)},
            "implementations": [{"name": i.name, "version": i.version, "functions": i.functions,
                                 "missing": i.missing} for i in impls],
            "results": {kind: {name: t.as_dict() for name, t in r.items()}
                        for kind, r in results.items()},
            "tiles": tiles, "format_problems": format_problems,
            "disagreements": disagreements, "seconds": round(seconds, 1),
            "python": platform.python_version(), "platform": platform.platform(),
        }, indent=2) + "\n", encoding="utf-8")
    return 1 if disagreements else 0


def print_report(impls: Sequence[Impl], results: dict[str, dict[str, Tally]],
                 tiles: list[dict[str, Any]], format_problems: list[str], built: Any,
                 n_inclusion: int, n_consistency: int, seconds: float) -> None:
    print(f"credential-ledger interoperability: sizes {built.size1} and {built.size2}, "
          f"{len(built.notes)} checkpoints, {n_inclusion} tlog-proofs, "
          f"{n_consistency} consistency proofs ({seconds:.0f} s)\n")
    print("implementations:")
    for i in impls:
        state = f"{i.version}" if i.missing is None else f"not installed ({i.missing})"
        print(f"  {i.name:24} {state}")
    print()
    header = f"{'check':12} {'implementation':24} {'genuine':>17} {'tampered':>18} {'n/a':>5}"
    print(header)
    print("-" * len(header))
    for kind, tallies in results.items():
        for name, t in tallies.items():
            genuine = f"{t.genuine_accepted}/{t.genuine_accepted + t.genuine_rejected} ok"
            tampered = f"{t.tampered_refused}/{t.tampered_refused + t.tampered_accepted} refused"
            print(f"{kind:12} {name:24} {genuine:>17} {tampered:>18} {t.not_applicable:>5}")
    print()
    print("static tiles (export tiles):")
    for row in tiles:
        mark = {True: "ok", False: "FAIL", None: "skip"}[row["ok"]]
        detail = f" ({row['detail']})" if row["detail"] else ""
        print(f"  {mark:4} {row['impl']:28} {row['check']}{detail}")
    print()
    problems = [*format_problems]
    for kind, tallies in results.items():
        for name, t in tallies.items():
            problems += [f"{kind}: {name} refused {f}" for f in t.failures[:5]]
            if len(t.failures) > 5:
                problems.append(f"{kind}: {name}: and {len(t.failures) - 5} more")
    problems += [f"tiles: {t['impl']}: {t['check']}: {t['detail']}" for t in tiles
                 if t["ok"] is False]
    if problems:
        print("DISAGREEMENTS with the ledger's output:")
        for p in problems:
            print(f"  - {p}")
    else:
        print("no disagreement: every implementation accepted every genuine output")
    for kind, tallies in results.items():
        for name, t in tallies.items():
            if t.not_applicable_genuine:
                sizes = ", ".join(label.split(":")[0] for label in t.not_applicable_genuine)
                print(f"note: {name} could not express {len(t.not_applicable_genuine)} genuine "
                      f"{kind} input(s) ({sizes}): not a verdict")
    lenient = [(kind, name, t.lenient) for kind, tallies in results.items()
               for name, t in tallies.items() if t.lenient]
    for kind, name, labels in lenient:
        print(f"note: {name} accepted {len(labels)} tampered {kind} input(s), e.g. "
              f"{', '.join(labels[:3])} (its leniency, not the ledger's output)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:  # noqa: BLE001 - a crash of the check itself: exit 3, not 1
        traceback.print_exc()
        sys.exit(3)
