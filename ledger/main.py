"""The ``credledger`` console script and ``python -m ledger``.

Kept apart from ``ledger.cli`` so that a well-formed ``credledger verify ...`` never imports
click: it runs through :func:`ledger.verifycmd.fast_main` (see there); every other command line,
``verify --help`` included, goes to the click application in ``ledger.cli``, and so does shell
completion (``_CREDLEDGER_COMPLETE``).
"""

from __future__ import annotations

import os
import sys

COMPLETE = "_CREDLEDGER_COMPLETE"
"""click's shell completion variable: set, the command line is click's, ``verify`` too."""


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "verify" and COMPLETE not in os.environ:
        from ledger.verifycmd import fast_main

        code = fast_main(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from ledger.cli import cli

    cli(prog_name="credledger")
