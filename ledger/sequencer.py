"""The sequencer of ``credledger serve``: one writer thread owns a Ledger's appends.

Submissions (one client's batch each: signed statements already decoded and signature-checked
by the request threads) wait in a bounded queue; the writer takes what is queued, up to
``max_batch`` statements, lingering at most ``max_wait`` seconds for submissions that are on
their way (being checked), and appends it all in ONE LMDB transaction (``Ledger.append``,
all or none, durable: LMDB commits with sync). A client is answered only after that commit
returned.

- A statement already in the log (the same statement bytes, signer and signature: the store's
  ``statements`` index, ``Ledger.find_statements``), or earlier in the same group, is not
  appended again: it is answered with its index and ``duplicate``.
- ``Ledger.append`` refuses a whole transaction when one statement breaks a rule; the refusal
  names the statement (``RefusedError.item``), so the writer answers the client whose batch
  holds it (the rule, and the statement's place in that client's batch) and appends the
  others' batches again without it: a refused batch never takes another client's down.
- A submission asking for proofs gets, after the commit, a checkpoint signed by the log key
  covering every entry (one for the whole group).
- Checkpoints are also signed on a schedule (``checkpoint_every`` seconds, when the log grew)
  and on demand (:meth:`Sequencer.checkpoint`), by the same thread: the process has one writer.

The writer never raises out of its loop: every outcome, a store failure included, is handed to
the submission's ``done`` callback (called from the writer thread).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledger.errors import LedgerError, RefusedError
from ledger.events import SignedStatement, Statement
from ledger.log import Ledger
from ledger.note import Signer, parse_checkpoint, parse_note
from ledger.snapshot import statement_key

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """A Prometheus histogram: cumulative bucket counts, sum and count (under the metrics'
    lock)."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * len(self.buckets)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for n, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[n] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        out = [f'{name}_bucket{{le="{_num(b)}"}} {c}' for b, c in zip(self.buckets, self.counts,
                                                                     strict=True)]
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {_num(self.total)}")
        out.append(f"{name}_count {self.count}")
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


RESULTS = ("ok", "duplicate", "refused", "bad", "overloaded")


class Metrics:
    """What ``GET /metrics`` shows (Prometheus text format 0.0.4)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.submissions = dict.fromkeys(RESULTS, 0)
        self.statements = 0
        self.refusals: dict[str, int] = {}
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.commit_seconds = Histogram(SECONDS_BUCKETS)
        self.tree_size = 0

    def submission(self, result: str, statements: int = 0) -> None:
        with self.lock:
            self.submissions[result] += 1
            self.statements += statements

    def refusal(self, rule: str) -> None:
        with self.lock:
            self.refusals[rule] = self.refusals.get(rule, 0) + 1

    def commit(self, batch: int, seconds: float, size: int) -> None:
        with self.lock:
            self.batch_size.observe(batch)
            self.commit_seconds.observe(seconds)
            self.tree_size = size

    def text(self) -> str:
        with self.lock:
            lines = ["# HELP credledger_submissions_total Submissions answered, by result.",
                     "# TYPE credledger_submissions_total counter"]
            lines += [f'credledger_submissions_total{{result="{r}"}} {n}'
                      for r, n in self.submissions.items()]
            lines += ["# HELP credledger_statements_total Statements appended (new entries).",
                      "# TYPE credledger_statements_total counter",
                      f"credledger_statements_total {self.statements}",
                      "# HELP credledger_batch_size Statements a commit appended.",
                      "# TYPE credledger_batch_size histogram",
                      *self.batch_size.lines("credledger_batch_size"),
                      "# HELP credledger_commit_seconds Time of one append transaction.",
                      "# TYPE credledger_commit_seconds histogram",
                      *self.commit_seconds.lines("credledger_commit_seconds"),
                      "# HELP credledger_refusals_total Submissions refused, by rule.",
                      "# TYPE credledger_refusals_total counter"]
            lines += [f'credledger_refusals_total{{rule="{r}"}} {n}'
                      for r, n in sorted(self.refusals.items())]
            lines += ["# HELP credledger_tree_size Entries in the log.",
                      "# TYPE credledger_tree_size gauge", f"credledger_tree_size {self.tree_size}"]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a submission. ``entries``: (index, leaf hash, duplicate) per statement,
    when it landed; ``checkpoint``: the note covering them, when proofs were asked for;
    ``refusal``: the rule broken (``item`` relative to the submission); ``error``: anything
    else that kept it out of the log (nothing of it was written)."""

    entries: tuple[tuple[int, bytes, bool], ...] = ()
    size: int = 0
    checkpoint: str | None = None
    refusal: RefusedError | None = None
    error: LedgerError | None = None


@dataclass(slots=True)
class Submission:
    items: Sequence[SignedStatement]
    statements: Sequence[Statement]
    proof: bool
    done: Callable[[Outcome], None]
    arrived: float = field(default_factory=time.monotonic)


class Sequencer:
    """The writer thread. :meth:`submit` from any thread; :meth:`start`, then :meth:`stop`
    (which commits what is queued before the thread ends)."""

    def __init__(self, ledger: Ledger, signer: Signer, *, max_batch: int = 10_000,
                 max_wait: float = 0.02, max_queue: int = 100_000,
                 checkpoint_every: float | None = 60.0,
                 metrics: Metrics | None = None,
                 on_checkpoint: Callable[[str], None] | None = None) -> None:
        self.ledger = ledger
        self.signer = signer
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.checkpoint_every = checkpoint_every
        self.metrics = metrics or Metrics()
        self.on_checkpoint = on_checkpoint
        self._cond = threading.Condition()
        self._queue: deque[Submission] = deque()
        self._queued = 0  # statements in the queue
        self._incoming = 0  # submissions being checked by request threads
        self._checkpoints: list[Callable[[str | LedgerError], None]] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="credledger-writer", daemon=True)
        self._next_checkpoint = (time.monotonic() + checkpoint_every
                                 if checkpoint_every else float("inf"))
        self.alive = False

    # ------------------------------------------------------------------ the callers' side

    def start(self) -> None:
        self.alive = True
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Commit what is queued, then end the writer thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def incoming(self, delta: int) -> None:
        """A request thread starts (+1) or stops (-1) checking a submission: the writer lingers
        for those (up to ``max_wait``) before it commits."""
        with self._cond:
            self._incoming += delta
            self._cond.notify_all()

    def submit(self, sub: Submission) -> bool:
        """Queue ``sub``; False (nothing queued) when the queue is full or the writer stops."""
        with self._cond:
            if self._stopping or not self.alive or (
                    self._queued and self._queued + len(sub.items) > self.max_queue):
                return False
            self._queue.append(sub)
            self._queued += len(sub.items)
            self._cond.notify_all()
            return True

    def checkpoint(self, done: Callable[[str | LedgerError], None]) -> bool:
        """Sign a checkpoint of the log as it is now (after what is queued): ``done(note)``."""
        with self._cond:
            if self._stopping or not self.alive:
                return False
            self._checkpoints.append(done)
            self._cond.notify_all()
            return True

    def queued(self) -> int:
        with self._cond:
            return self._queued

    # ------------------------------------------------------------------ the writer

    def _run(self) -> None:
        try:
            while True:
                group, checkpoints, scheduled = self._take()
                if group is None:
                    return
                if group:
                    self._commit(group)
                if checkpoints or scheduled:
                    self._sign(checkpoints)
        finally:
            self.alive = False
            with self._cond:  # anything still queued (a failure above) is answered
                left, self._queue = list(self._queue), deque()
                self._queued = 0
                cps, self._checkpoints = self._checkpoints, []
            for sub in left:
                _answer(sub, Outcome(error=LedgerError("the log's writer stopped")))
            for done in cps:
                done(LedgerError("the log's writer stopped"))

    def _take(self) -> tuple[list[Submission] | None, list[Callable[[str | LedgerError], None]],
                             bool]:
        """Wait for work; return the group to commit (None: stop), the checkpoint requests,
        and whether a scheduled checkpoint is due."""
        with self._cond:
            while not self._queue and not self._checkpoints and not self._stopping:
                wait = self._next_checkpoint - time.monotonic()
                if wait <= 0:
                    break
                self._cond.wait(min(wait, 3600.0))
            if self._stopping and not self._queue and not self._checkpoints:
                return None, [], False
            if self._queue:
                deadline = self._queue[0].arrived + self.max_wait
                while (self._incoming and self._queued < self.max_batch
                       and not self._stopping):
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
            group: list[Submission] = []
            count = 0
            while self._queue and (not group
                                   or count + len(self._queue[0].items) <= self.max_batch):
                sub = self._queue.popleft()
                group.append(sub)
                count += len(sub.items)
            self._queued -= count
            checkpoints, self._checkpoints = self._checkpoints, []
            scheduled = time.monotonic() >= self._next_checkpoint
            return group, checkpoints, scheduled

    def _commit(self, group: list[Submission]) -> None:
        pending = list(group)
        while pending:
            try:
                found = self.ledger.find_statements([it for sub in pending for it in sub.items])
            except LedgerError as exc:
                for sub in pending:
                    _answer(sub, Outcome(error=exc))
                return
            items: list[SignedStatement] = []
            verified: list[Statement] = []
            owners: list[tuple[Submission, int]] = []
            plans: list[list[tuple[str, int]]] = []  # per submission: ("old", index) / ("new", pos)
            seen: dict[bytes, int] = {}
            at = 0
            for sub in pending:
                plan = []
                for j, (item, st) in enumerate(zip(sub.items, sub.statements, strict=True)):
                    old = found[at]
                    at += 1
                    if old is not None:
                        plan.append(("old", old))
                        continue
                    k = statement_key(item)
                    pos = seen.get(k)
                    if pos is not None:
                        plan.append(("same", pos))
                        continue
                    seen[k] = len(items)
                    plan.append(("new", len(items)))
                    items.append(item)
                    verified.append(st)
                    owners.append((sub, j))
                plans.append(plan)
            first = 0
            if items:
                start = time.perf_counter()
                try:
                    res = self.ledger.append(items, verified=verified)
                except RefusedError as exc:
                    if exc.item is None or not 0 <= exc.item < len(owners):
                        for sub in pending:
                            self._refused(sub, exc, None)
                        return
                    sub, j = owners[exc.item]
                    self._refused(sub, exc, j)
                    pending.remove(sub)
                    continue
                except LedgerError as exc:
                    for sub in pending:
                        _answer(sub, Outcome(error=exc))
                    return
                self.metrics.commit(len(items), time.perf_counter() - start, res.size)
                first, size = res.first, res.size
            else:
                size = self.ledger.head().size
            self._answer_group(pending, plans, first, size)
            return

    def _refused(self, sub: Submission, exc: RefusedError, j: int | None) -> None:
        detail = exc.detail
        if exc.item is not None:
            detail = detail.removeprefix(f"batch item {exc.item + 1}: ")
        if j is not None and len(sub.items) > 1:
            detail = f"batch item {j + 1}: {detail}"
        self.metrics.refusal(exc.rule)
        _answer(sub, Outcome(refusal=RefusedError(exc.rule, detail, item=j)))

    def _answer_group(self, pending: list[Submission], plans: list[list[tuple[str, int]]],
                      first: int, size: int) -> None:
        indexes = [[ix if how == "old" else first + ix for how, ix in plan] for plan in plans]
        note = None
        try:
            leaves = self.ledger.snapshot(
                lambda s: s.leaf_hashes([i for row in indexes for i in row]))
            if any(sub.proof for sub in pending):
                note = self.ledger.checkpoint(self.signer)
                self._signed(note)
        except LedgerError as exc:  # committed, but the answer cannot be made: say so
            for sub in pending:
                _answer(sub, Outcome(error=LedgerError(
                    f"the statements were committed, but the answer failed ({exc}); send them "
                    "again: they are answered as duplicates")))
            return
        at = 0
        for sub, plan, row in zip(pending, plans, indexes, strict=True):
            entries = []
            for (how, _), index in zip(plan, row, strict=True):
                entries.append((index, leaves[at], how != "new"))
                at += 1
            _answer(sub, Outcome(entries=tuple(entries), size=size,
                                 checkpoint=note if sub.proof else None))

    def _sign(self, requests: list[Callable[[str | LedgerError], None]]) -> None:
        try:
            note = self.ledger.checkpoint(self.signer)
        except LedgerError as exc:
            for done in requests:
                done(exc)
            return
        finally:
            if self.checkpoint_every:
                self._next_checkpoint = time.monotonic() + self.checkpoint_every
        self._signed(note)
        for done in requests:
            done(note)

    def _signed(self, note: str) -> None:
        if self.on_checkpoint is not None:
            self.on_checkpoint(note)


def checkpoint_size(note: str) -> int:
    return parse_checkpoint(parse_note(note).text).size


def _answer(sub: Submission, outcome: Outcome) -> None:
    try:
        sub.done(outcome)
    except Exception:  # noqa: BLE001, S110 (a callback must not stop the writer)
        pass
