"""The ledger's read side: :class:`Snapshot`, every answer from one read transaction, and what
reading needs of the store's layout.

- the head (:class:`Head`, ``meta/head``) and the tree root at a size, read from a transaction;
- the keys of the store's indexes: ``creds`` (:func:`cred_index_prefix`), ``achievements``
  (:func:`achievement_index_key`) and ``statements`` (:func:`statement_key`), docs/FORMAT.md
  §12.1;
- the current status records (:func:`store_loader`), an issuer's keys as the log tells them
  (:class:`IssuerHistory`), a registered achievement with its definition
  (:class:`RegisteredAchievement`), and a record as JSON (:func:`describe`).

Nothing here writes, and nothing here imports the writer: ``ledger.log``'s ``Ledger`` opens
snapshots (:meth:`~ledger.log.Ledger.snapshot`), hands its read methods to them, and keys its
appends with the same helpers.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import merkle, smt
from ledger.errors import EncodingError, NotFoundError, StoreCorruptError
from ledger.events import (
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    ROTATE_KEY,
    Entry,
    SignedStatement,
    check_bytes,
    check_id,
    check_index,
    check_time,
    decode_entry,
    decode_statement,
    key_id,
    pack,
    trusted_entry,
    unpack_array,
)
from ledger.records import (
    KEY_ROTATED,
    AchievementRecord,
    CredRecord,
    IssuerRecord,
    KeyRecord,
    Record,
    SlotRecord,
    StatusListRecord,
    decode_record,
)
from ledger.rules import RecordState
from ledger.store import MapNodes, Txn, u64


@dataclass(frozen=True, slots=True)
class Head:
    """The store's head: ``[size, root, state_root, last_time]`` in ``meta/head``."""

    size: int
    root: bytes
    state_root: bytes
    last_time: int

    def encode(self) -> bytes:
        return pack([self.size, self.root, self.state_root, self.last_time])

    @staticmethod
    def decode(data: bytes) -> Head:
        try:
            size, root, state_root, last_time = unpack_array(data, "head")
        except (EncodingError, ValueError):
            raise StoreCorruptError("the store's head record is damaged") from None
        try:
            return Head(check_index(size, "size"), check_bytes(root, "root", 32),
                        check_bytes(state_root, "state_root", 32), check_time(last_time, "last_time"))
        except EncodingError as exc:
            raise StoreCorruptError(f"the store's head record is damaged ({exc})") from None



@dataclass(frozen=True, slots=True)
class KeyHistory:
    """One key of an issuer as the log tells it (:meth:`~ledger.log.Ledger.issuer_history`):
    its current record, and the sequencing times of the entries the record names."""

    record: KeyRecord
    introduced_by: str
    """``register-issuer`` or ``rotate-key``: the kind of the entry at ``active_from``."""
    active_from_time: int
    ended_time: int | None
    revoked_time: int | None


@dataclass(frozen=True, slots=True)
class IssuerHistory:
    """An issuer's record, the times of its registration and retirement, and every key it
    ever had, oldest first."""

    record: IssuerRecord
    registered_time: int
    retired_time: int | None
    keys: tuple[KeyHistory, ...]


MAX_CRED_PREFIX = 511 - 8
"""LMDB keys are at most 511 bytes, and a ``creds`` key ends with the entry's 8-byte index."""


def cred_index_prefix(issuer: str, cred_id: str) -> bytes:
    """The ``creds`` index's key prefix for a credential: canonical msgpack ``[issuer,
    cred_id]``, or, where that is longer than :data:`MAX_CRED_PREFIX` (ids near their 256
    character limit), ``0x00 || SHA-256`` of it (a msgpack array never starts with 0x00)."""
    prefix = pack([issuer, cred_id])
    if len(prefix) > MAX_CRED_PREFIX:
        return b"\x00" + hashlib.sha256(prefix).digest()
    return prefix


def achievement_index_prefix(issuer: str) -> bytes:
    """The 32-byte prefix every key of one issuer's achievements has in the ``achievements``
    index: SHA-256 of the issuer id (ASCII, §1.4)."""
    return hashlib.sha256(issuer.encode("ascii")).digest()


def achievement_index_key(issuer: str, achievement_id: str) -> bytes:
    """The ``achievements`` index's key of an achievement: :func:`achievement_index_prefix`,
    then the achievement id's ASCII. At most 32 + 256 bytes, so it always fits LMDB's 511,
    and an issuer's achievements are one prefix scan whatever the lengths of its ids."""
    return achievement_index_prefix(issuer) + achievement_id.encode("ascii")


@dataclass(frozen=True, slots=True)
class RegisteredAchievement:
    """An achievement as the log holds it (:meth:`~ledger.log.Ledger.achievement`): its status
    record, the definition from the signed ``register-achievement`` entry at
    ``record.registered_at``, that entry's times, and the current record of the key that
    signed it."""

    record: AchievementRecord
    name: str
    description: str
    criteria: str
    achievement_type: str
    statement_time: int
    """The signer's time in the statement."""
    registered_time: int
    """The entry's sequencing time."""
    key: KeyRecord

    @property
    def trusted(self) -> bool:
        """False when the signing key is flagged as compromised from an index at or before
        the registration (docs/FORMAT.md §6.1): the definition may be a thief's."""
        return self.key.trusted_at(self.record.registered_at)



def statement_key(item: SignedStatement) -> bytes:
    """The ``statements`` index's key of a signed statement: SHA-256 of canonical msgpack
    ``[statement, signer, signature]`` (docs/FORMAT.md §12.1)."""
    return hashlib.sha256(pack([item.statement, item.signer, item.signature])).digest()


def store_loader(txn: Txn) -> Callable[[bytes], Record | None]:
    """Load the current record for a map key from the store's ``status`` and ``records``."""
    def load(k: bytes) -> Record | None:
        vh = txn.get("status", k)
        if vh is None:
            return None
        data = txn.get("records", vh)
        if data is None:
            raise StoreCorruptError(f"status record {vh.hex()} is missing")
        return decode_record(data)
    return load


class Snapshot:
    """The ledger's read side over one read transaction: every answer comes from the same
    consistent state, however many are asked (:meth:`~ledger.log.Ledger.snapshot`; a proof
    bundle asks for a dozen)."""

    __slots__ = ("_txn",)

    def __init__(self, txn: Txn) -> None:
        self._txn = txn

    def head(self) -> Head:
        return read_head(self._txn)

    def entry_bytes(self, index: int) -> bytes:
        data = self._txn.entry(index)
        if data is None:
            raise NotFoundError(f"no entry {index} (the log has {self.head().size} entries)")
        return data

    def root_at(self, size: int) -> bytes:
        _check_size(self._txn, size)
        return root_at(self._txn, size)

    def find_statement(self, item: SignedStatement) -> int | None:
        """The index of the first entry holding exactly ``item`` (its statement, signer and
        signature), through the ``statements`` index; None if the log has none. The entry
        found is compared byte for byte: an index that names another entry is damage."""
        raw = self._txn.get("statements", statement_key(item))
        if raw is None:
            return None
        index = int.from_bytes(raw, "big")
        data = self._txn.entry(index)
        entry = None if data is None else trusted_entry(data)
        if entry is None or (entry.statement, entry.signer, entry.signature) != (
                item.statement, item.signer, item.signature):
            raise StoreCorruptError(f"the statements index names entry {index}, which does not "
                                    "hold the statement")
        return index

    def leaf_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """The RFC 9162 leaf hashes of the entries ``indexes`` (stored: level 0 of ``tree``)."""
        return self._txn.tree_nodes([(0, i) for i in indexes])

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        _check_size(self._txn, size)
        if not 0 <= index < size:
            raise NotFoundError(f"entry {index} is not in a tree of size {size}")
        return self._proof(merkle.inclusion_path(index, size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        _check_size(self._txn, size2)
        if not 0 <= size1 <= size2:
            raise NotFoundError(f"no consistency proof from size {size1} to size {size2}")
        if size1 == 0 or size1 == size2:
            return []
        return self._proof(merkle.consistency_path(size1, size2))

    def _proof(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        groups = merkle.proof_nodes(ranges)
        return merkle.fold_proof_nodes(groups,
                                       self._txn.tree_nodes([n for g in groups for n in g]))

    def checkpoint_note(self, size: int | None = None) -> str:
        if size is None:
            last = self._txn.last("checkpoints")
            note = None if last is None else last[1]
        else:
            note = self._txn.get("checkpoints", u64(size))
        if note is None:
            raise NotFoundError("no checkpoint has been signed yet; run 'credledger checkpoint'"
                                if size is None else f"no checkpoint of size {size} was signed")
        return note.decode()

    def issuer_history(self, issuer: str) -> IssuerHistory | None:
        """Every key the issuer ever had, oldest first, with its registration and retirement.

        The store keeps no list of an issuer's keys, and needs none: keys come only from the
        ``register-issuer`` entry (the first) and from ``rotate-key`` entries, each signed by
        the one active key and ending it, so an issuer's keys form one chain. It is walked
        from the registration: a key record that ended ``rotated`` names, in ``ended_at``,
        the ``rotate-key`` entry that holds the next key's public key. A store whose records
        and entries do not agree along the chain is reported as corrupt.
        """
        state = RecordState(store_loader(self._txn))
        rec = state.issuer(issuer)
        if rec is None:
            return None

        def statement(index: int, kind: str) -> tuple[Entry, Any]:
            entry = decode_entry(self.entry_bytes(index))
            st = decode_statement(entry.statement)
            if st.kind != kind or st.issuer != issuer:
                raise StoreCorruptError(f"entry {index} is not the {kind} of {issuer!r} that "
                                        "its status record names")
            return entry, st

        def time_at(index: int) -> int:
            return decode_entry(self.entry_bytes(index)).time

        def time_of(index: int | None) -> int | None:
            return None if index is None else time_at(index)

        registration, st = statement(rec.registered_at, REGISTER_ISSUER)
        public_key, introduced_by = st.fields[2], REGISTER_ISSUER
        keys: list[KeyHistory] = []
        size = self.head().size
        while True:
            key = state.key(issuer, key_id(public_key))
            if key is None or key.public_key != public_key or len(keys) > size:
                raise StoreCorruptError(f"issuer {issuer!r}: the key record of "
                                        f"{key_id(public_key)} is missing or wrong")
            keys.append(KeyHistory(key, introduced_by, time_at(key.active_from),
                                   time_of(key.ended_at), time_of(key.revoked_index)))
            if key.end != KEY_ROTATED:
                break
            assert key.ended_at is not None
            rotation, st = statement(key.ended_at, ROTATE_KEY)
            if rotation.signer != public_key:
                raise StoreCorruptError(f"entry {key.ended_at} does not rotate key {key.key_id}")
            public_key, introduced_by = st.fields[0], ROTATE_KEY
        return IssuerHistory(rec, registration.time, time_of(rec.retired_at), tuple(keys))

    def achievement(self, issuer: str, achievement_id: str) -> RegisteredAchievement | None:
        """The achievement's record and its definition, read from the ``register-achievement``
        entry the record names (a record and entry that disagree: a damaged store)."""
        state = RecordState(store_loader(self._txn))
        rec = state.achievement(issuer, achievement_id)
        return None if rec is None else self._registered(state, rec)

    def achievements(self, issuer: str) -> list[RegisteredAchievement]:
        """Every achievement of ``issuer``, in the order of registration.

        The ``achievements`` index lists them (an issuer's keys are one prefix, FORMAT.md
        §12.1); each is then read as :meth:`achievement` reads one, and must have the status
        record and registration the index names."""
        state = RecordState(store_loader(self._txn))
        prefix = achievement_index_prefix(issuer)
        out: list[RegisteredAchievement] = []
        for k, value in self._txn.prefix("achievements", prefix):
            try:
                ach_id = check_id(k[len(prefix):].decode("ascii", "replace"), "achievement id")
            except EncodingError:
                raise StoreCorruptError(f"the achievements index holds a bad key {k.hex()}"
                                        ) from None
            rec = state.achievement(issuer, ach_id)
            if rec is None or u64(rec.registered_at) != value:
                raise StoreCorruptError(f"the achievements index names {issuer}/{ach_id}, "
                                        "which its status record does not confirm")
            out.append(self._registered(state, rec))
        out.sort(key=lambda a: a.record.registered_at)
        return out

    def _registered(self, state: RecordState, rec: AchievementRecord) -> RegisteredAchievement:
        entry = decode_entry(self.entry_bytes(rec.registered_at))
        st = decode_statement(entry.statement)
        if (st.kind != REGISTER_ACHIEVEMENT or st.issuer != rec.issuer
                or st.fields[0] != rec.achievement_id):
            raise StoreCorruptError(f"entry {rec.registered_at} is not the registration of "
                                    f"{rec.issuer}/{rec.achievement_id} that its status "
                                    "record names")
        key = state.key(rec.issuer, key_id(entry.signer))
        if key is None or key.public_key != entry.signer:
            raise StoreCorruptError(f"entry {rec.registered_at}: the key record of its "
                                    f"signer {key_id(entry.signer)} is missing or wrong")
        _, name, description, criteria, ach_type = st.fields
        return RegisteredAchievement(rec, name, description, criteria, ach_type, st.time,
                                     entry.time, key)

    def map_proof(self, key: bytes, root: bytes) -> tuple[smt.MapProof, bytes | None]:
        nodes = MapNodes(self._txn, root)
        proof = smt.SparseMap(nodes.get, root).prove(key, root)
        value = proof.value()
        return proof, None if value is None else self._txn.get("records", value)


def read_head(txn: Txn) -> Head:
    data = txn.get("meta", b"head")
    if data is None:
        raise StoreCorruptError("the store has no head record")
    return _decode_head(data)


@functools.lru_cache(maxsize=4)
def _decode_head(data: bytes) -> Head:
    """Head.decode, remembered for the last few head records: every proof reads the head to
    check its size, and the head changes only when a batch commits."""
    return Head.decode(data)


def _check_size(txn: Txn, size: int) -> None:
    current = read_head(txn).size
    if not 0 <= size <= current:
        raise NotFoundError(f"no tree of size {size} (the log has {current} entries)")


def root_at(txn: Txn, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.fold_range([txn.tree_node(lv, ix) for lv, ix in merkle.range_nodes(0, size)])


def describe(record: Record | None) -> dict[str, Any]:
    """A JSON-ready view of a status record."""
    if record is None:
        return {}
    if isinstance(record, CredRecord):
        return {"kind": "credential", "issuer": record.issuer, "id": record.cred_id,
                "state": record.state, "issued_index": record.issued_index,
                "changed_index": record.changed_index, "reason": record.reason}
    if isinstance(record, KeyRecord):
        return {"kind": "key", "issuer": record.issuer, "key_id": record.key_id,
                "active_from": record.active_from, "ended_at": record.ended_at,
                "end": record.end, "reason": record.reason,
                "revoked_at": record.revoked_index,
                "compromised_since": record.untrusted_from}
    if isinstance(record, AchievementRecord):
        return {"kind": "achievement", "issuer": record.issuer, "id": record.achievement_id,
                "registered_at": record.registered_at}
    if isinstance(record, SlotRecord):
        return {"kind": "slot", "issuer": record.issuer, "key_id": record.key_id,
                "status_index": record.status_index, "credential": record.credential}
    if isinstance(record, StatusListRecord):
        return {"kind": "status-list", "issuer": record.issuer, "key_id": record.key_id,
                "purpose": record.purpose, "number": record.number,
                "tree_size": record.tree_size, "published_at": record.published_at}
    return {"kind": "issuer", "issuer": record.issuer, "name": record.name, "url": record.url,
            "registered_at": record.registered_at, "retired_at": record.retired_at,
            "reason": record.reason}
