"""Files: the one atomic-write helper, fsync of a path, and the one reader of outside files.

Every file the ledger writes (key files aside, which are created once and never replaced: see
``ledger.keys``) goes through :func:`write_atomic` (tiles, checkpoints, witness state and the
``-o`` outputs of the command line) or, for a batch's holder documents, thousands made durable
at once, through :class:`FileBatch`. Files that come from outside (a
checkpoint or proof handed to the witness, a tile directory being audited, the witness's own
state) are read with :func:`read_regular`, which never hangs on a FIFO and never reads without
a limit. docs/SECURITY.md §"Files" says what both guarantee.
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import BinaryIO, Self

from ledger.errors import EncodingError, NotFoundError, NotRegularFileError

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"))


def _not_regular(path: str, mode: int, what: str) -> NotRegularFileError:
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    return NotRegularFileError(f"{path}: not a regular file ({kind}); refusing to read it as "
                               f"{what}")


def open_regular(path: str | os.PathLike[str], what: str) -> BinaryIO:
    """Open the regular file ``path`` for reading (binary), or refuse it at once.

    For files that come from outside, whoever made them. ``what`` names what the file should
    be (``"a checkpoint"``), for the messages. Raises

    - :class:`~ledger.errors.NotFoundError` if there is no such file;
    - :class:`~ledger.errors.NotRegularFileError` at once, before reading a byte, for a FIFO
      (opened with ``O_NONBLOCK``, so a FIFO without a writer cannot hang the open), a device,
      a socket or a directory, or a symbolic link to one: the type is checked before the open
      and again on the open descriptor (``fstat``), so a file swapped in between is caught;
    - ``OSError`` for anything else (permission denied, an I/O error): callers turn it into
      their own error.

    The caller bounds what it reads (:func:`read_regular` reads a whole file up to a limit).
    """
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"{p}: no such file") from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(p, st.st_mode, what)
    flags = (os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(p, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"{p}: no such file") from None
    except OSError as exc:
        if exc.errno in (getattr(os, "ENXIO", None), getattr(os, "EOPNOTSUPP", None)):
            # a socket (or a FIFO with O_NONBLOCK on some systems) swapped in after the stat
            raise NotRegularFileError(f"{p}: not a regular file; refusing to read it as "
                                      f"{what}") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(p, st.st_mode, what)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """Return the bytes of the regular file ``path`` (:func:`open_regular`), at most ``limit``
    of them: a larger file raises :class:`~ledger.errors.EncodingError` (at most ``limit + 1``
    bytes are read to tell)."""
    with open_regular(path, what) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise EncodingError(f"{os.fspath(path)}: oversize: more than {limit} bytes; not {what}")
    return data


def fsync_path(path: str | os.PathLike[str]) -> None:
    """fsync a file or a directory (a directory's: so that the names in it are durable)."""
    flags = os.O_RDONLY
    if os.path.isdir(path):
        flags |= getattr(os, "O_DIRECTORY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644,
                 sync: bool = True, sync_dir: bool = True, exclusive: bool = False) -> None:
    """Write ``path`` so that readers see the old file or the whole new one, never a part.

    1. The bytes go to a new file in ``path``'s directory, created exclusively (``O_EXCL``:
       never through a planted link or over another file) under a name nobody can predict
       (:func:`tempfile.mkstemp`), with mode 0600 from its creation, then ``mode``.
    2. It is fsynced and renamed over ``path`` (a link at ``path`` is replaced, never
       followed); with ``sync_dir`` the directory is fsynced too, so the rename is durable
       when this returns. (``sync=False``: no fsync of the file; a caller writing many files
       makes them durable at once, with ``os.sync``.) With ``exclusive`` it is hard-linked to
       ``path`` instead, which must not exist (FileExistsError): a key file is never replaced.

    On failure the temporary file is removed and ``path`` is untouched.
    """
    import tempfile  # here: the verifier reads files through this module and writes none

    p = os.fspath(path)
    directory, name = os.path.split(p)
    fd, tmp = tempfile.mkstemp(dir=directory or ".", prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if mode != 0o600:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, p, follow_symlinks=False)
            os.unlink(tmp)
        else:
            os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_path(directory or ".")


class FileBatch:
    """Many new files in one directory, each appearing under its name whole or not at all, made
    durable together by one :meth:`sync` (holder documents: thousands a batch).

    :meth:`write` creates the file unnamed (Linux's ``O_TMPFILE``, mode 0600 from its
    creation), writes it, and only then gives it its name (``linkat`` of the open file), so a
    reader, or a crash, sees the whole file or no file, never a part, with one operation on the
    directory instead of two; nothing is fsynced. Where the name is taken (a file, or a link,
    which is replaced and never followed), or where the system has no ``O_TMPFILE`` or no
    ``/proc/self/fd``, the file goes through a temporary name beside it, created exclusively
    under an unpredictable name, then renamed over the target (:func:`write_atomic` without
    its fsyncs). :meth:`sync` then makes every file and name of the batch durable at once:
    ``syncfs`` of the directory's file system (``os.sync`` where there is none), then an
    fsync of the directory. A crash before it returns may leave some files missing or, after
    a power loss, empty: the caller keeps what it needs to write them again until then
    (``ledger.issuance``: the pending file). benchmarks/README.md, "Speed as the user sees it",
    has the measurements.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)
        self._fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
                           | getattr(os, "O_CLOEXEC", 0))
        self._unnamed = hasattr(os, "O_TMPFILE")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def write(self, name: str, data: bytes, *, mode: int = 0o600) -> None:
        """Write ``data`` to ``name`` in the directory (replacing a file there), mode ``mode``;
        not yet durable (:meth:`sync`)."""
        if self._unnamed:
            try:
                fd = os.open(".", os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, 0o600,
                             dir_fd=self._fd)
            except OSError:  # a file system or kernel without O_TMPFILE: names from now on
                self._unnamed = False
            else:
                try:
                    _write_all(fd, data, mode)  # an error here is raised: the file is dropped
                    try:
                        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=self._fd,
                                follow_symlinks=True)
                        return
                    except FileExistsError:
                        pass  # replaced below, through a temporary name
                    except OSError:  # no /proc (or linking it refused): names from now on;
                        self._unnamed = False  # a real fault (a full disk) recurs below
                finally:
                    os.close(fd)
        self._replace(name, data, mode)

    def _replace(self, name: str, data: bytes, mode: int) -> None:
        import secrets  # here: the verifier imports this module and writes nothing

        tmp = f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=self._fd)
        try:
            try:
                _write_all(fd, data, mode)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self._fd)
            raise

    def sync(self) -> None:
        """Make every file written so far, and its name, durable."""
        syncfs(self._fd)
        os.fsync(self._fd)


def _write_all(fd: int, data: bytes, mode: int) -> None:
    if mode != 0o600:
        os.fchmod(fd, mode)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def syncfs(fd: int) -> None:
    """Flush the file system that holds the open file ``fd`` to disk: every file and name
    written to it (Linux ``syncfs``); ``os.sync``, all of them, where there is no syncfs.
    On Linux before 5.8, syncfs returns 0 even when writeback failed (an EIO, say): there,
    such an error goes unreported."""
    import ctypes  # here: the verifier imports this module and writes nothing

    try:
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    if call(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
