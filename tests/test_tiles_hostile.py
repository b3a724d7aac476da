"""Hostile files, servers and races against the tiles (issue 19, items 4, 6 and 7).

- Two exports into one directory overlap, the older one slow: the published checkpoint is
  always the newest (processes, a barrier, a writer that takes no lock).
- Hostile HTTP servers (raw sockets on 127.0.0.1, ephemeral ports, bounded loops, stopped by
  the test): every request has one deadline and bounded headers; a malformed URL is a usage
  error.
- Hostile but signed trees (a checkpoint of size 2^40, entry bundles of maximum-size entries):
  the audit's peak memory, measured in a child process, stays under the bound written next
  to each case.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_tiles import World, read_back

from ledger.cli import cli
from ledger.errors import FetchError, UsageError
from ledger.log import Ledger
from ledger.note import Signer, open_checkpoint
from ledger.tilereader import TileReader
from ledger.tiles import export_tiles

ROOT = Path(__file__).resolve().parent.parent


def _wait_for(done: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {seconds} s for {what}")
        time.sleep(0.01)


# ------------------------------------------------------------- 4. a checkpoint never goes back

# An export in a child process. Before its first tile it touches STARTED and waits (at most
# 30 s) for GO; before taking any flock it touches WAITING (so the test knows it is blocked on
# the other export's lock rather than done). Exit 0 with the size, or 3 with the conflict.
_EXPORT = r"""
import fcntl, os, sys, time
from pathlib import Path
import ledger.tiles as tiles
from ledger.errors import ConflictError
from ledger.log import Ledger

store, out, started, go, waiting = sys.argv[1:6]
real_flock, real_put = fcntl.flock, tiles._Writer.put

def flock(fd, op):
    Path(waiting).touch()
    return real_flock(fd, op)

def put(self, rel, data):
    if rel != "checkpoint" and started != "-" and not os.path.exists(started):
        Path(started).touch()
        deadline = time.monotonic() + 30
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.01)
    return real_put(self, rel, data)

fcntl.flock, tiles._Writer.put = flock, put
with Ledger.open(store) as ledger:
    try:
        print("exported", tiles.export_tiles(ledger, out).size)
    except ConflictError as exc:
        print(exc)
        sys.exit(3)
"""


def _export(tmp_path: Path, store: Path, out: Path, tag: str, *,
            slow: bool) -> tuple[subprocess.Popen[str], Path, Path, Path]:
    started, go, waiting = (tmp_path / f"{tag}.{name}" for name in ("started", "go", "waiting"))
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXPORT, str(store), str(out), str(started) if slow else "-",
         str(go), str(waiting)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, started, go, waiting


def _older_and_newer(tmp_path: Path) -> tuple[Path, Path, World]:
    """A store with checkpoints of size 300 and 600, and a backup of it at size 300."""
    w = World(tmp_path / "new")
    w.grow(300)
    w.ledger.checkpoint()
    w.ledger.backup(tmp_path / "old")
    w.grow(300)
    w.ledger.checkpoint()
    return tmp_path / "old", tmp_path / "new", w


def _published_size(out: Path, w: World) -> int:
    return open_checkpoint((out / "checkpoint").read_bytes(), w.log_key).size


def test_overlapping_exports_never_publish_the_older_checkpoint(tmp_path: Path) -> None:
    # The older export (a store restored from a backup at size 300) starts first and stalls
    # before its first tile; the newer one (size 600) runs meanwhile. Before the lock, the
    # newer one finished, then the older one wrote its checkpoint over it: size 300 published
    # after 600, and an auditor holding 600 reported the honest log as a fork. Now the newer
    # one waits for the directory's lock and publishes after.
    old, new, w = _older_and_newer(tmp_path)
    w.ledger.close()
    out = tmp_path / "tiles"
    slow, started, go, _ = _export(tmp_path, old, out, "old", slow=True)
    fast = None
    try:
        _wait_for(started.exists, 30, "the older export to start")
        fast, _, _, waiting = _export(tmp_path, new, out, "new", slow=False)
        # The newer export either finished (no lock) or is blocked on the older one's lock.
        _wait_for(lambda: fast.poll() is not None or waiting.exists(), 30, "the newer export")
        time.sleep(0.2)  # (blocked in flock by now, or done)
        go.touch()
        out_slow, _ = slow.communicate(timeout=60)
        out_fast, _ = fast.communicate(timeout=60)
    finally:
        for p in (slow, fast):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert (slow.returncode, fast.returncode) == (0, 0), (out_slow, out_fast)
    w = World(new, ledger=Ledger.open(new))
    assert _published_size(out, w) == 600, "the older export's checkpoint replaced the newer one"
    assert read_back(out, w.log_key)[0] == 600
    w.ledger.close()


def test_a_newer_checkpoint_published_meanwhile_without_the_lock_is_kept(tmp_path: Path) -> None:
    # Another writer that takes no lock (rsync, an older credledger) publishes size 600 while
    # the export of size 300 is under way: the export re-reads the checkpoint right before
    # replacing it, and refuses to roll the published log back (exit 3); 600 stays.
    old, _, w = _older_and_newer(tmp_path)
    staged, out = tmp_path / "staged", tmp_path / "tiles"
    export_tiles(w.ledger, staged)
    slow, started, go, _ = _export(tmp_path, old, out, "old", slow=True)
    try:
        _wait_for(started.exists, 30, "the older export to start")
        for src in sorted(staged.rglob("*")):  # tiles first, the checkpoint last
            if src.is_file() and src.name != "checkpoint":
                (out / src.relative_to(staged)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out / src.relative_to(staged))
        shutil.copyfile(staged / "checkpoint", out / "checkpoint.new")
        os.replace(out / "checkpoint.new", out / "checkpoint")
        go.touch()
        output, _ = slow.communicate(timeout=60)
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    assert slow.returncode == 3 and "roll the published log back" in output, output
    assert _published_size(out, w) == 600
    assert read_back(out, w.log_key)[0] == 600
    w.ledger.close()


def test_the_same_tree_is_replaced_only_by_a_note_with_more_signatures(tmp_path: Path) -> None:

    from ledger.witness import WitnessKey, add_cosignature

    witnesses = {name: WitnessKey.generate(name) for name in ("a.example", "b.example")}

    def cosigned(note: str, name: str) -> str:  # the note with one witness's cosignature
        return add_cosignature(note, witnesses[name], 1_767_225_600)

    w = World(tmp_path / "store")
    w.grow(5)
    note = w.ledger.checkpoint()
    out = tmp_path / "tiles"
    export_tiles(w.ledger, out)
    # New cosignatures on the stored checkpoint: the same tree, re-published with them.
    richer = w.ledger.add_cosignatures(cosigned(note, "a.example"),
                                       [witnesses["a.example"].verifier()])
    report = export_tiles(w.ledger, out)
    assert "checkpoint" in report.written and report.checkpoint_kept is None
    assert (out / "checkpoint").read_text() == richer
    # The directory's checkpoint has a signature the store's lacks (another export with
    # another cosignature): kept, and the report says so.
    other = cosigned(note, "b.example")
    (out / "checkpoint").write_text(other)
    report = export_tiles(w.ledger, out)
    assert "checkpoint" not in report.written
    assert report.checkpoint_kept and "lacks" in report.checkpoint_kept
    assert (out / "checkpoint").read_text() == other
    w.ledger.close()


# ------------------------------------------------------------- 6. a deadline on every request

DEADLINE = 1.5  # TileReader(timeout=...): the whole request
MARGIN = 1.0  # what a refusal may take beyond it
SERVER_LIMIT = 10.0  # every hostile server gives up after this (the old reader took as long)


class _RawServer:
    """A TCP server on 127.0.0.1 (an ephemeral port) that reads a request and then runs
    ``behaviour(conn, stopped)`` on its own thread: raw bytes, no HTTP library. Its loops are
    bounded (SERVER_LIMIT) and end when the test stops the server."""

    def __init__(self, behaviour: Callable[[socket.socket, threading.Event], None]) -> None:
        self.behaviour = behaviour
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self._start(self._serve)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(t)
        t.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the 50 ms timeout, or closed by stop()
                continue
            self._start(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    block = conn.recv(4096)
                    if not block:
                        return
                    request += block
                self.behaviour(conn, self.stopped)
            except OSError:  # the client gave up: what it should do
                pass

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()
        for t in self.threads:
            t.join(timeout=5)


def _for_a_while(stopped: threading.Event, every: float) -> Iterator[int]:
    """Up to SERVER_LIMIT seconds of ticks ``every`` seconds apart, until the test stops."""
    for n in range(int(SERVER_LIMIT / every)):
        if stopped.is_set():
            return
        yield n
        stopped.wait(every)


def _trickle(conn: socket.socket, stopped: threading.Event) -> None:
    # A whole, honest-looking response, one byte every 0.2 s: every recv gets its byte in time.
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    for n in _for_a_while(stopped, 0.2):
        conn.sendall(data[n:n + 1])


def _endless_continue(conn: socket.socket, stopped: threading.Event) -> None:
    for _ in _for_a_while(stopped, 0.01):
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 100)


def _header_every_second(conn: socket.socket, stopped: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for n in _for_a_while(stopped, 1.0):
        conn.sendall(f"X-Header-{n}: {n}\r\n".encode())


@pytest.mark.parametrize(("behaviour", "says"), [
    (_trickle, "timed out"), (_endless_continue, "headers"), (_header_every_second, "timed out"),
], ids=["trickle-1-byte-per-0.2s", "endless-100-continue", "one-header-per-second"])
def test_a_hostile_server_is_refused_within_the_deadline(
        behaviour: Callable[[socket.socket, threading.Event], None], says: str) -> None:
    server = _RawServer(behaviour)
    try:
        reader = TileReader(server.url, timeout=DEADLINE)
        start = time.monotonic()
        with pytest.raises(FetchError) as info:
            reader.checkpoint()
        took = time.monotonic() - start
    finally:
        server.stop()
    message = str(info.value)
    assert took < DEADLINE + MARGIN, f"refused after {took:.1f} s ({message})"
    assert "\n" not in message and reader.where("checkpoint") in message and says in message


@pytest.mark.parametrize("url", ["http://[::1", "http://host:notaport/", "http://[::1]x/",
                                 "http://:80/", "https://host:99999/", "http://ho st/"])
def test_a_malformed_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="not a valid URL"):
        TileReader(url)
    key = str(Signer.generate("tiles.example/log").verifier())
    result = CliRunner().invoke(cli, ["audit", "--tiles", url, "--log-key", key])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.count("\n") == 1 and "not a valid URL" in result.stderr
    assert "internal error" not in result.stderr


def _answer(response: bytes) -> Callable[[socket.socket, threading.Event], None]:
    def behaviour(conn: socket.socket, stopped: threading.Event) -> None:
        conn.sendall(response)
    return behaviour


def test_redirects_status_and_size_over_raw_http() -> None:
    """What the reader kept from urllib: redirects to http(s) only, and not for ever; 404 is
    NotFoundError, other statuses FetchError; plus a declared oversize body refused unread."""
    from ledger.errors import EncodingError, NotFoundError

    body = b"hello\n"
    ok = _RawServer(_answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)))
    hop = _RawServer(_answer(b"HTTP/1.1 302 Found\r\nLocation: " + ok.url.encode()
                             + b"\r\nContent-Length: 0\r\n\r\n"))
    to_file = _RawServer(_answer(b"HTTP/1.1 301 Moved\r\nLocation: file:///etc/passwd\r\n\r\n"))
    missing = _RawServer(_answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
    teapot = _RawServer(_answer(b"HTTP/1.1 418 \x1b[31mteapot\r\nContent-Length: 0\r\n\r\n"))
    huge = _RawServer(_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"))
    servers = [ok, hop, to_file, missing, teapot, huge]
    loop = _RawServer(_answer(b""))
    loop.behaviour = _answer(b"HTTP/1.1 307 Again\r\nLocation: " + loop.url.encode()
                             + b"x\r\nContent-Length: 0\r\n\r\n")
    servers.append(loop)
    try:
        assert TileReader(hop.url, timeout=DEADLINE).checkpoint() == body
        with pytest.raises(FetchError, match="non-HTTP"):
            TileReader(to_file.url, timeout=DEADLINE).checkpoint()
        with pytest.raises(FetchError, match="redirects"):
            TileReader(loop.url, timeout=DEADLINE).checkpoint()
        with pytest.raises(NotFoundError, match="404"):
            TileReader(missing.url, timeout=DEADLINE).checkpoint()
        with pytest.raises(FetchError, match="HTTP 418") as info:
            TileReader(teapot.url, timeout=DEADLINE).checkpoint()
        assert "\x1b" not in str(info.value)
        with pytest.raises(EncodingError, match="declared"):
            TileReader(huge.url, timeout=DEADLINE).checkpoint()
    finally:
        for server in servers:
            server.stop()


# ------------------------------------------------------- 7. memory bounded by declared limits

# The audit in a child process: address space capped (so a regression fails with MemoryError
# instead of taking the machine), its peak RSS (ru_maxrss) reported back with the outcome.
_AUDIT = r"""
import json, resource, sys, time
cap = int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from ledger.note import parse_verifier
from ledger.tileaudit import audit_tiles
from ledger.tilereader import TileReader
source, key, workers = sys.argv[1], parse_verifier(sys.argv[2]), int(sys.argv[3])
start = time.monotonic()
try:
    report = audit_tiles(TileReader(source), key, workers=workers)
    outcome = f"ok {report.size}"
except BaseException as exc:
    outcome = f"{exc.__class__.__name__}: {str(exc)[:300]}"
seconds = time.monotonic() - start
# VmHWM: this process image's peak RSS (ru_maxrss would count the parent's at the fork too).
with open("/proc/self/status") as f:
    peak_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_mb": peak_kb / 1024}))
"""

ADDRESS_SPACE = 2 << 30  # the child's RLIMIT_AS: a guard only; the bounds below are on RSS
MAX_BUNDLE = (2 + 0xFFFF) * 256  # the declared limit of an entry bundle: 16.8 MB


def _audit_in_child(source: str, key: object, workers: int = 2) -> dict[str, object]:
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}  # (glibc's arenas reserve address space)
    done = subprocess.run(
        [sys.executable, "-c", _AUDIT, source, str(key), str(workers), str(ADDRESS_SPACE)],
        capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


def _hostile_tree(tmp_path: Path, *, honest: int, size: int, bundles: int) -> tuple[Path, World]:
    """A log of ``honest`` entries (a multiple of 256) exported, then ``bundles`` full entry
    bundles of 256 entries of 65,535 bytes each (hard links to one file), and a checkpoint
    of ``size`` signed with the log's key."""
    from ledger.note import Checkpoint, sign_checkpoint
    from ledger.tiles import bundle_path

    w = World(tmp_path / "store")
    out = tmp_path / "tiles"
    w.grow(honest)
    w.ledger.checkpoint()
    export_tiles(w.ledger, out)
    big = tmp_path / "big-bundle"
    big.write_bytes((0xFFFF.to_bytes(2, "big") + b"\xa5" * 0xFFFF) * 256)
    assert big.stat().st_size == MAX_BUNDLE
    for n in range(honest // 256, honest // 256 + bundles):
        path = out / bundle_path(n)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(big, path)
    root = w.ledger.root_at(honest)
    (out / "checkpoint").write_text(sign_checkpoint(Checkpoint(w.ledger.origin, size, root),
                                                    w.log_signer))
    return out, w


@pytest.mark.parametrize("size", [2**40, 2**64 - 1])
def test_a_checkpoint_claiming_a_huge_tree_costs_no_memory_before_fetching(
        tmp_path: Path, size: int) -> None:
    # A checkpoint of size 2^40 signed by the operator over a log of 512 entries. The old
    # audit listed every tile first (2^32 level-0 tiles, sorted): 1.47 GB before fetching
    # anything, MemoryError under this child's address-space cap. Now the plan is lazy: the
    # audit replays the two bundles there are and stops at the first missing one.
    out, w = _hostile_tree(tmp_path, honest=512, size=size, bundles=0)
    got = _audit_in_child(str(out), w.log_key)
    assert got["outcome"].startswith("AuditError: audit failed: entry 512: missing"), got
    assert got["peak_mb"] < 80, got  # bound: 80 MB (measured ~35 MB, as an honest tiny audit)
    w.ledger.close()


@pytest.mark.parametrize("where", ["directory", "http"])
@pytest.mark.parametrize("honest", [0, 512], ids=["all-bundles-maximal", "maximal-after-honest"])
def test_bundles_of_maximum_size_entries_keep_memory_bounded(
        tmp_path: Path, honest: int, where: str) -> None:
    # Bundles of 256 entries of 65,535 bytes (16.8 MB each, the most a bundle may declare),
    # under a checkpoint of 64 bundles. The old audit gathered 2048 entries per chunk (134 MB)
    # and kept 2 * workers + 1 chunks in flight (1.07 GB with 2 workers, 2.6 GB with 8), plus 8
    # bundles fetched ahead. Now a chunk holds at most 1 MiB of entries, at most 4 bundles are
    # fetched ahead (one at a time once they are seen to be big). Bound: BUNDLES_AHEAD * 2 *
    # 16.8 MB being read + 16.8 MB being replayed + chunks in flight + 35 MB of interpreter
    # and libraries is some 200 MB; "maximal-after-honest" (512 honest entries first, so the
    # first 4 big bundles are all fetched at once) is the worst case, measured 145-165 MB.
    out, w = _hostile_tree(tmp_path, honest=honest, size=256 * 64, bundles=64 - honest // 256)
    httpd = None
    source = str(out)
    if where == "http":
        import functools
        import http.server

        from test_tiles import _Quiet

        httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        source = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        got = _audit_in_child(source, w.log_key, workers=4)
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
    assert got["outcome"].startswith(f"AuditError: audit failed: entry {honest}: encoding"), got
    assert got["peak_mb"] < 250, got  # bound: 250 MB (see above)
    w.ledger.close()
