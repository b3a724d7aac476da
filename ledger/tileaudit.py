"""Auditing a published C2SP tlog-tiles tree, trusting only the log's key.

:func:`audit_tiles` replays the tree's entry bundles as :func:`ledger.audit.audit_store`
replays a store (the same :class:`~ledger.audit.Replayer`), and checks every hash tile, the
checkpoint and every saved checkpoint against the replay (docs/FORMAT.md §13.6). Tiles are
fetched ahead of the replay (``ledger.tilereader``), with the memory they may take bounded.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from ledger import merkle
from ledger.audit import CHUNK, AuditReport, Replayer, open_saved, replay, resume_point
from ledger.errors import (
    AuditError,
    EncodingError,
    LedgerError,
    NotFoundError,
    UsageError,
    VerificationError,
)
from ledger.note import Checkpoint, Verifier, open_checkpoint
from ledger.parallel import default_workers
from ledger.tilereader import TileReader
from ledger.tiles import (
    CHECKPOINT_PATH,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileId,
    _full_tiles_in_order,
    _partial_tiles,
    _tile_end,
    bundle_path,
    tile_path,
)

FETCH_THREADS = 8
"""Tiles and bundles fetched at once, ahead of the replay."""

BUNDLES_AHEAD = 4
"""Entry bundles fetched ahead of the replay, at most (tiles, 8 KiB each: FETCH_THREADS). Each
may be 16.8 MB and take twice that while it is read: this bounds the audit's memory."""

AHEAD_BYTES = 32 << 20
"""Fewer bundles are fetched ahead when they are big: as many as this many bytes hold at the
size of the biggest so far (:class:`_Ahead`); bundles of 64 KiB entries go one at a time."""

CHUNK_BYTES = 1 << 20
"""The entry bytes in one chunk of the audit's replay, at most (and at most ``CHUNK`` entries:
an honest chunk of 2048 entries is some 700 KB)."""


K = TypeVar("K")
V = TypeVar("V")


class _Ahead(Generic[K, V]):
    """Fetches resources on a thread pool, up to ``depth`` ahead of their use, in plan order.

    With ``weigh``, fewer when they are big: one at a time until the first is weighed, then as
    many as ``budget`` bytes hold at the size of the biggest seen so far (at least one, at most
    ``depth``). Honest entry bundles (some 90 KB) go 8 at a time; bundles of 64 KiB entries
    (16.8 MB each) one at a time."""

    def __init__(self, pool: ThreadPoolExecutor, fetch: Callable[[K], V], plan: Iterable[K],
                 depth: int, *, weigh: Callable[[V], int] | None = None,
                 budget: int = 0) -> None:
        self.pool = pool
        self.fetch = fetch
        self.plan = iter(plan)
        self.depth = depth
        self.weigh = weigh
        self.budget = budget
        self.biggest = -1  # weight of the biggest result so far; -1: none yet
        self.queue: deque[tuple[K, Future[V]]] = deque()

    def _depth(self) -> int:
        if self.weigh is None:
            return self.depth
        if self.biggest < 0:
            return 1
        return max(1, min(self.depth, self.budget // max(self.biggest, 1)))

    def get(self, key: K) -> V:
        while len(self.queue) < self._depth():
            nxt = next(self.plan, None)
            if nxt is None:
                break
            self.queue.append((nxt, self.pool.submit(self.fetch, nxt)))
        if self.queue and self.queue[0][0] == key:
            value = self.queue.popleft()[1].result()
        else:
            value = self.fetch(key)  # not the planned order: fetch it now
        if self.weigh is not None:
            self.biggest = max(self.biggest, self.weigh(value))
        return value


# ----------------------------------------------------------------------------- audit


def open_saved_checkpoints(notes: Iterable[str], log_key: Verifier) -> list[Checkpoint]:
    """Verify checkpoints an auditor kept from earlier audits; AuditError (rule ``checkpoint``)
    for one that does not verify with ``log_key``."""
    out = []
    for n, note in enumerate(notes, 1):
        try:
            out.append(open_checkpoint(note, log_key))
        except LedgerError as exc:
            raise AuditError(None, "checkpoint", f"saved checkpoint {n}: {exc}") from None
    return out


def check_saved_checkpoints(saved: Sequence[Checkpoint], *, size: int,
                            root_at: Callable[[int], bytes | None]) -> None:
    """Each saved checkpoint must be a prefix of the audited tree of ``size`` leaves:
    its size at most ``size`` and its root ``root_at(its size)``. Otherwise the log rolled
    back, forked or rewrote history: AuditError rule ``fork``."""
    for old in saved:
        if old.size > size:
            raise AuditError(None, "fork", f"a saved checkpoint has tree size {old.size}, the "
                             f"log now has {size}: the log rolled back or forked")
        root = root_at(old.size)
        if root != old.root:
            raise AuditError(None, "fork", f"the saved checkpoint of size {old.size} has root "
                             f"{old.root.hex()}, the log's tree at that size has "
                             f"{(root or b'').hex()}: the log forked or rewrote history")


def audit_tiles(source: str | os.PathLike[str] | TileReader, log_key: Verifier, *,
                saved_checkpoints: Iterable[str] = (),
                progress: Callable[[int], None] | None = None,
                workers: int | None = 1, since: str | bytes | None = None) -> AuditReport:
    """Audit a published tlog-tiles tree, trusting only ``log_key``.

    1. The checkpoint must verify with ``log_key`` (a missing one is a NotFoundError: wrong
       source); so must each of ``saved_checkpoints`` (checkpoint notes kept from earlier
       audits), and none may be bigger than it.
    2. Every entry bundle up to the checkpoint's size is replayed as the store audit replays
       entries (:class:`~ledger.audit.Replayer`; the registry key is the signer of entry 0).
    3. Every tile, as soon as the replay has all of its hashes, must hold exactly them:
       level 0 the leaf hashes, level L the roots of the 256**L-leaf subtrees.
    4. The replayed root must be the checkpoint's; each saved checkpoint's root must be the
       replayed root at its size (else rule ``fork``).

    With ``since`` (a checkpoint kept from an earlier audit, not with ``saved_checkpoints``),
    the audit is incremental: the tree's frontier at the saved size, read from the tiles, must
    fold to the saved root (else rule ``fork``), the first and last entries before it are
    checked by inclusion proofs, and only the entries after it are replayed, with their tiles;
    then the consistency proof from the saved checkpoint to this one is checked. A tile tree
    does not publish the status map, so the new entries' rules and ``state_root`` are not
    checked (docs/SECURITY.md, "Incremental audits"; the report says ``rules=False``).

    Every violation, including a truncated, oversize or missing tile or bundle, raises
    :class:`~ledger.errors.AuditError`. Network and I/O failures raise
    :class:`~ledger.errors.FetchError`; a local tile that is not a regular file,
    :class:`~ledger.errors.NotRegularFileError`.
    """
    start = time.perf_counter()
    reader = source if isinstance(source, TileReader) else TileReader(source)
    # 1. Checkpoints.
    try:
        cp = open_checkpoint(reader.checkpoint(), log_key)
    except (EncodingError, VerificationError) as exc:
        raise AuditError(None, "checkpoint", f"{reader.where(CHECKPOINT_PATH)}: {exc}") from None
    saved = open_saved_checkpoints(saved_checkpoints, log_key)
    for old in saved:
        if old.size > cp.size:  # known before any replay: fail fast
            check_saved_checkpoints([old], size=cp.size, root_at=lambda _: None)
    pending: dict[int, list[bytes]] = {}  # tile level -> hashes of its unfinished tile
    if since is None:
        replayer = Replayer(None, origin=cp.origin, want_roots=[s.size for s in saved])
        begin = 0
    else:
        if saved:
            raise UsageError("an incremental audit starts from one saved checkpoint: give "
                             "either it or checkpoints the log must extend")
        replayer, begin = _resume_tiles(reader, cp, open_saved(since, log_key), pending)
    # The plan, lazily: a checkpoint may claim any size below 2**64 (item 7 of issue 19).
    partials = _partial_tiles(cp.size)

    def bundles() -> Iterator[tuple[int, int]]:  # (index, width), one iterator per call
        yield from ((n, TILE_WIDTH) for n in range(begin >> TILE_HEIGHT, cp.size >> TILE_HEIGHT))
        yield from ((i, w) for level, i, w in partials if level == 0)

    def fetch_bundle(key: tuple[int, int]) -> list[bytes]:
        index, width = key
        return _audit_read(reader.entries, index, width, "entry-bundle", index * TILE_WIDTH,
                           reader.where(bundle_path(index, width)))

    def fetch_tile(tile: TileId) -> list[bytes]:
        level, index, width = tile
        first = index * TILE_WIDTH if level == 0 else None
        return _audit_read(lambda i, w: reader.tile(level, i, w), index, width, "tile", first,
                           reader.where(tile_path(level, index, width)))

    pool = ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="tiles")
    try:
        ahead_bundles = _Ahead(pool, fetch_bundle, bundles(), BUNDLES_AHEAD, budget=AHEAD_BYTES,
                               weigh=lambda entries: sum(map(len, entries)) + 2 * len(entries))
        ahead_tiles = _Ahead(pool, fetch_tile,
                             itertools.chain((t for t in _full_tiles_in_order(cp.size)
                                              if _tile_end(t) > begin), partials),
                             FETCH_THREADS)

        def check_tile(level: int, index: int, want: list[bytes]) -> None:
            got = ahead_tiles.get((level, index, len(want)))
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                if g != w:
                    where = reader.where(tile_path(level, index, len(want)))
                    raise AuditError(index * TILE_WIDTH + i if level == 0 else None, "tile",
                                     f"{where}: hash {i} is {g.hex()}, the replayed tree has "
                                     f"{w.hex()}")

        def visit(tree_level: int, node: int, h: bytes) -> None:
            if tree_level % TILE_HEIGHT:
                return
            level = tree_level // TILE_HEIGHT
            hashes = pending.setdefault(level, [])
            hashes.append(h)
            if len(hashes) == TILE_WIDTH:
                check_tile(level, node >> TILE_HEIGHT, hashes)
                hashes.clear()

        def chunks() -> Iterator[list[bytes]]:
            # At most CHUNK entries and about CHUNK_BYTES bytes: the replay keeps a few chunks
            # in flight, and bundles of 64 KiB entries would make 2048 of them 134 MB each.
            chunk: list[bytes] = []
            held = 0
            for key in bundles():
                entries = ahead_bundles.get(key)
                if key[0] * TILE_WIDTH < begin:  # (incremental) the entries before the start
                    entries = entries[begin - key[0] * TILE_WIDTH:]
                for entry in entries:
                    chunk.append(entry)
                    held += len(entry)
                    if len(chunk) >= CHUNK or held >= CHUNK_BYTES:
                        yield chunk
                        chunk, held = [], 0
            if chunk:
                yield chunk

        # 2.-3. Replay, checking full tiles as they complete.
        if workers is None:  # every core (the command line's choice), for a big tree
            workers = default_workers() if cp.size >= 2 * CHUNK else 1
        report = replay(chunks(), replayer, visit=visit, progress=progress, workers=workers)
        for level, index, _ in partials:
            check_tile(level, index, pending.get(level, []))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    # 4. Roots.
    if report.root != cp.root:
        raise AuditError(None, "root", f"the checkpoint of size {cp.size} has root "
                         f"{cp.root.hex()}, the replayed entries give {report.root.hex()}")
    check_saved_checkpoints(saved, size=cp.size, root_at=report.roots.get)
    report.roots.setdefault(cp.size, cp.root)
    report.checkpoints = 1 + len(saved)
    if since is not None:
        report.since, report.consistent_to, report.checkpoints = begin, cp.size, 2
    report.seconds = time.perf_counter() - start
    return report


def _resume_tiles(reader: TileReader, cp: Checkpoint, old: Checkpoint,
                  pending: dict[int, list[bytes]]) -> tuple[Replayer, int]:
    """An incremental tile audit's start: the tree of the saved checkpoint ``old`` read from
    the tiles of ``cp`` (:func:`~ledger.audit.resume_point`: its frontier folds to the saved
    root, its first and last entries are in it), the consistency proof from ``old`` to ``cp``
    made of tile hashes, and the hashes before the start of each level's unfinished tile put
    in ``pending`` (they are the ones the frontier was folded from). Returns the replayer,
    which checks no rules (a tile tree has no status map), and the saved size."""
    if old.size > cp.size:
        raise AuditError(None, "fork", f"the saved checkpoint has tree size {old.size}, the "
                         f"published one {cp.size}: the log rolled back or forked")
    fetched: dict[tuple[int, int], list[bytes]] = {}  # each tile read once: one view of it

    def tile(level: int, index: int) -> list[bytes]:
        if (level, index) not in fetched:
            width = min(TILE_WIDTH, (cp.size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH)
            fetched[level, index] = _audit_read(
                lambda i, w: reader.tile(level, i, w), index, width, "tile",
                index * TILE_WIDTH if level == 0 else None,
                reader.where(tile_path(level, index, width)))
        return fetched[level, index]

    def node(level: int, index: int) -> bytes:  # a perfect subtree's hash, from one tile
        below, shift = divmod(level, TILE_HEIGHT)
        first = index << shift
        at = first & (TILE_WIDTH - 1)
        return merkle.root_of(tile(below, first >> TILE_HEIGHT)[at:at + (1 << shift)])

    def entry(index: int) -> bytes:
        n = index >> TILE_HEIGHT
        width = min(TILE_WIDTH, cp.size - n * TILE_WIDTH)
        entries = _audit_read(reader.entries, n, width, "entry-bundle", n * TILE_WIDTH,
                              reader.where(bundle_path(n, width)))
        return entries[index & (TILE_WIDTH - 1)]

    frontier, first, last = resume_point(old.size, old.root, node, entry)
    if old.size:
        groups = merkle.proof_nodes(merkle.consistency_path(old.size, cp.size))
        proof = merkle.fold_proof_nodes(groups, [node(lv, ix) for g in groups for lv, ix in g])
        try:
            merkle.verify_consistency(old.size, cp.size, proof, old.root, cp.root)
        except LedgerError as exc:
            raise AuditError(None, "consistency", f"from the saved checkpoint of size "
                             f"{old.size} to the published one of size {cp.size}: {exc}") from None
    level = 0
    while old.size >> (TILE_HEIGHT * level):
        done = old.size >> (TILE_HEIGHT * level)  # complete nodes at tree level 8 * level
        if done % TILE_WIDTH:
            pending[level] = list(tile(level, done >> TILE_HEIGHT)[:done % TILE_WIDTH])
        level += 1
    replayer = Replayer(None if first is None else first.signer, origin=cp.origin,
                        want_roots=[old.size],
                        start=frontier, last_time=0 if last is None else last.time, rules=False)
    return replayer, old.size


def _audit_read(read: Callable[[int, int], list[bytes]], index: int, width: int, rule: str,
                first: int | None, where: str) -> list[bytes]:
    """Call ``read(index, width)``, turning a bad or missing resource into an AuditError."""
    try:
        return read(index, width)
    except EncodingError as exc:
        raise AuditError(first, rule, str(exc)) from None
    except NotFoundError as exc:
        raise AuditError(first, "missing", f"{where}: the checkpoint needs it ({exc})") from None
