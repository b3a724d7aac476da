"""Holder credential documents (docs/FORMAT.md §10) and their crash-safe writing (§10.1).

A holder document holds the salt of its credential's subject commitment: the only secret that
links the log to a person, and its only copy. So the documents of a batch are first written
together to one locked, fsynced pending file, then the batch is committed, then each document
is written and the pending file removed; :func:`recover` finishes a batch whose writer died
between those steps. ``ledger.issuance`` runs the protocol; this module keeps the files.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import EncodingError, LedgerError, PendingBatchError
from ledger.events import decode_statement, subject_commitment
from ledger.files import fsync_path, open_regular, write_atomic

if TYPE_CHECKING:
    from ledger.log import Ledger

CREDENTIAL_TYPE = "credential-ledger/credential@v1"
"""The holder document's ``type`` (docs/FORMAT.md §10)."""


def holder_document(*, origin: str, issuer_id: str, cred_id: str, subject: str, salt: bytes,
                    title: str, expires: str | None, parts: list[str],
                    document: bytes | None) -> dict[str, Any]:
    """The holder document of one credential (docs/FORMAT.md §10)."""
    return {"type": CREDENTIAL_TYPE, "origin": origin, "issuer": issuer_id, "id": cred_id,
            "subject": subject, "salt": salt.hex(), "title": title, "expires": expires,
            "parts": parts, "document_sha256": None if document is None else document.hex()}


MAX_NAME = 200
"""Ids longer than this many characters are shortened in file names (:func:`file_stem`)."""


def file_stem(ident: str) -> str:
    """The part of a file or directory name that stands for an issuer or credential id.

    An id of at most :data:`MAX_NAME` characters stands for itself; a longer one (ids may have
    256) by its first 160 characters, ``~`` (which no id holds) and the first 32 hex digits of
    its SHA-256, so that every name the ledger derives from ids fits a file system's 255 bytes
    with room for a temporary name's affixes: a batch that commits can always write its
    documents (docs/FORMAT.md §10).
    """
    if len(ident) <= MAX_NAME:
        return ident
    return ident[:160] + "~" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]


def document_name(cred_id: str) -> str:
    """The file name of a credential's holder document in ``OUT/<issuer>/``."""
    return file_stem(cred_id) + ".json"


def issuer_dir(out_dir: str | os.PathLike[str], issuer_id: str) -> Path:
    """``OUT/<issuer>/``: where an issuer's holder documents and pending files go."""
    return Path(out_dir) / file_stem(issuer_id)


def write_document(out: Path, doc: dict[str, Any], *, sync: bool = True) -> Path:
    """Write ``doc`` to ``out/<id>.json``, mode 0600, atomically (``files.write_atomic``).
    ``sync=False``: the caller syncs a whole batch of them at once (``os.sync``)."""
    path = out / document_name(doc["id"])
    write_atomic(path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"), mode=0o600,
                 sync=sync, sync_dir=sync)
    return path


def committed(ledger: Ledger, issuer_id: str, doc: dict[str, Any]) -> bool:
    """Whether the log holds ``doc``'s credential with ``doc``'s subject commitment."""
    commitment = subject_commitment(bytes.fromhex(doc["salt"]), doc["subject"])
    indexes = ledger.cred_entries(issuer_id, doc["id"])
    return bool(indexes) and decode_statement(
        ledger.entry(indexes[0]).statement).fields[1] == commitment


# ------------------------------------------------------------------------ the pending file


class PendingFile:
    """A batch's pending file, created, fsynced and locked (docs/FORMAT.md §10.1): it marks
    the batch's documents as in use until :meth:`finish` or :meth:`discard`."""

    def __init__(self, out: Path, docs: list[dict[str, Any]]) -> None:
        self.out = out
        self.path = out / f".pending-{document_name(docs[0]['id'])}l"
        self._fd = _create_locked(self.path, "".join(json.dumps(d) + "\n" for d in docs))

    def discard(self) -> None:
        """The batch was not committed: the salts commit to nothing; remove the file."""
        self.path.unlink(missing_ok=True)
        self.release()

    def finish(self, docs: list[dict[str, Any]]) -> None:
        """The batch was committed: write every document, sync, remove the pending file."""
        for doc in docs:
            write_document(self.out, doc, sync=False)
        os.sync()
        self.path.unlink()
        fsync_path(self.out)
        self.release()

    def release(self) -> None:
        """Give up the lock (a kept file is then ``recover``'s to finish)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _create_locked(path: Path, text: str) -> int:
    """Create ``path`` (mode 0600, fsynced, never overwriting) holding ``text``; return an open
    descriptor holding an exclusive lock on it, which marks the file as in use until closed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise PendingBatchError(f"{path} already exists: another batch starting with the "
                                    "same credential is being issued, or was interrupted"
                                    ) from None
        fsync_path(path.parent)
    except BaseException:
        os.close(fd)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return fd


def abandoned(out: Path) -> Iterator[Path]:
    """Pending files in ``out`` that no running writer holds (their writer was killed).

    Each is yielded while this process holds its lock, so neither a writer nor another
    ``recover`` can touch it meanwhile; a file unlinked by its finishing writer is skipped.
    """
    for path in sorted(out.glob(".pending-*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            continue  # its writer just finished
        except OSError as exc:  # ELOOP: a link, never followed
            raise EncodingError(f"{path}: not a pending file ({exc.strerror})") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise EncodingError(f"{path}: not a regular file; not a pending file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running issue is using it
            try:
                same = os.fstat(fd).st_nlink > 0 and os.path.samestat(os.fstat(fd),
                                                                       os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                yield path
        finally:
            os.close(fd)


def refuse_if_abandoned(out: Path, issuer_id: str, out_dir: str | os.PathLike[str]) -> None:
    """Refuse to start a batch while ``out`` holds an interrupted batch's pending file."""
    for path in abandoned(out):
        raise PendingBatchError(f"{path} holds the holder documents of an interrupted batch; "
                                f"run 'credledger recover {issuer_id} --out {out_dir}' first")


def _stale_temps(out: Path) -> Iterator[Path]:
    """Temporary files of pending files whose writer died before linking them: no batch of
    theirs was committed (the link comes first), so they hold no salt anyone needs."""
    for path in sorted(out.glob(".pending-*.tmp")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (FileNotFoundError, OSError):
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        finally:
            os.close(fd)
        yield path


# ------------------------------------------------------------------------------- recovery


@dataclass(frozen=True, slots=True)
class Recovered:
    """What :func:`recover` did: pending files finished, documents written, and documents
    dropped (their credentials never entered the log)."""

    pending_files: int
    documents: int
    dropped: int


def recover(ledger: Ledger, issuer_id: str, out: Path) -> Recovered:
    """Finish every interrupted batch of ``issuer_id`` in ``out`` (docs/FORMAT.md §10.1)."""
    written = dropped = files = 0
    for path in abandoned(out):
        files += 1
        docs = _pending_documents(ledger, issuer_id, path)
        for doc, is_committed in docs:
            if not is_committed:
                dropped += 1  # its batch never entered the log: the salt commits to nothing
                continue
            # Always rewritten (atomically): a document written just before a power loss may
            # exist but be empty. One sync for all of them before the pending file goes.
            write_document(out, doc, sync=False)
            written += 1
        os.sync()
        fsync_path(out)
        path.unlink()
        fsync_path(out)
    for tmp in _stale_temps(out):
        tmp.unlink(missing_ok=True)
    return Recovered(files, written, dropped)


def _pending_documents(ledger: Ledger, issuer_id: str, path: Path
                       ) -> list[tuple[dict[str, Any], bool]]:
    """Each holder document of a pending file, and whether the log holds its credential; a
    line that is not a document of this log and issuer refuses the whole file (kept)."""
    with open_regular(path, "a pending file") as f:  # one document a line, as the batch had
        raw_lines = f.read().splitlines()
    docs = []
    for n, raw in enumerate(raw_lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError(f"{path}:{n}: not UTF-8: not a holder document; the file is "
                                "left as it is") from None
        try:
            doc = json.loads(line)
            is_committed = committed(ledger, issuer_id, doc)
            mine = doc["origin"] == ledger.origin and doc["issuer"] == issuer_id
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError,
                LedgerError):
            raise EncodingError(f"{path}:{n}: not a holder document; the file is left as it "
                                "is") from None
        if not mine:
            raise EncodingError(
                f"{path}:{n}: a document of {doc['issuer']!r} in log {doc['origin']!r}, not of "
                f"{issuer_id!r} in this store's log {ledger.origin!r} (wrong --dir or "
                "ISSUER?); the file is left as it is")
        docs.append((doc, is_committed))
    return docs
