"""Status lists end to end (issue 16): the publisher (ledger.statuspublish), the rules on
``publish-status-list``, the auditor's check of every list bit for bit (ledger.audit, full,
incremental and from tiles), the export of the lists beside the tiles, and ``credledger
status-list``.

Every store is real, built through the library: an issuer, an achievement, credentials with
handles and (fake) digests at chosen status indexes, revocations, suspensions, a
reinstatement, a key rotation; then lists published honestly, or lying lists signed correctly
by the right key, which the rules accept and only the audit can catch.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb
import pytest
from click.testing import CliRunner
from statements import handle

from ledger import didkey, statuslist
from ledger.anchoring import list_url, rfc3339
from ledger.audit import audit_store, audit_store_since
from ledger.cli import cli
from ledger.errors import AuditError, RefusedError
from ledger.events import (
    ISSUE,
    LIST_BITS,
    PUBLISH_STATUS_LIST,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REINSTATE,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    Statement,
    decode_entry,
    decode_statement,
    key_id,
    make_statement,
    sign_statement,
)
from ledger.keys import write_signer
from ledger.log import Ledger
from ledger.note import Signer, parse_verifier
from ledger.records import IssuerRecord, KeyRecord, StatusListRecord, map_key
from ledger.rules import RecordState, apply_rules
from ledger.statuspublish import ListBits, list_bits, publish_statements, serialize
from ledger.store import DB_NAMES, u64
from ledger.tileaudit import audit_tiles
from ledger.tiles import export_tiles

ORIGIN = "status.example/log"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DIGEST = bytes(range(32))  # the map side never reads the credential: any 32 bytes do


@dataclass
class World:
    """A store and the keys that wrote it; ``t`` the last statement time."""

    path: Path
    ledger: Ledger
    registry: Signer
    a: Signer  # uni's first key, rotated to b at ``rotated_at``
    b: Signer
    t: int = T0
    rotated_at: int = -1
    before_revocation: int = -1
    """The tree size just before c1 (index 5 of a) was revoked."""

    def st(self, kind: str, *fields: Any) -> Statement:
        self.t += 1000
        return make_statement(kind, "uni", self.t, *fields)

    def append(self, signer: Signer, *statements: Statement) -> int:
        res = self.ledger.append([sign_statement(s, signer.seed) for s in statements])
        return res.first

    def size(self) -> int:
        return self.ledger.head().size

    def publish(self, signer: Signer, tree_size: int | None = None) -> list[Statement]:
        self.t += 1000
        statements = publish_statements(self.ledger, "uni", signer.seed, time=self.t,
                                        tree_size=tree_size)
        self.append(signer, *statements)
        return statements


def issue(w: World, n: int, index: int) -> Statement:
    return w.st(ISSUE, handle(n), DIGEST, "cs201", T0, None, index, [])


def build(path: Path) -> World:
    """uni's key a issues c1..c6 at indexes 5, 131079 (list 1, bit 7), 200, 131071, 3, 9;
    then c1 is revoked, c2 suspended, c3 suspended then revoked, c4 suspended then
    reinstated; a is rotated to b, which issues c7 (index 5 of b) and c8 (index 6 of b), and
    revokes c5 (a's index 3) and suspends c7.

    Lists of a: 0 revocation {3, 5, 200}, 0 suspension {}, 1 revocation {}, 1 suspension {7}.
    Lists of b: 0 revocation {}, 0 suspension {5}."""
    clock = iter(range(T0 + 10**6, T0 + 10**12, 1000))
    ledger, _, registry = Ledger.create(path, ORIGIN, clock=lambda: next(clock))
    a, b = Signer.generate("a"), Signer.generate("b")
    w = World(path, ledger, registry, a, b)
    w.append(registry, w.st(REGISTER_ISSUER, "Uni of Examples", "https://uni.example",
                            a.public_key))
    w.append(a, w.st(REGISTER_ACHIEVEMENT, "cs201", "Data Structures", "", "", "Course"))
    w.append(a, *[issue(w, n, index) for n, index in
                  ((1, 5), (2, 131079), (3, 200), (4, 131071), (5, 3), (6, 9))])
    w.before_revocation = w.size()
    w.append(a, w.st(REVOKE, handle(1), "issued-in-error"))
    w.append(a, w.st(SUSPEND, handle(2), "under-review"), w.st(SUSPEND, handle(3), "unspecified"),
             w.st(SUSPEND, handle(4), "under-review"))
    w.append(a, w.st(REVOKE, handle(3), "withdrawn"), w.st(REINSTATE, handle(4),
                                                           "review-complete"))
    w.rotated_at = w.append(a, w.st(ROTATE_KEY, b.public_key))
    w.append(b, issue(w, 7, 5), issue(w, 8, 6))
    w.append(b, w.st(REVOKE, handle(5), "superseded"), w.st(SUSPEND, handle(7), "unspecified"))
    return w


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build(tmp_path / "store")
    yield w
    w.ledger.close()


def decoded(st: Statement) -> statuslist.StatusList:
    return statuslist.check_status_list_credential(
        statuslist.parse_status_list_credential(st.fields[3]))


def lie(w: World, signer: Signer, purpose: str, number: int, tree_size: int,
        ones: list[int], *, url: str | None = None, doc_purpose: str | None = None,
        list_key: Signer | None = None, size: int = LIST_BITS,
        edit: Any = None) -> Statement:
    """A publish-status-list statement for ``signer``'s list, whose list credential is built
    as asked and signed correctly (by ``list_key``, default ``signer``)."""
    key = list_key or signer
    doc = statuslist.issue_status_list_credential(
        key.seed, created="2026-01-02T00:00:00Z", issuer_key=key.public_key,
        list_url=url or list_url(ORIGIN, "uni", key_id(signer.public_key), purpose, number),
        purpose=doc_purpose or purpose, bitstring=statuslist.make_bitstring(size, ones),
        valid_from="2026-01-02T00:00:00Z", ttl=86_400_000)
    if edit is not None:
        edit(doc)
    w.t += 1000
    return make_statement(PUBLISH_STATUS_LIST, "uni", w.t, purpose, number, tree_size,
                          serialize(doc))


# ------------------------------------------------------------------------------ the publisher


def test_known_bits(world: World) -> None:
    a, b = key_id(world.a.public_key), key_id(world.b.public_key)
    assert list_bits(world.ledger, "uni", a) == [
        ListBits("revocation", 0, (3, 5, 200)), ListBits("suspension", 0, ()),
        ListBits("revocation", 1, ()), ListBits("suspension", 1, (7,))]
    assert list_bits(world.ledger, "uni", b) == [
        ListBits("revocation", 0, ()), ListBits("suspension", 0, (5,))]
    # In the past: before c1's revocation, nothing is revoked or suspended.
    assert list_bits(world.ledger, "uni", a, world.before_revocation) == [
        ListBits(p, n, ()) for n in (0, 1) for p in ("revocation", "suspension")]
    # Before c3's revocation (after the three suspensions, one entry each): c3 and c4
    # suspended.
    at = world.before_revocation + 4
    assert list_bits(world.ledger, "uni", a, at) == [
        ListBits("revocation", 0, (5,)), ListBits("suspension", 0, (200, 131071)),
        ListBits("revocation", 1, ()), ListBits("suspension", 1, (7,))]
    assert list_bits(world.ledger, "uni", "0123456789abcdef") == []


def test_published_lists(world: World) -> None:
    size = world.size()
    last_time = world.ledger.entry(size - 1).time
    statements = world.publish(world.a)
    assert [(s.fields[0], s.fields[1], s.fields[2]) for s in statements] == [
        ("revocation", 0, size), ("suspension", 0, size), ("revocation", 1, size),
        ("suspension", 1, size)]
    kid = key_id(world.a.public_key)
    for st, ones in zip(statements, [[3, 5, 200], [], [], [7]], strict=True):
        data = st.fields[3]
        doc = json.loads(data)
        assert data == (json.dumps(doc, indent=2) + "\n").encode()
        url = f"https://{ORIGIN}/status/uni/{kid}/{st.fields[0]}/{st.fields[1]}.json"
        assert doc["id"] == url
        assert doc["issuer"] == {"id": didkey.encode(world.a.public_key),
                                 "name": "Uni of Examples"}
        assert doc["validFrom"] == rfc3339(last_time)
        assert doc["validFrom"].endswith("Z") and len(doc["validFrom"]) == 20
        assert doc["proof"]["created"] == doc["validFrom"]
        assert doc["credentialSubject"]["ttl"] == 86_400_000
        verified = statuslist.verify_status_list_credential(
            doc, issuer=didkey.encode(world.a.public_key), purpose=st.fields[0], list_url=url)
        assert verified.status_list.size == LIST_BITS
        assert statuslist.set_bits(verified.status_list.bitstring) == ones
    # Deterministic: the same snapshot and key give the same bytes.
    again = publish_statements(world.ledger, "uni", world.a.seed, time=statements[0].time,
                               tree_size=size)
    assert [s.encode() for s in again] == [s.encode() for s in statements]
    assert audit_store(world.ledger).status_lists == 4


def test_rotated_key_publishes_revoked_key_refused(world: World) -> None:
    world.publish(world.a)  # rotated: still its lists
    world.publish(world.b)  # active
    report = audit_store(world.ledger)
    assert report.status_lists == 6
    assert report.as_dict()["status_lists"] == 6
    # b revokes itself: neither the publisher nor the rules let it publish again.
    world.append(world.b, world.st(REVOKE_KEY, key_id(world.b.public_key), "lost"))
    with pytest.raises(RefusedError) as caught:
        world.publish(world.b)
    assert caught.value.rule == "key-revoked"
    forged = lie(world, world.b, "revocation", 0, world.size(), [])
    with pytest.raises(RefusedError) as caught:
        world.append(world.b, forged)
    assert caught.value.rule == "key-revoked"
    # A key of another issuer (or none): wrong-signer, from the publisher as from the rules.
    with pytest.raises(RefusedError) as caught:
        publish_statements(world.ledger, "uni", world.registry.seed, time=world.t)
    assert caught.value.rule == "wrong-signer"
    with pytest.raises(RefusedError) as caught:
        publish_statements(world.ledger, "nobody", world.a.seed, time=world.t)
    assert caught.value.rule == "unknown-issuer"
    world.publish(world.a)  # a rotated key outlives the revocation of its successor
    assert audit_store(world.ledger).status_lists == 10


def test_tree_size_rules(world: World) -> None:
    size = world.size()
    with pytest.raises(RefusedError) as caught:
        world.append(world.a, lie(world, world.a, "revocation", 0, size + 1, [3, 5, 200]))
    assert caught.value.rule == "future-status-list"
    world.publish(world.a)
    with pytest.raises(RefusedError) as caught:
        world.publish(world.a, tree_size=size - 1)
    assert caught.value.rule == "stale-status-list"


def test_the_rules_want_the_key_itself_not_only_its_id() -> None:
    """A key record found by the signer's key id must hold the signer's key: a 64-bit key id
    is no proof of the key (as for every other issuer-signed statement)."""
    signer, other = Signer.generate("s"), Signer.generate("o")
    kid = key_id(signer.public_key)
    records: dict[bytes, Any] = {
        IssuerRecord("uni", "Uni", "", 0, None, "").key(): IssuerRecord("uni", "Uni", "", 0,
                                                                       None, ""),
        map_key("key", "uni", kid): KeyRecord("uni", kid, other.public_key, 0, None, "", "")}
    st = make_statement(PUBLISH_STATUS_LIST, "uni", T0, "revocation", 0, 1, b"{}")
    with pytest.raises(RefusedError) as caught:
        apply_rules(RecordState(records.get), st, signer.public_key, 5, b"\0" * 32)
    assert caught.value.rule == "wrong-signer"
    records[map_key("key", "uni", kid)] = KeyRecord("uni", kid, signer.public_key, 0, None, "",
                                                   "")
    assert apply_rules(RecordState(records.get), st, signer.public_key, 5, b"\0" * 32) == [
        StatusListRecord("uni", kid, "revocation", 0, 1, 5)]


def test_past_tree_size_is_checked_against_the_state_then(world: World) -> None:
    then = world.before_revocation
    statements = world.publish(world.a, tree_size=then)
    assert all(statuslist.set_bits(decoded(s).bitstring) == [] for s in statements)
    assert publish_statements(world.ledger, "uni", world.b.seed, time=world.t,
                              tree_size=world.rotated_at) == []  # b had signed nothing
    # After b's two issues, before it suspended c7: b's lists are clear.
    statements = world.publish(world.b, tree_size=world.rotated_at + 3)
    assert [statuslist.set_bits(decoded(s).bitstring) for s in statements] == [[], []]
    audit_store(world.ledger)
    # The list of today, claimed for the size before c1's revocation: a lie about then.
    w2 = build(world.path.parent / "second")
    w2.append(w2.a, lie(w2, w2.a, "revocation", 0, w2.before_revocation, [5]))
    with pytest.raises(AuditError) as caught:
        audit_store(w2.ledger)
    assert caught.value.rule == "status-list-mismatch"
    assert "bit 5 " in str(caught.value) and "was not revoked" in str(caught.value)
    w2.ledger.close()


# ------------------------------------------------------------------------------ lying lists


def _lying_cases(w: World) -> dict[str, tuple[Statement, str]]:
    size = w.size()
    kid = key_id(w.a.public_key)
    return {
        "flipped-bit": (lie(w, w.a, "revocation", 0, size, [3, 5]), "status-list-mismatch"),
        "extra-bit": (lie(w, w.a, "suspension", 1, size, [7, 8]), "status-list-mismatch"),
        "missing-suspension": (lie(w, w.a, "suspension", 1, size, []),
                               "status-list-mismatch"),
        "wrong-url": (lie(w, w.a, "revocation", 0, size, [3, 5, 200],
                          url=f"https://{ORIGIN}/status/uni/{kid}/revocation/1.json"),
                      "status-list-url"),
        "other-origin": (lie(w, w.a, "revocation", 0, size, [3, 5, 200],
                             url=f"https://evil.example/status/uni/{kid}/revocation/0.json"),
                         "status-list-url"),
        "wrong-purpose": (lie(w, w.a, "revocation", 0, size, [3, 5, 200],
                              doc_purpose="suspension"), "status-list-purpose"),
        "another-keys-did": (lie(w, w.a, "revocation", 0, size, [3, 5, 200], list_key=w.b),
                             "status-list-issuer"),
        "too-long": (lie(w, w.a, "revocation", 0, size, [3, 5, 200], size=2 * LIST_BITS),
                     "status-list-size"),
        "bad-proof": (lie(w, w.a, "revocation", 0, size, [3, 5, 200],
                          edit=lambda d: d["credentialSubject"].update(ttl=1)),
                      "status-list-proof"),
    }


CASES = ["flipped-bit", "extra-bit", "missing-suspension", "wrong-url", "other-origin",
         "wrong-purpose", "another-keys-did", "too-long", "bad-proof"]


@pytest.mark.parametrize("case", CASES)
def test_audit_fails_on_a_lying_list(world: World, case: str) -> None:
    world.publish(world.a)
    st, rule = _lying_cases(world)[case]
    index = world.append(world.a, st)  # the rules accept it: signed by the list's key
    world.publish(world.b)
    with pytest.raises(AuditError) as caught:
        audit_store(world.ledger)
    assert caught.value.rule == rule
    assert caught.value.index == index
    assert "'uni'" in str(caught.value) and f"list {st.fields[1]}" in str(caught.value)


def test_mismatch_names_the_first_differing_index(world: World) -> None:
    world.append(world.a, lie(world, world.a, "revocation", 0, world.size(), [3, 5, 199, 200]))
    with pytest.raises(AuditError, match=r"status-list-mismatch: revocation list 0 of key "
                       r"[0-9a-f]{16} of issuer 'uni': bit 199 \(status index 199\) is 1"):
        audit_store(world.ledger)


def test_not_a_list_credential(world: World) -> None:
    w = world
    w.t += 1000
    st = make_statement(PUBLISH_STATUS_LIST, "uni", w.t, "revocation", 0, w.size(), b"{}")
    index = w.append(w.a, st)
    with pytest.raises(AuditError) as caught:
        audit_store(w.ledger)
    assert (caught.value.rule, caught.value.index) == ("status-list-encoding", index)


# ------------------------------------------------------------------------------ incremental


def test_incremental_audit(world: World) -> None:
    world.ledger.checkpoint()
    audit_store(world.ledger)
    saved = world.ledger.checkpoint_note()
    # After the saved checkpoint: c6 revoked, then lists for a size before it and after it.
    before = world.size()
    world.append(world.b, world.st(REVOKE, handle(6), "withdrawn"))
    world.publish(world.a, tree_size=before)
    world.publish(world.b, tree_size=world.rotated_at + 3)
    world.publish(world.a)
    world.ledger.checkpoint()
    report = audit_store_since(world.ledger, saved)
    assert report.status_lists == 10  # those after the saved checkpoint


def test_incremental_audit_fails_on_a_lie_about_before_the_saved_checkpoint(
        world: World) -> None:
    world.ledger.checkpoint()
    saved = world.ledger.checkpoint_note()
    # Today's revocation list 0 of a, claimed for the size before c1's revocation: the
    # saved state (the map) has no history; the entries before it, read again, do.
    index = world.append(world.a, lie(world, world.a, "revocation", 0,
                                      world.before_revocation, [3, 5, 200]))
    with pytest.raises(AuditError) as caught:
        audit_store_since(world.ledger, saved)
    assert (caught.value.rule, caught.value.index) == ("status-list-mismatch", index)
    assert "bit 3 " in str(caught.value)


def test_incremental_audit_reads_only_the_audited_history(world: World) -> None:
    """The entries before the saved checkpoint are read again for the lists' history: one
    rewritten there (c1's revocation, re-dated), under the stored tree nodes, the first and
    the last entry the resume point checks, is a fork."""
    world.ledger.checkpoint()
    saved = world.ledger.checkpoint_note()
    world.publish(world.a)
    world.ledger.close()
    env = lmdb.open(str(world.path), max_dbs=len(DB_NAMES) + 2, subdir=True)
    try:
        entries = env.open_db(b"entries")
        with env.begin(write=True) as txn:
            i = world.before_revocation
            data = txn.get(u64(i), db=entries)
            assert data is not None
            entry = decode_entry(bytes(data))
            redated = dataclasses.replace(entry, time=entry.time + 1)
            txn.put(u64(i), redated.encode(), db=entries)
    finally:
        env.close()
    world.ledger = Ledger.open(world.path)
    with pytest.raises(AuditError) as caught:
        audit_store_since(world.ledger, saved)
    assert caught.value.rule == "fork"
    assert "the store's first" in str(caught.value)


# ------------------------------------------------------------------------------ export, tiles


def test_export_writes_the_newest_lists(world: World, tmp_path: Path) -> None:
    first = world.publish(world.a)
    world.append(world.b, world.st(REVOKE, handle(6), "withdrawn"))
    newest = world.publish(world.a)  # revocation 0 now also has bit 9
    world.ledger.checkpoint()
    later = world.publish(world.b)  # after the checkpoint: not exported
    out = tmp_path / "site"
    report = export_tiles(world.ledger, out)
    assert report.status_lists == 4
    kid = key_id(world.a.public_key)
    files = sorted(p.relative_to(out).as_posix() for p in (out / "status").rglob("*.json"))
    assert files == [f"status/uni/{kid}/{p}/{n}.json" for p in ("revocation", "suspension")
                     for n in (0, 1)]
    for st in newest:
        path = out / statuslist.list_path("uni", kid, st.fields[0], st.fields[1])
        assert path.read_bytes() == st.fields[3]
    assert newest[0].fields[3] != first[0].fields[3]
    assert statuslist.set_bits(decoded(newest[0]).bitstring) == [3, 5, 9, 200]
    # The entry's bytes, exactly: read back from the log.
    entry = decode_entry(world.ledger.entry_bytes(world.size() - 2))
    assert decode_statement(entry.statement).fields[3] == later[0].fields[3]
    # The next export adds b's lists, and rewrites nothing that did not change.
    world.ledger.checkpoint()
    again = export_tiles(world.ledger, out)
    assert again.status_lists == 6
    assert not [r for r in again.written if r.startswith(f"status/uni/{kid}/")]
    assert (out / statuslist.list_path("uni", key_id(world.b.public_key), "suspension", 0)
            ).read_bytes() == later[1].fields[3]
    # The tile audit replays the lists too.
    vkey = parse_verifier(world.ledger.log_vkey())
    assert audit_tiles(out, vkey).status_lists == 10


def test_tile_audit_fails_on_a_lying_list(world: World, tmp_path: Path) -> None:
    world.append(world.a, lie(world, world.a, "suspension", 0, world.size(), [131071]))
    world.ledger.checkpoint()
    out = tmp_path / "site"
    export_tiles(world.ledger, out)
    with pytest.raises(AuditError) as caught:
        audit_tiles(out, parse_verifier(world.ledger.log_vkey()))
    assert caught.value.rule == "status-list-mismatch"


# ------------------------------------------------------------------------------ the command


def test_cli_status_list(world: World, tmp_path: Path) -> None:
    a_file, reg_file = tmp_path / "a.key", tmp_path / "registry.key"
    write_signer(a_file, world.a)
    write_signer(reg_file, world.registry)
    store = str(world.path)
    world.ledger.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["--dir", store, "status-list", "uni", "--key", str(a_file),
                                 "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "credledger-status-list/1"
    assert data["count"] == 4 and data["key_id"] == key_id(world.a.public_key)
    assert [(x["purpose"], x["number"]) for x in data["lists"]] == [
        ("revocation", 0), ("suspension", 0), ("revocation", 1), ("suspension", 1)]
    result = runner.invoke(cli, ["status-list", "uni", "--key", str(a_file), "--dir", store])
    assert result.exit_code == 0, result.output
    assert "published 4 status lists of key" in result.stdout
    result = runner.invoke(cli, ["--dir", store, "audit", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status_lists"] == 8
    # Bad input: one line, no traceback, exit 3.
    for args, words in (
            (["status-list", "nobody", "--key", str(a_file)], "unknown-issuer"),
            (["status-list", "uni", "--key", str(reg_file)], "wrong-signer"),
            (["status-list", "uni", "--key", str(tmp_path / "missing.key")], "missing.key"),
            (["status-list", "Not an id!", "--key", str(a_file)], "issuer")):
        result = runner.invoke(cli, ["--dir", store, *args])
        assert result.exit_code == 3, (args, result.output)
        assert result.stderr.startswith("credledger: error: ") and words in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    result = runner.invoke(cli, ["--dir", store, "status-list", "uni"])
    assert result.exit_code == 2 and "--key" in result.stderr


def test_cli_nothing_to_publish(tmp_path: Path) -> None:
    clock = iter(range(T0 + 10**6, T0 + 10**12, 1000))
    ledger, _, registry = Ledger.create(tmp_path / "s", ORIGIN, clock=lambda: next(clock))
    key = Signer.generate("k")
    ledger.append([sign_statement(make_statement(REGISTER_ISSUER, "uni", T0, "Uni", "",
                                                 key.public_key), registry.seed)])
    ledger.close()
    write_signer(tmp_path / "k.key", key)
    result = CliRunner().invoke(cli, ["--dir", str(tmp_path / "s"), "status-list", "uni",
                                      "--key", str(tmp_path / "k.key"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["count"] == 0
