"""Crash safety, concurrent writers and fault injection around the commit.

A killed writer, a failing write inside the transaction, or a full store must leave the old
state or the whole new batch, never part of it, and the store must open and audit cleanly.
The long SIGKILL run is opt-in: ``CREDLEDGER_LONG=1 python -m pytest tests/test_faults.py``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from statements import issue, register_achievement

from ledger.audit import audit_store
from ledger.errors import RefusedError, StoreFullError
from ledger.events import REGISTER_ISSUER, make_statement, sign_statement
from ledger.log import Ledger
from ledger.note import Signer
from ledger.store import Txn

ROOT = Path(__file__).resolve().parent.parent
LONG = bool(os.environ.get("CREDLEDGER_LONG"))


def _env(store: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["CREDLEDGER_DIR"] = str(store)
    return env


def _cli(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=_env(store),
                          capture_output=True, text=True, check=check, timeout=300)


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    store = tmp_path / "store"
    _cli(store, "init", "--origin", "faults.example/log")
    key = tmp_path / "uni.key"
    out = _cli(store, "key", "new", str(key), "--name", "uni", "--json")
    vkey = json.loads(out.stdout)["vkey"]
    _cli(store, "issuer", "add", "uni", "--key", vkey, "--name", "Uni")
    _cli(store, "achievement", "add", "uni", "cs201", "--key", str(key), "--name", "Course",
         "--description", "A course.", "--criteria", "Pass it.")
    return store, key


BASE = 2
"""Entries before the first batch: the issuer's registration and its achievement's."""


def _batch(path: Path, prefix: str, n: int) -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"{prefix}-{i}", "subject": f"learner{i}@example.org",
                                "subject_type": "emailAddress", "achievement": "cs201"})
                    + "\n")
    return path


def _size(store: Path) -> int:
    with Ledger.open(store) as ledger:
        return ledger.head().size


def test_sigkill_during_batches_leaves_old_or_whole_new(tmp_path: Path) -> None:
    store, key = _setup(tmp_path)
    rng = random.Random(1234)
    kills = 12 if LONG else 3
    acknowledged = BASE
    batch_size = 1500 if LONG else 300  # a credential costs ~6 ms to sign (RDFC-1.0)
    outcomes: list[tuple[int, int]] = []
    # One whole batch first, timed, so that the kills below spread over a batch's whole life:
    # parsing and signing, the commit, writing the documents, and after it finished.
    start = time.monotonic()
    _cli(store, "issue", "uni", "--key", str(key), "--batch",
         str(_batch(tmp_path / "first.jsonl", "first", batch_size)), "--out",
         str(tmp_path / "docs"))
    duration = time.monotonic() - start
    acknowledged += batch_size
    for k in range(kills):
        before = _size(store)
        assert before == acknowledged
        batch = _batch(tmp_path / f"b{k}.jsonl", f"k{k}", batch_size)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "issue", "uni", "--key", str(key), "--batch",
             str(batch), "--out", str(tmp_path / "docs"), "--json"],
            env=_env(store), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(duration * rng.uniform(0.3, 1.15))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        after = _size(store)
        assert after in (before, before + batch_size), (before, after)
        outcomes.append((proc.returncode, after - before))
        if after > before:  # committed: every salt must survive, as a document or pending
            docs = tmp_path / "docs" / "uni"
            have = {p.name[:-5] for p in docs.glob(f"k{k}-*.json")}
            for pending in docs.glob(".pending-*.jsonl"):
                have |= {json.loads(line)["id"] for line in pending.read_text().splitlines()}
            assert have >= {f"k{k}-{i}" for i in range(batch_size)}
        # The operator finishes an interrupted batch before the next one (issue insists):
        # afterwards every committed credential has its holder document, and no pending file
        # is left.
        _cli(store, "recover", "uni", "--out", str(tmp_path / "docs"))
        docs = tmp_path / "docs" / "uni"
        assert not list(docs.glob(".pending-*.jsonl"))
        written = {p.name[:-5] for p in docs.glob(f"k{k}-*.json")}
        assert written == ({f"k{k}-{i}" for i in range(batch_size)} if after > before else set())
        if proc.returncode == 0:  # finished before the kill: it must have been acknowledged
            assert json.loads(out)["size"] == after == before + batch_size
        acknowledged = after
        # A finished batch that was acknowledged is there; a killed one is all or nothing.
    print("sigkill outcomes (returncode, entries added):", outcomes)
    # One more batch runs to completion, then everything audits.
    _cli(store, "issue", "uni", "--key", str(key), "--batch",
         str(_batch(tmp_path / "last.jsonl", "last", 100)), "--out", str(tmp_path / "docs"))
    assert _size(store) == acknowledged + 100
    with Ledger.open(store) as ledger:
        ledger.checkpoint()
        report = audit_store(ledger)
    assert report.size == acknowledged + 100


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_sigkill_with_worker_pool_leaves_no_orphans(tmp_path: Path) -> None:
    """A writer killed while its signature-check workers run takes them with it: nothing is
    left holding its pipes (a caller waiting for its output returns) or burning a core."""
    store, key = _setup(tmp_path)
    batch = _batch(tmp_path / "big.jsonl", "big", 1000)  # above the parallel thresholds
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger", "issue", "uni", "--key", str(key), "--batch",
         str(batch), "--out", str(tmp_path / "docs"), "--json"],
        env=_env(store), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    helpers: list[int] = []
    deadline = time.monotonic() + 60
    while not helpers and time.monotonic() < deadline and proc.poll() is None:
        helpers = _children(proc.pid)  # the forkserver (and resource tracker) of its pool
        time.sleep(0.01)
    assert helpers, "the batch finished before its worker pool was seen"
    grandchildren = [g for h in helpers for g in _children(h)]
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=20)  # returns only once no process holds its stdout or stderr
    deadline = time.monotonic() + 10
    alive = [p for p in helpers + grandchildren if os.path.exists(f"/proc/{p}")]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if os.path.exists(f"/proc/{p}")]
    assert not alive, f"processes left behind by the killed writer: {alive}"
    assert _size(store) in (BASE, BASE + 1000)
    recovered = _cli(store, "recover", "uni", "--out", str(tmp_path / "docs"), check=False)
    assert recovered.returncode == 0, recovered.stderr
    with Ledger.open(store) as ledger:
        assert audit_store(ledger).size in (BASE, BASE + 1000)


def test_concurrent_batch_writers_each_land_exactly_once(tmp_path: Path) -> None:
    store, key = _setup(tmp_path)
    n = 1000 if LONG else 200
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ledger", "issue", "uni", "--key", str(key), "--batch",
             str(_batch(tmp_path / f"w{w}.jsonl", f"w{w}", n)), "--out",
             str(tmp_path / f"docs{w}"), "--json"],
            env=_env(store), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for w in range(3)
    ]
    # Readers while the writers run: every snapshot they see opens and is self-consistent.
    seen = set()
    while any(p.poll() is None for p in procs):
        with Ledger.open(store) as ledger:
            seen.add(ledger.head().size)
        time.sleep(0.05)
    results = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    firsts = sorted(json.loads(out)["first_index"] for out, _ in results)
    b = BASE
    assert firsts == [b, b + n, b + 2 * n]  # three disjoint, contiguous ranges
    assert seen <= {b, b + n, b + 2 * n, b + 3 * n}  # never half a batch
    with Ledger.open(store) as ledger:
        assert ledger.head().size == b + 3 * n
        ledger.checkpoint()
        report = audit_store(ledger)
    assert report.credentials == 3 * n


def _ledger(tmp_path: Path) -> tuple[Ledger, Signer]:
    ledger, _, registry = Ledger.create(tmp_path / "s", "faults.example/log",
                                        clock=lambda: 1_767_225_600_000)
    issuer = Signer.generate("uni")
    st = make_statement(REGISTER_ISSUER, "uni", 1, "Uni", "", issuer.public_key)
    ledger.append([sign_statement(st, registry.seed),
                   sign_statement(register_achievement("uni", 1), issuer.seed)])
    return ledger, issuer


_NUMBERS = itertools.count(1)
"""Credential numbers: ``handle(n)`` holding status index ``n``, each used once (below the
other process's numbers, from 97 * 65536 up)."""


def _issues(issuer: Signer, prefix: str, n: int) -> list:
    """``n`` issues (``prefix`` names the batch for the reader; handles are numbered)."""
    return [sign_statement(issue("uni", 2, next(_NUMBERS)), issuer.seed) for _ in range(n)]


@pytest.mark.parametrize("fail_at", [1, 7, 50, 199, 400])
def test_failure_inside_the_commit_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  fail_at: int) -> None:
    ledger, issuer = _ledger(tmp_path)
    before = ledger.head()
    calls = [0]
    real_put = Txn.put

    def failing_put(self: Txn, db: str, key: bytes, value: bytes, *, append: bool = False) -> None:
        calls[0] += 1
        if calls[0] == fail_at:
            raise OSError(28, "No space left on device (injected)")
        real_put(self, db, key, value, append=append)

    def failing_put_many(self: Txn, db: str, items: Iterable[tuple[bytes, bytes]],
                         **options: bool) -> int:
        def counted() -> Iterator[tuple[bytes, bytes]]:  # fails in the middle of the cursor
            for item in items:
                calls[0] += 1
                if calls[0] == fail_at:
                    raise OSError(28, "No space left on device (injected)")
                yield item
        return real_put_many(self, db, counted(), **options)

    real_put_many = Txn.put_many
    monkeypatch.setattr(Txn, "put", failing_put)
    monkeypatch.setattr(Txn, "put_many", failing_put_many)
    with pytest.raises(OSError):
        ledger.append(_issues(issuer, "x", 100))
    assert calls[0] >= fail_at
    monkeypatch.setattr(Txn, "put", real_put)
    monkeypatch.setattr(Txn, "put_many", real_put_many)
    assert ledger.head() == before
    ledger.close()
    with Ledger.open(tmp_path / "s") as again:  # the self-check passes
        assert again.head() == before
        again.append(_issues(issuer, "y", 10))
        assert again.head().size == before.size + 10
        audit_store(again)


def test_refused_item_late_in_batch_writes_nothing(tmp_path: Path) -> None:
    ledger, issuer = _ledger(tmp_path)
    before = ledger.head()
    items = _issues(issuer, "a", 300)
    items[250] = items[3]  # a duplicate credential id near the end
    with pytest.raises(RefusedError) as err:
        ledger.append(items)
    assert err.value.rule == "duplicate-credential"
    assert "batch item 251" in str(err.value)
    assert ledger.head() == before
    ledger.close()


def test_store_cap_refuses_cleanly_and_keeps_what_was_acknowledged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ledger.store.INITIAL_MAP_SIZE", 1 << 20)
    monkeypatch.setenv("CREDLEDGER_MAX_MAP_SIZE", str(4 << 20))
    ledger, issuer = _ledger(tmp_path)
    ledger.append(_issues(issuer, "ok", 200))  # grows the map once or twice, within the cap
    before = ledger.head()
    with pytest.raises(StoreFullError):
        ledger.append(_issues(issuer, "big", 20000))
    assert ledger.head() == before
    ledger.close()
    with Ledger.open(tmp_path / "s") as again:
        assert again.head() == before
        audit_store(again)


def test_failed_backup_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.store as store_module

    ledger, issuer = _ledger(tmp_path)
    ledger.append(_issues(issuer, "b", 10))
    real = store_module.Store.copy_compact

    def full_disk(self: Any, dest: Path) -> None:
        real(self, dest)
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(store_module.Store, "copy_compact", full_disk)
    with pytest.raises(OSError):
        ledger.backup(tmp_path / "backups" / "b1")
    assert list((tmp_path / "backups").iterdir()) == []
    monkeypatch.setattr(store_module.Store, "copy_compact", real)
    head = ledger.backup(tmp_path / "backups" / "b1")
    assert head == ledger.head()
    ledger.close()


_GROWING_WRITER = """
import sys
import ledger.store
ledger.store.INITIAL_MAP_SIZE = 128 << 10
import uuid
from ledger.events import ISSUE, make_statement, sign_statement
from ledger.log import Ledger
seed, prefix, rounds, n = bytes.fromhex(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
with Ledger.open(sys.argv[1]) as ledger:
    for r in range(rounds):
        items = []
        for i in range(n):
            number = ord(prefix) * 65536 + r * 4096 + i  # the credential's status index
            handle = f"urn:uuid:{uuid.UUID(int=number, version=4)}"
            items.append(sign_statement(make_statement(ISSUE, "uni", 2, handle, bytes(32),
                                                       "cs201", 0, None, number, []), seed))
        ledger.append(items)
"""


def _grow_in_another_process(store: Path, issuer: Signer, prefix: str, rounds: int,
                             n: int) -> subprocess.Popen[bytes]:
    """A process appending ``rounds`` batches of ``n`` issues, each growing the map."""
    return subprocess.Popen([sys.executable, "-c", _GROWING_WRITER, str(store),
                             issuer.seed.hex(), prefix, str(rounds), str(n)],
                            env=_env(store), stderr=subprocess.PIPE)


def test_readers_adopt_the_map_size_another_process_grew(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 15: during big batches, 'status' and 'prove' failed with MDB_MAP_RESIZED. A reader
    # opening the store (as each command does) must adopt the new size and go on. (One process
    # opens an LMDB environment once: a reader that stays open is the next test's.)
    monkeypatch.setattr("ledger.store.INITIAL_MAP_SIZE", 128 << 10)
    monkeypatch.delenv("CREDLEDGER_MAX_MAP_SIZE", raising=False)
    ledger, issuer = _ledger(tmp_path)
    start = ledger.store.env.info()["map_size"]
    ledger.close()
    store = tmp_path / "s"
    writer = _grow_in_another_process(store, issuer, "g", 12, 400)
    reads, failures = 0, []
    while writer.poll() is None:
        reads += 1
        try:
            with Ledger.open(store) as reader:  # what each 'status' or 'prove' does
                reader.head()
                reader.record("cred", "uni", "g0-1")
        except Exception as exc:  # noqa: BLE001 - every failure counts
            failures.append(f"{type(exc).__name__}: {exc}")
    assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
    assert failures == [], f"{len(failures)} of {reads} reads failed: {failures[:3]}"
    assert reads > 20
    with Ledger.open(store) as after:
        assert after.head().size == 2 + 12 * 400  # the registration and its achievement, then the batches
        assert after.store.env.info()["map_size"] > 8 * start  # it grew, several times


def test_opening_a_store_whose_map_grew_meanwhile(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Deterministic: the environment is mapped at the old size, then another process grows
    # the map and commits before this one begins its first transaction (LMDB then answers
    # MDB_MAP_RESIZED), and again before a read of an open store.
    import lmdb

    import ledger.store as store_module

    monkeypatch.setattr(store_module, "INITIAL_MAP_SIZE", 128 << 10)
    monkeypatch.delenv("CREDLEDGER_MAX_MAP_SIZE", raising=False)
    ledger, issuer = _ledger(tmp_path)
    ledger.close()
    store = tmp_path / "s"
    real_open = lmdb.open
    grown = []

    def open_then_grow(*args: Any, **kw: Any) -> Any:
        env = real_open(*args, **kw)
        if not grown:
            grown.append(1)
            assert _grow_in_another_process(store, issuer, "a", 1, 1000).wait() == 0
        return env

    monkeypatch.setattr(store_module.lmdb, "open", open_then_grow)
    opened = Ledger.open(store)
    assert opened.head().size == 2 + 1000
    before = opened.store.env.info()["map_size"]
    assert _grow_in_another_process(store, issuer, "b", 1, 3000).wait() == 0
    resized = []
    real_set = opened.store.env.set_mapsize

    class Env:  # the store's environment, counting the adoptions of a new size
        def __getattr__(self, name: str) -> Any:
            return getattr(real_env, name)

        def set_mapsize(self, size: int) -> None:
            resized.append(size)
            real_set(size)

    real_env = opened.store.env
    opened.store.env = Env()  # type: ignore[assignment]
    assert opened.head().size == 2 + 4000
    assert resized == [0]
    assert real_env.info()["map_size"] > before
    opened.store.env = real_env
    opened.close()
