"""Proofs and their check: ``prove``, ``prove-all``, ``verify`` (click's side of it; a
well-formed ``credledger verify`` runs ``verifycmd`` without click, see ``main``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from ledger.cliutil import (
    Failure,
    dir_option,
    emit,
    json_option,
    log_options,
    open_ledger,
    open_log,
    plural,
    remote_url,
    write_out,
)
from ledger.errors import EncodingError, NotFoundError
from ledger.files import fsync_path, write_atomic
from ledger.printable import printable
from ledger.verifycmd import CommandError, run_verify


def _out_option(help_text: str) -> Any:
    return click.option("--out", "out_dir", type=click.Path(file_okay=False),
                        default="credentials", show_default=True, help=help_text)


@click.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cred_ids", metavar="CRED...", nargs=-1, required=True)
@click.option("--with", "others", multiple=True, metavar="ISSUER/urn:uuid:...",
              help="Add another issuer's credential to the bundle (repeatable).")
@click.option("--size", type=click.IntRange(min=0), default=None,
              help="Prove an older state: the stored checkpoint of this size (default: the "
                   "log as it is now, signing a checkpoint if it has grown since the latest).")
@click.option("--format", "fmt", type=click.Choice(["bundle", "tlog-proof"]), default="bundle",
              show_default=True,
              help="bundle: status and authenticity (JSON); tlog-proof: C2SP inclusion proof "
                   "of the issuance entry.")
@_out_option("Where 'issue' wrote the credentials: a CRED given by the issuer's own id is "
             "looked up in OUT/ISSUER/.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of stdout.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object on stdout: what was proven, as of which checkpoint, "
                   "and the proof itself (under 'bundle' or 'tlog_proof') unless -o is given.")
@dir_option
@log_options
@click.pass_context
def prove(ctx: click.Context, issuer_id: str, cred_ids: tuple[str, ...], others: tuple[str, ...],
          size: int | None, fmt: str, out_dir: str, output: str | None,
          as_json: bool) -> None:
    """Write an offline proof for credentials, as of the log now (or of an older checkpoint).

    A CRED is the credential's id (urn:uuid:..., as in the holder's credential) or the
    issuer's own id for it (the name 'issue' gave its file in OUT/ISSUER/). The bundle
    travels beside the holder's credential: 'credledger verify CRED.json --bundle BUNDLE'.

    By default the proof is against a checkpoint of the whole log: the latest stored one if
    the log has not grown since, else a new one, signed with the store's log key (an encrypted
    key needs CREDLEDGER_PASSPHRASE or a terminal). --size N proves the older state of the
    stored checkpoint of size N instead.

    A bundle proves authenticity and status (valid, revoked, suspended, or never issued) as
    of the checkpoint, with the achievement awarded; several credentials (a stack) share one
    checkpoint, and the parts of a stacked credential are included. A bundle holds nothing
    personal. A tlog-proof proves only that the issuance entry is in the log; its extra data
    is the exact entry bytes.

    \b
    Examples:
      credledger prove uni cs-001 -o cs-001.bundle.json
      credledger prove uni urn:uuid:5b0d2c8e-7f43-4f5e-9a51-0c6a1d2e3f40 -o b.json
      credledger prove uni cs-001 cs-002 --with other/urn:uuid:... -o stack.json
      credledger prove uni cs-001 --size 14 -o old.json
      credledger prove uni cs-001 --format tlog-proof -o cs-001.tlog-proof
      credledger prove uni cs-001 -o cs-001.bundle.json --json
      credledger prove uni cs-001 -o cs-001.bundle.json \\
          --log https://log.example.org --log-key "$LOG_VKEY"

    With --log URL the bundle comes from a served log (GET /v1/bundle, of its latest
    checkpoint or of --size N) and is verified here, offline, against --log-key (and its
    checkpoint against the last one this client saw of the log) before it is written.
    """
    from ledger.events import check_handle, check_id
    from ledger.issuance import issuer_dir, resolve

    issuer_id = check_id(issuer_id, "issuer")
    creds = [(issuer_id, resolve(issuer_dir(out_dir, issuer_id), c)) for c in cred_ids]
    for other in others:
        issuer, sep, cred = other.partition("/")
        if not sep:
            raise Failure(f"--with: want ISSUER/urn:uuid:..., got {other!r}", 2)
        creds.append((check_id(issuer, "issuer"), check_handle(cred, "--with")))
    if fmt == "tlog-proof" and len(creds) != 1:
        raise Failure("--format tlog-proof proves one credential", 2)
    if remote_url(ctx) is not None:
        _prove_remote(ctx, issuer_id, creds, size, fmt, out_dir, output, as_json)
        return
    signed = None
    if size is None:
        size = _checkpoint_if_current(ctx)  # then nothing to sign: read-only, never waiting
    with open_ledger(ctx, readonly=size is not None) as ledger:
        if fmt == "bundle":
            from ledger.bundle import build_bundle, dump_bundle

            if size is None:
                size, signed = _current_checkpoint(ledger)
            text = dump_bundle(build_bundle(ledger, creds, size=size))
        else:
            from ledger.records import CRED, CredRecord
            from ledger.tlogproof import prove_issuance

            if size is None:  # sign nothing for a credential that was never issued
                if not isinstance(ledger.record(CRED, *creds[0]), CredRecord):
                    raise NotFoundError(f"issuer {creds[0][0]!r} never issued {creds[0][1]!r}")
                size, signed = _current_checkpoint(ledger)
            text = prove_issuance(ledger, *creds[0], size=size).format()
    if as_json:
        data: dict[str, Any] = {"proof": fmt, "credentials": [f"{i}/{c}" for i, c in creds],
                                "checkpoint_size": size, "checkpoint_signed": signed is not None,
                                "output": output}
        if output is None:
            data["bundle" if fmt == "bundle" else "tlog_proof"] = (
                json.loads(text) if fmt == "bundle" else text)
        else:
            write_out(output, text, quiet=True)
        emit(True, data, "")
        return
    write_out(output, text)
    if signed is not None:
        click.echo(signed, err=True)


def _prove_remote(ctx: click.Context, issuer_id: str, creds: list[tuple[str, str]],
                  size: int | None, fmt: str, out_dir: str, output: str | None,
                  as_json: bool) -> None:
    """``prove --log URL``: the served log's bundle, verified offline before it is written."""
    if fmt != "bundle":
        raise Failure("--format tlog-proof is made from a store: with --log, a bundle only", 2)
    others = sorted({i for i, _ in creds if i != issuer_id})
    if others:
        raise Failure(f"with --log a bundle proves credentials of one issuer ({issuer_id!r}), "
                      f"not of {others[0]!r}: prove those apart", 2)
    with open_log(ctx, out_dir) as log:
        text, verdict = log.bundle(issuer_id, [c for _, c in creds], size)
    size = verdict.checkpoint.size
    if as_json:
        data: dict[str, Any] = {"proof": fmt, "credentials": [f"{i}/{c}" for i, c in creds],
                                "checkpoint_size": size, "checkpoint_signed": False,
                                "output": output}
        if output is None:
            data["bundle"] = json.loads(text)
        else:
            write_out(output, text, quiet=True)
        emit(True, data, "")
        return
    write_out(output, text)


@click.command("prove-all")
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cohort_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--out-dir", "bundles_dir", required=True, type=click.Path(file_okay=False),
              help="Where the bundles go: <CRED_ID>.bundle.json each (created if need be).")
@_out_option("Where 'issue' wrote the credentials (OUT/ISSUER/<CRED_ID>.json): each id of "
             "FILE is looked up there.")
@click.option("--size", type=click.IntRange(min=0), default=None,
              help="Prove an older state: the stored checkpoint of this size (default: the "
                   "log as it is now, as for 'prove').")
@click.option("--columns", metavar="FIELD=COLUMN,...",
              help="A CSV FILE's column mapping: the one it was issued with ('issue --columns').")
@click.option("--strict", is_flag=True,
              help="Refuse, writing nothing, if any credential of FILE was never issued "
                   "(default: it is skipped, and the summary counts it).")
@json_option
@dir_option
@click.pass_context
def prove_all(ctx: click.Context, issuer_id: str, cohort_file: str, bundles_dir: str,
              out_dir: str, size: int | None, columns: str | None, strict: bool,
              as_json: bool) -> None:
    """Write a bundle for each credential of a cohort, all from one snapshot of the log and
    against one checkpoint, as 'prove' would one by one.

    FILE is the batch file the cohort was issued from (CSV or JSONL: its ids are used; a CSV
    file's --columns as for 'issue') or a plain list of the issuer's own ids, one a line. Each
    id's credential is read from OUT/ISSUER/<CRED_ID>.json, and its bundle goes to
    OUT_DIR/<CRED_ID>.bundle.json, to hand to the holder beside the credential. An id with no
    credential there, or whose credential the log does not hold, was never issued: skipped
    and counted in the summary (--strict refuses instead).

    \b
    Examples:
      credledger prove-all uni cohort-2026.jsonl --out-dir bundles
      credledger prove-all uni registrar.csv --columns id=student_no,subject=email,\\
          achievement=course --out-dir bundles
      credledger prove-all uni ids.txt --out-dir bundles --out credentials --strict
    """
    from ledger.batchfile import parse_columns, read_cohort
    from ledger.bundle import build_bundles, dump_bundle, proves_absence
    from ledger.events import check_id
    from ledger.holder import file_stem
    from ledger.issuance import issuer_dir, read_credential

    issuer_id = check_id(issuer_id, "issuer")
    try:
        mapping = None if columns is None else parse_columns(columns)
    except EncodingError as exc:
        raise Failure(str(exc), 2) from None
    ids = read_cohort(cohort_file, mapping)
    source = issuer_dir(out_dir, issuer_id)
    handles: dict[str, str] = {}
    missing: list[str] = []
    for own in ids:
        try:
            handles[own] = str(read_credential(source, own)["id"])
        except NotFoundError:
            missing.append(own)
    if strict and missing:
        raise Failure(f"no credential in {source} for {plural(len(missing), 'id', 'ids')} of "
                      f"{len(ids)} (the first: {missing[0]!r}); no bundle written", 3)
    own_of = {h: own for own, h in handles.items()}
    out = Path(bundles_dir)
    bar = (click.progressbar(length=len(handles), label="proving", file=sys.stderr)
           if not as_json and sys.stderr.isatty() and len(handles) > 1 else None)
    signed = None
    if size is None:
        size = _checkpoint_if_current(ctx)  # then nothing to sign: read-only, never waiting
    with open_ledger(ctx, readonly=size is not None) as ledger:
        if size is None:
            size, signed = _current_checkpoint(ledger)
        if bar is not None:
            with bar:
                done = [0]

                def progress(n: int) -> None:
                    bar.update(n - done[0])
                    done[0] = n
                bundles = list(build_bundles(ledger, issuer_id, list(handles.values()),
                                             size=size, progress=progress))
        else:
            bundles = list(build_bundles(ledger, issuer_id, list(handles.values()), size=size))
    absent = [own_of[h] for h, b in bundles if proves_absence(b)]
    if strict and absent:
        raise Failure(f"{plural(len(absent), 'credential', 'credentials')} of {len(ids)} "
                      f"never issued by {issuer_id!r} as of the checkpoint (the first: "
                      f"{absent[0]!r}); no bundle written", 3)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for handle, bundle in bundles:
        if proves_absence(bundle):
            continue
        path = out / f"{file_stem(own_of[handle])}.bundle.json"
        write_atomic(path, dump_bundle(bundle).encode("utf-8"), mode=0o644, sync=False,
                     sync_dir=False)
        written += 1
    os.sync()  # one sync for all of them
    fsync_path(out)
    if signed is not None and not as_json:
        click.echo(signed, err=True)
    never = sorted(missing + absent)
    skipped = f"; {len(never)} never issued, skipped" if never else ""
    emit(as_json, {"bundles": written, "never_issued": never, "checkpoint_size": size,
                    "checkpoint_signed": signed is not None, "out_dir": str(out)},
          f"wrote {plural(written, 'bundle', 'bundles')} to {out}{skipped}, as of the "
          f"checkpoint of size {size}")


def _checkpoint_if_current(ctx: click.Context) -> int | None:
    """The size of the latest stored checkpoint if it covers the whole log, read from the
    store opened read-only; else None (a checkpoint must be signed: the caller opens the store
    for writing). A proof of the latest checkpoint so needs no write lock, and never waits for
    a batch another process is appending (if the log grows meanwhile, the proof is of the log
    as it was when the command began)."""
    from ledger.note import parse_checkpoint, parse_note

    with open_ledger(ctx, readonly=True) as ledger:
        try:
            latest = parse_checkpoint(parse_note(ledger.checkpoint_note()).text).size
        except NotFoundError:
            return None
        return latest if latest == ledger.head().size else None


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


@click.command()
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
@click.option("--bundle", "bundles", multiple=True,
              type=click.Path(dir_okay=False, readable=False, allow_dash=True),
              help="The proof bundle of a credential FILE ('credledger prove' writes it; "
                   "repeatable).")
@click.option("--subject", default=None, metavar="VALUE",
              help="The holder's identifier (email, student number or name, exactly as "
                   "issued): it must match the credential's salted hash.")
@click.option("--at", "at", metavar="YYYY-MM-DD", default=None,
              help="Judge expiry (and --max-age) at the start of this day (UTC) instead of now.")
@click.option("--witness", "witnesses", multiple=True, metavar="VKEY",
              help="A trusted witness's cosigner key (repeatable).")
@click.option("--min-witnesses", type=click.IntRange(min=0), default=None,
              help="Require this many trusted witness cosignatures (default: 1 with --witness).")
@click.option("--max-age", default=None, metavar="DURATION",
              help="Require the newest trusted cosignature to be at most this old "
                   "(e.g. 36h, 7d, 90m).")
@json_option
def verify(files: tuple[str, ...], log_key: str | None, root: str | None, size: int | None,
           checkpoint: str | None, trust: str | None,
           bundles: tuple[str, ...], subject: str | None, at: str | None,
           witnesses: tuple[str, ...], min_witnesses: int | None, max_age: str | None,
           as_json: bool) -> None:
    """Check a holder's credential and its proof bundle offline: VALID, REVOKED, KEY
    COMPROMISED, SUSPENDED, EXPIRED, NOT FOUND or INVALID.

    A FILE is a holder's credential (the Open Badges 3.0 JSON from 'issue'), verified with its
    proof bundle (--bundle, or a bundle FILE): its Data Integrity proof by the issuer's key,
    and that it is exactly the credential the log committed to, with the key the issuer held
    then and the achievement it registered; --subject also checks who it names. A bundle
    alone answers the status only. A FILE may also be a tlog-proof ('prove --format
    tlog-proof'): INCLUDED when its entry is in the trusted checkpoint's tree (inclusion only).

    KEY COMPROMISED: the credential was issued (or reinstated) by a key that the log flags as
    stolen from that entry on ('issuer revoke-key --compromised-since'). A credential whose
    key was revoked after it was issued stays VALID, and the answer says so.

    Each answer names the issuer and the achievement, says whether the credential and the
    holder were checked, and what the answers are as of (the time of the checkpoint's last
    entry). Several proofs are verified one by one, a block each (--json: a list), exit code
    the worst; each credential goes with the one bundle that proves it; '-' is stdin. The
    trusted log key may come from --trust FILE or $CREDLEDGER_LOG_KEY.

    Exit 0 only when every credential is VALID (or the tlog-proof checks); 1 otherwise
    (including a proof or credential that fails any check); 2 for usage errors (a credential
    without its bundle, say); 3 for an unreadable file.

    \b
    Examples:
      credledger verify cs-001.json --bundle cs-001.bundle.json --log-key "example.org/credentials+1d5387d8+AdhtjU..."
      credledger verify cs-001.json --bundle cs-001.bundle.json --log-key VKEY \\
          --subject ada@example.org
      credledger verify cs-001.bundle.json --root 60dd97...f573 --size 17
      credledger verify cs-001.bundle.json --checkpoint saved.checkpoint --log-key VKEY
      CREDLEDGER_LOG_KEY=VKEY credledger verify a.bundle.json b.bundle.json -
      credledger verify a.json b.json --bundle a.bundle.json --bundle b.bundle.json
      credledger verify cs-001.tlog-proof --log-key VKEY
      credledger verify cs-001.bundle.json --log-key VKEY --witness W1 --witness W2 \\
          --min-witnesses 2 --max-age 7d
    """
    try:
        code, out, err = run_verify(files, log_key=log_key, root=root, size=size,
                                    bundles=bundles, subject=subject, at=at,
                                    witnesses=witnesses, checkpoint=checkpoint, trust=trust,
                                    min_witnesses=min_witnesses, max_age=max_age, as_json=as_json)
    except CommandError as exc:
        raise Failure(exc.message, exc.code) from None
    click.echo(out, nl=False)
    if err and as_json:  # one error object, as the click-free path writes it
        raise Failure("; ".join(err.split("\n")), code)
    if err:
        *before, last = err.split("\n")
        for line in before:
            click.echo(f"credledger: error: {printable(line)}", err=True)
        raise Failure(last, code)
    if code:
        click.get_current_context().exit(code)


COMMANDS: list[click.Command] = [prove, prove_all, verify]
