"""C2SP ``c2sp.org/tlog-proof@v1``: build and check the text form of an offline inclusion proof.

Layout (c2sp.org/tlog-proof)::

    c2sp.org/tlog-proof@v1
    extra <base64 of the exact entry bytes>        (optional; the ledger always writes it)
    index <decimal, no leading zeros>
    <base64 hash>                                   (zero or more: the RFC 9162 inclusion path)
                                                    (an empty line)
    <the checkpoint note, verbatim>

The extra data is not authenticated by itself; it is trusted only because its leaf hash is proven
to be in the checkpointed tree. :func:`prove_issuance` builds one from a ledger (imported for type
hints only); the rest reads and checks. No I/O, no lmdb.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger import merkle
from ledger.errors import EncodingError, NotFoundError
from ledger.note import Checkpoint, Verifier, open_checkpoint, parse_checkpoint, parse_note
from ledger.records import CRED, CredRecord

if TYPE_CHECKING:
    from ledger.log import Ledger

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_TEXT = 1 << 20
MAX_PATH = 64  # an inclusion path in a tree of at most 2**64 leaves
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True, slots=True)
class TlogProof:
    index: int
    proof: tuple[bytes, ...]
    note: str
    extra: bytes | None = None

    def format(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.proof)
        return "\n".join(lines) + "\n\n" + self.note


def prove_issuance(ledger: Ledger, issuer_id: str, cred_id: str, *,
                   size: int | None = None) -> TlogProof:
    """The tlog-proof of a credential's issuance entry against the stored checkpoint of
    ``size`` (default: the latest stored one, which may be older than the log: ``credledger
    prove`` signs a current one first unless asked for a size), its extra data the exact
    entry bytes."""
    def build(snap: Any) -> TlogProof:
        note = snap.checkpoint_note(size)
        cp = parse_checkpoint(parse_note(note).text)
        rec = ledger.record(CRED, issuer_id, cred_id)
        if not isinstance(rec, CredRecord):
            raise NotFoundError(f"issuer {issuer_id!r} never issued {cred_id!r}")
        if rec.issued_index >= cp.size:
            raise NotFoundError(f"{issuer_id}/{cred_id} was issued at entry {rec.issued_index}, "
                                f"after the checkpoint of size {cp.size}; prove it against a "
                                "later checkpoint ('credledger prove' without --size signs one)")
        proof = snap.inclusion_proof(rec.issued_index, cp.size)
        return TlogProof(rec.issued_index, tuple(proof), note, snap.entry_bytes(rec.issued_index))
    return ledger.snapshot(build)


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EncodingError(f"tlog-proof: {what} is not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise EncodingError(f"tlog-proof: {what} is not canonical base64")
    return raw


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    """Strictly parse tlog-proof text; :class:`EncodingError` for anything malformed."""
    if isinstance(text, bytes):
        if len(text) > MAX_PROOF_TEXT:
            raise EncodingError(f"tlog-proof: larger than {MAX_PROOF_TEXT} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError("tlog-proof: not UTF-8") from None
    if len(text) > MAX_PROOF_TEXT:
        raise EncodingError(f"tlog-proof: larger than {MAX_PROOF_TEXT} characters")
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise EncodingError("tlog-proof: no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise EncodingError(f"tlog-proof: first line must be {HEADER!r}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = _b64(lines[pos][6:], "extra data")
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise EncodingError("tlog-proof: missing 'index' line")
    digits = lines[pos][6:]
    if not _DECIMAL.fullmatch(digits) or int(digits) >= 1 << 64:
        raise EncodingError("tlog-proof: index must be a decimal without leading zeros")
    hashes = lines[pos + 1:]
    if len(hashes) > MAX_PATH:
        raise EncodingError(f"tlog-proof: more than {MAX_PATH} proof hashes")
    proof = []
    for n, line in enumerate(hashes, 1):
        h = _b64(line, f"proof hash {n}")
        if len(h) != merkle.HASH_SIZE:
            raise EncodingError(f"tlog-proof: proof hash {n} is {len(h)} bytes, want 32")
        proof.append(h)
    parse_note(note)
    return TlogProof(int(digits), tuple(proof), note, extra)


def check_tlog_proof(text: str | bytes, *, entry: bytes | None = None,
                     verifier: Verifier | None = None,
                     root: bytes | None = None, size: int | None = None) -> tuple[Checkpoint, int, bytes]:
    """Check a tlog-proof and return (checkpoint, index, entry bytes).

    Trust comes from ``verifier`` (the log key: the checkpoint's signature must verify) or from
    a published ``root`` and ``size`` (the checkpoint must name exactly these). The entry is
    ``entry`` if given, else the proof's extra data.
    """
    p = parse_tlog_proof(text)
    # 1. Establish the trusted checkpoint.
    if verifier is not None:
        cp = open_checkpoint(p.note, verifier)
    elif root is not None and size is not None:
        cp = parse_checkpoint(parse_note(p.note).text)
        if cp.size != size or cp.root != root:
            raise EncodingError(f"tlog-proof: checkpoint is of size {cp.size}, root "
                                f"{cp.root.hex()}; want size {size}, root {root.hex()}")
    else:
        raise EncodingError("tlog-proof: give the log key, or a root and size, to trust")
    # 2. The entry: given, or carried as extra data.
    data = entry if entry is not None else p.extra
    if data is None:
        raise EncodingError("tlog-proof: no entry bytes (no extra data and none given)")
    # 3. Its leaf hash must be at the index in the checkpointed tree.
    merkle.verify_inclusion(p.index, cp.size, merkle.leaf_hash(data), p.proof, cp.root)
    return cp, p.index, data
