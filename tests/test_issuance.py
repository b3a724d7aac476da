"""The issuer's protocol through the library (ledger.issuance, ledger.holder): as crash-safe
as the command line, on a real store. Entry format 2 (issue 16): each credential is a signed
Open Badges 3.0 credential with a random ``urn:uuid`` handle, a fresh salt and a random status
index; the log holds only the handle, the credential's digest, the achievement, the dates and
the index; the pending file carries pending records with the credentials until they are
written to OUT/ISSUER/<own id>.json."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from statements import register_achievement

import ledger.issuance as issuance_module
from ledger import openbadges
from ledger.batchfile import CredentialRequest, read_batch
from ledger.errors import (
    EncodingError,
    InterruptedAfterCommitError,
    NotRegularFileError,
    PendingBatchError,
)
from ledger.events import (
    LIST_BITS,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    ROTATE_KEY,
    key_id,
    make_statement,
    sign_statement,
)
from ledger.holder import document_bytes
from ledger.issuance import issue
from ledger.log import Ledger
from ledger.note import Signer
from ledger.records import SLOT, SlotRecord, slot_ident

ORIGIN = "issuance.example/log"
HANDLE = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Ledger, Signer, Path]]:
    """A store with issuer uni (entry 0) and its achievement cs201 (entry 1)."""
    ledger, _, registry = Ledger.create(tmp_path / "store", ORIGIN)
    uni = Signer.generate("uni")
    st = make_statement(REGISTER_ISSUER, "uni", ledger.clock(), "Uni", "https://uni.example",
                        uni.public_key)
    ledger.append([sign_statement(st, registry.seed)])
    ledger.append([sign_statement(register_achievement("uni", ledger.clock()), uni.seed)])
    yield ledger, uni, tmp_path / "out"
    ledger.close()


def _requests(n: int, prefix: str = "c", **kw: Any) -> list[CredentialRequest]:
    return [CredentialRequest(f"{prefix}-{i}", f"holder{i}@example.org", "cs201",
                              "emailAddress", "A", "2030-06-30", **kw) for i in range(n)]


def _pending_credentials(out: Path) -> dict[str, dict[str, Any]]:
    """own id -> credential, from the one pending file in ``out/uni``."""
    (pending,) = sorted((out / "uni").glob(".pending-*.jsonl"))
    records = [json.loads(x) for x in pending.read_text().splitlines()]
    assert all(set(r) == {"origin", "issuer", "id", "credential"} for r in records)
    return {r["id"]: r["credential"] for r in records}


def test_issue_commits_and_writes_every_document(setup: tuple[Ledger, Signer, Path]) -> None:
    ledger, uni, out = setup
    done = issue(ledger, "uni", uni, _requests(3), out)
    assert (done.appended.first, done.appended.count) == (2, 3)
    kid = key_id(uni.public_key)
    for i, doc in enumerate(done.documents):
        assert (doc["origin"], doc["issuer"], doc["id"]) == (ORIGIN, "uni", f"c-{i}")
        cred = doc["credential"]
        path = out / "uni" / f"c-{i}.json"
        assert path.read_bytes() == document_bytes(cred)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # The file is a signed Open Badges credential by the issuer's key, naming the holder
        # only by a salted hash that opens with the subject.
        badge = openbadges.verify_credential(json.loads(path.read_text())).badge
        assert badge.issuer_key == uni.public_key and badge.issuer_name == "Uni"
        assert badge.achievement_id == f"https://{ORIGIN}/achievements/uni/cs201"
        assert openbadges.identifier_matches(badge, f"holder{i}@example.org", "emailAddress")
        assert not openbadges.identifier_matches(badge, f"holder{i + 1}@example.org")
        assert badge.result == "A"
        # The log commits to exactly this credential: its handle, digest, achievement, dates,
        # status index; and nothing personal.
        assert issuance_module.committed(ledger, "uni", cred)
        entry = ledger.entry(2 + i)
        st = entry.signed().verify()
        handle, digest, ach, valid_from, valid_until, index, parts = st.fields
        assert handle == cred["id"] == badge.id and HANDLE.fullmatch(handle)
        assert digest == openbadges.credential_digest(json.loads(path.read_text()))
        assert (ach, parts) == ("cs201", [])
        assert valid_from == int(badge.valid_from.timestamp() * 1000)
        assert badge.valid_until is not None
        assert valid_until == int(badge.valid_until.timestamp() * 1000)
        assert badge.valid_until.isoformat() == "2030-06-30T23:59:59+00:00"
        assert [(e.purpose, e.index) for e in badge.status] == [
            ("revocation", index % LIST_BITS), ("suspension", index % LIST_BITS)]
        assert all(e.list_url.endswith(f"/status/uni/{kid}/{e.purpose}/{index // LIST_BITS}"
                                       ".json") for e in badge.status)
        salt = badge.identifiers[0].salt
        for private in (f"holder{i}@example.org", f"c-{i}", salt, "Uni"):
            assert private.encode() not in entry.encode(), private
    assert not list((out / "uni").glob(".pending*"))


def test_every_credential_has_its_own_random_handle_and_status_index(
        setup: tuple[Ledger, Signer, Path]) -> None:
    """Across batches and within one: a random lower-case v4 urn:uuid each (the same request
    issued again gets another), never the own id; a status index each, held in the map as the
    slot of the signing key, and the credential's credentialStatus at that index."""
    ledger, uni, out = setup
    # Own ids that no UUID can hold ("c-0" can: a hex digit, a dash, a digit).
    first = issue(ledger, "uni", uni, _requests(40, "student"), out)
    second = issue(ledger, "uni", uni, _requests(40, "student"), out.parent / "out-2")
    docs = first.documents + second.documents
    handles = [d["credential"]["id"] for d in docs]
    assert len(set(handles)) == 80 and all(HANDLE.fullmatch(h) for h in handles)
    assert not any(d["id"] in h for d, h in zip(docs, handles, strict=True))
    kid = key_id(uni.public_key)
    indexes = []
    for n, doc in enumerate(docs):
        st = ledger.entry(2 + n).signed().verify()
        assert st.fields[0] == doc["credential"]["id"]
        index = st.fields[5]
        indexes.append(index)
        slot = ledger.record(SLOT, "uni", slot_ident(kid, index))
        assert isinstance(slot, SlotRecord) and slot.credential == st.fields[0]
        entries = doc["credential"]["credentialStatus"]
        assert {e["statusListIndex"] for e in entries} == {str(index % LIST_BITS)}
    assert len(set(indexes)) == 80
    assert len({i % LIST_BITS for i in indexes}) == 80  # all in list 0, spread at random
    assert max(indexes) > 1000  # drawn from the whole list, not counted up from 0


def test_the_credential_files_verify_and_their_digests_are_the_logged_ones(
        setup: tuple[Ledger, Signer, Path]) -> None:
    """Every file of a batch verifies (ledger.openbadges.verify_credential) and its digest is
    the one its issue statement commits to; a changed file no longer matches it."""
    ledger, uni, out = setup
    done = issue(ledger, "uni", uni, _requests(12), out)
    logged = {}
    for n in range(12):
        st = ledger.entry(2 + n).signed().verify()
        logged[st.fields[0]] = st.fields[1]
    for doc in done.documents:
        data = json.loads((out / "uni" / f"{doc['id']}.json").read_text())
        openbadges.verify_credential(data)
        assert openbadges.credential_digest(data) == logged[data["id"]]
    forged = json.loads((out / "uni" / "c-3.json").read_text())
    forged["credentialSubject"]["result"][0]["value"] = "A+"
    assert openbadges.credential_digest(forged) != logged[forged["id"]]
    with pytest.raises(Exception, match="signature does not verify"):
        openbadges.verify_credential(forged)


def test_parts_are_resolved_from_out_by_own_id_and_from_earlier_lines(
        setup: tuple[Ledger, Signer, Path]) -> None:
    ledger, uni, out = setup
    (m1,) = issue(ledger, "uni", uni, [CredentialRequest("m-1", "ada", "cs201")],
                  out).documents
    size = ledger.head().size
    done = issue(ledger, "uni", uni, [
        CredentialRequest("m-2", "ada", "cs201"),
        CredentialRequest("cert", "ada", "cs201", parts=("m-1", "m-2"))], out)
    m2, cert = done.documents
    want = [m1["credential"]["id"], m2["credential"]["id"]]
    st = ledger.entry(size + 1).signed().verify()
    assert st.fields[0] == cert["credential"]["id"] and st.fields[6] == want
    badge = openbadges.verify_credential(cert["credential"]).badge
    assert sorted(badge.parts) == sorted(want)
    # A part never issued to OUT, or one of a later line, is refused before anything is
    # written; so is a part given by its handle (a part is named by its own id).
    size = ledger.head().size
    for requests, match in (
        ([CredentialRequest("x", "ada", "cs201", parts=("nope",))], "part 'nope': no credential"),
        ([CredentialRequest("y", "ada", "cs201", parts=("z",)),
          CredentialRequest("z", "ada", "cs201")], "part 'z': no credential"),
        ([CredentialRequest("w", "ada", "cs201", parts=(want[0],))],
         "a part is named by the id it was issued with"),
    ):
        with pytest.raises(EncodingError, match=match):
            issue(ledger, "uni", uni, requests, out)
        assert ledger.head().size == size
    assert sorted(p.name for p in (out / "uni").iterdir()) == ["cert.json", "m-1.json",
                                                                "m-2.json"]
    # Elsewhere: another OUT holds no m-1.
    with pytest.raises(EncodingError, match="part 'm-1'"):
        issue(ledger, "uni", uni, [CredentialRequest("v", "ada", "cs201", parts=("m-1",))],
              out.parent / "elsewhere")


def test_skip_existing_skips_only_what_out_and_the_log_both_hold(
        setup: tuple[Ledger, Signer, Path], tmp_path: Path) -> None:
    """``issue --skip-existing`` (split_existing): a request is skipped only if OUT holds a
    credential under its own id AND the log holds that credential's handle; the rest are
    issued, but a file in OUT is never overwritten."""
    ledger, uni, out = setup
    issue(ledger, "uni", uni, _requests(3), out)  # c-0, c-1, c-2 in OUT and in the log
    # c-1's file removed: in the log, not in OUT. c-2's file replaced by a credential the log
    # does not hold (one issued to another store). c-3 never issued.
    (out / "uni" / "c-1.json").unlink()
    other, _, registry = Ledger.create(tmp_path / "other", ORIGIN)
    st = make_statement(REGISTER_ISSUER, "uni", other.clock(), "Uni", "", uni.public_key)
    other.append([sign_statement(st, registry.seed)])
    other.append([sign_statement(register_achievement("uni", other.clock()), uni.seed)])
    (foreign,) = issue(other, "uni", uni, _requests(1, "c"), tmp_path / "foreign").documents
    other.close()
    (out / "uni" / "c-2.json").write_bytes(document_bytes(foreign["credential"]))
    kept = (out / "uni" / "c-0.json").read_bytes()
    requests = _requests(4)
    new, existing = issuance_module.split_existing(ledger, "uni", out / "uni", requests)
    assert [r.id for r in existing] == ["c-0"]
    assert [r.id for r in new] == ["c-1", "c-2", "c-3"]
    size = ledger.head().size
    # A file in OUT is never overwritten, even one whose credential this log never held (it
    # is another store's: its only copy): issue names it, and writes nothing.
    with pytest.raises(EncodingError, match="'c-2' was already issued"):
        issue(ledger, "uni", uni, new, out)
    assert ledger.head().size == size
    assert (out / "uni" / "c-2.json").read_bytes() == document_bytes(foreign["credential"])
    (out / "uni" / "c-2.json").rename(tmp_path / "foreign-c-2.json")
    done = issue(ledger, "uni", uni, new, out)
    assert (done.appended.first, done.appended.count) == (size, 3)
    assert (out / "uni" / "c-0.json").read_bytes() == kept  # skipped: untouched
    for doc in done.documents:
        assert json.loads((out / "uni" / f"{doc['id']}.json").read_text()) == doc["credential"]
        assert issuance_module.committed(ledger, "uni", doc["credential"])
    # A re-run skips all four.
    assert issuance_module.split_existing(ledger, "uni", out / "uni", requests) == ([], requests)


def test_an_own_id_already_issued_to_out_is_refused(setup: tuple[Ledger, Signer, Path]) -> None:
    """v1's rule duplicate-credential for v2: an own id naming a credential in OUT that the
    log holds is refused (its file is the issuer's only copy), and so is an id given twice in
    one batch; nothing is written."""
    ledger, uni, out = setup
    issue(ledger, "uni", uni, _requests(1), out)
    kept = (out / "uni" / "c-0.json").read_bytes()
    size = ledger.head().size
    with pytest.raises(EncodingError, match="credential id 'c-0' was already issued"):
        issue(ledger, "uni", uni, _requests(2), out)  # c-0 again
    with pytest.raises(EncodingError, match="'d-0' is given twice"):
        issue(ledger, "uni", uni, _requests(1, "d") * 2, out)
    assert ledger.head().size == size
    assert (out / "uni" / "c-0.json").read_bytes() == kept
    assert sorted(p.name for p in (out / "uni").iterdir()) == ["c-0.json"]


def test_an_achievement_without_description_or_criteria_is_refused(
        setup: tuple[Ledger, Signer, Path]) -> None:
    ledger, uni, out = setup
    for ach, description, criteria in (("bare", "", ""), ("nodesc", " ", "Pass."),
                                       ("nocrit", "What it is.", "")):
        st = make_statement(REGISTER_ACHIEVEMENT, "uni", ledger.clock(), ach, f"Name {ach}",
                            description, criteria, "Badge")
        ledger.append([sign_statement(st, uni.seed)])
    size = ledger.head().size
    for ach in ("bare", "nodesc", "nocrit"):
        requests = [*_requests(1), CredentialRequest("x", "ada", ach, where="b.jsonl:2")]
        with pytest.raises(EncodingError) as info:
            issue(ledger, "uni", uni, requests, out)
        assert str(info.value) == (
            f"b.jsonl:2: achievement {ach!r} has no description or no criteria; an Open Badges "
            "credential states both: register a new version of it that has them")
    with pytest.raises(EncodingError, match="achievement 'phd' is not registered for 'uni'"):
        issue(ledger, "uni", uni, [CredentialRequest("x", "ada", "phd")], out)
    assert ledger.head().size == size
    assert not out.exists()  # nothing made, not even OUT/uni


def test_a_refused_batch_leaves_no_pending_file(setup: tuple[Ledger, Signer, Path]) -> None:
    """Refused by the log's rules at the append, after the pending file was written (the
    signing key was rotated meanwhile): nothing committed, the pending file removed."""
    ledger, uni, out = setup
    issue(ledger, "uni", uni, _requests(1), out)
    new = Signer.generate("uni-2")
    st = make_statement(ROTATE_KEY, "uni", ledger.clock(), new.public_key)
    ledger.append([sign_statement(st, uni.seed)])
    size = ledger.head().size
    seen = []
    real = issuance_module.PendingFile.discard

    def discard(self: issuance_module.PendingFile) -> None:
        seen.append(self.path.exists())
        real(self)

    issuance_module.PendingFile.discard = discard  # type: ignore[method-assign]
    try:
        with pytest.raises(Exception, match="key-not-active"):
            issue(ledger, "uni", uni, _requests(2, "d"), out)
    finally:
        issuance_module.PendingFile.discard = real  # type: ignore[method-assign]
    assert seen == [True]  # it was written before the append, and removed after
    assert ledger.head().size == size
    assert not list((out / "uni").glob(".pending*"))
    assert sorted(p.name for p in (out / "uni").iterdir()) == ["c-0.json"]
    assert issuance_module.recorded(ledger.store.path, "uni") == []


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
    assert ledger.head().size == 5  # committed
    # The pending file holds each credential the log committed to (its salt the only copy).
    pending = _pending_credentials(out)
    assert sorted(pending) == ["c-0", "c-1", "c-2"]
    for n, own in enumerate(["c-0", "c-1", "c-2"]):
        st = ledger.entry(2 + n).signed().verify()
        assert (pending[own]["id"], openbadges.credential_digest(pending[own])) == (
            st.fields[0], st.fields[1])
    # A new batch of the issuer is refused until recover has run.
    with pytest.raises(PendingBatchError, match="recover"):
        issue(ledger, "uni", uni, _requests(1, "d"), out)
    monkeypatch.setattr(issuance_module, "write_document", real)
    done = issuance_module.recover(ledger, "uni", out / "uni")
    assert (done.pending_files, done.documents, done.dropped) == (1, 3, 0)
    assert sorted(p.name for p in (out / "uni").iterdir()) == ["c-0.json", "c-1.json",
                                                                "c-2.json"]
    for own, cred in pending.items():
        assert (out / "uni" / f"{own}.json").read_bytes() == document_bytes(cred)
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
    assert ledger.head().size == 2
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
    for name in ("c-0.json.tmp", ".c-0.json.tmp"):  # the temporary names, old and new
        (out / "uni" / name).symlink_to(outside)
    (doc,) = issue(ledger, "uni", uni, _requests(1), out).documents
    assert outside.read_text() == "keep me"
    assert not (out / "uni" / "c-0.json").is_symlink()
    assert json.loads((out / "uni" / "c-0.json").read_text()) == doc["credential"]
    # A link at a credential's own name is a file there: refused as issued, never followed.
    (out / "uni" / "c-1.json").symlink_to(outside)
    size = ledger.head().size
    with pytest.raises(EncodingError, match="'c-1' was already issued"):
        issue(ledger, "uni", uni, _requests(2)[1:], out)
    assert outside.read_text() == "keep me" and ledger.head().size == size


def test_read_batch_gives_requests_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "a", "subject": "s", "achievement": "cs201", "parts": ["p"]}\n\n'
                    '{"id": "b", "subject": "ada@example.org", "subject_type": "emailAddress", '
                    '"achievement": "cs202", "result": "A", "expires": "2030-06-30"}\n')
    a, b = read_batch(path)
    assert a == CredentialRequest("a", "s", "cs201", "name", None, None, ("p",), f"{path}:1")
    assert b == CredentialRequest("b", "ada@example.org", "cs202", "emailAddress", "A",
                                  "2030-06-30", (), f"{path}:3")
    for line, match in (
        ('{"id": "a", "subject": "s", "achievement": "x", "subject_type": "phone"}',
         r"b\.jsonl:1: 'subject_type' must be one of emailAddress, sisSourcedId, name"),
        ('{"id": "a", "subject": "s", "title": "t"}', r"b\.jsonl:1: unknown field 'title'"),
        ('{"id": "a", "subject": "s"}', r"b\.jsonl:1: 'achievement' must be a string"),
        ('{"id": "a", "subject": "s", "achievement": "x", "parts": "p"}',
         r"b\.jsonl:1: 'parts' must be a list"),
    ):
        path.write_text(line + "\n")
        with pytest.raises(EncodingError, match=match):
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
    ledger.append([sign_statement(register_achievement(issuer, ledger.clock()), key.seed)])
    long_id = "c" * 255 + "9"
    done = issue(ledger, issuer, key, [CredentialRequest("short", "s", "cs201"),
                                       CredentialRequest(long_id, "s", "cs201")],
                 tmp_path / "out")
    names = sorted(p.name for p in done.out.iterdir())
    assert len(names) == 2 and "short.json" in names
    assert all(len(n.encode()) <= 205 for n in names) and len(done.out.name) <= 200
    (long_name,) = [n for n in names if n != "short.json"]
    assert long_name.startswith("c" * 160 + "~") and json.loads(
        (done.out / long_name).read_text()) == done.documents[1]["credential"]
    # The long own id is found again: as a part, and by split_existing.
    assert issuance_module.read_credential(done.out, long_id) == done.documents[1]["credential"]
    stack = issue(ledger, issuer, key, [CredentialRequest("stack", "s", "cs201",
                                                          parts=(long_id,))], tmp_path / "out")
    assert stack.documents[0]["credential"]["evidence"][0]["id"] == \
        done.documents[1]["credential"]["id"]
    # A long first id names the pending file; an interrupted batch of it can be recovered.
    first = "d" * 256
    real = issuance_module.write_document

    def fail(out_dir: Path, doc: dict[str, Any], **kwargs: Any) -> Path:
        raise OSError(5, "Input/output error")

    issuance_module.write_document = fail  # type: ignore[assignment]
    try:
        with pytest.raises(InterruptedAfterCommitError):
            issue(ledger, issuer, key, [CredentialRequest(first, "s", "cs201")],
                  tmp_path / "out")
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
    a, b = read_batch(path, columns={"id": "no", "subject": "who", "achievement": "course"})
    assert (a.id, a.subject, a.achievement, a.where) == ("a", "one\r\ntwo", "t", f"{path}:2")
    assert (b.id, b.where) == ("b", f"{path}:5")
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text("id,subject,achievement\na,s,t\n", encoding="utf-8")
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


def _assert_recovered_whole(ledger: Ledger, out: Path, n: int, prefix: str = "c",
                            *, verify: int = 12) -> None:
    """``recover`` finishes the batch: every credential of the pending file written once,
    each whole (the bytes issue writes), and nothing else in the directory (no pending file,
    no temporary file); each is the one the log committed to (the first ``verify`` of them
    also checked for their proof and digest: RDFC-1.0 is slow)."""
    pending = _pending_credentials(out)
    assert sorted(pending) == sorted(f"{prefix}-{i}" for i in range(n))
    done = issuance_module.recover(ledger, "uni", out / "uni")
    assert (done.pending_files, done.documents, done.dropped) == (1, n, 0)
    names = sorted(os.listdir(out / "uni"))
    assert names == sorted(f"{prefix}-{i}.json" for i in range(n))
    logged = {}
    for index in range(ledger.head().size):
        st = ledger.entry(index).signed().verify()
        if st.kind == "issue":
            logged[st.fields[0]] = st.fields[1]
    for k, (own, cred) in enumerate(sorted(pending.items())):
        data = (out / "uni" / f"{own}.json").read_bytes()
        assert data == document_bytes(cred)
        assert json.loads(data) == cred and cred["id"] in logged
        if k < verify:
            openbadges.verify_credential(cred)
            assert openbadges.credential_digest(cred) == logged[cred["id"]]


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
    assert ledger.head().size == 14  # committed
    written = [n for n in os.listdir(out / "uni") if not n.startswith(".pending-")]
    assert all(not n.startswith(".") for n in written)  # no temporary file left
    assert len(written) == {"between writes": 4, "within a write": 4, "before the sync": 12}[
        where]
    pending = _pending_credentials(out)
    for name in written:  # whatever was written is whole: the pending file's credential
        assert (out / "uni" / name).read_bytes() == document_bytes(pending[name[:-5]])
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
reqs = [CredentialRequest(f"c-{i}", f"holder{i}@example.org", "cs201", "emailAddress", "A",
                          "2030-06-30") for i in range(3000)]
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
                          timeout=300, check=False)  # v2 signs 3,000 credentials (RDFC-1.0)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    reopened = Ledger.open(store)
    try:
        assert reopened.head().size == 3002  # the commit came first
        names = os.listdir(out / "uni")
        named = [n for n in names if not n.startswith(".")]
        temps = [n for n in names if n.startswith(".") and not n.startswith(".pending-")]
        # Before the commit, the first link named the pending file and the first rename the
        # store's record of it: the kill came at the document before 'at'.
        assert len(named) == {"link": at - 2, "rename": at - 2, "sync": 3000}[point]
        assert len(temps) == (1 if point == "rename" else 0)  # written, not yet renamed
        pending = _pending_credentials(out)
        for name in named[:50]:  # whatever was named is whole: the pending file's credential
            assert (out / "uni" / name).read_bytes() == document_bytes(pending[name[:-5]])
        _assert_recovered_whole(reopened, out, 3000)
    finally:
        reopened.close()


# ------------------------------------------------------------- a big batch signed on every core


@pytest.mark.parametrize("pool", ["workers", "no pool"])
def test_a_big_batch_is_signed_on_every_core_with_the_same_signatures(
        monkeypatch: pytest.MonkeyPatch, pool: str) -> None:
    """BatchSigning gives the very SignedStatements sign_statement gives (Ed25519 is
    deterministic), in order, whether the pool's workers sign or, without a pool, the caller."""
    from statements import handle
    from statements import issue as issue_statement

    from ledger import parallel

    if pool == "no pool":
        def no_pool(workers: int) -> Any:
            raise OSError(24, "Too many open files")

        monkeypatch.setattr(parallel, "worker_pool", no_pool)
    uni = Signer.generate("uni")
    statements = [issue_statement("uni", 1_700_000_000_000, handle(i), digest=os.urandom(32),
                                  valid_until=1_900_000_000_000 if i % 2 else None,
                                  parts=[handle(i - 1)] if i % 3 == 0 and i else [])
                  for i in range(parallel.PARALLEL_THRESHOLD + 100)]
    signing = parallel.BatchSigning([st.encode() for st in statements], uni.seed, 2)
    assert signing.result() == [sign_statement(st, uni.seed) for st in statements]


def test_a_status_index_a_concurrent_batch_took_is_drawn_again(
        setup: tuple[Ledger, Signer, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches of one key issued at the same time each draw indexes free when they start:
    one may draw an index the other then commits. Its append is refused (duplicate-status-
    index) before anything is committed, and issue builds the batch again against the log as
    it is now: new credentials, the other batch's index avoided, one commit."""
    ledger, uni, out = setup
    (first,) = issue(ledger, "uni", uni, _requests(1, "a"), out).documents
    taken = int(first["credential"]["credentialStatus"][0]["statusListIndex"])
    real_held = ledger.held_slots
    stale = {"left": 1}

    def concurrent(issuer: str, kid: str, indexes: Any) -> set[int]:
        if stale["left"]:  # the first look-up (of the draws made ahead) misses the other's slot
            stale["left"] -= 1
            return set()
        return real_held(issuer, kid, indexes)

    draws = iter([taken, taken, 17])
    monkeypatch.setattr(ledger, "held_slots", concurrent)
    monkeypatch.setattr(issuance_module.secrets, "randbelow", lambda n: next(draws))
    size = ledger.head().size
    (doc,) = issue(ledger, "uni", uni, _requests(1, "b"), out).documents
    assert int(doc["credential"]["credentialStatus"][0]["statusListIndex"]) == 17
    assert ledger.head().size == size + 1 and not stale["left"]
    assert json.loads((out / "uni" / "b-0.json").read_text()) == doc["credential"]
    assert not list((out / "uni").glob(".pending-*"))
