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

import ledger.holder as holder_module
from ledger.errors import EncodingError, InterruptedAfterCommitError, PendingBatchError
from ledger.events import REGISTER_ISSUER, make_statement, sign_statement, subject_commitment
from ledger.issuance import CredentialRequest, issue, read_batch
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
        assert holder_module.committed(ledger, "uni", doc)
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
    real = holder_module.write_document

    def fail_second(out_dir: Path, doc: dict[str, Any], **kwargs: Any) -> Path:
        if doc["id"] == "c-1":
            raise OSError(28, "No space left on device")
        return real(out_dir, doc, **kwargs)

    monkeypatch.setattr(holder_module, "write_document", fail_second)
    with pytest.raises(InterruptedAfterCommitError) as info:
        issue(ledger, "uni", uni, _requests(3), out)
    assert not info.value.keyboard and info.value.pending.endswith(".pending-c-0.jsonl")
    assert ledger.head().size == 4  # committed
    # A new batch of the issuer is refused until recover has run.
    with pytest.raises(PendingBatchError, match="recover"):
        issue(ledger, "uni", uni, _requests(1, "d"), out)
    monkeypatch.setattr(holder_module, "write_document", real)
    done = holder_module.recover(ledger, "uni", out / "uni")
    assert (done.pending_files, done.documents, done.dropped) == (1, 3, 0)
    assert sorted(p.name for p in (out / "uni").iterdir()) == ["c-0.json", "c-1.json",
                                                                "c-2.json"]
    issue(ledger, "uni", uni, _requests(1, "d"), out)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_a_fifo_in_place_of_a_pending_file_is_refused_at_once(
        setup: tuple[Ledger, Signer, Path]) -> None:
    ledger, _, out = setup
    (out / "uni").mkdir(parents=True)
    os.mkfifo(out / "uni" / ".pending-x.jsonl")
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            holder_module.recover(ledger, "uni", out / "uni")
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
