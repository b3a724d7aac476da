"""LMDB storage: the only module that imports lmdb (docs/FORMAT.md §12).

Layout: one LMDB environment in the store directory, named databases only, integers as 8-byte
big-endian keys so byte order is numeric order:

=============  ==========================================  ==================================
database       key                                         value
=============  ==========================================  ==================================
meta           ``origin``, ``registry``, ``head``,           see docs/FORMAT.md
               ``log_vkey``, ``format``
entries        index (u64)                                 entry bytes
tree           level (u8) || index (u64)                   32-byte perfect-subtree hash
mapnodes       batch (u64) || sequence (u32)               status-map node (65 or 89 bytes)
maproots       map root hash (32)                          its node's location (12)
nodes          node hash (32)                              65-byte map node (v1 stores only)
records        value hash (32)                             status record bytes
status         map key (32)                                current value hash (32)
creds          msgpack([issuer, cred_id]) || index (u64)   empty: the entries about a credential
achievements   SHA-256(issuer id) || achievement id        index (u64) of its registration
statements     SHA-256(msgpack [statement, signer, sig])   index (u64) of its entry
checkpoints    size (u64)                                  signed checkpoint note (UTF-8)
=============  ==========================================  ==================================

Durability contract: :meth:`Store.write` returns only after LMDB committed the transaction with
``sync`` on, so once it returns the batch survives a crash or power loss; if it raises, nothing of
the batch is visible. Every change a batch makes is in that one transaction.

Growth: the map starts small and doubles when LMDB reports it full, up to a cap
(``CREDLEDGER_MAX_MAP_SIZE`` bytes, default 1 TiB); at the cap, or when the disk is full,
:class:`StoreFullError` is raised and nothing is written. Several processes may append to one
store: LMDB's write lock serialises them, and readers never block; a process whose map is
smaller than the one another process grew adopts the new size and begins again
(``MDB_MAP_RESIZED``, :meth:`Store._retry_resized`). LMDB needs a local file system
(its lock file relies on shared memory): do not put a store on NFS or SMB.

Waiting for the write lock: a writer waits, without a time limit, for the one that holds LMDB's
write lock to commit (a batch of 100,000 credentials holds it for some seconds); so does the
opening of a store for writing, since py-lmdb opens named databases in a write transaction
(a store opened ``readonly`` never waits, nor writes, even when it lacks a database of
:data:`ADDED_DBS`: the commands that only read open it so). A waiter
that gave ``on_wait`` has it called once, from a timer thread, after :data:`WAIT_NOTE_AFTER`
seconds of waiting (the command line's "waiting for another writer" note).
"""

from __future__ import annotations

import errno
import os
import re
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any, Self, TypeVar

import lmdb

from ledger.errors import (
    StoreCorruptError,
    StoreError,
    StoreExistsError,
    StoreFullError,
    StoreNotFoundError,
)
from ledger.files import fsync_path

T = TypeVar("T")

_U64 = struct.Struct(">Q")
DB_NAMES = ("meta", "entries", "tree", "mapnodes", "maproots", "nodes", "records", "status",
            "creds", "checkpoints", "achievements", "statements")
"""The named databases. ``achievements`` came after format v2 without changing it: a store
opened by code that has it gains it empty, which is right, since older code cannot have
written an achievement (docs/FORMAT.md §12.1); opened read-only, such a store is not written
and reads it as empty (:data:`ADDED_DBS`)."""
ADDED_DBS = frozenset({"achievements", "statements"})
"""Databases a store of format v2 may lack (written before they existed): a store opened
read-only reads a missing one as empty, never waiting for the write lock to add it."""
FORMAT = b"credential-ledger/v3"
"""The store format this code writes (``meta/format``): entry format 2 (docs/FORMAT.md §4)."""
OLD_FORMATS = {b"credential-ledger/v1": "entry format 1", b"credential-ledger/v2": "entry format 1"}
"""Store formats of earlier versions, refused by name: their entries are of entry format 1,
whose statements this version does not read (docs/FORMAT.md §4, §12)."""
INITIAL_MAP_SIZE = 64 << 20
RESIZE_RETRIES = 20
"""How often one read (or the opening of a store) adopts the map size another process set
and begins again before it gives up."""
DEFAULT_MAX_MAP_SIZE = 1 << 40
WAIT_NOTE_AFTER = 1.5
"""Seconds of waiting for another process's write lock after which ``on_wait`` is called."""
DATA_FILE = "data.mdb"


def u64(n: int) -> bytes:
    return _U64.pack(n)


def from_u64(b: bytes) -> int:
    return int(_U64.unpack(b)[0])


_TREE_KEY = struct.Struct(">BQ")


def tree_key(level: int, index: int) -> bytes:
    """The ``tree`` database's key of a perfect subtree: its level (1 byte), then its index
    (8 bytes big-endian)."""
    return _TREE_KEY.pack(level, index)


def max_map_size() -> int:
    raw = os.environ.get("CREDLEDGER_MAX_MAP_SIZE", "")
    if not raw:
        return DEFAULT_MAX_MAP_SIZE
    try:
        value = int(raw)
    except ValueError:
        raise StoreError(f"CREDLEDGER_MAX_MAP_SIZE: want a number of bytes, got {raw!r}") from None
    return max(value, 1 << 20)


class Txn:
    """A read or write transaction over the named databases, with typed helpers."""

    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        self._txn = txn
        self._dbs = dbs

    def get(self, db: str, key: bytes) -> bytes | None:
        value = self._txn.get(key, db=self._dbs[db])
        return None if value is None else bytes(value)

    def put(self, db: str, key: bytes, value: bytes, *, append: bool = False) -> None:
        self._txn.put(key, value, db=self._dbs[db], append=append)

    def put_new(self, db: str, key: bytes, value: bytes) -> None:
        """Put unless the key exists (content-addressed data: an existing key has this value)."""
        self._txn.put(key, value, db=self._dbs[db], overwrite=False)

    def put_many(self, db: str, items: Iterable[tuple[bytes, bytes]], *, append: bool = False,
                 overwrite: bool = True) -> int:
        """Put every (key, value) of ``items`` through one cursor (``append``: keys ascending,
        after every stored key; ``overwrite=False``: keep the value of an existing key).
        Returns how many were added: LMDB skips, silently, an existing key with
        ``overwrite=False`` and a key that is not after every stored key with ``append``."""
        with self._txn.cursor(db=self._dbs[db]) as cur:
            return int(cur.putmulti(items, overwrite=overwrite, append=append)[1])

    def prefix(self, db: str, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with ``prefix``, in key order."""
        with self._txn.cursor(db=self._dbs[db]) as cur:
            if not cur.set_range(prefix):
                return
            for key, value in cur:
                if not bytes(key).startswith(prefix):
                    return
                yield bytes(key), bytes(value)

    def last(self, db: str) -> tuple[bytes, bytes] | None:
        with self._txn.cursor(db=self._dbs[db]) as cur:
            if not cur.last():
                return None
            return bytes(cur.key()), bytes(cur.value())

    def items(self, db: str, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        with self._txn.cursor(db=self._dbs[db]) as cur:
            if not cur.set_range(start):
                return
            for key, value in cur:
                yield bytes(key), bytes(value)

    # Typed shortcuts used on hot paths.
    def entry(self, index: int) -> bytes | None:
        return self.get("entries", _U64.pack(index))

    def tree_node(self, level: int, index: int) -> bytes:
        value = self._txn.get(_TREE_KEY.pack(level, index), db=self._dbs["tree"])
        if value is None:
            raise StoreCorruptError(f"tree node ({level}, {index}) is missing")
        return bytes(value)

    def get_many(self, db: str, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """The values of those of ``keys`` that are stored, in one call."""
        with self._txn.cursor(db=self._dbs[db]) as cur:
            return {bytes(k): bytes(v) for k, v in cur.getmulti(keys)}

    def tree_nodes(self, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        """The hashes of the perfect subtrees ``(level, index)``, in order, in one call."""
        pack = _TREE_KEY.pack
        keys = [pack(level, index) for level, index in ids]
        with self._txn.cursor(db=self._dbs["tree"]) as cur:
            found = cur.getmulti(keys)  # (key, value) of the stored ones, in the order asked
        if len(found) == len(keys):
            return [bytes(v) for _, v in found]
        have = {bytes(k) for k, _ in found}
        missing = next(ids[i] for i, k in enumerate(keys) if k not in have)
        raise StoreCorruptError(f"tree node {missing} is missing")


class _LackingTxn(Txn):
    """A transaction of a store opened read-only that lacked databases of :data:`ADDED_DBS`
    (written before they existed): each of those reads as empty. If a writer added one since
    the store was opened, and this transaction's snapshot has it, reading it raises
    :class:`StoreError` (run again) rather than reading as empty what is not."""

    __slots__ = ()

    def _lacks(self, db: str) -> bool:
        if db in self._dbs:
            return False
        if self._txn.get(db.encode()) is not None:  # the main database names the named ones
            raise StoreError(f"another process added the {db!r} database since the store was "
                             "opened (the first write of a newer version); run again")
        return True

    def get(self, db: str, key: bytes) -> bytes | None:
        return None if self._lacks(db) else super().get(db, key)

    def prefix(self, db: str, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return iter(()) if self._lacks(db) else super().prefix(db, prefix)

    def last(self, db: str) -> tuple[bytes, bytes] | None:
        return None if self._lacks(db) else super().last(db)

    def items(self, db: str, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        return iter(()) if self._lacks(db) else super().items(db, start)

    def get_many(self, db: str, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        return {} if self._lacks(db) else super().get_many(db, keys)


def _location_of(pair: tuple[bytes, bytes]) -> bytes:
    return pair[1]


_LOCATION = struct.Struct(">QI")
LOCATION_SIZE = _LOCATION.size
LEGACY = b"\xff" * LOCATION_SIZE
"""The location written for a child that is a format-v1 node (read from ``nodes`` by hash)."""
NO_CHILD = bytes(LOCATION_SIZE)
"""The location written for an EMPTY side of a branch. It is never read: a side is EMPTY by
its hash (32 zero bytes), not by its location, which equals the real location (0, 0)."""
_EMPTY = bytes(32)
_LEAF_SIZE = 65
_BRANCH_SIZE = _LEAF_SIZE + 2 * LOCATION_SIZE
_BRANCH_TAG = 3
_LEAF_TAG = 2


class MapNodes:
    """The status map's nodes in the store, as one transaction reads and adds them.

    A node is stored at a location, ``batch (u64) || sequence (u32)``: the index of the first
    entry of the batch that made it, and its place among that batch's new nodes, children
    first; a branch's value is its 65-byte encoding followed by its children's locations. A
    batch's nodes are thus appended at the end of ``mapnodes``, in key order, rather than
    scattered over it by their hashes: the store takes about half the bytes an event and a
    commit a third of the time (benchmarks/README.md, "Measurements behind the code").
    ``maproots`` gives each batch's final map root its location.

    :meth:`get` reads by hash, the interface :mod:`ledger.smt` uses: the walks start at the
    root and go down, so the location of every hash asked for is known from the root's entry
    in ``maproots`` or from its parent's value. A hash whose location is unknown is a node of
    a format-v1 store, read from ``nodes`` by hash. Every node read is checked against its
    hash (a wrong location is store corruption, never a wrong root).
    """

    __slots__ = ("_locs", "_mapnodes", "_maproots", "_nodes", "_txn")

    def __init__(self, txn: Txn, root: bytes) -> None:
        self._txn = txn._txn
        self._mapnodes = txn._dbs["mapnodes"]
        self._maproots = txn._dbs["maproots"]
        self._nodes = txn._dbs["nodes"]
        self._locs: dict[bytes, bytes] = {}
        if type(root) is bytes and len(root) == len(_EMPTY) and root != _EMPTY:
            loc = txn.get("maproots", root)
            if loc is not None:
                self._locs[root] = loc

    def get(self, node_hash: bytes) -> bytes | None:
        """The 65-byte encoding of the node ``node_hash``, or None if the store lacks it
        (EMPTY, the hash of no node, included). Learns the locations of its children."""
        if node_hash == _EMPTY:
            return None
        node = self._read(node_hash, self._locs.get(node_hash, LEGACY))
        if node is None:
            return None
        encoding, children = node
        for child in children:
            self._locs[child[0]] = child[1]
        return encoding

    def leaves(self, root: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value hash) of the map under ``root``, reading each node once, a level
        at a time in location order, each checked against its hash: the audit's walk. Raises
        StoreCorruptError for a node that is missing, malformed or wrong."""
        if root == _EMPTY:
            return
        level = [(root, self._locs.get(root, LEGACY))]
        while level:
            # In location order: a batch's nodes lie together. (One get each: faster than
            # py-lmdb's getmulti here, benchmarks/README.md.)
            level.sort(key=_location_of)
            below: list[tuple[bytes, bytes]] = []
            for h, loc in level:
                node = self._read(h, loc)
                if node is None:
                    raise StoreCorruptError(f"map node {h.hex()} is missing")
                encoding, children = node
                if encoding[0] == _BRANCH_TAG:
                    below.extend(c for c in children if c[0] != _EMPTY)
                else:
                    yield encoding[1:33], encoding[33:]
            level = below

    def _read(self, node_hash: bytes, loc: bytes
              ) -> tuple[bytes, tuple[tuple[bytes, bytes], ...]] | None:
        """The node at ``loc`` (``LEGACY``: in ``nodes`` by its hash): its 65-byte encoding and
        its children's (hash, location) pairs (none for a leaf; ``LEGACY`` ones below a v1
        branch), checked against ``node_hash``; None if nothing is stored there."""
        if loc == LEGACY:
            value = self._txn.get(node_hash, db=self._nodes)
        else:
            value = self._txn.get(loc, db=self._mapnodes)
        if value is None:
            return None
        value = bytes(value)
        children: tuple[tuple[bytes, bytes], ...]
        if len(value) == _BRANCH_SIZE and value[0] == _BRANCH_TAG and loc != LEGACY:
            children = ((value[1:33], value[65:77]), (value[33:65], value[77:]))
            value = value[:_LEAF_SIZE]
        elif len(value) == _LEAF_SIZE and value[0] == _BRANCH_TAG and loc == LEGACY:
            children = ((value[1:33], LEGACY), (value[33:], LEGACY))  # a v1 branch
        elif len(value) == _LEAF_SIZE and value[0] == _LEAF_TAG:
            children = ()
        else:
            raise StoreCorruptError(f"map node {node_hash.hex()} is malformed "
                                    f"({len(value)} bytes)")
        if sha256(value).digest() != node_hash:
            where = "in nodes" if loc == LEGACY else f"at location {loc.hex()}"
            raise StoreCorruptError(f"the map node {where} does not hash to {node_hash.hex()}")
        return value, children

    def add(self, batch: int, root: bytes, new: dict[bytes, bytes]) -> int:
        """Store ``new`` (node hash -> 65-byte encoding, children before parents: what
        :meth:`ledger.smt.MapWriter.new_nodes` gives) at ``(batch, 0)``, ``(batch, 1)``, ...,
        and the location of ``root`` in ``maproots``. Returns how many nodes were stored.

        ``batch`` must be above every batch stored before (the first index of the batch).
        """
        if not new:
            return 0
        locs = self._locs
        get = locs.get
        pack = _LOCATION.pack
        out: list[tuple[bytes, bytes]] = []
        for h, encoding in new.items():
            if encoding[0] == _BRANCH_TAG:
                left, right = encoding[1:33], encoding[33:]
                # A child is new in this batch (and was given its location just before, since
                # children come first), or was read through a parent, or is EMPTY.
                encoding += (get(left) or self._unlocated(left)) + (get(right)
                                                                    or self._unlocated(right))
            loc = locs[h] = pack(batch, len(out))
            out.append((loc, encoding))
        with self._txn.cursor(db=self._mapnodes) as cur:
            added = int(cur.putmulti(out, append=True)[1])
        if added != len(out):
            raise StoreCorruptError(f"the store already holds map nodes at or after batch {batch}")
        if not get(root, b"").startswith(_U64.pack(batch)):
            raise StoreCorruptError(f"map root {root.hex()} is not among the batch's new nodes")
        self._txn.put(root, locs[root], db=self._maproots)
        return added

    def _unlocated(self, h: bytes) -> bytes:
        """The location to write for a child whose location is not known: EMPTY's, or a v1
        node's (found by hash). Anything else (a new child after its parent, say) is an error."""
        if h == _EMPTY:
            return NO_CHILD
        if self._txn.get(h, db=self._nodes) is None:
            raise StoreCorruptError(f"map node {h.hex()} is in neither mapnodes nor nodes "
                                    "(or comes after its parent)")
        return LEGACY


NETWORK_FS_TYPES = frozenset((
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
    "lustre", "gpfs", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "davfs",
    "fuse.glusterfs", "fuse.cephfs", "beegfs", "ocfs2", "gfs2", "vboxsf", "vmhgfs",
    "fuse.vmhgfs-fuse", "fuse.gvfsd-fuse", "fuse.grpcfuse", "virtiofs", "prl_fs",
))
_MOUNT_ESCAPE = re.compile(r"\\([0-7]{3})")
MOUNTS_FILE = "/proc/self/mounts"


def file_system_type(path: Path) -> str | None:
    """The type of the file system holding ``path`` (Linux: from /proc/self/mounts), or None
    where that cannot be told."""
    try:
        with open(MOUNTS_FILE, encoding="utf-8", errors="replace") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    target = os.path.realpath(path)
    best, fs_type = "", None
    for fields in mounts:
        if len(fields) < 3:
            continue
        point = _MOUNT_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fs_type = point, fields[2]
    return fs_type


def check_local_file_system(path: Path) -> None:
    """Refuse a store on a network file system: LMDB's lock file relies on shared memory and
    POSIX locks that NFS and SMB do not provide faithfully, so concurrent writers could corrupt
    the store. ``CREDLEDGER_ALLOW_NETWORK_FS=1`` overrides (one machine, one process at a time)."""
    fs_type = file_system_type(path)
    if fs_type in NETWORK_FS_TYPES and os.environ.get("CREDLEDGER_ALLOW_NETWORK_FS") != "1":
        raise StoreError(
            f"{path} is on a network file system ({fs_type}); LMDB needs a local disk. Move "
            "the store, or set CREDLEDGER_ALLOW_NETWORK_FS=1 if only one process on one "
            "machine ever opens it"
        )


class Store:
    """An LMDB environment holding one ledger. Not to be shared across ``fork()``."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False,
                 on_wait: Callable[[], None] | None = None, readonly: bool = False) -> None:
        self.path = Path(path)
        self.on_wait = on_wait
        data = self.path / DATA_FILE
        check_local_file_system(self.path)
        if create:
            if data.exists():
                raise StoreExistsError(f"a ledger store already exists in {self.path}")
            self.path.mkdir(parents=True, exist_ok=True)
        elif not data.is_file():
            raise StoreNotFoundError(
                f"no ledger store in {self.path} (run 'credledger init' or set --dir/CREDLEDGER_DIR)"
            )
        self._max = max_map_size()
        size = min(INITIAL_MAP_SIZE, self._max)
        if data.exists():
            size = max(size, data.stat().st_size)
        try:
            self._dbs = self._open(size, create=create, readonly=readonly)
        except lmdb.Error as exc:
            raise _store_error(exc, f"cannot open the store in {self.path}") from None
        self._txn: type[Txn] = Txn if len(self._dbs) == len(DB_NAMES) else _LackingTxn

    def _open(self, size: int, *, create: bool, readonly: bool) -> dict[str, Any]:
        """Open the environment and its named databases: as a writer, in a write transaction
        (see the module); read-only, in a read transaction, never waiting for a writer and
        writing nothing: a database of :data:`ADDED_DBS` that the store lacks is left out
        (:class:`_LackingTxn` reads it as empty). A format-v1 store opened read-only, which
        lacks other databases a writer adds, is opened as a writer."""
        # meminit: LMDB zeroes the unused part of every page it writes. Without it, whatever
        # the process's heap held there goes to disk (and into backups): a registrar's batch
        # file, names and grades, was found in data.mdb (tests/test_cohort_privacy.py).
        self.env = lmdb.open(str(self.path), map_size=size, max_dbs=len(DB_NAMES) + 2,
                             subdir=True, create=create, readonly=readonly, sync=True,
                             metasync=True, readahead=False, meminit=True, max_readers=254)

        def open_dbs() -> dict[str, Any]:
            dbs = {}
            for name in DB_NAMES:
                try:
                    dbs[name] = self.env.open_db(name.encode(), create=not readonly)
                except lmdb.NotFoundError:
                    if not readonly or name not in ADDED_DBS:
                        raise
            return dbs

        try:
            return self._retry_resized(lambda: self._waiting(open_dbs),
                                       f"cannot open the store in {self.path}")
        except lmdb.NotFoundError:
            if not readonly:
                raise
        self.env.close()
        return self._open(size, create=False, readonly=False)

    def close(self) -> None:
        self.env.close()

    def _waiting(self, take: Callable[[], T]) -> T:
        """``take()``, which takes LMDB's write lock; if that waits more than
        :data:`WAIT_NOTE_AFTER` seconds (another process holds the lock), ``on_wait`` is called
        meanwhile, once, from a timer thread (py-lmdb waits for the lock without the GIL)."""
        if self.on_wait is None:
            return take()
        timer = threading.Timer(WAIT_NOTE_AFTER, self.on_wait)
        timer.daemon = True
        timer.start()
        try:
            return take()
        finally:
            timer.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn`` in a read transaction (a consistent snapshot; never blocks writers).
        ``fn`` may be called again from the start if another process grew the map meanwhile."""
        def attempt() -> T:
            with self.env.begin(write=False, buffers=True) as txn:
                return fn(self._txn(txn, self._dbs))
        try:
            return self._retry_resized(attempt, "read failed")
        except lmdb.Error as exc:
            raise _store_error(exc, "read failed") from None

    def _retry_resized(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn`` (which begins its own transaction), adopting the map size another
        process set and running it again, up to ``RESIZE_RETRIES`` times, when LMDB reports
        ``MDB_MAP_RESIZED``: another process grew the map past the size this one mapped, at
        the transaction's begin or during it. Each retry maps at least what the other process
        had committed, so only a writer growing the map that often in the meantime exhausts
        them."""
        for _ in range(RESIZE_RETRIES):
            try:
                return fn()
            except lmdb.MapResizedError:
                self.env.set_mapsize(0)  # another process grew the map: adopt its size
        raise StoreError(f"{what}: the map kept being resized by another process "
                         f"({RESIZE_RETRIES} times)")

    def write(self, fn: Callable[[Txn], T], *, reserve: int = 0) -> T:
        """Run ``fn`` in one write transaction and commit it durably.

        ``fn`` may be called again from the start (after the map has grown), so it must derive
        everything it writes from what it reads in the transaction. Either all of its writes
        are committed or none are. ``reserve``: about how many bytes of pages the transaction
        will use; the map is grown first if they would not fit, since growing it from inside
        the transaction means doing the whole transaction again.
        """
        if reserve:
            self._make_room(reserve)
        while True:
            try:
                with self._waiting(lambda: self.env.begin(write=True)) as txn:
                    return fn(self._txn(txn, self._dbs))
            except lmdb.MapFullError:
                self._grow()
            except lmdb.MapResizedError:
                self.env.set_mapsize(0)  # another process grew the map: adopt its size
            except lmdb.Error as exc:
                raise _store_error(exc, "write failed; nothing was written") from None

    def map_to_cap(self) -> None:
        """Map the whole size cap now (``CREDLEDGER_MAX_MAP_SIZE``; address space only: the
        file grows as pages are written), so that this process never grows the map again.
        LMDB may change a map's size only while no transaction of the process is active: a
        process whose threads read while another appends (``credledger serve``) calls this
        once, before its threads start, rather than have the writer remap under the readers."""
        if self.env.info()["map_size"] < self._max:
            try:
                self.env.set_mapsize(self._max)
            except lmdb.Error as exc:
                raise _store_error(exc, "cannot map the store") from None

    def _make_room(self, reserve: int) -> None:
        """Grow the map (doubling, up to the cap) until ``reserve`` more bytes fit."""
        used = self.data_size()
        size = current = self.env.info()["map_size"]
        while used + reserve > size and size < self._max:
            size = min(size * 2, self._max)
        if size != current:
            try:
                self.env.set_mapsize(size)
            except lmdb.Error as exc:
                raise _store_error(exc, "cannot grow the store; nothing was written") from None

    def _grow(self) -> None:
        current = self.env.info()["map_size"]
        if current >= self._max:
            raise StoreFullError(
                f"the store reached its size cap of {self._max} bytes "
                "(CREDLEDGER_MAX_MAP_SIZE); nothing was written"
            )
        try:
            self.env.set_mapsize(min(current * 2, self._max))
        except lmdb.Error as exc:
            raise _store_error(exc, "cannot grow the store; nothing was written") from None

    def copy_compact(self, dest: Path) -> None:
        """Write a consistent, compacted copy of the data file into the new directory ``dest``
        (LMDB's copy in one read transaction: writers go on meanwhile; the copy keeps the
        reachable pages only, so the free pages of old transactions are left behind), and
        make it durable."""
        def copy() -> None:
            (dest / DATA_FILE).unlink(missing_ok=True)  # left by an attempt that met a resize
            self.env.copy(str(dest), compact=True)
        try:
            self._retry_resized(copy, f"cannot copy the store to {dest}")
        except lmdb.Error as exc:
            raise _store_error(exc, f"cannot copy the store to {dest}") from None
        fsync_path(dest / DATA_FILE)

    def data_size(self) -> int:
        """Bytes of the data file in use (pages in use times page size)."""
        info = self.env.info()
        stat = self.env.stat()
        return int((info["last_pgno"] + 1) * stat["psize"])


def _store_error(exc: lmdb.Error, what: str) -> StoreError:
    if isinstance(exc, lmdb.DiskError) or getattr(exc, "errno", None) == errno.ENOSPC or (
        "No space left" in str(exc)
    ):
        return StoreFullError(f"{what}: the disk is full")
    if isinstance(exc, (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError,
                        lmdb.VersionMismatchError, lmdb.BadRslotError)):
        return StoreCorruptError(f"{what}: the LMDB file is damaged ({exc.__class__.__name__})")
    return StoreError(f"{what}: {str(exc).strip() or exc.__class__.__name__}")
