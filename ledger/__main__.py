"""``python -m ledger``: the same as the ``credledger`` console script."""

from ledger.cli import main

main()
