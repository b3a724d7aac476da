"""``credledger``: the command line (click). Parse, call, render; nothing else.

Exit codes (DESIGN §8), mapped in one place (:class:`_Group`): 0 ok; 1 verification failed or
the answer is "not valid"; 2 usage error; 3 any other error (refused event, missing store, bad
key file). Data goes to stdout (``--json``: one JSON object); messages and progress to stderr.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from ledger import __version__
from ledger.errors import EncodingError, LedgerError, NotFoundError
from ledger.files import fsync_path
from ledger.verifycmd import CommandError, error_exit, now_ms, run_verify

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DIR = "./credledger-data"
MAX_BATCH_LINE = 70_000
MAX_BATCH_LINES = 1_000_000
CREDENTIAL_TYPE = "credential-ledger/credential@v1"


class Failure(click.ClickException):
    """A one-line error with the exit code of DESIGN §8."""

    def __init__(self, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: Any = None) -> None:
        click.echo(f"credledger: error: {self.format_message()}", err=True)


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


def _emit(as_json: bool, data: dict[str, Any], human: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=False))
    else:
        click.echo(human)


def _store_dir(ctx: click.Context) -> Path:
    return Path(ctx.obj["dir"])


def _open(ctx: click.Context) -> Any:
    from ledger.log import Ledger

    return Ledger.open(_store_dir(ctx))


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

    The keys are written to DIR/keys/log.key and DIR/keys/registry.key (mode 0600).
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
    _emit(as_json, data,
          f"created ledger {origin!r} in {data['dir']}\n"
          f"log verifier key (publish it; verifiers trust it):\n  {data['log_vkey']}\n"
          f"registry verifier key:\n  {data['registry_vkey']}")


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
    _emit(as_json, {"file": file, "vkey": vkey, "key_id": key_id(signer.public_key)},
          f"{vkey}\n(key id {key_id(signer.public_key)}; the private key is in {file}, mode 0600)")


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


def _report(as_json: bool, res: Any, what: str) -> None:
    data = {"first_index": res.first, "count": res.count, "size": res.size,
            "root": res.root.hex()}
    where = (f"entry {res.first}" if res.count == 1
             else f"entries {res.first}..{res.first + res.count - 1}")
    _emit(as_json, data, f"{what}: {where}; the log now has {res.size} entries")


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


def _parse_date(value: str | None, where: str) -> int | None:
    """``YYYY-MM-DD`` -> UTC ms of the end of that day (valid through the whole day)."""
    if value is None:
        return None
    day = _strict_date(value)
    if day is None:
        raise EncodingError(f"{where}: want a date YYYY-MM-DD, got {str(value)[:40]!r}")
    if day == dt.date.max:
        raise EncodingError(f"{where}: {value} is past the last date this ledger can hold")
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return int(end.timestamp() * 1000)


def _strict_date(value: object) -> dt.date | None:
    """A ``YYYY-MM-DD`` date, or None (Python's fromisoformat also takes other ISO forms)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _file_digest(path: str) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def _safe_name(cred_id: str) -> str:
    return cred_id.replace("/", "_") + ".json"


def _holder_document(*, origin: str, issuer_id: str, cred_id: str, subject: str, salt: bytes,
                     title: str, expires: str | None, parts: list[str],
                     document: bytes | None) -> dict[str, Any]:
    return {"type": CREDENTIAL_TYPE, "origin": origin, "issuer": issuer_id, "id": cred_id,
            "subject": subject, "salt": salt.hex(), "title": title, "expires": expires,
            "parts": parts, "document_sha256": None if document is None else document.hex()}


def _write_private_text(path: Path, text: str, *, sync: bool = True) -> None:
    """Write a file that holds secrets (salts) with mode 0600, atomically (temp + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def _create_pending(path: Path, text: str) -> int:
    """Create ``path`` (mode 0600, fsynced, never overwriting) holding ``text``; return an open
    descriptor holding an exclusive lock on it, which marks the file as in use until closed."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise Failure(f"{path} already exists: another batch starting with the same "
                          "credential is being issued, or was interrupted", 3) from None
        fsync_path(path.parent)
    except BaseException:
        os.close(fd)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return fd


def _abandoned_pending(out: Path) -> Iterator[Path]:
    """Pending files in ``out`` that no running ``issue`` holds (their writer was killed).

    Each is yielded while this process holds its lock, so neither a writer nor another
    ``recover`` can touch it meanwhile; a file unlinked by its finishing writer is skipped.
    """
    import fcntl

    for path in sorted(out.glob(".pending-*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # its writer just finished
        try:
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


def _stale_pending_temps(out: Path) -> Iterator[Path]:
    """Temporary files of pending files whose writer died before linking them: no batch of
    theirs was committed (the link comes first), so they hold no salt anyone needs."""
    import fcntl

    for path in sorted(out.glob(".pending-*.tmp")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        finally:
            os.close(fd)
        yield path


def _refuse_abandoned_pending(out: Path, issuer_id: str, out_dir: str) -> None:
    for path in _abandoned_pending(out):
        raise Failure(f"{path} holds the holder documents of an interrupted batch; run "
                      f"'credledger recover {issuer_id} --out {out_dir}' first", 3)


def _committed(ledger: Any, issuer_id: str, doc: dict[str, Any]) -> bool:
    """Whether the log holds ``doc``'s credential with ``doc``'s subject commitment."""
    from ledger.events import decode_statement, subject_commitment

    commitment = subject_commitment(bytes.fromhex(doc["salt"]), doc["subject"])
    indexes = ledger.cred_entries(issuer_id, doc["id"])
    return bool(indexes) and decode_statement(
        ledger.entry(indexes[0]).statement).fields[1] == commitment


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
@click.option("--document", "document_file", type=click.Path(dir_okay=False, exists=True),
              help="A file (e.g. the certificate PDF) whose SHA-256 the log commits to.")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False),
              help="A JSONL file: one credential a line, all issued in one atomic commit.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="credentials",
              show_default=True, help="Where the holders' credential documents are written.")
@_json_option
@click.pass_context
def issue(ctx: click.Context, issuer_id: str, cred_id: str | None, key_file: str,
          subject: str | None, title: str | None, expires: str | None, parts: tuple[str, ...],
          document_file: str | None, batch_file: str | None, out_dir: str, as_json: bool) -> None:
    """Issue one credential, or a whole cohort from a JSONL file in one atomic commit.

    Each holder's credential document (with the secret salt of its subject commitment) is
    written to OUT/<CRED_ID>.json, mode 0600: hand it to the holder.

    \b
    A batch line: {"id": "c-1", "subject": "Ada Lovelace", "title": "Python 101",
                   "expires": "2028-06-30", "parts": ["m-1", "m-2"], "document": "<sha256 hex>"}
    (expires, parts and document are optional). All lines or none are issued.

    \b
    Examples:
      credledger issue uni c-1 --key uni.key --subject "Ada Lovelace" --title "Python 101"
      credledger issue uni --key uni.key --batch cohort-2026.jsonl
    """
    from ledger.events import ISSUE, make_statement, subject_commitment

    _refuse_abandoned_pending(Path(out_dir) / issuer_id, issuer_id, out_dir)
    signer = _read_key(key_file)
    if batch_file is not None:
        if cred_id is not None or subject or title or expires or parts or document_file:
            raise Failure("--batch takes the credentials from the file: give no CRED_ID, "
                          "--subject, --title, --expires, --part or --document", 2)
        rows = list(_read_batch(batch_file))
    else:
        if cred_id is None or subject is None or title is None:
            raise Failure("give CRED_ID, --subject and --title (or --batch FILE)", 2)
        digest = _file_digest(document_file) if document_file else None
        rows = [(0, {"id": cred_id, "subject": subject, "title": title, "expires": expires,
                     "parts": list(parts), "document": digest.hex() if digest else None})]
    now = _now()
    items, docs = [], []
    with _open(ctx) as ledger:
        for line, row in rows:
            where = f"{batch_file}:{line}: " if batch_file else ""
            try:
                exp = _parse_date(row.get("expires"), "expires")
                doc_hex = row.get("document")
                document = _parse_digest(doc_hex) if doc_hex is not None else None
                salt = secrets.token_bytes(32)
                subj = row["subject"]
                st = make_statement(ISSUE, issuer_id, now, row["id"],
                                    subject_commitment(salt, subj), row["title"], exp, document,
                                    list(row.get("parts") or []))
            except LedgerError as exc:
                raise EncodingError(f"{where}{exc}") from None
            items.append(_sign(st, signer))
            docs.append(_holder_document(origin=ledger.origin, issuer_id=issuer_id,
                                         cred_id=row["id"], subject=subj, salt=salt,
                                         title=row["title"], expires=row.get("expires"),
                                         parts=list(row.get("parts") or []), document=document))
        # The holder documents hold the only copy of each salt. They are first written together
        # to one fsynced, locked file, OUT/ISSUER/.pending-<first id>.jsonl, then the batch is
        # committed, then each document is written and the pending file removed: a crash at
        # any moment loses no salt of a committed credential, and a refused batch leaves none.
        # A pending file left by a killed run is never overwritten: 'recover' finishes it.
        out = Path(out_dir) / issuer_id
        pending = out / f".pending-{_safe_name(docs[0]['id'])}l"
        lock = _create_pending(pending, "".join(json.dumps(d) + "\n" for d in docs))
        try:
            if len(items) > 1 and not as_json and sys.stderr.isatty():
                with click.progressbar(length=len(items), label="issuing", file=sys.stderr) as bar:
                    done = [0]

                    def progress(n: int) -> None:
                        bar.update(n - done[0])
                        done[0] = n
                    res = _append(ledger, items, progress)
            else:
                res = _append(ledger, items)
        except BaseException as exc:
            # An interrupt (Ctrl-C) can arrive while LMDB commits and be raised only after the
            # commit returned: ask the log, and keep the salts of a batch that is in it.
            try:
                committed = _committed(ledger, issuer_id, docs[0])
            except BaseException:  # noqa: BLE001 - any doubt keeps the salts
                committed = True  # cannot tell: keep the salts for 'recover' to sort out
            os.close(lock)
            if not committed:
                pending.unlink(missing_ok=True)
                raise
            raise Failure(f"interrupted after the batch was committed ({exc.__class__.__name__}"
                          f"); its holder documents are in {pending}: run 'credledger recover "
                          f"{issuer_id} --out {out_dir}'", 130 if isinstance(
                              exc, KeyboardInterrupt) else 3) from None
    for doc in docs:
        _write_private_text(out / _safe_name(doc["id"]), json.dumps(doc, indent=2) + "\n",
                            sync=False)
    os.sync()
    pending.unlink()
    os.close(lock)
    _report(as_json, res, f"issued {len(items)} credential{'s' if len(items) > 1 else ''} "
            f"(holder documents in {out})")


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
    out = Path(out_dir) / issuer_id
    written = dropped = files = 0
    with _open(ctx) as ledger:
        for path in _abandoned_pending(out):
            files += 1
            docs = []
            with open(path, "rb") as f:  # one holder document a line, as many as the batch had
                raw_lines = f.read().splitlines()
            for n, raw in enumerate(raw_lines, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise EncodingError(f"{path}:{n}: not UTF-8: not a holder document; the "
                                        "file is left as it is") from None
                try:
                    doc = json.loads(line)
                    committed = _committed(ledger, issuer_id, doc)
                    mine = doc["origin"] == ledger.origin and doc["issuer"] == issuer_id
                except (ValueError, KeyError, TypeError, AttributeError, RecursionError,
                        LedgerError):
                    raise EncodingError(f"{path}:{n}: not a holder document; the file is "
                                        "left as it is") from None
                if not mine:
                    raise EncodingError(
                        f"{path}:{n}: a document of {doc['issuer']!r} in log "
                        f"{doc['origin']!r}, not of {issuer_id!r} in this store's log "
                        f"{ledger.origin!r} (wrong --dir or ISSUER?); the file is left as it is")
                docs.append((doc, committed))
            for doc, committed in docs:
                if not committed:
                    dropped += 1  # its batch never entered the log: the salt commits to nothing
                    continue
                # Always rewritten (atomically): a document written just before a power loss
                # may exist but be empty. One sync for all of them before the pending file goes.
                _write_private_text(out / _safe_name(doc["id"]), json.dumps(doc, indent=2) + "\n",
                                    sync=False)
                written += 1
            os.sync()
            fsync_path(out)
            path.unlink()
            fsync_path(out)
        for tmp in _stale_pending_temps(out):
            tmp.unlink(missing_ok=True)
    _emit(as_json, {"pending_files": files, "documents": written, "dropped": dropped},
          f"recovered {written} holder document{'s' if written != 1 else ''} in {out} from "
          f"{files} pending file{'s' if files != 1 else ''}; dropped {dropped} of credentials "
          "not in the log")


def _parse_digest(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise EncodingError("document: want a SHA-256 digest as 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise EncodingError("document: want a SHA-256 digest as 64 hex digits") from None


_BATCH_FIELDS = {"id", "subject", "title", "expires", "parts", "document"}


def _read_batch(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a clear error for any bad line."""
    seen: set[str] = set()
    try:
        f = open(path, "rb")  # noqa: SIM115 - the with below closes it; only open's errors differ
    except FileNotFoundError:
        raise EncodingError(f"{path}: no such file") from None
    with f:
        n = 0
        for n, raw in enumerate(f, 1):
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
            yield n, obj
        if not seen:
            raise EncodingError(f"{path}: no credentials in the file")


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
@_json_option
@click.pass_context
def checkpoint(ctx: click.Context, cosigned: str | None, as_json: bool) -> None:
    """Sign, store and print a checkpoint (C2SP signed note) of the current tree.

    Prints exactly the note on stdout. Every checkpoint ever signed is kept. Bundles made
    afterwards carry the checkpoint with every cosignature stored for it.

    \b
    Examples:
      credledger checkpoint > checkpoint.txt
      credledger checkpoint --add-cosignatures cosigned.txt
    """
    from ledger.note import parse_checkpoint, parse_note

    with _open(ctx) as ledger:
        if cosigned is not None:
            note = ledger.add_cosignatures(_read_text_file(cosigned, "a cosigned checkpoint"))
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
    from ledger.events import CRED, ISSUER, CredRecord, IssuerRecord, decode_statement
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
                human += f"; {rec.state} at entry {rec.changed_index} ({_iso(changed.time)})"
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
              help="Prove against the stored checkpoint of this size (default: the latest).")
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
    """Write an offline proof for credentials against a stored checkpoint.

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
    from ledger.events import CRED, CredRecord, check_id
    from ledger.note import parse_checkpoint, parse_note

    creds = [(check_id(issuer_id, "issuer"), check_id(c, "credential id")) for c in cred_ids]
    for other in others:
        issuer, sep, cred = other.partition("/")
        if not sep:
            raise Failure(f"--with: want ISSUER/CRED_ID, got {other!r}", 2)
        creds.append((check_id(issuer, "issuer"), check_id(cred, "credential id")))
    with _open(ctx) as ledger:
        if fmt == "bundle":
            from ledger.bundle import build_bundle, dump_bundle
            from ledger.verify import parse_holder_document

            docs = [parse_holder_document(Path(d).read_bytes()) for d in documents]
            _write_out(output, dump_bundle(build_bundle(ledger, creds, size=size,
                                                        documents=docs)))
            return
        if len(creds) != 1 or documents:
            raise Failure("--format tlog-proof proves one credential, without documents", 2)
        note = ledger.checkpoint_note(size)
        cp = parse_checkpoint(parse_note(note).text)
        rec = ledger.record(CRED, issuer_id, cred_ids[0])
        if not isinstance(rec, CredRecord):
            raise NotFoundError(f"issuer {issuer_id!r} never issued {cred_ids[0]!r}")
        if rec.issued_index >= cp.size:
            raise NotFoundError(f"{issuer_id}/{cred_ids[0]} was issued at entry "
                                f"{rec.issued_index}, after the checkpoint of size {cp.size}; "
                                "run 'credledger checkpoint' first")
        proof = ledger.inclusion_proof(rec.issued_index, cp.size)
        data = ledger.entry_bytes(rec.issued_index)
    from ledger.tlogproof import TlogProof

    _write_out(output, TlogProof(rec.issued_index, tuple(proof), note, data).format())


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, readable=False))
@click.option("--log-key", "log_key", metavar="VKEY", default=None,
              help="Trust the log's verifier key (as printed by 'credledger init').")
@click.option("--root", metavar="HEX", default=None,
              help="Trust a published root hash (hex); needs --size.")
@click.option("--size", type=click.IntRange(min=0), default=None,
              help="The tree size of the trusted --root.")
@click.option("--document", "documents", multiple=True,
              type=click.Path(dir_okay=False, readable=False),
              help="A holder's credential document to check against the log (repeatable).")
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
def verify(file: str, log_key: str | None, root: str | None, size: int | None,
           documents: tuple[str, ...], at: str | None, witnesses: tuple[str, ...],
           min_witnesses: int | None, max_age: str | None, as_json: bool) -> None:
    """Check a proof bundle offline: VALID, REVOKED, SUSPENDED, EXPIRED, NOT FOUND or INVALID.

    Exit 0 only when every credential in the bundle is VALID; 1 otherwise (including a
    bundle that fails any check); 2 for usage errors; 3 for an unreadable file.

    \b
    Examples:
      credledger verify cs-001.bundle.json --log-key "example.org/credentials+1d5387d8+AdhtjU..."
      credledger verify cs-001.bundle.json --root 60dd97...f573 --size 17
      credledger verify cs-001.bundle.json --log-key VKEY --witness W1 --witness W2 \\
          --min-witnesses 2 --max-age 7d
    """
    try:
        code, out, err = run_verify(file, log_key=log_key, root=root, size=size,
                                    documents=documents, at=at, witnesses=witnesses,
                                    min_witnesses=min_witnesses, max_age=max_age, as_json=as_json)
    except CommandError as exc:
        raise Failure(exc.message, exc.code) from None
    click.echo(out, nl=False)
    if err:
        raise Failure(err, code)
    if code:
        click.get_current_context().exit(code)


def _write_out(output: str | None, text: str) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, output)
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
    _emit(as_json, {"dir": state_dir, "vkey": vkey},
          f"{vkey}\n(verifiers pass this to 'credledger verify --witness')")


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
          f"backed up the log of {head.size} entries (root {head.root.hex()}) to {dest}: "
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
    from ledger.tiles import (
        TileReader,
        audit_tiles,
        check_saved_checkpoints,
        open_saved_checkpoints,
        write_atomic,
    )

    notes = [_read_checkpoint_file(f) for f in saved]
    if tiles is not None:
        if log_key is None:
            raise Failure("--tiles needs --log-key: a published tree is trusted only through "
                          "the log's verifier key", 2)
        verifier = _parse_vkey(log_key)
        reader = TileReader(tiles)
        size = _unverified_size(reader)
        if as_json or size < 1000 or not sys.stderr.isatty():
            report = audit_tiles(reader, verifier, saved_checkpoints=notes)
        else:
            with click.progressbar(length=size, label="auditing", file=sys.stderr) as bar:
                report = audit_tiles(reader, verifier, saved_checkpoints=notes,
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
                report = audit_store(ledger, log_key=verifier)
            else:
                with click.progressbar(length=size, label="auditing", file=sys.stderr) as bar:
                    report = audit_store(ledger, log_key=verifier, progress=bar.update)
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
          f"audit OK ({where}): {report.size} entries ({report.issuers} issuers, "
          f"{report.credentials} credentials, {report.revocations} revocations, "
          f"{report.suspensions} suspensions), {report.checkpoints} checkpoints checked; root "
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
          f"{report.seconds:.2f} s")
