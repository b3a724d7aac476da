"""Static C2SP tlog-tiles (ledger.tiles): export, read back, audit, tamper, fork, CLI.

Exports are read back with a reader written here from c2sp.org/tlog-tiles alone (path
encoding, bundle framing, tile contents) and a slow recursive RFC 9162 §2.1.1 root, never with
ledger.tiles. Audits run from a directory and over HTTP from a local ``http.server``. Tamper
cases (a flipped bit, truncation, swapped entries, a missing tile, a fork from a saved
checkpoint) must each raise a VerificationError naming the problem, and exit 1 with one line on
stderr through the CLI. A single-entry log is tampered with at every bit of every file.

The ledgers are built with the Python API and an injected clock.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from statements import issue, named, register_achievement

from ledger.cli import cli
from ledger.errors import (
    AuditError,
    ConflictError,
    EncodingError,
    FetchError,
    NotFoundError,
    UsageError,
    VerificationError,
)
from ledger.events import REGISTER_ISSUER, make_statement, sign_statement
from ledger.log import Ledger
from ledger.note import Checkpoint, Signer, open_checkpoint, sign_checkpoint
from ledger.tileaudit import audit_tiles
from ledger.tilereader import TileReader
from ledger.tiles import bundle_path, export_tiles, tile_path, tiles_of

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in UTC milliseconds
ORIGIN = "tiles.example/log"
SIZES = [0, 1, 255, 256, 257, 600]


# ----------------------------------------------------------------------- the spec, independently


def spec_index(n: int) -> str:
    """<N> as c2sp.org/tlog-tiles says: zero-padded 3-digit elements, all but the last with x."""
    digits = str(n)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def spec_name(prefix: str, n: int, width: int) -> str:
    return f"tile/{prefix}/{spec_index(n)}" + ("" if width == 256 else f".p/{width}")


def spec_files(size: int) -> set[str]:
    """Every resource a fresh export of a tree of ``size`` leaves must hold, and nothing else."""
    names = {"checkpoint"}
    level, count = 0, size  # count: hashes at tree level 8 * level
    while count:
        for n in range(-(-count // 256)):
            width = min(256, count - 256 * n)
            names.add(spec_name(str(level), n, width))
            if level == 0:
                names.add(spec_name("entries", n, width))
        level, count = level + 1, count // 256
    return names


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle Tree Hash over leaf hashes, by its recursive definition."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def split_bundle(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 2], "big")
        assert pos + 2 + n <= len(data), "bundle ends inside an entry"
        out.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return out


def join_bundle(entries: list[bytes]) -> bytes:
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


def read_back(out: Path, log_key: Any) -> tuple[int, list[bytes]]:
    """Check an export the way a third-party tlog-tiles client would; return (size, leaves)."""
    cp = open_checkpoint((out / "checkpoint").read_bytes(), log_key)
    leaves: list[bytes] = []
    for n in range(-(-cp.size // 256)):
        width = min(256, cp.size - 256 * n)
        entries = split_bundle((out / spec_name("entries", n, width)).read_bytes())
        assert len(entries) == width
        hashes = [leaf(e) for e in entries]
        tile = (out / spec_name("0", n, width)).read_bytes()
        assert tile == b"".join(hashes), f"level-0 tile {n} does not hold the bundle's leaves"
        leaves.extend(hashes)
    assert mth(leaves) == cp.root
    # Level 1: each hash is the root of one full level-0 tile (256 leaves).
    full = cp.size // 256
    if full:
        n_tiles = -(-full // 256)
        for n in range(n_tiles):
            width = min(256, full - 256 * n)
            want = b"".join(mth(leaves[(n * 256 + i) * 256:(n * 256 + i + 1) * 256])
                            for i in range(width))
            assert (out / spec_name("1", n, width)).read_bytes() == want
    return cp.size, leaves


# ----------------------------------------------------------------------------------- ledgers


class World:
    """A ledger with one issuer, driven from tests."""

    def __init__(self, path: Path, *, ledger: Ledger | None = None,
                 uni: Signer | None = None) -> None:
        clock = itertools.count(T0, 1000)
        self.path = path
        if ledger is None:
            self.ledger, self.log_signer, self.registry = Ledger.create(
                path, ORIGIN, clock=lambda: next(clock))
        else:
            self.ledger = ledger
            self.log_signer, self.registry = ledger.log_signer(), ledger.registry_signer()
        self.times = itertools.count(T0 + 10**9 * (ledger is not None), 7)
        self.uni = uni or Signer.generate("uni")

    @property
    def log_key(self) -> Any:
        return self.log_signer.verifier()

    def grow(self, n: int, tag: str = "c") -> None:
        """Append ``n`` entries (on an empty log the first registers the issuer and the
        second its achievement); the issuances are entry format 2, each credential named by
        ``tag`` and its entry index, holding the entry index as its status index."""
        items = []
        if n and self.ledger.head().size == 0:
            st = make_statement(REGISTER_ISSUER, "uni", next(self.times), "Uni", "",
                                self.uni.public_key)
            items.append(sign_statement(st, self.registry.seed))
            if n > 1:
                items.append(sign_statement(register_achievement("uni", next(self.times)),
                                            self.uni.seed))
        start = self.ledger.head().size
        while len(items) < n:
            index = start + len(items)
            st = issue("uni", next(self.times), named(f"{tag}-{index}"), status_index=index)
            items.append(sign_statement(st, self.uni.seed))
        if items:
            self.ledger.append(items)

    def checkpoint_note(self) -> str:
        return self.ledger.checkpoint()


@dataclass
class Exported:
    w: World
    out: Path
    size: int


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Exported]]:
    """One ledger of each size in SIZES, checkpointed and exported."""
    done = {}
    for size in SIZES:
        base = tmp_path_factory.mktemp(f"size{size}")
        w = World(base / "store")
        w.grow(size)
        w.ledger.checkpoint()
        export_tiles(w.ledger, base / "tiles")
        done[size] = Exported(w, base / "tiles", size)
    yield done
    for e in done.values():
        e.w.ledger.close()


@pytest.fixture
def copy600(exported: dict[int, Exported], tmp_path: Path) -> Exported:
    """A private copy of the 600-entry export, to tamper with."""
    e = exported[600]
    out = tmp_path / "tiles"
    shutil.copytree(e.out, out)
    return Exported(e.w, out, e.size)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Gzip(_Quiet):
    """Serves every file gzip-encoded, with no negotiation (c2sp.org/tlog-tiles allows it)."""

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Stall(_Quiet):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x")
        self.wfile.flush()
        time.sleep(2)


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """serve(dir, handler=...) -> base URL of a local HTTP server for ``dir``."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(directory: Path, handler: type = _Quiet) -> str:
        httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(handler, directory=str(directory)))
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def audit_error(out: Path | str, w: World, **kw: Any) -> AuditError:
    with pytest.raises(AuditError) as info:
        audit_tiles(out, w.log_key, **kw)
    return info.value


# ----------------------------------------------------------------------------------- names


def test_paths_follow_the_spec() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"  # the spec's example
    assert tile_path(1, 0, 1) == "tile/1/000.p/1"
    assert tile_path(63, 1000, 255) == "tile/63/x001/000.p/255"
    assert bundle_path(5, 3) == "tile/entries/005.p/3"
    for n in [*range(0, 2100, 7), 999_999, 1_000_000, 2**40 + 3]:
        assert tile_path(2, n) == spec_name("2", n, 256)
        assert bundle_path(n, 9) == spec_name("entries", n, 9)
    for bad in [(-1, 0, 1), (64, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(UsageError):
            tile_path(*bad)


def test_tiles_of_matches_the_spec_examples() -> None:
    t = tiles_of(70_000)
    assert sum(1 for lv, _, w in t if lv == 0 and w == 256) == 273
    assert (0, 273, 112) in t and (1, 0, 256) in t and (1, 1, 17) in t and (2, 0, 1) in t
    assert len(t) == 273 + 1 + 1 + 1 + 1
    assert tiles_of(256) == [(0, 0, 256), (1, 0, 1)]
    assert tiles_of(0) == []
    for size in [*SIZES, 65_535, 65_536, 65_537, 20_000]:
        names = {tile_path(*x) for x in tiles_of(size)} | {bundle_path(i, w)
                                                          for lv, i, w in tiles_of(size) if lv == 0}
        assert names | {"checkpoint"} == spec_files(size)


# ----------------------------------------------------------------------------------- export


@pytest.mark.parametrize("size", SIZES)
def test_export_reads_back_with_independent_code(exported: dict[int, Exported], size: int) -> None:
    e = exported[size]
    files = {p.relative_to(e.out).as_posix() for p in e.out.rglob("*") if p.is_file()}
    assert files == spec_files(size)
    got_size, leaves = read_back(e.out, e.w.log_key)
    assert got_size == size
    assert (e.out / "checkpoint").read_text() == e.w.ledger.checkpoint_note()
    for i in (0, size // 2, size - 1) if size else ():
        assert leaves[i] == leaf(e.w.ledger.entry_bytes(i))


def test_export_without_a_checkpoint_says_what_to_run(tmp_path: Path) -> None:
    w = World(tmp_path / "store")
    w.grow(3)
    with pytest.raises(NotFoundError, match="credledger checkpoint"):
        export_tiles(w.ledger, tmp_path / "tiles")
    assert not (tmp_path / "tiles" / "checkpoint").exists()
    w.ledger.close()


def _stamp(out: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


def test_incremental_export_writes_only_what_is_new(tmp_path: Path) -> None:
    w = World(tmp_path / "store")
    out = tmp_path / "tiles"
    w.grow(255)
    w.ledger.checkpoint()
    first = export_tiles(w.ledger, out)
    assert set(first.written) == spec_files(255)
    assert first.files_written == len(spec_files(255))
    assert first.bytes_written == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    again = export_tiles(w.ledger, out)
    assert (again.files_written, again.bytes_written, again.written) == (0, 0, ())
    before = _stamp(out)

    w.grow(2)
    w.ledger.checkpoint()
    second = export_tiles(w.ledger, out)
    assert set(second.written) == {"checkpoint", "tile/0/000", "tile/entries/000",
                                   "tile/0/001.p/1", "tile/entries/001.p/1", "tile/1/000.p/1"}
    after = _stamp(out)
    assert after["tile/0/000.p/255"] == before["tile/0/000.p/255"]  # old partials may stay
    assert after["tile/entries/000.p/255"] == before["tile/entries/000.p/255"]
    read_back(out, w.log_key)
    saved = [(out / "checkpoint").read_text()]

    w.grow(343)
    w.ledger.checkpoint()
    third = export_tiles(w.ledger, out)
    assert "tile/0/000" not in third.written and "tile/entries/000" not in third.written
    assert _stamp(out)["tile/0/000"] == after["tile/0/000"]  # full tiles are never rewritten
    assert set(third.written) == {"checkpoint", "tile/0/001", "tile/entries/001",
                                  "tile/0/002.p/88", "tile/entries/002.p/88", "tile/1/000.p/2"}
    assert read_back(out, w.log_key)[0] == 600
    assert not [p for p in out.rglob("*.tmp")]
    report = audit_tiles(out, w.log_key, saved_checkpoints=saved + [w.ledger.checkpoint_note(255)])
    assert (report.size, report.checkpoints) == (600, 3)
    w.ledger.close()


def test_export_serves_partial_tiles_of_every_signed_size(tmp_path: Path) -> None:
    """c2sp.org/tlog-tiles: partial tiles for every tree size a checkpoint was signed for,
    even sizes that were never exported, so older proofs can be rebuilt from the tiles."""
    w = World(tmp_path / "store")
    out = tmp_path / "tiles"
    w.grow(100)
    w.ledger.checkpoint()  # size 100: never exported on its own
    w.grow(200)
    w.ledger.checkpoint()
    export_tiles(w.ledger, out)
    entries = [w.ledger.entry_bytes(i) for i in range(100)]
    bundle = (out / "tile/entries/000.p/100").read_bytes()  # uint16 big-endian length, entry
    assert bundle == b"".join(len(e).to_bytes(2, "big") + e for e in entries)
    tile = (out / "tile/0/000.p/100").read_bytes()  # the leaf hashes, 32 bytes each
    assert tile == b"".join(hashlib.sha256(b"\x00" + e).digest() for e in entries)
    assert (out / "tile/0/001.p/44").is_file()  # and the latest size's partial tiles
    report = audit_tiles(out, w.log_key, saved_checkpoints=[w.ledger.checkpoint_note(100)])
    assert report.size == 300
    w.ledger.close()


def test_export_refuses_to_overwrite_another_history(tmp_path: Path) -> None:
    a, b = _fork(tmp_path)
    a.grow(5, "a")
    a.ledger.checkpoint()
    b.grow(5, "b")
    b.ledger.checkpoint()
    out = tmp_path / "tiles"
    export_tiles(a.ledger, out)
    stamp = _stamp(out)
    with pytest.raises(ConflictError, match="another history"):
        export_tiles(b.ledger, out)
    other = World(tmp_path / "other")
    other.grow(1)
    other.ledger.checkpoint()
    with pytest.raises(ConflictError, match="not a checkpoint of this log"):
        export_tiles(other.ledger, out)
    assert _stamp(out) == stamp
    for w in (a, b, other):
        w.ledger.close()


def _fork(tmp_path: Path) -> tuple[World, World]:
    """Two ledgers with the same keys and the same first 300 entries, then different ones."""
    a = World(tmp_path / "a")
    a.grow(300)
    a.ledger.checkpoint()
    a.ledger.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    b = World(tmp_path / "b", ledger=Ledger.open(tmp_path / "b"), uni=a.uni)
    a = World(tmp_path / "a", ledger=Ledger.open(tmp_path / "a"), uni=a.uni)
    return a, b


# ----------------------------------------------------------------------------------- audit


@pytest.mark.parametrize("size", SIZES)
def test_audit_passes_from_a_directory(exported: dict[int, Exported], size: int) -> None:
    e = exported[size]
    report = audit_tiles(e.out, e.w.log_key)
    head = e.w.ledger.head()
    assert (report.size, report.root, report.state_root) == (head.size, head.root,
                                                              head.state_root)
    # Entry 0 registers the issuer, entry 1 its achievement; every other entry issues.
    assert report.credentials == max(size - 2, 0) and report.checkpoints == 1
    assert report.achievements == min(max(size - 1, 0), 1)


@pytest.mark.parametrize("size", [1, 256, 600])
def test_audit_passes_over_http(exported: dict[int, Exported], serve: Callable[..., str],
                                size: int) -> None:
    e = exported[size]
    report = audit_tiles(serve(e.out), e.w.log_key)
    assert (report.size, report.root) == (size, e.w.ledger.head().root)


def test_audit_reads_gzip_responses(exported: dict[int, Exported],
                                    serve: Callable[..., str]) -> None:
    e = exported[257]
    assert audit_tiles(serve(e.out, _Gzip), e.w.log_key).size == 257


def test_a_stalled_server_times_out(serve: Callable[..., str], tmp_path: Path) -> None:
    reader = TileReader(serve(tmp_path, _Stall), timeout=0.3)
    with pytest.raises(FetchError, match="(?i)timed out"):
        reader.checkpoint()


def test_missing_checkpoint_is_not_a_verification_failure(tmp_path: Path,
                                                          serve: Callable[..., str]) -> None:
    key = Signer.generate(ORIGIN).verifier()
    for source in (tmp_path, serve(tmp_path)):
        with pytest.raises(NotFoundError):
            audit_tiles(source, key)
    with pytest.raises(UsageError, match="http"):
        TileReader("ftp://example.org/log")


def test_partial_tiles_deleted_after_the_full_tile_exists_are_read_from_it(
        tmp_path: Path) -> None:
    """A log may delete a partial tile once the full one is there; a reader falls back."""
    w = World(tmp_path / "store")
    out = tmp_path / "tiles"
    w.grow(200)
    saved = w.checkpoint_note()
    export_tiles(w.ledger, out)
    w.grow(100)
    w.ledger.checkpoint()
    export_tiles(w.ledger, out)
    reader = TileReader(out)
    partial_tile = reader.tile(0, 0, 200)
    for rel in ("tile/0/000.p/200", "tile/entries/000.p/200"):
        (out / rel).unlink()
    assert TileReader(out).tile(0, 0, 200) == partial_tile
    assert len(TileReader(out).entries(0, 200)) == 200
    assert audit_tiles(out, w.log_key, saved_checkpoints=[saved]).checkpoints == 2
    w.ledger.close()


def test_reader_strictness() -> None:
    from ledger.tiles import parse_bundle, parse_tile

    assert parse_tile(bytes(64), 2) == [bytes(32)] * 2
    for bad in (bytes(63), bytes(65), b""):
        with pytest.raises(EncodingError):
            parse_tile(bad, 2)
    good = join_bundle([b"a", b"", b"ccc"])
    assert parse_bundle(good, 3) == [b"a", b"", b"ccc"]
    for bad, why in [(good[:-1], "truncated"), (good + b"\x00", "oversize"),
                     (good + b"\x00\x00", "oversize"), (good[:1], "truncated"),
                     (join_bundle([b"a", b""]), "truncated")]:
        with pytest.raises(EncodingError, match=why):
            parse_bundle(bad, 3)


# ----------------------------------------------------------------------------------- tamper


def test_flipped_bit_in_an_entry_bundle(copy600: Exported) -> None:
    path = copy600.out / "tile/entries/001"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    err = audit_error(copy600.out, copy600.w)
    assert err.index is not None and 256 <= err.index < 512


def test_truncated_tile(copy600: Exported) -> None:
    path = copy600.out / "tile/0/001"
    path.write_bytes(path.read_bytes()[:-1])
    err = audit_error(copy600.out, copy600.w)
    assert err.rule == "tile" and "truncated" in str(err) and "tile/0/001" in str(err)


def test_oversize_tile(copy600: Exported) -> None:
    path = copy600.out / "tile/1/000.p/2"
    path.write_bytes(path.read_bytes() + bytes(32))
    err = audit_error(copy600.out, copy600.w)
    assert err.rule == "tile" and "oversize" in str(err)



def promptly(fn: Callable[[], Any], seconds: float = 5.0) -> Any:
    """``fn()``, failing if it has not returned within ``seconds`` (the timer's signal
    interrupts a blocking open of a FIFO), so a regression fails instead of hanging."""
    import signal

    def expire(signum: int, frame: Any) -> None:
        raise AssertionError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

@pytest.mark.parametrize("rel", ["checkpoint", "tile/1/000.p/2", "tile/entries/001"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_a_local_file_that_is_not_regular_is_refused_at_once(copy600: Exported, rel: str,
                                                             kind: str) -> None:
    # A FIFO (a plain open waits for a writer for ever), a device (endless), a directory:
    # refused before reading, whether checkpoint, tile or bundle; not an audit verdict on the
    # log but an error about the copy. (Read here on this thread, where the timer can stop a
    # regression; the audit reads on its fetch threads: tests/test_cli.py runs that in a
    # child process with a time limit.)
    from ledger.errors import NotRegularFileError

    reader = TileReader(copy600.out)
    read = {"checkpoint": reader.checkpoint, "tile/1/000.p/2": lambda: reader.tile(1, 0, 2),
            "tile/entries/001": lambda: reader.entries(1)}[rel]
    path = copy600.out / rel
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    with pytest.raises(NotRegularFileError, match=f"{rel}: not a regular file"):
        promptly(read)


def test_export_refuses_a_published_checkpoint_that_is_not_a_regular_file(
        copy600: Exported) -> None:
    from ledger.errors import NotRegularFileError

    path = copy600.out / "checkpoint"
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(NotRegularFileError, match="not a regular file"):
        promptly(lambda: export_tiles(copy600.w.ledger, copy600.out))
    assert path.is_fifo()


def test_export_refuses_to_roll_the_published_log_back(tmp_path: Path) -> None:
    w = World(tmp_path / "store")
    w.grow(3)
    w.ledger.checkpoint()
    w.ledger.backup(tmp_path / "old")
    w.grow(2)
    w.ledger.checkpoint()
    export_tiles(w.ledger, tmp_path / "tiles")
    old = Ledger.open(tmp_path / "old")  # restored from an older backup, say
    with pytest.raises(ConflictError, match="roll the published log back"):
        export_tiles(old, tmp_path / "tiles")
    old.close()
    w.ledger.close()

def test_truncated_entry_bundle(copy600: Exported) -> None:
    path = copy600.out / "tile/entries/002.p/88"
    path.write_bytes(path.read_bytes()[:-5])
    err = audit_error(copy600.out, copy600.w)
    assert err.rule == "entry-bundle" and "truncated" in str(err) and err.index == 512


def test_swapped_entries_within_a_bundle(copy600: Exported) -> None:
    path = copy600.out / "tile/entries/000"
    entries = split_bundle(path.read_bytes())
    entries[10], entries[11] = entries[11], entries[10]
    path.write_bytes(join_bundle(entries))
    err = audit_error(copy600.out, copy600.w)
    assert (err.index, err.rule) == (10, "index")


def test_a_tile_that_disagrees_with_the_bundles(copy600: Exported) -> None:
    path = copy600.out / "tile/0/002.p/88"
    data = bytearray(path.read_bytes())
    data[32 * 7] ^= 1
    path.write_bytes(bytes(data))
    err = audit_error(copy600.out, copy600.w)
    assert (err.index, err.rule) == (512 + 7, "tile")


def test_missing_tile(copy600: Exported, serve: Callable[..., str]) -> None:
    (copy600.out / "tile/0/001").unlink()
    for source in (copy600.out, serve(copy600.out)):
        err = audit_error(source, copy600.w)
        assert err.rule == "missing" and "tile/0/001" in str(err)


def test_a_signed_checkpoint_whose_root_the_entries_do_not_give(copy600: Exported) -> None:
    """The log key signing a root its published entries and tiles do not produce."""
    w = copy600.w
    bogus = Checkpoint(ORIGIN, 600, hashlib.sha256(b"bogus").digest())
    (copy600.out / "checkpoint").write_text(sign_checkpoint(bogus, w.log_signer))
    err = audit_error(copy600.out, w)
    assert err.rule == "root" and "size 600" in str(err)


def test_checkpoint_signed_by_another_key(copy600: Exported) -> None:
    with pytest.raises(AuditError, match="checkpoint"):
        audit_tiles(copy600.out, Signer.generate(ORIGIN).verifier())


def test_a_log_that_forks_from_a_saved_checkpoint(tmp_path: Path,
                                                  serve: Callable[..., str]) -> None:
    a, b = _fork(tmp_path)
    a.grow(20, "a")
    saved_a = a.checkpoint_note()
    b.grow(30, "b")
    b.ledger.checkpoint()
    export_tiles(b.ledger, tmp_path / "tiles-b")
    # B's tiles are sound on their own, and extend the checkpoint both copies share...
    shared = a.ledger.checkpoint_note(300)
    assert audit_tiles(tmp_path / "tiles-b", b.log_key, saved_checkpoints=[shared]).size == 330
    # ...but not the one the auditor kept from A.
    for source in (tmp_path / "tiles-b", serve(tmp_path / "tiles-b")):
        err = audit_error(source, b, saved_checkpoints=[saved_a])
        assert err.rule == "fork" and "size 320" in str(err)
    # A checkpoint bigger than the log's is a rollback, found before any replay.
    a.grow(20, "a2")
    err = audit_error(tmp_path / "tiles-b", b, saved_checkpoints=[a.checkpoint_note()])
    assert err.rule == "fork" and "340" in str(err) and "rolled back" in str(err)
    with pytest.raises(AuditError, match="saved checkpoint 1"):
        audit_tiles(tmp_path / "tiles-b", b.log_key, saved_checkpoints=["not a note\n"])
    a.ledger.close()
    b.ledger.close()


class _Memory(TileReader):
    """A tile source in memory, so that thousands of tampered copies cost no disk writes."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__("memory")
        self.files = files

    def fetch(self, rel: str, limit: int) -> bytes:
        if rel not in self.files:
            raise NotFoundError(rel)
        data = self.files[rel]
        if len(data) > limit:
            raise EncodingError(f"{rel}: oversize")
        return data


def test_every_bit_flip_of_a_one_entry_log_fails(exported: dict[int, Exported]) -> None:
    e = exported[1]
    files = {rel: (e.out / rel).read_bytes() for rel in spec_files(1)}
    key = e.w.log_key
    assert audit_tiles(_Memory(dict(files)), key, workers=1).size == 1
    flips = 0
    for rel, data in files.items():
        for bit in range(len(data) * 8):
            bad = bytearray(data)
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(VerificationError):
                audit_tiles(_Memory({**files, rel: bytes(bad)}), key, workers=1)
            flips += 1
        with pytest.raises(VerificationError):  # and every file cut short by one byte
            audit_tiles(_Memory({**files, rel: data[:-1]}), key, workers=1)
    assert flips > 2000


# ----------------------------------------------------------------------------------- CLI


def _run(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def test_cli_export_and_audit_end_to_end(tmp_path: Path) -> None:
    store, out, saved = str(tmp_path / "store"), tmp_path / "tiles", tmp_path / "last.checkpoint"
    log_vkey = json.loads(_run("--dir", store, "init", "--origin", ORIGIN, "--json").stdout
                          )["log_vkey"]
    uni = json.loads(_run("key", "new", str(tmp_path / "uni.key"), "--json").stdout)["vkey"]
    _run("--dir", store, "issuer", "add", "uni", "--key", uni, "--name", "Uni")
    _run("--dir", store, "achievement", "add", "uni", "cs101", "--key", str(tmp_path / "uni.key"),
         "--name", "Course", "--description", "What it covers.", "--criteria", "Pass it.")
    _run("--dir", store, "export", "tiles", str(out), code=3)  # no checkpoint yet
    for n in range(3):
        _run("--dir", store, "issue", "uni", f"c{n}", "--key", str(tmp_path / "uni.key"),
             "--subject", f"learner {n}", "--achievement", "cs101",
             "--out", str(tmp_path / "creds"))
    _run("--dir", store, "checkpoint")
    done = json.loads(_run("--dir", store, "export", "tiles", str(out), "--json").stdout)
    assert done["size"] == 5 and done["files_written"] == 3
    assert read_back(out, _vkey(log_vkey))[0] == 5
    got = json.loads(_run("audit", "--tiles", str(out), "--log-key", log_vkey,
                          "--save-checkpoint", str(saved), "--json").stdout)
    assert (got["ok"], got["entries"], got["checkpoints"]) == (True, 5, 1)
    assert saved.read_text() == (out / "checkpoint").read_text()

    _run("--dir", store, "revoke", "uni", "c1", "--key", str(tmp_path / "uni.key"),
         "--out", str(tmp_path / "creds"))
    _run("--dir", store, "checkpoint")
    res = _run("--dir", store, "export", "tiles", str(out))
    assert "exported tree size 6" in res.stderr + res.stdout
    res = _run("audit", "--tiles", str(out), "--log-key", log_vkey, "--checkpoint", str(saved),
               "--save-checkpoint", str(saved))
    assert "audit OK" in res.output and "2 checkpoints" in res.output
    got = json.loads(_run("--dir", store, "audit", "--checkpoint", str(saved), "--json").stdout)
    assert got["entries"] == 6 and got["revocations"] == 1

    # Tampering: exit 1 and one line on stderr.
    bundle = out / "tile/entries/000.p/6"
    entries = split_bundle(bundle.read_bytes())
    bundle.write_bytes(join_bundle([entries[0], entries[2], entries[1], *entries[3:]]))
    res = _run("audit", "--tiles", str(out), "--log-key", log_vkey, code=1)
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("credledger: error: audit failed")
    assert "entry 1: index" in res.stderr
    bundle.write_bytes(join_bundle(entries))
    tile = out / "tile/0/000.p/6"
    tile.write_bytes(tile.read_bytes()[:-3])
    res = _run("audit", "--tiles", str(out), "--log-key", log_vkey, code=1)
    assert res.stderr.count("\n") == 1 and "truncated" in res.stderr


def _vkey(text: str) -> Any:
    from ledger.note import parse_verifier

    return parse_verifier(text)


def test_cli_usage_and_source_errors(tmp_path: Path) -> None:
    res = _run("audit", "--tiles", str(tmp_path), code=2)
    assert "--log-key" in res.stderr
    key = str(Signer.generate(ORIGIN).verifier())
    res = _run("audit", "--tiles", str(tmp_path / "nowhere"), "--log-key", key, code=3)
    assert res.stderr.count("\n") == 1 and "no such file" in res.stderr
    for command in (["audit"], ["export"], ["export", "tiles"]):
        assert "Example" in _run(*command, "--help").stdout


def test_cli_reports_a_fork_with_exit_1(tmp_path: Path) -> None:
    a, b = _fork(tmp_path)
    a.grow(5, "a")
    (tmp_path / "a.checkpoint").write_text(a.checkpoint_note())
    b.grow(5, "b")
    b.ledger.checkpoint()
    export_tiles(b.ledger, tmp_path / "tiles")
    res = _run("audit", "--tiles", str(tmp_path / "tiles"), "--log-key", str(b.log_key),
               "--checkpoint", str(tmp_path / "a.checkpoint"), code=1)
    assert "fork" in res.stderr and res.stderr.count("\n") == 1
    a.ledger.close()
    b.ledger.close()


@pytest.mark.skipif(not os.environ.get("CREDLEDGER_LONG"),
                    reason="opt-in: CREDLEDGER_LONG=1 (about 40 s)")
def test_full_level_1_tile(tmp_path: Path) -> None:
    """65,536 + 300 entries: a full level-1 tile and a level-2 partial, read back and audited."""
    w = World(tmp_path / "store")
    while w.ledger.head().size < 65_836:
        w.grow(min(10_000, 65_836 - w.ledger.head().size))
    w.ledger.checkpoint()
    export_tiles(w.ledger, tmp_path / "tiles")
    assert {"tile/1/000", "tile/2/000.p/1"} <= {
        p.relative_to(tmp_path / "tiles").as_posix() for p in (tmp_path / "tiles").rglob("*")}
    read_back(tmp_path / "tiles", w.log_key)
    assert audit_tiles(tmp_path / "tiles", w.log_key).size == 65_836
    w.ledger.close()
