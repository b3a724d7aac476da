"""Status lists: ``status-list`` publishes a key's Bitstring Status Lists in the log
(docs/FORMAT.md §3.2, §17.4); ``export tiles`` then serves them beside the tiles."""

from __future__ import annotations

import click

from ledger.cliutil import (
    append,
    dir_option,
    emit,
    json_option,
    log_options,
    now,
    open_log,
    plural,
    read_key,
    report_append,
    sign,
)
from ledger.events import key_id


@click.command("status-list")
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="A key file of the issuer: the active key, or a rotated one (its "
                   "credentials still point at its lists); not a revoked one.")
@json_option
@dir_option
@log_options
@click.pass_context
def status_list(ctx: click.Context, issuer_id: str, key_file: str, as_json: bool) -> None:
    """Publish the status lists of ISSUER's key in the --key file, as of the log's head.

    Every list that holds a credential the key signed, for revocation and for suspension: one
    publish-status-list entry each, holding the signed BitstringStatusListCredential (bit i set
    iff the credential holding index i is revoked, or suspended). 'export tiles' writes each
    list's newest publication to status/ISSUER/KEY_ID/PURPOSE/N.json beside the tiles, where
    the credentials point; 'audit' checks every bit against the log. Run it after status
    changes, and at least daily (the lists say ttl: a day).

    \b
    Examples:
      credledger status-list uni --key uni.key
      credledger status-list uni --key uni-2025.key --json && credledger checkpoint \\
          && credledger export tiles /var/www/credentials
      credledger status-list uni --key uni.key --log https://log.example.org \\
          --log-key "$LOG_VKEY"

    With --log URL (a served log) the lists are built here from the served tiles (their
    entries must hash to a checkpoint signed by --log-key), and appended there.
    """
    from ledger.statuspublish import publish_statements

    signer = read_key(key_file)
    kid = key_id(signer.public_key)
    with open_log(ctx) as ledger:
        if hasattr(ledger, "url"):  # a served log: built from its verified tiles
            statements = ledger.publish_statements(issuer_id, signer.seed, time=now())
        else:
            statements = publish_statements(ledger, issuer_id, signer.seed, time=now())
        if not statements:
            size = ledger.head().size
            emit(as_json, {"first_index": None, "count": 0, "size": size, "lists": []},
                 f"key {kid} of {issuer_id!r} signed no credential in the log's "
                 f"{plural(size, 'entry', 'entries')}: no list to publish")
            return
        res = append(ledger, [sign(st, signer) for st in statements])
    lists = [{"purpose": st.fields[0], "number": st.fields[1], "tree_size": st.fields[2],
              "index": res.first + n} for n, st in enumerate(statements)]
    numbers = sorted({st.fields[1] for st in statements})
    report_append(as_json, res,
                  f"published {plural(len(statements), 'status list', 'status lists')} of key "
                  f"{kid} of {issuer_id!r} (list{'s' if len(numbers) > 1 else ''} "
                  f"{', '.join(map(str, numbers))}, revocation and suspension) as of "
                  f"{plural(statements[0].fields[2], 'entry', 'entries')}",
                  {"issuer": issuer_id, "key_id": kid, "lists": lists})


COMMANDS: list[click.Command] = [status_list]
