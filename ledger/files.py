"""Writing files safely: the one atomic-write helper, and fsync of a path.

Every file the ledger writes (key files aside, which are created once and never replaced: see
``ledger.keys``) goes through :func:`write_atomic`: holder documents, tiles, checkpoints,
witness state and the ``-o`` outputs of the command line. docs/SECURITY.md §"Files" says what
it guarantees.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_path(path: str | os.PathLike[str]) -> None:
    """fsync a file or a directory (a directory's: so that the names in it are durable)."""
    flags = os.O_RDONLY
    if Path(path).is_dir():
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
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
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
        fsync_path(p.parent)
