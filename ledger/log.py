"""The Ledger: append (verify, authorise, sequence, hash, map, commit), checkpoint, prove.

Appending a batch:

1. decode every statement and check its signature (a big batch of a ledger opened with
   ``workers`` > 1: in worker processes, ``ledger.parallel``, while step 2 runs; every
   signature must hold before the commit);
2. in one LMDB write transaction: read the head, then for each statement apply the rules of
   docs/FORMAT.md §6 (``ledger.rules``) against the current status records (plus those changed earlier in the batch),
   update the status map, build the entry (index, time, ``prev_root``, ``state_root``), hash it
   into the Merkle tree, and index it;
3. commit: entries, tree nodes, map nodes, records, indexes and the new head land together, or
   nothing does. A refused statement refuses the whole batch.

The clock is injected (``clock``: a callable returning UTC milliseconds); nothing deeper reads it.

Reading is ``ledger.snapshot``'s: the Ledger's read methods each run a
:class:`~ledger.snapshot.Snapshot` over one read transaction.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time as _time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from ledger import merkle, parallel, smt
from ledger.errors import (
    ConflictError,
    EncodingError,
    NotFoundError,
    RefusedError,
    StoreCorruptError,
    StoreError,
    UsageError,
)
from ledger.events import (
    ENTRY_VERSION,
    ISSUE,
    REGISTER_ACHIEVEMENT,
    REINSTATE,
    REVOKE,
    SUSPEND,
    Entry,
    SignedStatement,
    Statement,
    check_id,
    decode_entry,
    encode_entry,
)
from ledger.files import fsync_path
from ledger.keys import Passphrase, read_signer, write_key_bytes, write_signer
from ledger.note import Checkpoint, Signer, parse_checkpoint, parse_note, sign_checkpoint
from ledger.records import ACHIEVEMENT, CRED, KEY, SLOT, Record, record_hash, slot_ident
from ledger.rules import RecordState, apply_rules
from ledger.snapshot import (
    Head,
    IssuerHistory,
    RegisteredAchievement,
    Snapshot,
    achievement_index_key,
    cred_index_prefix,
    read_head,
    root_at,
    statement_key,
    store_loader,
)
from ledger.store import FORMAT, OLD_FORMATS, MapNodes, Store, Txn, tree_key, u64

if TYPE_CHECKING:
    from ledger.witness import CosignerVerifier

T = TypeVar("T")

RESERVE_PER_ITEM = 4096
"""Bytes of store pages an append reserves per item before it starts (an event's data and the
pages a transaction copies: benchmarks/README.md, "Measurements behind the code"), so that a
batch rarely fills the map and has to be done again after growing it."""

Progress = Callable[[int], None]


def now_ms() -> int:
    return int(_time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append committed: entries ``[first, first + count)``; the tree is now ``size``."""

    first: int
    count: int
    size: int
    root: bytes



STATEMENTS_TO = b"statements_to"
"""``meta`` key: the tree size up to which every entry is in the ``statements`` index."""



class Ledger:
    """One ledger store. Open with :meth:`open` or create with :meth:`create`.

    ``workers``: how many processes check a big batch's signatures (1: all in this process;
    ``ledger.parallel.default_workers()``: every core, as the command line asks).
    """

    def __init__(self, store: Store, *, clock: Callable[[], int] = now_ms,
                 workers: int = 1) -> None:
        self.store = store
        self.clock = clock
        self.workers = workers
        meta = store.read(lambda t: (t.get("meta", b"origin"), t.get("meta", b"registry")))
        if meta[0] is None or meta[1] is None:
            raise StoreCorruptError(f"{store.path}: the store has no origin or registry key")
        self.origin = meta[0].decode("utf-8")
        self.registry = meta[1]

    # ---------------------------------------------------------------- life cycle

    @classmethod
    def create(cls, path: str | os.PathLike[str], origin: str, *,
               clock: Callable[[], int] = now_ms, workers: int = 1,
               passphrase: str | None = None) -> tuple[Ledger, Signer, Signer]:
        """Create a store with a new log key and registry key (kept in ``path/keys``, 0600,
        encrypted with ``passphrase`` if given)."""
        log_signer = Signer.generate(origin)
        registry = Signer.generate(origin + "/registry")
        store = Store(path, create=True)
        keys = Path(path) / "keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        write_signer(keys / "log.key", log_signer, passphrase)
        write_signer(keys / "registry.key", registry, passphrase)

        def init(txn: Txn) -> None:
            txn.put("meta", b"format", FORMAT)
            txn.put("meta", b"origin", origin.encode("utf-8"))
            txn.put("meta", b"registry", registry.public_key)
            txn.put("meta", b"log_vkey", str(log_signer.verifier()).encode())
            txn.put("meta", b"head", Head(0, merkle.EMPTY_ROOT, smt.EMPTY, 0).encode())
            txn.put("meta", STATEMENTS_TO, u64(0))

        store.write(init)
        return cls(store, clock=clock, workers=workers), log_signer, registry

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, clock: Callable[[], int] = now_ms,
             workers: int = 1, on_wait: Callable[[], None] | None = None,
             readonly: bool = False) -> Ledger:
        """Open an existing store and check its head against its contents. ``on_wait``: called
        once should opening or a write wait long for another process's write lock;
        ``readonly``: for reading only, never waiting for a writer (:class:`~ledger.store.Store`)."""
        ledger = cls(Store(path, on_wait=on_wait, readonly=readonly), clock=clock,
                     workers=workers)
        try:
            ledger.self_check()
            if not readonly:
                ledger.index_statements()
        except BaseException:
            ledger.close()  # a store refused (an old format, say) is not left open
            raise
        return ledger

    def close(self) -> None:
        self.store.close()

    def index_statements(self) -> int:
        """Complete the ``statements`` index (docs/FORMAT.md §12.1) of a store whose entries
        were not all indexed: one written before the index existed, or appended to since by
        a version without it. ``meta/statements_to`` says up to which size it is whole;
        every append of this version keeps it so. Returns how many entries were indexed."""
        def index(txn: Txn) -> int:
            size = read_head(txn).size
            raw = txn.get("meta", STATEMENTS_TO)
            start = 0 if raw is None else int.from_bytes(raw, "big")
            if raw is not None and start >= size:
                return 0
            pairs = []
            for k, data in txn.items("entries", u64(start)):
                entry = decode_entry(data)
                pairs.append((statement_key(entry.signed()), k))
            txn.put_many("statements", pairs, overwrite=False)
            txn.put("meta", STATEMENTS_TO, u64(size))
            return len(pairs)

        raw = self.store.read(lambda t: (t.get("meta", STATEMENTS_TO), read_head(t).size))
        if raw[0] is not None and int.from_bytes(raw[0], "big") >= raw[1]:
            return 0  # nothing to do: no write transaction (opening stays cheap)
        return self.store.write(index)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backup(self, dest: str | os.PathLike[str]) -> Head:
        """Copy the store (compacted: without free pages) and its key files into the new
        directory ``dest``, durably, while writers may go on; return the copy's head after
        opening it and running its self-check. A failed backup leaves no ``dest``."""
        dest = Path(dest)
        if dest.exists() or dest.is_symlink():
            raise ConflictError(f"{dest} already exists; a backup goes into a new directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            self.store.copy_compact(work)
            keys = work / "keys"
            keys.mkdir(mode=0o700)
            for src in sorted(Path(self.store.path, "keys").iterdir()):
                if src.is_file() and not src.name.startswith("."):
                    write_key_bytes(keys / src.name, src.read_bytes())
            fsync_path(work)
            with Ledger.open(work) as copy:  # the copy opens and passes the self-check
                head = copy.head()
            os.rename(work, dest)
            fsync_path(dest.parent)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return head

    def key_path(self, name: str) -> Path:
        return self.store.path / "keys" / name

    @property
    def pending_home(self) -> Path:
        """Where ``ledger.issuance`` keeps the issuers' records of pending files
        (``STORE/pending``); a ``ledger.remote.RemoteLog`` has its state directory."""
        return self.store.path

    def log_signer(self, passphrase: Passphrase = None) -> Signer:
        return read_signer(self.key_path("log.key"), passphrase)

    def registry_signer(self, passphrase: Passphrase = None) -> Signer:
        return read_signer(self.key_path("registry.key"), passphrase)

    def log_vkey(self) -> str:
        v = self.store.read(lambda t: t.get("meta", b"log_vkey"))
        assert v is not None
        return v.decode()

    # ---------------------------------------------------------------- reading

    def head(self) -> Head:
        return self.store.read(read_head)

    def self_check(self) -> None:
        """Check that the head's size and root match the stored tree and last entry."""
        def check(txn: Txn) -> None:
            fmt = txn.get("meta", b"format")
            if fmt in OLD_FORMATS:
                raise StoreCorruptError(
                    f"this store holds {OLD_FORMATS[fmt]} (store format {fmt.decode()}), written "
                    f"by an earlier credential-ledger; this version reads entry format "
                    f"{ENTRY_VERSION} (store format {FORMAT.decode()}) only, whose log holds "
                    "nothing personal: issue into a new store (docs/FORMAT.md §4)")
            if fmt != FORMAT:
                raise StoreCorruptError(f"unknown store format {fmt!r}: not written by this "
                                        "version of credential-ledger")
            head = read_head(txn)
            if head.size == 0:
                if head.root != merkle.EMPTY_ROOT or txn.entry(0) is not None:
                    raise StoreCorruptError("empty store's head does not match its contents")
                return
            root = root_at(txn, head.size)
            if root != head.root:
                raise StoreCorruptError(f"head root {head.root.hex()} does not match the tree "
                                        f"({root.hex()}) at size {head.size}")
            last = txn.entry(head.size - 1)
            stored = txn.last("entries")
            if last is None or stored is None or stored[0] != u64(head.size - 1):
                raise StoreCorruptError(f"entries do not end at the head size {head.size}")
            if merkle.leaf_hash(last) != txn.tree_node(0, head.size - 1):
                raise StoreCorruptError(f"entry {head.size - 1} does not match its leaf hash")
            entry = decode_entry(last)
            if (entry.index != head.size - 1 or entry.state_root != head.state_root
                    or entry.time != head.last_time):
                raise StoreCorruptError(f"entry {head.size - 1} does not match the head")
        try:
            self.store.read(check)
        except EncodingError as exc:
            raise StoreCorruptError(f"self-check failed: {exc}") from None

    def snapshot(self, fn: Callable[[Snapshot], T]) -> T:
        """Run ``fn`` over one consistent read snapshot of the ledger (a read transaction)."""
        return self.store.read(lambda t: fn(Snapshot(t)))

    def entry_bytes(self, index: int) -> bytes:
        return self.snapshot(lambda s: s.entry_bytes(index))

    def entry(self, index: int) -> Entry:
        return decode_entry(self.entry_bytes(index))

    def record(self, kind: str, issuer: str, ident: str = "") -> Record | None:
        check_id(issuer, "issuer id")
        if kind == CRED:
            check_id(ident, "credential id")
        elif kind == KEY and not (isinstance(ident, str) and ident.isascii()
                                  and len(ident) == 16):
            raise EncodingError(f"key id: want 16 lowercase hex digits, got {ident!r:.40}")
        elif kind == ACHIEVEMENT:
            check_id(ident, "achievement id")
        return self.store.read(lambda t: RecordState(store_loader(t)).get(kind, issuer, ident))

    def issuer_history(self, issuer: str) -> IssuerHistory | None:
        """The issuer's registration, retirement and keys (None if it was never registered),
        from one snapshot: see :meth:`Snapshot.issuer_history`."""
        check_id(issuer, "issuer id")
        return self.snapshot(lambda s: s.issuer_history(issuer))

    def achievement(self, issuer: str, achievement_id: str) -> RegisteredAchievement | None:
        """The achievement ``achievement_id`` of ``issuer`` with its definition, or None if the
        issuer never registered it (see :meth:`Snapshot.achievement`)."""
        check_id(issuer, "issuer id")
        check_id(achievement_id, "achievement id")
        return self.snapshot(lambda s: s.achievement(issuer, achievement_id))

    def achievements(self, issuer: str) -> list[RegisteredAchievement]:
        """Every achievement ``issuer`` registered, in the order of registration (see
        :meth:`Snapshot.achievements`)."""
        check_id(issuer, "issuer id")
        return self.snapshot(lambda s: s.achievements(issuer))

    def held_slots(self, issuer: str, kid: str, indexes: Iterable[int]) -> set[int]:
        """Which of ``indexes`` (status indexes of key ``kid`` of ``issuer``) a credential
        holds already, from one snapshot."""
        check_id(issuer, "issuer id")

        def run(txn: Txn) -> set[int]:
            state = RecordState(store_loader(txn))
            return {i for i in indexes if state.get(SLOT, issuer, slot_ident(kid, i)) is not None}
        return self.store.read(run)

    def cred_entries(self, issuer: str, cred_id: str) -> list[int]:
        """Indexes of every entry about a credential, oldest first."""
        prefix = cred_index_prefix(check_id(issuer, "issuer id"),
                                   check_id(cred_id, "credential id"))
        return self.store.read(
            lambda t: [int.from_bytes(k[len(prefix):], "big") for k, _ in t.prefix("creds", prefix)]
        )

    def root_at(self, size: int) -> bytes:
        return self.snapshot(lambda s: s.root_at(size))

    def find_statements(self, items: Sequence[SignedStatement]) -> list[int | None]:
        """For each item, the index of an entry holding exactly its statement, signer and
        signature, or None: one read snapshot (see :meth:`Snapshot.find_statement`)."""
        return self.snapshot(lambda s: [s.find_statement(item) for item in items])

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        return self.snapshot(lambda s: s.inclusion_proof(index, size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``size1`` to the tree of ``size2``."""
        return self.snapshot(lambda s: s.consistency_proof(size1, size2))

    def checkpoints(self) -> list[tuple[int, str]]:
        return self.store.read(
            lambda t: [(int.from_bytes(k, "big"), v.decode()) for k, v in t.items("checkpoints")])

    def checkpoint_note(self, size: int | None = None) -> str:
        """The stored checkpoint of ``size``, or the latest one."""
        return self.snapshot(lambda s: s.checkpoint_note(size))

    def map_proof(self, key: bytes, root: bytes) -> tuple[smt.MapProof, bytes | None]:
        """The status-map proof for ``key`` against ``root`` and the proven record bytes."""
        return self.snapshot(lambda s: s.map_proof(key, root))

    # ---------------------------------------------------------------- writing

    def append(self, items: Sequence[SignedStatement], *,
               progress: Progress | None = None,
               verified: Sequence[Statement] | None = None) -> Appended:
        """Verify, authorise and sequence ``items`` as one atomic, durable batch.

        With ``workers`` > 1, a batch of ``ledger.parallel.PARALLEL_THRESHOLD`` items or more
        has its signatures checked in worker processes started by multiprocessing's forkserver, which import the caller's
        main module: a script that appends big batches must keep its top level under
        ``if __name__ == "__main__":``, as multiprocessing requires (an unguarded script that
        opens the store would make each worker wait for the caller's write lock forever).

        ``verified``: the statements of ``items``, as ``SignedStatement.verify`` returned them
        (decoded strictly, signature checked) in the caller: the append then checks nothing
        again. The HTTP service checks each submission in its request threads, in parallel,
        so that its one writer only sequences (``ledger.service``). The audit checks every
        signature in the log whatever the writer did.

        A refusal of one statement (``RefusedError``) names its 0-based place in ``item``.
        """
        if not items:
            raise RefusedError("empty-batch", "nothing to append")
        if verified is not None and len(verified) != len(items):
            raise UsageError(f"{len(verified)} verified statements for {len(items)} items")
        with parallel.collection_paused():
            return self._append(items, progress, verified)

    def _append(self, items: Sequence[SignedStatement], progress: Progress | None,
                verified: Sequence[Statement] | None = None) -> Appended:
        checks = (None if verified is not None
                  else parallel.start_signature_checks(items, self.workers))
        statements = (verified if verified is not None
                      else parallel.verify_statements(items) if checks is None
                      else parallel.decode_statements(items, checks))
        total = len(items)
        now = self.clock()

        def write(txn: Txn) -> Appended:
            head = read_head(txn)
            t = max(now, head.last_time)
            state = RecordState(store_loader(txn))
            nodes = MapNodes(txn, head.state_root)
            smap = smt.MapWriter(nodes.get, head.state_root)
            cr = merkle.CompactRange(
                head.size, [txn.tree_node(lv, ix) for lv, ix in
                            merkle.CompactRange.frontier_ids(head.size)])
            records: dict[bytes, bytes] = {}
            status: dict[bytes, bytes] = {}
            # Puts are gathered and made with one cursor per database at the end.
            entries: list[tuple[bytes, bytes]] = []
            creds: list[tuple[bytes, bytes]] = []
            achievements: list[tuple[bytes, bytes]] = []
            tree: list[tuple[bytes, bytes]] = []
            signed: list[tuple[bytes, bytes]] = []

            def put_tree(level: int, index: int, h: bytes) -> None:
                tree.append((tree_key(level, index), h))

            try:
                for n, (st, item) in enumerate(zip(statements, items, strict=True)):
                    index = head.size + n
                    try:
                        changes = apply_rules(state, st, item.signer, index, self.registry, time=t)
                    except RefusedError as exc:
                        exc = RefusedError(exc.rule, f"batch item {n + 1}: {exc.detail}"
                                           if total > 1 else exc.detail, item=n)
                        if checks is not None:  # the serial path checks every item first
                            checks.raise_first(total, exc)
                        raise exc from None
                    for rec in changes:
                        data = rec.encode()
                        vh = record_hash(data)
                        k = rec.key()
                        smap.set(k, vh)
                        state.changed[k] = rec
                        records[vh] = data
                        status[k] = vh
                    try:
                        data = encode_entry(index, t, cr.root(), smap.root, item.statement,
                                            item.signer, item.signature)
                    except EncodingError as exc:
                        too_large = RefusedError("entry-too-large", f"batch item {n + 1}: {exc}",
                                                 item=n)
                        if checks is not None:
                            checks.raise_first(total, too_large)
                        raise too_large from None
                    cr.append(merkle.leaf_hash(data), put_tree)
                    entries.append((u64(index), data))
                    signed.append((statement_key(item), u64(index)))
                    if st.kind == ISSUE or st.kind in (REVOKE, SUSPEND, REINSTATE):
                        creds.append((cred_index_prefix(st.issuer, st.fields[0]) + u64(index), b""))
                    elif st.kind == REGISTER_ACHIEVEMENT:
                        achievements.append((achievement_index_key(st.issuer, st.fields[0]),
                                             u64(index)))
                    if progress is not None:
                        progress(n + 1)
                    if checks is not None and not n % parallel.HANDOFF_EVERY:
                        parallel.handoff()
            except RefusedError:
                raise
            except StoreError:
                if checks is not None:  # the serial path refuses bad items before reading
                    checks.raise_first(total)
                raise
            except Exception:
                # Only a statement the trusted decoding let through, which the strict checks
                # refuse, can get here (a wrong type in a field, say): give that refusal.
                if checks is not None:
                    checks.raise_first(total)
                raise
            if checks is not None:  # every item must be valid and signed before any write
                checks.raise_first(total)
            if txn.put_many("entries", entries, append=True) != len(entries):
                raise StoreCorruptError(f"the store holds entries at or after its head's size "
                                        f"{head.size}; nothing was written")
            txn.put_many("tree", tree)
            txn.put_many("creds", creds)
            txn.put_many("statements", signed, overwrite=False)  # the first of equal ones
            if txn.get("meta", STATEMENTS_TO) == u64(head.size):  # the index stays whole
                txn.put("meta", STATEMENTS_TO, u64(head.size + total))
            if achievements:
                txn.put_many("achievements", achievements)
            fmt = txn.get("meta", b"format")
            if fmt != FORMAT:  # changed since this Ledger was opened
                raise StoreCorruptError(f"unknown store format {fmt!r}: not written by this "
                                        "version of credential-ledger; nothing was written")
            nodes.add(head.size, smap.root, smap.new_nodes())
            # Only the final version of each record is reachable from the batch's last root.
            txn.put_many("records", ((vh, records[vh]) for vh in set(status.values())),
                         overwrite=False)
            txn.put_many("status", status.items())
            new_head = Head(cr.size, cr.root(), smap.root, t)
            txn.put("meta", b"head", new_head.encode())
            return Appended(head.size, total, new_head.size, new_head.root)

        try:
            return self.store.write(write, reserve=RESERVE_PER_ITEM * total)
        finally:
            if checks is not None:  # interrupted (KeyboardInterrupt, say): give out no more
                checks.stop()

    def checkpoint(self, signer: Signer | None = None) -> str:
        """Sign, store and return a checkpoint of the current tree.

        If the newest stored checkpoint already has the current size, it is returned unchanged.
        Before signing, the new root is checked against the newest earlier checkpoint: the ledger
        never signs two inconsistent checkpoints.
        """
        signer = signer or self.log_signer()
        if signer.name != self.origin:
            raise UsageError(f"the log key is named {signer.name!r}, want the origin "
                             f"{self.origin!r}")

        def write(txn: Txn) -> str:
            head = read_head(txn)
            last = txn.last("checkpoints")
            if last is not None:
                old = parse_checkpoint(parse_note(last[1]).text)
                if old.size == head.size:
                    return last[1].decode()
                if old.size > head.size or root_at(txn, old.size) != old.root:
                    raise StoreCorruptError(
                        f"the tree no longer matches the checkpoint of size {old.size}; "
                        "refusing to sign an inconsistent checkpoint")
            note = sign_checkpoint(Checkpoint(self.origin, head.size, head.root), signer)
            txn.put("checkpoints", u64(head.size), note.encode())
            return note

        return self.store.write(write)

    def add_cosignatures(self, cosigned: str, witnesses: Sequence[CosignerVerifier]) -> str:
        """Store the cosignatures of ``cosigned`` that verify under one of ``witnesses`` with
        the stored checkpoint of its size (``witness.merge_cosignatures``); the body and the
        log signature must match. Returns the stored note."""
        from ledger.note import parse_verifier

        key = parse_verifier(self.log_vkey())
        return self.store.write(lambda t: _add_cosignatures(t, cosigned, key, witnesses))


def _add_cosignatures(txn: Txn, cosigned: str, log_key: Any,
                      witnesses: Sequence[CosignerVerifier]) -> str:
    from ledger.note import open_checkpoint
    from ledger.witness import merge_cosignatures

    cp = open_checkpoint(cosigned, log_key)
    stored = txn.get("checkpoints", u64(cp.size))
    if stored is None:
        raise NotFoundError(f"no checkpoint of size {cp.size} was signed")
    merged = merge_cosignatures(stored.decode(), cosigned, witnesses)
    txn.put("checkpoints", u64(cp.size), merged.encode())
    return merged
