"""Static publication as a C2SP tlog-tiles tree (c2sp.org/tlog-tiles): its format and export.

Layout under a directory or URL prefix (docs/FORMAT.md §13)::

    checkpoint                      the latest signed checkpoint note (written last)
    tile/<L>/<N>[.p/<W>]            hash tiles: 256 hashes of 32 bytes (W < 256 if partial)
    tile/entries/<N>[.p/<W>]        entry bundles: W entries, each a big-endian uint16 length
                                    then the entry bytes
    status/<I>/<K>/<P>/<n>.json     beside the tree (not part of it): each status list's newest
                                    publication in it (docs/FORMAT.md §17.4)

``<N>`` is written in zero-padded 3-digit path elements, all but the last prefixed with ``x``
(index 1234067 is ``x001/x234/067``). Tile ``N`` at level ``L`` holds, for ``i`` in
``[0, W)``, the Merkle Tree Hash of leaves ``[(N * 256 + i) * 256**L, (N * 256 + i + 1) * 256**L)``:
the perfect subtree ``(8 * L, N * 256 + i)`` in :data:`ledger.merkle.NodeId` terms, which the
store already keeps, so exporting hashes nothing. For a tree of ``s`` leaves, level ``L`` has
``s // 256**(L + 1)`` full tiles and one partial tile of width ``(s // 256**L) % 256`` if that
is not 0::

    size 600:   tile/entries/000  tile/entries/001  tile/entries/002.p/88
                tile/0/000        tile/0/001        tile/0/002.p/88
                tile/1/000.p/2    (the roots of leaves [0, 256) and [256, 512))

:func:`export_tiles` writes the tree of the latest stored checkpoint, incrementally and
atomically; the paths and the bytes of tiles and entry bundles are here too. Reading a tree
(``ledger.tilereader``) and auditing it (``ledger.tileaudit``) have their own modules.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ledger import merkle, statuslist
from ledger.errors import (
    ConflictError,
    EncodingError,
    LedgerError,
    NotFoundError,
    StoreCorruptError,
    UsageError,
)
from ledger.events import PUBLISH_STATUS_LIST, key_id, trusted_entry, trusted_statement
from ledger.files import fsync_path, read_regular, write_atomic
from ledger.log import Ledger
from ledger.note import (
    MAX_NOTE_SIZE,
    Checkpoint,
    Verifier,
    open_checkpoint,
    parse_note,
    parse_verifier,
)
from ledger.store import Txn, from_u64, u64

__all__ = [
    "CHECKPOINT_PATH",
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "ExportReport",
    "bundle_path",
    "encode_bundle",
    "export_tiles",
    "parse_bundle",
    "parse_tile",
    "read_tile",
    "tile_end",
    "tile_path",
    "tiles_of",
    "write_atomic",
]

TILE_HEIGHT = 8
"""Tree levels per tile: a level-L tile holds hashes of level ``8 * L`` of the tree."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile, and entries in a full bundle (256)."""

MAX_ENTRY_SIZE = 0xFFFF
"""The largest entry a bundle can hold: its length prefix is a uint16."""

CHECKPOINT_PATH = "checkpoint"

TileId = tuple[int, int, int]
"""``(level, index, width)`` of a tile; the entry bundles share the ids of level 0."""

_HASH = merkle.HASH_SIZE
_FULL_TILE_BYTES = TILE_WIDTH * _HASH


# ----------------------------------------------------------------------------- names and bytes


def _index_path(index: int) -> str:
    # Three digits per path element, most significant first; every element but the last gets
    # an "x" so that a file never has the name of a directory (c2sp.org/tlog-tiles, "Merkle Tree").
    if index < 0:
        raise UsageError(f"tile index {index}: want >= 0")
    parts = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        parts.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(parts))


def _width_suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise UsageError(f"tile width {width}: want 1 to {TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Return ``tile/<L>/<N>[.p/<W>]``, e.g. ``tile_path(1, 1234067, 5)`` is
    ``tile/1/x001/x234/067.p/5``. Requires ``0 <= level <= 63``, ``index >= 0``, ``1 <= width <= 256``."""
    if not 0 <= level <= 63:
        raise UsageError(f"tile level {level}: want 0 to 63")
    return f"tile/{level}/{_index_path(index)}{_width_suffix(width)}"


def bundle_path(index: int, width: int = TILE_WIDTH) -> str:
    """Return ``tile/entries/<N>[.p/<W>]``: the bundle of entries ``[N * 256, N * 256 + W)``."""
    return f"tile/entries/{_index_path(index)}{_width_suffix(width)}"


def tiles_of(size: int) -> list[TileId]:
    """Return every tile of a tree of ``size`` leaves as ``(level, index, width)``, level by level.

    Level 0 also names the entry bundles. For size 70,000: 273 full level-0 tiles and one of
    width 112, one full level-1 tile and one of width 17, and one level-2 tile of width 1.
    """
    if size < 0:
        raise UsageError(f"tree size {size}: want >= 0")
    return list(_tiles(size))


def _tiles(size: int) -> Iterator[TileId]:
    """:func:`tiles_of`, one at a time (for a tree of 2**40 leaves, 2**32 of them)."""
    level = 0
    nodes = size  # hashes at tree level 8 * level: one per complete subtree of 256**level leaves
    while nodes:
        yield from ((level, n, TILE_WIDTH) for n in range(nodes >> TILE_HEIGHT))
        if nodes % TILE_WIDTH:
            yield level, nodes >> TILE_HEIGHT, nodes % TILE_WIDTH
        nodes >>= TILE_HEIGHT
        level += 1


def _partial_tiles(size: int) -> list[TileId]:
    """The partial tiles of a tree of ``size`` leaves, level by level: at most one a level."""
    out = []
    level, nodes = 0, size
    while nodes:
        if nodes % TILE_WIDTH:
            out.append((level, nodes >> TILE_HEIGHT, nodes % TILE_WIDTH))
        nodes >>= TILE_HEIGHT
        level += 1
    return out


def _full_tiles_in_order(size: int) -> Iterator[TileId]:
    """The full tiles of a tree of ``size`` leaves in the order a replay completes them: by
    the leaf that ends them, then upwards (level-0 tile ``n``, then the tiles above that end
    with it). Lazy: the audit's plan costs nothing however big a size a checkpoint claims."""
    for n in range(size >> TILE_HEIGHT):
        yield 0, n, TILE_WIDTH
        done, level = n + 1, 1  # done: complete tiles of the level below
        while done % TILE_WIDTH == 0:
            done >>= TILE_HEIGHT
            yield level, done - 1, TILE_WIDTH
            level += 1


def _tile_end(tile: TileId) -> int:
    """The leaf index just past what ``tile`` covers: it is part of every tree at least this big."""
    level, index, width = tile
    return (index * TILE_WIDTH + width) << (TILE_HEIGHT * level)


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Return the entry bundle: each entry as a big-endian uint16 length and its bytes."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise EncodingError(f"entry of {len(entry)} bytes: a bundle holds at most "
                                f"{MAX_ENTRY_SIZE}")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def parse_bundle(data: bytes, width: int, what: str = "entry bundle") -> list[bytes]:
    """Return the ``width`` entries of a bundle; EncodingError if it holds fewer, more, or ends
    inside an entry."""
    entries: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if len(entries) == width:
            raise EncodingError(f"{what}: oversize: {end - pos} bytes after the {width} entries "
                                "it should hold")
        if end - pos < 2:
            raise EncodingError(f"{what}: truncated: entry {len(entries)} has a 1-byte length")
        n = int.from_bytes(data[pos:pos + 2], "big")
        pos += 2
        if end - pos < n:
            raise EncodingError(f"{what}: truncated: entry {len(entries)} has {end - pos} of its "
                                f"{n} bytes")
        entries.append(data[pos:pos + n])
        pos += n
    if len(entries) != width:
        raise EncodingError(f"{what}: truncated: got {len(entries)} entries, want {width}")
    return entries


def parse_tile(data: bytes, width: int, what: str = "tile") -> list[bytes]:
    """Return the ``width`` hashes of a tile; EncodingError unless it is exactly ``32 * width``
    bytes."""
    want = width * _HASH
    if len(data) != want:
        problem = "truncated" if len(data) < want else "oversize"
        raise EncodingError(f"{what}: {problem}: got {len(data)} bytes, want {want} "
                            f"({width} hashes)")
    return [data[i:i + _HASH] for i in range(0, want, _HASH)]


# ----------------------------------------------------------------------------- writing files


def _what(rel: str) -> str:
    """What the resource at ``rel`` is, for messages."""
    if rel == CHECKPOINT_PATH:
        return "a checkpoint"
    if rel.startswith("status/"):
        return "a status list"
    return "an entry bundle" if rel.startswith("tile/entries/") else "a tile"


class _Writer:
    """Writes files under ``root`` atomically, skips identical ones, and remembers which
    directories changed so they can be fsynced before the checkpoint goes out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dirty: set[Path] = set()
        self.written: list[str] = []
        self.bytes = 0
        self.skipped = 0

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        if path.is_file():
            try:
                same = read_regular(path, len(data), _what(rel)) == data
            except (NotFoundError, EncodingError):  # gone since, or longer: not the same
                same = False
            if same:
                self.skipped += 1
                return
        self._mkdirs(path.parent)
        write_atomic(path, data, sync_dir=False)
        self.dirty.add(path.parent)
        self.written.append(rel)
        self.bytes += len(data)

    def _mkdirs(self, path: Path) -> None:
        missing = []
        while not path.is_dir():
            missing.append(path)
            path = path.parent
        for d in reversed(missing):
            d.mkdir(exist_ok=True)
            self.dirty.add(d.parent)

    def sync(self) -> None:
        # Deepest first: a new directory's own entries are durable before its name is.
        for d in sorted(self.dirty, key=lambda p: len(p.parts), reverse=True):
            fsync_path(d)
        self.dirty.clear()


# ----------------------------------------------------------------------------- export


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What :func:`export_tiles` did: the tree it published and the files it (re)wrote."""

    size: int
    root: bytes
    files_written: int
    bytes_written: int
    files_skipped: int
    seconds: float
    written: tuple[str, ...]
    checkpoint_kept: str | None = None
    """Why the directory's checkpoint was left as it was (another export published the same
    tree with cosignatures this one lacks); None when it is this export's."""
    status_lists: int = 0
    """The status lists published within the tree (one file each, written or already there)."""

    def as_dict(self) -> dict[str, object]:
        return {"size": self.size, "root": self.root.hex(), "files_written": self.files_written,
                "bytes_written": self.bytes_written, "files_skipped": self.files_skipped,
                "status_lists": self.status_lists, "seconds": round(self.seconds, 3),
                "checkpoint_kept": self.checkpoint_kept}


def export_tiles(ledger: Ledger, out_dir: str | os.PathLike[str], *,
                 progress: Callable[[int], None] | None = None) -> ExportReport:
    """Write the tree of the latest stored checkpoint under ``out_dir`` as C2SP tlog-tiles.

    1. The checkpoint is the stored signed note (with any cosignatures); without one, raise
       :class:`~ledger.errors.NotFoundError` asking for ``credledger checkpoint``.
    2. If ``out_dir`` already holds a checkpoint, it must verify with this log's key and be a
       prefix of this tree; otherwise nothing is written (this is another log, a fork, or a
       newer export). Tiles and bundles wholly inside that older tree that already exist are
       kept as they are: they are immutable. Anything else is written unless an identical file
       is there (old partial tiles stay, as c2sp.org/tlog-tiles allows).
    3. Beside the tiles, every status list published within the tree: the ``list`` bytes of
       its newest ``publish-status-list`` entry there, exactly, at
       ``status/<issuer>/<key id>/<purpose>/<n>.json`` (docs/FORMAT.md §17.4), the URL its
       credentials name when the directory is served at ``https://<origin>/``.
    4. Every file is written atomically (:func:`write_atomic`); the directories are fsynced,
       and only then the ``checkpoint`` file is replaced, so a reader never sees a checkpoint
       whose tiles are not all in place.
    5. A published checkpoint never goes back: the export holds an exclusive ``flock`` on
       ``out_dir`` itself from the first read of its checkpoint to the last write, so exports
       into one directory run one after the other, and re-reads the checkpoint right before
       replacing it. A bigger tree there by then (a writer that does not take the lock) is a
       ConflictError; the same tree is replaced only by a note that keeps every signature it
       has and adds some (new cosignatures), else it is kept and ``checkpoint_kept`` says why.

    ``progress(n)`` is called with the number of entries of each bundle handled.
    """
    start = time.perf_counter()
    _stored_checkpoint(ledger)  # none: say so before touching the directory
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        # Read under the lock: after an export that held it, the store's latest checkpoint.
        note, log_key, cp = _stored_checkpoint(ledger)
        known = _published_size(root, ledger, log_key, cp)
        writer = _Writer(root)

        def fresh(tile: TileId, rel: str) -> bool:
            if _tile_end(tile) <= known and writer.exists(rel):
                writer.skipped += 1
                return False
            return True

        for tile in _tiles(cp.size):
            level, index, width = tile
            first = index * TILE_WIDTH
            if level == 0:
                rel = bundle_path(index, width)
                if fresh(tile, rel):
                    writer.put(rel, ledger.store.read(partial(_bundle_bytes, first=first,
                                                              width=width)))
                if progress is not None:
                    progress(width)
            rel = tile_path(level, index, width)
            if fresh(tile, rel):
                writer.put(rel, ledger.store.read(partial(_tile_bytes, level=level, index=index,
                                                          width=width)))
        # c2sp.org/tlog-tiles: a log serves the partial tiles of every tree size it signed a
        # checkpoint for, so proofs against an older checkpoint can be made from the tiles too.
        for size, _ in ledger.checkpoints():
            if size >= cp.size:
                continue
            for tile in _tiles(size):
                level, index, width = tile
                if width == TILE_WIDTH:
                    continue  # full tiles: already written above, and immutable
                if level == 0:
                    rel = bundle_path(index, width)
                    if not writer.exists(rel):
                        writer.put(rel, ledger.store.read(partial(
                            _bundle_bytes, first=index * TILE_WIDTH, width=width)))
                rel = tile_path(level, index, width)
                if not writer.exists(rel):
                    writer.put(rel, ledger.store.read(partial(_tile_bytes, level=level,
                                                              index=index, width=width)))
        # Each status list's newest publication within the tree, as the log holds it.
        lists = ledger.store.read(partial(_status_lists, size=cp.size))
        for rel, data in sorted(lists.items()):
            writer.put(rel, data)
        writer.sync()
        kept = _publish(writer, note, ledger, log_key, cp)
        writer.sync()
    return ExportReport(cp.size, cp.root, len(writer.written), writer.bytes, writer.skipped,
                        time.perf_counter() - start, tuple(writer.written), kept, len(lists))


_PUBLISH_KIND = PUBLISH_STATUS_LIST.encode("ascii")


def _status_lists(txn: Txn, *, size: int) -> dict[str, bytes]:
    """The newest publication of every status list among entries ``[0, size)``: its path
    (``statuslist.list_path`` of the issuer, the signer's key id, the purpose and the number)
    and the exact ``list`` bytes of its ``publish-status-list`` entry. The rules keep a list's
    ``tree_size`` from going back, so the last one in the log is the newest. One cursor walk;
    an entry is decoded only if its bytes hold the kind's name."""
    newest: dict[str, bytes] = {}
    for key, data in txn.items("entries", u64(0)):
        if len(key) != 8:
            continue
        if from_u64(key) >= size:
            break
        if _PUBLISH_KIND not in data:
            continue
        entry = trusted_entry(data)
        st = trusted_statement(entry.statement)
        if st.kind != PUBLISH_STATUS_LIST:
            continue
        purpose, number, _, list_bytes = st.fields
        newest[statuslist.list_path(st.issuer, key_id(entry.signer), purpose, number)] = list_bytes
    return newest


def _bundle_bytes(txn: Txn, *, first: int, width: int) -> bytes:
    entries = []
    for i in range(first, first + width):
        data = txn.entry(i)
        if data is None:
            raise StoreCorruptError(f"entry {i} is missing")
        entries.append(data)
    return encode_bundle(entries)


def _tile_bytes(txn: Txn, *, level: int, index: int, width: int) -> bytes:
    base = index * TILE_WIDTH
    tree_level = TILE_HEIGHT * level
    return b"".join(txn.tree_node(tree_level, base + i) for i in range(width))


def read_tile(txn: Txn, level: int, index: int, width: int) -> bytes:
    """The bytes of the hash tile ``(level, index, width)`` (``entries``: pass ``level=-1`` for
    the entry bundle of the same coordinates), read in ``txn``; the caller checks that the
    tile lies within the tree (:func:`tile_end`). What ``credledger serve`` answers."""
    if level < 0:
        return _bundle_bytes(txn, first=index * TILE_WIDTH, width=width)
    return _tile_bytes(txn, level=level, index=index, width=width)


def tile_end(level: int, index: int, width: int) -> int:
    """The size a tree must have at least to hold the tile (its last leaf + 1); entry bundles
    as level 0."""
    return _tile_end((max(level, 0), index, width))


def _stored_checkpoint(ledger: Ledger) -> tuple[str, Verifier, Checkpoint]:
    """The latest stored checkpoint note, the log key, and the checkpoint, checked."""
    try:
        note = ledger.checkpoint_note()
    except NotFoundError:
        raise NotFoundError("nothing to export: no checkpoint has been signed yet; run "
                            "'credledger checkpoint' first") from None
    log_key = parse_verifier(ledger.log_vkey())
    cp = open_checkpoint(note, log_key)
    if ledger.root_at(cp.size) != cp.root:
        raise StoreCorruptError(f"the stored checkpoint of size {cp.size} does not match the "
                                "store's tree")
    return note, log_key, cp


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the directory ``root`` itself (no lock file among the published
    ones): one export at a time into it, across processes and threads (each holder opens the
    directory itself). The kernel drops the lock when its holder exits, however it exits."""
    import fcntl

    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _published(root: Path, ledger: Ledger, log_key: Verifier,
               cp: Checkpoint) -> tuple[Checkpoint, bytes] | None:
    """The checkpoint already in ``root`` and its bytes (None if there is none), once it is
    known to be a prefix of the tree being exported; ConflictError otherwise."""
    path = root / CHECKPOINT_PATH
    try:  # a FIFO, a device or a directory there is refused (NotRegularFileError), not skipped
        data = read_regular(path, MAX_NOTE_SIZE, "a checkpoint")
    except NotFoundError:
        return None
    except EncodingError as exc:
        raise ConflictError(f"{path}: not a checkpoint of this log ({exc}); refusing to export "
                            "over it") from None
    try:
        old = open_checkpoint(data, log_key)
    except LedgerError as exc:
        raise ConflictError(f"{path}: not a checkpoint of this log ({exc}); refusing to export "
                            "over it") from None
    if old.size > cp.size:
        raise ConflictError(f"{path} has tree size {old.size}, beyond the latest checkpoint's "
                            f"{cp.size}; refusing to roll the published log back")
    if ledger.root_at(old.size) != old.root:
        raise ConflictError(f"{path} has a root at size {old.size} that this ledger's tree does "
                            "not have (another history); refusing to export over it")
    return old, data


def _published_size(root: Path, ledger: Ledger, log_key: Verifier, cp: Checkpoint) -> int:
    """The size of the checkpoint already in ``root`` (0 if none), once it is known to be a
    prefix of the tree being exported."""
    found = _published(root, ledger, log_key, cp)
    return 0 if found is None else found[0].size


def _publish(writer: _Writer, note: str, ledger: Ledger, log_key: Verifier,
             cp: Checkpoint) -> str | None:
    """Replace the checkpoint unless that would take the published log back: re-read it (under
    the directory's lock) right before. A bigger tree is a ConflictError (from
    :func:`_published`); the same tree is replaced only by a note with every signature line
    it has and more. Return why the published one was kept, or None."""
    data = note.encode("utf-8")
    found = _published(writer.root, ledger, log_key, cp)
    if found is not None and found[0].size == cp.size and found[1] != data:
        theirs = {s.line() for s in parse_note(found[1]).signatures}
        ours = {s.line() for s in parse_note(data).signatures}
        if not theirs < ours:
            return (f"{writer.root / CHECKPOINT_PATH} already publishes tree size {cp.size} "
                    "with signatures this export's checkpoint lacks; kept it")
    writer.put(CHECKPOINT_PATH, data)
    return None

