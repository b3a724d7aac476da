"""The issuer's commands: ``issue``, ``recover``, ``revoke``, ``suspend``, ``reinstate``."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from ledger.cliutil import (
    Failure,
    append,
    dir_option,
    emit,
    json_option,
    log_options,
    now,
    open_log,
    plural,
    read_key,
    remote_url,
    report_append,
    sign,
)
from ledger.errors import EncodingError


@click.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cred_id", metavar="CRED_ID", required=False)
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="An active key file of the issuer.")
@click.option("--subject", help="Who the credential is for (only a salted hash of it is in the "
                                "credential, and nothing of it in the log).")
@click.option("--subject-type", type=click.Choice(["emailAddress", "sisSourcedId", "name"]),
              default="name", show_default=True,
              help="What --subject is: an email address, a student number, or a name.")
@click.option("--achievement", help="The registered achievement it awards "
                                    "('credledger achievement add').")
@click.option("--result", help="A grade or score, shown in the credential (never in the log).")
@click.option("--expires", metavar="YYYY-MM-DD", help="Last day the credential is valid.")
@click.option("--part", "parts", multiple=True, metavar="CRED_ID",
              help="A credential this one stacks, by the id it was issued with (repeatable).")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False),
              help="A CSV file with a header (name ending in .csv) or a JSONL file: all its "
                   "credentials issued in one atomic commit.")
@click.option("--format", "batch_format", type=click.Choice(["csv", "jsonl"]),
              help="The --batch file's format (default: csv for a name ending in .csv, else "
                   "jsonl).")
@click.option("--columns", metavar="FIELD=COLUMN,...",
              help="CSV: the column of each field, e.g. id=student_no,subject=email (default: "
                   "columns named id, subject, subject_type, achievement, result, expires, "
                   "parts).")
@click.option("--skip-existing", is_flag=True,
              help="Skip credentials (by id) already issued to OUT and in the log, and issue "
                   "the rest: a re-run after a failure is safe.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="credentials",
              show_default=True, help="Where the holders' credentials are written.")
@json_option
@dir_option
@log_options
@click.pass_context
def issue(ctx: click.Context, issuer_id: str, cred_id: str | None, key_file: str,
          subject: str | None, subject_type: str, achievement: str | None, result: str | None,
          expires: str | None, parts: tuple[str, ...], batch_file: str | None,
          batch_format: str | None, columns: str | None, skip_existing: bool, out_dir: str,
          as_json: bool) -> None:
    """Issue one credential, or a whole cohort from a CSV or JSONL file in one atomic commit.

    Each holder gets an Open Badges 3.0 credential, signed by the issuer's key, written to
    OUT/ISSUER/<CRED_ID>.json (mode 0600): hand it to the holder, with the proof bundle
    'credledger prove' writes. CRED_ID is the issuer's own id for it (a student number, say):
    it names the file and nothing else. The log holds only a random id, the credential's
    digest, the achievement, the dates and a status index: nothing personal. While a batch of
    ISSUER that was interrupted after its commit waits for 'credledger recover' (in any
    --out), issue refuses and names it.

    \b
    A CSV batch: a header line, then one credential a line (Excel's UTF-8 BOM is fine):
      id,subject,subject_type,achievement,result,expires,parts
      c-1,ada@example.org,emailAddress,cs201,A,2028-06-30,
    A JSONL batch line: {"id": "c-1", "subject": "ada@example.org", "subject_type":
      "emailAddress", "achievement": "cs201", "result": "A", "expires": "2028-06-30",
      "parts": ["m-1", "m-2"]}
    (subject_type defaults to name; result, expires and parts are optional). All lines or
    none are issued.

    \b
    Examples:
      credledger issue uni c-1 --key uni.key --subject ada@example.org \\
          --subject-type emailAddress --achievement cs201 --result A
      credledger issue uni --key uni.key --batch cohort-2026.jsonl
      credledger issue uni --key uni.key --batch registrar.csv --skip-existing \\
          --columns id=student_no,subject=email,achievement=course,result=grade
      credledger issue uni --key uni.key --batch cohort-2026.jsonl \\
          --log https://log.example.org --log-key "$LOG_VKEY"

    With --log URL the batch goes to a log served by 'credledger serve' (the key never
    leaves this machine; the holders' credentials are written here): the answer is checked
    against --log-key (every statement's entry, leaf hash and inclusion proof, a checkpoint
    consistent with the last one seen). A network failure after sending: run 'credledger
    recover ISSUER --log URL' (a batch sent again is never issued twice).
    """
    from ledger.batchfile import CredentialRequest, parse_columns, read_batch
    from ledger.issuance import issue as issue_batch
    from ledger.issuance import issuer_dir, refuse_if_abandoned, refuse_if_pending, split_existing

    url = remote_url(ctx)
    refuse_if_abandoned(issuer_dir(out_dir, issuer_id), issuer_id, out_dir,
                        f" --log {url}" if url else "")
    if batch_file is not None:
        if (cred_id is not None or subject or achievement or result or expires or parts
                or subject_type != "name"):
            raise Failure("--batch takes the credentials from the file: give no CRED_ID, "
                          "--subject, --subject-type, --achievement, --result, --expires or "
                          "--part", 2)
        try:
            mapping = None if columns is None else parse_columns(columns)
        except EncodingError as exc:
            raise Failure(str(exc), 2) from None
        if mapping is not None and (batch_format or "") != "csv" and not \
                batch_file.lower().endswith(".csv"):
            raise Failure("--columns is for a CSV batch (a name ending in .csv, or --format "
                          "csv)", 2)
        signer = read_key(key_file)
        requests = list(read_batch(batch_file, fmt=batch_format, columns=mapping))
    else:
        if cred_id is None or subject is None or achievement is None:
            raise Failure("give CRED_ID, --subject and --achievement (or --batch FILE)", 2)
        if batch_format or columns:
            raise Failure("--format and --columns are for --batch", 2)
        signer = read_key(key_file)
        requests = [CredentialRequest(cred_id, subject, achievement, subject_type, result,
                                      expires, parts)]
    with open_log(ctx, out_dir) as ledger:
        refuse_if_pending(ledger, issuer_id, out_dir)  # in any OUT the store recorded
        skipped = 0
        if skip_existing:
            requests, existing = split_existing(ledger, issuer_id,
                                                issuer_dir(out_dir, issuer_id), requests)
            skipped = len(existing)
            if not requests:
                emit(as_json, {"count": 0, "skipped": skipped, "size": ledger.head().size},
                      f"all {plural(skipped, 'credential is', 'credentials are')} already in "
                      "the log; nothing issued")
                return
        if len(requests) > 1 and not as_json and sys.stderr.isatty():
            with click.progressbar(length=len(requests), label="issuing", file=sys.stderr) as bar:
                done = [0]

                def progress(n: int) -> None:
                    bar.update(n - done[0])
                    done[0] = n
                issued = issue_batch(ledger, issuer_id, signer, requests, out_dir, now=now(),
                                     progress=progress)
        else:
            issued = issue_batch(ledger, issuer_id, signer, requests, out_dir, now=now())
    report_append(as_json, issued.appended, f"issued {len(requests)} credential"
            f"{'s' if len(requests) > 1 else ''} (holders' credentials in {issued.out})"
            + (f"; skipped {skipped} already in the log" if skip_existing else ""),
            extra={"skipped": skipped} if skip_existing else None)


@click.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="credentials",
              show_default=True, help="The --out directory of the interrupted 'issue'.")
@json_option
@dir_option
@log_options
@click.pass_context
def recover(ctx: click.Context, issuer_id: str, out_dir: str, as_json: bool) -> None:
    """Finish an interrupted 'issue': write the holder documents its commit left pending.

    A batch that was killed after its commit leaves OUT/ISSUER/.pending-*.jsonl, the only copy
    of its holders' credentials (their salts are in them). For each credential there, recover
    writes OUT/ISSUER/<CRED_ID>.json if the log holds it, drops those that never entered the
    log, and removes the pending file.

    With --log URL (a served log) whether each credential is in the log is read from a
    proof bundle checked against --log-key.

    \b
    Examples:
      credledger recover uni --out credentials
      credledger recover uni --log https://log.example.org --log-key "$LOG_VKEY"
    """
    from ledger.issuance import issuer_dir
    from ledger.issuance import recover as recover_documents

    out = issuer_dir(out_dir, issuer_id)
    with open_log(ctx, out_dir) as ledger:
        done = recover_documents(ledger, issuer_id, out)
    written, files = done.documents, done.pending_files
    emit(as_json, {"pending_files": files, "documents": written, "dropped": done.dropped},
          f"recovered {written} holder document{'s' if written != 1 else ''} in {out} from "
          f"{files} pending file{'s' if files != 1 else ''}; dropped {done.dropped} of "
          "credentials not in the log")


def _status_command(kind: str, verb: str) -> Callable[..., None]:
    from ledger.events import REASON_CODES

    @click.argument("issuer_id", metavar="ISSUER")
    @click.argument("cred_id", metavar="CRED")
    @click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
                  help="An active key file of the credential's issuer.")
    @click.option("--reason", type=click.Choice(REASON_CODES[kind]), default="unspecified",
                  show_default=True,
                  help=f"Why the credential is {verb}: a code, public forever (the case itself "
                       "stays in your own records).")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), default="credentials",
                  show_default=True,
                  help="Where 'issue' wrote the credentials: a CRED given by your own id is "
                       "looked up in OUT/ISSUER/.")
    @json_option
    @dir_option
    @log_options
    @click.pass_context
    def command(ctx: click.Context, issuer_id: str, cred_id: str, key_file: str, reason: str,
                out_dir: str, as_json: bool) -> None:
        from ledger.events import make_statement
        from ledger.issuance import issuer_dir, resolve
        from ledger.records import CRED, CredRecord

        handle = resolve(issuer_dir(out_dir, issuer_id), cred_id)
        signer = read_key(key_file)
        with open_log(ctx, out_dir) as ledger:
            rec = ledger.record(CRED, issuer_id, handle)
            # A status statement must be newer than the last one about the credential.
            t = max(now(), rec.last_time + 1 if isinstance(rec, CredRecord) else 0)
            st = make_statement(kind, issuer_id, t, handle, reason)
            res = append(ledger, [sign(st, signer)])
        named = cred_id if cred_id == handle else f"{cred_id} ({handle})"
        report_append(as_json, res, f"{verb} {issuer_id}/{named}: {reason}")
    return command


def _status_commands() -> list[click.Command]:
    from ledger.events import REINSTATE, REVOKE, SUSPEND

    docs = {
        REVOKE: ("revoked", "Revoke a credential (final), signed by its issuer.",
                 "credledger revoke uni c-1 --key uni.key --reason withdrawn"),
        SUSPEND: ("suspended", "Suspend a credential (reversible), signed by its issuer.",
                  "credledger suspend uni c-1 --key uni.key --reason under-review"),
        REINSTATE: ("reinstated", "Reinstate a suspended credential, signed by its issuer.",
                    "credledger reinstate uni c-1 --key uni.key --reason review-complete"),
    }
    commands = []
    for kind, (verb, summary, example) in docs.items():
        fn = _status_command(kind, verb)
        fn.__doc__ = (f"{summary}\n\nCRED is the credential's id (urn:uuid:...) or your own id "
                      f"for it (its file's name in OUT/ISSUER/). The log records only the "
                      f"credential's random id and the reason's code. With --log URL, to a "
                      f"served log (the answer checked against --log-key).\n\n\b\nExamples:"
                      f"\n  {example}\n  {example} \\\n      --log https://log.example.org "
                      f"--log-key \"$LOG_VKEY\"\n")
        commands.append(click.command(kind)(fn))
    return commands


COMMANDS: list[click.Command] = [issue, recover] + _status_commands()
