"""Set-up commands: ``init``, ``key new|show``, ``issuer add|rotate|revoke-key|retire``."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cliutil import (
    Failure,
    Group,
    append,
    dir_option,
    emit,
    json_option,
    log_options,
    new_passphrase,
    now,
    open_ledger,
    open_log,
    parse_vkey,
    passphrase_prompt,
    read_key,
    remote_url,
    report_append,
    sign,
    store_path,
)


@click.command()
@click.option("--origin", required=True, help="The log's name, e.g. example.org/credentials.")
@click.option("--encrypt", is_flag=True,
              help="Protect both key files with a passphrase (asked twice, or "
                   "CREDLEDGER_PASSPHRASE).")
@json_option
@dir_option
@click.pass_context
def init(ctx: click.Context, origin: str, encrypt: bool, as_json: bool) -> None:
    """Create the store, the log key and the registry key; print their verifier keys.

    Stdout: the log verifier key, then the registry verifier key, one a line. The keys are
    written to DIR/keys/log.key and DIR/keys/registry.key (mode 0600).
    Publish the log verifier key: verifiers and auditors trust it.

    \b
    Example:
      credledger --dir ./log-store init --origin example.org/credentials
    """
    from ledger.log import Ledger

    _check_origin(origin)
    passphrase = new_passphrase() if encrypt else None
    ledger, log_signer, registry = Ledger.create(store_path(ctx), origin, passphrase=passphrase)
    with ledger:
        data = {"dir": str(store_path(ctx)), "origin": origin,
                "log_vkey": str(log_signer.verifier()),
                "registry_vkey": str(registry.verifier())}
    emit(as_json, data, f"{data['log_vkey']}\n{data['registry_vkey']}",
          f"(created ledger {origin!r} in {data['dir']}; above: the log verifier key, publish "
          "it, verifiers trust it; then the registry verifier key)")


def _check_origin(origin: str) -> None:
    if not origin or len(origin) > 256 or any(c.isspace() or c == "+" for c in origin) or (
        not origin.isprintable()
    ):
        raise Failure("--origin: want a non-empty name without spaces or '+', "
                      "e.g. example.org/credentials", 2)


@click.group(cls=Group)
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
@json_option
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
    passphrase = new_passphrase() if encrypt else None
    signer = Signer.generate(name)
    write_signer(file, signer, passphrase)
    vkey = str(signer.verifier())
    emit(as_json, {"file": file, "vkey": vkey, "key_id": key_id(signer.public_key)}, vkey,
          f"(key id {key_id(signer.public_key)}; the private key is in {file}, mode 0600)")


@key.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def key_show(file: str, as_json: bool) -> None:
    """Print the verifier key of a key file (never the private key).

    \b
    Example:
      credledger key show uni.key
    """
    from ledger.events import key_id
    from ledger.keys import read_signer

    signer = read_signer(file, passphrase_prompt(file))
    vkey = str(signer.verifier())
    emit(as_json, {"vkey": vkey, "key_id": key_id(signer.public_key)}, vkey)


# ------------------------------------------------------------------------------- issuers


@click.group(cls=Group)
def issuer() -> None:
    """Register issuers and manage their keys.

    \b
    Example:
      credledger issuer add uni --key "$(credledger key show uni.key)" --name "Example University"
    """


@issuer.command("add")
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--key", "vkey", required=True, metavar="VKEY",
              help="The issuer's verifier key (from 'credledger key new').")
@click.option("--name", default="", help="The issuer's display name.")
@click.option("--url", default="", help="The issuer's web address.")
@click.option("--registry-key", type=click.Path(dir_okay=False), default=None,
              help="The registry key file (default: DIR/keys/registry.key).")
@json_option
@dir_option
@click.pass_context
def issuer_add(ctx: click.Context, issuer_id: str, vkey: str, name: str, url: str,
               registry_key: str | None, as_json: bool) -> None:
    """Register an issuer with its public key (signed by the registry key).

    \b
    Example:
      credledger issuer add uni --key "$(credledger key show uni.key)" --name "Example University"
    """
    from ledger.events import REGISTER_ISSUER, make_statement

    verifier = parse_vkey(vkey)
    with open_ledger(ctx) as ledger:
        reg = (read_key(registry_key) if registry_key
               else ledger.registry_signer(passphrase_prompt(ledger.key_path("registry.key"))))
        st = make_statement(REGISTER_ISSUER, issuer_id, now(), name, url, verifier.public_key)
        res = append(ledger, [sign(st, reg)])
    report_append(as_json, res, f"registered issuer {issuer_id!r}")


@issuer.command("rotate")
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="A current key file of the issuer (signs the rotation).")
@click.option("--new-key", "new_key_file", required=True, type=click.Path(dir_okay=False),
              help="The new key file (make it with 'credledger key new').")
@json_option
@dir_option
@log_options
@click.pass_context
def issuer_rotate(ctx: click.Context, issuer_id: str, key_file: str, new_key_file: str,
                  as_json: bool) -> None:
    """Replace an issuer's key with a new one (signed by the current key).

    Credentials signed with the old key stay valid; the old key can sign nothing more.

    \b
    Example:
      credledger key new uni-2027.key --name uni.example
      credledger issuer rotate uni --key uni.key --new-key uni-2027.key
      credledger issuer rotate uni --key uni.key --new-key uni-2027.key \\
          --log https://log.example.org --log-key "$LOG_VKEY"
    """
    from ledger.events import ROTATE_KEY, make_statement

    signer = read_key(key_file)
    new = read_key(new_key_file)
    with open_log(ctx) as ledger:
        st = make_statement(ROTATE_KEY, issuer_id, now(), new.public_key)
        res = append(ledger, [sign(st, signer)])
    report_append(as_json, res, f"rotated the key of {issuer_id!r}")


@issuer.command("revoke-key")
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("key_ref", metavar="KEY_ID")
@click.option("--key", "key_file", type=click.Path(dir_okay=False), default=None,
              help="An active key file of the issuer (default: the registry key revokes).")
@click.option("--reason", default="", help="Why the key is revoked.")
@click.option("--compromised-since", "since", type=click.IntRange(min=0), default=None,
              metavar="INDEX",
              help="The key was stolen from entry INDEX on: what it signed at INDEX or later "
                   "is not trusted. Also for a key already rotated (INDEX before the rotation).")
@json_option
@dir_option
@log_options
@click.pass_context
def issuer_revoke_key(ctx: click.Context, issuer_id: str, key_ref: str, key_file: str | None,
                      reason: str, since: int | None, as_json: bool) -> None:
    """Revoke one of an issuer's keys (KEY_ID: 16 hex digits, or the verifier key).

    Without --compromised-since: an active key can sign nothing from this entry on;
    credentials it issued before stay VALID (the log proves they came first), and verify says
    the key was revoked.

    With --compromised-since INDEX: the key was stolen from entry INDEX on (INDEX at or after
    the entry that introduced it, and before its rotation; for an active key, at most this
    entry, which ends it). Credentials it issued at INDEX or later, and reinstatements it
    signed there, verify as KEY COMPROMISED, not VALID; those issued before stay VALID and
    verify says the key was revoked and from where it was compromised. A key can be revoked
    once: a second revoke-key for it is refused, as is an INDEX outside the key's span.
    Find the indexes with 'credledger status ISSUER'.

    \b
    Examples:
      credledger issuer revoke-key uni 1f2e3d4c5b6a7988 --reason "laptop stolen"
      credledger issuer revoke-key uni 1f2e3d4c5b6a7988 --compromised-since 1200 \\
          --reason "old key found on a stolen backup disk"
      credledger issuer revoke-key uni 1f2e3d4c5b6a7988 --key uni-2027.key \\
          --log https://log.example.org --log-key "$LOG_VKEY"

    With --log URL (a served log) --key is needed: the registry key is the log operator's.
    """
    from ledger.events import REVOKE_KEY, key_id, make_statement

    kid = key_ref.strip()
    if "+" in kid:
        kid = key_id(parse_vkey(kid).public_key)
    fields = (kid, reason) if since is None else (kid, reason, since)
    if key_file is None and remote_url(ctx) is not None:
        raise Failure("with --log, give --key (an active key file of the issuer): the "
                      "registry key is the log operator's, on the log's machine", 2)
    with open_log(ctx) as ledger:
        signer = (read_key(key_file) if key_file
                  else ledger.registry_signer(passphrase_prompt(ledger.key_path("registry.key"))))
        st = make_statement(REVOKE_KEY, issuer_id, now(), *fields)
        res = append(ledger, [sign(st, signer)])
    what = f"revoked key {kid} of {issuer_id!r}"
    if since is not None:
        what += f", compromised since entry {since}"
    report_append(as_json, res, what)


@issuer.command("retire")
@click.argument("issuer_id", metavar="ISSUER")
@click.option("--reason", default="", help="Why the issuer is retired.")
@json_option
@dir_option
@click.pass_context
def issuer_retire(ctx: click.Context, issuer_id: str, reason: str, as_json: bool) -> None:
    """Retire an issuer (signed by the registry key): it can sign nothing more.

    \b
    Example:
      credledger issuer retire oldschool --reason "merged into uni"
    """
    from ledger.events import RETIRE_ISSUER, make_statement

    with open_ledger(ctx) as ledger:
        st = make_statement(RETIRE_ISSUER, issuer_id, now(), reason)
        registry = ledger.registry_signer(passphrase_prompt(ledger.key_path("registry.key")))
        res = append(ledger, [sign(st, registry)])
    report_append(as_json, res, f"retired issuer {issuer_id!r}")


# ------------------------------------------------------------------------------- credentials


COMMANDS: list[click.Command] = [init, key, issuer]
