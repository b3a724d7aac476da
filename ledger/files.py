"""Files: the one atomic-write helper, fsync of a path, and the one reader of outside files.

Every file the ledger writes (key files aside, which are created once and never replaced: see
``ledger.keys``) goes through :func:`write_atomic`: holder documents, tiles, checkpoints,
witness state and the ``-o`` outputs of the command line. Files that come from outside (a
checkpoint or proof handed to the witness, a tile directory being audited, the witness's own
state) are read with :func:`read_regular`, which never hangs on a FIFO and never reads without
a limit. docs/SECURITY.md §"Files" says what both guarantee.
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import BinaryIO

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
