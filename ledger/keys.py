"""Private key files: created with mode 0600, refused when group- or world-readable.

A key file holds one line, the signer key string of golang.org/x/mod/sumdb/note
(``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``), so the same file signs
checkpoints (the log key), issuer registrations (the registry key) or credentials (an issuer key).
Secrets never appear in messages: errors name the file, never its content.

Encrypted key files
-------------------

A key file may instead hold the key line encrypted under a passphrase. It is then one ASCII line
(ending in a single ``\\n``) of nine ``+``-separated fields::

    ENCRYPTED+KEY+scrypt-chacha20poly1305+<log2 N>+<r>+<p>+<salt>+<nonce>+<ciphertext>

``ENCRYPTED+KEY+``
    The fixed prefix that marks the file as encrypted (a plain file starts ``PRIVATE+KEY+``).
``scrypt-chacha20poly1305``
    The scheme: the key is derived with scrypt (RFC 7914) and the line sealed with
    ChaCha20-Poly1305 (RFC 8439). It is the only scheme; another name is refused.
``<log2 N>``, ``<r>``, ``<p>``
    The scrypt cost parameters in canonical decimal (no sign, no leading zeros): N = 2**log2 N
    is the CPU/memory cost, r the block size, p the parallelism. New files use
    :data:`SCRYPT_COST` (N = 2**15, r = 8, p = 1: 32 MiB, about 0.1 s). On read they are bounded
    (1 <= log2 N <= 20, 1 <= r <= 32, 1 <= p <= 16, memory 128*N*r <= :data:`MAX_SCRYPT_MEMORY`,
    work 128*N*r*p <= :data:`MAX_SCRYPT_WORK`) *before* any key derivation, so a hostile file
    cannot make a reader allocate gigabytes or spin for minutes.
``<salt>``
    The 16-byte random scrypt salt.
``<nonce>``
    The 12-byte random ChaCha20-Poly1305 nonce.
``<ciphertext>``
    ChaCha20-Poly1305 of the plain key line (ASCII, without its newline), followed by the
    16-byte Poly1305 tag.

Salt, nonce and ciphertext are unpadded URL-safe base64 (RFC 4648 §5; the alphabet has no ``+``,
so the line splits unambiguously), and only the canonical spelling is accepted. The AEAD key is
``scrypt(NFC(passphrase) as UTF-8, salt, N, r, p, dkLen=32)``, and the associated data is the
line up to and including the ``+`` before the ciphertext, so the prefix, scheme, cost, salt and
nonce are all authenticated: changing any byte of the file makes it unreadable.

Wrong passphrases and damaged files are indistinguishable by design and give one error,
``<path>: wrong passphrase or damaged key file``. Reading an encrypted file needs a passphrase:
the ``passphrase`` argument when it is a string, else the environment variable
:data:`PASSPHRASE_ENV` (``CREDLEDGER_PASSPHRASE``) when set and non-empty, else the
``passphrase`` argument when it is a callable (called with no arguments, only when the file is
encrypted and well formed: the CLI passes a prompt here), else the read fails. This module does
no terminal I/O. Plain files are read and written exactly as before, and any passphrase given
for a plain file is ignored (a callable is not called).
"""

from __future__ import annotations

import base64
import errno
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ledger.errors import KeyFileError, LedgerError
from ledger.files import write_atomic
from ledger.note import Signer, parse_signer

__all__ = [
    "ENCRYPTED_PREFIX",
    "MAX_KEY_FILE",
    "MAX_SCRYPT_MEMORY",
    "MAX_SCRYPT_WORK",
    "PASSPHRASE_ENV",
    "SCHEME",
    "SCRYPT_COST",
    "Passphrase",
    "ScryptCost",
    "is_encrypted",
    "read_key_text",
    "read_signer",
    "write_key_text",
    "write_signer",
]

MAX_KEY_FILE = 4096


class ScryptCost(NamedTuple):
    """scrypt cost parameters: N = 2**log_n, block size r, parallelism p."""

    log_n: int
    r: int
    p: int


SCRYPT_COST = ScryptCost(log_n=15, r=8, p=1)
"""The cost used for new encrypted key files (32 MiB of memory, about 0.1 s)."""

MAX_SCRYPT_MEMORY = 128 << 20
"""The most memory, 128*N*r bytes, an encrypted key file may ask scrypt for (4x the default)."""

MAX_SCRYPT_WORK = 1 << 29
"""The most work, 128*N*r*p, an encrypted key file may ask scrypt for (16x the default)."""

_MAX_LOG_N = 20
_MAX_R = 32
_MAX_P = 16

PASSPHRASE_ENV = "CREDLEDGER_PASSPHRASE"
"""The environment variable read for the passphrase of an encrypted key file."""

ENCRYPTED_PREFIX = "ENCRYPTED+KEY+"
KEY_FILE_PREFIXES = ("PRIVATE+KEY+", ENCRYPTED_PREFIX)
SCHEME = "scrypt-chacha20poly1305"

Passphrase = str | Callable[[], str] | None
"""What the read functions take: a passphrase, a zero-argument function returning one, or None."""

_SALT_SIZE = 16
_NONCE_SIZE = 12
_TAG_SIZE = 16
_FIELDS = 9
_DECIMAL = re.compile(r"[1-9][0-9]{0,2}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


# Public API.


def write_signer(path: str | os.PathLike[str], signer: Signer,
                 passphrase: str | None = None, *, cost: ScryptCost | None = None) -> None:
    """Create ``path`` (mode 0600, never overwriting) holding ``signer``'s key string,
    encrypted under ``passphrase`` when one is given."""
    write_key_text(path, str(signer), passphrase, cost=cost)


def read_signer(path: str | os.PathLike[str], passphrase: Passphrase = None) -> Signer:
    """Read a key file, refusing unsafe permissions and anything that is not one key string.

    An encrypted file is decrypted first; see the module docstring for where the passphrase
    comes from.
    """
    text = read_key_text(path, passphrase)
    try:
        return parse_signer(text)
    except LedgerError:
        raise KeyFileError(f"{path}: not a key file (want one PRIVATE+KEY+... line)") from None


def write_key_text(path: str | os.PathLike[str], text: str, passphrase: str | None = None,
                   *, cost: ScryptCost | None = None) -> None:
    """Create ``path`` with mode 0600 holding one secret line; never overwrite a file.

    With ``passphrase`` the line is encrypted (see the module docstring) with ``cost``, by
    default :data:`SCRYPT_COST`; without it the file is ``text`` and a newline, as always.
    The file and then its directory are synced before this returns.
    """
    p = Path(path)
    if "\n" in text or "\r" in text:
        raise KeyFileError(f"{p}: a key file holds one line; refusing a line break in the key")
    if not text.isascii():
        raise KeyFileError(f"{p}: a key file holds ASCII text; refusing a non-ASCII key")
    line = text if passphrase is None else _seal(p, text, passphrase, cost or SCRYPT_COST)
    data = (line + "\n").encode("ascii")
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{p}: key too long for a key file ({MAX_KEY_FILE} bytes at most)")
    write_key_bytes(p, data)


def write_key_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` with mode 0600 holding ``data`` (a key file's bytes, as they are: a
    backup copies encrypted files unchanged); never overwrite; sync the file and directory
    (``files.write_atomic``, exclusive)."""
    p = Path(path)
    try:
        write_atomic(p, data, mode=0o600, exclusive=True, sync_dir=False)
    except FileExistsError:
        raise KeyFileError(f"{p}: already exists; refusing to overwrite a key file") from None
    except OSError as exc:
        raise KeyFileError(f"{p}: cannot create key file ({exc.strerror})") from None
    _sync_directory(p)


def read_key_text(path: str | os.PathLike[str], passphrase: Passphrase = None) -> str:
    """Read a secret key file's one line, refusing group- or world-readable files.

    An encrypted file is decrypted and its plain line returned; the passphrase is ``passphrase``
    if it is a string, else ``$CREDLEDGER_PASSPHRASE`` if set and non-empty, else the result of
    calling ``passphrase`` if it is callable. A plain file is returned as it is and
    ``passphrase`` is ignored.
    """
    p = Path(path)
    data = _read_file(p)
    text = _decode(p, data)
    if not text.startswith(ENCRYPTED_PREFIX):
        return text
    return _open(p, data, passphrase)


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Say whether ``path`` is an encrypted key file (it may still be damaged).

    The file is checked like :func:`read_key_text` checks it (a regular file, mode 0600 or
    stricter, at most :data:`MAX_KEY_FILE` bytes of ASCII), raising KeyFileError otherwise.
    """
    p = Path(path)
    return _decode(p, _read_file(p)).startswith(ENCRYPTED_PREFIX)


# Files.


def _read_file(p: Path) -> bytes:
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not hang: refused below
    except FileNotFoundError:
        raise KeyFileError(f"{p}: no such key file") from None
    except OSError as exc:
        raise KeyFileError(f"{p}: cannot read key file ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{p}: not a regular file")
        try:
            data = os.read(fd, MAX_KEY_FILE + 1)
        except OSError as exc:
            raise KeyFileError(f"{p}: cannot read key file ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{p}: too large for a key file")
    if st.st_mode & 0o077:
        # A file that is no key file at all (a batch file given as --key, say) is told so,
        # rather than told to be made private.
        if not _decode(p, data).startswith(KEY_FILE_PREFIXES):
            raise KeyFileError(f"{p}: not a key file (want one PRIVATE+KEY+... line)")
        raise KeyFileError(
            f"{p}: key file is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run 'chmod 600 {p}'"
        )
    return data


def _decode(p: Path, data: bytes) -> str:
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"{p}: not a key file (not ASCII text)") from None


def _unlink_quietly(p: Path) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def _sync_directory(p: Path) -> None:
    """fsync the directory holding ``p`` so that the new file's name is durable too."""
    try:
        fd = os.open(p.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise KeyFileError(f"{p}: created, but cannot sync its directory ({exc.strerror})") from None
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems cannot sync a directory; that is no reason to fail.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise KeyFileError(
                f"{p}: created, but cannot sync its directory ({exc.strerror})") from None
    finally:
        os.close(fd)


# Encryption.


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64url_decode(text: str) -> bytes | None:
    """Decode canonical unpadded URL-safe base64, or return None."""
    if not _B64URL.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    return data if _b64url(data) == text else None


def _cost_problem(cost: ScryptCost) -> str | None:
    """Say why ``cost`` is out of bounds, or return None if it is acceptable."""
    log_n, r, p = cost
    if not 1 <= log_n <= _MAX_LOG_N:
        return f"scrypt log2 N must be 1 to {_MAX_LOG_N}"
    if not 1 <= r <= _MAX_R:
        return f"scrypt r must be 1 to {_MAX_R}"
    if not 1 <= p <= _MAX_P:
        return f"scrypt p must be 1 to {_MAX_P}"
    memory = 128 * r << log_n
    if memory > MAX_SCRYPT_MEMORY:
        return f"scrypt needs {memory >> 20} MiB, more than {MAX_SCRYPT_MEMORY >> 20} MiB"
    if memory * p > MAX_SCRYPT_WORK:
        return "scrypt work 128*N*r*p exceeds the limit"
    return None


def _passphrase_bytes(p: Path, passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise KeyFileError(f"{p}: the passphrase is not text")
    if not passphrase:
        raise KeyFileError(f"{p}: the passphrase is empty")
    try:
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeError:  # lone surrogates; the message would quote the passphrase
        raise KeyFileError(f"{p}: the passphrase is not valid Unicode text") from None


def _derive(secret: bytes, salt: bytes, cost: ScryptCost) -> bytes:
    return Scrypt(salt=salt, length=32, n=1 << cost.log_n, r=cost.r, p=cost.p).derive(secret)


def _seal(p: Path, text: str, passphrase: str, cost: ScryptCost) -> str:
    """Return the encrypted key line of ``text``."""
    cost = ScryptCost(*cost)
    problem = _cost_problem(cost)
    if problem is not None:
        raise KeyFileError(f"{p}: cannot encrypt the key file: {problem}")
    secret = _passphrase_bytes(p, passphrase)
    salt = secrets.token_bytes(_SALT_SIZE)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    header = (f"{ENCRYPTED_PREFIX}{SCHEME}+{cost.log_n}+{cost.r}+{cost.p}+"
              f"{_b64url(salt)}+{_b64url(nonce)}+")
    sealed = ChaCha20Poly1305(_derive(secret, salt, cost)).encrypt(
        nonce, text.encode("ascii"), header.encode("ascii"))
    return header + _b64url(sealed)


def _open(p: Path, data: bytes, passphrase: Passphrase) -> str:
    """Decrypt the encrypted key file ``data`` read from ``p``, returning the plain line."""
    damaged = f"{p}: wrong passphrase or damaged key file"
    line = data[:-1].decode("ascii") if data.endswith(b"\n") else ""
    fields = line.split("+")
    # Exactly the bytes this module writes: one line, one newline, nine fields.
    if data.count(b"\n") != 1 or len(fields) != _FIELDS or "\r" in line \
            or not line.startswith(ENCRYPTED_PREFIX):
        raise KeyFileError(damaged)
    scheme, log_n, r, par, salt_text, nonce_text, sealed_text = fields[2:]
    if scheme != SCHEME:
        raise KeyFileError(f"{p}: unknown key file encryption (want {SCHEME})")
    if not all(_DECIMAL.fullmatch(v) for v in (log_n, r, par)):
        raise KeyFileError(damaged)
    cost = ScryptCost(int(log_n), int(r), int(par))
    problem = _cost_problem(cost)
    if problem is not None:
        raise KeyFileError(f"{p}: encrypted key file refused: {problem}")
    salt = _b64url_decode(salt_text)
    nonce = _b64url_decode(nonce_text)
    sealed = _b64url_decode(sealed_text)
    if (salt is None or len(salt) != _SALT_SIZE or nonce is None or len(nonce) != _NONCE_SIZE
            or sealed is None or len(sealed) <= _TAG_SIZE):
        raise KeyFileError(damaged)
    secret = _passphrase_bytes(p, _choose_passphrase(p, passphrase))
    header = line[: len(line) - len(sealed_text)]
    try:
        plain = ChaCha20Poly1305(_derive(secret, salt, cost)).decrypt(
            nonce, sealed, header.encode("ascii"))
    except InvalidTag:
        raise KeyFileError(damaged) from None
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(damaged) from None
    if "\n" in text or "\r" in text:
        raise KeyFileError(damaged)
    return text.strip()


def _choose_passphrase(p: Path, passphrase: Passphrase) -> str:
    """The passphrase for an encrypted file: a string argument, the environment, a callable."""
    if isinstance(passphrase, str):
        return passphrase
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    if passphrase is not None and callable(passphrase):
        return passphrase()
    raise KeyFileError(
        f"{p}: key file is encrypted; set {PASSPHRASE_ENV} or enter the passphrase")
