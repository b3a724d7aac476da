"""Small file-system helpers shared by the store, the command line and the tile export."""

from __future__ import annotations

import os
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
