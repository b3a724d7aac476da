"""Build proof bundles (docs/FORMAT.md, "Proof bundle") from a ledger store.

A bundle proves, as of one stored checkpoint, the status of one or more credentials (with the
parts of stacked ones): the checkpoint note; the entries that matter, each with its RFC 9162
inclusion proof (the issuance, the entry that set the current status, the entry that introduced
the signing key, and the tree's last entry, whose ``state_root`` the map proofs are against);
and status-map proofs for each credential, its signing key and its issuer. A never-issued id
gets a proof of absence. ``ledger.verify`` checks all of it offline.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ledger.errors import UsageError
from ledger.events import (
    CRED,
    ISSUER,
    KEY,
    CredRecord,
    KeyRecord,
    decode_entry,
    decode_record,
    decode_statement,
    key_id,
    map_key,
)
from ledger.log import Ledger, Snapshot
from ledger.note import parse_checkpoint, parse_note
from ledger.verify import BUNDLE_FORMAT, MAX_CREDENTIALS


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def build_bundle(ledger: Ledger, credentials: list[tuple[str, str]], *, size: int | None = None,
                 documents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The bundle for ``credentials`` (issuer, id) against the checkpoint of ``size``
    (default: the latest stored checkpoint), read from one snapshot of the store.

    UsageError if that would prove more than ``MAX_CREDENTIALS`` credentials, counting the
    parts of stacked ones."""
    return ledger.snapshot(lambda snap: _build(snap, credentials, size, documents))


def _build(ledger: Snapshot, credentials: list[tuple[str, str]], size: int | None,
           documents: list[dict[str, Any]] | None) -> dict[str, Any]:
    note = ledger.checkpoint_note(size)
    cp = parse_checkpoint(parse_note(note).text)
    entries: set[int] = set()
    keys: list[bytes] = []
    if cp.size > 0:
        entries.add(cp.size - 1)
        state_root = decode_entry(ledger.entry_bytes(cp.size - 1)).state_root
    else:
        from ledger.smt import EMPTY

        state_root = EMPTY
    proofs: dict[bytes, dict[str, Any]] = {}

    def prove(kind: str, issuer: str, ident: str = "") -> bytes | None:
        k = map_key(kind, issuer, ident)
        proof, record = ledger.map_proof(k, state_root)
        if k not in proofs:
            keys.append(k)
            proofs[k] = {
                "key": _b64(k),
                "leaf_key": None if proof.leaf_key is None else _b64(proof.leaf_key),
                "leaf_value": None if proof.leaf_value is None else _b64(proof.leaf_value),
                "siblings": [_b64(h) for h in proof.siblings],
                "record": None if record is None else _b64(record),
            }
        return record

    queue = list(credentials)
    seen: set[tuple[str, str]] = set()
    while queue:
        issuer, cred_id = queue.pop(0)
        if (issuer, cred_id) in seen:
            continue
        seen.add((issuer, cred_id))
        if len(seen) > MAX_CREDENTIALS:
            raise UsageError(f"more than {MAX_CREDENTIALS} credentials (counting the parts of "
                             "stacked ones) in one bundle; prove them in several bundles")
        raw = prove(CRED, issuer, cred_id)
        if raw is None:
            continue  # absence is proven by the map proof alone
        rec = decode_record(raw)
        assert isinstance(rec, CredRecord)
        entries.add(rec.issued_index)
        if rec.changed_index is not None:
            entries.add(rec.changed_index)
        issued = decode_entry(ledger.entry_bytes(rec.issued_index))
        kraw = prove(KEY, issuer, key_id(issued.signer))
        if kraw is not None:
            krec = decode_record(kraw)
            assert isinstance(krec, KeyRecord)
            entries.add(krec.active_from)
        prove(ISSUER, issuer)
        st = decode_statement(issued.statement)
        queue.extend((issuer, part) for part in st.fields[5])

    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "checkpoint": note,
        "credentials": [{"issuer": i, "id": c} for i, c in credentials],
        "entries": [{"index": i, "entry": _b64(ledger.entry_bytes(i)),
                     "proof": [_b64(h) for h in ledger.inclusion_proof(i, cp.size)]}
                    for i in sorted(entries)],
        "map": [proofs[k] for k in keys],
    }
    if documents:
        bundle["documents"] = documents
    return bundle


def dump_bundle(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, indent=1) + "\n"
