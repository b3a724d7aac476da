"""The exception tree of credential-ledger.

Every error the package raises on purpose is a :class:`LedgerError`. Third-party exceptions
(``InvalidSignature``, ``msgpack`` errors, ``lmdb.Error``, ``ValueError`` from decoders) are turned
into one of these at the module boundary that meets them. Messages are lowercase, concrete, say
what was got and what was wanted, and never contain secrets.

The tree is flat (like pyca/cryptography's): callers catch what they mean by its type, never by
the words of its message. Every class says in its docstring when it is raised.

The command line maps the tree to exit codes in one place (``ledger.verifycmd.error_exit``, for
the click commands and the fast ``verify`` path alike): ``VerificationError`` exits 1,
``UsageError`` 2 (like click's own usage errors), everything else 3.
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
    """An event the rules of docs/FORMAT.md §6 forbid. ``rule`` names the rule; nothing was written.
    ``item``: the 0-based place in the batch of the statement refused, where the refusal is of
    one statement of a batch (``Ledger.append`` sets it; the HTTP service answers with it)."""

    def __init__(self, rule: str, detail: str, *, item: int | None = None) -> None:
        self.rule = rule
        self.detail = detail
        self.item = item
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


class UsageError(LedgerError):
    """A request the caller got wrong, not a fault of the data: more credentials in one bundle
    than a bundle may prove, a tile coordinate out of range, a tile source that is neither a
    directory nor an http(s) URL. Asking again the same way fails again."""


class FetchError(LedgerError):
    """A tile source or a log server could not be read: a network failure, a timeout, an
    HTTP status other than 404/410 (those are :class:`NotFoundError`; a log server's 409 is a
    :class:`RefusedError`), an unsupported response encoding, or an I/O error on a local tile
    file. Says nothing about the log itself; retrying may help."""


class AuditError(VerificationError):
    """A violation found by the audit: ``index`` (or None) and the ``rule`` broken."""

    def __init__(self, index: int | None, rule: str, detail: str) -> None:
        self.index = index
        self.rule = rule
        where = f"entry {index}: " if index is not None else ""
        super().__init__(f"audit failed: {where}{rule}: {detail}")


class LogAnswerError(VerificationError):
    """A log server's answer does not check out against the log key the client trusts: a
    checkpoint not signed by it, an inclusion proof or a leaf hash that does not hold, an
    entry that is not the statement sent, an answer that drops a statement, a checkpoint
    inconsistent with one seen before (``ledger.remote``). Nothing was taken as committed."""


class NotRegularFileError(LedgerError):
    """A path that should name a file names a FIFO, a device, a socket or a directory (or a
    link to one): refused before any byte is read (``ledger.files.read_regular``)."""


class WitnessStateError(LedgerError):
    """A witness's ``state.json`` is missing or damaged: the witness cannot know what it
    cosigned, so it cosigns nothing until the state is restored."""


class ConflictError(LedgerError):
    """The destination already holds what this must not overwrite: a backup into an existing
    directory; ``export tiles`` into a directory whose checkpoint is another log's, from
    another history, or newer than the store's (a rollback). Nothing was written."""


class ContextError(LedgerError):
    """A JSON-LD context the ledger does not serve: a URL outside the pinned set (never
    fetched), or a pinned context file whose SHA-256 is not the one pinned (a damaged
    install). Raised by ``ledger.ldloader``; the credential verifier reports it as a failed
    check."""


class CredentialError(VerificationError):
    """A verifiable credential or its Data Integrity proof does not check out: the message
    names the failed check in one line (``proof.cryptosuite``, ``canonicalization``,
    ``credentialSubject.identifier[0].identityHash`` ...)."""
