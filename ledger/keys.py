"""Private key files: created with mode 0600, refused when group- or world-readable.

A key file holds one line, the signer key string of golang.org/x/mod/sumdb/note
(``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``), so the same file signs
checkpoints (the log key), issuer registrations (the registry key) or credentials (an issuer key).
Secrets never appear in messages: errors name the file, never its content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ledger.errors import KeyFileError, LedgerError
from ledger.note import Signer, parse_signer

MAX_KEY_FILE = 4096


def write_signer(path: str | os.PathLike[str], signer: Signer) -> None:
    """Create ``path`` (mode 0600, never overwriting) holding ``signer``'s key string."""
    write_key_text(path, str(signer))


def read_signer(path: str | os.PathLike[str]) -> Signer:
    """Read a key file, refusing unsafe permissions and anything that is not one key string."""
    text = read_key_text(path)
    try:
        return parse_signer(text)
    except LedgerError:
        raise KeyFileError(f"{path}: not a key file (want one PRIVATE+KEY+... line)") from None


def write_key_text(path: str | os.PathLike[str], text: str) -> None:
    """Create ``path`` with mode 0600 holding one secret line; never overwrite a file."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{p}: already exists; refusing to overwrite a key file") from None
    except OSError as exc:
        raise KeyFileError(f"{p}: cannot create key file ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (text + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_key_text(path: str | os.PathLike[str]) -> str:
    """Read a secret key file's one line, refusing group- or world-readable files."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyFileError(f"{p}: no such key file") from None
    except OSError as exc:
        raise KeyFileError(f"{p}: cannot read key file ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{p}: not a regular file")
        if st.st_mode & 0o077:
            raise KeyFileError(
                f"{p}: key file is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run 'chmod 600 {p}'"
            )
        data = os.read(fd, MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{p}: too large for a key file")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"{p}: not a key file (not ASCII text)") from None
