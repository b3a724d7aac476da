"""The auditor: replay every entry and check everything, trusting nothing the operator says.

For every entry, in order (docs/FORMAT.md §2-§6):

1. it decodes strictly and says it is entry ``i``; its time does not go backwards;
2. ``prev_root`` is the root of the tree of the ``i`` entries before it (the hash chain);
3. the statement's signature verifies (checked on every core, ahead of the replay);
4. the statement obeys the rules of docs/FORMAT.md §6 as of the entries before it (the same
   :func:`ledger.rules.apply_rules` the append path uses, over the replayed records);
5. ``state_root`` is the root of the status map replayed from scratch after it;
6. a ``publish-status-list`` entry's list credential is the signer's, at the URL of its list,
   of its purpose, with a valid proof, and says bit for bit what the replayed credentials'
   states were after its ``tree_size`` entries (:mod:`ledger.listaudit`; docs/SECURITY.md).

Then the replayed tree must match the store's head and tree nodes (or a tile source), every
stored checkpoint must carry a valid log-key signature and the replayed root at its size, and
consecutive checkpoints must be consistent. The first violation raises
:class:`~ledger.errors.AuditError` naming the entry and the rule.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from ledger import merkle, smt
from ledger.errors import (
    AuditError,
    EncodingError,
    LedgerError,
    NotFoundError,
    RefusedError,
    StoreCorruptError,
)
from ledger.events import (
    ISSUE,
    PUBLISH_STATUS_LIST,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REINSTATE,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    Entry,
    Statement,
    decode_entry,
    decode_statement,
    trusted_entry,
    trusted_statement,
)
from ledger.listaudit import StatusBits, check_status_list
from ledger.log import Ledger
from ledger.note import Checkpoint, Verifier, open_checkpoint, parse_verifier
from ledger.parallel import collection_paused, default_workers, verified_chunks
from ledger.records import AchievementRecord, Record, decode_record, record_hash
from ledger.rules import RecordState, apply_rules
from ledger.snapshot import Snapshot, achievement_index_key
from ledger.store import MapNodes, Txn, from_u64, tree_key, u64

CHUNK = 2048
"""Entries per signature-checking task."""



def _no_nodes(node_hash: bytes) -> bytes | None:
    """The replay builds the status map from nothing: no node comes from a store."""
    return None


def _no_record(map_key: bytes) -> Record | None:
    return None


@dataclass(slots=True)
class AuditReport:
    """What an audit checked. ``size`` is the log's size; with ``since`` (an incremental
    audit from a saved checkpoint of that size) only the entries after it were replayed, and
    ``rules`` says whether their rules and status map were checked (not from a tile tree)."""

    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    state_root: bytes = smt.EMPTY
    issuers: int = 0
    credentials: int = 0
    revocations: int = 0
    suspensions: int = 0
    reinstatements: int = 0
    key_rotations: int = 0
    key_revocations: int = 0
    achievements: int = 0
    status_lists: int = 0
    checkpoints: int = 0
    seconds: float = 0.0
    roots: dict[int, bytes] = field(default_factory=dict)
    since: int | None = None
    rules: bool = True
    consistent_to: int | None = None
    """With ``since``: the size of the newest checkpoint the saved one was proven a prefix of
    by a consistency proof."""

    @property
    def replayed(self) -> int:
        """The entries replayed: all, or those after ``since``."""
        return self.size - (self.since or 0)

    @property
    def rate(self) -> float:
        return self.replayed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        since = {} if self.since is None else {
            "since": self.since, "new_entries": self.replayed, "rules_checked": self.rules,
            "consistent_to": self.consistent_to}
        return {"ok": True, "entries": self.size, **since, "root": self.root.hex(),
                "state_root": self.state_root.hex() if self.rules else None, "issuers": self.issuers,
                "credentials": self.credentials, "revocations": self.revocations,
                "suspensions": self.suspensions, "reinstatements": self.reinstatements,
                "key_rotations": self.key_rotations, "key_revocations": self.key_revocations,
                "achievements": self.achievements, "status_lists": self.status_lists,
                "checkpoints": self.checkpoints,
                "seconds": round(self.seconds, 3), "entries_per_second": round(self.rate)}


_COUNTED: Final = {REGISTER_ISSUER: "issuers", ISSUE: "credentials", REVOKE: "revocations",
                   SUSPEND: "suspensions", REINSTATE: "reinstatements",
                   ROTATE_KEY: "key_rotations", REVOKE_KEY: "key_revocations",
                   REGISTER_ACHIEVEMENT: "achievements", PUBLISH_STATUS_LIST: "status_lists"}
"""The statements an audit counts, and the report's field for each."""


class Replayer:
    """Replays entries one by one from an empty log, keeping only what the checks need; or,
    for an incremental audit, from a trusted point (``start``: the tree's frontier there;
    ``last_time``: its last entry's time; ``load`` and ``nodes``: its status records and map
    nodes, each checked against ``state_root``, its last entry's), or with ``rules=False``
    without the rules and the status map (when no prior state is known: a tile tree).

    ``origin``: the log's, for the URLs of its status lists. With the rules, every published
    status list is checked against ``bits`` (:class:`StatusBits`), which the replay feeds: from
    an empty log, or (incremental) one the caller filled with the entries before ``start``."""

    def __init__(self, registry: bytes | None, *, origin: str, want_roots: Iterable[int] = (),
                 start: merkle.CompactRange | None = None, last_time: int = 0,
                 load: Callable[[bytes], Record | None] = _no_record,
                 nodes: smt.NodeGetter = _no_nodes, state_root: bytes = smt.EMPTY,
                 rules: bool = True, bits: StatusBits | None = None) -> None:
        self.registry = registry
        self.origin = origin
        self.bits = StatusBits() if bits is None else bits
        self.cr = merkle.CompactRange() if start is None else start.copy()
        # The replayed records, by map key: the rules' view (from nothing, or ``load``ed).
        self.state = RecordState(load)
        self.status: dict[bytes, tuple[bytes, bytes]] = {}  # map key -> (value hash, record)
        self.smap = smt.MapWriter(nodes, state_root)
        self.last_time = last_time
        self.rules = rules
        self.want_roots = set(want_roots)
        self.report = AuditReport(rules=rules)
        if self.cr.size in self.want_roots:
            self.report.roots[self.cr.size] = self.cr.root()

    def feed(self, data: bytes, visit: Callable[[int, int, bytes], None] | None = None, *,
             checked: bool = False) -> Entry:
        """Check and apply one entry: ``data``, the entry's bytes.

        ``checked``: a worker already decoded ``data`` strictly and checked its signature
        (:func:`verified_chunks`), so it is decoded here without checking it again. Otherwise
        it is decoded strictly here and its signature is not checked.
        """
        i = self.cr.size
        try:
            if checked:
                entry = trusted_entry(data)
                st = trusted_statement(entry.statement)
            else:
                entry = decode_entry(data)
                st = decode_statement(entry.statement)
        except EncodingError as exc:
            raise AuditError(i, "encoding", str(exc)) from None
        if entry.index != i:
            raise AuditError(i, "index", f"the entry says it is entry {entry.index}")
        if entry.prev_root != self.cr.root():
            raise AuditError(i, "prev_root", f"is {entry.prev_root.hex()}, the root of the "
                             f"{i} entries before it is {self.cr.root().hex()}")
        if entry.time < self.last_time:
            raise AuditError(i, "time-order", f"time {entry.time} is before {self.last_time}")
        if self.rules:
            self._apply(i, entry, st)
        self.cr.append(merkle.leaf_hash(data), visit)
        self.last_time = entry.time
        self._count(st)
        if self.cr.size in self.want_roots:
            self.report.roots[self.cr.size] = self.cr.root()
        return entry

    def _apply(self, i: int, entry: Entry, st: Statement) -> None:
        """The rules and the status map: ``st`` judged as of the entries before it, and the
        entry's ``state_root`` the replayed map's root after it."""
        if self.registry is None:
            if st.kind != REGISTER_ISSUER:
                raise AuditError(i, "registry", "the first entry must register an issuer")
            self.registry = entry.signer  # trust on first use, when no registry key was given
        try:
            changes = apply_rules(self.state, st, entry.signer, i, self.registry,
                                  time=entry.time)
        except RefusedError as exc:
            raise AuditError(i, f"rule {exc.rule}", exc.detail) from None
        if st.kind == PUBLISH_STATUS_LIST:
            check_status_list(i, st, entry.signer, self.origin, self.bits)
        else:
            self.bits.feed(i, st, entry.signer)
        try:
            for rec in changes:
                k = rec.key()
                encoded = rec.encode()
                vh = record_hash(encoded)
                self.smap.set(k, vh)
                self.state.changed[k] = rec
                self.status[k] = (vh, encoded)
        except (NotFoundError, StoreCorruptError) as exc:  # a prior map node (incremental)
            raise AuditError(i, "map", f"the status map before this entry: {exc}") from None
        if self.smap.root != entry.state_root:
            raise AuditError(i, "state_root", f"is {entry.state_root.hex()}, the replayed "
                             f"status map's root is {self.smap.root.hex()}")

    def _count(self, st: Statement) -> None:
        field = _COUNTED.get(st.kind)
        if field is not None:
            setattr(self.report, field, getattr(self.report, field) + 1)

    def finish(self) -> AuditReport:
        r = self.report
        r.size, r.root, r.state_root = self.cr.size, self.cr.root(), self.smap.root
        return r


def replay(entries: Iterable[list[bytes]], replayer: Replayer, *,
           visit: Callable[[int, int, bytes], None] | None = None,
           progress: Callable[[int], None] | None = None,
           workers: int = 1) -> AuditReport:
    """Replay chunks of entry bytes through ``replayer``; signatures checked on ``workers``
    processes (``ledger.parallel``)."""
    start = time.perf_counter()
    with collection_paused():
        for chunk, result in verified_chunks(entries, workers=workers):
            if result is not None:
                offset, rule, message = result
                raise AuditError(replayer.cr.size + offset, rule, message)
            for data in chunk:
                replayer.feed(data, visit, checked=True)
            if progress is not None:
                progress(len(chunk))
    report = replayer.finish()
    report.seconds = time.perf_counter() - start
    return report


def check_checkpoints(checkpoints: list[tuple[int, str]], report: AuditReport,
                      log_key: Verifier) -> None:
    """Every checkpoint: a valid log-key signature, the replayed root at its size, and each
    consistent with the one before (they all come from the one replayed tree)."""
    previous = None
    for size, note in checkpoints:
        try:
            cp = open_checkpoint(note, log_key)
        except LedgerError as exc:
            raise AuditError(None, "checkpoint", f"the checkpoint of size {size}: {exc}") from None
        if cp.size != size:
            raise AuditError(None, "checkpoint", f"stored under size {size}, says {cp.size}")
        if size > report.size:
            raise AuditError(None, "checkpoint", f"size {size} is beyond the log's {report.size}")
        if report.roots.get(size) != cp.root:
            raise AuditError(None, "checkpoint", f"the checkpoint of size {size} has root "
                             f"{cp.root.hex()}, the replayed tree has "
                             f"{report.roots.get(size, b'').hex()}")
        if previous is not None and previous > size:
            raise AuditError(None, "checkpoint", "checkpoints are not in size order")
        previous = size
        report.checkpoints += 1


def _entries(t: Txn, *, start: int, end: int) -> list[bytes | None]:
    """Entries ``[start, end)`` in one cursor walk; None where one is missing."""
    out: list[bytes | None] = [None] * (end - start)
    for key, value in t.items("entries", u64(start)):
        if len(key) != 8:
            continue  # not an entry's key: the entries around it are read by theirs
        i = from_u64(key)
        if i >= end:
            break
        out[i - start] = value
    return out


def audit_store(ledger: Ledger, *, log_key: Verifier | None = None,
                progress: Callable[[int], None] | None = None,
                workers: int | None = 1) -> AuditReport:
    """Audit a ledger store: replay it, then check head, tree nodes, checkpoints, indexes and
    the stored status map (the nodes proofs are made from).

    ``workers``: processes that check signatures ahead of the replay; None for
    ``ledger.parallel.default_workers()`` on a big store (the command line's choice)."""
    head = ledger.head()
    checkpoints = ledger.checkpoints()
    key = log_key or parse_verifier(ledger.log_vkey())
    replayer = Replayer(ledger.registry, origin=ledger.origin,
                        want_roots=[s for s, _ in checkpoints])
    visited: list[tuple[int, int, bytes]] = []

    def check_tree_nodes() -> None:
        """Every perfect-subtree hash the store keeps must equal the replayed one."""
        def check(t: Txn) -> None:
            for level, index, h in visited:
                if t.get("tree", tree_key(level, index)) != h:
                    raise AuditError(index if level == 0 else None, "tree",
                                     f"stored tree node ({level}, {index}) differs from the "
                                     "replay")
        ledger.store.read(check)
        visited.clear()

    def chunks() -> Iterator[list[bytes]]:
        for start in range(0, head.size, CHUNK):
            end = min(start + CHUNK, head.size)
            chunk = ledger.store.read(functools.partial(_entries, start=start, end=end))
            for n, data in enumerate(chunk):
                if data is None:
                    raise AuditError(start + n, "missing", "the store lacks this entry")
            yield [d for d in chunk if d is not None]
            check_tree_nodes()

    if workers is None:  # starting worker processes costs more than checking a few signatures
        workers = default_workers() if head.size >= 2 * CHUNK else 1
    report = replay(chunks(), replayer, visit=lambda lv, ix, h: visited.append((lv, ix, h)),
                    progress=progress, workers=workers)
    check_tree_nodes()
    if (report.size, report.root, report.state_root) != (head.size, head.root, head.state_root):
        raise AuditError(None, "head", f"the store's head (size {head.size}, root "
                         f"{head.root.hex()}) differs from the replay (size {report.size}, root "
                         f"{report.root.hex()})")
    check_checkpoints(checkpoints, report, key)
    _check_status_index(ledger, replayer)
    _check_achievement_index(ledger, replayer)
    _check_stored_map(ledger, replayer, [size for size, _ in checkpoints])
    return report


def _check_stored_map(ledger: Ledger, replayer: Replayer, sizes: list[int]) -> None:
    """The store must serve the replayed map: every node reachable from the head's state root
    is stored (each read is checked against its hash) and its leaves are exactly the replayed
    records; the map root of every checkpoint is stored too. (Below older checkpoints' roots,
    only the nodes shared with the head's map are walked: a full walk of every version would
    hold every node hash in memory.)"""
    def check(t: Txn) -> None:
        root = replayer.smap.root
        replayed = replayer.status
        leaves = 0
        for key, value_hash in MapNodes(t, root).leaves(root):
            want = replayed.get(key)
            if want is None or want[0] != value_hash:
                raise AuditError(None, "map", f"the stored map's leaf for key {key.hex()} "
                                 "differs from the replay")
            leaves += 1
        if leaves != len(replayed):
            raise AuditError(None, "map", f"the stored map holds {leaves} keys, the replay "
                             f"{len(replayed)}")
        for size in sizes:
            data = t.entry(size - 1) if size else None
            state_root = trusted_entry(data).state_root if data is not None else smt.EMPTY
            if state_root != smt.EMPTY and MapNodes(t, state_root).get(
                    state_root) is None:
                raise AuditError(None, "map", f"the map root of checkpoint {size} "
                                 f"({state_root.hex()}) is not stored")
    try:
        with collection_paused():  # the replay's map is still alive: millions of objects
            ledger.store.read(check)
    except StoreCorruptError as exc:
        raise AuditError(None, "map", str(exc)) from None


def _check_status_index(ledger: Ledger, replayer: Replayer) -> None:
    """The store's current-status index must hold exactly the replayed records."""
    def check(t: Txn) -> None:
        count = 0
        replayed = replayer.status
        for k, vh in t.items("status"):
            count += 1
            want = replayed.get(k)
            if want is None or want[0] != vh:
                raise AuditError(None, "status-index", f"the store's status for key {k.hex()} "
                                 "differs from the replay")
            if t.get("records", vh) != want[1]:
                raise AuditError(None, "status-index", f"record {vh.hex()} is missing or wrong")
        if count != len(replayed):
            raise AuditError(None, "status-index", f"the store indexes {count} records, the "
                             f"replay has {len(replayed)}")
    ledger.store.read(check)


def _check_achievement_index(ledger: Ledger, replayer: Replayer) -> None:
    """The store's ``achievements`` index must list exactly the replayed achievements, each
    with the index of its registration (docs/FORMAT.md §12.1)."""
    want = {achievement_index_key(r.issuer, r.achievement_id): u64(r.registered_at)
            for r in replayer.state.changed.values() if isinstance(r, AchievementRecord)}

    def check(t: Txn) -> None:
        count = 0
        for k, value in t.items("achievements"):
            count += 1
            if want.get(k) != value:
                raise AuditError(None, "achievement-index", f"the store's achievements index "
                                 f"entry {k.hex()} differs from the replay")
        if count != len(want):
            raise AuditError(None, "achievement-index", f"the store indexes {count} "
                             f"achievements, the replay has {len(want)}")
    ledger.store.read(check)


# ----------------------------------------------------------------------------- incremental


def open_saved(note: str | bytes, log_key: Verifier) -> Checkpoint:
    """A checkpoint kept from an earlier audit, which must verify with ``log_key``."""
    try:
        return open_checkpoint(note, log_key)
    except LedgerError as exc:
        raise AuditError(None, "checkpoint", f"the saved checkpoint: {exc}") from None


def resume_point(size: int, root: bytes, node: Callable[[int, int], bytes],
                 entry: Callable[[int], bytes],
                 ) -> tuple[merkle.CompactRange, Entry | None, Entry | None]:
    """Where an incremental audit resumes: the tree of a saved checkpoint (``size``, ``root``:
    trusted, an earlier audit checked everything up to it). Its frontier, read with
    ``node(level, index)``, must fold to ``root``, or the log forked (rule ``fork``); its first
    and last entries, read with ``entry(index)``, must be leaves of it (inclusion proofs made
    of ``node``s) and are returned decoded (None for the empty tree)."""
    frontier = merkle.CompactRange(size, [node(level, index) for level, index in
                                          merkle.CompactRange.frontier_ids(size)])
    if frontier.root() != root:
        raise AuditError(None, "fork", f"the log's tree at size {size} has root "
                         f"{frontier.root().hex()}, the saved checkpoint's is {root.hex()}: "
                         "the log forked or rewrote history")
    if size == 0:
        return frontier, None, None

    def checked(index: int) -> Entry:
        data = entry(index)
        groups = merkle.proof_nodes(merkle.inclusion_path(index, size))
        proof = merkle.fold_proof_nodes(groups, [node(lv, ix) for g in groups for lv, ix in g])
        try:
            merkle.verify_inclusion(index, size, merkle.leaf_hash(data), proof, root)
        except LedgerError:
            raise AuditError(index, "fork", "not the entry the saved checkpoint's tree holds: "
                             "the log forked or rewrote history") from None
        try:
            return decode_entry(data)
        except EncodingError as exc:
            raise AuditError(index, "encoding", str(exc)) from None
    return frontier, checked(0), checked(size - 1)


def _records_at(snap: Snapshot, root: bytes) -> Callable[[bytes], Record | None]:
    """The status records of the map ``root`` (a trusted one): each read with its map proof,
    checked against ``root``, and its bytes against the proven value hash."""
    def load(k: bytes) -> Record | None:
        try:
            proof, data = snap.map_proof(k, root)
            value = smt.verify_proof(root, proof)
        except LedgerError as exc:
            raise AuditError(None, "map", f"the status map at the saved checkpoint, key "
                             f"{k.hex()}: {exc}") from None
        if value is None:
            return None
        if data is None or record_hash(data) != value:
            raise AuditError(None, "map", f"record {value.hex()} is missing or does not hash "
                             "to what the map proves")
        try:
            record = decode_record(data)
        except EncodingError as exc:
            raise AuditError(None, "map", f"record {value.hex()}: {exc}") from None
        if record.key() != k:
            raise AuditError(None, "map", f"record {value.hex()} is not the one of key {k.hex()}")
        return record
    return load


def audit_store_since(ledger: Ledger, saved: str | bytes, *, log_key: Verifier | None = None,
                      progress: Callable[[int], None] | None = None,
                      workers: int | None = 1) -> AuditReport:
    """An incremental audit of a store: only the entries after ``saved``, a checkpoint kept
    from an earlier audit (verified with ``log_key``, default the store's), are replayed, from
    the state that checkpoint fixes. What is checked, and what is not, is in
    docs/SECURITY.md, "Incremental audits":

    1. the store's tree at the saved size is the saved checkpoint's (its frontier folds to its
       root; else rule ``fork``), and so are its first and last entries (inclusion proofs);
    2. every new entry as :func:`audit_store` checks it (encoding, index, chain, time order,
       signature, the rules, ``state_root``), the rules judging it against the records the
       saved checkpoint's state fixes: each read with a map proof against its last entry's
       ``state_root``, and the map updated from stored nodes checked against their hashes;
    3. the stored tree nodes the new entries made, the head, every stored checkpoint (newer
       ones: signature and the replayed root; older ones: signature and a consistency proof to
       the saved one), and the consistency proof from the saved checkpoint to the newest;
    4. for every record the new entries changed: the status index, the record and the stored
       map's leaf under the head;
    5. every status list the new entries publish, against the bits of the log's whole history:
       the entries before the saved checkpoint are read again (hashes and statements, no
       signatures, no rules: :func:`_status_bits_before`).
    """
    key = log_key or parse_verifier(ledger.log_vkey())
    old = open_saved(saved, key)
    registry = ledger.registry

    def run(t: Txn) -> AuditReport:
        snap = Snapshot(t)
        head = snap.head()
        if old.size > head.size:
            raise AuditError(None, "fork", f"the saved checkpoint has tree size {old.size}, the "
                             f"log now has {head.size}: the log rolled back or forked")

        def node(level: int, index: int) -> bytes:
            try:
                return t.tree_node(level, index)
            except StoreCorruptError as exc:
                raise AuditError(None, "tree", str(exc)) from None

        def entry(index: int) -> bytes:
            data = t.entry(index)
            if data is None:
                raise AuditError(index, "missing", "the store lacks this entry")
            return data

        start, first, last = resume_point(old.size, old.root, node, entry)
        if first is not None and first.signer != registry:
            raise AuditError(0, "registry", "the store's registry key did not sign entry 0")
        state_root = smt.EMPTY if last is None else last.state_root
        stored = [(from_u64(k), v.decode()) for k, v in t.items("checkpoints")]
        replayer = Replayer(registry, origin=ledger.origin,
                            want_roots=[s for s, _ in stored if s >= old.size],
                            bits=_status_bits_before(t, old),
                            start=start, last_time=0 if last is None else last.time,
                            load=_records_at(snap, state_root),
                            nodes=MapNodes(t, state_root).get, state_root=state_root)
        visited: list[tuple[int, int, bytes]] = []

        def check_tree_nodes() -> None:
            for level, index, h in visited:
                if t.get("tree", tree_key(level, index)) != h:
                    raise AuditError(index if level == 0 else None, "tree",
                                     f"stored tree node ({level}, {index}) differs from the "
                                     "replay")
            visited.clear()

        def chunks() -> Iterator[list[bytes]]:
            for begin in range(old.size, head.size, CHUNK):
                chunk = _entries(t, start=begin, end=min(begin + CHUNK, head.size))
                for n, data in enumerate(chunk):
                    if data is None:
                        raise AuditError(begin + n, "missing", "the store lacks this entry")
                yield [d for d in chunk if d is not None]
                check_tree_nodes()

        new = head.size - old.size
        count = workers if workers is not None else (
            default_workers() if new >= 2 * CHUNK else 1)
        report = replay(chunks(), replayer, visit=lambda lv, ix, h: visited.append((lv, ix, h)),
                        progress=progress, workers=count)
        check_tree_nodes()
        if (report.size, report.root, report.state_root) != (head.size, head.root,
                                                             head.state_root):
            raise AuditError(None, "head", f"the store's head (size {head.size}, root "
                             f"{head.root.hex()}) differs from the replay (size {report.size}, "
                             f"root {report.root.hex()})")
        newer = [(s, note) for s, note in stored if s > old.size]
        check_checkpoints(newer, report, key)
        for s, note in stored:
            if s <= old.size:
                _check_older_checkpoint(snap, s, note, key, old)
                report.checkpoints += 1
        report.consistent_to = old.size
        if newer:
            size, note = newer[-1]
            _check_consistency(snap, old, open_checkpoint(note, key))
            report.consistent_to = size
        for s, _ in newer:
            data = t.entry(s - 1)
            root = trusted_entry(data).state_root if data is not None else smt.EMPTY
            if root != smt.EMPTY and MapNodes(t, root).get(root) is None:
                raise AuditError(None, "map", f"the map root of checkpoint {s} "
                                 f"({root.hex()}) is not stored")
        _check_touched(t, replayer, head.state_root)
        report.since = old.size
        report.checkpoints += 1  # the saved one
        return report

    with collection_paused():
        try:
            return ledger.store.read(run)
        except StoreCorruptError as exc:
            raise AuditError(None, "store", str(exc)) from None


def _status_bits_before(t: Txn, saved: Checkpoint) -> StatusBits:
    """The status list bits after the entries of the saved checkpoint, for an incremental
    audit: its status map holds each credential's state, but not the history a list published
    later for an earlier ``tree_size`` is checked against. So every entry before it is read
    again and its statement fed to :class:`StatusBits` without its signature or the rules,
    which the audit that saved the checkpoint checked. What is read must be what that audit
    read: first the entries' leaf hashes must fold to the saved root (else rule ``fork``).
    Linear in the log, but only hashing and decoding: no signature, no map."""
    def chunks() -> Iterator[tuple[int, list[bytes]]]:
        for begin in range(0, saved.size, CHUNK):
            chunk = _entries(t, start=begin, end=min(begin + CHUNK, saved.size))
            for n, data in enumerate(chunk):
                if data is None:
                    raise AuditError(begin + n, "missing", "the store lacks this entry")
            yield begin, [d for d in chunk if d is not None]

    tree = merkle.CompactRange()
    for _, chunk in chunks():
        for data in chunk:
            tree.append(merkle.leaf_hash(data))
    if tree.root() != saved.root:
        raise AuditError(None, "fork", f"the store's first {saved.size} entries have root "
                         f"{tree.root().hex()}, the saved checkpoint's is {saved.root.hex()}: "
                         "the log forked or rewrote history")
    bits = StatusBits()
    for begin, chunk in chunks():  # the entries the saved checkpoint's audit decoded
        for n, data in enumerate(chunk):
            entry = trusted_entry(data)
            bits.feed(begin + n, trusted_statement(entry.statement), entry.signer)
    return bits


def _check_older_checkpoint(snap: Snapshot, size: int, note: str, key: Verifier,
                            saved: Checkpoint) -> None:
    """A stored checkpoint no bigger than the saved one: signed by the log key, and a prefix of
    the saved one (a consistency proof from the store's tree)."""
    try:
        cp = open_checkpoint(note, key)
    except LedgerError as exc:
        raise AuditError(None, "checkpoint", f"the checkpoint of size {size}: {exc}") from None
    if cp.size != size:
        raise AuditError(None, "checkpoint", f"stored under size {size}, says {cp.size}")
    _check_consistency(snap, cp, saved)


def _check_consistency(snap: Snapshot, older: Checkpoint, newer: Checkpoint) -> None:
    """The consistency proof from ``older`` to ``newer``, made from the store's tree."""
    try:
        proof = snap.consistency_proof(older.size, newer.size)
        merkle.verify_consistency(older.size, newer.size, proof, older.root, newer.root)
    except LedgerError as exc:
        raise AuditError(None, "consistency", f"from the checkpoint of size {older.size} to "
                         f"the one of size {newer.size}: {exc}") from None


def _check_touched(t: Txn, replayer: Replayer, state_root: bytes) -> None:
    """For every record the replayed entries changed: the status index and the record the
    store keeps, and the stored map's leaf under ``state_root`` (the head's), are the
    replayed ones; so is the ``achievements`` index's entry of an achievement."""
    current = smt.SparseMap(MapNodes(t, state_root).get, state_root)
    for k, (vh, encoded) in replayer.status.items():
        if t.get("status", k) != vh:
            raise AuditError(None, "status-index", f"the store's status for key {k.hex()} "
                             "differs from the replay")
        if t.get("records", vh) != encoded:
            raise AuditError(None, "status-index", f"record {vh.hex()} is missing or wrong")
        try:
            found = current.lookup(k)
        except LedgerError as exc:
            raise AuditError(None, "map", str(exc)) from None
        if found != vh:
            raise AuditError(None, "map", f"the stored map's leaf for key {k.hex()} differs "
                             "from the replay")
    for rec in replayer.state.changed.values():
        if isinstance(rec, AchievementRecord) and t.get(
                "achievements", achievement_index_key(rec.issuer, rec.achievement_id)
        ) != u64(rec.registered_at):
            raise AuditError(None, "achievement-index", f"the store's achievements index "
                             f"lacks {rec.issuer}/{rec.achievement_id} or differs from the "
                             "replay")
