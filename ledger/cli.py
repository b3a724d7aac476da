"""``credledger``: the command line (click). Parse, call, render; nothing else.

Exit codes (docs/ARCHITECTURE.md, "Errors and exit codes"), mapped in one place (:class:`_Group`): 0 ok; 1 verification failed or
the answer is "not valid"; 2 usage error; 3 any other error (refused event, missing store, bad
key file). Data goes to stdout (``--json``: one JSON object); messages and progress to stderr.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ledger import __version__
from ledger.errors import EncodingError, NotFoundError
from ledger.files import fsync_path, write_atomic
from ledger.printable import printable, printable_lines
from ledger.verifycmd import CommandError, error_exit, now_ms, run_verify

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DIR = "./credledger-data"


class Failure(click.ClickException):
    """A one-line error with its exit code (docs/ARCHITECTURE.md, "Errors and exit codes")."""

    def __init__(self, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: Any = None) -> None:
        click.echo(f"credledger: error: {printable(self.format_message())}", err=True)


class _Group(click.Group):
    """Turns the package's errors (and the few OS errors that reach us) into exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BaseException as exc:
            mapped = error_exit(exc)
            if mapped is None:
                raise
            raise Failure(mapped.message, mapped.code) from None


def _json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)


def _emit(as_json: bool, data: dict[str, Any], human: str, note: str | None = None) -> None:
    """The result on stdout (JSON, or ``human``), and nothing else: ``note``, a message for
    the person at the terminal, goes to stderr, so that ``$(credledger ...)`` is the result."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=False))
    else:
        click.echo(printable_lines(human))
        if note:
            click.echo(printable_lines(note), err=True)


def _store_dir(ctx: click.Context) -> Path:
    return Path(ctx.obj["dir"])


def _open(ctx: click.Context) -> Any:
    from ledger.log import Ledger
    from ledger.parallel import default_workers

    return Ledger.open(_store_dir(ctx), workers=default_workers())  # every core for big batches


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=_Group, context_settings=CONTEXT)
@click.option("--dir", "store_dir", envvar="CREDLEDGER_DIR", default=DEFAULT_DIR,
              show_default=True, metavar="DIR",
              help="The ledger store directory (or set CREDLEDGER_DIR).")
@click.version_option(version=__version__, prog_name="credledger")
@click.pass_context
def cli(ctx: click.Context, store_dir: str) -> None:
    """credential-ledger: micro-credentials in an append-only Merkle log, checkable offline.

    \b
    Example (the whole story, narrated, on a fresh temporary store):
      credledger demo
    """
    ctx.ensure_object(dict)
    ctx.obj["dir"] = store_dir


def main() -> None:
    """The console script (see ledger/main.py, which the installed ``credledger`` runs)."""
    from ledger.main import main as entry

    entry()


# ------------------------------------------------------------------------------- set-up


@cli.command()
@click.option("--origin", required=True, help="The log's name, e.g. example.org/credentials.")
@click.option("--encrypt", is_flag=True,
              help="Protect both key files with a passphrase (asked twice, or "
                   "CREDLEDGER_PASSPHRASE).")
@_json_option
@click.pass_context
def init(ctx: click.Context, origin: str, encrypt: bool, as_json: bool) -> None:
    """Create the store, the log key and the registry key; print their verifier keys.

    Stdout: the log verifier key, then the registry verifier key, one a line. The keys are
    written to DIR/keys/log.key and DIR/keys/registry.key (mode 0600).
    Publish the log verifier key: verifiers and auditors trust it.

    \b
    Example:
      credledger --dir ./ledger init --origin example.org/credentials
    """
    from ledger.log import Ledger

    _check_origin(origin)
    passphrase = _new_passphrase() if encrypt else None
    ledger, log_signer, registry = Ledger.create(_store_dir(ctx), origin, passphrase=passphrase)
    with ledger:
        data = {"dir": str(_store_dir(ctx)), "origin": origin,
                "log_vkey": str(log_signer.verifier()),
                "registry_vkey": str(registry.verifier())}
    _emit(as_json, data, f"{data['log_vkey']}\n{data['registry_vkey']}",
          f"(created ledger {origin!r} in {data['dir']}; above: the log verifier key, publish "
          "it, verifiers trust it; then the registry verifier key)")


def _check_origin(origin: str) -> None:
    if not origin or len(origin) > 256 or any(c.isspace() or c == "+" for c in origin) or (
        not origin.isprintable()
    ):
        raise Failure("--origin: want a non-empty name without spaces or '+', "
                      "e.g. example.org/credentials", 2)


@cli.group(cls=_Group)
def key() -> None:
    """Make and inspect Ed25519 key files.

    \b
    Example:
      credledger key new uni.key --name uni.example
    """


@key.command("new")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="The key's name (default: the file name's stem).")
@click.option("--encrypt", is_flag=True,
              help="Protect the key file with a passphrase (asked twice, or CREDLEDGER_PASSPHRASE).")
@_json_option
def key_new(file: str, name: str | None, encrypt: bool, as_json: bool) -> None:
    """Make an Ed25519 key file (mode 0600) and print its verifier key.

    With --encrypt the key is sealed with a passphrase (scrypt, ChaCha20-Poly1305); every
    command that reads it asks for the passphrase, or takes CREDLEDGER_PASSPHRASE.

    \b
    Examples:
      credledger key new uni.key --name uni.example
      credledger key new uni.key --name uni.example --encrypt
    """
    from ledger.events import key_id
    from ledger.keys import write_signer
    from ledger.note import Signer

    name = name or Path(file).stem
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise Failure("--name: want a name without spaces or '+'", 2)
    passphrase = _new_passphrase() if encrypt else None
    signer = Signer.generate(name)
    write_signer(file, signer, passphrase)
    vkey = str(signer.verifier())
    _emit(as_json, {"file": file, "vkey": vkey, "key_id": key_id(signer.public_key)}, vkey,
          f"(key id {key_id(signer.public_key)}; the private key is in {file}, mode 0600)")


@key.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@_json_option
def key_show(file: str, as_json: bool) -> None:
    """Print the verifier key of a key file (never the private key).

    \b
    Example:
      credledger key show uni.key
    """
    from ledger.events import key_id
    from ledger.keys import read_signer

    signer = read_signer(file, _passphrase_prompt(file))
    vkey = str(signer.verifier())
    _emit(as_json, {"vkey": vkey, "key_id": key_id(signer.public_key)}, vkey)


# ------------------------------------------------------------------------------- issuers


@cli.group(cls=_Group)
def issuer() -> None:
    """Register issuers and manage their keys.

    \b
    Example:
      credledger issuer add uni --key "$(credledger key show uni.key)" --name "Example University"
    """


def _parse_vkey(text: str) -> Any:
    from ledger.note import parse_verifier

    return parse_verifier(text.strip())


@issuer.command("add")
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--key", "vkey", required=True, metavar="VKEY",
              help="The issuer's verifier key (from 'credledger key new').")
@click.option("--name", default="", help="The issuer's display name.")
@click.option("--url", default="", help="The issuer's web address.")
@click.option("--registry-key", type=click.Path(dir_okay=False), default=None,
              help="The registry key file (default: DIR/keys/registry.key).")
@_json_option
@click.pass_context
def issuer_add(ctx: click.Context, issuer_id: str, vkey: str, name: str, url: str,
               registry_key: str | None, as_json: bool) -> None:
    """Register an issuer with its public key (signed by the registry key).

    \b
    Example:
      credledger issuer add uni --key "$(credledger key show uni.key)" --name "Example University"
    """
    from ledger.events import REGISTER_ISSUER, make_statement

    verifier = _parse_vkey(vkey)
    with _open(ctx) as ledger:
        reg = (_read_key(registry_key) if registry_key
               else ledger.registry_signer(_passphrase_prompt(ledger.key_path("registry.key"))))
        st = make_statement(REGISTER_ISSUER, issuer_id, _now(), name, url, verifier.public_key)
        res = _append(ledger, [_sign(st, reg)])
    _report(as_json, res, f"registered issuer {issuer_id!r}")


@issuer.command("rotate")
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="A current key file of the issuer (signs the rotation).")
@click.option("--new-key", "new_key_file", required=True, type=click.Path(dir_okay=False),
              help="The new key file (make it with 'credledger key new').")
@_json_option
@click.pass_context
def issuer_rotate(ctx: click.Context, issuer_id: str, key_file: str, new_key_file: str,
                  as_json: bool) -> None:
    """Replace an issuer's key with a new one (signed by the current key).

    Credentials signed with the old key stay valid; the old key can sign nothing more.

    \b
    Example:
      credledger key new uni-2027.key --name uni.example
      credledger issuer rotate uni --key uni.key --new-key uni-2027.key
    """
    from ledger.events import ROTATE_KEY, make_statement

    signer = _read_key(key_file)
    new = _read_key(new_key_file)
    with _open(ctx) as ledger:
        st = make_statement(ROTATE_KEY, issuer_id, _now(), new.public_key)
        res = _append(ledger, [_sign(st, signer)])
    _report(as_json, res, f"rotated the key of {issuer_id!r}")


@issuer.command("revoke-key")
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("key_ref", metavar="KEY_ID")
@click.option("--key", "key_file", type=click.Path(dir_okay=False), default=None,
              help="An active key file of the issuer (default: the registry key revokes).")
@click.option("--reason", default="", help="Why the key is revoked.")
@_json_option
@click.pass_context
def issuer_revoke_key(ctx: click.Context, issuer_id: str, key_ref: str, key_file: str | None,
                      reason: str, as_json: bool) -> None:
    """Revoke one of an issuer's keys (KEY_ID: 16 hex digits, or the verifier key).

    Credentials issued before the revocation stay valid: the log proves they came first.

    \b
    Example:
      credledger issuer revoke-key uni 1f2e3d4c5b6a7988 --reason "laptop stolen"
    """
    from ledger.events import REVOKE_KEY, key_id, make_statement

    kid = key_ref.strip()
    if "+" in kid:
        kid = key_id(_parse_vkey(kid).public_key)
    with _open(ctx) as ledger:
        signer = (_read_key(key_file) if key_file
                  else ledger.registry_signer(_passphrase_prompt(ledger.key_path("registry.key"))))
        st = make_statement(REVOKE_KEY, issuer_id, _now(), kid, reason)
        res = _append(ledger, [_sign(st, signer)])
    _report(as_json, res, f"revoked key {kid} of {issuer_id!r}")


@issuer.command("retire")
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--reason", default="", help="Why the issuer is retired.")
@_json_option
@click.pass_context
def issuer_retire(ctx: click.Context, issuer_id: str, reason: str, as_json: bool) -> None:
    """Retire an issuer (signed by the registry key): it can sign nothing more.

    \b
    Example:
      credledger issuer retire oldschool --reason "merged into uni"
    """
    from ledger.events import RETIRE_ISSUER, make_statement

    with _open(ctx) as ledger:
        st = make_statement(RETIRE_ISSUER, issuer_id, _now(), reason)
        registry = ledger.registry_signer(_passphrase_prompt(ledger.key_path("registry.key")))
        res = _append(ledger, [_sign(st, registry)])
    _report(as_json, res, f"retired issuer {issuer_id!r}")


# ------------------------------------------------------------------------------- credentials


def _now() -> int:
    return now_ms()


def _read_key(path: str) -> Any:
    from ledger.keys import read_signer

    return read_signer(path, _passphrase_prompt(path))


def _passphrase_prompt(file: str | os.PathLike[str]) -> Callable[[], str]:
    """Ask for an encrypted key file's passphrase, only if the file turns out encrypted and
    CREDLEDGER_PASSPHRASE is not set, and only on a terminal."""
    def ask() -> str:
        if not sys.stdin.isatty():
            raise Failure(f"{file}: key file is encrypted; set CREDLEDGER_PASSPHRASE", 3)
        return str(click.prompt(f"Passphrase for {file}", hide_input=True, err=True))
    return ask


def _new_passphrase() -> str:
    """A passphrase for new key files: CREDLEDGER_PASSPHRASE, or asked twice on a terminal."""
    env = os.environ.get("CREDLEDGER_PASSPHRASE")
    if env:
        return env
    if not sys.stdin.isatty():
        raise Failure("--encrypt: set CREDLEDGER_PASSPHRASE or run on a terminal", 2)
    return str(click.prompt("Passphrase", hide_input=True, confirmation_prompt=True, err=True))


def _sign(st: Any, signer: Any) -> Any:
    from ledger.events import sign_statement

    return sign_statement(st, signer.seed)


def _append(ledger: Any, items: list[Any], progress: Any = None) -> Any:
    return ledger.append(items, progress=progress)


def _report(as_json: bool, res: Any, what: str, extra: dict[str, Any] | None = None) -> None:
    data = {"first_index": res.first, "count": res.count, "size": res.size,
            "root": res.root.hex(), **(extra or {})}
    where = (f"entry {res.first}" if res.count == 1
             else f"entries {res.first}..{res.first + res.count - 1}")
    _emit(as_json, data, f"{what}: {where}; the log now has {_count(res.size, 'entry', 'entries')}")


def _count(n: int, one: str, many: str) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{n} {one if n == 1 else many}"


MAX_TEXT_FILE = 1 << 20


def _read_text_file(path: str | os.PathLike[str], what: str) -> str:
    """A small UTF-8 input file (a note, a proof, a pending file); one-line errors, and never
    a hang on a FIFO or an endless read of a device (ledger.files.read_regular)."""
    from ledger.files import read_regular

    data = read_regular(path, MAX_TEXT_FILE, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EncodingError(f"{path}: not UTF-8 text; not {what}") from None


@cli.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cred_id", metavar="CRED_ID", required=False)
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="An active key file of the issuer.")
@click.option("--subject", help="Who the credential is for (only a salted hash enters the log).")
@click.option("--title", help="What the credential certifies.")
@click.option("--expires", metavar="YYYY-MM-DD", help="Last day the credential is valid.")
@click.option("--part", "parts", multiple=True, metavar="CRED_ID",
              help="A credential this one stacks (repeatable).")
@click.option("--attachment", "--document", "document_file",
              type=click.Path(dir_okay=False, exists=True),
              help="A file (e.g. the certificate PDF) whose SHA-256 the log commits to "
                   "('verify --attachment' checks it; --document is the older name).")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False),
              help="A CSV file with a header (name ending in .csv) or a JSONL file: all its "
                   "credentials issued in one atomic commit.")
@click.option("--format", "batch_format", type=click.Choice(["csv", "jsonl"]),
              help="The --batch file's format (default: csv for a name ending in .csv, else "
                   "jsonl).")
@click.option("--columns", metavar="FIELD=COLUMN,...",
              help="CSV: the column of each field, e.g. id=student_no,subject=email "
                   "(default: columns named id, subject, title, expires, parts, document).")
@click.option("--skip-existing", is_flag=True,
              help="Skip credentials (by id) the log already holds for ISSUER and issue the "
                   "rest: a re-run after a failure is safe.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="credentials",
              show_default=True, help="Where the holders' credential documents are written.")
@_json_option
@click.pass_context
def issue(ctx: click.Context, issuer_id: str, cred_id: str | None, key_file: str,
          subject: str | None, title: str | None, expires: str | None, parts: tuple[str, ...],
          document_file: str | None, batch_file: str | None, batch_format: str | None,
          columns: str | None, skip_existing: bool, out_dir: str, as_json: bool) -> None:
    """Issue one credential, or a whole cohort from a CSV or JSONL file in one atomic commit.

    Each holder's credential document (with the secret salt of its subject commitment) is
    written to OUT/<CRED_ID>.json, mode 0600: hand it to the holder. While a batch of ISSUER
    that was interrupted after its commit waits for 'credledger recover' (in any --out), issue
    refuses and names it.

    \b
    A CSV batch: a header line, then one credential a line (Excel's UTF-8 BOM is fine):
      id,subject,title,expires,parts
      c-1,Ada Lovelace,Python 101,2028-06-30,m-1;m-2
    A JSONL batch line: {"id": "c-1", "subject": "Ada Lovelace", "title": "Python 101",
                   "expires": "2028-06-30", "parts": ["m-1", "m-2"], "document": "<sha256 hex>"}
    (expires, parts and document are optional). All lines or none are issued.

    \b
    Examples:
      credledger issue uni c-1 --key uni.key --subject "Ada Lovelace" --title "Python 101"
      credledger issue uni --key uni.key --batch cohort-2026.jsonl
      credledger issue uni --key uni.key --batch registrar.csv --skip-existing \\
          --columns id=student_no,subject=email,title=course,expires=valid_until
    """
    from ledger.issuance import (
        CredentialRequest,
        file_digest,
        issuer_dir,
        parse_columns,
        read_batch,
        refuse_if_abandoned,
        refuse_if_pending,
        split_existing,
    )
    from ledger.issuance import issue as issue_batch

    refuse_if_abandoned(issuer_dir(out_dir, issuer_id), issuer_id, out_dir)
    if batch_file is not None:
        if cred_id is not None or subject or title or expires or parts or document_file:
            raise Failure("--batch takes the credentials from the file: give no CRED_ID, "
                          "--subject, --title, --expires, --part or --document", 2)
        try:
            mapping = None if columns is None else parse_columns(columns)
        except EncodingError as exc:
            raise Failure(str(exc), 2) from None
        if mapping is not None and (batch_format or "") != "csv" and not \
                batch_file.lower().endswith(".csv"):
            raise Failure("--columns is for a CSV batch (a name ending in .csv, or --format "
                          "csv)", 2)
        signer = _read_key(key_file)
        requests = list(read_batch(batch_file, fmt=batch_format, columns=mapping))
    else:
        if cred_id is None or subject is None or title is None:
            raise Failure("give CRED_ID, --subject and --title (or --batch FILE)", 2)
        if batch_format or columns:
            raise Failure("--format and --columns are for --batch", 2)
        signer = _read_key(key_file)
        requests = [CredentialRequest(cred_id, subject, title, expires, parts,
                                      file_digest(document_file) if document_file else None)]
    with _open(ctx) as ledger:
        refuse_if_pending(ledger, issuer_id, out_dir)  # in any OUT the store recorded
        skipped = 0
        if skip_existing:
            requests, existing = split_existing(ledger, issuer_id, requests)
            skipped = len(existing)
            if not requests:
                _emit(as_json, {"count": 0, "skipped": skipped, "size": ledger.head().size},
                      f"all {_count(skipped, 'credential is', 'credentials are')} already in "
                      "the log; nothing issued")
                return
        if len(requests) > 1 and not as_json and sys.stderr.isatty():
            with click.progressbar(length=len(requests), label="issuing", file=sys.stderr) as bar:
                done = [0]

                def progress(n: int) -> None:
                    bar.update(n - done[0])
                    done[0] = n
                issued = issue_batch(ledger, issuer_id, signer, requests, out_dir, now=_now(),
                                     progress=progress)
        else:
            issued = issue_batch(ledger, issuer_id, signer, requests, out_dir, now=_now())
    _report(as_json, issued.appended, f"issued {len(requests)} credential"
            f"{'s' if len(requests) > 1 else ''} (holder documents in {issued.out})"
            + (f"; skipped {skipped} already in the log" if skip_existing else ""),
            extra={"skipped": skipped} if skip_existing else None)


@cli.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="credentials",
              show_default=True, help="The --out directory of the interrupted 'issue'.")
@_json_option
@click.pass_context
def recover(ctx: click.Context, issuer_id: str, out_dir: str, as_json: bool) -> None:
    """Finish an interrupted 'issue': write the holder documents its commit left pending.

    A batch that was killed after its commit leaves OUT/ISSUER/.pending-*.jsonl, the only copy
    of its holders' salts. For each document there, recover writes OUT/ISSUER/<CRED_ID>.json if
    the log holds that credential with the same subject commitment, drops the documents of
    credentials that never entered the log, and removes the pending file.

    \b
    Example:
      credledger recover uni --out credentials
    """
    from ledger.issuance import issuer_dir
    from ledger.issuance import recover as recover_documents

    out = issuer_dir(out_dir, issuer_id)
    with _open(ctx) as ledger:
        done = recover_documents(ledger, issuer_id, out)
    written, files = done.documents, done.pending_files
    _emit(as_json, {"pending_files": files, "documents": written, "dropped": done.dropped},
          f"recovered {written} holder document{'s' if written != 1 else ''} in {out} from "
          f"{files} pending file{'s' if files != 1 else ''}; dropped {done.dropped} of "
          "credentials not in the log")


def _status_command(kind: str, verb: str) -> Callable[..., None]:
    @click.argument("issuer_id", metavar="ISSUER")
    @click.argument("cred_id", metavar="CRED_ID")
    @click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
                  help="An active key file of the credential's issuer.")
    @click.option("--reason", default="", help=f"Why the credential is {verb}.")
    @_json_option
    @click.pass_context
    def command(ctx: click.Context, issuer_id: str, cred_id: str, key_file: str, reason: str,
                as_json: bool) -> None:
        from ledger.events import CRED, CredRecord, make_statement

        signer = _read_key(key_file)
        with _open(ctx) as ledger:
            rec = ledger.record(CRED, issuer_id, cred_id)
            # A status statement must be newer than the last one about the credential.
            t = max(_now(), rec.last_time + 1 if isinstance(rec, CredRecord) else 0)
            st = make_statement(kind, issuer_id, t, cred_id, reason)
            res = _append(ledger, [_sign(st, signer)])
        _report(as_json, res, f"{verb} {issuer_id}/{cred_id}")
    return command


def _add_status_commands() -> None:
    from ledger.events import REINSTATE, REVOKE, SUSPEND

    docs = {
        REVOKE: ("revoked", "Revoke a credential (final), signed by its issuer.",
                 'credledger revoke uni c-1 --key uni.key --reason "academic misconduct"'),
        SUSPEND: ("suspended", "Suspend a credential (reversible), signed by its issuer.",
                  'credledger suspend uni c-1 --key uni.key --reason "under review"'),
        REINSTATE: ("reinstated", "Reinstate a suspended credential, signed by its issuer.",
                    'credledger reinstate uni c-1 --key uni.key --reason "review cleared"'),
    }
    for kind, (verb, summary, example) in docs.items():
        fn = _status_command(kind, verb)
        fn.__doc__ = f"{summary}\n\n\b\nExample:\n  {example}\n"
        cli.command(kind)(fn)


_add_status_commands()


# ------------------------------------------------------------------------------- reading


@cli.command()
@click.option("--add-cosignatures", "cosigned", type=click.Path(dir_okay=False), default=None,
              help="Store the witness cosignatures of this cosigned checkpoint (from "
                   "'credledger witness cosign') with the stored checkpoint of its size.")
@click.option("--witness", "witnesses", multiple=True, metavar="VKEY",
              help="With --add-cosignatures: a witness whose cosignatures to store "
                   "(repeatable); lines that do not verify under one are not stored.")
@_json_option
@click.pass_context
def checkpoint(ctx: click.Context, cosigned: str | None, witnesses: tuple[str, ...],
               as_json: bool) -> None:
    """Sign, store and print a checkpoint (C2SP signed note) of the current tree.

    Prints exactly the note on stdout. Every checkpoint ever signed is kept. Bundles made
    afterwards carry the checkpoint with every cosignature stored for it.

    \b
    Examples:
      credledger checkpoint > checkpoint.txt
      credledger checkpoint --add-cosignatures cosigned.txt --witness "$(cat w1.vkey)"
    """
    from ledger.note import parse_checkpoint, parse_note
    from ledger.witness import parse_cosigner

    if (cosigned is None) != (not witnesses):
        raise Failure("--add-cosignatures and --witness go together: give the cosigned "
                      "checkpoint and the witnesses whose cosignatures to store", 2)
    trusted = [parse_cosigner(w.strip()) for w in witnesses]
    with _open(ctx) as ledger:
        if cosigned is not None:
            note = ledger.add_cosignatures(_read_text_file(cosigned, "a cosigned checkpoint"),
                                           trusted)
        else:
            note = ledger.checkpoint(
                ledger.log_signer(_passphrase_prompt(ledger.key_path("log.key"))))
    if as_json:
        cp = parse_checkpoint(parse_note(note).text)
        _emit(True, {"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "note": note}, "")
    else:
        click.echo(note, nl=False)


@cli.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cred_id", metavar="CRED_ID", required=False)
@_json_option
@click.pass_context
def status(ctx: click.Context, issuer_id: str, cred_id: str | None, as_json: bool) -> None:
    """What the ledger says now about a credential (or, without CRED_ID, an issuer).

    \b
    Examples:
      credledger status uni c-1
      credledger status uni --json
    """
    from ledger.events import CRED, ISSUED, ISSUER, CredRecord, IssuerRecord, decode_statement
    from ledger.log import describe

    with _open(ctx) as ledger:
        head = ledger.head()
        if cred_id is None:
            rec = ledger.record(ISSUER, issuer_id)
            if not isinstance(rec, IssuerRecord):
                raise NotFoundError(f"issuer {issuer_id!r} is not registered")
            data = describe(rec)
            human = (f"issuer {issuer_id} ({rec.name or 'no name'}): registered at entry "
                     f"{rec.registered_at}" +
                     (f", retired at entry {rec.retired_at}" if rec.retired_at is not None else ""))
        else:
            rec = ledger.record(CRED, issuer_id, cred_id)
            if not isinstance(rec, CredRecord):
                raise NotFoundError(f"issuer {issuer_id!r} never issued {cred_id!r}")
            entries = ledger.cred_entries(issuer_id, cred_id)
            issued = ledger.entry(rec.issued_index)
            st = decode_statement(issued.statement)
            data = describe(rec)
            data.update({"title": st.fields[2], "expires": _date(st.fields[3]),
                         "parts": st.fields[5], "entries": entries,
                         "issued_time": _iso(issued.time)})
            human = f"{issuer_id}/{cred_id}: {rec.state.upper()} — {st.fields[2]!r}, issued at " \
                    f"entry {rec.issued_index} ({_iso(issued.time)})"
            if rec.changed_index is not None:
                changed = ledger.entry(rec.changed_index)
                data["changed_time"] = _iso(changed.time)
                change = rec.state if rec.state != ISSUED else "reinstated"
                human += f"; {change} at entry {rec.changed_index} ({_iso(changed.time)})"
                if rec.reason:
                    human += f": {rec.reason}"
        data["tree_size"] = head.size
    _emit(as_json, data, human)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[
        :-4] + "Z"


def _date(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (dt.datetime.fromtimestamp(ms / 1000, dt.UTC) - dt.timedelta(days=1)).date(
    ).isoformat()


@cli.command()
@click.argument("index", type=click.IntRange(min=0))
@click.option("--raw", is_flag=True, help="Write the exact leaf bytes (msgpack) to stdout.")
@_json_option
@click.pass_context
def entry(ctx: click.Context, index: int, raw: bool, as_json: bool) -> None:
    """Show one entry (--raw: the exact leaf bytes, whose leaf hash the tree holds).

    \b
    Examples:
      credledger entry 0
      credledger entry 42 --raw > entry-42.bin
    """
    from ledger.events import decode_entry, decode_statement, key_id
    from ledger.merkle import leaf_hash

    with _open(ctx) as ledger:
        data = ledger.entry_bytes(index)
    if raw:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    e = decode_entry(data)
    st = decode_statement(e.statement)
    fields = [f.hex() if isinstance(f, bytes) else f for f in st.fields]
    out = {"index": e.index, "time": _iso(e.time), "leaf_hash": leaf_hash(data).hex(),
           "prev_root": e.prev_root.hex(), "state_root": e.state_root.hex(),
           "kind": st.kind, "issuer": st.issuer, "statement_time": _iso(st.time),
           "fields": fields, "signer_key_id": key_id(e.signer), "size_bytes": len(data)}
    human = "\n".join(f"{k:15} {v}" for k, v in out.items())
    _emit(as_json, out, human)


@cli.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cred_ids", metavar="CRED_ID...", nargs=-1, required=True)
@click.option("--with", "others", multiple=True, metavar="ISSUER/CRED_ID",
              help="Add another issuer's credential to the bundle (repeatable).")
@click.option("--size", type=click.IntRange(min=0), default=None,
              help="Prove an older state: the stored checkpoint of this size (default: the "
                   "log as it is now, signing a checkpoint if it has grown since the latest).")
@click.option("--format", "fmt", type=click.Choice(["bundle", "tlog-proof"]), default="bundle",
              show_default=True,
              help="bundle: status and authenticity (JSON); tlog-proof: C2SP inclusion proof "
                   "of the issuance entry.")
@click.option("--document", "documents", multiple=True, type=click.Path(dir_okay=False),
              help="Embed the holder's credential document (from 'issue'), so the verifier "
                   "also checks the subject (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of stdout.")
@click.pass_context
def prove(ctx: click.Context, issuer_id: str, cred_ids: tuple[str, ...], others: tuple[str, ...],
          size: int | None, fmt: str, documents: tuple[str, ...], output: str | None) -> None:
    """Write an offline proof for credentials, as of the log now (or of an older checkpoint).

    By default the proof is against a checkpoint of the whole log: the latest stored one if
    the log has not grown since, else a new one, signed with the store's log key (an encrypted
    key needs CREDLEDGER_PASSPHRASE or a terminal). --size N proves the older state of the
    stored checkpoint of size N instead.

    A bundle proves authenticity and status (valid, revoked, suspended, or never issued) as
    of the checkpoint; several credentials (a stack) share one checkpoint, and the parts of a
    stacked credential are included. A tlog-proof proves only that the issuance entry is in
    the log; its extra data is the exact entry bytes.

    \b
    Examples:
      credledger prove uni cs-001 -o cs-001.bundle.json
      credledger prove uni cs-001 cs-002 --with other/x-9 --document cs-001.json -o stack.json
      credledger prove uni cs-001 --size 14 -o old.json
      credledger prove uni cs-001 --format tlog-proof -o cs-001.tlog-proof
    """
    from ledger.events import check_id

    creds = [(check_id(issuer_id, "issuer"), check_id(c, "credential id")) for c in cred_ids]
    for other in others:
        issuer, sep, cred = other.partition("/")
        if not sep:
            raise Failure(f"--with: want ISSUER/CRED_ID, got {other!r}", 2)
        creds.append((check_id(issuer, "issuer"), check_id(cred, "credential id")))
    if fmt == "tlog-proof" and (len(creds) != 1 or documents):
        raise Failure("--format tlog-proof proves one credential, without documents", 2)
    from ledger.files import read_regular
    from ledger.holder import MAX_DOCUMENT_SIZE, parse_holder_document

    docs = [parse_holder_document(read_regular(d, MAX_DOCUMENT_SIZE, "a holder document"))
            for d in documents]
    signed = None
    with _open(ctx) as ledger:
        if fmt == "bundle":
            from ledger.bundle import build_bundle, dump_bundle

            if size is None:
                size, signed = _current_checkpoint(ledger)
            text = dump_bundle(build_bundle(ledger, creds, size=size, documents=docs))
        else:
            from ledger.events import CRED, CredRecord
            from ledger.tlogproof import prove_issuance

            if size is None:  # sign nothing for a credential that was never issued
                if not isinstance(ledger.record(CRED, *creds[0]), CredRecord):
                    raise NotFoundError(f"issuer {creds[0][0]!r} never issued {creds[0][1]!r}")
                size, signed = _current_checkpoint(ledger)
            text = prove_issuance(ledger, *creds[0], size=size).format()
    _write_out(output, text, mode=0o600 if docs else 0o644)  # documents hold holders' salts
    if signed is not None:
        click.echo(signed, err=True)


@cli.command("prove-all")
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cohort_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--out-dir", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Where the bundles go: <CRED_ID>.bundle.json each (created if need be).")
@click.option("--documents", "documents_dir", type=click.Path(file_okay=False), default=None,
              metavar="OUT", help="Embed each holder's document from OUT/ISSUER/ (the --out "
                                  "of 'issue'); the bundles are then mode 0600.")
@click.option("--size", type=click.IntRange(min=0), default=None,
              help="Prove an older state: the stored checkpoint of this size (default: the "
                   "log as it is now, as for 'prove').")
@click.option("--strict", is_flag=True,
              help="Refuse, writing nothing, if any credential was never issued (default: "
                   "its bundle proves the absence, and the summary counts it).")
@_json_option
@click.pass_context
def prove_all(ctx: click.Context, issuer_id: str, cohort_file: str, out_dir: str,
              documents_dir: str | None, size: int | None, strict: bool, as_json: bool) -> None:
    """Write a bundle for each credential of a cohort, all from one snapshot of the log and
    against one checkpoint, as 'prove' would one by one.

    FILE is the batch file the cohort was issued from (JSONL: its ids are used) or a plain
    list of credential ids, one a line. Each bundle goes to OUT_DIR/<CRED_ID>.bundle.json.
    A credential never issued gets a bundle proving its absence, counted in the summary
    (--strict refuses instead). With --documents, every issued credential must have its
    holder document there, or nothing is written.

    \b
    Examples:
      credledger prove-all uni cohort-2026.jsonl --out-dir bundles
      credledger prove-all uni ids.txt --out-dir bundles --documents credentials --strict
    """
    from ledger.bundle import build_bundles, dump_bundle, proves_absence
    from ledger.events import check_id
    from ledger.holder import file_stem
    from ledger.issuance import cohort_documents, issuer_dir, read_cohort

    issuer_id = check_id(issuer_id, "issuer")
    ids = read_cohort(cohort_file)
    docs = (cohort_documents(issuer_dir(documents_dir, issuer_id), issuer_id, ids)
            if documents_dir is not None else None)
    out = Path(out_dir)
    bar = (click.progressbar(length=len(ids), label="proving", file=sys.stderr)
           if not as_json and sys.stderr.isatty() and len(ids) > 1 else None)
    signed = None
    with _open(ctx) as ledger:
        if size is None:
            size, signed = _current_checkpoint(ledger)
        if bar is not None:
            with bar:
                done = [0]

                def progress(n: int) -> None:
                    bar.update(n - done[0])
                    done[0] = n
                bundles = list(build_bundles(ledger, issuer_id, ids, size=size, documents=docs,
                                             progress=progress))
        else:
            bundles = list(build_bundles(ledger, issuer_id, ids, size=size, documents=docs))
    absent = [i for i, b in bundles if proves_absence(b)]
    if strict and absent:
        raise Failure(f"{_count(len(absent), 'credential', 'credentials')} of {len(ids)} "
                      f"never issued by {issuer_id!r} (the first: {absent[0]!r}); no bundle "
                      "written", 3)
    if docs is not None:
        missing = [i for i, b in bundles if i not in docs and not proves_absence(b)]
        if missing:
            where = issuer_dir(documents_dir or "", issuer_id)
            raise Failure(f"no holder document in {where} for {len(missing)} issued "
                          f"credential{'s' if len(missing) != 1 else ''} (the first: "
                          f"{missing[0]!r}); no bundle written", 3)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for cred_id, bundle in bundles:  # documents hold holders' salts: those bundles are 0600
        path = out / f"{file_stem(cred_id)}.bundle.json"
        write_atomic(path, dump_bundle(bundle).encode("utf-8"),
                     mode=0o600 if "documents" in bundle else 0o644, sync=False, sync_dir=False)
        files.append(str(path))
    os.sync()  # one sync for all of them
    fsync_path(out)
    if signed is not None:
        click.echo(signed, err=True)
    never = f", {len(absent)} of them proving a credential never issued" if absent else ""
    _emit(as_json, {"bundles": len(bundles), "never_issued": absent, "checkpoint_size": size,
                    "out_dir": str(out), "documents": len(docs or {})},
          f"wrote {_count(len(bundles), 'bundle', 'bundles')} to {out}{never}, as of the "
          f"checkpoint of size {size}")


def _current_checkpoint(ledger: Any) -> tuple[int, str | None]:
    """The size of a checkpoint of the whole log: the latest stored one if the log has not
    grown since, else one signed now with the store's log key (and then a line saying so).
    Never silently an older state: without the log key (or its passphrase) it refuses,
    naming the ways out."""
    from ledger.keys import PASSPHRASE_ENV
    from ledger.note import parse_checkpoint, parse_note

    size = ledger.head().size
    try:
        latest: int | None = parse_checkpoint(parse_note(ledger.checkpoint_note()).text).size
    except NotFoundError:
        latest = None
    if latest == size:
        return size, None
    path = ledger.key_path("log.key")
    older = f"pass --size {latest} to prove" if latest is not None else "no checkpoint can prove"
    grown = (f"the log has {size} entries, {'none' if latest is None else latest} of them "
             "checkpointed")
    if not path.exists():
        raise Failure(f"{grown}, and the log key is not in {path.parent}: run 'credledger "
                      f"checkpoint' where it is, or {older} the older state", 3)

    def ask() -> str:  # only for an encrypted key, and only without CREDLEDGER_PASSPHRASE
        if sys.stdin.isatty():
            return str(click.prompt(f"Passphrase for {path}", hide_input=True, err=True))
        raise Failure(f"{grown}, and the log key {path} is encrypted: set {PASSPHRASE_ENV}, "
                      f"run 'credledger checkpoint' first, or {older} the older state", 3)
    cp = parse_checkpoint(parse_note(ledger.checkpoint(ledger.log_signer(ask))).text)
    why = (f"the log had grown since its latest checkpoint (size {latest})"
           if latest is not None else "none had been signed yet")
    return cp.size, f"signed a checkpoint of size {cp.size}: {why}"


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, readable=False, allow_dash=True))
@click.option("--log-key", "log_key", metavar="VKEY", default=None,
              help="Trust the log's verifier key (as printed by 'credledger init'). "
                   "Default: the key for the file's origin in --trust FILE or in "
                   "$CREDLEDGER_LOG_KEY.")
@click.option("--root", metavar="ROOT", default=None,
              help="Trust a published root hash (hex, or the base64 a checkpoint prints); "
                   "needs --size.")
@click.option("--size", type=click.IntRange(min=0), default=None,
              help="The tree size of the trusted --root.")
@click.option("--checkpoint", "checkpoint", metavar="FILE", default=None,
              type=click.Path(dir_okay=False, readable=False),
              help="Trust a saved signed checkpoint's (size, root): it must verify with "
                   "--log-key; without --log-key it is a pin like --root/--size.")
@click.option("--trust", "trust", metavar="FILE", default=None,
              type=click.Path(dir_okay=False, readable=False),
              help="A trust file of log keys (VKEYs, one a line, # comments); the one named by "
                   "the file's origin is used.")
@click.option("--document", "documents", multiple=True,
              type=click.Path(dir_okay=False, readable=False),
              help="A holder's credential document (the JSON from 'issue') to check against "
                   "the log (repeatable).")
@click.option("--attachment", "attachments", multiple=True,
              type=click.Path(dir_okay=False, readable=False),
              help="A file (e.g. the certificate PDF) whose SHA-256 must be the document digest "
                   "the log commits to for a credential proven (repeatable).")
@click.option("--at", "at", metavar="YYYY-MM-DD", default=None,
              help="Judge expiry (and --max-age) at the start of this day (UTC) instead of now.")
@click.option("--witness", "witnesses", multiple=True, metavar="VKEY",
              help="A trusted witness's cosigner key (repeatable).")
@click.option("--min-witnesses", type=click.IntRange(min=0), default=None,
              help="Require this many trusted witness cosignatures (default: 1 with --witness).")
@click.option("--max-age", default=None, metavar="DURATION",
              help="Require the newest trusted cosignature to be at most this old "
                   "(e.g. 36h, 7d, 90m).")
@_json_option
def verify(files: tuple[str, ...], log_key: str | None, root: str | None, size: int | None,
           checkpoint: str | None, trust: str | None,
           documents: tuple[str, ...], attachments: tuple[str, ...], at: str | None,
           witnesses: tuple[str, ...], min_witnesses: int | None, max_age: str | None,
           as_json: bool) -> None:
    """Check proof bundles offline: VALID, REVOKED, SUSPENDED, EXPIRED, NOT FOUND or INVALID.

    Each answer names the issuer, says whether the holder was checked (only with --document)
    and what the answers are as of (the time of the checkpoint's last entry). Several FILEs
    are verified one by one, a block each (--json: a list), exit code the worst; '-' is stdin.
    The trusted log key may come from --trust FILE or $CREDLEDGER_LOG_KEY.

    A FILE may also be a tlog-proof ('prove --format tlog-proof'): INCLUDED when its entry is
    in the trusted checkpoint's tree (inclusion only, not status). Each credential's committed
    document digest is shown; --attachment checks a file against it.

    Exit 0 only when every credential in the bundle is VALID (or the tlog-proof checks); 1
    otherwise (including a proof that fails any check); 2 for usage errors (a holder's
    document given as FILE, say); 3 for an unreadable file.

    \b
    Examples:
      credledger verify cs-001.bundle.json --log-key "example.org/credentials+1d5387d8+AdhtjU..."
      credledger verify cs-001.bundle.json --root 60dd97...f573 --size 17
      credledger verify cs-001.bundle.json --checkpoint saved.checkpoint --log-key VKEY
      CREDLEDGER_LOG_KEY=VKEY credledger verify a.bundle.json b.bundle.json -
      credledger verify cs-001.bundle.json --log-key VKEY --document cs-001.json \\
          --attachment cs-001.pdf
      credledger verify cs-001.tlog-proof --log-key VKEY
      credledger verify cs-001.bundle.json --log-key VKEY --witness W1 --witness W2 \\
          --min-witnesses 2 --max-age 7d
    """
    try:
        code, out, err = run_verify(files, log_key=log_key, root=root, size=size,
                                    documents=documents, attachments=attachments, at=at,
                                    witnesses=witnesses, checkpoint=checkpoint, trust=trust,
                                    min_witnesses=min_witnesses, max_age=max_age, as_json=as_json)
    except CommandError as exc:
        raise Failure(exc.message, exc.code) from None
    click.echo(out, nl=False)
    if err:
        *before, last = err.split("\n")
        for line in before:
            click.echo(f"credledger: error: {printable(line)}", err=True)
        raise Failure(last, code)
    if code:
        click.get_current_context().exit(code)


def _write_out(output: str | None, text: str, *, mode: int = 0o644) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    path = Path(output)
    if path.is_dir():
        raise Failure(f"{output}: is a directory; -o takes a file", 2)
    write_atomic(path, text.encode("utf-8"), mode=mode)
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("old_size", type=click.IntRange(min=0))
@click.argument("new_size", type=click.IntRange(min=0), required=False)
@_json_option
@click.pass_context
def consistency(ctx: click.Context, old_size: int, new_size: int | None, as_json: bool) -> None:
    """Print the RFC 9162 consistency proof between two tree sizes, one base64 hash a line.

    NEW_SIZE defaults to the latest checkpoint's size.

    \b
    Example:
      credledger consistency 1000 1510
    """
    from ledger.note import parse_checkpoint, parse_note

    with _open(ctx) as ledger:
        if new_size is None:
            new_size = parse_checkpoint(parse_note(ledger.checkpoint_note()).text).size
        if old_size > new_size:
            raise Failure(f"OLD_SIZE {old_size} is larger than NEW_SIZE {new_size}", 2)
        proof = ledger.consistency_proof(old_size, new_size)
        roots = (ledger.root_at(old_size), ledger.root_at(new_size))
    if as_json:
        _emit(True, {"size1": old_size, "size2": new_size, "root1": _b64(roots[0]),
                     "root2": _b64(roots[1]), "proof": [_b64(h) for h in proof]}, "")
    else:
        click.echo("".join(_b64(h) + "\n" for h in proof), nl=False)


@cli.group(cls=_Group)
def witness() -> None:
    """Run a witness: cosign checkpoints only after checking they extend the last one.

    \b
    Example:
      credledger witness init ./witness --name witness.example.org
    """


@witness.command("init")
@click.argument("state_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--name", required=True, help="The witness's name, e.g. witness.example.org.")
@_json_option
def witness_init(state_dir: str, name: str, as_json: bool) -> None:
    """Create a witness key (0600) and empty state in DIR; print its cosigner key.

    \b
    Example:
      credledger witness init ./witness --name witness.example.org
    """
    from ledger.witness import Witness

    w = Witness.create(state_dir, name)
    vkey = str(w.key.verifier())
    _emit(as_json, {"dir": state_dir, "vkey": vkey}, vkey,
          "(verifiers pass this to 'credledger verify --witness')")


@witness.command("cosign")
@click.argument("checkpoint_file", metavar="CHECKPOINT", type=click.Path(dir_okay=False))
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False),
              help="The witness directory (from 'witness init').")
@click.option("--log-key", "log_key", required=True, metavar="VKEY",
              help="The log's verifier key: the checkpoint must be signed by it.")
@click.option("--proof", "proof_file", type=click.Path(dir_okay=False), default=None,
              help="The consistency proof from the last cosigned size (output of "
                   "'credledger consistency OLD NEW'); needed once the witness has cosigned.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the cosigned checkpoint here instead of stdout.")
def witness_cosign(checkpoint_file: str, state_dir: str, log_key: str, proof_file: str | None,
                   output: str | None) -> None:
    """Cosign a checkpoint if it is consistent with the last one this witness cosigned.

    Refuses (exit 1) a smaller checkpoint, a different root at the same size, or a missing
    or failing consistency proof: a witness never cosigns two views of one log.

    \b
    Example:
      credledger consistency 14 17 > proof.txt
      credledger witness cosign checkpoint.txt --state ./witness --log-key VKEY \\
          --proof proof.txt -o cosigned.txt
    """
    from ledger.witness import Witness

    w = Witness(state_dir)
    proof = _read_hash_lines(proof_file) if proof_file else []
    note = _read_text_file(checkpoint_file, "a checkpoint")
    _write_out(output, w.cosign(note, _parse_vkey(log_key), proof, now_ms=_now()))


def _read_hash_lines(path: str) -> list[bytes]:
    import binascii

    out = []
    for n, line in enumerate(_read_text_file(path, "a proof").splitlines(), 1):
        if not line.strip():
            continue
        try:
            h = base64.b64decode(line.strip(), validate=True)
        except (binascii.Error, ValueError):
            h = b""
        if len(h) != 32:
            raise EncodingError(f"{path}:{n}: want one base64 SHA-256 hash a line")
        out.append(h)
        if len(out) > 128:
            raise EncodingError(f"{path}: more than 128 hashes; not a consistency proof")
    return out


@cli.command()
@click.option("--keep", type=click.Path(file_okay=False), default=None,
              help="Build the demo store here and keep it (default: a temporary directory).")
def demo(keep: str | None) -> None:
    """Tell the whole story on a fresh store, narrated: issuer, holder, verifier, auditor.

    \b
    Example:
      credledger demo
    """
    from ledger.demo import run_demo

    run_demo(keep)


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False))
@_json_option
@click.pass_context
def backup(ctx: click.Context, dest: str, as_json: bool) -> None:
    """Copy the store and its key files into the new directory DEST, consistently and durably,
    while issuers may go on appending.

    The copy is compacted (the free pages that LMDB's copy-on-write leaves behind are not
    copied), opened and self-checked before it gets its name; 'credledger --dir DEST audit'
    checks it in full. The key files keep their permissions (0600): keep DEST as private as
    the store.

    \b
    Example:
      credledger backup /var/backups/credentials-2026-11-30
    """
    with _open(ctx) as ledger:
        before = ledger.store.data_size()
        head = ledger.backup(dest)
    size = (Path(dest) / "data.mdb").stat().st_size
    _emit(as_json, {"dest": dest, "size": head.size, "root": head.root.hex(),
                    "store_bytes": before, "backup_bytes": size},
          f"backed up the log of {_count(head.size, 'entry', 'entries')} (root {head.root.hex()}) to {dest}: "
          f"{size:,} bytes (the store uses {before:,})")


@cli.command()
@click.option("--tiles", "tiles", metavar="DIR|URL", default=None,
              help="Audit a published tlog-tiles tree (a directory or an http(s) URL) instead "
                   "of the store; needs --log-key.")
@click.option("--log-key", "log_key", metavar="VKEY", default=None,
              help="The log verifier key to trust (default for a store: the one it names).")
@click.option("--checkpoint", "saved", multiple=True, type=click.Path(dir_okay=False),
              metavar="FILE",
              help="A checkpoint kept from an earlier audit: the log must extend it (repeatable).")
@click.option("--save-checkpoint", "save", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Write the newest verified checkpoint here, for next time.")
@_json_option
@click.pass_context
def audit(ctx: click.Context, tiles: str | None, log_key: str | None, saved: tuple[str, ...],
          save: str | None, as_json: bool) -> None:
    """Replay every entry and check everything: hashes, chain, signatures, rules, map, checkpoints.

    From the store, or with --tiles from a published C2SP tlog-tiles tree (no store needed; only
    --log-key is trusted, and every tile is checked against the replay). Checkpoints saved from
    earlier audits (--checkpoint) must be prefixes of the log now: otherwise the log forked or
    rewrote history. Exits 1 at the first violation, naming the entry and the rule.

    \b
    Examples:
      credledger audit --log-key "example.org/credentials+1d5387d8+AdhtjU..."
      credledger audit --tiles https://example.org/credentials --log-key "$LOG_VKEY" \\
          --checkpoint last.checkpoint --save-checkpoint last.checkpoint
    """
    from ledger.note import open_checkpoint
    from ledger.tileaudit import audit_tiles, check_saved_checkpoints, open_saved_checkpoints
    from ledger.tilereader import TileReader

    notes = [_read_checkpoint_file(f) for f in saved]
    if tiles is not None:
        if log_key is None:
            raise Failure("--tiles needs --log-key: a published tree is trusted only through "
                          "the log's verifier key", 2)
        verifier = _parse_vkey(log_key)
        reader = TileReader(tiles)
        size = _unverified_size(reader)
        if as_json or size < 1000 or not sys.stderr.isatty():
            report = audit_tiles(reader, verifier, saved_checkpoints=notes, workers=None)
        else:
            with click.progressbar(length=size, label="auditing", file=sys.stderr) as bar:
                report = audit_tiles(reader, verifier, saved_checkpoints=notes, workers=None,
                                     progress=bar.update)
        newest: str | None = reader.checkpoint().decode("utf-8")  # verified: valid UTF-8
        where = f"tiles at {tiles}"
    else:
        from ledger.audit import audit_store
        from ledger.note import parse_verifier

        with _open(ctx) as ledger:
            verifier = _parse_vkey(log_key) if log_key else parse_verifier(ledger.log_vkey())
            old = open_saved_checkpoints(notes, verifier)
            size = ledger.head().size
            if as_json or size < 1000 or not sys.stderr.isatty():
                report = audit_store(ledger, log_key=verifier, workers=None)
            else:
                with click.progressbar(length=size, label="auditing", file=sys.stderr) as bar:
                    report = audit_store(ledger, log_key=verifier, workers=None,
                                         progress=bar.update)
            # The store's tree nodes were just checked against the replay, so its roots are
            # the replayed ones.
            check_saved_checkpoints(old, size=report.size, root_at=ledger.root_at)
            report.checkpoints += len(old)
            sizes = [s for s, _ in ledger.checkpoints() if s <= report.size]
            newest = ledger.checkpoint_note(max(sizes)) if sizes else None
        where = "the store"
    if save is not None:
        if newest is None:
            raise Failure("the audit passed, but the store has no checkpoint to save; run "
                          "'credledger checkpoint'", 3)
        open_checkpoint(newest, verifier)
        write_atomic(save, newest.encode("utf-8"))
    data = report.as_dict()
    data["source"] = tiles if tiles is not None else str(_store_dir(ctx))
    data["saved_checkpoint"] = save
    _emit(as_json, data,
          f"audit OK ({where}): {_count(report.size, 'entry', 'entries')} ("
          f"{_count(report.issuers, 'issuer', 'issuers')}, "
          f"{_count(report.credentials, 'credential', 'credentials')}, "
          f"{_count(report.revocations, 'revocation', 'revocations')}, "
          f"{_count(report.suspensions, 'suspension', 'suspensions')}, "
          f"{_count(report.reinstatements, 'reinstatement', 'reinstatements')}, "
          f"{_count(report.key_rotations, 'key rotation', 'key rotations')}, "
          f"{_count(report.key_revocations, 'key revocation', 'key revocations')}), "
          f"{_count(report.checkpoints, 'checkpoint', 'checkpoints')} checked; root "
          f"{report.root.hex()}; {report.seconds:.2f} s ({report.rate:,.0f} entries/s)"
          + (f"; checkpoint saved to {save}" if save else ""))


def _read_checkpoint_file(path: str) -> str:
    from ledger.files import read_regular
    from ledger.note import MAX_NOTE_SIZE

    try:  # NotFoundError, NotRegularFileError: exit 3
        data = read_regular(path, MAX_NOTE_SIZE, "a checkpoint")
    except EncodingError:
        raise Failure(f"{path}: larger than {MAX_NOTE_SIZE} bytes; not a checkpoint", 1) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(f"{path}: not UTF-8; not a checkpoint", 1) from None


def _unverified_size(reader: Any) -> int:
    """The tree size a published checkpoint claims, for a progress bar only (0 if it cannot
    be read: the audit then reports why)."""
    from ledger.note import parse_checkpoint, parse_note

    try:
        return parse_checkpoint(parse_note(reader.checkpoint()).text).size
    except EncodingError:
        return 0


@cli.group(cls=_Group)
def export() -> None:
    """Publish the log in static formats that any web server can serve.

    \b
    Example:
      credledger export tiles /var/www/log
    """


@export.command("tiles")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@_json_option
@click.pass_context
def export_tiles_command(ctx: click.Context, out_dir: str, as_json: bool) -> None:
    """Write the log of the latest checkpoint as a C2SP tlog-tiles tree (c2sp.org/tlog-tiles).

    DIR gets `checkpoint`, `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`. Run it again
    after each checkpoint: only new files are written, each atomically, the checkpoint last.
    Serve DIR as static files; auditors run `credledger audit --tiles URL --log-key VKEY`.

    \b
    Example:
      credledger checkpoint && credledger export tiles /var/www/log
    """
    from ledger.tiles import export_tiles

    with _open(ctx) as ledger:
        size = ledger.head().size
        if as_json or size < 10_000 or not sys.stderr.isatty():
            report = export_tiles(ledger, out_dir)
        else:
            with click.progressbar(length=size, label="exporting", file=sys.stderr) as bar:
                report = export_tiles(ledger, out_dir, progress=bar.update)
    data = report.as_dict()
    data["dir"] = out_dir
    _emit(as_json, data,
          f"exported tree size {report.size} to {out_dir}: {report.files_written} files written "
          f"({report.bytes_written:,} bytes), {report.files_skipped} already there; "
          f"{report.seconds:.2f} s"
          + (f"; checkpoint not replaced: {report.checkpoint_kept}" if report.checkpoint_kept
             else ""))
