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

ERROR_FORMAT = "credledger-error/1"
"""The ``format`` of an error under ``--json``: ``{"format": ..., "error": {"code": N,
"message": "..."}}``, one line on stderr, for every command (docs/ARCHITECTURE.md)."""

VERIFY_FORMAT = "credledger-verify/1"
"""The ``format`` of each of ``verify --json``'s answers (a list of them for several FILEs)."""


def json_format(command: str) -> str:
    """The ``format`` of a command's ``--json`` object: ``credledger-status/1``,
    ``credledger-issuer-add/1``. A field may be added in a version; one removed or changed in
    meaning takes a new version."""
    return f"{PROG}-{command.replace(' ', '-')}/1"


def json_error(code: int, message: str) -> str:
    """An error under ``--json``: one line of JSON (for stderr), in the one shape."""
    import json

    return json.dumps({"format": ERROR_FORMAT, "error": {"code": code, "message": message}})


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
    """A bundle, tlog-proof or credential, refused when larger than any bundle can be."""
    from ledger.bundle import MAX_BUNDLE_SIZE

    data = _read_file(path, MAX_BUNDLE_SIZE, "a proof bundle")
    if len(data) > MAX_BUNDLE_SIZE:
        raise CommandError(f"{path}: larger than {MAX_BUNDLE_SIZE} bytes; not a bundle", 1)
    return data


def _read_file(path: str, limit: int, what: str, option: str = "") -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path`` (``files.open_regular``: a
    FIFO or a device is refused at once, never waited on); one-line errors, exit 3."""
    from ledger.errors import NotFoundError, NotRegularFileError
    from ledger.files import open_regular

    where = f"{option}: {path}" if option else path
    try:
        with open_regular(path, what) as f:
            return f.read(limit + 1)
    except NotFoundError:
        raise CommandError(f"{where}: no such file", 3) from None
    except NotRegularFileError as exc:
        raise CommandError(f"{option}: {exc}" if option else str(exc), 3) from None


def file_kind(data: bytes) -> str:
    """What a file given to ``verify`` is: ``tlog-proof`` (by its header line), ``bundle`` (JSON
    of that format), ``credential`` (a JSON-LD document: an ``@context``), ``json`` (other
    JSON) or ``text`` (not JSON)."""
    import json

    from ledger.bundle import BUNDLE_FORMAT

    if data.startswith(b"c2sp.org/tlog-proof@"):
        from ledger.tlogproof import HEADER

        if data.startswith(HEADER.encode() + b"\n"):
            return "tlog-proof"
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return "text"
    if isinstance(value, dict):
        if "@context" in value:
            return "credential"
        if value.get("format") == BUNDLE_FORMAT:
            return "bundle"
    return "json"


def _invalid(reason: str, as_json: bool, what: str = "bundle") -> tuple[int, str, str]:
    from ledger.printable import printable
    from ledger.verify import INVALID

    if as_json:
        import json

        out = json.dumps({"format": VERIFY_FORMAT, "valid": False, "answer": INVALID,
                          "reason": reason}) + "\n"
    else:
        out = f"INVALID    {printable(reason)}\n"
    return 1, out, f"the {what} does not verify: {printable(reason)}"


LOG_KEY_ENV = "CREDLEDGER_LOG_KEY"
"""The environment variable that may hold trusted log keys (one or more VKEYs, whitespace
apart), used when no trust anchor is given on the command line."""

STDIN = "-"


def parse_root(text: str) -> bytes:
    """A trusted root: 64 hex digits, or the canonical base64 a checkpoint prints."""
    from ledger.parse import b64decode

    value = None
    if len(text) == 64:
        try:
            value = bytes.fromhex(text)
        except ValueError:
            value = None
    if value is None:
        try:
            value = b64decode(text)
        except ValueError:
            value = None
    if value is None or len(value) != 32:
        raise CommandError("--root: want a SHA-256 root as 64 hex digits or as the base64 a "
                           "checkpoint prints", 2)
    return value


def read_trust_file(path: str) -> list[str]:
    """The VKEYs of a trust file: one a line; blank lines and ``#`` comments ignored."""
    from ledger.note import MAX_NOTE_SIZE

    data = _read_file(path, MAX_NOTE_SIZE, "a trust file", "--trust")
    if len(data) > MAX_NOTE_SIZE:
        raise CommandError(f"--trust: {path}: larger than {MAX_NOTE_SIZE} bytes", 3)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"--trust: {path}: not UTF-8 text", 3) from None
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _origin_of(data: bytes) -> str | None:
    """The origin line of a bundle's or tlog-proof's checkpoint, or None if it has none."""
    note = None
    if data.startswith(b"c2sp.org/tlog-proof@"):
        parts = data.split(b"\n\n", 1)
        note = parts[1].decode("utf-8", "replace") if len(parts) == 2 else None
    else:
        import json

        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if isinstance(value, dict) and isinstance(value.get("checkpoint"), str):
            note = value["checkpoint"]
    if not note:
        return None
    return note.split("\n", 1)[0] or None


class _Trust:
    """The trust anchor of one run: a log key, or a (root, size) pin, or candidate log keys
    (``--trust``, ``CREDLEDGER_LOG_KEY``) chosen by each file's origin."""

    def __init__(self, verifier: Any, root: bytes | None, size: int | None,
                 candidates: tuple[Any, ...], source: str, trusted_by: str | None) -> None:
        self.verifier, self.root, self.size = verifier, root, size
        self.candidates, self.source, self.trusted_by = candidates, source, trusted_by

    def for_data(self, data: bytes) -> Any:
        """The verifier key for this file (None with a root pin)."""
        if self.verifier is not None or self.root is not None:
            return self.verifier
        origin = _origin_of(data)
        for v in self.candidates:
            if v.name == origin:
                return v
        named = f"{origin!r}" if origin else "its log (no checkpoint origin found)"
        have = "; " + self.source if self.source else ""
        raise CommandError(f"no trusted log key for {named}: give --log-key VKEY, set "
                           f"{LOG_KEY_ENV}, or list it in a --trust file; or pin --root HEX "
                           f"--size N, or --checkpoint FILE{have}", 2)


def _trust(log_key: str | None, root: str | None, size: int | None, checkpoint: str | None,
           trust: str | None) -> _Trust:
    from ledger.errors import LedgerError
    from ledger.note import parse_verifier

    if (root is None) != (size is None):
        raise CommandError("give --root HEX with --size N", 2)
    if root is not None and (log_key is not None or checkpoint is not None):
        raise CommandError("--root and --size are a trust anchor of their own: give them "
                           "without --log-key and --checkpoint", 2)
    verifier = None
    if log_key is not None:
        try:
            verifier = parse_verifier(log_key.strip())
        except LedgerError as exc:
            raise CommandError(f"--log-key: {exc}", 2) from None
    if checkpoint is not None:
        return _saved_checkpoint(checkpoint, verifier)
    if verifier is not None:
        return _Trust(verifier, None, None, (), "", None)
    if root is not None:
        return _Trust(None, parse_root(root), size, (), "", None)
    if trust is not None:
        texts, source = read_trust_file(trust), f"--trust {trust}"
    else:
        texts, source = os.environ.get(LOG_KEY_ENV, "").split(), LOG_KEY_ENV
    keys = []
    for text in texts:
        try:
            keys.append(parse_verifier(text))
        except LedgerError as exc:
            raise CommandError(f"{source}: {exc}", 2) from None
    names = ", ".join(sorted({k.name for k in keys}))
    return _Trust(None, None, None, tuple(keys),
                  f"{source} has keys for {names}" if keys else "", None)


def _saved_checkpoint(path: str, verifier: Any) -> _Trust:
    """``--checkpoint FILE``: a saved signed checkpoint, trusted as the (size, root) it names
    if it verifies under ``--log-key``; without ``--log-key``, a pin like --root/--size."""
    from ledger.errors import LedgerError
    from ledger.note import MAX_NOTE_SIZE, open_checkpoint, parse_checkpoint, parse_note

    data = _read_file(path, MAX_NOTE_SIZE, "a checkpoint", "--checkpoint")
    try:
        if verifier is not None:
            cp = open_checkpoint(data, verifier)
            how = f"checkpoint {path} signed by log key {verifier.name}+{verifier.key_id.hex()}"
        else:
            cp = parse_checkpoint(parse_note(data).text)
            how = f"checkpoint {path} (unsigned pin)"
    except LedgerError as exc:
        raise CommandError(f"--checkpoint: {path}: {exc}", 1) from None
    return _Trust(None, cp.root, cp.size, (), "",
                  f"{how}: root {cp.root.hex()} at size {cp.size}")


def _read_stdin() -> bytes:
    from ledger.bundle import MAX_BUNDLE_SIZE

    data = sys.stdin.buffer.read(MAX_BUNDLE_SIZE + 1)
    if len(data) > MAX_BUNDLE_SIZE:
        raise CommandError(f"stdin: larger than {MAX_BUNDLE_SIZE} bytes; not a bundle", 1)
    return data


def run_verify(files: str | tuple[str, ...], *, log_key: str | None, root: str | None,
               size: int | None, bundles: tuple[str, ...] = (),
               subject: str | None = None, at: str | None = None,
               witnesses: tuple[str, ...] = (), min_witnesses: int | None = None,
               max_age: str | None = None, as_json: bool = False,
               checkpoint: str | None = None, trust: str | None = None,
               ) -> tuple[int, str, str]:
    """Run ``credledger verify``: return (exit code, stdout text, stderr error lines or "").

    Each FILE is a holder's credential (an Open Badges credential, verified with its proof
    bundle: a FILE or ``--bundle``), a proof bundle, or a tlog-proof (``prove --format
    tlog-proof``), told apart by their first bytes; ``-`` is stdin (a bundle or tlog-proof).
    Each credential goes with the one bundle that proves it (:func:`_match_to_files`), and is
    answered in that bundle's block. With one proof, usage problems (including a file of the
    wrong kind) and unreadable files raise :class:`CommandError`; other package errors
    propagate (map them with :func:`error_exit`). With several, each is verified in turn, one
    block each (``--json``: a list), an error is said for its file, and the exit code is the
    worst. ``subject``: the holder's identifier, checked against every credential given.
    """
    if isinstance(files, str):
        files = (files,)
    if not files:
        raise CommandError("give a FILE to verify", 2)
    if (*files, *bundles).count(STDIN) > 1:
        raise CommandError("'-' (stdin) can be given once", 2)
    files, documents = _split_credentials(files, bundles)
    if subject is not None and not documents:
        raise CommandError("--subject checks the holder named in a credential: give the "
                           "credential FILE with its --bundle", 2)
    trust_ = _trust(log_key, root, size, checkpoint, trust)
    at_ms = day_start_ms(at) if at is not None else now_ms()
    cosigners: tuple[Any, ...] = ()
    if witnesses:
        from ledger.errors import LedgerError
        from ledger.witness import parse_cosigner

        try:
            cosigners = tuple(parse_cosigner(w) for w in witnesses)
        except LedgerError as exc:
            raise CommandError(f"--witness: {exc}", 2) from None
    if min_witnesses is None:
        min_witnesses = 1 if cosigners else 0
    if min_witnesses > len(cosigners):
        raise CommandError(f"--min-witnesses {min_witnesses} needs that many --witness keys", 2)
    if max_age is not None and not cosigners:
        raise CommandError("--max-age needs --witness: it bounds the age of the newest "
                           "trusted witness cosignature", 2)
    max_age_ms = parse_duration(max_age) if max_age is not None else None
    common: dict[str, Any] = {
        "trust": trust_, "documents": documents, "subject": subject, "at_ms": at_ms,
        "cosigners": cosigners, "min_witnesses": min_witnesses, "max_age_ms": max_age_ms,
        "as_json": as_json}
    if len(files) == 1:
        data = None
        if documents:  # each credential must be one the bundle names: else a usage error
            data = _read_stdin() if files[0] == STDIN else read_input(files[0])
            if not data.startswith(b"c2sp.org/"):  # a tlog-proof gets its own message
                _match_to_files({files[0]: data}, documents)
        return _verify_one(files[0], **common, data=data)
    datas: dict[str, bytes | Exception] = {}
    matched: dict[str, tuple[str, ...]] = {}
    if documents:
        from ledger.errors import LedgerError

        for file in files:
            try:
                datas[file] = _read_stdin() if file == STDIN else read_input(file)
            except (CommandError, LedgerError, OSError) as exc:  # said for its file below
                datas[file] = exc
        matched = _match_to_files(datas, documents)
    worst, outs, errs, results = 0, [], [], []
    from ledger.printable import printable

    for file in files:
        try:
            if file in datas:
                data = datas[file]
                if isinstance(data, Exception):
                    raise data
                code, out, err = _verify_one(file, **{**common,
                                                      "documents": matched.get(file, ())},
                                             data=data)
            else:
                code, out, err = _verify_one(file, **common)
        except Exception as exc:
            mapped = error_exit(exc)
            if mapped is None:
                raise
            code, out, err = mapped.code, "", mapped.message
            if as_json:
                import json

                out = json.dumps({"format": VERIFY_FORMAT, "valid": False, "answer": "ERROR",
                                  "reason": err})
        worst = max(worst, code)
        if err:
            errs.append(printable(f"{file}: {err}"))
        if as_json:
            import json

            value = json.loads(out)
            results.append({"format": value.pop("format"), "file": file, **value})
        else:
            outs.append(f"== {printable(file)} ==\n{out}")
    if as_json:
        import json

        return worst, json.dumps(results, indent=2) + "\n", "\n".join(errs)
    return worst, "\n".join(outs), "\n".join(errs)


def _split_credentials(files: tuple[str, ...], bundles: tuple[str, ...]
                       ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The proofs to verify (the FILEs that are not credentials, then each ``--bundle``) and
    the credentials among the FILEs (by their first bytes: a JSON object with ``@context``)."""
    proofs, credentials = [], []
    for file in files:
        if file != STDIN and _is_credential(file):
            credentials.append(file)
        else:
            proofs.append(file)
    proofs.extend(b for b in bundles if b not in proofs)
    if credentials and not proofs:
        raise CommandError(f"{credentials[0]} is a holder's credential: verify it with its proof "
                           f"bundle: {PROG} verify {credentials[0]} --bundle BUNDLE ('{PROG} "
                           "prove' writes it)", 2)
    return tuple(proofs), tuple(credentials)


def _is_credential(path: str) -> bool:
    """Whether the file at ``path`` starts as a credential does (``{`` and an ``@context``
    member within its first 4 kB); an unreadable one is left for verifying to report, and a
    FIFO or a device is never opened to be waited on (``files.open_regular``)."""
    from ledger.errors import LedgerError
    from ledger.files import open_regular

    try:
        with open_regular(path, "a proof bundle") as f:
            head = f.read(4096)
    except (OSError, LedgerError):
        return False
    text = head.lstrip()
    return text.startswith(b"{") and b'"@context"' in text


def _proven(data: bytes) -> tuple[str, set[str]]:
    """What a FILE says it proves, read but not verified (only to match credentials to one
    of several FILEs; verifying each FILE then checks it): its kind (``bundle`` or ``other``)
    and the credentials it names (a bundle's, with the parts among its entries)."""
    from ledger.bundle import parse_bundle
    from ledger.errors import LedgerError
    from ledger.events import ISSUE, decode_entry, decode_statement

    try:
        bundle = parse_bundle(data)
    except LedgerError:
        return "other", set()
    issued: dict[str, list[str]] = {}  # handle -> parts
    for raw, _ in bundle.entries.values():
        try:
            st = decode_statement(decode_entry(raw).statement)
        except LedgerError:
            continue
        if st.kind == ISSUE:
            issued[st.fields[0]] = list(st.fields[6])
    queue = [c for _, c in bundle.credentials]  # a bundle's credentials, then parts
    names: set[str] = set()
    while queue:
        name = queue.pop()
        if name not in names:
            names.add(name)
            queue.extend(issued.get(name, []))
    return "bundle", names


def _credential_id(path: str, raw: bytes) -> str:
    """A credential file's ``id``; a usage error (exit 2) if it is not a credential."""
    import json

    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise CommandError(f"{path}: not a holder's credential (a JSON object with an id)", 2)
    return value["id"]


def _match_to_files(datas: dict[str, bytes | Exception], documents: tuple[str, ...],
                    ) -> dict[str, tuple[str, ...]]:
    """With several proofs: each credential goes with the one bundle that proves it. One
    that goes with no bundle, or with several, is a usage error (exit 2) naming the fix:
    which proof it belongs to is never guessed."""
    from ledger.printable import printable

    proven = {f: _proven(d) if isinstance(d, bytes) else ("other", set())
              for f, d in datas.items()}
    docs: dict[str, list[str]] = {f: [] for f in datas}
    for doc in documents:
        handle = _credential_id(doc, read_input(doc))
        where = [f for f, (kind, names) in proven.items() if kind == "bundle" and handle in names]
        if len(where) != 1:
            how = "none of the bundles proves" if not where else f"{len(where)} bundles prove"
            raise CommandError(f"{doc}: {how} its credential {printable(handle)}; verify it "
                               f"with its own bundle: {PROG} verify {doc} --bundle BUNDLE", 2)
        docs[where[0]].append(doc)
    return {f: tuple(docs[f]) for f in datas}


def _verify_one(file: str, *, trust: _Trust, documents: tuple[str, ...],
                subject: str | None, at_ms: int, cosigners: tuple[Any, ...],
                min_witnesses: int, max_age_ms: int | None,
                as_json: bool, data: bytes | None = None) -> tuple[int, str, str]:
    from dataclasses import replace

    from ledger.errors import LedgerError
    from ledger.printable import printable
    from ledger.verify import verify_bundle

    if data is None:
        data = _read_stdin() if file == STDIN else read_input(file)
    verifier = trust.for_data(data)
    raw_docs = [(d, read_input(d)) for d in documents]
    kind = file_kind(data) if data.startswith(b"c2sp.org/") else "bundle"
    if kind == "tlog-proof":
        if documents:
            raise CommandError(f"{file} is a tlog-proof, which proves only that an entry is "
                               "in the log; check a holder's credential with its proof "
                               "bundle", 2)
        return _run_tlog_proof(file, data, verifier=verifier, root=trust.root, size=trust.size,
                               at_ms=at_ms, cosigners=cosigners, min_witnesses=min_witnesses,
                               max_age_ms=max_age_ms, as_json=as_json,
                               trusted_by=trust.trusted_by)
    try:
        docs = [_credential_json(name, raw) for name, raw in raw_docs]
        verdict = verify_bundle(data, log_key=verifier, root=trust.root, size=trust.size,
                                at=at_ms, credentials=tuple(docs), subject=subject,
                                witnesses=cosigners, min_witnesses=min_witnesses,
                                max_age_ms=max_age_ms)
        if trust.trusted_by is not None:
            verdict = replace(verdict, trusted_by=trust.trusted_by +
                              verdict.trusted_by.partition(",")[1] +
                              verdict.trusted_by.partition(",")[2])
    except LedgerError as exc:
        reason = str(exc)
        what = file_kind(data)
        if what == "credential":
            raise CommandError(f"{file} is a holder's credential, not a proof bundle: "
                               f"{PROG} verify {file} --bundle BUNDLE", 2) from None
        if what == "text":
            reason = f"{file}: not a proof bundle (not JSON)"
        return _invalid(reason, as_json)
    if as_json:
        import json

        result = {"format": VERIFY_FORMAT, **verdict.as_dict()}
        out = json.dumps(result, indent=2) + "\n"
    else:
        lines = [answer.describe() for answer in verdict.credentials]
        cp = verdict.checkpoint
        from ledger.verify import _iso

        when = (f"as of {_iso(verdict.as_of)} (the time of the checkpoint's last entry): "
                if verdict.as_of is not None else "as of an empty log: ")
        lines.append(f"{when}checkpoint {cp.origin} size {cp.size} root "
                     f"{cp.root.hex()[:16]}..., trusted by {verdict.trusted_by}")
        out = "".join(printable(line) + "\n" for line in lines)
    return (0 if verdict.valid else 1), out, ""


def _credential_json(name: str, raw: bytes) -> dict[str, Any]:
    """A credential file as strict JSON (``openbadges.parse_credential``: bounded, no member
    named twice); a file of another kind is a usage error naming what it is."""
    from ledger.errors import CredentialError, EncodingError
    from ledger.openbadges import parse_credential

    what = file_kind(raw)
    if what in ("bundle", "tlog-proof"):
        raise CommandError(f"{name} is a {'proof bundle' if what == 'bundle' else what}, not a "
                           "holder's credential: give it as FILE or --bundle", 2)
    try:
        return parse_credential(raw)
    except EncodingError as exc:
        raise CommandError(f"{name}: not a holder's credential ({exc})", 2) from None
    except CredentialError as exc:  # INVALID: the answer names the file, as it has no id yet
        raise CredentialError(f"{name}: the credential: {exc}") from None


def _run_tlog_proof(file: str, data: bytes, *, verifier: Any, root: bytes | None,
                    size: int | None, at_ms: int, cosigners: tuple[Any, ...],
                    min_witnesses: int, max_age_ms: int | None, as_json: bool,
                    trusted_by: str | None = None) -> tuple[int, str, str]:
    """``credledger verify`` of a tlog-proof: the entry is in the trusted checkpoint's tree
    (docs/FORMAT.md §8). Says what the entry is; proves nothing about a credential's status."""
    from ledger.errors import LedgerError, ProofError
    from ledger.events import ISSUE, REINSTATE, REVOKE, SUSPEND, decode_entry, key_id
    from ledger.tlogproof import check_tlog_proof, parse_tlog_proof
    from ledger.verify import _iso

    try:
        cp, index, raw = check_tlog_proof(data, verifier=verifier, root=root, size=size)
        if trusted_by is None:
            trusted_by = (f"log key {verifier.name}+{verifier.key_id.hex()}"
                          if verifier is not None else f"root {cp.root.hex()} at size {cp.size}")
        if cosigners or min_witnesses or max_age_ms is not None:
            from ledger.witness import check_witness_policy

            times = check_witness_policy(parse_tlog_proof(data).note, cosigners,
                                         min_witnesses=min_witnesses, max_age_ms=max_age_ms,
                                         now_ms=at_ms)
            trusted_by += f", cosigned by {', '.join(sorted(times)) or 'no trusted witness'}"
        entry = decode_entry(raw)
        if entry.index != index:
            raise ProofError(f"tlog-proof: the entry at index {index} says it is entry "
                              f"{entry.index}")
        st = entry.signed().verify()
        cred = f"{st.issuer}/{st.fields[0]}" if st.kind in (ISSUE, REVOKE, SUSPEND,
                                                             REINSTATE) else st.issuer
        digest = st.fields[1].hex() if st.kind == ISSUE else None
    except LedgerError as exc:
        return _invalid(str(exc), as_json, "tlog-proof")
    title = st.fields[2] if st.kind == ISSUE else None
    if as_json:
        import json

        result: dict[str, Any] = {
            "format": VERIFY_FORMAT, "valid": True, "answer": "INCLUDED", "proof": "tlog-proof", "index": index,
            "checkpoint": {"origin": cp.origin, "size": cp.size, "root": cp.root.hex()},
            "trusted_by": trusted_by, "at": _iso(at_ms),
            "entry": {"kind": st.kind, "issuer": st.issuer,
                      "id": st.fields[0] if cred != st.issuer else None, "achievement": title,
                      "time": _iso(entry.time), "key_id": key_id(entry.signer),
                      "digest": digest}}
        return 0, json.dumps(result, indent=2) + "\n", ""
    named = f"{cred} (achievement {title})" if title is not None else cred
    first = (f"INCLUDED   entry {index} is in the log: {st.kind} {named} "
             f"({_iso(entry.time)}), signed by key {key_id(entry.signer)}")
    lines = [first]
    if digest is not None:
        lines.append(f"{'':10} {cred}: the log commits to the credential of digest {digest}")
    lines.append(f"as of checkpoint {cp.origin} size {cp.size} root {cp.root.hex()[:16]}..., "
                 f"trusted by {trusted_by}")
    lines.append(f"{'':10} a tlog-proof proves inclusion only: not that the key was the "
                 "issuer's, nor the credential's status (a proof bundle does)")
    from ledger.printable import printable

    return 0, "".join(printable(line) + "\n" for line in lines), ""


# --------------------------------------------------------------------------------------------
# The fast path: a strict parser for well-formed command lines only.

_VALUED = {"--log-key": "log_key", "--root": "root", "--size": "size", "--at": "at",
           "--min-witnesses": "min_witnesses", "--max-age": "max_age",
           "--checkpoint": "checkpoint", "--trust": "trust", "--subject": "subject"}
_MULTIPLE = {"--bundle": "bundles", "--witness": "witnesses"}


def parse_verify_args(args: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`run_verify` for ``args`` (what follows ``verify``), or
    None when click should parse them (help, anything unusual, any usage error)."""
    opts: dict[str, Any] = {"log_key": None, "root": None, "size": None, "at": None,
                            "min_witnesses": None, "max_age": None, "as_json": False,
                            "checkpoint": None, "trust": None, "subject": None}
    multi: dict[str, list[str]] = {"bundles": [], "witnesses": []}
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--json":
            opts["as_json"] = True
            continue
        if not arg.startswith("-") or arg == STDIN:
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
    if not files:
        return None
    for key in ("size", "min_witnesses"):
        if opts[key] is not None:
            if not re.fullmatch(r"[0-9]{1,18}", opts[key]):
                return None
            opts[key] = int(opts[key])
    for path in (*files, *multi["bundles"]):
        if path != STDIN and os.path.isdir(path):
            return None
    return {"files": tuple(files), "bundles": tuple(multi["bundles"]),
            "witnesses": tuple(multi["witnesses"]), **opts}


def fast_main(args: list[str]) -> int | None:
    """Run ``credledger verify ARGS`` without click; None when click should take it."""
    kwargs = parse_verify_args(args)
    if kwargs is None:
        return None
    as_json = bool(kwargs["as_json"])
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
            _write(sys.stderr, json_error(code, "; ".join(err.split("\n"))) + "\n" if as_json
                   else "".join(f"{PROG}: error: {printable(line)}\n" for line in err.split("\n")))
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
