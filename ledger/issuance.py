"""The issuer's protocol: credentials in, signed statements committed, holder documents out.

:func:`issue` is what ``credledger issue`` runs, for one credential or a cohort, and what a
program that issues through the library calls to be as crash-safe as the command line:

1. refuse to start while an interrupted batch of the issuer waits for ``recover``;
2. build and sign every statement, drawing a fresh 32-byte salt per credential;
3. write all the holder documents to one locked, fsynced pending file (``ledger.holder``);
4. append the batch (one atomic commit);
5. write each holder document, sync, remove the pending file.

A failure before the commit removes the pending file; one after it (or an interrupt whose
commit went through) keeps it and raises :class:`InterruptedAfterCommitError`, naming it.
docs/FORMAT.md §10.1 gives every step; §11 the batch file :func:`read_batch` reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import EncodingError, InterruptedAfterCommitError, LedgerError
from ledger.events import ISSUE, make_statement, sign_statement, subject_commitment
from ledger.files import open_regular
from ledger.holder import (
    PendingFile,
    committed,
    holder_document,
    issuer_dir,
    refuse_if_abandoned,
)

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
    refuse_if_abandoned(out, issuer_id, out_dir)
    if not requests:
        raise EncodingError("no credentials to issue")
    t = ledger.clock() if now is None else now
    items, docs = [], []
    for req in requests:
        try:
            expires = parse_date(req.expires, "expires")
            salt = secrets.token_bytes(32)
            st = make_statement(ISSUE, issuer_id, t, req.id, subject_commitment(salt, req.subject),
                                req.title, expires, req.document, list(req.parts))
        except LedgerError as exc:
            raise EncodingError(f"{req.where}: {exc}" if req.where else str(exc)) from None
        items.append(sign_statement(st, signer.seed))
        docs.append(holder_document(origin=ledger.origin, issuer_id=issuer_id, cred_id=req.id,
                                    subject=req.subject, salt=salt, title=req.title,
                                    expires=req.expires, parts=list(req.parts),
                                    document=req.document))
    pending = PendingFile(out, docs)
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
            raise
        pending.release()
        raise _after_commit(exc, pending, issuer_id, out_dir) from None
    try:
        pending.finish(docs)
    except BaseException as exc:  # noqa: BLE001 - committed: whatever stopped us, say so
        pending.release()
        raise _after_commit(exc, pending, issuer_id, out_dir) from None
    return Issued(appended, out, tuple(docs))


def _after_commit(exc: BaseException, pending: PendingFile, issuer_id: str,
                  out_dir: str | os.PathLike[str]) -> InterruptedAfterCommitError:
    return InterruptedAfterCommitError(
        f"interrupted after the batch was committed ({exc.__class__.__name__}); its holder "
        f"documents are in {pending.path}: run 'credledger recover {issuer_id} --out "
        f"{out_dir}'", str(pending.path), keyboard=isinstance(exc, KeyboardInterrupt))


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


_BATCH_FIELDS = {"id", "subject", "title", "expires", "parts", "document"}


def read_batch(path: str | os.PathLike[str]) -> Iterator[CredentialRequest]:
    """The credentials of a batch file (docs/FORMAT.md §11), each with its ``FILE:LINE``; a
    clear error for any bad line."""
    seen: set[str] = set()
    with open_regular(path, "a batch file") as f:  # a FIFO or a device is refused at once
        n = 0
        while raw := f.readline(MAX_BATCH_LINE + 1):  # bounded: a huge line is never held
            n += 1
            if n > MAX_BATCH_LINES:
                raise EncodingError(f"{path}: more than {MAX_BATCH_LINES} lines")
            if len(raw) > MAX_BATCH_LINE:
                raise EncodingError(f"{path}:{n}: line longer than {MAX_BATCH_LINE} bytes")
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
            extra = set(obj) - _BATCH_FIELDS
            if extra:
                raise EncodingError(f"{path}:{n}: unknown field {min(extra)!r}")
            for field in ("id", "subject", "title"):
                if not isinstance(obj.get(field), str):
                    raise EncodingError(f"{path}:{n}: {field!r} must be a string")
            if obj.get("parts") is not None and not isinstance(obj["parts"], list):
                raise EncodingError(f"{path}:{n}: 'parts' must be a list of credential ids")
            if obj["id"] in seen:
                raise EncodingError(f"{path}:{n}: credential id {obj['id']!r} appears twice")
            seen.add(obj["id"])
            where = f"{path}:{n}"
            try:
                document = (None if obj.get("document") is None
                            else parse_digest(obj["document"]))
            except EncodingError as exc:
                raise EncodingError(f"{where}: {exc}") from None
            yield CredentialRequest(obj["id"], obj["subject"], obj["title"], obj.get("expires"),
                                    tuple(obj.get("parts") or ()), document, where)
        if not seen:
            raise EncodingError(f"{path}: no credentials in the file")
