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
from ledger.files import read_regular, write_atomic

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
