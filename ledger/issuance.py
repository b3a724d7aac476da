"""The issuer's protocol: credentials in, signed statements committed, holder documents out
(docs/FORMAT.md §10.1), crash-safe: the pending file, its lock, and recovery.

:func:`issue` is what ``credledger issue`` runs, for one credential or a cohort, and what a
program that issues through the library calls to be as crash-safe as the command line:

1. refuse to start while an interrupted batch of the issuer waits for ``recover``;
2. build and sign every statement, drawing a fresh 32-byte salt per credential (a big batch
   on every core, ``ledger.parallel.BatchSigning``, while step 3 runs);
3. write all the holder documents (``ledger.holder``) to one locked, fsynced pending file:
   the documents hold the only copy of each salt;
4. append the batch (one atomic commit);
5. write each holder document, sync, remove the pending file.

A failure before the commit removes the pending file; one after it (or an interrupt whose
commit went through) keeps it and raises :class:`InterruptedAfterCommitError`, naming it;
:func:`recover` finishes a batch whose writer died between steps 3 and 5.
docs/FORMAT.md §10.1 gives every step; §11 the batch file :func:`read_batch` reads.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ledger.errors import (
    EncodingError,
    InterruptedAfterCommitError,
    LedgerError,
    NotFoundError,
    PendingBatchError,
    UsageError,
)
from ledger.events import (
    ISSUE,
    check_id,
    decode_statement,
    make_statement,
    subject_commitment,
)
from ledger.files import FileBatch, fsync_path, open_regular, read_regular, write_atomic
from ledger.holder import (
    MAX_DOCUMENT_SIZE,
    document_bytes,
    document_name,
    file_stem,
    holder_document,
    parse_holder_document,
    pending_line,
)
from ledger.parallel import BatchSigning

if TYPE_CHECKING:
    from ledger.log import Appended, Ledger
    from ledger.note import Signer

MAX_BATCH_LINE = 70_000
MAX_BATCH_LINES = 1_000_000


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    """One credential to issue. ``expires``: the last valid day, ``YYYY-MM-DD``; ``document``:
    the SHA-256 of the credential document (a PDF, say) the log commits to; ``where``: where
    the request came from (``FILE:LINE``), for error messages."""

    id: str
    subject: str
    title: str
    expires: str | None = None
    parts: tuple[str, ...] = ()
    document: bytes | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class Issued:
    """What :func:`issue` did: the committed entries and the holder documents it wrote."""

    appended: Appended
    out: Path
    documents: tuple[dict[str, Any], ...]


def issue(ledger: Ledger, issuer_id: str, signer: Signer, requests: Sequence[CredentialRequest],
          out_dir: str | os.PathLike[str], *, now: int | None = None,
          progress: Callable[[int], None] | None = None) -> Issued:
    """Issue ``requests`` as one atomic batch signed by ``signer``; write each holder's
    document to ``out_dir/<issuer>/<id>.json`` (mode 0600). All or none are issued."""
    out = issuer_dir(out_dir, issuer_id)
    refuse_if_pending(ledger, issuer_id, out_dir)
    if not requests:
        raise EncodingError("no credentials to issue")
    t = ledger.clock() if now is None else now
    statements, docs = [], []
    for req in requests:
        try:
            expires = parse_date(req.expires, "expires")
            salt = secrets.token_bytes(32)
            st = make_statement(ISSUE, issuer_id, t, req.id, subject_commitment(salt, req.subject),
                                req.title, expires, req.document, list(req.parts))
        except LedgerError as exc:
            raise EncodingError(f"{req.where}: {exc}" if req.where else str(exc)) from None
        statements.append(st.encode())
        docs.append(holder_document(origin=ledger.origin, issuer_id=issuer_id, cred_id=req.id,
                                    subject=req.subject, salt=salt, title=req.title,
                                    expires=req.expires, parts=list(req.parts),
                                    document=req.document))
    created = _missing_directories(out)  # made for the pending file; removed if refused
    store = ledger.store.path
    # A big batch is signed on every core (the worker pool the append uses next) while this
    # process writes the pending file; nothing runs between starting it and the try that
    # stops it on a failure.
    signing = BatchSigning(statements, signer.seed, ledger.workers)
    try:
        with _record_lock(store):  # the store records OUT before the pending file is linked
            _record(store, issuer_id, out, add=True)
            try:
                pending = PendingFile(out, docs)
            except BaseException:
                _record(store, issuer_id, out, add=False)
                raise
    except BaseException:
        signing.stop()
        _remove_empty(created)
        raise
    try:
        items = signing.result()
    except BaseException:
        pending.discard()
        clear_record(ledger, issuer_id, out)
        _remove_empty(created)
        raise
    try:
        appended = ledger.append(items, progress=progress)
    except BaseException as exc:
        # An interrupt (Ctrl-C) can arrive while LMDB commits and be raised only after the
        # commit returned: ask the log, and keep the salts of a batch that is in it.
        try:
            is_committed = committed(ledger, issuer_id, docs[0])
        except BaseException:  # noqa: BLE001 - any doubt keeps the salts
            is_committed = True  # cannot tell: keep the salts for 'recover' to sort out
        if not is_committed:
            pending.discard()
            clear_record(ledger, issuer_id, out)
            _remove_empty(created)  # a refused batch leaves no empty OUT/ISSUER behind
            raise
        pending.release()
        raise _after_commit(exc, pending, issuer_id, out_dir) from None
    try:
        pending.finish(docs)
    except BaseException as exc:  # noqa: BLE001 - committed: whatever stopped us, say so
        pending.release()
        raise _after_commit(exc, pending, issuer_id, out_dir) from None
    clear_record(ledger, issuer_id, out)  # after the pending file is gone
    return Issued(appended, out, tuple(docs))


def _after_commit(exc: BaseException, pending: PendingFile, issuer_id: str,
                  out_dir: str | os.PathLike[str]) -> InterruptedAfterCommitError:
    return InterruptedAfterCommitError(
        f"interrupted after the batch was committed ({exc.__class__.__name__}); its holder "
        f"documents are in {pending.path}: run 'credledger recover {issuer_id} --out "
        f"{out_dir}'", str(pending.path), keyboard=isinstance(exc, KeyboardInterrupt))


# ------------------------------------------------------------------------ holder documents


def write_document(out: Path, doc: dict[str, Any], *, batch: FileBatch | None = None) -> Path:
    """Write ``doc`` to ``out/<id>.json``, mode 0600, whole or not at all (a reader or a crash
    never sees a part of it). Alone, it is durable when this returns (``files.write_atomic``);
    through ``batch`` (a ``files.FileBatch`` of ``out``), once the caller has synced the batch.
    """
    name = document_name(doc["id"])
    if batch is None:
        write_atomic(out / name, document_bytes(doc), mode=0o600)
    else:
        batch.write(name, document_bytes(doc))
    return out / name


def write_documents(out: Path, docs: Sequence[dict[str, Any]]) -> int:
    """Write every document of ``docs`` (:func:`write_document`), then make them all durable
    with one sync (``files.FileBatch``), not one a file; how many were written. Until it
    returns, the caller keeps the pending file that can write them again."""
    with FileBatch(out) as batch:
        for doc in docs:
            write_document(out, doc, batch=batch)
        batch.sync()
    return len(docs)


def committed(ledger: Ledger, issuer_id: str, doc: dict[str, Any]) -> bool:
    """Whether the log holds ``doc``'s credential with ``doc``'s subject commitment."""
    commitment = subject_commitment(bytes.fromhex(doc["salt"]), doc["subject"])
    indexes = ledger.cred_entries(issuer_id, doc["id"])
    return bool(indexes) and decode_statement(
        ledger.entry(indexes[0]).statement).fields[1] == commitment


# ------------------------------------------------------------------------ the pending file


def _missing_directories(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and not path.is_symlink() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _remove_empty(directories: list[Path]) -> None:
    """Remove ``directories`` (deepest first) as long as each is empty."""
    for d in directories:
        try:
            d.rmdir()
        except OSError:  # not empty (another batch's files), or gone: leave it
            return


class PendingFile:
    """A batch's pending file, created, fsynced and locked (docs/FORMAT.md §10.1): it marks
    the batch's documents as in use until :meth:`finish` or :meth:`discard`."""

    def __init__(self, out: Path, docs: list[dict[str, Any]]) -> None:
        self.out = out
        self.path = out / f".pending-{document_name(docs[0]['id'])}l"
        self._fd: int | None = _create_locked(self.path, b"".join(map(pending_line, docs)))

    def discard(self) -> None:
        """The batch was not committed: the salts commit to nothing; remove the file."""
        self.path.unlink(missing_ok=True)
        self.release()

    def finish(self, docs: list[dict[str, Any]]) -> None:
        """The batch was committed: write every document, sync, remove the pending file."""
        write_documents(self.out, docs)
        self.path.unlink()
        fsync_path(self.out)
        self.release()

    def release(self) -> None:
        """Give up the lock (a kept file is then ``recover``'s to finish)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _create_locked(path: Path, data: bytes) -> int:
    """Create ``path`` (mode 0600, fsynced, never overwriting) holding ``text``; return an open
    descriptor holding an exclusive lock on it, which marks the file as in use until closed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
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
    for path in _pending_files(out):
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


def _pending_files(out: Path) -> list[Path]:
    """The pending files in ``out`` (``.pending-*.jsonl``), by name; none if there is no
    ``out``. One pass over the directory, which may hold a cohort's documents: tens of
    thousands of names."""
    try:
        with os.scandir(out) as entries:
            names = [e.name for e in entries
                     if e.name.startswith(".pending-") and e.name.endswith(".jsonl")]
    except OSError:  # no such directory (or none to read), as glob has it: nothing pending
        return []
    return [out / n for n in sorted(names)]


def refuse_if_abandoned(out: Path, issuer_id: str, out_dir: str | os.PathLike[str]) -> None:
    """Refuse to start a batch while ``out`` holds an interrupted batch's pending file."""
    for path in abandoned(out):
        raise PendingBatchError(f"{path} holds the holder documents of an interrupted batch; "
                                f"run 'credledger recover {issuer_id} --out {out_dir}' first")


def refuse_if_pending(ledger: Ledger, issuer_id: str, out_dir: str | os.PathLike[str]) -> None:
    """Refuse to start a batch while an interrupted batch of ``issuer_id`` left a pending
    file, in ``out_dir`` or in any other OUT directory the store recorded for the issuer."""
    refuse_if_abandoned(issuer_dir(out_dir, issuer_id), issuer_id, out_dir)
    for out in recorded(ledger.store.path, issuer_id):
        for path in abandoned(out):
            raise PendingBatchError(
                f"{path} holds the holder documents of an interrupted batch of {issuer_id!r}; "
                f"run 'credledger recover {issuer_id} --out {out.parent}' first")


# The store's record of where each issuer's pending files are (docs/FORMAT.md §10.2):
# STORE/pending/<issuer as a file name>, a JSON list of OUT/<issuer> directories, written
# (under the lock STORE/pending/.lock) before a pending file is linked, and cleared of a
# directory only once no pending file is left in it.
MAX_RECORD = 1 << 20


def _record_file(store: Path, issuer_id: str) -> Path:
    return store / "pending" / file_stem(issuer_id)


@contextlib.contextmanager
def _record_lock(store: Path) -> Iterator[None]:
    directory = store / "pending"
    if not directory.is_dir():
        directory.mkdir(mode=0o700, exist_ok=True)
        fsync_path(store)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_record(path: Path) -> list[str]:
    try:
        data = read_regular(path, MAX_RECORD, "a record of pending files")
    except NotFoundError:
        return []
    try:
        dirs = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        dirs = None
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise EncodingError(f"{path}: not a record of pending files (a JSON list of "
                            "directories)")
    return dirs


def _record(store: Path, issuer_id: str, out: Path, *, add: bool) -> None:
    """Add ``out`` to the issuer's record, or remove it if no pending file is left in it
    (the caller holds :func:`_record_lock`)."""
    path = _record_file(store, issuer_id)
    dirs = _read_record(path)
    name = os.path.abspath(out)
    if add:
        if name in dirs:
            return
        dirs.append(name)
    else:
        if name not in dirs or _pending_files(out):
            return
        dirs.remove(name)
    if dirs:
        write_atomic(path, (json.dumps(sorted(dirs)) + "\n").encode("utf-8"), mode=0o600)
    else:
        path.unlink(missing_ok=True)
        fsync_path(path.parent)


def clear_record(ledger: Ledger, issuer_id: str, out: Path) -> None:
    """Drop ``out`` from the issuer's record once no pending file is left in it."""
    with _record_lock(ledger.store.path):
        _record(ledger.store.path, issuer_id, out, add=False)


def recorded(store: Path, issuer_id: str) -> list[Path]:
    """The OUT/<issuer> directories where the store recorded pending files of the issuer."""
    if not (store / "pending").is_dir():
        return []
    return [Path(d) for d in sorted(_read_record(_record_file(store, issuer_id)))]


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
        todo = []
        for doc, is_committed in docs:
            if not is_committed:
                dropped += 1  # its batch never entered the log: the salt commits to nothing
                continue
            # Always rewritten (whole, replacing what is there): a document written just
            # before a power loss may exist but be empty. One sync for all of them before the
            # pending file goes.
            todo.append(doc)
        written += write_documents(out, todo)
        _remove_document_temps(out, {document_name(doc["id"]) for doc, _ in docs})
        path.unlink()
        fsync_path(out)
    for tmp in _stale_temps(out):
        tmp.unlink(missing_ok=True)
    clear_record(ledger, issuer_id, out)
    return Recovered(files, written, dropped)


def _remove_document_temps(out: Path, names: set[str]) -> None:
    """Remove the temporary files (``.<name>.<random>.tmp``, ``files.FileBatch`` and
    ``files.write_atomic``) that a killed writer left of the documents ``names``: the
    pending file being recovered holds these credentials, so no running writer has them."""
    with os.scandir(out) as entries:
        stale = [e.name for e in entries if e.name.startswith(".") and e.name.endswith(".tmp")
                 and e.name[1:-4].rpartition(".")[0] in names]
    for name in stale:
        (out / name).unlink(missing_ok=True)


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


def issuer_dir(out_dir: str | os.PathLike[str], issuer_id: str) -> Path:
    """``OUT/<issuer>/``: where an issuer's holder documents and pending files go (the
    issuer id as ``holder.file_stem`` makes it a name)."""
    return Path(out_dir) / file_stem(issuer_id)


# ---------------------------------------------------------------------------------- inputs


def parse_date(value: str | None, where: str) -> int | None:
    """``YYYY-MM-DD`` -> UTC ms of the end of that day (valid through the whole day)."""
    if value is None:
        return None
    day = strict_date(value)
    if day is None:
        raise EncodingError(f"{where}: want a date YYYY-MM-DD, got {str(value)[:40]!r}")
    if day == dt.date.max:
        raise EncodingError(f"{where}: {value} is past the last date this ledger can hold")
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return int(end.timestamp() * 1000)


def strict_date(value: object) -> dt.date | None:
    """A ``YYYY-MM-DD`` date, or None (Python's fromisoformat also takes other ISO forms)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def file_digest(path: str | os.PathLike[str]) -> bytes:
    """The SHA-256 of a file (a credential document the log commits to)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def parse_digest(value: Any) -> bytes:
    """A SHA-256 digest given as 64 hex digits."""
    if not isinstance(value, str) or len(value) != 64:
        raise EncodingError("document: want a SHA-256 digest as 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise EncodingError("document: want a SHA-256 digest as 64 hex digits") from None


_BATCH_FIELDS = ("id", "subject", "title", "expires", "parts", "document")


def batch_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """``"csv"`` or ``"jsonl"``: ``fmt`` if given, else ``csv`` for a name ending in ``.csv``
    (any case), else ``jsonl``."""
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise EncodingError(f"unknown batch format {fmt!r}; want csv or jsonl")
        return fmt
    return "csv" if os.fspath(path).lower().endswith(".csv") else "jsonl"


def parse_columns(spec: str) -> dict[str, str]:
    """``id=student_no,subject=email`` -> ``{"id": "student_no", "subject": "email"}``: which
    CSV column holds each request field (docs/FORMAT.md §11.1)."""
    columns: dict[str, str] = {}
    for item in spec.split(","):
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise EncodingError(f"--columns: want FIELD=COLUMN, got {item.strip()[:40]!r}")
        if field not in _BATCH_FIELDS:
            raise EncodingError(f"--columns: unknown field {field!r}; the fields are "
                                f"{', '.join(_BATCH_FIELDS)}")
        if field in columns:
            raise EncodingError(f"--columns: field {field!r} given twice")
        columns[field] = column
    return columns


def read_batch(path: str | os.PathLike[str], *, fmt: str | None = None,
               columns: dict[str, str] | None = None) -> Iterator[CredentialRequest]:
    """The credentials of a batch file (docs/FORMAT.md §11), each with its ``FILE:LINE``; a
    clear error for any bad line. ``fmt``: ``csv`` or ``jsonl`` (default: by the name,
    :func:`batch_format`); ``columns``: for CSV, the column of each field (default: the
    field names)."""
    fmt = batch_format(path, fmt)
    if columns is not None and fmt != "csv":
        raise EncodingError("a column mapping is for CSV batch files only")
    seen: set[str] = set()
    with open_regular(path, "a batch file") as f:  # a FIFO or a device is refused at once
        rows = _csv_rows(f, path, columns) if fmt == "csv" else _jsonl_rows(f, path)
        for n, obj in rows:
            yield _request(obj, f"{path}:{n}", seen)
        if not seen:
            raise EncodingError(f"{path}: no credentials in the file")


MAX_ID_LIST = 64 << 20
"""The largest plain list of credential ids :func:`read_cohort` reads (256 k ids of 256 bytes)."""


def read_cohort(path: str | os.PathLike[str],
                columns: dict[str, str] | None = None) -> list[str]:
    """The credential ids of a cohort, in order: from a batch file (CSV by its name, or JSONL,
    docs/FORMAT.md §11, recognised by its first non-blank character, ``{``; only the ids are
    used) or from a plain
    list, one id a line (blank lines skipped). An id given twice, a bad id or an empty file is
    a clear error naming ``FILE:LINE``. ``columns`` maps a CSV file's columns as for
    :func:`read_batch` (the one it was issued with)."""
    if batch_format(path, None) == "csv":  # a CSV batch file: its ids
        return [r.id for r in read_batch(path, columns=columns)]
    if columns is not None:
        raise UsageError(f"{path}: --columns is for a CSV file (a name ending in .csv)")
    with open_regular(path, "a cohort file") as f:
        head = f.read(MAX_BATCH_LINE).lstrip()
    if head.startswith(b"{"):
        return [r.id for r in read_batch(path, fmt="jsonl")]
    data = read_regular(path, MAX_ID_LIST, "a cohort file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EncodingError(f"{path}: not UTF-8 text; not a list of credential ids") from None
    ids: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            check_id(line, "credential id")
        except EncodingError as exc:
            raise EncodingError(f"{path}:{n}: {exc}") from None
        if line in seen:
            raise EncodingError(f"{path}:{n}: credential id {line!r} appears twice")
        seen.add(line)
        ids.append(line)
    if not ids:
        raise EncodingError(f"{path}: no credential ids in the file")
    return ids


def cohort_documents(out: Path, issuer_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The holder documents 'issue' wrote to ``out`` (``OUT/<issuer>/``) for ``ids``: those
    that exist, each checked to be for ``issuer_id`` and its id."""
    docs: dict[str, dict[str, Any]] = {}
    for cred_id in ids:
        path = out / document_name(cred_id)
        if not path.exists():
            continue
        doc = parse_holder_document(read_regular(path, MAX_DOCUMENT_SIZE, "a holder document"))
        if (doc["issuer"], doc["id"]) != (issuer_id, cred_id):
            raise EncodingError(f"{path}: the holder document of {doc['issuer']}/{doc['id']}, "
                                f"not of {issuer_id}/{cred_id}")
        docs[cred_id] = doc
    return docs


def _lines(f: BinaryIO, path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """The numbered lines of a batch file, each read bounded: a huge line is never held."""
    n = 0
    while raw := f.readline(MAX_BATCH_LINE + 1):
        n += 1
        if n > MAX_BATCH_LINES:
            raise EncodingError(f"{path}: more than {MAX_BATCH_LINES} lines")
        if len(raw) > MAX_BATCH_LINE:
            raise EncodingError(f"{path}:{n}: line longer than {MAX_BATCH_LINE} bytes")
        yield n, raw


def _jsonl_rows(f: BinaryIO, path: str | os.PathLike[str]
                ) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, raw in _lines(f, path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            msg = (exc.args[0] if isinstance(exc, ValueError) and exc.args
                   else "nested too deeply" if isinstance(exc, RecursionError)
                   else "not UTF-8")
            raise EncodingError(f"{path}:{n}: not a JSON object ({str(msg)[:80]})") from None
        if not isinstance(obj, dict):
            raise EncodingError(f"{path}:{n}: want a JSON object, got {type(obj).__name__}")
        extra = set(obj) - set(_BATCH_FIELDS)
        if extra:
            raise EncodingError(f"{path}:{n}: unknown field {min(extra)!r}")
        yield n, obj


def _csv_rows(f: BinaryIO, path: str | os.PathLike[str], columns: dict[str, str] | None
              ) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV batch file with a header (a UTF-8 BOM is skipped) as JSONL-like objects,
    each with the physical line it starts on (the header is line 1). A record (a quoted cell
    may span lines) is bounded like a JSONL line: at most MAX_BATCH_LINE bytes, so is each
    cell."""
    state = {"line": 0, "record": 0, "start": 1}

    def text() -> Iterator[str]:
        for n, raw in _lines(f, path):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            state["line"] = n
            if state["record"] == 0:
                state["start"] = n
            state["record"] += len(raw)
            if state["record"] > MAX_BATCH_LINE:
                raise EncodingError(f"{path}:{state['start']}: record (lines {state['start']}"
                                    f"-{n}) longer than {MAX_BATCH_LINE} bytes")
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise EncodingError(f"{path}:{n}: not UTF-8") from None

    reader = csv.reader(text(), strict=True)
    start = 1
    try:
        header = next(reader, None)
        if header is None:
            raise EncodingError(f"{path}: no header line")
        mapping = columns or {name: name for name in header}
        if columns is None:
            unknown = [name for name in header if name not in _BATCH_FIELDS]
            if unknown:
                raise EncodingError(
                    f"{path}:1: unknown column {unknown[0][:40]!r} (the columns are "
                    f"{', '.join(_BATCH_FIELDS)}; map others with --columns FIELD=COLUMN)")
        index: dict[str, int] = {}
        for field, column in mapping.items():
            if header.count(column) > 1:
                raise EncodingError(f"{path}:1: column {column[:40]!r} appears twice")
            if column not in header:
                raise EncodingError(f"{path}:1: no column {column[:40]!r} (for {field!r})")
            index[field] = header.index(column)
        for field in ("id", "subject", "title"):
            if field not in index:
                raise EncodingError(f"{path}:1: no {field!r} column")
        while True:
            start = state["line"] + 1
            state["record"] = 0
            row = next(reader, None)
            if row is None:
                return
            if not row or row == [""]:
                continue  # a blank line
            if len(row) != len(header):
                raise EncodingError(f"{path}:{start}: {len(row)} cells; the header has "
                                    f"{len(header)}")
            obj: dict[str, Any] = {}
            for field, i in index.items():
                cell = row[i]
                if field == "parts":
                    obj[field] = [p.strip() for p in cell.split(";") if p.strip()]
                elif field in ("expires", "document"):
                    obj[field] = cell.strip() or None
                else:
                    obj[field] = cell
            yield start, obj
    except csv.Error as exc:
        raise EncodingError(f"{path}:{start}: not CSV ({str(exc)[:80]})") from None


def _request(obj: dict[str, Any], where: str, seen: set[str]) -> CredentialRequest:
    for field in ("id", "subject", "title"):
        if not isinstance(obj.get(field), str):
            raise EncodingError(f"{where}: {field!r} must be a string")
    if obj.get("parts") is not None and not isinstance(obj["parts"], list):
        raise EncodingError(f"{where}: 'parts' must be a list of credential ids")
    if obj["id"] in seen:
        raise EncodingError(f"{where}: credential id {obj['id']!r} appears twice")
    seen.add(obj["id"])
    try:
        document = None if obj.get("document") is None else parse_digest(obj["document"])
    except EncodingError as exc:
        raise EncodingError(f"{where}: {exc}") from None
    return CredentialRequest(obj["id"], obj["subject"], obj["title"], obj.get("expires"),
                             tuple(obj.get("parts") or ()), document, where)


def split_existing(ledger: Ledger, issuer_id: str, requests: Sequence[CredentialRequest]
                   ) -> tuple[list[CredentialRequest], list[CredentialRequest]]:
    """``requests`` as (new, existing): whether the log already holds a credential of
    ``issuer_id`` with the request's id (``issue --skip-existing``: a re-run is safe)."""
    new: list[CredentialRequest] = []
    existing: list[CredentialRequest] = []
    for req in requests:
        (existing if ledger.cred_entries(issuer_id, req.id) else new).append(req)
    return new, existing
