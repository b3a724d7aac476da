"""The ``credledger`` console script and ``python -m ledger``.

Kept apart from ``ledger.cli`` so that a well-formed ``credledger verify ...`` never imports
click: it runs through :func:`ledger.verifycmd.fast_main` (see there); every other command line,
``verify --help`` included, goes to the click application in ``ledger.cli``, and so does shell
completion (``_CREDLEDGER_COMPLETE``).
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

COMPLETE = "_CREDLEDGER_COMPLETE"
"""click's shell completion variable: set, the command line is click's, ``verify`` too."""


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "verify" and COMPLETE not in os.environ:
        from ledger.verifycmd import fast_main

        code = fast_main(sys.argv[2:])
        if code is not None:
            exit_now(code)
    from ledger.cli import cli

    cli(prog_name="credledger")


def exit_now(code: int) -> NoReturn:
    """End a click-free verify at once: flush what it printed, then leave without the
    interpreter's teardown (``os._exit``).

    A verify writes no file, holds no lock and registers nothing to run at exit, so there is
    nothing to clean up; but tearing down the modules and classes it loaded took about 9 ms of
    a cold verify's 60 or so, which the budget of 2x the yardstick (docs/ARCHITECTURE.md,
    "Where the tricks are"; benchmarks/README.md) does not have. A reader that went away
    before reading everything (``| head``), or an output closed from the start (``>&-``), is
    not an error of the verify: its exit code stands.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: the descriptor was closed before Python started
            try:
                stream.flush()
            except (OSError, ValueError):  # a reader gone (| head), a closed or full file
                pass
    os._exit(code)
