"""``python -m ledger``: the same as the ``credledger`` console script."""

from ledger.main import main

main()
