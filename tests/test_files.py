"""ledger.files.read_regular: the one reader of files that come from outside.

A FIFO, a device, a socket or a directory (or a link to one) is refused at once, before a byte
is read; a file bigger than the limit is refused after reading one byte more than it. Every
check runs under a timer (:func:`promptly`), so a regression that blocks on a FIFO fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ledger.errors import EncodingError, NotFoundError, NotRegularFileError
from ledger.files import FileBatch, read_regular, write_atomic

T = TypeVar("T")


class TookTooLong(Exception):
    pass


def promptly(fn: Callable[[], T], seconds: float = 5.0) -> T:
    """``fn()``, or TookTooLong if it has not returned within ``seconds`` (a blocking open of
    a FIFO is interrupted by the timer's signal)."""
    def expire(signum: int, frame: Any) -> None:
        raise TookTooLong(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
    except OSError as exc:  # a path too long for sun_path
        pytest.skip(f"cannot bind a unix socket here: {exc}")
    try:
        yield path
    finally:
        s.close()


def test_reads_a_regular_file_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular(path, 100, "a test file") == b"x" * 100
    assert read_regular(str(path), 1000, "a test file") == b"x" * 100
    with pytest.raises(EncodingError, match=r"oversize: more than 99 bytes; not a test file"):
        read_regular(path, 99, "a test file")
    path.write_bytes(b"")
    assert read_regular(path, 0, "a test file") == b""
    link = tmp_path / "link"
    link.symlink_to(path)  # a link to a regular file is followed
    assert read_regular(link, 10, "a test file") == b""


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        read_regular(tmp_path / "nope", 10, "a test file")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotFoundError):
        read_regular(tmp_path / "file" / "below", 10, "a test file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nope")
    with pytest.raises(NotFoundError):
        read_regular(tmp_path / "dangling", 10, "a test file")


@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo", "dev-zero", "link-to-dev-zero",
                                  "dev-null", "directory", "socket"])
def test_refuses_what_is_not_a_regular_file_at_once(tmp_path: Path, kind: str,
                                                    request: pytest.FixtureRequest) -> None:
    target: Path
    if "fifo" in kind:
        target = tmp_path / "fifo"
        os.mkfifo(target)  # no writer: a blocking open would wait for ever
    elif "dev-zero" in kind:
        target = Path("/dev/zero")  # endless: a read without a limit would never end
    elif kind == "dev-null":
        target = Path("/dev/null")
    elif kind == "directory":
        target = tmp_path / "dir"
        target.mkdir()
    else:
        target = request.getfixturevalue("unix_socket")
    path = target
    if kind.startswith("link-to-"):
        path = tmp_path / "link"
        path.symlink_to(target)
    with pytest.raises(NotRegularFileError, match="not a regular file") as info:
        promptly(lambda: read_regular(path, 1 << 20, "a checkpoint"))
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "a checkpoint" in message


def test_a_fifo_swapped_in_after_the_check_is_refused_on_the_descriptor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The path is a regular file when it is stat'ed and a FIFO when it is opened: the fstat
    # of the open descriptor refuses it (and O_NONBLOCK kept the open from waiting).
    path = tmp_path / "f"
    path.write_bytes(b"ok")
    real_open = os.open

    def swap_then_open(p: Any, flags: int, *args: Any) -> int:
        if os.fspath(p) == str(path):
            path.unlink()
            os.mkfifo(path)
        return real_open(p, flags, *args)

    monkeypatch.setattr(os, "open", swap_then_open)
    with pytest.raises(NotRegularFileError, match=r"not a regular file \(a FIFO\)"):
        promptly(lambda: read_regular(path, 10, "a test file"))


def test_write_atomic_then_read_regular(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_atomic(path, b"secret", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_regular(path, 6, "a test file") == b"secret"


# ------------------------------------------------------------------ FileBatch (holder documents)


@pytest.fixture(params=["unnamed", "temporary name"])
def batch_dir(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory for a FileBatch, on both of its paths: O_TMPFILE + link, and (a system
    without O_TMPFILE) a temporary name renamed over the target."""
    if request.param == "temporary name":
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    d = tmp_path / "docs"
    d.mkdir()
    return d


def _names(d: Path) -> list[str]:
    return sorted(os.listdir(d))


def test_file_batch_writes_whole_files_mode_0600_and_syncs(batch_dir: Path) -> None:
    with FileBatch(batch_dir) as batch:
        for i in range(50):
            batch.write(f"c-{i}.json", f"document {i}\n".encode() * 100)
        batch.write("public.txt", b"hello", mode=0o644)
        batch.sync()
    assert _names(batch_dir) == sorted([f"c-{i}.json" for i in range(50)] + ["public.txt"])
    for i in range(50):
        p = batch_dir / f"c-{i}.json"
        assert p.read_bytes() == f"document {i}\n".encode() * 100
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE((batch_dir / "public.txt").stat().st_mode) == 0o644


def test_file_batch_replaces_a_file_and_never_follows_a_planted_link(batch_dir: Path,
                                                                     tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (batch_dir / "link.json").symlink_to(outside)
    (batch_dir / "old.json").write_text("an empty document, after a power loss, say")
    with FileBatch(batch_dir) as batch:
        batch.write("link.json", b"new")
        batch.write("old.json", b"new too")
        batch.sync()
    assert outside.read_text() == "keep me"
    assert not (batch_dir / "link.json").is_symlink()
    assert (batch_dir / "link.json").read_bytes() == b"new"
    assert (batch_dir / "old.json").read_bytes() == b"new too"
    assert _names(batch_dir) == ["link.json", "old.json"]  # no temporary file left


@pytest.mark.parametrize("target", ["new", "existing"])
def test_a_write_that_fails_halfway_leaves_no_part_of_the_file(
        batch_dir: Path, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """The disk fills (or an interrupt comes) after half the bytes: the name shows the old
    file or none, never the half, and no temporary file is left behind."""
    if target == "existing":
        (batch_dir / "c-1.json").write_bytes(b"the old one")
    real_write = os.write

    def half_then_fail(fd: int, data: Any) -> int:
        real_write(fd, bytes(data)[:len(data) // 2])
        raise OSError(28, "No space left on device")

    with FileBatch(batch_dir) as batch:
        batch.write("c-0.json", b"x" * 1000)
        monkeypatch.setattr(os, "write", half_then_fail)
        with pytest.raises(OSError, match="No space"):
            batch.write("c-1.json", b"y" * 1000)
        monkeypatch.setattr(os, "write", real_write)
    expected = ["c-0.json"] + (["c-1.json"] if target == "existing" else [])
    assert _names(batch_dir) == expected
    if target == "existing":
        assert (batch_dir / "c-1.json").read_bytes() == b"the old one"


def test_file_batch_without_proc_falls_back_to_temporary_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Linking the unnamed file needs /proc/self/fd: without it, temporary names."""
    real_link = os.link

    def no_proc(src: Any, dst: Any, **kwargs: Any) -> None:
        if str(src).startswith("/proc/self/fd/"):
            raise FileNotFoundError(2, "No such file or directory")
        real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", no_proc)
    with FileBatch(tmp_path) as batch:
        batch.write("a.json", b"a")
        batch.write("b.json", b"b")
        batch.sync()
    assert _names(tmp_path) == ["a.json", "b.json"]
    assert (tmp_path / "b.json").read_bytes() == b"b"
