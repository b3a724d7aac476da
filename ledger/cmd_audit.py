"""The auditor's and publisher's commands: ``audit``, ``export tiles``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ledger.cliutil import (
    Failure,
    Group,
    dir_option,
    emit,
    json_option,
    open_ledger,
    parse_vkey,
    plural,
    store_path,
)
from ledger.errors import EncodingError
from ledger.files import write_atomic


@click.command()
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
@click.option("--since", "since", type=click.Path(dir_okay=False), default=None,
              metavar="CHECKPOINT",
              help="Audit incrementally, for monitors: only the entries after this checkpoint, "
                   "which a passing audit saved (--save-checkpoint; never one merely signed: "
                   "start with a full audit), from the state it fixes, and the consistency proof "
                   "from it to the newest checkpoint (docs/SECURITY.md says what is and is not "
                   "checked).")
@json_option
@dir_option
@click.pass_context
def audit(ctx: click.Context, tiles: str | None, log_key: str | None, saved: tuple[str, ...],
          save: str | None, since: str | None, as_json: bool) -> None:
    """Replay every entry and check everything: hashes, chain, signatures, rules, map, checkpoints.

    From the store, or with --tiles from a published C2SP tlog-tiles tree (no store needed; only
    --log-key is trusted, and every tile is checked against the replay). Checkpoints saved from
    earlier audits (--checkpoint) must be prefixes of the log now: otherwise the log forked or
    rewrote history. Exits 1 at the first violation, naming the entry and the rule.

    --since CHECKPOINT replays only the entries after a checkpoint an earlier audit saved: the
    log's tree at its size must be its tree (else the log forked), and the new entries are
    checked from the state it fixes, with every check of a full audit (from the store: the
    records they need read with map proofs against that state). From --tiles the rules and
    the status map of the new entries are not checked (so neither is whose key signed them): a
    tile tree does not publish the map. Only a checkpoint a passing audit saved is an anchor.

    \b
    Examples:
      credledger audit --log-key "example.org/credentials+1d5387d8+AdhtjU..."
      credledger audit --tiles https://example.org/credentials --log-key "$LOG_VKEY" \\
          --checkpoint last.checkpoint --save-checkpoint last.checkpoint
      credledger audit --since last.checkpoint --save-checkpoint last.checkpoint
    """
    from ledger.note import open_checkpoint
    from ledger.tileaudit import audit_tiles, check_saved_checkpoints, open_saved_checkpoints
    from ledger.tilereader import TileReader

    notes = [_read_checkpoint_file(f) for f in saved]
    since_note = None if since is None else _read_checkpoint_file(since)
    if since_note is not None and notes:
        raise Failure("--since is the checkpoint the log must extend: give it without "
                      "--checkpoint", 2)
    base = 0 if since_note is None else _unverified_size(since_note)
    if tiles is not None:
        if log_key is None:
            raise Failure("--tiles needs --log-key: a published tree is trusted only through "
                          "the log's verifier key", 2)
        verifier = parse_vkey(log_key)
        reader = TileReader(tiles)
        size = _unverified_size(reader.checkpoint()) - base
        if as_json or size < 1000 or not sys.stderr.isatty():
            report = audit_tiles(reader, verifier, saved_checkpoints=notes, workers=None,
                                 since=since_note)
        else:
            with click.progressbar(length=size, label="auditing", file=sys.stderr) as bar:
                report = audit_tiles(reader, verifier, saved_checkpoints=notes, workers=None,
                                     progress=bar.update, since=since_note)
        newest: str | None = reader.checkpoint().decode("utf-8")  # verified: valid UTF-8
        where = f"tiles at {tiles}"
    else:
        from ledger.audit import audit_store, audit_store_since
        from ledger.note import parse_verifier

        with open_ledger(ctx) as ledger:
            verifier = parse_vkey(log_key) if log_key else parse_verifier(ledger.log_vkey())
            old = open_saved_checkpoints(notes, verifier)
            size = ledger.head().size

            def run(progress: Any = None) -> Any:
                if since_note is not None:
                    return audit_store_since(ledger, since_note, log_key=verifier, workers=None,
                                             progress=progress)
                return audit_store(ledger, log_key=verifier, workers=None, progress=progress)
            if as_json or size - base < 1000 or not sys.stderr.isatty():
                report = run()
            else:
                with click.progressbar(length=size - base, label="auditing",
                                       file=sys.stderr) as bar:
                    report = run(bar.update)
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
    data["source"] = tiles if tiles is not None else str(store_path(ctx))
    data["saved_checkpoint"] = save
    entries = (plural(report.size, 'entry', 'entries') if report.since is None else
               f"{plural(report.replayed, 'new entry', 'new entries')} of {report.size}, after "
               f"the saved checkpoint of size {report.since}")
    emit(as_json, data,
          f"audit OK ({where}): {entries} ("
          f"{plural(report.issuers, 'issuer', 'issuers')}, "
          f"{plural(report.credentials, 'credential', 'credentials')}, "
          + (f"{plural(report.achievements, 'achievement', 'achievements')}, "
             if report.achievements else "") +  # (a log without any says what it always did)
          f"{plural(report.revocations, 'revocation', 'revocations')}, "
          f"{plural(report.suspensions, 'suspension', 'suspensions')}, "
          f"{plural(report.reinstatements, 'reinstatement', 'reinstatements')}, "
          f"{plural(report.key_rotations, 'key rotation', 'key rotations')}, "
          f"{plural(report.key_revocations, 'key revocation', 'key revocations')}"
          + (f", {plural(report.status_lists, 'status list', 'status lists')}"
             if report.status_lists else "") + "), "
          f"{plural(report.checkpoints, 'checkpoint', 'checkpoints')} checked"
          + ("" if report.since is None else
             f", the saved one a prefix of the checkpoint of size {report.consistent_to}")
          + f"; root {report.root.hex()}; {report.seconds:.2f} s ({report.rate:,.0f} entries/s)"
          + (f"; checkpoint saved to {save}" if save else ""),
          None if report.rules else "NOT checked: the rules and the status map of the new "
          "entries, nor the status lists they publish (a tile tree does not publish the map; a "
          "full audit, or --since on the store, checks them)")


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


def _unverified_size(note: str | bytes) -> int:
    """The tree size a checkpoint claims, for a progress bar only (0 if it cannot be read:
    the audit then reports why)."""
    from ledger.note import parse_checkpoint, parse_note

    try:
        return parse_checkpoint(parse_note(note).text).size
    except EncodingError:
        return 0


@click.group(cls=Group)
def export() -> None:
    """Publish the log in static formats that any web server can serve.

    \b
    Example:
      credledger export tiles /var/www/log
    """


@export.command("tiles")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@json_option
@dir_option
@click.pass_context
def export_tiles_command(ctx: click.Context, out_dir: str, as_json: bool) -> None:
    """Write the log of the latest checkpoint as a C2SP tlog-tiles tree (c2sp.org/tlog-tiles).

    DIR gets `checkpoint`, `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, and beside
    them each status list's newest publication in the tree ('status-list'), exactly as the log
    holds it, at `status/<issuer>/<key id>/<purpose>/<n>.json`: the URL its credentials name
    when DIR is served at https://ORIGIN/; and `verify.html`, the verifier page with the log's
    key ('export page'). Run it again after each checkpoint: only new or changed files are
    written, each atomically, the checkpoint last.
    Serve DIR as static files; auditors run `credledger audit --tiles URL --log-key VKEY`.

    \b
    Example:
      credledger checkpoint && credledger export tiles /var/www/log
    """
    from ledger.tiles import export_tiles

    with open_ledger(ctx) as ledger:
        size = ledger.head().size
        origin, log_vkey = ledger.origin, ledger.log_vkey()
        if as_json or size < 10_000 or not sys.stderr.isatty():
            report = export_tiles(ledger, out_dir)
        else:
            with click.progressbar(length=size, label="exporting", file=sys.stderr) as bar:
                report = export_tiles(ledger, out_dir, progress=bar.update)
    _write_page(Path(out_dir) / "verify.html", origin, log_vkey)
    data = report.as_dict()
    data["dir"] = out_dir
    data["page"] = str(Path(out_dir) / "verify.html")
    emit(as_json, data,
          f"exported tree size {report.size} to {out_dir}: {report.files_written} files written "
          f"({report.bytes_written:,} bytes), {report.files_skipped} already there"
          + (f", {plural(report.status_lists, 'status list', 'status lists')} beside the tiles"
             if report.status_lists else "") + ", the verifier page verify.html; "
          f"{report.seconds:.2f} s"
          + (f"; checkpoint not replaced: {report.checkpoint_kept}" if report.checkpoint_kept
             else ""))


COMMANDS: list[click.Command] = [audit, export]


def _write_page(path: Path, origin: str, log_vkey: str, witnesses: tuple[str, ...] = (),
                min_witnesses: int = 0) -> int:
    """Write the verifier page (``ledger.webpage``) to ``path``, atomically; its size."""
    from ledger.webpage import build_page

    data = build_page(origin=origin, log_vkey=log_vkey, witnesses=witnesses,
                      min_witnesses=min_witnesses).encode("utf-8")
    write_atomic(path, data, mode=0o644)
    return len(data)


@export.command("page")
@click.argument("out", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--witness", "witnesses", multiple=True, metavar="VKEY",
              help="A witness's cosigner key the page requires cosignatures from (repeatable).")
@click.option("--min-witnesses", type=click.IntRange(min=0), default=None,
              help="How many of them must have cosigned (default: 1 with --witness).")
@json_option
@dir_option
@click.pass_context
def export_page_command(ctx: click.Context, out: str, witnesses: tuple[str, ...],
                        min_witnesses: int | None, as_json: bool) -> None:
    """Write the verifier page: one HTML file that checks a holder's credential and proof
    bundle in any browser, offline, with the verdicts of 'credledger verify'.

    The page trusts this log's key (written into it; a user can paste another key or a
    published root), and the witness policy given here. It needs nothing installed and makes
    no request: open it from a folder or an e-mail attachment, or serve it beside the tiles
    ('export tiles' writes it as verify.html).

    \b
    Examples:
      credledger export page verify.html
      credledger export page /var/www/log/verify.html --witness "w.example+1234abcd+AQ..."
    """
    from ledger.errors import LedgerError
    from ledger.witness import parse_cosigner

    for w in witnesses:
        try:
            parse_cosigner(w)
        except LedgerError as exc:
            raise Failure(f"--witness: {exc}", 2) from None
    need = (1 if witnesses else 0) if min_witnesses is None else min_witnesses
    if need > len(witnesses):
        raise Failure(f"--min-witnesses {need} needs that many --witness keys", 2)
    with open_ledger(ctx, readonly=True) as ledger:
        origin, log_vkey = ledger.origin, ledger.log_vkey()
    size = _write_page(Path(out), origin, log_vkey, witnesses, need)
    emit(as_json, {"page": out, "bytes": size, "origin": origin, "witnesses": len(witnesses),
                   "min_witnesses": need},
         f"wrote the verifier page for {origin} to {out} ({size:,} bytes): open it in a "
         "browser, offline")
