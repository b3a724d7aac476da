"""Bulk work on every core: the worker pool and the chunked signature checks.

Parallelism is opt-in: a library caller asks for it with ``workers`` (``Ledger(...,
workers=n)``, ``audit_store(..., workers=n)``); the command line asks for
:func:`default_workers`. With one worker everything runs in the calling process.

- :class:`SignatureChecks`: a big append batch's strict decoding and signature checks, run in
  worker processes while the writer builds the transaction; the batch commits only once every
  item passed, and a refusal is the one the serial path (:func:`verify_statements`) gives.
- :func:`verified_chunks`: the audit's entries, checked a few chunks ahead of the replay.
- :class:`SharedChecks`: what both use: chunks given to the pool's workers a few at a time,
  and checked by the owner itself whenever it would wait.
- :class:`BatchSigning`: a big batch's statements signed on every core (``credledger issue``).
- :func:`sign_credentials`: a batch's Open Badges credentials signed on every core (their
  RDFC-1.0 canonicalization is what issuing spends most of its time on).
- :func:`collection_paused`: the cyclic garbage collector paused during bulk work.

The workers are forkserver processes (they never inherit an open LMDB environment), run below
the owner's priority, and die with it. Measurements behind the numbers here are in
benchmarks/README.md.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ledger.errors import LedgerError, RefusedError, SignatureError
from ledger.events import (
    SignedStatement,
    Statement,
    check_bytes,
    decode_entry,
    decode_statement,
    seed_public_key,
    sign_encoded,
    signing_message,
    trusted_statement,
    verify_signature_fast,
)

PARALLEL_THRESHOLD = 2048
"""Batches at least this large have their signatures checked on every core."""

HANDOFF_EVERY = 16
"""While a big batch's checks run in the workers, the writer lets this process's other threads
take the interpreter every this many entries (see :func:`handoff`)."""

def default_workers() -> int:
    """The workers the command line asks for: one per core, at most 8."""
    return min(os.cpu_count() or 1, 8)


_pauses = 0
_collecting_before = False
_pause_lock = threading.Lock()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for bulk work (an append batch, an audit replay).

    They make several small objects per event, none of them in a reference cycle, and the
    collector's passes over them (and over the status-map nodes a batch holds in memory, more
    with every pass it survives) cost microseconds an event, growing with the objects alive
    (benchmarks/README.md, "Measurements behind the code"). Reference counting still frees everything as usual; garbage in a cycle,
    anywhere in the process, waits until the block ends. Blocks may overlap (threads): the
    collector is switched back on, if it was on before the first, when the last one ends.
    """
    global _pauses, _collecting_before
    with _pause_lock:
        if _pauses == 0:
            _collecting_before = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collecting_before:
                gc.enable()


def verify_statements(items: Sequence[SignedStatement]) -> list[Statement]:
    """Decode and signature-check every item, as bulk work (libsodium: see
    ``ledger.ed25519``); errors name the batch item (1-based)."""
    out = []
    for n, item in enumerate(items, 1):
        try:
            out.append(item.verify(fast=True))
        except LedgerError as exc:
            raise _refusal(exc, n, len(items)) from None
    return out


def handoff() -> None:
    """Let another thread of this process take the GIL, if one is waiting for it.

    The worker pool's threads in this process (the executor's manager thread, which hands a
    worker its next chunk, and the call queue's feeder, which pickles it into the pipe) need
    the GIL once a chunk. A writer that runs Python without pause, calling into LMDB every few
    dozen microseconds, starves them: each such call releases the GIL for about a microsecond
    and takes it straight back, which restarts a waiting thread's 5 ms countdown to asking for
    it, so it seldom gets in, and the workers sit idle. A ``time.sleep(0)`` now and then lets a
    waiting thread in. Giving the pool every chunk up front does not remove those threads, nor
    the need for this (benchmarks/README.md, "Parallel checks and the writer's hand-off").
    """
    _time.sleep(0)


def _refusal(exc: LedgerError, n: int, total: int) -> RefusedError:
    where = f"batch item {n}: " if total > 1 else ""
    if isinstance(exc, RefusedError):
        return exc
    rule = "bad-signature" if isinstance(exc, SignatureError) else "malformed-statement"
    return RefusedError(rule, where + str(exc), item=n - 1)


def _check_signatures(args: tuple[int, list[tuple[bytes, bytes, bytes]]]
                      ) -> tuple[int, str, str] | None:
    """Worker: strictly decode and signature-check a chunk, each item as
    :meth:`SignedStatement.verify` does; (batch offset, rule, message) of the first bad one."""
    offset, chunk = args
    for n, (statement, signer, signature) in enumerate(chunk, offset):
        try:
            decode_statement(statement)
            check_bytes(signer, "signer", 32)
            check_bytes(signature, "signature", 64)
            verify_signature_fast(signer, signing_message(statement), signature)
        except LedgerError as exc:
            refusal = _refusal(exc, 0, 1)
            return n, refusal.rule, refusal.detail
    return None


WORKER_NICENESS = 10
"""How much lower the signature workers' priority is than their owner's (os.nice)."""

_POOL: Any = None
_POOL_KEY: tuple[int, int] = (0, 0)
_POOL_LOCK = threading.Lock()


def worker_pool(workers: int) -> Any:
    """The process pool for signature checks, kept for the life of the process.

    forkserver: the workers never inherit an open LMDB environment (LMDB forbids using one
    after fork). Each worker dies with the process that made the pool (see
    :func:`_worker_init`), so a killed ``credledger`` leaves no orphan behind.
    """
    global _POOL, _POOL_KEY
    key = (os.getpid(), workers)
    with _POOL_LOCK:
        if _POOL is None or _POOL_KEY != key:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            if _POOL is not None and _POOL_KEY[0] == key[0]:
                _POOL.shutdown(wait=False)  # work already submitted to it still completes
            elif _POOL is not None:  # inherited across fork(): the parent's, not ours
                _POOL = None
                raise RuntimeError("a worker pool cannot be used after fork()")
            ctx = multiprocessing.get_context("forkserver")
            # The fork server imports the workers' code once; each worker is a fork of it
            # (without this, every worker imported the ledger, lmdb and libsodium itself). Not
            # "__main__": the workers need nothing from the caller's script, and Pythons that
            # honour it would run that script in the fork server. (The preload list is the
            # process's: this replaces any other.)
            ctx.set_forkserver_preload(["ledger.parallel", "nacl.bindings", "ctypes"])
            _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                        initializer=_worker_init,
                                        initargs=(os.getpid(), WORKER_NICENESS))
            _POOL_KEY = key
            atexit.register(_shutdown_pool)
        return _POOL


def _drop_pool() -> None:
    """Forget a pool that broke (its workers are gone or going); the next batch makes one."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        with contextlib.suppress(Exception):  # it is already broken; nothing more to do
            pool.shutdown(wait=False, cancel_futures=True)


def _worker_init(owner: int, niceness: int = WORKER_NICENESS) -> None:
    """Set up a pool worker: no terminal I/O, and exit as soon as the owner process is gone.

    Without this, a worker of a SIGKILLed owner waits forever on its task queue (whose write
    end it holds itself) and keeps the owner's stdout and stderr pipes open.
    """
    import signal
    import threading

    # Below the owner's priority: a batch's writer (or an audit's replay) is the one sequential
    # part of the work, and it checks signatures itself once it is done (SignatureChecks).
    with contextlib.suppress(OSError):
        os.nice(niceness)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    try:  # Linux: SIGKILL when the forkserver (which exits with the owner) goes away
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while _alive(owner):
            _time.sleep(0.25)
        os._exit(1)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, killed but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def _shutdown_pool() -> None:
    """Stop the pool's workers while the interpreter is still whole (at exit, or before a
    pool of another size replaces it)."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    atexit.unregister(_shutdown_pool)
    if pool is not None and _POOL_KEY[0] == os.getpid():
        pool.shutdown(wait=True, cancel_futures=True)


class SharedChecks:
    """Chunks of work checked by the pool's workers and by the owner together, in any order,
    with each chunk's verdict read in order.

    The workers get chunks from the front, a few at a time (each finished one gives out the
    next, from the pool's thread); the owner, whenever it would wait for a verdict, checks the
    last chunk nobody has taken (the workers run below its priority: once its own sequential
    work is done, it shares theirs). No pool future is ever cancelled (on Python 3.11 a
    cancelled future in a pool that then breaks stops the pool's manager thread: CPython
    gh-107219). If the pool cannot do the work (a worker died, the process forked), the owner
    checks what is left.
    """

    def __init__(self, fn: Callable[[Any], Any], workers: int) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._chunks: list[Any] = []
        self._waiting: deque[int] = deque()  # chunks nobody has taken
        self._futures: dict[int, Any] = {}  # chunk -> our Future of a worker's verdict
        self._local: dict[int, Any] = {}  # chunk -> the verdict the owner found itself
        self._ahead = workers + 1  # chunks given out at once: one per worker, one queued
        self._out = 0
        self._stopped = False
        self._pool: Any
        try:
            self._pool = worker_pool(workers)
        except (OSError, RuntimeError, ValueError, ImportError):  # no pool here
            _drop_pool()
            self._pool = None

    def add(self, chunk: Any) -> int:
        """Queue ``chunk``; its number for :meth:`verdict`."""
        with self._lock:
            n = len(self._chunks)
            self._chunks.append(chunk)
            self._waiting.append(n)
        self._give_out()
        return n

    def _give_out(self, finished: Any = None) -> None:
        """Keep ``_ahead`` chunks with the workers (also called in the pool's thread as each
        one finishes: it must not raise)."""
        from concurrent.futures import Future

        while True:
            with self._lock:
                if finished is not None:
                    self._out -= 1
                    finished = None
                if (self._stopped or self._pool is None or self._out >= self._ahead
                        or not self._waiting):
                    return
                n = self._waiting.popleft()
                self._out += 1
                ours: Future[Any] = Future()
                self._futures[n] = ours
            try:
                theirs = self._pool.submit(self._fn, self._chunks[n])
            except Exception as exc:  # noqa: BLE001 - the pool broke: the owner checks it
                ours.set_exception(exc)
                with self._lock:
                    self._out -= 1
                continue
            theirs.add_done_callback(functools.partial(self._relay, ours))

    def _relay(self, ours: Any, theirs: Any) -> None:
        try:
            exc = theirs.exception()
        except BaseException as cancelled:  # noqa: BLE001 - cancelled by a pool shutdown
            exc = cancelled
        if exc is None:
            ours.set_result(theirs.result())
        else:
            ours.set_exception(exc)
        self._give_out(finished=theirs)

    def verdict(self, n: int) -> Any:
        """Chunk ``n``'s verdict: while it is not ready, the owner checks the last chunk
        nobody has taken."""
        from concurrent.futures import BrokenExecutor, CancelledError

        while n not in self._local:
            ours = self._futures.get(n)
            if ours is not None and ours.done():
                break
            with self._lock:  # the last one (the first, in order, once there is no pool)
                mine = (None if not self._waiting else self._waiting.pop()
                        if self._pool is not None else self._waiting.popleft())
            if mine is not None:
                self._local[mine] = self._fn(self._chunks[mine])
                continue
            if ours is None:  # nobody has it (stopped): check it here
                self._local[n] = self._fn(self._chunks[n])
            break
        if n in self._local:
            return self._local[n]
        try:
            return self._futures[n].result()
        except (BrokenExecutor, CancelledError, RuntimeError, OSError):
            _drop_pool()  # a worker died or the pool was shut down: check it here
            self._local[n] = verdict = self._fn(self._chunks[n])
            return verdict

    def stop(self) -> None:
        """Give the workers nothing more (what they have finishes, unread)."""
        with self._lock:
            self._stopped = True
            self._waiting.clear()


class SignatureChecks:
    """The strict decoding and signature checks of a big batch, running on the other cores
    while the caller builds the write transaction from the trusted decoding of each statement
    (:func:`decode_statements`).

    :meth:`raise_first` makes the refusal the serial path (:func:`verify_statements`) would
    give: every item is decoded and signature-checked, in order, before any rule runs. The
    caller checks chunks too while it waits (:class:`SharedChecks`).
    """

    def __init__(self, items: Sequence[SignedStatement], workers: int) -> None:
        self.total = len(items)
        step = max(256, -(-len(items) // (8 * workers)))
        self._shared = SharedChecks(_check_signatures, workers)
        self._count = 0
        for i in range(0, len(items), step):
            self._shared.add((i, [(s.statement, s.signer, s.signature)
                                  for s in items[i:i + step]]))
            self._count += 1
        self._failure: tuple[int, str, str] | None = None
        self._done = False

    def _wait(self) -> tuple[int, str, str] | None:
        if self._done:
            return self._failure
        try:
            for n in range(self._count):
                self._failure = self._shared.verdict(n)
                if self._failure is not None:
                    break
        finally:
            self._shared.stop()
        self._done = True
        return self._failure

    def stop(self) -> None:
        """Give the workers no more of this batch (what they have finishes, unread)."""
        self._shared.stop()

    def raise_first(self, before: int, other: RefusedError | None = None) -> None:
        """Raise the first malformed or badly signed item among ``[0, before)``, else ``other``
        if given."""
        failure = self._wait()
        if failure is not None and failure[0] < before:
            n, rule, detail = failure
            raise RefusedError(rule, (f"batch item {n + 1}: " if self.total > 1 else "") + detail,
                               item=n)
        if other is not None:
            raise other


def start_signature_checks(items: Sequence[SignedStatement], workers: int
                           ) -> SignatureChecks | None:
    """Start checking a big batch's signatures on ``workers`` processes; None for a small
    batch or one worker."""
    if len(items) < PARALLEL_THRESHOLD or workers < 2:
        return None
    return SignatureChecks(items, workers)


def decode_statements(items: Sequence[SignedStatement], checks: SignatureChecks
                      ) -> list[Statement]:
    """Decode every statement without validating it: ``checks`` validates each one strictly
    in a worker, and the batch commits only once they all passed (``checks.raise_first``).

    A statement that does not even unpack is refused here, as :func:`verify_statements` would
    refuse it (after any bad item before it).
    """
    out = []
    for n, item in enumerate(items, 1):
        try:
            out.append(trusted_statement(item.statement))
        except Exception:  # noqa: BLE001 - garbage: the strict decode names the problem
            try:
                out.append(decode_statement(item.statement))
            except LedgerError as exc:
                checks.raise_first(n - 1, _refusal(exc, n, len(items)))
    return out


# ---------------------------------------------------------------------------------- signing


def _sign_chunk(args: tuple[bytes, list[bytes]]) -> list[bytes]:
    """Worker: the signatures of a chunk of statement bytes by the key ``seed``."""
    seed, chunk = args
    return [sign_encoded(data, seed).signature for data in chunk]


class BatchSigning:
    """The signatures of a big batch's statements, made on every core: the pool's workers and
    the caller (:class:`SharedChecks`), which starts them, does other work (the pending file),
    then takes :meth:`result`. Below ``PARALLEL_THRESHOLD`` statements, or with one worker,
    the caller signs them all in :meth:`result`.

    Each worker gets the seed with its chunk, through the pipe to it (a forkserver child of
    this process, docs/SECURITY.md "Keys"). Signatures are deterministic (RFC 8032), so they
    are the very bytes the caller would have made itself.
    """

    def __init__(self, statements: Sequence[bytes], seed: bytes, workers: int) -> None:
        self._statements = list(statements)
        self._seed = bytes(seed)
        self._shared: SharedChecks | None = None
        self._chunks: list[tuple[int, int]] = []
        if len(self._statements) >= PARALLEL_THRESHOLD and workers >= 2:
            step = max(256, -(-len(self._statements) // (8 * workers)))
            self._shared = SharedChecks(_sign_chunk, workers)
            for i in range(0, len(self._statements), step):
                chunk = self._statements[i:i + step]
                self._chunks.append((self._shared.add((self._seed, chunk)), i))

    def result(self) -> list[SignedStatement]:
        """Every statement signed, in order."""
        if self._shared is None:
            return [sign_encoded(data, self._seed) for data in self._statements]
        try:
            pub = seed_public_key(self._seed)
            out: list[SignedStatement] = []
            for n, start in self._chunks:
                sigs = self._shared.verdict(n)
                out.extend(SignedStatement(data, pub, sig) for data, sig in
                           zip(self._statements[start:start + len(sigs)], sigs, strict=True))
            if len(out) != len(self._statements):
                raise RuntimeError("a signing chunk came back short")
            return out
        finally:
            self.stop()

    def stop(self) -> None:
        """Give the workers no more (what they have finishes, unread)."""
        if self._shared is not None:
            self._shared.stop()


CREDENTIAL_THRESHOLD = 64
"""Batches of at least this many credentials are signed on every core: one costs about 11 ms
(two RDFC-1.0 canonicalizations and a third for its digest), a worker's start ~0.2 s."""


def _credential_chunk(args: tuple[bytes, str, list[dict[str, Any]]]
                      ) -> list[tuple[dict[str, Any], bytes]]:
    """Worker: each unsigned credential of ``docs`` signed by the key ``seed`` at ``created``
    (``openbadges.sign_credential``), with its digest (``openbadges.credential_digest``)."""
    from ledger import openbadges

    seed, created, docs = args
    out = []
    for doc in docs:
        credential = openbadges.sign_credential(doc, seed, created=created)
        out.append((credential, openbadges.credential_digest(credential)))
    return out


def sign_credentials(docs: Sequence[dict[str, Any]], seed: bytes, created: str, workers: int
                     ) -> list[tuple[dict[str, Any], bytes]]:
    """Every unsigned credential of ``docs`` signed by ``seed`` at ``created``, with its
    digest, in order: on every core (the pool's workers and this process,
    :class:`SharedChecks`) for a batch of at least :data:`CREDENTIAL_THRESHOLD` with
    ``workers >= 2``, else here. Signatures and canonicalization are deterministic: the same
    bytes either way."""
    docs = list(docs)
    if len(docs) < CREDENTIAL_THRESHOLD or workers < 2:
        return _credential_chunk((bytes(seed), created, docs))
    step = max(8, -(-len(docs) // (8 * workers)))
    shared = SharedChecks(_credential_chunk, workers)
    try:
        tickets = [shared.add((bytes(seed), created, docs[i:i + step]))
                   for i in range(0, len(docs), step)]
        out: list[tuple[dict[str, Any], bytes]] = []
        for n in tickets:
            out.extend(shared.verdict(n))
        if len(out) != len(docs):
            raise RuntimeError("a credential chunk came back short")
        return out
    finally:
        shared.stop()


# ----------------------------------------------------------------------------- the audit's checks


def check_entry_chunk(chunk: list[bytes]) -> tuple[int, str, str] | None:
    """Worker: decode entries strictly and check their signatures; (offset, rule, message) for
    the first failure (rule ``signature`` or ``encoding``, by the error's type), else None.

    Only the verdict travels back: the replay decodes the checked bytes again without checks
    (:func:`ledger.events.trusted_entry`), several times cheaper than pickling the decoded
    entries here and unpickling them there.
    """
    for n, data in enumerate(chunk):
        try:
            e = decode_entry(data)  # the statement in it too, and the signer's and signature's sizes
            verify_signature_fast(e.signer, signing_message(e.statement), e.signature)
        except LedgerError as exc:
            return n, "signature" if isinstance(exc, SignatureError) else "encoding", str(exc)
    return None


def verified_chunks(chunks: Iterable[list[bytes]], *, workers: int = 1,
                    ) -> Iterator[tuple[list[bytes], tuple[int, str, str] | None]]:
    """Yield each chunk with its verdict (:func:`check_entry_chunk`), checked on ``workers``
    processes.

    A few chunks are kept in flight in worker processes while the caller replays the
    current one, so signature checks and the replay overlap.
    """
    if workers < 2:
        for chunk in chunks:
            yield chunk, check_entry_chunk(chunk)
        return
    shared = SharedChecks(check_entry_chunk, workers)
    pending: deque[tuple[int, list[bytes]]] = deque()
    try:
        for chunk in chunks:
            pending.append((shared.add(chunk), chunk))
            if len(pending) > 2 * workers:
                n, done = pending.popleft()
                yield done, shared.verdict(n)
        while pending:
            n, done = pending.popleft()
            yield done, shared.verdict(n)
    finally:  # stopped early (a violation): give the workers nothing more
        shared.stop()
