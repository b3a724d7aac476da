"""Reading the store: ``checkpoint``, ``status``, ``entry``, ``consistency``, ``backup``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ledger.cliutil import (
    Failure,
    b64,
    dir_option,
    emit,
    iso,
    json_option,
    open_ledger,
    passphrase_prompt,
    plural,
    read_text_file,
)
from ledger.errors import NotFoundError
from ledger.printable import printable


@click.command()
@click.option("--add-cosignatures", "cosigned", type=click.Path(dir_okay=False), default=None,
              help="Store the witness cosignatures of this cosigned checkpoint (from "
                   "'credledger witness cosign') with the stored checkpoint of its size.")
@click.option("--witness", "witnesses", multiple=True, metavar="VKEY",
              help="With --add-cosignatures: a witness whose cosignatures to store "
                   "(repeatable); lines that do not verify under one are not stored.")
@json_option
@dir_option
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
    with open_ledger(ctx) as ledger:
        if cosigned is not None:
            note = ledger.add_cosignatures(read_text_file(cosigned, "a cosigned checkpoint"),
                                           trusted)
        else:
            note = ledger.checkpoint(
                ledger.log_signer(passphrase_prompt(ledger.key_path("log.key"))))
    if as_json:
        cp = parse_checkpoint(parse_note(note).text)
        emit(True, {"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "note": note}, "")
    else:
        click.echo(note, nl=False)


@click.command()
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("cred_id", metavar="CRED", required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="credentials",
              show_default=True, help="Where 'issue' wrote the credentials: a CRED given by "
                                      "the issuer's own id is looked up in OUT/ISSUER/.")
@json_option
@dir_option
@click.pass_context
def status(ctx: click.Context, issuer_id: str, cred_id: str | None, out_dir: str,
           as_json: bool) -> None:
    """What the ledger says now about a credential (or, without CRED, an issuer).

    CRED is the credential's id (urn:uuid:...) or the issuer's own id for it (its file's name
    in OUT/ISSUER/).

    For an issuer: its registration and retirement, then every key it ever had, oldest
    first: the ledger key id and the public key (base64: the log holds the raw key, not the
    name of a verifier key string), the entry (and time) from which it was active, when and
    how it ended (rotated, revoked, or still active), and a revocation with its reason and,
    for a key flagged with 'issuer revoke-key --compromised-since', the entry from which its
    statements are not trusted. Then the issuer's achievements if it has any, oldest first
    (their texts: 'credledger achievement show ISSUER').

    \b
    Examples:
      credledger status uni c-1
      credledger status uni urn:uuid:5b0d2c8e-7f43-4f5e-9a51-0c6a1d2e3f40 --json
      credledger status uni --json
    """
    from ledger.events import decode_statement
    from ledger.records import CRED, ISSUED, CredRecord
    from ledger.snapshot import describe

    with open_ledger(ctx) as ledger:
        head = ledger.head()
        if cred_id is None:
            data, human = _issuer_status(ledger, issuer_id)
        else:
            from ledger.issuance import issuer_dir, resolve

            handle = resolve(issuer_dir(out_dir, issuer_id), cred_id)
            rec = ledger.record(CRED, issuer_id, handle)
            if not isinstance(rec, CredRecord):
                raise NotFoundError(f"issuer {issuer_id!r} never issued {handle!r}")
            entries = ledger.cred_entries(issuer_id, handle)
            issued = ledger.entry(rec.issued_index)
            st = decode_statement(issued.statement)
            data = describe(rec)
            data.update({"achievement": st.fields[2], "digest": st.fields[1].hex(),
                         "valid_from": iso(st.fields[3]),
                         "valid_until": None if st.fields[4] is None else iso(st.fields[4]),
                         "status_index": st.fields[5], "parts": st.fields[6],
                         "entries": entries, "issued_time": iso(issued.time)})
            named = cred_id if cred_id == handle else f"{cred_id} ({handle})"
            human = f"{issuer_id}/{named}: {rec.state.upper()} — achievement " \
                    f"{st.fields[2]}, issued at entry {rec.issued_index} ({iso(issued.time)})"
            if rec.changed_index is not None:
                changed = ledger.entry(rec.changed_index)
                data["changed_time"] = iso(changed.time)
                change = rec.state if rec.state != ISSUED else "reinstated"
                human += f"; {change} at entry {rec.changed_index} ({iso(changed.time)})"
                if rec.reason:
                    human += f": {rec.reason}"
        data["tree_size"] = head.size
    emit(as_json, data, human)


def _issuer_status(ledger: Any, issuer_id: str) -> tuple[dict[str, Any], str]:
    """``status ISSUER``: the issuer record and its keys' history (``Ledger.issuer_history``)."""
    from ledger.snapshot import describe

    history = ledger.issuer_history(issuer_id)
    if history is None:
        raise NotFoundError(f"issuer {issuer_id!r} is not registered")
    rec = history.record
    data = describe(rec)
    data["registered_time"] = iso(history.registered_time)
    data["retired_time"] = None if history.retired_time is None else iso(history.retired_time)
    human = (f"issuer {issuer_id} ({rec.name or 'no name'}): registered at entry "
             f"{rec.registered_at} ({iso(history.registered_time)})")
    if rec.retired_at is not None:
        human += f", retired at entry {rec.retired_at} ({data['retired_time']})"
        human += f": {rec.reason}" if rec.reason else ""
    keys = []
    lines = [human, f"keys, oldest first ({len(history.keys)}):"]
    for k in history.keys:
        key = k.record
        revoked = key.revoked_index
        item: dict[str, Any] = {
            "key_id": key.key_id, "public_key": b64(key.public_key),
            "introduced_by": k.introduced_by, "active_from": key.active_from,
            "active_from_time": iso(k.active_from_time), "ended_at": key.ended_at,
            "ended_time": None if k.ended_time is None else iso(k.ended_time),
            "end": key.end or None, "revoked": None}
        span = (f"    active from entry {key.active_from} ({iso(k.active_from_time)}, "
                f"{k.introduced_by})")
        if key.ended_at is not None:
            span += f" to entry {key.ended_at} ({item['ended_time']}): {key.end}"
        elif rec.retired_at is not None:
            span += f"; signs nothing since the issuer retired at entry {rec.retired_at}"
        else:
            span += ": active"
        lines += [f"  {key.key_id}  public key {b64(key.public_key)}", span]
        if revoked is not None:
            since = key.untrusted_from
            assert since is not None and k.revoked_time is not None
            item["revoked"] = {"index": revoked, "time": iso(k.revoked_time),
                               "reason": key.reason, "compromised_since": since}
            text = (f"    revoked at entry {revoked} ({iso(k.revoked_time)}): "
                    f"{key.reason or '(no reason given)'}")
            if since != revoked:
                assert key.ended_at is not None
                text += (f"; compromised from entry {since} on: what it signed at entries "
                         f"{since}..{key.ended_at - 1} is not trusted")
            lines.append(text)
        keys.append(item)
    data["keys"] = keys
    active = [k.record.key_id for k in history.keys if k.record.ended_at is None]
    data["active_key"] = active[0] if active and rec.retired_at is None else None
    lines += _achievements(ledger, issuer_id, data)
    return data, "\n".join(lines)


def _achievements(ledger: Any, issuer_id: str, data: dict[str, Any]) -> list[str]:
    """``status ISSUER``'s list of the issuer's achievements (``achievement show`` shows
    their texts)."""
    from ledger.cmd_achievement import achievement_lines, achievement_summary

    found = ledger.achievements(issuer_id)
    data["achievements"] = [achievement_summary(a) for a in found]
    if not found:  # (an issuer without any is shown as it always was)
        return []
    return [f"achievements, oldest first ({len(found)}):",
            *(line for a in found for line in achievement_lines(a, detail=False))]


@click.command()
@click.argument("index", type=click.IntRange(min=0))
@click.option("--raw", is_flag=True, help="Write the exact leaf bytes (msgpack) to stdout.")
@json_option
@dir_option
@click.pass_context
def entry(ctx: click.Context, index: int, raw: bool, as_json: bool) -> None:
    """Show one entry, its statement's fields by name (--raw: the exact leaf bytes, whose leaf
    hash the tree holds).

    Bytes are shown as hex, times as UTC (and --json gives the statement's fields in order as
    well, as "fields"); text from the statement is quoted, and escaped where a terminal would
    obey it.

    \b
    Examples:
      credledger entry 0
      credledger entry 42 --json
      credledger entry 42 --raw > entry-42.bin
    """
    from ledger.events import FIELD_NAMES, decode_entry, decode_statement, key_id
    from ledger.merkle import leaf_hash

    if raw and as_json:
        raise Failure("--raw writes the leaf bytes, --json a JSON object: give one", 2)
    with open_ledger(ctx) as ledger:
        data = ledger.entry_bytes(index)
    if raw:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    e = decode_entry(data)
    st = decode_statement(e.statement)
    fields = [f.hex() if isinstance(f, bytes) else list(f) if isinstance(f, tuple) else f
              for f in st.fields]
    named = dict(zip(FIELD_NAMES[st.kind], fields))  # (an optional last field may be absent)
    out = {"index": e.index, "time": iso(e.time), "leaf_hash": leaf_hash(data).hex(),
           "prev_root": e.prev_root.hex(), "state_root": e.state_root.hex(),
           "kind": st.kind, "issuer": st.issuer, "statement_time": iso(st.time),
           "fields": fields, "statement_fields": named, "signer": e.signer.hex(),
           "signer_key_id": key_id(e.signer), "signature": e.signature.hex(),
           "size_bytes": len(data)}
    lines = [f"{k:15} {out[k]}" for k in ("index", "time", "leaf_hash", "prev_root",
                                          "state_root", "kind", "issuer", "statement_time")]
    for name, value in zip(FIELD_NAMES[st.kind], st.fields):
        if isinstance(value, bytes) and name == "list":
            shown = f"{len(value)} bytes of a status list credential ('credledger export' " \
                    "publishes it)"
        elif isinstance(value, bytes):
            shown = value.hex()
        elif value is None:
            shown = "(none)"
        elif isinstance(value, int):
            shown = str(value)
            if name in ("valid_from", "valid_until"):
                shown += f" ({iso(value)})"
        else:  # text and lists of ids: quoted as JSON, exactly as they are
            shown = json.dumps(list(value) if isinstance(value, tuple) else value,
                               ensure_ascii=False)
        lines.append(f"{name:15} {printable(shown)}")
    lines += [f"{'signer':15} {e.signer.hex()} (key id {key_id(e.signer)})",
              f"{'signature':15} {e.signature.hex()}", f"{'size_bytes':15} {len(data)}"]
    emit(as_json, out, "\n".join(lines))


@click.command()
@click.argument("old_size", type=click.IntRange(min=0))
@click.argument("new_size", type=click.IntRange(min=0), required=False)
@json_option
@dir_option
@click.pass_context
def consistency(ctx: click.Context, old_size: int, new_size: int | None, as_json: bool) -> None:
    """Print the RFC 9162 consistency proof between two tree sizes, one base64 hash a line.

    NEW_SIZE defaults to the latest checkpoint's size.

    \b
    Example:
      credledger consistency 1000 1510
    """
    from ledger.note import parse_checkpoint, parse_note

    with open_ledger(ctx) as ledger:
        if new_size is None:
            new_size = parse_checkpoint(parse_note(ledger.checkpoint_note()).text).size
        if old_size > new_size:
            raise Failure(f"OLD_SIZE {old_size} is larger than NEW_SIZE {new_size}", 2)
        proof = ledger.consistency_proof(old_size, new_size)
        roots = (ledger.root_at(old_size), ledger.root_at(new_size))
    if as_json:
        emit(True, {"size1": old_size, "size2": new_size, "root1": b64(roots[0]),
                     "root2": b64(roots[1]), "proof": [b64(h) for h in proof]}, "")
    else:
        click.echo("".join(b64(h) + "\n" for h in proof), nl=False)


@click.command()
@click.argument("dest", type=click.Path(file_okay=False))
@json_option
@dir_option
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
    with open_ledger(ctx) as ledger:
        before = ledger.store.data_size()
        head = ledger.backup(dest)
    size = (Path(dest) / "data.mdb").stat().st_size
    emit(as_json, {"dest": dest, "size": head.size, "root": head.root.hex(),
                    "store_bytes": before, "backup_bytes": size},
          f"backed up the log of {plural(head.size, 'entry', 'entries')} (root {head.root.hex()}) to {dest}: "
          f"{size:,} bytes (the store uses {before:,})")


COMMANDS: list[click.Command] = [checkpoint, status, entry, consistency, backup]
