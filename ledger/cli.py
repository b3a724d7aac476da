"""``credledger``: the click application. The root group and its options; the commands live
in the ``cmd_*`` modules, one a family (set-up, issuing, reading, proving, witnessing,
auditing), and share ``cliutil``. Parse, call, render; nothing else.
"""

from __future__ import annotations

import click

from ledger import (
    __version__,
    cmd_audit,
    cmd_issue,
    cmd_prove,
    cmd_read,
    cmd_serve,
    cmd_setup,
    cmd_status,
    cmd_witness,
)
from ledger.cliutil import CONTEXT, Group
from ledger.cmd_achievement import achievement

DEFAULT_DIR = "./credledger-data"


EPILOG = """\b
Environment:
  CREDLEDGER_DIR         the store directory (--dir, before or after the command, wins)
  CREDLEDGER_PASSPHRASE  the passphrase of encrypted key files (else asked on a terminal)
  CREDLEDGER_LOG_KEY     log keys 'verify' trusts when no trust option is given; with --log,
                         the served log's verifier key (--log-key)
  CREDLEDGER_LOG_URL     a served log the issuer's commands append to (--log URL)
  CREDLEDGER_LOG_TOKEN   the bearer token sent to the served log
  CREDLEDGER_STATE_DIR   the client's state directory for a served log (--state-dir)
  CREDLEDGER_DEBUG=1     a traceback instead of the one-line 'internal error' of a bug
  NO_COLOR=1             no colour (none is written into a pipe or file anyway)

\b
--json: one JSON object on stdout, "format": "credledger-COMMAND/1" first; an error is then
one line of JSON on stderr: {"format": "credledger-error/1", "error": {"code": N, "message":
"..."}}. Exit codes: 0 ok, 1 not valid, 2 usage error, 3 any other error.

\b
Shell completion (bash; zsh_source and fish_source for zsh and fish):
  eval "$(_CREDLEDGER_COMPLETE=bash_source credledger)"
"""


@click.group(cls=Group, context_settings=CONTEXT, epilog=EPILOG)
@click.option("--dir", "store_dir", envvar="CREDLEDGER_DIR", default=DEFAULT_DIR,
              show_default=True, metavar="DIR",
              help="The ledger store directory (or set CREDLEDGER_DIR); also taken after "
                   "the command.")
@click.version_option(__version__, "-V", "--version", prog_name="credledger")
@click.pass_context
def cli(ctx: click.Context, store_dir: str) -> None:
    """credential-ledger: micro-credentials in an append-only Merkle log, checkable offline.

    \b
    Example (the whole story, narrated, on a fresh temporary store):
      credledger demo
    """
    ctx.ensure_object(dict)
    ctx.obj["dir"] = store_dir


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


for _family in (cmd_setup, cmd_issue, cmd_read, cmd_prove, cmd_witness, cmd_audit, cmd_status,
                cmd_serve):
    for _command in _family.COMMANDS:
        cli.add_command(_command)
cli.add_command(achievement)


def main() -> None:
    """The console script (see ledger/main.py, which the installed ``credledger`` runs)."""
    from ledger.main import main as entry

    entry()
