"""The issuer's protocol through the library (ledger.issuance, ledger.holder): as crash-safe
as the command line, on a real store."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ledger.issuance as issuance_module
from ledger.batchfile import CredentialRequest, read_batch
from ledger.errors import (
    EncodingError,
    InterruptedAfterCommitError,
    NotRegularFileError,
    PendingBatchError,
)
from ledger.events import REGISTER_ISSUER, make_statement, sign_statement, subject_commitment
from ledger.issuance import issue
from ledger.log import Ledger
from ledger.note import Signer

ORIGIN = "issuance.example/log"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Ledger, Signer, Path]]:
    ledger, _, registry = Ledger.create(tmp_path / "store", ORIGIN)
    uni = Signer.generate("uni")
    st = make_statement(REGISTER_ISSUER, "uni", ledger.clock(), "Uni", "", uni.public_key)
    ledger.append([sign_statement(st, registry.seed)])
    yield ledger, uni, tmp_path / "out"
    ledger.close()


def _requests(n: int, prefix: str = "c") -> list[CredentialRequest]:
    return [CredentialRequest(f"{prefix}-{i}", f"Holder {i}", "Python 101", "2030-06-30")
            for i in range(n)]


def test_issue_commits_and_writes_every_document(setup: tuple[Ledger, Signer, Path]) -> None:
    ledger, uni, out = setup
    done = issue(ledger, "uni", uni, _requests(3), out)
    assert (done.appended.first, done.appended.count) == (1, 3)
    for i, doc in enumerate(done.documents):
        path = out / "uni" / f"c-{i}.json"
        assert json.loads(path.read_text()) == doc
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # the document's salt opens the logged commitment
        assert issuance_module.committed(ledger, "uni", doc)
        st = ledger.entry(1 + i).signed().verify()
        assert st.fields[1] == subject_commitment(bytes.fromhex(doc["salt"]), f"Holder {i}")
    assert not list((out / "uni").glob(".pending*"))


def test_a_refused_batch_leaves_no_pending_file(setup: tuple[Ledger, Signer, Path]) -> None:
    ledger, uni, out = setup
    issue(ledger, "uni", uni, _requests(1), out)
    size = ledger.head().size
    with pytest.raises(Exception, match="duplicate-credential"):
        issue(ledger, "uni", uni, _requests(2), out)  # c-0 again
    assert ledger.head().size == size
    assert not list((out / "uni").glob(".pending*"))


def test_a_failure_after_the_commit_keeps_the_salts_for_recover(
        setup: tuple[Ledger, Signer, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, uni, out = setup
    real = issuance_module.write_document

    def fail_second(out_dir: Path, doc: dict[str, Any], **kwargs: Any) -> Path:
        if doc["id"] == "c-1":
            raise OSError(28, "No space left on device")
        return real(out_dir, doc, **kwargs)

    monkeypatch.setattr(issuance_module, "write_document", fail_second)
    with pytest.raises(InterruptedAfterCommitError) as info:
        issue(ledger, "uni", uni, _requests(3), out)
    assert not info.value.keyboard and info.value.pending.endswith(".pending-c-0.jsonl")
    assert ledger.head().size == 4  # committed
    # A new batch of the issuer is refused until recover has run.
    with pytest.raises(PendingBatchError, match="recover"):
        issue(ledger, "uni", uni, _requests(1, "d"), out)
    monkeypatch.setattr(issuance_module, "write_document", real)
    done = issuance_module.recover(ledger, "uni", out / "uni")
    assert (done.pending_files, done.documents, done.dropped) == (1, 3, 0)
    assert sorted(p.name for p in (out / "uni").iterdir()) == ["c-0.json", "c-1.json",
                                                                "c-2.json"]
    issue(ledger, "uni", uni, _requests(1, "d"), out)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_a_failure_before_the_pending_file_leaves_no_signing_running(
        setup: tuple[Ledger, Signer, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch is signed on every core (BatchSigning) while the pending file is written; a
    failure in between, here looking up OUT's missing directories (a name too long), must not
    leave the workers signing: the signing is stopped, or was never started."""
    ledger, uni, out = setup
    signings: list[Any] = []

    class Spy(issuance_module.BatchSigning):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.stopped = False
            signings.append(self)

        def stop(self) -> None:
            self.stopped = True
            super().stop()

    monkeypatch.setattr(issuance_module, "BatchSigning", Spy)
    with pytest.raises(OSError, match="too long"):  # OUT's parent exists: a lookup error
        issue(ledger, "uni", uni, _requests(3), out.parent / ("x" * 300))
    assert all(s.stopped for s in signings), "the batch's signing was left running"
    assert ledger.head().size == 1
    assert [p.name for p in out.parent.iterdir()] == ["store"]


def test_a_fifo_in_place_of_a_pending_file_is_refused_at_once(
        setup: tuple[Ledger, Signer, Path]) -> None:
    ledger, _, out = setup
    (out / "uni").mkdir(parents=True)
    os.mkfifo(out / "uni" / ".pending-x.jsonl")
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            issuance_module.recover(ledger, "uni", out / "uni")
            result.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            result.append(exc)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(10)
    assert not th.is_alive(), "recover hung on a FIFO"
    assert isinstance(result[0], EncodingError) and "not a regular file" in str(result[0])


def test_planted_links_at_the_document_paths_are_never_followed(
        setup: tuple[Ledger, Signer, Path], tmp_path: Path) -> None:
    ledger, uni, out = setup
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (out / "uni").mkdir(parents=True)
    for name in ("c-0.json", "c-0.json.tmp", ".c-0.json.tmp"):  # and the temp names of old
        (out / "uni" / name).symlink_to(outside)
    issue(ledger, "uni", uni, _requests(1), out)
    assert outside.read_text() == "keep me"
    assert not (out / "uni" / "c-0.json").is_symlink()
    assert json.loads((out / "uni" / "c-0.json").read_text())["id"] == "c-0"


def test_read_batch_gives_requests_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "a", "subject": "s", "title": "t", "parts": ["p"]}\n\n'
                    '{"id": "b", "subject": "s", "title": "t", "document": "' + "ab" * 32 +
                    '"}\n')
    a, b = read_batch(path)
    assert (a.id, a.parts, a.where) == ("a", ("p",), f"{path}:1")
    assert (b.id, b.document, b.where) == ("b", bytes.fromhex("ab" * 32), f"{path}:3")
    path.write_text('{"id": "a", "subject": "s", "title": "t", "document": "zz"}\n')
    with pytest.raises(EncodingError, match=r"b\.jsonl:1: document"):
        list(read_batch(path))


def test_the_longest_ids_commit_and_their_documents_always_fit(tmp_path: Path) -> None:
    # Ids may have 256 characters; "<id>.json" would not fit a 255-byte file name. A batch
    # with such an issuer and credential (not first) commits, and its documents are written,
    # under names derived to fit; recover finds them the same way.
    ledger, _, registry = Ledger.create(tmp_path / "store", ORIGIN)
    issuer = "i" * 256
    key = Signer.generate("long")
    st = make_statement(REGISTER_ISSUER, issuer, ledger.clock(), "Long", "", key.public_key)
    ledger.append([sign_statement(st, registry.seed)])
    long_id = "c" * 255 + "9"
    done = issue(ledger, issuer, key, [CredentialRequest("short", "s", "t"),
                                       CredentialRequest(long_id, "s", "t")], tmp_path / "out")
    names = sorted(p.name for p in done.out.iterdir())
    assert len(names) == 2 and "short.json" in names
    assert all(len(n.encode()) <= 205 for n in names) and len(done.out.name) <= 200
    (long_name,) = [n for n in names if n != "short.json"]
    assert long_name.startswith("c" * 160 + "~") and json.loads(
        (done.out / long_name).read_text())["id"] == long_id
    # A long first id names the pending file; an interrupted batch of it can be recovered.
    first = "d" * 256
    real = issuance_module.write_document

    def fail(out_dir: Path, doc: dict[str, Any], **kwargs: Any) -> Path:
        raise OSError(5, "Input/output error")

    issuance_module.write_document = fail  # type: ignore[assignment]
    try:
        with pytest.raises(InterruptedAfterCommitError):
            issue(ledger, issuer, key, [CredentialRequest(first, "s", "t")], tmp_path / "out")
    finally:
        issuance_module.write_document = real  # type: ignore[assignment]
    done_rec = issuance_module.recover(ledger, issuer, done.out)
    assert (done_rec.pending_files, done_rec.documents) == (1, 1)
    ledger.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
@pytest.mark.parametrize("kind", ["fifo", "device", "link-to-fifo"])
def test_a_batch_file_that_is_no_regular_file_is_refused_at_once(tmp_path: Path,
                                                                  kind: str) -> None:
    fifo = tmp_path / "batch.fifo"
    os.mkfifo(fifo)
    path = {"fifo": fifo, "device": Path("/dev/zero"), "link-to-fifo": tmp_path / "l"}[kind]
    if kind == "link-to-fifo":
        path.symlink_to(fifo)
    result: list[BaseException | None] = []
    th = threading.Thread(target=lambda: _catch(result, lambda: list(read_batch(path))),
                          daemon=True)
    th.start()
    th.join(10)
    assert not th.is_alive(), "reading the batch file hung"
    assert isinstance(result[0], NotRegularFileError), result
    assert "not a regular file" in str(result[0])


def _catch(out: list[BaseException | None], fn: Any) -> None:
    try:
        fn()
        out.append(None)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        out.append(exc)


def test_a_huge_batch_line_is_refused_without_holding_it(tmp_path: Path) -> None:
    # A 200 MB line without a newline: refused after reading 70,001 bytes of it. Run in a
    # child limited to 150 MB of address space beyond what it has at start (bound: the
    # line is never held, so the child stays far below it).
    import subprocess
    import sys

    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:
        f.truncate(200 << 20)  # sparse: 200 MB of zero bytes, no newline
    code = (
        "import resource, sys\n"
        "from ledger.batchfile import read_batch\n"
        "from ledger.errors import EncodingError\n"
        "soft = 150 << 20\n"
        "import os\n"
        "vm = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + soft, vm + soft))\n"
        "try:\n"
        "    list(read_batch(sys.argv[1]))\n"
        "except EncodingError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=False,
                         capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "line longer than 70000 bytes" in out.stdout


def test_read_batch_csv_counts_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "b.CSV"  # by the suffix, any case
    path.write_bytes(b'\xef\xbb\xbfno,who,course,extra\r\na,"one\r\ntwo",t,x\r\n\r\nb,s,t,y\r\n')
    a, b = read_batch(path, columns={"id": "no", "subject": "who", "title": "course"})
    assert (a.id, a.subject, a.where) == ("a", "one\r\ntwo", f"{path}:2")
    assert (b.id, b.where) == ("b", f"{path}:5")
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text("id,subject,title\na,s,t\n", encoding="utf-8")
    assert [r.id for r in read_batch(jsonl, fmt="csv")] == ["a"]
    with pytest.raises(EncodingError, match=r"b\.jsonl:1: not a JSON object"):
        list(read_batch(jsonl))
    with pytest.raises(EncodingError, match="for CSV batch files only"):
        list(read_batch(jsonl, columns={"id": "id"}))


def test_the_store_records_out_before_the_pending_file_is_linked(
        setup: tuple[Ledger, Signer, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, signer, out = setup
    real_link = os.link
    seen = []

    def link(src: Any, dst: Any, **kw: Any) -> None:
        if ".pending-" in str(dst):
            seen.append(issuance_module.recorded(ledger.store.path, "uni"))
        real_link(src, dst, **kw)

    monkeypatch.setattr(issuance_module.os, "link", link)
    issue(ledger, "uni", signer, _requests(2), out)
    assert seen == [[out / "uni"]]
    assert issuance_module.recorded(ledger.store.path, "uni") == []  # cleared after


# ------------------------------------------- crash safety of the holder documents' batch write


def _assert_recovered_whole(ledger: Ledger, out: Path, n: int, prefix: str = "c") -> None:
    """``recover`` finishes the batch: every document once, each whole (the bytes issue
    writes), and nothing else in the directory (no pending file, no temporary file)."""
    from ledger.holder import document_bytes, parse_holder_document

    pending = sorted((out / "uni").glob(".pending-*.jsonl"))
    assert len(pending) == 1
    lines = [json.loads(x) for x in pending[0].read_text().splitlines()]
    done = issuance_module.recover(ledger, "uni", out / "uni")
    assert (done.pending_files, done.documents, done.dropped) == (1, n, 0)
    names = sorted(os.listdir(out / "uni"))
    assert names == sorted(f"{prefix}-{i}.json" for i in range(n))
    for doc in lines:
        data = (out / "uni" / f"{doc['id']}.json").read_bytes()
        assert data == document_bytes(doc)
        assert parse_holder_document(data) == doc
        assert issuance_module.committed(ledger, "uni", doc)


@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "temporary-names"])
@pytest.mark.parametrize("where", ["between writes", "within a write", "before the sync"])
def test_a_failure_anywhere_in_the_document_write_is_recovered_whole(
        setup: tuple[Ledger, Signer, Path], monkeypatch: pytest.MonkeyPatch,
        where: str, unnamed: bool) -> None:
    """An error (a full disk, Ctrl-C) between two documents, halfway through one, or after
    the last one but before the batch's one sync: the batch is committed, the pending file
    kept; recover writes every document once, whole; no half document is left."""
    from ledger import files

    ledger, uni, out = setup
    if not unnamed:
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    calls = [0]
    real_write, real_os_write, real_sync = files.FileBatch.write, os.write, files.FileBatch.sync

    def fail_at_fifth(self: files.FileBatch, name: str, data: bytes, **kw: Any) -> None:
        calls[0] += 1
        if calls[0] == 5:
            if where == "between writes":
                raise KeyboardInterrupt
            monkeypatch.setattr(os, "write", lambda fd, b: real_os_write(fd, b[:7]) and (
                _ for _ in ()).throw(OSError(28, "No space left on device")))
            try:
                real_write(self, name, data, **kw)
            finally:
                monkeypatch.setattr(os, "write", real_os_write)
        real_write(self, name, data, **kw)

    def no_sync(self: files.FileBatch) -> None:
        raise OSError(5, "Input/output error")

    if where == "before the sync":
        monkeypatch.setattr(files.FileBatch, "sync", no_sync)
    else:
        monkeypatch.setattr(files.FileBatch, "write", fail_at_fifth)
    with pytest.raises(InterruptedAfterCommitError) as info:
        issue(ledger, "uni", uni, _requests(12), out)
    assert info.value.keyboard == (where == "between writes")
    assert ledger.head().size == 13  # committed
    written = [n for n in os.listdir(out / "uni") if not n.startswith(".pending-")]
    assert all(not n.startswith(".") for n in written)  # no temporary file left
    for name in written:  # whatever was written is whole
        assert json.loads((out / "uni" / name).read_text())["id"] == name[:-5]
    monkeypatch.setattr(files.FileBatch, "write", real_write)
    monkeypatch.setattr(files.FileBatch, "sync", real_sync)
    _assert_recovered_whole(ledger, out, 12)
    issue(ledger, "uni", uni, _requests(2, "d"), out)  # the issuer can issue again


_KILL_CHILD = """
import os, signal, sys
from pathlib import Path
from ledger import files
from ledger.batchfile import CredentialRequest
from ledger.issuance import issue
from ledger.log import Ledger
from ledger.note import Signer

store, out, seed, point, at = sys.argv[1:6]
at = int(at)
calls = [0]

def killer(real):
    def fn(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return fn

if point == "link":  # the unnamed document is written, its name not yet given
    os.link = killer(os.link)
elif point == "rename":  # temporary names: written, not yet renamed
    del os.O_TMPFILE
    os.replace = killer(os.replace)
else:  # every document named, the batch not yet synced
    files.FileBatch.sync = killer(files.FileBatch.sync)
ledger = Ledger.open(store, workers=2)
reqs = [CredentialRequest(f"c-{i}", f"Holder {i}", "Python 101", "2030-06-30")
        for i in range(3000)]
issue(ledger, "uni", Signer("uni", bytes.fromhex(seed)), reqs, out)
print("not killed")
"""


@pytest.mark.parametrize("point,at", [("link", 2), ("link", 1778), ("rename", 2999),
                                      ("sync", 1)])
def test_a_writer_killed_while_writing_documents_is_recovered_whole(
        setup: tuple[Ledger, Signer, Path], point: str, at: int) -> None:
    """SIGKILL while a 3,000-credential batch writes its documents (after writing one but
    before naming it, or before the batch's sync): recover writes every document once, whole,
    and leaves no temporary file."""
    import subprocess
    import sys

    ledger, uni, out = setup
    store = ledger.store.path
    ledger.close()
    proc = subprocess.run([sys.executable, "-c", _KILL_CHILD, str(store), str(out),
                           uni.seed.hex(), point, str(at)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    reopened = Ledger.open(store)
    try:
        assert reopened.head().size == 3001  # the commit came first
        names = os.listdir(out / "uni")
        named = [n for n in names if not n.startswith(".")]
        temps = [n for n in names if n.startswith(".") and not n.startswith(".pending-")]
        # Before the commit, the first link named the pending file and the first rename the
        # store's record of it: the kill came at the document before 'at'.
        assert len(named) == {"link": at - 2, "rename": at - 2, "sync": 3000}[point]
        assert len(temps) == (1 if point == "rename" else 0)  # written, not yet renamed
        for name in named[:50]:
            assert json.loads((out / "uni" / name).read_text())["id"] == name[:-5]
        _assert_recovered_whole(reopened, out, 3000)
    finally:
        reopened.close()


# ------------------------------------------------------------- a big batch signed on every core


@pytest.mark.parametrize("pool", ["workers", "no pool"])
def test_a_big_batch_is_signed_on_every_core_with_the_same_signatures(
        monkeypatch: pytest.MonkeyPatch, pool: str) -> None:
    """BatchSigning gives the very SignedStatements sign_statement gives (Ed25519 is
    deterministic), in order, whether the pool's workers sign or, without a pool, the caller."""
    from ledger import parallel
    from ledger.events import ISSUE

    if pool == "no pool":
        def no_pool(workers: int) -> Any:
            raise OSError(24, "Too many open files")

        monkeypatch.setattr(parallel, "worker_pool", no_pool)
    uni = Signer.generate("uni")
    statements = [make_statement(ISSUE, "uni", 1_700_000_000_000, f"c-{i}",
                                 os.urandom(32), "Python 101", None, None, [])
                  for i in range(parallel.PARALLEL_THRESHOLD + 100)]
    signing = parallel.BatchSigning([st.encode() for st in statements], uni.seed, 2)
    assert signing.result() == [sign_statement(st, uni.seed) for st in statements]
