"""Proof bundles (docs/FORMAT.md §9): the format, written and read, in one place.

A bundle proves, as of one stored checkpoint, the status of one or more credentials (with the
parts of stacked ones): the checkpoint note; the entries that matter, each with its RFC 9162
inclusion proof (the issuance, the entry that set the current status, the entry that introduced
the signing key, the ``revoke-key`` that flagged a key as compromised, and the tree's last
entry, whose ``state_root`` the map proofs are against, and the ``register-achievement`` of
what it awards); and status-map proofs for each credential, its signing key (and a
reinstatement's), its issuer and its achievement. A never-issued credential gets a proof of
absence. The holder's credential itself travels beside the bundle, never inside it: a bundle
holds nothing personal.

:func:`build_bundle` writes one from a ledger's read snapshot, :func:`build_bundles` one for each
credential of a cohort from a single snapshot and checkpoint; :func:`parse_bundle` reads one
strictly, every size limit checked before any hashing; ``ledger.verify`` checks what it proves.
Reading needs no store: this module imports ``ledger.log`` and ``ledger.snapshot`` only for
its type hints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ledger import smt
from ledger.errors import EncodingError, LedgerError, UsageError
from ledger.events import (
    MAX_ENTRY_SIZE,
    check_handle,
    check_id,
    decode_entry,
    decode_statement,
    key_id,
)
from ledger.note import parse_checkpoint, parse_note
from ledger.parse import b64decode, b64encode, json_fields, load_json
from ledger.records import (
    ACHIEVEMENT,
    CRED,
    ISSUED,
    ISSUER,
    KEY,
    AchievementRecord,
    CredRecord,
    KeyRecord,
    decode_record,
    map_key,
)

if TYPE_CHECKING:
    from ledger.log import Ledger
    from ledger.snapshot import Snapshot

BUNDLE_FORMAT: Final = "credential-ledger/bundle@v2"
MAX_BUNDLE_SIZE: Final = 16 << 20
MAX_ENTRIES: Final = 4096
MAX_MAP_PROOFS: Final = 4096
MAX_CREDENTIALS: Final = 1024
MAX_PATH: Final = 64
MAX_BUNDLE_ITEMS: Final = 1 << 19
"""The most JSON items (``{``, ``[`` and ``,`` outside strings) a bundle may have, counted
before it is parsed: parsing builds every item at once, and 16 MiB of tiny ones (``{},``)
took 400 MB. A bundle ``build_bundle`` writes is mostly 32-byte hashes, 47 bytes or more an
item, so one of 16 MiB has fewer than 360,000."""


# ---------------------------------------------------------------------------------- reading


_MAX_B64 = 4 * -(-MAX_ENTRY_SIZE // 3)  # the base64 length of the largest entry


def _b64(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or len(value) > _MAX_B64:
        raise EncodingError(f"bundle: {what}: want base64 text")
    try:
        raw = b64decode(value)
    except ValueError as exc:
        raise EncodingError(f"bundle: {what}: {exc}") from None
    if size is not None and len(raw) != size:
        raise EncodingError(f"bundle: {what}: want {size} bytes, got {len(raw)}")
    return raw


def _list(value: Any, what: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise EncodingError(f"bundle: {what}: want a list")
    if len(value) > limit:
        raise EncodingError(f"bundle: {what}: more than {limit} items")
    return value


def _obj(value: Any, what: str, keys: AbstractSet[str],
         optional: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    return json_fields(value, f"bundle: {what}", keys, optional)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed (not yet verified) proof bundle."""

    checkpoint: str
    entries: dict[int, tuple[bytes, tuple[bytes, ...]]]
    proofs: dict[bytes, tuple[smt.MapProof, bytes | None]]
    credentials: tuple[tuple[str, str], ...]


def parse_bundle(data: bytes | str) -> Bundle:
    """Strictly parse bundle JSON, refusing oversize input before any hashing."""
    if len(data) > MAX_BUNDLE_SIZE:
        raise EncodingError(f"bundle: larger than {MAX_BUNDLE_SIZE} bytes")
    doc = load_json(data, "bundle", MAX_BUNDLE_ITEMS)
    doc = _obj(doc, "top level", {"format", "checkpoint", "entries", "map", "credentials"})
    if doc["format"] != BUNDLE_FORMAT:
        if doc["format"] == "credential-ledger/bundle@v1":
            raise EncodingError("bundle: format: credential-ledger/bundle@v1 is of entry format "
                                f"1; this verifier reads {BUNDLE_FORMAT!r}")
        raise EncodingError(f"bundle: format: want {BUNDLE_FORMAT!r}")
    if not isinstance(doc["checkpoint"], str):
        raise EncodingError("bundle: checkpoint: want the note text")
    entries: dict[int, tuple[bytes, tuple[bytes, ...]]] = {}
    for n, item in enumerate(_list(doc["entries"], "entries", MAX_ENTRIES)):
        item = _obj(item, f"entries[{n}]", {"index", "entry", "proof"})
        index = item["index"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1 << 63:
            raise EncodingError(f"bundle: entries[{n}].index: want a non-negative integer")
        if index in entries:
            raise EncodingError(f"bundle: entry {index} appears twice")
        proof = tuple(_b64(h, f"entries[{n}].proof", 32)
                      for h in _list(item["proof"], f"entries[{n}].proof", MAX_PATH))
        entries[index] = (_b64(item["entry"], f"entries[{n}].entry"), proof)
    proofs: dict[bytes, tuple[smt.MapProof, bytes | None]] = {}
    for n, item in enumerate(_list(doc["map"], "map", MAX_MAP_PROOFS)):
        item = _obj(item, f"map[{n}]", {"key", "leaf_key", "leaf_value", "siblings", "record"})
        k = _b64(item["key"], f"map[{n}].key", 32)
        if k in proofs:
            raise EncodingError(f"bundle: map[{n}]: the same key appears twice")
        siblings = tuple(_b64(h, f"map[{n}].siblings", 32)
                         for h in _list(item["siblings"], f"map[{n}].siblings", 256))
        leaf_key = None if item["leaf_key"] is None else _b64(item["leaf_key"], "leaf_key", 32)
        leaf_value = (None if item["leaf_value"] is None
                      else _b64(item["leaf_value"], "leaf_value", 32))
        record = None if item["record"] is None else _b64(item["record"], f"map[{n}].record")
        try:
            map_proof = smt.MapProof(k, leaf_key, leaf_value, siblings)
        except LedgerError as exc:
            raise EncodingError(f"bundle: map[{n}]: {exc}") from None
        proofs[k] = (map_proof, record)
    creds = []
    for n, item in enumerate(_list(doc["credentials"], "credentials", MAX_CREDENTIALS)):
        item = _obj(item, f"credentials[{n}]", {"issuer", "id"})
        try:
            creds.append((check_id(item["issuer"], "issuer"), check_handle(item["id"])))
        except EncodingError as exc:
            raise EncodingError(f"bundle: credentials[{n}]: {exc}") from None
    if not creds:
        raise EncodingError("bundle: credentials: empty")
    return Bundle(doc["checkpoint"], entries, proofs, tuple(creds))



# ---------------------------------------------------------------------------------- writing


def build_bundle(ledger: Ledger, credentials: list[tuple[str, str]], *,
                 size: int | None = None) -> dict[str, Any]:
    """The bundle for ``credentials`` (issuer, handle) against the checkpoint of ``size``
    (default: the latest stored checkpoint), read from one snapshot of the store.

    UsageError if that would prove more than ``MAX_CREDENTIALS`` credentials, counting the
    parts of stacked ones."""
    return ledger.snapshot(lambda snap: _Builder(snap, size).build(credentials))


def build_bundles(ledger: Ledger, issuer: str, ids: Iterable[str], *, size: int | None = None,
                  progress: Callable[[int], None] | None = None,
                  ) -> Iterator[tuple[str, dict[str, Any]]]:
    """One bundle for each credential ``ids`` of ``issuer`` (a cohort), in order, as
    ``(id, bundle)``: all read from ONE snapshot of the store and against ONE checkpoint (of
    ``size``, default the latest stored), however the log grows meanwhile (``ids``: handles);
    ``progress(n)`` is called after the n-th.

    The proofs every bundle shares (the checkpoint's last entry, the issuer's key and status)
    are read once. The bundles are built before the first is returned (the snapshot is one
    read transaction), so a cohort's bundles are all in memory at once (8 kB of JSON each
    with its document in a log of 201 entries, growing with the log's depth). A never-issued id gets a bundle proving its absence
    (:func:`proves_absence`)."""
    wanted = [(issuer, check_handle(i)) for i in ids]

    def build(snap: Snapshot) -> list[tuple[str, dict[str, Any]]]:
        builder = _Builder(snap, size)
        out = []
        for n, cred in enumerate(wanted, 1):
            out.append((cred[1], builder.build([cred])))
            if progress is not None:
                progress(n)
        return out

    return iter(ledger.snapshot(build))


def proves_absence(bundle: dict[str, Any]) -> bool:
    """Whether a bundle :func:`build_bundle` wrote for one credential proves it was never
    issued (as of its checkpoint): the credential's own map proof, the first, has no record."""
    return bool(bundle["map"]) and bundle["map"][0]["record"] is None


class _Builder:
    """Bundles from one snapshot against one checkpoint; the checkpoint, the state root and
    every entry and map proof are read once however many bundles use them."""

    def __init__(self, ledger: Snapshot, size: int | None) -> None:
        self.ledger = ledger
        self.note = ledger.checkpoint_note(size)
        self.cp = parse_checkpoint(parse_note(self.note).text)
        if self.cp.size > 0:
            self.state_root = decode_entry(ledger.entry_bytes(self.cp.size - 1)).state_root
        else:
            self.state_root = smt.EMPTY
        self._proofs: dict[bytes, tuple[dict[str, Any], bytes | None]] = {}
        self._entries: dict[int, dict[str, Any]] = {}

    def _map_proof(self, k: bytes) -> tuple[dict[str, Any], bytes | None]:
        if k not in self._proofs:
            proof, record = self.ledger.map_proof(k, self.state_root)
            self._proofs[k] = ({
                "key": b64encode(k),
                "leaf_key": None if proof.leaf_key is None else b64encode(proof.leaf_key),
                "leaf_value": None if proof.leaf_value is None else b64encode(proof.leaf_value),
                "siblings": [b64encode(h) for h in proof.siblings],
                "record": None if record is None else b64encode(record),
            }, record)
        return self._proofs[k]

    def _entry(self, index: int) -> dict[str, Any]:
        if index not in self._entries:
            self._entries[index] = {
                "index": index, "entry": b64encode(self.ledger.entry_bytes(index)),
                "proof": [b64encode(h) for h in self.ledger.inclusion_proof(index, self.cp.size)]}
        return self._entries[index]

    def build(self, credentials: list[tuple[str, str]]) -> dict[str, Any]:
        ledger = self.ledger
        entries: set[int] = set()
        if self.cp.size > 0:
            entries.add(self.cp.size - 1)
        proofs: dict[bytes, dict[str, Any]] = {}

        def prove(kind: str, issuer: str, ident: str = "") -> bytes | None:
            k = map_key(kind, issuer, ident)
            proof, record = self._map_proof(k)
            proofs.setdefault(k, proof)  # dicts keep the order of first use
            return record

        queue = list(credentials)
        seen: set[tuple[str, str]] = set()
        while queue:
            issuer, cred_id = queue.pop(0)
            if (issuer, cred_id) in seen:
                continue
            seen.add((issuer, cred_id))
            if len(seen) > MAX_CREDENTIALS:
                raise UsageError(f"more than {MAX_CREDENTIALS} credentials (counting the parts "
                                 "of stacked ones) in one bundle; prove them in several bundles")
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
                if krec.revoked_at is not None:  # flagged as compromised: the revoke-key
                    entries.add(krec.revoked_at)
            if rec.state == ISSUED and rec.changed_index is not None:
                # A reinstatement: the key that signed it, which may be a later one.
                changed = decode_entry(ledger.entry_bytes(rec.changed_index))
                rraw = prove(KEY, issuer, key_id(changed.signer))
                if rraw is not None:
                    rrec = decode_record(rraw)
                    assert isinstance(rrec, KeyRecord)
                    if rrec.revoked_at is not None:
                        entries.add(rrec.revoked_at)
            prove(ISSUER, issuer)
            st = decode_statement(issued.statement)
            araw = prove(ACHIEVEMENT, issuer, st.fields[2])
            if araw is not None:
                arec = decode_record(araw)
                assert isinstance(arec, AchievementRecord)
                entries.add(arec.registered_at)
            queue.extend((issuer, part) for part in st.fields[6])

        bundle: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "checkpoint": self.note,
            "credentials": [{"issuer": i, "id": c} for i, c in credentials],
            "entries": [self._entry(i) for i in sorted(entries)],
            "map": list(proofs.values()),
        }
        return bundle


def dump_bundle(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, indent=1) + "\n"
