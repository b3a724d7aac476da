"""The Ledger: append (verify, authorise, sequence, hash, map, commit), checkpoint, prove.

Appending a batch:

1. decode every statement and check its signature (a big batch: on every core, in worker
   processes, while step 2 runs; every signature must hold before the commit);
2. in one LMDB write transaction: read the head, then for each statement apply the rules of
   DESIGN §4 against the current status records (plus those changed earlier in the batch),
   update the status map, build the entry (index, time, ``prev_root``, ``state_root``), hash it
   into the Merkle tree, and index it;
3. commit: entries, tree nodes, map nodes, records, indexes and the new head land together, or
   nothing does. A refused statement refuses the whole batch.

The clock is injected (``clock``: a callable returning UTC milliseconds); nothing deeper reads it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import hashlib
import os
import shutil
import tempfile
import threading
import time as _time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

from ledger import merkle, smt
from ledger.errors import (
    EncodingError,
    LedgerError,
    NotFoundError,
    RefusedError,
    SignatureError,
    StoreCorruptError,
    StoreError,
)
from ledger.events import (
    CRED,
    ISSUE,
    ISSUED,
    ISSUER,
    KEY,
    KEY_REVOKED,
    KEY_ROTATED,
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    REVOKED,
    ROTATE_KEY,
    SUSPEND,
    SUSPENDED,
    CredRecord,
    Entry,
    IssuerRecord,
    KeyRecord,
    Record,
    SignedStatement,
    Statement,
    check_bytes,
    check_id,
    check_index,
    check_time,
    decode_entry,
    decode_record,
    decode_statement,
    encode_entry,
    key_id,
    map_key,
    pack,
    record_hash,
    signing_message,
    trusted_statement,
    unpack_array,
    verify_signature_fast,
)
from ledger.files import fsync_path
from ledger.keys import Passphrase, read_signer, write_key_bytes, write_signer
from ledger.note import Checkpoint, Signer, parse_checkpoint, parse_note, sign_checkpoint
from ledger.store import FORMAT, FORMAT_V1, MapNodes, Store, Txn, tree_key, u64

T = TypeVar("T")

RESERVE_PER_ITEM = 4096
"""Bytes of store pages an append reserves per item before it starts (measured: 1.2 to 3.2 KB
of data per event up to 10^5 events, plus the pages a transaction copies), so that a batch
rarely fills the map and has to be done again after growing it."""

PARALLEL_THRESHOLD = 2048
"""Batches at least this large have their signatures checked on every core."""

HANDOFF_EVERY = 16
"""While a big batch's checks run in the workers, the writer lets this process's other threads
take the interpreter every this many entries (see :func:`handoff`)."""

Progress = Callable[[int], None]


def now_ms() -> int:
    return int(_time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Head:
    """The store's head: ``[size, root, state_root, last_time]`` in ``meta/head``."""

    size: int
    root: bytes
    state_root: bytes
    last_time: int

    def encode(self) -> bytes:
        return pack([self.size, self.root, self.state_root, self.last_time])

    @staticmethod
    def decode(data: bytes) -> Head:
        try:
            size, root, state_root, last_time = unpack_array(data, "head")
        except (EncodingError, ValueError):
            raise StoreCorruptError("the store's head record is damaged") from None
        try:
            return Head(check_index(size, "size"), check_bytes(root, "root", 32),
                        check_bytes(state_root, "state_root", 32), check_time(last_time, "last_time"))
        except EncodingError as exc:
            raise StoreCorruptError(f"the store's head record is damaged ({exc})") from None


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append committed: entries ``[first, first + count)``; the tree is now ``size``."""

    first: int
    count: int
    size: int
    root: bytes


MAX_CRED_PREFIX = 511 - 8
"""LMDB keys are at most 511 bytes, and a ``creds`` key ends with the entry's 8-byte index."""


def cred_index_prefix(issuer: str, cred_id: str) -> bytes:
    """The ``creds`` index's key prefix for a credential: canonical msgpack ``[issuer,
    cred_id]``, or, where that is longer than :data:`MAX_CRED_PREFIX` (ids near their 256
    character limit), ``0x00 || SHA-256`` of it (a msgpack array never starts with 0x00)."""
    prefix = pack([issuer, cred_id])
    if len(prefix) > MAX_CRED_PREFIX:
        return b"\x00" + hashlib.sha256(prefix).digest()
    return prefix


_pauses = 0
_collecting_before = False
_pause_lock = threading.Lock()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for bulk work (an append batch, an audit replay).

    They make several small objects per event, none of them in a reference cycle, and the
    collector's passes over them (and over the status-map nodes a batch holds in memory, more
    with every pass it survives) cost 1-8 µs an event at 10^4-4x10^4 entries, growing with
    the objects alive. Reference counting still frees everything as usual; garbage in a cycle,
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
    """Decode and signature-check every item; errors name the batch item (1-based)."""
    out = []
    for n, item in enumerate(items, 1):
        try:
            out.append(item.verify())
        except LedgerError as exc:
            raise _refusal(exc, n, len(items)) from None
    return out


def handoff() -> None:
    """Let another thread of this process take the GIL, if one is waiting for it.

    The worker pool's threads in this process (which hand a worker its next chunk when it
    finishes one) need the GIL now and then. A writer that runs Python without pause, calling
    into LMDB every few dozen microseconds, starves them: each such call releases the GIL for
    about a microsecond and takes it straight back, which restarts a waiting thread's 5 ms
    countdown to asking for it, so it seldom gets in. Measured in 10^4 batches: the workers sat
    idle for 250-480 ms of the writer's 550-880 ms, their finished chunks unanswered. A
    ``time.sleep(0)`` now and then lets a waiting thread in (interleaved A/B, 6 rounds: the
    batch at 0.56-0.61 of one core's raw libsodium rate without it, 0.70-0.80 with it, every
    4, 16 or 64 entries alike; ``os.sched_yield`` helped less: 0.66).
    """
    _time.sleep(0)


def _refusal(exc: LedgerError, n: int, total: int) -> RefusedError:
    where = f"batch item {n}: " if total > 1 else ""
    if isinstance(exc, RefusedError):
        return exc
    rule = "bad-signature" if isinstance(exc, SignatureError) else "malformed-statement"
    return RefusedError(rule, where + str(exc))


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
            ctx.set_forkserver_preload(["ledger.log", "ledger.audit", "nacl.bindings", "ctypes"])
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
        from collections import deque

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
            raise RefusedError(rule, (f"batch item {n + 1}: " if self.total > 1 else "") + detail)
        if other is not None:
            raise other


def start_signature_checks(items: Sequence[SignedStatement]) -> SignatureChecks | None:
    """Start checking a big batch's signatures on every core; None for a small batch."""
    workers = min(os.cpu_count() or 1, 8)
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


_NOT_READ: Any = object()


class RecordState:
    """Status records as the rules see them: a loader for committed records, plus those
    changed earlier in the batch (or replay). ``load(map_key)`` returns a record or None."""

    __slots__ = ("_loaded", "changed", "load")

    def __init__(self, load: Callable[[bytes], Record | None]) -> None:
        self.load = load
        self.changed: dict[bytes, Record] = {}
        # Committed records read so far: the store does not change under one transaction, and
        # a batch of a cohort asks for the same issuer and key records once per statement.
        self._loaded: dict[bytes, Record | None] = {}

    def get(self, kind: str, issuer: str, ident: str = "") -> Record | None:
        k = map_key(kind, issuer, ident)
        rec = self.changed.get(k)
        if rec is not None:
            return rec
        rec = self._loaded.get(k, _NOT_READ)
        if rec is _NOT_READ:  # (not a KeyError: most credentials a batch issues are new)
            rec = self._loaded[k] = self.load(k)
        return rec

    def cred(self, issuer: str, cred_id: str) -> CredRecord | None:
        r = self.get(CRED, issuer, cred_id)
        assert r is None or isinstance(r, CredRecord)
        return r

    def key(self, issuer: str, kid: str) -> KeyRecord | None:
        r = self.get(KEY, issuer, kid)
        assert r is None or isinstance(r, KeyRecord)
        return r

    def issuer(self, issuer: str) -> IssuerRecord | None:
        r = self.get(ISSUER, issuer)
        assert r is None or isinstance(r, IssuerRecord)
        return r


def store_loader(txn: Txn) -> Callable[[bytes], Record | None]:
    """Load the current record for a map key from the store's ``status`` and ``records``."""
    def load(k: bytes) -> Record | None:
        vh = txn.get("status", k)
        if vh is None:
            return None
        data = txn.get("records", vh)
        if data is None:
            raise StoreCorruptError(f"status record {vh.hex()} is missing")
        return decode_record(data)
    return load


MAX_STATEMENT_AHEAD = 24 * 3600 * 1000
"""A statement may be dated at most a day after the entry's sequencing time: a statement from
the far future would make every later status statement about its credential stale."""


def apply_rules(state: RecordState, st: Statement, signer: bytes, index: int,
                registry: bytes, *, time: int | None = None) -> list[Record]:
    """Check ``st`` (signed by ``signer``, to be entry ``index`` sequenced at ``time``) against
    DESIGN §4.

    Returns the status records it creates or changes; raises :class:`RefusedError` naming the
    rule it breaks. Shared by the append path and the auditor's replay.
    """
    kind, issuer = st.kind, st.issuer
    if time is not None and st.time > time + MAX_STATEMENT_AHEAD:
        raise RefusedError("future-statement", f"statement time {st.time} is more than a day "
                           f"after the sequencing time {time}")
    if kind == REGISTER_ISSUER:
        if signer != registry:
            raise RefusedError("wrong-signer", "issuer registrations must be signed by the registry key")
        if state.issuer(issuer) is not None:
            raise RefusedError("issuer-exists", f"issuer {issuer!r} is already registered")
        name, url, pub = st.fields
        if pub == registry:
            raise RefusedError("wrong-signer", "an issuer cannot use the registry key")
        return [IssuerRecord(issuer, name, url, index, None, ""),
                KeyRecord(issuer, key_id(pub), pub, index, None, "", "")]

    rec = state.issuer(issuer)
    if rec is None:
        raise RefusedError("unknown-issuer", f"issuer {issuer!r} is not registered")
    if rec.retired_at is not None:
        raise RefusedError("issuer-retired", f"issuer {issuer!r} was retired at index {rec.retired_at}")

    if kind == RETIRE_ISSUER:
        if signer != registry:
            raise RefusedError("wrong-signer", "only the registry key may retire an issuer")
        return [IssuerRecord(issuer, rec.name, rec.url, rec.registered_at, index, st.fields[0])]

    if kind == REVOKE_KEY and signer == registry:
        signing = None
    else:
        signing = _active_key(state, issuer, signer)

    if kind == REVOKE_KEY:
        kid, reason = st.fields
        target = state.key(issuer, kid)
        if target is None:
            raise RefusedError("unknown-key", f"issuer {issuer!r} has no key {kid}")
        if target.ended_at is not None:
            raise RefusedError("key-not-active", f"key {kid} of issuer {issuer!r} already "
                               f"ended at index {target.ended_at} ({target.end})")
        return [KeyRecord(issuer, kid, target.public_key, target.active_from, index, KEY_REVOKED,
                          reason)]

    if kind == ROTATE_KEY:
        assert signing is not None
        (new_pub,) = st.fields
        if new_pub == registry:
            raise RefusedError("wrong-signer", "an issuer cannot use the registry key")
        if state.key(issuer, key_id(new_pub)) is not None:
            raise RefusedError("key-exists", f"key {key_id(new_pub)} was already used by {issuer!r}")
        return [KeyRecord(issuer, signing.key_id, signing.public_key, signing.active_from, index,
                          KEY_ROTATED, ""),
                KeyRecord(issuer, key_id(new_pub), new_pub, index, None, "", "")]

    cred_id = st.fields[0]
    cred = state.cred(issuer, cred_id)
    if kind == ISSUE:
        if cred is not None:
            raise RefusedError("duplicate-credential", f"issuer {issuer!r} already issued "
                               f"{cred_id!r} (entry {cred.issued_index})")
        for part in st.fields[5]:
            prec = state.cred(issuer, part)
            if prec is None:
                raise RefusedError("unknown-part", f"part {part!r} was never issued by {issuer!r}")
            if prec.state == REVOKED:
                raise RefusedError("revoked-part", f"part {part!r} was revoked at index "
                                   f"{prec.changed_index}")
        return [CredRecord(issuer, cred_id, ISSUED, index, None, "", st.time)]

    # revoke, suspend, reinstate
    if cred is None:
        raise RefusedError("unknown-credential", f"issuer {issuer!r} never issued {cred_id!r}")
    if cred.state == REVOKED:
        raise RefusedError("already-revoked", f"{issuer}/{cred_id} was revoked at index "
                           f"{cred.changed_index}; revocation is final")
    if kind == SUSPEND and cred.state == SUSPENDED:
        raise RefusedError("already-suspended", f"{issuer}/{cred_id} is already suspended")
    if kind == REINSTATE and cred.state != SUSPENDED:
        raise RefusedError("not-suspended", f"{issuer}/{cred_id} is not suspended")
    if st.time <= cred.last_time:
        raise RefusedError("stale-statement", f"statement time {st.time} is not after the last "
                           f"statement about {issuer}/{cred_id} ({cred.last_time})")
    new_state = {REVOKE: REVOKED, SUSPEND: SUSPENDED, REINSTATE: ISSUED}[kind]
    return [CredRecord(issuer, cred_id, new_state, cred.issued_index, index, st.fields[1], st.time)]


def _active_key(state: RecordState, issuer: str, signer: bytes) -> KeyRecord:
    kid = key_id(signer)
    key = state.key(issuer, kid)
    if key is None or key.public_key != signer:
        raise RefusedError("wrong-signer", f"key {kid} is not a key of issuer {issuer!r}")
    if key.ended_at is not None:
        raise RefusedError("key-not-active", f"key {kid} of issuer {issuer!r} {key.end} at "
                           f"index {key.ended_at}")
    return key


class Ledger:
    """One ledger store. Open with :meth:`open` or create with :meth:`create`."""

    def __init__(self, store: Store, *, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.clock = clock
        meta = store.read(lambda t: (t.get("meta", b"origin"), t.get("meta", b"registry")))
        if meta[0] is None or meta[1] is None:
            raise StoreCorruptError(f"{store.path}: the store has no origin or registry key")
        self.origin = meta[0].decode("utf-8")
        self.registry = meta[1]

    # ---------------------------------------------------------------- life cycle

    @classmethod
    def create(cls, path: str | os.PathLike[str], origin: str, *,
               clock: Callable[[], int] = now_ms,
               passphrase: str | None = None) -> tuple[Ledger, Signer, Signer]:
        """Create a store with a new log key and registry key (kept in ``path/keys``, 0600,
        encrypted with ``passphrase`` if given)."""
        log_signer = Signer.generate(origin)
        registry = Signer.generate(origin + "/registry")
        store = Store(path, create=True)
        keys = Path(path) / "keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        write_signer(keys / "log.key", log_signer, passphrase)
        write_signer(keys / "registry.key", registry, passphrase)

        def init(txn: Txn) -> None:
            txn.put("meta", b"format", FORMAT)
            txn.put("meta", b"origin", origin.encode("utf-8"))
            txn.put("meta", b"registry", registry.public_key)
            txn.put("meta", b"log_vkey", str(log_signer.verifier()).encode())
            txn.put("meta", b"head", Head(0, merkle.EMPTY_ROOT, smt.EMPTY, 0).encode())

        store.write(init)
        return cls(store, clock=clock), log_signer, registry

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, clock: Callable[[], int] = now_ms) -> Ledger:
        """Open an existing store and check its head against its contents."""
        ledger = cls(Store(path), clock=clock)
        ledger.self_check()
        return ledger

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backup(self, dest: str | os.PathLike[str]) -> Head:
        """Copy the store (compacted: without free pages) and its key files into the new
        directory ``dest``, durably, while writers may go on; return the copy's head after
        opening it and running its self-check. A failed backup leaves no ``dest``."""
        dest = Path(dest)
        if dest.exists() or dest.is_symlink():
            raise LedgerError(f"{dest} already exists; a backup goes into a new directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            self.store.copy_compact(work)
            keys = work / "keys"
            keys.mkdir(mode=0o700)
            for src in sorted(Path(self.store.path, "keys").iterdir()):
                if src.is_file() and not src.name.startswith("."):
                    write_key_bytes(keys / src.name, src.read_bytes())
            fsync_path(work)
            with Ledger.open(work) as copy:  # the copy opens and passes the self-check
                head = copy.head()
            os.rename(work, dest)
            fsync_path(dest.parent)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return head

    def key_path(self, name: str) -> Path:
        return self.store.path / "keys" / name

    def log_signer(self, passphrase: Passphrase = None) -> Signer:
        return read_signer(self.key_path("log.key"), passphrase)

    def registry_signer(self, passphrase: Passphrase = None) -> Signer:
        return read_signer(self.key_path("registry.key"), passphrase)

    def log_vkey(self) -> str:
        v = self.store.read(lambda t: t.get("meta", b"log_vkey"))
        assert v is not None
        return v.decode()

    # ---------------------------------------------------------------- reading

    def head(self) -> Head:
        return self.store.read(_read_head)

    def self_check(self) -> None:
        """Check that the head's size and root match the stored tree and last entry."""
        def check(txn: Txn) -> None:
            fmt = txn.get("meta", b"format")
            if fmt not in (FORMAT, FORMAT_V1):
                raise StoreCorruptError(f"unknown store format {fmt!r}: not written by this "
                                        "version of credential-ledger")
            head = _read_head(txn)
            if head.size == 0:
                if head.root != merkle.EMPTY_ROOT or txn.entry(0) is not None:
                    raise StoreCorruptError("empty store's head does not match its contents")
                return
            root = _root_at(txn, head.size)
            if root != head.root:
                raise StoreCorruptError(f"head root {head.root.hex()} does not match the tree "
                                        f"({root.hex()}) at size {head.size}")
            last = txn.entry(head.size - 1)
            stored = txn.last("entries")
            if last is None or stored is None or stored[0] != u64(head.size - 1):
                raise StoreCorruptError(f"entries do not end at the head size {head.size}")
            if merkle.leaf_hash(last) != txn.tree_node(0, head.size - 1):
                raise StoreCorruptError(f"entry {head.size - 1} does not match its leaf hash")
            entry = decode_entry(last)
            if (entry.index != head.size - 1 or entry.state_root != head.state_root
                    or entry.time != head.last_time):
                raise StoreCorruptError(f"entry {head.size - 1} does not match the head")
        try:
            self.store.read(check)
        except EncodingError as exc:
            raise StoreCorruptError(f"self-check failed: {exc}") from None

    def snapshot(self, fn: Callable[[Snapshot], T]) -> T:
        """Run ``fn`` over one consistent read snapshot of the ledger (a read transaction)."""
        return self.store.read(lambda t: fn(Snapshot(t)))

    def entry_bytes(self, index: int) -> bytes:
        return self.snapshot(lambda s: s.entry_bytes(index))

    def entry(self, index: int) -> Entry:
        return decode_entry(self.entry_bytes(index))

    def record(self, kind: str, issuer: str, ident: str = "") -> Record | None:
        check_id(issuer, "issuer id")
        if kind == CRED:
            check_id(ident, "credential id")
        elif kind == KEY and not (isinstance(ident, str) and ident.isascii()
                                  and len(ident) == 16):
            raise EncodingError(f"key id: want 16 lowercase hex digits, got {ident!r:.40}")
        return self.store.read(lambda t: RecordState(store_loader(t)).get(kind, issuer, ident))

    def cred_entries(self, issuer: str, cred_id: str) -> list[int]:
        """Indexes of every entry about a credential, oldest first."""
        prefix = cred_index_prefix(check_id(issuer, "issuer id"),
                                   check_id(cred_id, "credential id"))
        return self.store.read(
            lambda t: [int.from_bytes(k[len(prefix):], "big") for k, _ in t.prefix("creds", prefix)]
        )

    def root_at(self, size: int) -> bytes:
        return self.snapshot(lambda s: s.root_at(size))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        return self.snapshot(lambda s: s.inclusion_proof(index, size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``size1`` to the tree of ``size2``."""
        return self.snapshot(lambda s: s.consistency_proof(size1, size2))

    def checkpoints(self) -> list[tuple[int, str]]:
        return self.store.read(
            lambda t: [(int.from_bytes(k, "big"), v.decode()) for k, v in t.items("checkpoints")])

    def checkpoint_note(self, size: int | None = None) -> str:
        """The stored checkpoint of ``size``, or the latest one."""
        return self.snapshot(lambda s: s.checkpoint_note(size))

    def map_proof(self, key: bytes, root: bytes) -> tuple[smt.MapProof, bytes | None]:
        """The status-map proof for ``key`` against ``root`` and the proven record bytes."""
        return self.snapshot(lambda s: s.map_proof(key, root))

    # ---------------------------------------------------------------- writing

    def append(self, items: Sequence[SignedStatement], *,
               progress: Progress | None = None) -> Appended:
        """Verify, authorise and sequence ``items`` as one atomic, durable batch.

        A batch of :data:`PARALLEL_THRESHOLD` items or more has its signatures checked in
        worker processes started by multiprocessing's forkserver, which import the caller's
        main module: a script that appends big batches must keep its top level under
        ``if __name__ == "__main__":``, as multiprocessing requires (an unguarded script that
        opens the store would make each worker wait for the caller's write lock forever).
        """
        if not items:
            raise RefusedError("empty-batch", "nothing to append")
        with collection_paused():
            return self._append(items, progress)

    def _append(self, items: Sequence[SignedStatement], progress: Progress | None) -> Appended:
        checks = start_signature_checks(items)
        statements = (verify_statements(items) if checks is None
                      else decode_statements(items, checks))
        total = len(items)
        now = self.clock()

        def write(txn: Txn) -> Appended:
            head = _read_head(txn)
            t = max(now, head.last_time)
            state = RecordState(store_loader(txn))
            nodes = MapNodes(txn, head.state_root)
            smap = smt.MapWriter(nodes.get, head.state_root)
            cr = merkle.CompactRange(
                head.size, [txn.tree_node(lv, ix) for lv, ix in
                            merkle.CompactRange.frontier_ids(head.size)])
            records: dict[bytes, bytes] = {}
            status: dict[bytes, bytes] = {}
            # Puts are gathered and made with one cursor per database at the end.
            entries: list[tuple[bytes, bytes]] = []
            creds: list[tuple[bytes, bytes]] = []
            tree: list[tuple[bytes, bytes]] = []

            def put_tree(level: int, index: int, h: bytes) -> None:
                tree.append((tree_key(level, index), h))

            try:
                for n, (st, item) in enumerate(zip(statements, items, strict=True)):
                    index = head.size + n
                    try:
                        changes = apply_rules(state, st, item.signer, index, self.registry, time=t)
                    except RefusedError as exc:
                        if total > 1:
                            exc = RefusedError(exc.rule, f"batch item {n + 1}: {exc.detail}")
                        if checks is not None:  # the serial path checks every item first
                            checks.raise_first(total, exc)
                        raise exc from None
                    for rec in changes:
                        data = rec.encode()
                        vh = record_hash(data)
                        k = rec.key()
                        smap.set(k, vh)
                        state.changed[k] = rec
                        records[vh] = data
                        status[k] = vh
                    try:
                        data = encode_entry(index, t, cr.root(), smap.root, item.statement,
                                            item.signer, item.signature)
                    except EncodingError as exc:
                        too_large = RefusedError("entry-too-large", f"batch item {n + 1}: {exc}")
                        if checks is not None:
                            checks.raise_first(total, too_large)
                        raise too_large from None
                    cr.append(merkle.leaf_hash(data), put_tree)
                    entries.append((u64(index), data))
                    if st.kind == ISSUE or st.kind in (REVOKE, SUSPEND, REINSTATE):
                        creds.append((cred_index_prefix(st.issuer, st.fields[0]) + u64(index), b""))
                    if progress is not None:
                        progress(n + 1)
                    if checks is not None and not n % HANDOFF_EVERY:
                        handoff()
            except RefusedError:
                raise
            except StoreError:
                if checks is not None:  # the serial path refuses bad items before reading
                    checks.raise_first(total)
                raise
            except Exception:
                # Only a statement the trusted decoding let through, which the strict checks
                # refuse, can get here (a wrong type in a field, say): give that refusal.
                if checks is not None:
                    checks.raise_first(total)
                raise
            if checks is not None:  # every item must be valid and signed before any write
                checks.raise_first(total)
            if txn.put_many("entries", entries, append=True) != len(entries):
                raise StoreCorruptError(f"the store holds entries at or after its head's size "
                                        f"{head.size}; nothing was written")
            txn.put_many("tree", tree)
            txn.put_many("creds", creds)
            fmt = txn.get("meta", b"format")
            if fmt != FORMAT:
                if fmt != FORMAT_V1:  # changed since this Ledger was opened
                    raise StoreCorruptError(f"unknown store format {fmt!r}: not written by this "
                                            "version of credential-ledger; nothing was written")
                txn.put("meta", b"format", FORMAT)  # a v1 store: its nodes stay where they are
            nodes.add(head.size, smap.root, smap.new_nodes())
            # Only the final version of each record is reachable from the batch's last root.
            txn.put_many("records", ((vh, records[vh]) for vh in set(status.values())),
                         overwrite=False)
            txn.put_many("status", status.items())
            new_head = Head(cr.size, cr.root(), smap.root, t)
            txn.put("meta", b"head", new_head.encode())
            return Appended(head.size, total, new_head.size, new_head.root)

        try:
            return self.store.write(write, reserve=RESERVE_PER_ITEM * total)
        finally:
            if checks is not None:  # interrupted (KeyboardInterrupt, say): give out no more
                checks.stop()

    def checkpoint(self, signer: Signer | None = None) -> str:
        """Sign, store and return a checkpoint of the current tree.

        If the newest stored checkpoint already has the current size, it is returned unchanged.
        Before signing, the new root is checked against the newest earlier checkpoint: the ledger
        never signs two inconsistent checkpoints.
        """
        signer = signer or self.log_signer()
        if signer.name != self.origin:
            raise LedgerError(f"the log key is named {signer.name!r}, want the origin {self.origin!r}")

        def write(txn: Txn) -> str:
            head = _read_head(txn)
            last = txn.last("checkpoints")
            if last is not None:
                old = parse_checkpoint(parse_note(last[1]).text)
                if old.size == head.size:
                    return last[1].decode()
                if old.size > head.size or _root_at(txn, old.size) != old.root:
                    raise StoreCorruptError(
                        f"the tree no longer matches the checkpoint of size {old.size}; "
                        "refusing to sign an inconsistent checkpoint")
            note = sign_checkpoint(Checkpoint(self.origin, head.size, head.root), signer)
            txn.put("checkpoints", u64(head.size), note.encode())
            return note

        return self.store.write(write)

    def add_cosignatures(self, cosigned: str) -> str:
        """Store the extra (witness) signature lines of ``cosigned`` with the stored
        checkpoint of its size; the body and the log signature must match."""
        from ledger.note import parse_verifier

        key = parse_verifier(self.log_vkey())
        return self.store.write(lambda t: _add_cosignatures(t, cosigned, key))


def _add_cosignatures(txn: Txn, cosigned: str, log_key: Any) -> str:
    from ledger.note import open_checkpoint
    from ledger.witness import merge_cosignatures

    cp = open_checkpoint(cosigned, log_key)
    stored = txn.get("checkpoints", u64(cp.size))
    if stored is None:
        raise NotFoundError(f"no checkpoint of size {cp.size} was signed")
    merged = merge_cosignatures(stored.decode(), cosigned)
    txn.put("checkpoints", u64(cp.size), merged.encode())
    return merged


class Snapshot:
    """The ledger's read side over one read transaction: every answer comes from the same
    consistent state, however many are asked (:meth:`Ledger.snapshot`; a proof bundle asks
    for a dozen)."""

    __slots__ = ("_txn",)

    def __init__(self, txn: Txn) -> None:
        self._txn = txn

    def head(self) -> Head:
        return _read_head(self._txn)

    def entry_bytes(self, index: int) -> bytes:
        data = self._txn.entry(index)
        if data is None:
            raise NotFoundError(f"no entry {index} (the log has {self.head().size} entries)")
        return data

    def root_at(self, size: int) -> bytes:
        _check_size(self._txn, size)
        return _root_at(self._txn, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        _check_size(self._txn, size)
        if not 0 <= index < size:
            raise NotFoundError(f"entry {index} is not in a tree of size {size}")
        return self._proof(merkle.inclusion_path(index, size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        _check_size(self._txn, size2)
        if not 0 <= size1 <= size2:
            raise NotFoundError(f"no consistency proof from size {size1} to size {size2}")
        if size1 == 0 or size1 == size2:
            return []
        return self._proof(merkle.consistency_path(size1, size2))

    def _proof(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        groups = merkle.proof_nodes(ranges)
        return merkle.fold_proof_nodes(groups,
                                       self._txn.tree_nodes([n for g in groups for n in g]))

    def checkpoint_note(self, size: int | None = None) -> str:
        if size is None:
            last = self._txn.last("checkpoints")
            note = None if last is None else last[1]
        else:
            note = self._txn.get("checkpoints", u64(size))
        if note is None:
            raise NotFoundError("no checkpoint has been signed yet; run 'credledger checkpoint'"
                                if size is None else f"no checkpoint of size {size} was signed")
        return note.decode()

    def map_proof(self, key: bytes, root: bytes) -> tuple[smt.MapProof, bytes | None]:
        nodes = MapNodes(self._txn, root)
        proof = smt.SparseMap(nodes.get, root).prove(key, root)
        value = proof.value()
        return proof, None if value is None else self._txn.get("records", value)


def _read_head(txn: Txn) -> Head:
    data = txn.get("meta", b"head")
    if data is None:
        raise StoreCorruptError("the store has no head record")
    return _decode_head(data)


@functools.lru_cache(maxsize=4)
def _decode_head(data: bytes) -> Head:
    """Head.decode, remembered for the last few head records: every proof reads the head to
    check its size, and the head changes only when a batch commits."""
    return Head.decode(data)


def _check_size(txn: Txn, size: int) -> None:
    current = _read_head(txn).size
    if not 0 <= size <= current:
        raise NotFoundError(f"no tree of size {size} (the log has {current} entries)")


def _root_at(txn: Txn, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.fold_range([txn.tree_node(lv, ix) for lv, ix in merkle.range_nodes(0, size)])


def describe(record: Record | None) -> dict[str, Any]:
    """A JSON-ready view of a status record."""
    if record is None:
        return {}
    if isinstance(record, CredRecord):
        return {"kind": "credential", "issuer": record.issuer, "id": record.cred_id,
                "state": record.state, "issued_index": record.issued_index,
                "changed_index": record.changed_index, "reason": record.reason}
    if isinstance(record, KeyRecord):
        return {"kind": "key", "issuer": record.issuer, "key_id": record.key_id,
                "active_from": record.active_from, "ended_at": record.ended_at,
                "end": record.end, "reason": record.reason}
    return {"kind": "issuer", "issuer": record.issuer, "name": record.name, "url": record.url,
            "registered_at": record.registered_at, "retired_at": record.retired_at,
            "reason": record.reason}
