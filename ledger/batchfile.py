"""The batch file an issuer hands ``credledger issue --batch`` (docs/FORMAT.md §11): JSONL, or
CSV with a header and an optional column mapping (§11.1), read strictly into
:class:`CredentialRequest` values, each error naming ``FILE:LINE``; and the small readers the
requests need (dates) and ``prove-all``'s cohort file (:func:`read_cohort`).
Reading only: ``ledger.issuance`` issues what is read here."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ledger.errors import EncodingError, UsageError
from ledger.events import check_id
from ledger.files import open_regular, read_regular

MAX_BATCH_LINE = 70_000


MAX_BATCH_LINES = 1_000_000


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    """One credential to issue: ``id`` the issuer's own id for it (it names the file and
    never enters the log); ``subject`` who it is for and ``subject_type`` what that is (an
    Open Badges identity type: ``emailAddress``, ``sisSourcedId`` (a student number) or
    ``name``; only a salted hash of it is in the credential); ``achievement`` the registered
    achievement it awards; ``result`` an optional grade or score; ``expires`` the last valid
    day, ``YYYY-MM-DD``; ``parts`` the own ids of credentials it stacks; ``where`` where the
    request came from (``FILE:LINE``), for error messages."""

    id: str
    subject: str
    achievement: str
    subject_type: str = "name"
    result: str | None = None
    expires: str | None = None
    parts: tuple[str, ...] = ()
    where: str = ""


SUBJECT_TYPES = ("emailAddress", "sisSourcedId", "name")
"""The identity types a request's subject may have (docs/FORMAT.md §11)."""


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


_BATCH_FIELDS = ("id", "subject", "subject_type", "achievement", "result", "expires", "parts")
_REQUIRED = ("id", "subject", "achievement")


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
        for field in _REQUIRED:
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
                elif field in ("expires", "result", "subject_type"):
                    obj[field] = cell.strip() or None
                else:
                    obj[field] = cell
            yield start, obj
    except csv.Error as exc:
        raise EncodingError(f"{path}:{start}: not CSV ({str(exc)[:80]})") from None


def _request(obj: dict[str, Any], where: str, seen: set[str]) -> CredentialRequest:
    for field in _REQUIRED:
        if not isinstance(obj.get(field), str):
            raise EncodingError(f"{where}: {field!r} must be a string")
    for field in ("result", "expires", "subject_type"):
        if obj.get(field) is not None and not isinstance(obj[field], str):
            raise EncodingError(f"{where}: {field!r} must be a string")
    if obj.get("parts") is not None and not (isinstance(obj["parts"], list) and all(
            isinstance(p, str) for p in obj["parts"])):
        raise EncodingError(f"{where}: 'parts' must be a list of credential ids")
    subject_type = obj.get("subject_type") or "name"
    if subject_type not in SUBJECT_TYPES:
        raise EncodingError(f"{where}: 'subject_type' must be one of {', '.join(SUBJECT_TYPES)}, "
                            f"got {subject_type[:40]!r}")
    if obj["id"] in seen:
        raise EncodingError(f"{where}: credential id {obj['id']!r} appears twice")
    seen.add(obj["id"])
    return CredentialRequest(obj["id"], obj["subject"], obj["achievement"], subject_type,
                             obj.get("result"), obj.get("expires"),
                             tuple(obj.get("parts") or ()), where)
