"""The auditor: replay every entry and check everything, trusting nothing the operator says.

For every entry, in order (docs/FORMAT.md §2-§6):

1. it decodes strictly and says it is entry ``i``; its time does not go backwards;
2. ``prev_root`` is the root of the tree of the ``i`` entries before it (the hash chain);
3. the statement's signature verifies (checked on every core, ahead of the replay);
4. the statement obeys the rules of docs/FORMAT.md §6 as of the entries before it (the same
   :func:`ledger.rules.apply_rules` the append path uses, over the replayed records);
5. ``state_root`` is the root of the status map replayed from scratch after it.

Then the replayed tree must match the store's head and tree nodes (or a tile source), every
stored checkpoint must carry a valid log-key signature and the replayed root at its size, and
consecutive checkpoints must be consistent. The first violation raises :class:`AuditError`
naming the entry and the rule.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ledger import merkle, smt
from ledger.errors import (
    EncodingError,
    LedgerError,
    RefusedError,
    StoreCorruptError,
    VerificationError,
)
from ledger.events import (
    ISSUE,
    REGISTER_ISSUER,
    REINSTATE,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    Entry,
    Record,
    Statement,
    decode_entry,
    decode_statement,
    record_hash,
    trusted_entry,
    trusted_statement,
)
from ledger.log import Ledger
from ledger.note import Verifier, open_checkpoint, parse_verifier
from ledger.parallel import collection_paused, default_workers, verified_chunks
from ledger.rules import RecordState, apply_rules
from ledger.store import MapNodes, Txn, from_u64, tree_key, u64

CHUNK = 2048
"""Entries per signature-checking task."""



def _no_nodes(node_hash: bytes) -> bytes | None:
    """The replay builds the status map from nothing: no node comes from a store."""
    return None


def _no_record(map_key: bytes) -> Record | None:
    return None


class AuditError(VerificationError):
    """A violation found by the audit: ``index`` (or None) and the ``rule`` broken."""

    def __init__(self, index: int | None, rule: str, detail: str) -> None:
        self.index = index
        self.rule = rule
        where = f"entry {index}: " if index is not None else ""
        super().__init__(f"audit failed: {where}{rule}: {detail}")


@dataclass(slots=True)
class AuditReport:
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
    checkpoints: int = 0
    seconds: float = 0.0
    roots: dict[int, bytes] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"ok": True, "entries": self.size, "root": self.root.hex(),
                "state_root": self.state_root.hex(), "issuers": self.issuers,
                "credentials": self.credentials, "revocations": self.revocations,
                "suspensions": self.suspensions, "reinstatements": self.reinstatements,
                "key_rotations": self.key_rotations, "key_revocations": self.key_revocations,
                "checkpoints": self.checkpoints,
                "seconds": round(self.seconds, 3), "entries_per_second": round(self.rate)}


class Replayer:
    """Replays entries one by one from an empty log, keeping only what the checks need."""

    def __init__(self, registry: bytes | None, *, want_roots: Iterable[int] = ()) -> None:
        self.registry = registry
        self.cr = merkle.CompactRange()
        # The replayed records, by map key: the rules' view (nothing is loaded from a store).
        self.state = RecordState(_no_record)
        self.status: dict[bytes, tuple[bytes, bytes]] = {}  # map key -> (value hash, record)
        self.smap = smt.MapWriter(_no_nodes)
        self.last_time = 0
        self.want_roots = set(want_roots)
        self.report = AuditReport()
        if 0 in self.want_roots:
            self.report.roots[0] = merkle.EMPTY_ROOT

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
        if self.registry is None:
            if st.kind != REGISTER_ISSUER:
                raise AuditError(i, "registry", "the first entry must register an issuer")
            self.registry = entry.signer  # trust on first use, when no registry key was given
        try:
            changes = apply_rules(self.state, st, entry.signer, i, self.registry,
                                  time=entry.time)
        except RefusedError as exc:
            raise AuditError(i, f"rule {exc.rule}", exc.detail) from None
        for rec in changes:
            k = rec.key()
            encoded = rec.encode()
            vh = record_hash(encoded)
            self.smap.set(k, vh)
            self.state.changed[k] = rec
            self.status[k] = (vh, encoded)
        if self.smap.root != entry.state_root:
            raise AuditError(i, "state_root", f"is {entry.state_root.hex()}, the replayed "
                             f"status map's root is {self.smap.root.hex()}")
        self.cr.append(merkle.leaf_hash(data), visit)
        self.last_time = entry.time
        self._count(st)
        if self.cr.size in self.want_roots:
            self.report.roots[self.cr.size] = self.cr.root()
        return entry

    def _count(self, st: Statement) -> None:
        r = self.report
        if st.kind == REGISTER_ISSUER:
            r.issuers += 1
        elif st.kind == ISSUE:
            r.credentials += 1
        elif st.kind == REVOKE:
            r.revocations += 1
        elif st.kind == SUSPEND:
            r.suspensions += 1
        elif st.kind == REINSTATE:
            r.reinstatements += 1
        elif st.kind == ROTATE_KEY:
            r.key_rotations += 1
        elif st.kind == REVOKE_KEY:
            r.key_revocations += 1

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
    replayer = Replayer(ledger.registry, want_roots=[s for s, _ in checkpoints])
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
