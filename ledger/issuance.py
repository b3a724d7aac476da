"""The issuer's protocol: credentials in, signed statements committed, holder credentials out
(docs/FORMAT.md §10.1), crash-safe: the pending file, its lock, and recovery.

:func:`issue` is what ``credledger issue`` runs, for one credential or a cohort, and what a
program that issues through the library calls to be as crash-safe as the command line:

1. refuse to start while an interrupted batch of the issuer waits for ``recover``;
2. build and sign every Open Badges credential (``ledger.openbadges``: a random ``urn:uuid``,
   a fresh salt for the holder's identifier, a random status index) and the ``issue``
   statement that commits to its digest; sign the statements (a big batch on every core,
   ``ledger.parallel.BatchSigning``, while step 3 runs);
3. write all the credentials (``ledger.holder``'s pending records) to one locked, fsynced
   pending file: they hold the only copy of each salt;
4. append the batch (one atomic commit);
5. write each holder document, sync, remove the pending file.

A failure before the commit removes the pending file; one after it (or an interrupt whose
commit went through) keeps it and raises :class:`InterruptedAfterCommitError`, naming it;
:func:`recover` finishes a batch whose writer died between steps 3 and 5.
docs/FORMAT.md §10.1 gives every step; ``ledger.batchfile`` reads the batch file (§11).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.batchfile import CredentialRequest, parse_date
from ledger.errors import (
    EncodingError,
    InterruptedAfterCommitError,
    LedgerError,
    LogAnswerError,
    NotFoundError,
    PendingBatchError,
    RefusedError,
)
from ledger.events import (
    ISSUE,
    LIST_BITS,
    MAX_LIST_NUMBER,
    check_handle,
    check_id,
    key_id,
    make_statement,
)
from ledger.files import FileBatch, fsync_path, open_regular, read_regular, write_atomic
from ledger.holder import (
    MAX_DOCUMENT_SIZE,
    document_bytes,
    document_name,
    file_stem,
    parse_pending_line,
    pending_line,
    pending_record,
)
from ledger.parallel import BatchSigning, sign_credentials
from ledger.records import ISSUER, IssuerRecord

if TYPE_CHECKING:
    from ledger.log import Appended, Ledger
    from ledger.note import Signer
    from ledger.remote import RemoteLog

    Log = Ledger | RemoteLog
    """A log to issue into: a store, or a log on a server (``--log URL``)."""


@dataclass(frozen=True, slots=True)
class Issued:
    """What :func:`issue` did: the committed entries and the holder documents it wrote."""

    appended: Appended
    out: Path
    documents: tuple[dict[str, Any], ...]


def issue(ledger: Log, issuer_id: str, signer: Signer, requests: Sequence[CredentialRequest],
          out_dir: str | os.PathLike[str], *, now: int | None = None,
          progress: Callable[[int], None] | None = None) -> Issued:
    """Issue ``requests`` as one atomic batch signed by ``signer``; write each holder's
    document to ``out_dir/<issuer>/<id>.json`` (mode 0600). All or none are issued."""
    out = issuer_dir(out_dir, issuer_id)
    refuse_if_pending(ledger, issuer_id, out_dir)
    if not requests:
        raise EncodingError("no credentials to issue")
    for req in requests:  # own ids name files in OUT/ISSUER: never a path out of it
        try:
            check_id(req.id, "credential id")
            if req.id.startswith("urn:uuid:"):  # what revoke, prove and status read as a handle
                raise EncodingError(f"credential id {req.id!r}: your own id for a credential "
                                    "cannot start with urn:uuid:, which names a credential by "
                                    "its id in the log")
            for part in req.parts:
                check_id(part, "part")
        except EncodingError as exc:
            raise EncodingError(f"{req.where}: {exc}" if req.where else str(exc)) from None
    refuse_reissue(out, requests)
    for attempt in range(STATUS_INDEX_RETRIES + 1):
        try:
            return _issue_once(ledger, issuer_id, signer, requests, out, out_dir, now, progress)
        except RefusedError as exc:
            # Another batch of this key, issued at the same time, took a status index this
            # one drew (each draws among the indexes free in the log when it starts). The
            # refusal came before any commit: draw again, against the log as it is now.
            if exc.rule != "duplicate-status-index" or attempt == STATUS_INDEX_RETRIES:
                raise
    raise AssertionError("unreachable")


STATUS_INDEX_RETRIES = 4
"""How many times a batch refused for a status index that a concurrent batch took is built
again (each time against a log that holds the other batch's indexes)."""


def _issue_once(ledger: Log, issuer_id: str, signer: Signer,
                requests: Sequence[CredentialRequest], out: Path,
                out_dir: str | os.PathLike[str], now: int | None,
                progress: Callable[[int], None] | None) -> Issued:
    """One attempt of :func:`issue`, its checks of the requests done."""
    t = ledger.clock() if now is None else now
    maker = _CredentialMaker(ledger, issuer_id, signer, out, t, len(requests))
    unsigned = []
    for req in requests:
        try:
            unsigned.append(maker.unsigned(req))
        except LedgerError as exc:
            raise EncodingError(f"{req.where}: {exc}" if req.where else str(exc)) from None
    # The credentials are signed on every core: RDFC-1.0 is most of what issuing costs.
    signed = sign_credentials(unsigned, signer.seed, maker.created, ledger.workers)
    statements, docs = [], []
    for req, (credential, digest) in zip(requests, signed, strict=True):
        statements.append(maker.statement(credential, digest).encode())
        docs.append(pending_record(origin=ledger.origin, issuer_id=issuer_id, own_id=req.id,
                                   credential=credential))
    created = _missing_directories(out)  # made for the pending file; removed if refused
    store = ledger.pending_home  # STORE, or a remote log's state directory
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
    except LogAnswerError as exc:
        # A log server's answer failed its checks: nothing is taken as committed (no holder
        # document is written), and nothing is thrown away either (the batch may be in the
        # log): 'recover' writes those a verified proof shows committed.
        pending.release()
        raise LogAnswerError(f"{exc}; nothing was written as committed: the batch's "
                             f"credentials are kept in {pending.path} ('credledger recover "
                             f"{issuer_id} --out {out_dir}{_log_args(ledger)}' writes those "
                             "the log proves it holds)") from None
    except BaseException as exc:
        # An interrupt (Ctrl-C) can arrive while LMDB commits and be raised only after the
        # commit returned: ask the log, and keep the salts of a batch that is in it.
        try:
            is_committed = committed(ledger, issuer_id, docs[0]["credential"])
        except BaseException:  # noqa: BLE001 - any doubt keeps the salts
            is_committed = True  # cannot tell: keep the salts for 'recover' to sort out
        if not is_committed:
            pending.discard()
            clear_record(ledger, issuer_id, out)
            _remove_empty(created)  # a refused batch leaves no empty OUT/ISSUER behind
            raise
        pending.release()
        raise _after_commit(exc, pending, issuer_id, out_dir, ledger) from None
    try:
        pending.finish(docs)
    except BaseException as exc:  # noqa: BLE001 - committed: whatever stopped us, say so
        pending.release()
        raise _after_commit(exc, pending, issuer_id, out_dir, ledger) from None
    clear_record(ledger, issuer_id, out)  # after the pending file is gone
    return Issued(appended, out, tuple(docs))


def refuse_reissue(out: Path, requests: Sequence[CredentialRequest]) -> None:
    """Refuse a request whose own id already names a credential in ``out``: the log knows
    credentials by random handles only, so nothing else stops a second credential under the
    same own id, and writing it would replace the issuer's only copy of the first (still in
    the log: its handle and salt would be lost to the issuer). One directory listing, not a
    look-up a request."""
    seen: set[str] = set()
    for req in requests:
        if req.id in seen:
            where = f"{req.where}: " if req.where else ""
            raise EncodingError(f"{where}credential id {req.id!r} is given twice in the batch")
        seen.add(req.id)
    try:
        with os.scandir(out) as entries:
            present = {e.name for e in entries}
    except OSError:  # no OUT/ISSUER yet (or none to read: writing there fails later)
        return
    for req in requests:
        name = document_name(req.id)
        if name in present:
            where = f"{req.where}: " if req.where else ""
            raise EncodingError(f"{where}credential id {req.id!r} was already issued: "
                                f"{out / name} holds its credential (an id names one "
                                "credential: give a new one, or --skip-existing to issue only "
                                "the new ones of a batch)")


def _after_commit(exc: BaseException, pending: PendingFile, issuer_id: str,
                  out_dir: str | os.PathLike[str], ledger: Log
                  ) -> InterruptedAfterCommitError:
    why = exc.__class__.__name__
    if getattr(ledger, "url", None) is not None and isinstance(exc, LedgerError):
        why = str(exc)  # a network failure: the log may or may not have committed the batch
        head = "interrupted with the batch perhaps committed"
    else:
        head = "interrupted after the batch was committed"
    return InterruptedAfterCommitError(
        f"{head} ({why}); its holder documents are in {pending.path}: run 'credledger "
        f"recover {issuer_id} --out {out_dir}{_log_args(ledger)}'", str(pending.path),
        keyboard=isinstance(exc, KeyboardInterrupt))


def _log_args(ledger: Any) -> str:
    """The options that name a remote log on a command line (none for a store)."""
    args = getattr(ledger, "cli_args", "")
    return f" {args}" if args else ""


# ------------------------------------------------------------------------ holder documents


def write_document(out: Path, doc: dict[str, Any], *, batch: FileBatch | None = None) -> Path:
    """Write the credential of the pending record ``doc`` to ``out/<own id>.json``, mode
    0600, whole or not at all (a reader or a crash never sees a part of it). Alone, it is
    durable when this returns (``files.write_atomic``); through ``batch`` (a
    ``files.FileBatch`` of ``out``), once the caller has synced the batch."""
    name = document_name(doc["id"])
    if batch is None:
        write_atomic(out / name, document_bytes(doc["credential"]), mode=0o600)
    else:
        batch.write(name, document_bytes(doc["credential"]))
    return out / name


def write_documents(out: Path, docs: Sequence[dict[str, Any]]) -> int:
    """Write every credential of ``docs`` (:func:`write_document`), then make them all
    durable with one sync (``files.FileBatch``), not one a file; how many were written.
    Until it returns, the caller keeps the pending file that can write them again."""
    with FileBatch(out) as batch:
        for doc in docs:
            write_document(out, doc, batch=batch)
        batch.sync()
    return len(docs)


def committed(ledger: Log, issuer_id: str, credential: dict[str, Any]) -> bool:
    """Whether the log holds ``credential`` (by its handle: a random UUID, which no other
    credential has)."""
    return bool(ledger.cred_entries(issuer_id, check_handle(credential.get("id"))))


# ------------------------------------------------------------------------ the credentials


class _CredentialMaker:
    """Builds and signs each request's credential and its ``issue`` statement, from what the
    log says of the issuer (name, url), its achievements and its key's status indexes."""

    def __init__(self, ledger: Log, issuer_id: str, signer: Signer, out: Path,
                 t: int, count: int = 1) -> None:
        from ledger import anchoring, openbadges

        self.ledger, self.issuer_id, self.signer, self.out = ledger, issuer_id, signer, out
        self.t = t
        self.valid_from = t - t % 1000  # the credential's validFrom: whole seconds
        rec = ledger.record(ISSUER, issuer_id)
        if not isinstance(rec, IssuerRecord):
            raise EncodingError(f"issuer {issuer_id!r} is not registered in this log")
        self.public_key = signer.public_key
        self.kid = key_id(self.public_key)
        self.issuer = openbadges.Issuer(self.public_key,
                                        anchoring.profile_name(issuer_id, rec.name),
                                        rec.url or None)
        self.achievements: dict[str, Any] = {}
        self.handles: dict[str, tuple[str, str]] = {}  # own id -> (handle, name), this batch
        self.used: set[int] = set()
        self.number = 0
        self.left = count  # credentials still to draw a status index for
        self.drawn: list[tuple[int, bool]] = []  # (index, free in the log), drawn ahead
        self.created = anchoring.rfc3339(self.valid_from)
        self.pending: dict[str, tuple[str, int | None, int, list[str]]] = {}
        self._anchoring, self._openbadges = anchoring, openbadges

    def achievement(self, ach_id: str) -> Any:
        if ach_id not in self.achievements:
            reg = self.ledger.achievement(self.issuer_id, ach_id)
            if reg is None:
                raise EncodingError(f"achievement {ach_id!r} is not registered for "
                                    f"{self.issuer_id!r} ('credledger achievement add')")
            if not reg.description.strip() or not reg.criteria.strip():
                raise EncodingError(f"achievement {ach_id!r} has no description or no criteria; "
                                    "an Open Badges credential states both: register a new "
                                    "version of it that has them")
            self.achievements[ach_id] = reg
        return self.achievements[ach_id]

    def part(self, own_id: str) -> tuple[str, str]:
        """A part's handle and name: from this batch, or the issuer's copy in OUT."""
        if own_id in self.handles:
            return self.handles[own_id]
        path = self.out / document_name(own_id)
        try:
            data = read_regular(path, MAX_DOCUMENT_SIZE, "a credential")
        except NotFoundError:
            raise EncodingError(f"part {own_id!r}: no credential {path} (a part is named by "
                                "the id it was issued with, from the same --out)") from None
        try:
            cred = json.loads(data)
            return check_handle(cred.get("id"), "part"), str(cred.get("name", ""))
        except (ValueError, AttributeError, LedgerError):
            raise EncodingError(f"part {own_id!r}: {path} is not a credential") from None

    def status_index(self) -> int:
        """A random free index of the key's current list (docs/FORMAT.md §17.4): drawn
        uniformly; after 64 held draws in a row, the next list."""
        while self.number <= MAX_LIST_NUMBER:
            for _ in range(64):
                index, free = self._draw()
                if index in self.used or not free:
                    continue
                self.used.add(index)
                self.left -= 1
                return index
            self.number += 1
            self.drawn.clear()  # drawn in the full list
        raise EncodingError(f"every status list of key {self.kid} is full; rotate the key")

    def _draw(self) -> tuple[int, bool]:
        """The next uniform draw of the current list, and whether the log holds it free.
        Draws are made and looked up ahead, one for each credential of the batch still
        without an index (one look-up of up to 1,000 indexes, not one each: a log over HTTP
        answers a round trip each); the draws are the same as one at a time."""
        if not self.drawn:
            n = min(1000, max(1, self.left))
            ahead = [self.number * LIST_BITS + secrets.randbelow(LIST_BITS) for _ in range(n)]
            held = self.ledger.held_slots(self.issuer_id, self.kid, ahead)
            self.drawn = [(i, i not in held) for i in reversed(ahead)]
        return self.drawn.pop()

    def unsigned(self, req: CredentialRequest) -> dict[str, Any]:
        """The request's credential, not yet signed: a random handle, a fresh salt for the
        holder's identifier, a random free status index, parts resolved to handles."""
        import uuid

        ob, anchoring = self._openbadges, self._anchoring
        reg = self.achievement(req.achievement)
        origin = self.ledger.origin
        valid_until = parse_date(req.expires, "expires")
        if valid_until is not None:
            valid_until -= 1000  # the last second of the last valid day
        handle = f"urn:uuid:{uuid.uuid4()}"
        parts = [self.part(p) for p in req.parts]
        index = self.status_index()
        achievement = ob.Achievement(
            anchoring.achievement_iri(origin, self.issuer_id, req.achievement), reg.name,
            reg.description, reg.criteria,
            result_name=None if req.result is None else "Result", result_type="Result")
        doc = ob.build_credential(
            credential_id=handle, issuer=self.issuer, achievement=achievement,
            identity_type=req.subject_type, identity_value=req.subject, salt=ob.new_salt(),
            valid_from=self.created,
            valid_until=None if valid_until is None else anchoring.rfc3339(valid_until),
            result=req.result, parts=[ob.Part(h, n or None) for h, n in parts],
            status=anchoring.credential_status(origin, self.issuer_id, self.kid, index))
        self.handles[req.id] = (handle, doc["name"])
        self.pending[handle] = (req.achievement, valid_until, index, [h for h, _ in parts])
        return doc

    def statement(self, credential: dict[str, Any], digest: bytes) -> Any:
        """The ``issue`` statement of a signed credential: its handle, digest, achievement,
        validity, status index and parts."""
        achievement, valid_until, index, parts = self.pending.pop(credential["id"])
        return make_statement(ISSUE, self.issuer_id, self.t, credential["id"], digest,
                              achievement, self.valid_from, valid_until, index, parts)


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


def refuse_if_abandoned(out: Path, issuer_id: str, out_dir: str | os.PathLike[str],
                        log_args: str = "") -> None:
    """Refuse to start a batch while ``out`` holds an interrupted batch's pending file
    (``log_args``: how the hint names a remote log, `` --log URL``)."""
    for path in abandoned(out):
        raise PendingBatchError(f"{path} holds the holder documents of an interrupted batch; "
                                f"run 'credledger recover {issuer_id} --out {out_dir}"
                                f"{log_args}' first")


def refuse_if_pending(ledger: Log, issuer_id: str, out_dir: str | os.PathLike[str]) -> None:
    """Refuse to start a batch while an interrupted batch of ``issuer_id`` left a pending
    file, in ``out_dir`` or in any other OUT directory the store recorded for the issuer."""
    refuse_if_abandoned(issuer_dir(out_dir, issuer_id), issuer_id, out_dir, _log_args(ledger))
    for out in recorded(ledger.pending_home, issuer_id):
        for path in abandoned(out):
            raise PendingBatchError(
                f"{path} holds the holder documents of an interrupted batch of {issuer_id!r}; "
                f"run 'credledger recover {issuer_id} --out {out.parent}{_log_args(ledger)}' "
                "first")


# The store's record of where each issuer's pending files are (docs/FORMAT.md §10.2):
# STORE/pending/<issuer as a file name> (for a log on a server, ledger.remote.RemoteLog,
# STATE/pending in the client's state directory: the log object's pending_home), a JSON list of OUT/<issuer> directories, written
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


def clear_record(ledger: Log, issuer_id: str, out: Path) -> None:
    """Drop ``out`` from the issuer's record once no pending file is left in it."""
    with _record_lock(ledger.pending_home):
        _record(ledger.pending_home, issuer_id, out, add=False)


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


def recover(ledger: Log, issuer_id: str, out: Path) -> Recovered:
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


def _pending_documents(ledger: Log, issuer_id: str, path: Path
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
            raise EncodingError(f"{path}:{n}: not UTF-8: not a pending record; the file is "
                                "left as it is") from None
        try:
            doc = parse_pending_line(raw)
            check_handle(doc["credential"].get("id"))
            mine = doc["origin"] == ledger.origin and doc["issuer"] == issuer_id
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError,
                LedgerError):
            raise EncodingError(f"{path}:{n}: not a pending record; the file is left as it "
                                "is") from None
        if not mine:
            raise EncodingError(
                f"{path}:{n}: a credential of {doc['issuer']!r} in log {doc['origin']!r}, not "
                f"of {issuer_id!r} in this store's log {ledger.origin!r} (wrong --dir or "
                "ISSUER?); the file is left as it is")
        # Asked of the log (for a served log, a network failure or an answer that does not
        # check out is its own error, and the file is left as it is).
        docs.append((doc, committed(ledger, issuer_id, doc["credential"])))
    return docs


def issuer_dir(out_dir: str | os.PathLike[str], issuer_id: str) -> Path:
    """``OUT/<issuer>/``: where an issuer's holder documents and pending files go (the
    issuer id as ``holder.file_stem`` makes it a name)."""
    return Path(out_dir) / file_stem(issuer_id)


# ---------------------------------------------------------------------------------- inputs


def read_credential(out: Path, own_id: str) -> dict[str, Any]:
    """The credential 'issue' wrote to ``out`` (``OUT/<issuer>/``) as ``own_id``: parsed
    JSON whose ``id`` is a handle (NotFoundError if there is none)."""
    path = out / document_name(check_id(own_id, "credential id"))
    data = read_regular(path, MAX_DOCUMENT_SIZE, "a credential")
    try:
        cred = json.loads(data)
        check_handle(cred.get("id"), "credential id")
    except (ValueError, AttributeError, RecursionError, LedgerError):
        raise EncodingError(f"{path}: not a credential this ledger issued") from None
    return cred  # type: ignore[no-any-return]


def resolve(out: Path, ident: str) -> str:
    """The handle of a credential named by its handle or by the issuer's own id (looked up in
    ``out``): what ``revoke``, ``prove`` and the like accept."""
    if ident.startswith("urn:uuid:"):
        return check_handle(ident)
    try:
        return str(read_credential(out, ident)["id"])
    except NotFoundError:
        raise NotFoundError(f"no credential {ident!r} in {out} (give its urn:uuid:..., or the "
                            "--out it was issued to)") from None


def split_existing(ledger: Log, issuer_id: str, out: Path,
                   requests: Sequence[CredentialRequest]
                   ) -> tuple[list[CredentialRequest], list[CredentialRequest]]:
    """``requests`` as (new, existing): whether ``out`` holds the issuer's credential of the
    request's own id and the log holds it (``issue --skip-existing``: a re-run is safe)."""
    new: list[CredentialRequest] = []
    existing: list[CredentialRequest] = []
    for req in requests:
        try:
            cred = read_credential(out, req.id)
        except NotFoundError:
            new.append(req)
            continue
        (existing if committed(ledger, issuer_id, cred) else new).append(req)
    return new, existing
