"""Static publication as a C2SP tlog-tiles tree (c2sp.org/tlog-tiles), and its auditor.

Layout under a directory or URL prefix (docs/FORMAT.md §13)::

    checkpoint                      the latest signed checkpoint note (written last)
    tile/<L>/<N>[.p/<W>]            hash tiles: 256 hashes of 32 bytes (W < 256 if partial)
    tile/entries/<N>[.p/<W>]        entry bundles: W entries, each a big-endian uint16 length
                                    then the entry bytes

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
atomically. :class:`TileReader` reads a tree from a directory or an ``http(s)://`` prefix with
strict parsing and a size cap per resource. :func:`audit_tiles` replays it as
:func:`ledger.audit.audit_store` replays a store, and checks every tile and saved checkpoint
against the replay.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import itertools
import os
import re
import socket
import ssl
import time
import urllib.parse
import urllib.request
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import Any, Generic, TypeVar

from ledger import merkle
from ledger.audit import CHUNK, AuditError, AuditReport, Replayer, replay
from ledger.errors import (
    ConflictError,
    EncodingError,
    FetchError,
    LedgerError,
    NotFoundError,
    StoreCorruptError,
    UsageError,
    VerificationError,
)
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
from ledger.parallel import default_workers
from ledger.store import Txn

__all__ = [
    "CHECKPOINT_PATH",
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "ExportReport",
    "TileReader",
    "audit_tiles",
    "bundle_path",
    "check_saved_checkpoints",
    "encode_bundle",
    "export_tiles",
    "open_saved_checkpoints",
    "parse_bundle",
    "parse_tile",
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

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for one HTTP(S) request: connecting, sending it, every status line, header
and body byte of the response, and of the redirects before it (one deadline for all)."""

MAX_HEAD_BYTES = 1 << 16
"""The most bytes read of a response before its headers end: its status line and headers, and
any ``100 Continue`` responses before it (64 KiB; at most 100 header lines, http.client's cap)."""

MAX_REDIRECTS = 10
"""Redirects followed for one request (to http or https URLs only)."""

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

TileId = tuple[int, int, int]
"""``(level, index, width)`` of a tile; the entry bundles share the ids of level 0."""

_HASH = merkle.HASH_SIZE
_FULL_TILE_BYTES = TILE_WIDTH * _HASH
_READ_BLOCK = 1 << 16


def _gzip_slack(limit: int) -> int:
    # gzip can grow incompressible data (hashes, signatures): 18 bytes of header and trailer,
    # and 5 bytes per stored block of at most 64 KiB. Compressed bodies may be this much bigger.
    return 64 + 5 * (limit // 0xFFFF + 1)


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

    def as_dict(self) -> dict[str, object]:
        return {"size": self.size, "root": self.root.hex(), "files_written": self.files_written,
                "bytes_written": self.bytes_written, "files_skipped": self.files_skipped,
                "seconds": round(self.seconds, 3), "checkpoint_kept": self.checkpoint_kept}


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
    3. Every file is written atomically (:func:`write_atomic`); the directories are fsynced,
       and only then the ``checkpoint`` file is replaced, so a reader never sees a checkpoint
       whose tiles are not all in place.
    4. A published checkpoint never goes back: the export holds an exclusive ``flock`` on
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
        writer.sync()
        kept = _publish(writer, note, ledger, log_key, cp)
        writer.sync()
    return ExportReport(cp.size, cp.root, len(writer.written), writer.bytes, writer.skipped,
                        time.perf_counter() - start, tuple(writer.written), kept)


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


# ----------------------------------------------------------------------------- reading


class _HeadTooLarge(Exception):
    """A response's status lines and headers went on past :data:`MAX_HEAD_BYTES`."""


class _Deadline(io.RawIOBase):
    """The reading side of one request's socket: before every ``recv`` the socket's timeout is
    set to what is left of the request's deadline (so no byte arriving late, however slowly the
    earlier ones came, is waited for), and until :attr:`head_limit` is lifted at most that many
    bytes are read (the status lines and headers of a response, 1xx responses included)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline
        self.head_limit: int | None = MAX_HEAD_BYTES
        self.got = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        view = memoryview(buffer).cast("B")
        if self.head_limit is not None:
            if self.got >= self.head_limit:
                raise _HeadTooLarge
            view = view[:self.head_limit - self.got]
        self.sock.settimeout(left)
        n = self.sock.recv_into(view)
        self.got += n
        return n


class _Source:
    """What :class:`http.client.HTTPResponse` reads from: a buffered :class:`_Deadline`."""

    def __init__(self, raw: _Deadline) -> None:
        self.raw = raw

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self.raw)


@dataclass(frozen=True, slots=True)
class _Url:
    """An http(s) URL taken apart for one request."""

    https: bool
    host: str
    port: int
    target: str  # the request target: path and query, percent-encoded
    authority: str  # the Host header


_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?")


def _split_url(url: str, error: type[LedgerError]) -> _Url:
    """Take an http(s) URL apart; ``error`` (UsageError for the caller's URL, FetchError for a
    server's redirect) names what is wrong with a malformed one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port could not be cast to integer value"
        raise error(f"{_printable(url)}: not a valid URL ({_printable(str(exc)).lower()})"
                    ) from None
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        after = hostport.partition("]")[2]
    else:
        after = hostport[hostport.find(":"):] if ":" in hostport else ""
    if after and not (after[0] == ":" and (after == ":" or after[1:].isascii()
                                            and after[1:].isdigit())):
        raise error(f"{_printable(url)}: not a valid URL (junk after the host)")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise error(f"{_printable(url)}: want an http:// or https:// URL")
    host = parts.hostname or ""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise error(f"{_printable(url)}: not a valid URL (bad IPv6 address)") from None
        name = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii") if not host.isascii() else host
        except UnicodeError:
            host = ""
        if not _HOST_NAME.fullmatch(host):
            raise error(f"{_printable(url)}: not a valid URL (no valid host name)")
        name = host
    if port == 0:
        raise error(f"{_printable(url)}: not a valid URL (port 0)")
    target = urllib.parse.quote(parts.path or "/", safe="/%!$&'()*+,;=:@-._~")
    if parts.query:
        target += "?" + urllib.parse.quote(parts.query, safe="/?%!$&'()*+,;=:@-._~")
    return _Url(scheme == "https", host, port or (443 if scheme == "https" else 80), target,
                name if port is None else f"{name}:{port}")


def _printable(text: str, limit: int = 200) -> str:
    """``text`` for a one-line message: control characters escaped, at most ``limit`` chars."""
    out = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                  for c in text[:limit])
    return out + ("..." if len(text) > limit else "")


class TileReader:
    """Reads a tlog-tiles tree from a directory, a ``file://`` URL or an ``http(s)://`` prefix.

    Every resource is capped: a checkpoint at :data:`~ledger.note.MAX_NOTE_SIZE` bytes, a tile at
    ``32 * width``, a bundle at ``width * (2 + 65535)``; an HTTP request must be done within
    ``timeout`` seconds (one deadline for connecting, the status line, headers and body; the
    status lines and headers at most :data:`MAX_HEAD_BYTES`), and responses may be
    gzip-encoded. A malformed URL is a :class:`~ledger.errors.UsageError` at once.
    Raises :class:`~ledger.errors.EncodingError` for
    a truncated or oversize resource, :class:`~ledger.errors.NotFoundError` for a missing one
    (a 404), :class:`~ledger.errors.NotRegularFileError` for a local "file" that is a FIFO, a
    device or a directory (refused at once: local files are read with
    :func:`ledger.files.read_regular`), and :class:`~ledger.errors.FetchError` for other I/O
    and network failures.
    The checkpoint is fetched once and then kept, so every check uses the same one.
    """

    def __init__(self, source: str | os.PathLike[str], *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        text = os.fspath(source)
        scheme = text.partition("://")[0].lower() if "://" in text else ""
        self.timeout = timeout
        self.base_url: str | None = None
        self.base_dir: Path | None = None
        if scheme in ("http", "https"):
            _split_url(text, UsageError)  # a malformed URL: the caller's mistake
            self.base_url = text.rstrip("/") + "/"
            self._tls: ssl.SSLContext | None = None
        elif scheme == "file":
            self.base_dir = Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
        elif scheme:
            raise UsageError(f"{text}: want a directory or an http:// or https:// URL")
        else:
            self.base_dir = Path(text)
        self.source = text
        self._checkpoint: bytes | None = None

    def where(self, rel: str) -> str:
        """The full path or URL of ``rel``, for messages."""
        if self.base_url is not None:
            return self.base_url + rel
        assert self.base_dir is not None
        return str(self.base_dir / rel)

    def fetch(self, rel: str, limit: int) -> bytes:
        """Return the bytes of ``rel``; EncodingError if there are more than ``limit``."""
        data = self._get_url(rel, limit) if self.base_url is not None else self._get_file(rel, limit)
        if len(data) > limit:
            raise EncodingError(f"{self.where(rel)}: oversize: more than {limit} bytes")
        return data

    def _get_file(self, rel: str, limit: int) -> bytes:
        path = self.where(rel)
        try:
            return read_regular(path, limit, _what(rel))
        except OSError as exc:  # missing, not regular, oversize: read_regular's own errors
            raise FetchError(f"{path}: {(exc.strerror or str(exc)).lower()}") from None

    def _get_url(self, rel: str, limit: int) -> bytes:
        url = self.where(rel)
        raw_limit = limit + _gzip_slack(limit)
        try:
            encoding, raw = self._request(url, raw_limit)
        except TimeoutError:
            raise FetchError(f"GET {url}: timed out after {self.timeout:g} s") from None
        except _HeadTooLarge:
            raise FetchError(f"GET {url}: the response's status lines and headers run past "
                             f"{MAX_HEAD_BYTES} bytes") from None
        except HTTPException as exc:
            raise FetchError(f"GET {url}: bad HTTP response ({exc.__class__.__name__}: "
                             f"{_printable(str(exc))})") from None
        except OSError as exc:  # refused, reset, unreachable, DNS, TLS
            raise FetchError(f"GET {url}: {_printable(exc.strerror or str(exc))}") from None
        if encoding in ("identity", ""):
            return raw
        if encoding in ("gzip", "x-gzip"):
            if len(raw) > raw_limit:
                raise EncodingError(f"{url}: oversize: more than {raw_limit} gzip bytes")
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = d.decompress(raw, limit + 1)
            except zlib.error as exc:
                raise EncodingError(f"{url}: bad gzip encoding ({exc})") from None
            if len(out) <= limit and not d.eof:
                raise EncodingError(f"{url}: truncated gzip encoding")
            return out
        raise FetchError(f"GET {url}: unsupported Content-Encoding {_printable(encoding)!r}")

    def _request(self, url: str, raw_limit: int) -> tuple[str, bytes]:
        """GET ``url``, following up to :data:`MAX_REDIRECTS` redirects to http(s) URLs, all
        within one deadline of :attr:`timeout` seconds (connecting, sending, every status line,
        header and body byte); return the Content-Encoding and at most ``raw_limit + 1`` bytes
        of the body. Raises TimeoutError, _HeadTooLarge, HTTPException or OSError for the
        caller to name, and NotFoundError, FetchError or EncodingError itself."""
        deadline = time.monotonic() + self.timeout
        where = url
        for _ in range(MAX_REDIRECTS + 1):
            parts = _split_url(where, FetchError)
            sock = self._connect(parts, deadline)
            try:
                sock.settimeout(max(deadline - time.monotonic(), 1e-3))
                sock.sendall(f"GET {parts.target} HTTP/1.1\r\nHost: {parts.authority}\r\n"
                             "Accept-Encoding: gzip, identity\r\nUser-Agent: credledger-tiles\r\n"
                             "Connection: close\r\n\r\n".encode("ascii"))
                source = _Deadline(sock, deadline)
                resp = HTTPResponse(_Source(source), method="GET")  # type: ignore[arg-type]
                resp.begin()  # status lines and headers: at most MAX_HEAD_BYTES
                source.head_limit = None
                status = resp.status
                if status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                    location = resp.getheader("Location", "")
                    where = urllib.parse.urljoin(where, location.strip())
                    if urllib.parse.urlsplit(where).scheme.lower() not in ("http", "https"):
                        raise FetchError(f"GET {url}: redirect to a non-HTTP URL "
                                         f"{_printable(location)!r}")
                    continue
                if status in (404, 410):
                    raise NotFoundError(f"GET {url}: HTTP {status} (not found)")
                if not 200 <= status < 300:
                    raise FetchError(f"GET {url}: HTTP {status} {_printable(resp.reason or '')}"
                                     .rstrip())
                encoding = (resp.getheader("Content-Encoding") or "identity").strip().lower()
                if resp.length is not None and resp.length > raw_limit:
                    raise EncodingError(f"{url}: oversize: {resp.length} bytes declared, at "
                                        f"most {raw_limit} wanted")
                chunks: list[bytes] = []
                got = 0
                while got <= raw_limit:
                    block = resp.read(min(_READ_BLOCK, raw_limit + 1 - got))
                    if not block:
                        break
                    chunks.append(block)
                    got += len(block)
                return encoding, b"".join(chunks)
            finally:
                sock.close()
        raise FetchError(f"GET {url}: more than {MAX_REDIRECTS} redirects")

    def _connect(self, parts: _Url, deadline: float) -> socket.socket:
        """A connected (and for https, TLS-wrapped and verified) socket, within the deadline.
        (Name resolution has no timeout of its own: the system resolver's applies.)"""
        error: OSError = OSError(f"cannot resolve {parts.host}")
        for family, kind, proto, _, address in socket.getaddrinfo(
                parts.host, parts.port, type=socket.SOCK_STREAM):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(left)
                sock.connect(address)
                if parts.https:
                    if self._tls is None:
                        self._tls = ssl.create_default_context()
                    sock.settimeout(max(deadline - time.monotonic(), 1e-3))
                    sock = self._tls.wrap_socket(sock, server_hostname=parts.host)
                return sock
            except TimeoutError:
                sock.close()
                raise
            except OSError as exc:
                sock.close()
                error = exc
        raise error

    def checkpoint(self) -> bytes:
        """The checkpoint note's bytes (not yet verified), fetched once."""
        if self._checkpoint is None:
            self._checkpoint = self.fetch(CHECKPOINT_PATH, MAX_NOTE_SIZE)
        return self._checkpoint

    def tile(self, level: int, index: int, width: int = TILE_WIDTH) -> list[bytes]:
        """The hashes of tile ``(level, index, width)``; a missing partial tile is read from
        the full one, which a log may serve instead (c2sp.org/tlog-tiles, "Partial Tiles")."""
        rel = tile_path(level, index, width)
        try:
            return parse_tile(self.fetch(rel, width * _HASH), width, self.where(rel))
        except NotFoundError:
            if width == TILE_WIDTH:
                raise
        full = tile_path(level, index)
        return parse_tile(self.fetch(full, _FULL_TILE_BYTES), TILE_WIDTH, self.where(full))[:width]

    def entries(self, index: int, width: int = TILE_WIDTH) -> list[bytes]:
        """The entries of bundle ``(index, width)``, falling back to the full bundle like
        :meth:`tile`."""
        rel = bundle_path(index, width)
        limit = width * (2 + MAX_ENTRY_SIZE)
        try:
            return parse_bundle(self.fetch(rel, limit), width, self.where(rel))
        except NotFoundError:
            if width == TILE_WIDTH:
                raise
        full = bundle_path(index)
        data = self.fetch(full, TILE_WIDTH * (2 + MAX_ENTRY_SIZE))
        return parse_bundle(data, TILE_WIDTH, self.where(full))[:width]


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
                workers: int | None = 1) -> AuditReport:
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

    Every violation, including a truncated, oversize or missing tile or bundle, raises
    :class:`~ledger.audit.AuditError`. Network and I/O failures raise
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
    replayer = Replayer(None, want_roots=[s.size for s in saved])
    # The plan, lazily: a checkpoint may claim any size below 2**64 (item 7 of issue 19).
    partials = _partial_tiles(cp.size)

    def bundles() -> Iterator[tuple[int, int]]:  # (index, width), one iterator per call
        yield from ((n, TILE_WIDTH) for n in range(cp.size >> TILE_HEIGHT))
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
                             itertools.chain(_full_tiles_in_order(cp.size), partials),
                             FETCH_THREADS)
        pending: dict[int, list[bytes]] = {}  # tile level -> hashes of its unfinished tile

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
                for entry in ahead_bundles.get(key):
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
    report.seconds = time.perf_counter() - start
    return report


def _audit_read(read: Callable[[int, int], list[bytes]], index: int, width: int, rule: str,
                first: int | None, where: str) -> list[bytes]:
    """Call ``read(index, width)``, turning a bad or missing resource into an AuditError."""
    try:
        return read(index, width)
    except EncodingError as exc:
        raise AuditError(first, rule, str(exc)) from None
    except NotFoundError as exc:
        raise AuditError(first, "missing", f"{where}: the checkpoint needs it ({exc})") from None
