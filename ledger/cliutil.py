"""What every command of the command line shares: the error type and its exit codes, the
``--json`` option and the one way results are printed, opening the store, reading keys and
small files, and the few renderings (times, counts) used by several commands.

Exit codes (docs/ARCHITECTURE.md, "Errors and exit codes"), mapped in one place (:class:`Group`):
0 ok; 1 verification failed or the answer is "not valid"; 2 usage error; 3 any other error
(refused event, missing store, bad key file). Data goes to stdout (``--json``: one JSON object
with its ``format``); messages and progress to stderr, and errors (``--json``: one line of
JSON, :func:`ledger.verifycmd.json_error`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ledger.errors import EncodingError
from ledger.files import write_atomic
from ledger.printable import printable, printable_lines
from ledger.verifycmd import error_exit, json_error, json_format, now_ms

F = TypeVar("F", bound=Callable[..., Any])

class Failure(click.ClickException):
    """A one-line error with its exit code (docs/ARCHITECTURE.md, "Errors and exit codes")."""

    def __init__(self, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: Any = None) -> None:
        if JSON_ERRORS.get():
            click.echo(json_error(self.exit_code, self.format_message()), err=True)
        else:
            click.echo(f"credledger: error: {printable(self.format_message())}", err=True)


JSON_ERRORS: ContextVar[bool] = ContextVar("JSON_ERRORS", default=False)
"""Whether the command line asked for ``--json``, and so for errors as JSON: known before
click parses it (a usage error may stop the parse before ``--json`` is reached)."""


def wants_json(args: Sequence[str]) -> bool:
    """``--json`` among the words of a command line (before a ``--``)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def _as_failure(exc: click.ClickException) -> click.ClickException:
    """Under --json, every error is a :class:`Failure` (which shows itself as JSON): click's
    usage errors too."""
    if JSON_ERRORS.get() and not isinstance(exc, Failure):
        return Failure(exc.format_message(), exc.exit_code)
    return exc


class Group(click.Group):
    """Turns the package's errors (and the few OS errors that reach us) into exit codes; with
    ``--json`` anywhere on the command line, every error into one line of JSON on stderr
    (:func:`ledger.verifycmd.json_error`)."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **extra: Any) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        token = JSON_ERRORS.set(wants_json(words))
        try:
            return super().main(words, *rest, **extra)
        finally:
            JSON_ERRORS.reset(token)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            raise _as_failure(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            raise _as_failure(exc) from None
        except (click.exceptions.Exit, click.Abort):
            raise
        except BaseException as exc:
            mapped = error_exit(exc)
            if mapped is None:
                raise
            raise Failure(mapped.message, mapped.code) from None


def _dir_after_command(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--dir`` after the command: the same as before it (``credledger --dir DIR status``);
    given in both places with two different directories, a usage error. Either wins over
    CREDLEDGER_DIR."""
    if value is None:
        return
    root = ctx.find_root()
    before = root.params.get("store_dir")
    if root.get_parameter_source("store_dir") is ParameterSource.COMMANDLINE and before != value:
        raise click.UsageError(f"--dir is given twice: {before!r} before the command and "
                               f"{value!r} after it; give one", ctx)
    ctx.ensure_object(dict)["dir"] = value


def dir_option(f: F) -> F:
    """``--dir DIR`` on a command that opens the store, as well as before the command."""
    return click.option("--dir", metavar="DIR", default=None, expose_value=False,
                        callback=_dir_after_command,
                        help="The ledger store directory, as 'credledger --dir DIR' before "
                             "the command (or set CREDLEDGER_DIR).")(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)


def emit(as_json: bool, data: dict[str, Any], human: str, note: str | None = None) -> None:
    """The result on stdout (JSON, or ``human``), and nothing else: ``note``, a message for
    the person at the terminal, goes to stderr, so that ``$(credledger ...)`` is the result."""
    if as_json:
        assert "format" not in data
        click.echo(json.dumps({"format": json_format(command_name()), **data}, indent=2))
    else:
        click.echo(printable_lines(human))
        if note:
            click.echo(printable_lines(note), err=True)


def secho(text: str, fg: str) -> None:
    """``text`` on stdout in colour ``fg``, unless NO_COLOR is set to anything but the empty
    string (no-color.org); click leaves colour out anyway when stdout is not a terminal."""
    click.echo(text if os.environ.get("NO_COLOR") else click.style(text, fg=fg))


def command_name() -> str:
    """The running command's words after ``credledger``: ``status``, ``issuer add``."""
    ctx: click.Context | None = click.get_current_context()
    words: list[str] = []
    while ctx is not None and ctx.parent is not None:
        words.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(words))


def store_path(ctx: click.Context) -> Path:
    return Path(ctx.obj["dir"])


def open_ledger(ctx: click.Context, *, readonly: bool | None = None) -> Any:
    """The store of ``--dir``, opened read-only for the commands that only read (READERS) or
    when ``readonly`` says so, else for writing (noting once on stderr a long wait for another
    writer's lock)."""
    from ledger.log import Ledger
    from ledger.parallel import default_workers

    said: list[bool] = []

    def waiting() -> None:  # from a timer thread, once a wait: say it once a command
        if not said:
            said.append(True)
            click.echo("credledger: waiting for another writer: another process holds the "
                       "store's write lock (a big batch?); going on once it is released",
                       err=True)
    return Ledger.open(store_path(ctx), workers=default_workers(),  # every core for big batches
                       on_wait=waiting,
                       readonly=command_name() in READERS if readonly is None else readonly)


def _log_value(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        ctx.ensure_object(dict)[name] = value
    return store


def log_options(f: F) -> F:
    """``--log URL``, ``--log-key VKEY`` and ``--state-dir DIR`` on an issuer's command: the
    log on a server (``credledger serve``) instead of the store of ``--dir``."""
    f = click.option("--state-dir", metavar="DIR", default=None, expose_value=False,
                     callback=_log_value("state_dir"),
                     help="With --log: where this client keeps the last checkpoint it saw of "
                          "the log and its record of pending files (default: "
                          "OUT/.credledger-state, or $CREDLEDGER_STATE_DIR).")(f)
    f = click.option("--log-key", metavar="VKEY", envvar="CREDLEDGER_LOG_KEY", default=None,
                     expose_value=False, callback=_log_value("log_key"),
                     help="With --log: the log's verifier key, which every answer must check "
                          "out against (or set CREDLEDGER_LOG_KEY).")(f)
    return click.option("--log", "log_url", metavar="URL", envvar="CREDLEDGER_LOG_URL",
                        default=None, expose_value=False, callback=_log_value("log_url"),
                        help="Append to the log served at URL ('credledger serve') instead of "
                             "the store of --dir (or set CREDLEDGER_LOG_URL; a bearer token "
                             "in CREDLEDGER_LOG_TOKEN).")(f)


def remote_url(ctx: click.Context) -> str | None:
    """The ``--log`` URL of the running command, if one was given."""
    return (ctx.obj or {}).get("log_url") or None


def open_log(ctx: click.Context, out_dir: str | os.PathLike[str] = "credentials", *,
             readonly: bool | None = None) -> Any:
    """The log a command appends to: a ``ledger.remote.RemoteLog`` with ``--log`` (its state
    directory: --state-dir, else OUT/.credledger-state), else the store (:func:`open_ledger`)."""
    url = remote_url(ctx)
    if url is None:
        return open_ledger(ctx, readonly=readonly)
    from ledger.remote import open_remote, state_dir_for

    key = ctx.obj.get("log_key")
    if not key:
        raise Failure("--log needs the log's verifier key: --log-key VKEY (or set "
                      "CREDLEDGER_LOG_KEY), as 'credledger init' printed it", 2)
    return open_remote(url, key, token=os.environ.get("CREDLEDGER_LOG_TOKEN"),
                       state_dir=state_dir_for(out_dir, ctx.obj.get("state_dir")))


READERS = frozenset({"status", "entry", "consistency", "backup", "audit", "export tiles",
                     "achievement show"})
"""The commands that only read the store: they open it read-only, and so never wait for a
writer (opening a store for writing takes LMDB's write lock for a moment)."""


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def parse_vkey(text: str) -> Any:
    from ledger.note import parse_verifier

    return parse_verifier(text.strip())


def now() -> int:
    return now_ms()


def read_key(path: str) -> Any:
    from ledger.keys import read_signer

    return read_signer(path, passphrase_prompt(path))


def passphrase_prompt(file: str | os.PathLike[str]) -> Callable[[], str]:
    """Ask for an encrypted key file's passphrase, only if the file turns out encrypted and
    CREDLEDGER_PASSPHRASE is not set, and only on a terminal."""
    def ask() -> str:
        if not sys.stdin.isatty():
            raise Failure(f"{file}: key file is encrypted; set CREDLEDGER_PASSPHRASE", 3)
        return str(click.prompt(f"Passphrase for {file}", hide_input=True, err=True))
    return ask


def new_passphrase() -> str:
    """A passphrase for new key files: CREDLEDGER_PASSPHRASE, or asked twice on a terminal."""
    env = os.environ.get("CREDLEDGER_PASSPHRASE")
    if env:
        return env
    if not sys.stdin.isatty():
        raise Failure("--encrypt: set CREDLEDGER_PASSPHRASE or run on a terminal", 2)
    return str(click.prompt("Passphrase", hide_input=True, confirmation_prompt=True, err=True))


def sign(st: Any, signer: Any) -> Any:
    from ledger.events import sign_statement

    return sign_statement(st, signer.seed)


def append(ledger: Any, items: list[Any], progress: Any = None) -> Any:
    return ledger.append(items, progress=progress)


def report_append(as_json: bool, res: Any, what: str, extra: dict[str, Any] | None = None) -> None:
    data = {"first_index": res.first, "count": res.count, "size": res.size,
            "root": res.root.hex(), **(extra or {})}
    where = (f"entry {res.first}" if res.count == 1
             else f"entries {res.first}..{res.first + res.count - 1}")
    emit(as_json, data, f"{what}: {where}; the log now has {plural(res.size, 'entry', 'entries')}")


def plural(n: int, one: str, many: str) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{n} {one if n == 1 else many}"


MAX_TEXT_FILE = 1 << 20


def read_text_file(path: str | os.PathLike[str], what: str) -> str:
    """A small UTF-8 input file (a note, a proof, a pending file); one-line errors, and never
    a hang on a FIFO or an endless read of a device (ledger.files.read_regular)."""
    from ledger.files import read_regular

    data = read_regular(path, MAX_TEXT_FILE, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EncodingError(f"{path}: not UTF-8 text; not {what}") from None


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[
        :-4] + "Z"


def write_out(output: str | None, text: str, *, mode: int = 0o644, quiet: bool = False) -> None:
    """``text`` to the file ``output`` (atomically; then a note on stderr, unless ``quiet``),
    or to stdout."""
    if output is None:
        click.echo(text, nl=False)
        return
    path = Path(output)
    if path.is_dir():
        raise Failure(f"{output}: is a directory; -o takes a file", 2)
    write_atomic(path, text.encode("utf-8"), mode=mode)
    if not quiet:
        click.echo(f"wrote {output}", err=True)
