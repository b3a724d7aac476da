"""The exception tree of credential-ledger.

Every error the package raises on purpose is a :class:`LedgerError`. Third-party exceptions
(``InvalidSignature``, ``msgpack`` errors, ``lmdb.Error``, ``ValueError`` from decoders) are turned
into one of these at the module boundary that meets them. Messages are lowercase, concrete, say
what was got and what was wanted, and never contain secrets.

The command line maps the tree to exit codes in one place (``ledger.verifycmd.error_exit``, for
the click commands and the fast ``verify`` path alike): ``VerificationError`` exits 1,
everything else 3 (2 is click's usage error).
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error raised by credential-ledger."""


class EncodingError(LedgerError):
    """Bytes or text that do not decode as the format requires (or exceed its size limit)."""


class VerificationError(LedgerError):
    """A proof, a signature or a root does not check out."""


class RootMismatchError(VerificationError):
    """A recomputed root differs from the one expected."""

    def __init__(self, what: str, *, expected: bytes, calculated: bytes) -> None:
        self.expected = expected
        self.calculated = calculated
        super().__init__(
            f"{what}: root mismatch: calculated {calculated.hex()}, expected {expected.hex()}"
        )


class ProofError(VerificationError):
    """A proof has the wrong shape (length, index, size) for what it claims to prove."""


class SignatureError(VerificationError):
    """A signature does not verify, or no trusted signature is present."""


class KeyFileError(LedgerError):
    """A key file or key string is malformed, unreadable, or has unsafe permissions."""


class StoreError(LedgerError):
    """The LMDB store cannot be used."""


class StoreNotFoundError(StoreError):
    """There is no ledger store at the given directory."""


class StoreExistsError(StoreError):
    """``init`` was asked to create a store where one already exists."""


class StoreCorruptError(StoreError):
    """The store's own self-check failed: its head does not match its contents."""


class StoreFullError(StoreError):
    """The store reached its configured size cap, or the disk is full; nothing was written."""


class NotFoundError(LedgerError):
    """An entry, credential, issuer or checkpoint that was asked for does not exist."""


class RefusedError(LedgerError):
    """An event the rules of DESIGN §4 forbid. ``rule`` names the rule; nothing was written."""

    def __init__(self, rule: str, detail: str) -> None:
        self.rule = rule
        self.detail = detail
        super().__init__(f"refused ({rule}): {detail}")


class PendingBatchError(LedgerError):
    """A batch's holder documents are pending from an interrupted run (``credledger
    recover`` finishes it), or another run is issuing a batch that starts the same way."""


class InterruptedAfterCommitError(LedgerError):
    """A batch was committed, but its holder documents were not all written: they are in the
    pending file ``pending`` (``credledger recover`` writes them). ``keyboard``: the cause was
    an interrupt (Ctrl-C)."""

    def __init__(self, message: str, pending: str, *, keyboard: bool) -> None:
        self.pending = pending
        self.keyboard = keyboard
        super().__init__(message)
