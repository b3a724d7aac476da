"""credential-ledger: an append-only, hash-chained ledger of micro-credential events.

The package is layered (see docs/FORMAT.md and README.md): the verifier side (``merkle``,
``smt``, ``events``, ``records``, ``note``, ``verify``) never imports lmdb; ``store`` is the only module that
does. Keep this file light: importing ``ledger`` must not pull in anything heavy.
"""

__version__ = "0.1.0"
