"""``credledger verify`` without click: the holder's and employer's command starts cold fast.

A verifier runs one command, once, on a laptop: its start-up is most of its cost, and through
click a cold verify misses its budget (benchmarks/README.md, "Cold start"). So
:func:`fast_main` parses a well-formed ``credledger verify ...`` command line itself and runs
:func:`run_verify`, the one implementation of the command, which the click command
(``ledger.cli``, for ``--help`` and for every command line this parser does not take) runs too.
Anything unusual (``--help``, an unknown or repeated-by-mistake option, a missing value, a
number click must range-check, a directory where a file goes) makes :func:`fast_main` return
None, and click then handles the command line and gives its usual usage error.
tests/test_cli.py runs both paths on the same command lines and compares their exit codes and
output.

The error mapping of the whole CLI (:func:`error_exit`) lives here too, so both paths map the
package's errors to the same one-line messages and exit codes (docs/ARCHITECTURE.md, "Errors and exit codes").
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

PROG = "credledger"


class CommandError(Exception):
    """A one-line error and its exit code (docs/ARCHITECTURE.md, "Errors and exit codes")."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def error_exit(exc: BaseException) -> CommandError | None:
    """The one-line error and exit code for an exception escaping a command; None for the
    exceptions a command line tool lets through (exits, and bugs while debugging)."""
    from ledger.errors import (
        InterruptedAfterCommitError,
        LedgerError,
        UsageError,
        VerificationError,
    )

    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, InterruptedAfterCommitError):
        return CommandError(str(exc), 130 if exc.keyboard else 3)
    if isinstance(exc, VerificationError):
        return CommandError(str(exc), 1)
    if isinstance(exc, UsageError):
        return CommandError(str(exc), 2)
    if isinstance(exc, LedgerError):
        return CommandError(str(exc), 3)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return CommandError(f"{where}{(exc.strerror or str(exc)).lower()}", 3)
    if isinstance(exc, MemoryError):
        return CommandError("out of memory", 3)
    if isinstance(exc, KeyboardInterrupt):
        return CommandError("interrupted; nothing partial was written", 130)
    if isinstance(exc, (SystemExit, GeneratorExit)) or not isinstance(exc, Exception):
        return None
    if os.environ.get("CREDLEDGER_DEBUG"):
        return None
    return CommandError(f"internal error ({exc.__class__.__name__}: {exc}); "
                        "set CREDLEDGER_DEBUG=1 for a traceback", 3)


def now_ms() -> int:
    return int(time.time() * 1000)


_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration(text: str, option: str = "--max-age") -> int:
    """``90m``, ``36h``, ``7d``, ``3600s`` -> milliseconds."""
    value, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise CommandError(f"{option}: want a duration like 90m, 36h or 7d, got {text!r}", 2)
    return int(value) * _UNITS[unit]


def day_start_ms(text: str, option: str = "--at") -> int:
    """``YYYY-MM-DD`` -> UTC milliseconds at the start of that day."""
    import datetime as dt

    day = None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            day = None
    if day is None:
        raise CommandError(f"{option}: want a date YYYY-MM-DD, got {text!r}", 2)
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


def read_input(path: str) -> bytes:
    """A bundle or holder document, refused when larger than any bundle can be."""
    from ledger.bundle import MAX_BUNDLE_SIZE

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BUNDLE_SIZE + 1)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file", 3) from None
    except IsADirectoryError:
        raise CommandError(f"{path}: is a directory", 3) from None
    if len(data) > MAX_BUNDLE_SIZE:
        raise CommandError(f"{path}: larger than {MAX_BUNDLE_SIZE} bytes; not a bundle", 1)
    return data


def run_verify(file: str, *, log_key: str | None, root: str | None, size: int | None,
               documents: tuple[str, ...] = (), at: str | None = None,
               witnesses: tuple[str, ...] = (), min_witnesses: int | None = None,
               max_age: str | None = None, as_json: bool = False) -> tuple[int, str, str]:
    """Run ``credledger verify``: return (exit code, stdout text, stderr error line or "").

    Usage problems and unreadable files raise :class:`CommandError`; other package errors
    propagate (map them with :func:`error_exit`).
    """
    from ledger.errors import LedgerError
    from ledger.holder import parse_holder_document
    from ledger.note import parse_verifier
    from ledger.printable import printable
    from ledger.verify import INVALID, verify_bundle

    if (log_key is None) == (root is None) or (root is None) != (size is None):
        raise CommandError("give --log-key VKEY, or --root HEX with --size N", 2)
    trusted_root = None
    if root is not None:
        try:
            trusted_root = bytes.fromhex(root)
        except ValueError:
            trusted_root = None
        if trusted_root is None or len(trusted_root) != 32:
            raise CommandError("--root: want a SHA-256 root as 64 hex digits", 2)
    verifier = parse_verifier(log_key.strip()) if log_key is not None else None
    at_ms = day_start_ms(at) if at is not None else now_ms()
    cosigners: tuple[Any, ...] = ()
    if witnesses:
        from ledger.witness import parse_cosigner

        cosigners = tuple(parse_cosigner(w) for w in witnesses)
    if min_witnesses is None:
        min_witnesses = 1 if cosigners else 0
    if min_witnesses > len(cosigners):
        raise CommandError(f"--min-witnesses {min_witnesses} needs that many --witness keys", 2)
    max_age_ms = parse_duration(max_age) if max_age is not None else None
    data = read_input(file)
    raw_docs = [read_input(d) for d in documents]
    try:
        docs = tuple(parse_holder_document(d) for d in raw_docs)
        verdict = verify_bundle(data, log_key=verifier, root=trusted_root, size=size, at=at_ms,
                                documents=docs, witnesses=cosigners, min_witnesses=min_witnesses,
                                max_age_ms=max_age_ms)
    except LedgerError as exc:
        if as_json:
            import json

            out = json.dumps({"valid": False, "answer": INVALID, "reason": str(exc)}) + "\n"
        else:
            out = f"INVALID    {printable(str(exc))}\n"
        return 1, out, f"the bundle does not verify: {printable(str(exc))}"
    if as_json:
        import json

        out = json.dumps(verdict.as_dict(), indent=2) + "\n"
    else:
        lines = [answer.describe() for answer in verdict.credentials]
        cp = verdict.checkpoint
        lines.append(f"as of checkpoint {cp.origin} size {cp.size} root {cp.root.hex()[:16]}..., "
                     f"trusted by {verdict.trusted_by}")
        out = "".join(printable(line) + "\n" for line in lines)
    return (0 if verdict.valid else 1), out, ""


# --------------------------------------------------------------------------------------------
# The fast path: a strict parser for well-formed command lines only.

_VALUED = {"--log-key": "log_key", "--root": "root", "--size": "size", "--at": "at",
           "--min-witnesses": "min_witnesses", "--max-age": "max_age"}
_MULTIPLE = {"--document": "documents", "--witness": "witnesses"}


def parse_verify_args(args: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`run_verify` for ``args`` (what follows ``verify``), or
    None when click should parse them (help, anything unusual, any usage error)."""
    opts: dict[str, Any] = {"log_key": None, "root": None, "size": None, "at": None,
                            "min_witnesses": None, "max_age": None, "as_json": False}
    multi: dict[str, list[str]] = {"documents": [], "witnesses": []}
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--json":
            opts["as_json"] = True
            continue
        if not arg.startswith("-"):
            files.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name not in _VALUED and name not in _MULTIPLE:
            return None  # --help, -h, --, unknown options: click's job
        if not eq:
            if i >= len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        if name in _MULTIPLE:
            multi[_MULTIPLE[name]].append(value)
        else:
            opts[_VALUED[name]] = value
    if len(files) != 1:
        return None
    for key in ("size", "min_witnesses"):
        if opts[key] is not None:
            if not re.fullmatch(r"[0-9]{1,18}", opts[key]):
                return None
            opts[key] = int(opts[key])
    for path in (*files, *multi["documents"]):
        if os.path.isdir(path):
            return None
    return {"file": files[0], "documents": tuple(multi["documents"]),
            "witnesses": tuple(multi["witnesses"]), **opts}


def fast_main(args: list[str]) -> int | None:
    """Run ``credledger verify ARGS`` without click; None when click should take it."""
    kwargs = parse_verify_args(args)
    if kwargs is None:
        return None
    try:
        code, out, err = run_verify(**kwargs)
        _write(sys.stdout, out)
    except BaseException as exc:
        mapped = error_exit(exc)
        if mapped is None:
            raise
        code, err = mapped.code, mapped.message
        if isinstance(exc, BrokenPipeError):  # the reader left: no flush at exit either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
    if err:
        from ledger.printable import printable

        try:
            _write(sys.stderr, f"{PROG}: error: {printable(err)}\n")
        except OSError:
            pass  # nowhere left to say it; the exit code still does
    return code


def _write(stream: Any, text: str) -> None:
    """Write as click.echo does: nothing to a closed stream, UTF-8 bytes when the stream's own
    encoding cannot take the text (a C locale), flushed."""
    if stream is None or not text:
        return
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.flush()
        stream.buffer.write(text.encode("utf-8"))
    stream.flush()
