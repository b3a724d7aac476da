"""Achievements registered once per issuer in the log (issue 16, item 2, its first brick):
the ``register-achievement`` statement and the ``achievement`` record (docs/FORMAT.md §3.2,
§5.1-§5.3), their rules (§6, §6.3), the ledger's reads and the store's index (§12.1), the
audit from the store and from published tiles, and the property that any order of valid
registrations maps to the root a slow reference computes.

The command line is tried on real stores in tests/test_cli_achievements.py.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lmdb
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statements import handle, named
from statements import issue as issue_statement

from ledger import smt
from ledger.audit import audit_store, audit_store_since
from ledger.errors import AuditError, EncodingError, RefusedError, StoreCorruptError
from ledger.events import (
    ACHIEVEMENT_TYPES,
    MAX_ENTRY_SIZE,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SignedStatement,
    decode_entry,
    decode_statement,
    encode_entry,
    key_id,
    make_statement,
    sign_statement,
)
from ledger.log import Ledger
from ledger.note import Signer
from ledger.records import (
    ACHIEVEMENT,
    CRED,
    AchievementRecord,
    Record,
    decode_record,
    map_key,
    record_hash,
)
from ledger.rules import RecordState, apply_rules
from ledger.snapshot import achievement_index_key, describe
from ledger.store import DB_NAMES, u64
from ledger.tileaudit import audit_tiles
from ledger.tiles import export_tiles

FORMAT = Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md"
ORIGIN = "ach.example/log"
T = 1767312000000  # 2026-01-02T00:00:00Z
T0 = 1_767_225_600_000
PUB = Signer("k", bytes(range(32))).public_key


def _pack(items: list[Any]) -> bytes:
    return bytes(msgpack.packb(items, use_bin_type=True))


def _ach(ach_id: str = "cs201", name: str = "Data Structures", description: str = "",
         criteria: str = "", kind: str = "Course", *, issuer: str = "uni", time: int = T) -> Any:
    return make_statement(REGISTER_ACHIEVEMENT, issuer, time, ach_id, name, description,
                          criteria, kind)


# ------------------------------------------------------------------------------ the bytes


def _hex_block(after: str) -> bytes:
    """The bytes of the first fenced hex block after ``after`` in FORMAT.md (hex pairs before
    each '#')."""
    text = FORMAT.read_text(encoding="utf-8")
    start = text.index(after)
    block = text[text.index("```\n", start) + 4:]
    block = block[:block.index("```")]
    pairs = []
    for line in block.splitlines():
        pairs += re.findall(r"\b[0-9a-f]{2}\b", line.split("#")[0])
    return bytes.fromhex("".join(pairs))


def test_the_documented_examples_are_what_the_code_writes() -> None:
    st_ = _ach("cs201", "Data Structures", "Lists, trees and graphs.", "Pass the final exam.",
               "Course")
    data = _hex_block("Example: issuer `uni` registers `cs201` (statement time 1767312000000), "
                      "110 bytes")
    assert data == st_.encode() and len(data) == 110 and decode_statement(data) == st_
    assert data == _pack([REGISTER_ACHIEVEMENT, "uni", T, "cs201", "Data Structures",
                          "Lists, trees and graphs.", "Pass the final exam.", "Course"])
    rec = AchievementRecord("uni", "cs201", 7)
    data = _hex_block("writes at entry 7, 24 bytes")
    assert data == rec.encode() == _pack([ACHIEVEMENT, "uni", "cs201", 7])
    assert decode_record(data) == rec and len(data) == 24
    text = FORMAT.read_text(encoding="utf-8")
    assert f"`{record_hash(data).hex()}`" in text
    assert f"`{map_key(ACHIEVEMENT, 'uni', 'cs201').hex()}`" in text
    assert rec.key() == map_key(ACHIEVEMENT, "uni", "cs201") == hashlib.sha256(
        _pack(["achievement", "uni", "cs201"])).digest()
    # §5.1's example preimage.
    assert "`93 ab 61 63 68 69 65 76 65 6d 65 6e 74  a3 75 6e 69  a5 63 73 32 30 31`" in text
    assert _pack(["achievement", "uni", "cs201"]).hex() == (
        "93ab616368696576656d656e74a3756e69a56373323031")


def test_the_vocabulary_is_open_badges_and_the_document_lists_it() -> None:
    """OB 3.0 §B.1.28 names 31 terms; FORMAT.md §3.2 lists exactly the code's."""
    assert len(ACHIEVEMENT_TYPES) == 31
    text = FORMAT.read_text(encoding="utf-8")
    para = text[text.index("The AchievementType terms"):]
    para = para[:para.index("(`events.ACHIEVEMENT_TYPES`)")]
    assert set(re.findall(r"`([A-Za-z]+)`", para)) == ACHIEVEMENT_TYPES
    for term in ("Badge", "Certificate", "Course", "MicroCredential", "MasterDegree",
                 "QualityAssuranceCredential", "SecondarySchoolDiploma"):
        assert term in ACHIEVEMENT_TYPES


# ------------------------------------------------------------------------------ every limit


def _refused(fields: list[Any], match: str) -> None:
    """Refused by make_statement and, as bytes, by the strict decoder."""
    with pytest.raises(EncodingError, match=match):
        make_statement(REGISTER_ACHIEVEMENT, "uni", T, *fields)
    raw = msgpack.packb([REGISTER_ACHIEVEMENT, "uni", T, *fields], use_bin_type=True,
                        unicode_errors="surrogatepass")  # a lone surrogate: invalid UTF-8
    with pytest.raises(EncodingError):
        decode_statement(raw)


def _accepted(fields: list[Any]) -> None:
    st_ = make_statement(REGISTER_ACHIEVEMENT, "uni", T, *fields)
    assert decode_statement(st_.encode()) == st_
    assert st_.achievement_id == fields[0] and tuple(st_.fields) == tuple(fields)


GOOD = ["cs201", "Data Structures", "d", "c", "Course"]


def _with(pos: int, value: Any) -> list[Any]:
    fields = list(GOOD)
    fields[pos] = value
    return fields


def test_round_trip_and_the_accessors() -> None:
    _accepted(GOOD)
    st_ = _ach()
    assert st_.kind == REGISTER_ACHIEVEMENT and st_.reason == ""
    with pytest.raises(AttributeError):
        _ = st_.cred_id
    # An issue names the achievement it awards; a status statement names none.
    assert issue_statement("uni", T, handle(1), achievement="cs201").achievement_id == "cs201"
    with pytest.raises(AttributeError):
        _ = make_statement(REVOKE, "uni", T, handle(1), "unspecified").achievement_id


@pytest.mark.parametrize("bad", ["", " a", "a b", "-a", "a/b", "a\n", "\u00e9", "a" * 257,
                                 None, 7, b"cs201", ["cs201"]])
def test_the_achievement_id_is_an_id(bad: Any) -> None:
    _refused(_with(0, bad), "achievement id")


def test_the_achievement_id_may_be_256_characters_of_an_id() -> None:
    _accepted(_with(0, "a" * 256))
    _accepted(_with(0, "cert:2026@cs+1_x.y-z"))


def test_the_name_is_1_to_256_characters_not_blank() -> None:
    _accepted(_with(1, "x"))
    _accepted(_with(1, "\U0001f40d" * 256))  # code points, not bytes
    _accepted(_with(1, "a\tb"))
    for bad, match in (("", "must not be empty"), ("   ", "must not be empty"),
                       ("\t", "must not be empty"), ("x" * 257, "at most 256"),
                       ("a\nb", "control"), ("a\x00", "control"), ("a\x7f", "control"),
                       ("\ud800", "lone surrogate"), (None, "want text"), (b"x", "want text"),
                       (1, "want text")):
        _refused(_with(1, bad), f"name: .*{match}")


@pytest.mark.parametrize("pos,field", [(2, "description"), (3, "criteria")])
def test_description_and_criteria_are_at_most_4096_characters(pos: int, field: str) -> None:
    _accepted(_with(pos, ""))
    _accepted(_with(pos, "\u00fc" * 4096))
    _accepted(_with(pos, "Paragraph one.\n\nParagraph two:\n- a\n- b\tc"))  # §1.5: line feeds
    for bad, match in (("x" * 4097, "at most 4096"), ("windows\r\nline", "control"),
                       ("cr\r", "control"), ("\x1b[31m", "control"), ("\x0b", "control"),
                       ("\udfff", "lone surrogate"), (None, "want text"), (0, "want text")):
        _refused(_with(pos, bad), f"{field}: .*{match}")


@pytest.mark.parametrize("term", sorted(ACHIEVEMENT_TYPES))
def test_every_open_badges_type_is_accepted(term: str) -> None:
    _accepted(_with(4, term))


def test_the_type_is_empty_a_term_or_an_extension() -> None:
    _accepted(_with(4, ""))
    for ok in ("ext:x", "ext:Bootcamp", "ext:a.b:c@d+e_f-1", "ext:" + "a" * 252):
        _accepted(_with(4, ok))
    for bad in ("course", "COURSE", "Course ", " Course", "Bogus", "ext:", "ext:" + "a" * 253,
                "ext: x", "ext:-x", "ext:x y", "ext:\u00e9", "EXT:x", "x:Course", "ext:x\n",
                None, 0, b"Course", ["Course"]):
        _refused(_with(4, bad), "achievement type")


def test_the_field_count_is_exact() -> None:
    for fields in (GOOD[:4], [*GOOD, ""], []):
        with pytest.raises(EncodingError, match="want 5 fields"):
            decode_statement(_pack([REGISTER_ACHIEVEMENT, "uni", T, *fields]))
        with pytest.raises(EncodingError, match="want 5 fields"):
            make_statement(REGISTER_ACHIEVEMENT, "uni", T, *fields)


def test_the_largest_statement_fits_an_entry() -> None:
    big = make_statement(REGISTER_ACHIEVEMENT, "u" * 256, T, "a" * 256, "\U0001f40d" * 256,
                         "\U0001f40d" * 4096, "\U0001f40d" * 4096, "ext:" + "b" * 252)
    signed = sign_statement(big, bytes(32))
    entry = encode_entry(1 << 62, T, bytes(32), bytes(32), signed.statement, signed.signer,
                         signed.signature)
    assert len(entry) <= MAX_ENTRY_SIZE
    assert decode_statement(decode_entry(entry).statement) == big


def test_the_record_decodes_strictly() -> None:
    good = AchievementRecord("uni", "cs201", 0)
    assert decode_record(good.encode()) == good
    for items in ([ACHIEVEMENT, "uni", "cs201"], [ACHIEVEMENT, "uni", "cs201", 7, None],
                  [ACHIEVEMENT, "uni", "cs 201", 7], [ACHIEVEMENT, "", "cs201", 7],
                  [ACHIEVEMENT, "uni", "cs201", -1], [ACHIEVEMENT, "uni", "cs201", True],
                  [ACHIEVEMENT, "uni", "cs201", None], [ACHIEVEMENT, "uni", "cs201", "7"],
                  ["achievements", "uni", "cs201", 7]):
        with pytest.raises(EncodingError):
            decode_record(_pack(items))
    assert describe(good) == {"kind": "achievement", "issuer": "uni", "id": "cs201",
                              "registered_at": 0}


# ------------------------------------------------------------------------------ the rules


@dataclass
class Rules:
    """apply_rules over a dict of records, as the audit's replay feeds it."""

    registry: Signer = field(default_factory=lambda: Signer.generate("registry"))
    keys: dict[str, Signer] = field(default_factory=dict)
    state: RecordState = field(default_factory=lambda: RecordState(lambda k: None))
    index: int = 0

    def key(self, name: str) -> Signer:
        if name not in self.keys:
            self.keys[name] = Signer.generate(name)
        return self.keys[name]

    def apply(self, signer: Signer, st_: Any) -> list[Record]:
        signed = sign_statement(st_, signer.seed)
        changes = apply_rules(self.state, decode_statement(signed.statement), signed.signer,
                              self.index, self.registry.public_key, time=T)
        for rec in changes:
            self.state.changed[rec.key()] = rec
        self.index += 1
        return changes

    def refused(self, signer: Signer, st_: Any, rule: str, match: str = "") -> None:
        before = dict(self.state.changed)
        with pytest.raises(RefusedError) as info:
            self.apply(signer, st_)
        assert info.value.rule == rule and match in info.value.detail, str(info.value)
        assert self.state.changed == before

    def register(self, issuer: str, key: str) -> None:
        self.apply(self.registry, make_statement(REGISTER_ISSUER, issuer, T, issuer, "",
                                                 self.key(key).public_key))


@pytest.fixture
def rules() -> Rules:
    r = Rules()
    r.register("uni", "uni-1")
    r.register("poly", "poly-1")
    return r


def test_a_registration_writes_one_record(rules: Rules) -> None:
    assert rules.apply(rules.key("uni-1"), _ach("cs201")) == [
        AchievementRecord("uni", "cs201", 2)]
    assert rules.state.achievement("uni", "cs201") == AchievementRecord("uni", "cs201", 2)
    # Ids are per issuer, and apart from credentials' handles (a handle is a valid id too).
    assert rules.apply(rules.key("poly-1"), _ach("cs201", issuer="poly")) == [
        AchievementRecord("poly", "cs201", 3)]
    rules.apply(rules.key("uni-1"), issue_statement("uni", T, handle(202)))
    assert rules.apply(rules.key("uni-1"), _ach(handle(202))) == [
        AchievementRecord("uni", handle(202), 5)]
    assert rules.state.cred("uni", handle(202)) is not None


def test_duplicate_achievement(rules: Rules) -> None:
    rules.apply(rules.key("uni-1"), _ach("cs201"))
    for again in (_ach("cs201"), _ach("cs201", "Another name", "new", "new", "Badge"),
                  _ach("cs201", time=T + 1)):
        rules.refused(rules.key("uni-1"), again, "duplicate-achievement",
                      "already registered achievement 'cs201' (entry 2)")


def test_unknown_issuer(rules: Rules) -> None:
    rules.refused(rules.key("uni-1"), _ach(issuer="nobody"), "unknown-issuer")


def test_wrong_signer(rules: Rules) -> None:
    # Another issuer's key, a key never registered, and the registry key: none is uni's.
    for signer in (rules.key("poly-1"), rules.key("stranger"), rules.registry):
        rules.refused(signer, _ach(), "wrong-signer",
                      f"key {key_id(signer.public_key)} is not a key of issuer 'uni'")


def test_a_rotated_or_revoked_key_is_not_active(rules: Rules) -> None:
    old, new = rules.key("uni-1"), rules.key("uni-2")
    rules.apply(old, make_statement(ROTATE_KEY, "uni", T, new.public_key))
    rules.refused(old, _ach(), "key-not-active", "rotated at index 2")
    rules.apply(new, _ach("cs201"))
    rules.apply(new, make_statement(REVOKE_KEY, "uni", T, key_id(new.public_key), "lost"))
    rules.refused(new, _ach("cs202"), "key-not-active", "revoked at index 4")


def test_a_retired_issuer_registers_nothing(rules: Rules) -> None:
    rules.apply(rules.key("uni-1"), _ach("cs201"))
    rules.apply(rules.registry, make_statement(RETIRE_ISSUER, "uni", T, "merged"))
    rules.refused(rules.key("uni-1"), _ach("cs202"), "issuer-retired")
    rules.refused(rules.key("uni-1"), _ach("cs201"), "issuer-retired")  # before the duplicate


def test_a_statement_from_the_far_future(rules: Rules) -> None:
    rules.refused(rules.key("uni-1"), _ach(time=T + 24 * 3600 * 1000 + 1), "future-statement")


# ------------------------------------------------------------------------------ the ledger


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        self.now += 1000
        return self.now


@dataclass
class World:
    ledger: Ledger
    registry: Signer
    log: Signer
    path: Path
    keys: dict[str, Signer] = field(default_factory=dict)
    t: int = T0

    def key(self, name: str) -> Signer:
        if name not in self.keys:
            self.keys[name] = Signer.generate(name)
        return self.keys[name]

    def signed(self, signer: Signer, kind: str, issuer: str, *fields: Any) -> SignedStatement:
        self.t += 1
        return sign_statement(make_statement(kind, issuer, self.t, *fields), signer.seed)

    def register(self, issuer: str) -> SignedStatement:
        return self.signed(self.registry, REGISTER_ISSUER, issuer, f"{issuer} name",
                           f"https://{issuer}.example", self.key(issuer).public_key)

    def ach(self, issuer: str, ach_id: str, name: str = "", kind: str = "Course", *,
            key: str | None = None) -> SignedStatement:
        return self.signed(self.key(key or issuer), REGISTER_ACHIEVEMENT, issuer, ach_id,
                           name or f"name of {ach_id}", f"about {ach_id}",
                           f"how to earn {ach_id}", kind)

    def issue(self, issuer: str, cred: str, achievement: str = "cs201") -> SignedStatement:
        self.t += 1
        return sign_statement(issue_statement(issuer, self.t, named(cred),
                                              achievement=achievement), self.key(issuer).seed)


def _world(path: Path) -> World:
    ledger, log, registry = Ledger.create(path, ORIGIN, clock=Clock())
    return World(ledger, registry, log, path)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = _world(tmp_path / "store")
    yield w
    w.ledger.close()


def _ref_root(values: dict[bytes, bytes], depth: int = 0) -> bytes:
    """docs/FORMAT.md §5.4's map root, written out recursively (slow, for tests only)."""
    if not values:
        return bytes(32)
    if len(values) == 1:
        ((k, v),) = values.items()
        return hashlib.sha256(b"\x02" + k + v).digest()
    bit = [(k[depth // 8] >> (7 - depth % 8)) & 1 for k in values]
    left = {k: values[k] for k, b in zip(values, bit, strict=True) if not b}
    right = {k: values[k] for k, b in zip(values, bit, strict=True) if b}
    return hashlib.sha256(b"\x03" + _ref_root(left, depth + 1)
                          + _ref_root(right, depth + 1)).digest()


def _replay_records(ledger: Ledger) -> dict[bytes, Record]:
    """The records of a plain replay of every entry (no store, no index)."""
    state = RecordState(lambda k: None)
    for i in range(ledger.head().size):
        entry = ledger.entry(i)
        for rec in apply_rules(state, entry.signed().verify(), entry.signer, i,
                               ledger.registry):
            state.changed[rec.key()] = rec
    return state.changed


def test_registered_achievements_are_read_back(world: World) -> None:
    led = world.ledger
    led.append([world.register("uni"), world.register("poly")])
    led.append([world.ach("uni", "cs201", "Data Structures"), world.issue("uni", "c-1"),
                world.ach("poly", "cs201", "Other Structures", "Badge"),
                world.ach("uni", "a" * 256, "Long", "ext:Bootcamp")])
    led.append([world.ach("uni", "b1", "B One", "")])
    found = led.achievement("uni", "cs201")
    assert found is not None
    assert found.record == AchievementRecord("uni", "cs201", 2)
    assert (found.name, found.description, found.criteria, found.achievement_type) == (
        "Data Structures", "about cs201", "how to earn cs201", "Course")
    entry = led.entry(2)
    assert found.registered_time == entry.time
    assert found.statement_time == decode_statement(entry.statement).time
    assert found.key.key_id == key_id(world.key("uni").public_key) and found.trusted
    assert led.record(ACHIEVEMENT, "uni", "cs201") == found.record
    assert led.achievement("uni", "c-1") is None and led.achievement("nobody", "cs201") is None
    assert led.record(CRED, "uni", "cs201") is None
    # Listed in the order registered, per issuer, whatever the ids' lengths and order.
    assert [(a.record.achievement_id, a.record.registered_at)
            for a in led.achievements("uni")] == [("cs201", 2), ("a" * 256, 5), ("b1", 6)]
    assert [a.name for a in led.achievements("poly")] == ["Other Structures"]
    assert led.achievements("nobody") == []
    with pytest.raises(EncodingError, match="achievement id"):
        led.achievement("uni", "bad id")
    with pytest.raises(EncodingError, match="achievement id"):
        led.record(ACHIEVEMENT, "uni", "")
    # The map holds exactly what a replay computes, and proves it.
    records = _replay_records(led)
    values = {k: record_hash(r.encode()) for k, r in records.items()}
    head = led.head()
    assert head.state_root == _ref_root(values)
    for k, rec in records.items():
        if isinstance(rec, AchievementRecord):
            proof, proven = led.map_proof(k, head.state_root)
            assert smt.verify_proof(head.state_root, proof) == values[k]
            assert proven == rec.encode()
    report = audit_store(led)
    assert report.achievements == 4 and report.credentials == 1 and report.issuers == 2
    assert report.as_dict()["achievements"] == 4


def test_a_refusal_refuses_the_whole_batch(world: World) -> None:
    led = world.ledger
    led.append([world.register("uni"), world.ach("uni", "cs201")])
    before = led.head()
    for batch, rule in (([world.ach("uni", "cs202"), world.ach("uni", "cs201")],
                         "duplicate-achievement"),
                        ([world.ach("uni", "cs203"), world.ach("uni", "cs203")],
                         "duplicate-achievement"),
                        ([world.ach("uni", "cs204", key="poly")], "wrong-signer"),
                        ([world.ach("poly", "cs204")], "unknown-issuer")):
        with pytest.raises(RefusedError) as info:
            led.append(batch)
        assert info.value.rule == rule
        assert led.head() == before
    assert [a.record.achievement_id for a in led.achievements("uni")] == ["cs201"]
    audit_store(led)


def test_a_key_flagged_as_compromised_makes_its_registrations_untrusted(world: World) -> None:
    led = world.ledger
    led.append([world.register("uni"), world.ach("uni", "early")])
    led.append([world.ach("uni", "late")])  # entry 2
    new = world.key("uni-2")
    led.append([world.signed(world.key("uni"), ROTATE_KEY, "uni", new.public_key)])
    led.append([world.ach("uni", "after", key="uni-2")])
    led.append([world.signed(world.registry, REVOKE_KEY, "uni",
                             key_id(world.key("uni").public_key), "stolen", 2)])
    trust = {a.record.achievement_id: a.trusted for a in led.achievements("uni")}
    assert trust == {"early": True, "late": False, "after": True}
    audit_store(led)


def _index_db(path: Path, fn: Any) -> None:
    """Change the store's ``achievements`` database behind the ledger's back."""
    env = lmdb.open(str(path), max_dbs=len(DB_NAMES) + 2, subdir=True)
    try:
        db = env.open_db(b"achievements")
        with env.begin(write=True) as txn:
            fn(txn, db)
    finally:
        env.close()


def test_the_audit_checks_the_index(tmp_path: Path) -> None:
    path = tmp_path / "store"
    w = _world(path)
    w.ledger.append([w.register("uni"), w.ach("uni", "cs201"), w.ach("uni", "cs202")])
    w.ledger.close()
    key = achievement_index_key("uni", "cs201")
    assert key == hashlib.sha256(b"uni").digest() + b"cs201"
    for change, match in (
            (lambda t, db: t.delete(key, db=db), "indexes 1 achievements, the replay has 2"),
            (lambda t, db: t.put(key, u64(9), db=db), "differs from the replay"),
            (lambda t, db: t.put(achievement_index_key("uni", "x"), u64(1), db=db),
             "differs from the replay")):
        copy = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}"
        with Ledger.open(path) as led:
            led.backup(copy)
        _index_db(copy, change)
        with Ledger.open(copy) as led, pytest.raises(AuditError, match=match) as info:
            audit_store(led)
        assert info.value.rule == "achievement-index"
    with Ledger.open(path) as led:
        audit_store(led)


def test_the_incremental_audit_checks_the_new_achievements(tmp_path: Path) -> None:
    """audit --since: the achievements after a saved checkpoint are counted, and their index
    entries checked."""
    path = tmp_path / "store"
    w = _world(path)
    w.ledger.append([w.register("uni"), w.ach("uni", "old")])
    saved = w.ledger.checkpoint()
    w.ledger.append([w.ach("uni", "new-1"), w.issue("uni", "c-1", "new-1"), w.ach("uni", "new-2")])
    w.ledger.checkpoint()
    report = audit_store_since(w.ledger, saved)
    assert (report.since, report.replayed, report.achievements) == (2, 3, 2)
    w.ledger.close()
    copy = tmp_path / "copy"
    with Ledger.open(path) as led:
        led.backup(copy)
    _index_db(copy, lambda t, db: t.delete(achievement_index_key("uni", "new-2"), db=db))
    with Ledger.open(copy) as led, pytest.raises(AuditError, match="lacks uni/new-2") as info:
        audit_store_since(led, saved)
    assert info.value.rule == "achievement-index"


def test_a_damaged_index_or_record_is_reported_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "store"
    w = _world(path)
    w.ledger.append([w.register("uni"), w.ach("uni", "cs201"), w.issue("uni", "c-1")])
    w.ledger.close()
    _index_db(path, lambda t, db: t.put(achievement_index_key("uni", "cs201"), u64(2), db=db))
    with Ledger.open(path) as led, pytest.raises(StoreCorruptError, match="does not confirm"):
        led.achievements("uni")
    _index_db(path, lambda t, db: (t.delete(achievement_index_key("uni", "cs201"), db=db),
                                   t.put(hashlib.sha256(b"uni").digest() + b" x", u64(2),
                                         db=db)))
    with Ledger.open(path) as led, pytest.raises(StoreCorruptError, match="bad key"):
        led.achievements("uni")


def test_a_store_without_the_index_opens_and_gains_it(tmp_path: Path) -> None:
    """A store written before achievements has no ``achievements`` database: it opens, keeps
    its roots and audit, and its first registration is indexed."""
    path = tmp_path / "store"
    w = _world(path)
    # (Entry format 2 issues only under a registered achievement: the store holds the
    # registration alone, and no store of the earlier formats opens at all.)
    w.ledger.append([w.register("uni")])
    before = w.ledger.head()
    w.ledger.close()
    env = lmdb.open(str(path), max_dbs=len(DB_NAMES) + 2, subdir=True)
    with env.begin(write=True) as txn:
        txn.drop(env.open_db(b"achievements", txn=txn), delete=True)
    with env.begin() as txn:
        assert txn.get(b"achievements") is None  # no such named database any more
    env.close()
    with Ledger.open(path) as led:
        assert led.head() == before and led.achievements("uni") == []
        audit_store(led)
        led.append([w.ach("uni", "cs201")])
        assert [a.record.achievement_id for a in led.achievements("uni")] == ["cs201"]
        assert audit_store(led).achievements == 1


def test_tiles_export_and_audit_a_log_with_achievements(tmp_path: Path) -> None:
    w = _world(tmp_path / "store")
    led = w.ledger
    led.append([w.register("uni"), w.register("poly")])
    led.append([w.ach("uni", f"a-{i}", kind=sorted(ACHIEVEMENT_TYPES)[i % 31])
                for i in range(300)])
    led.append([w.issue("uni", "c-1", "a-0"), w.ach("poly", "p-1", kind="ext:Workshop")])
    led.checkpoint()
    export_tiles(led, tmp_path / "tiles")
    report = audit_tiles(tmp_path / "tiles", w.log.verifier())
    assert (report.size, report.achievements, report.credentials, report.issuers) == (
        304, 301, 1, 2)
    assert report.as_dict()["achievements"] == 301
    assert report.state_root == led.head().state_root
    store_report = audit_store(led)
    assert store_report.as_dict() | {"seconds": 0, "entries_per_second": 0} == \
        report.as_dict() | {"seconds": 0, "entries_per_second": 0, "checkpoints": 1}
    led.close()


# ------------------------------------------------------------------------------ the property


_ISSUERS = ("uni", "poly", "college")
_ACH_IDS = st.from_regex(r"[a-z0-9][a-z0-9.:-]{0,6}", fullmatch=True)


@st.composite
def _registrations(draw: Any) -> tuple[list[tuple[str, str, str]], list[int]]:
    """Distinct (issuer, achievement id) pairs with a type each, in a random order, and the
    sizes of the batches they are appended in."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(_ISSUERS), _ACH_IDS), min_size=1,
                          max_size=24, unique=True))
    kinds = sorted(ACHIEVEMENT_TYPES) + ["", "ext:x"]
    items = [(i, a, draw(st.sampled_from(kinds))) for i, a in draw(st.permutations(pairs))]
    cuts = sorted(draw(st.sets(st.integers(1, len(items) - 1), max_size=4))
                  if len(items) > 1 else set())
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]
    return items, sizes


_SIGNERS = {name: Signer(name, hashlib.sha256(name.encode()).digest()) for name in _ISSUERS}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_registrations())
def test_any_order_of_registrations_maps_to_the_reference_root(
        case: tuple[list[tuple[str, str, str]], list[int]]) -> None:
    """Whatever the order and batching of valid registrations, every batch's state_root is
    the root of a plain dict of (map key -> value hash) kept here from FORMAT.md §5.2, §5.3;
    the listing, the audit and the reads agree with it."""
    items, sizes = case
    reference: dict[bytes, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ledger, _, registry = Ledger.create(Path(tmp) / "store", ORIGIN, clock=Clock())
        with ledger:
            regs = []
            for n, name in enumerate(_ISSUERS):
                pub = _SIGNERS[name].public_key
                regs.append(sign_statement(make_statement(REGISTER_ISSUER, name, T, "", "",
                                                          pub), registry.seed))
                reference[map_key("issuer", name, "")] = record_hash(_pack(
                    ["issuer", name, "", "", n, None, ""]))
                reference[map_key("key", name, key_id(pub))] = record_hash(_pack(
                    ["key", name, key_id(pub), pub, n, None, "", ""]))
            ledger.append(regs)
            index = len(_ISSUERS)
            pos = 0
            for size in sizes:
                batch = []
                for issuer, ach_id, kind in items[pos:pos + size]:
                    batch.append(sign_statement(make_statement(
                        REGISTER_ACHIEVEMENT, issuer, T, ach_id, f"name {ach_id}", "", "",
                        kind), _SIGNERS[issuer].seed))
                    reference[map_key("achievement", issuer, ach_id)] = record_hash(_pack(
                        ["achievement", issuer, ach_id, index]))
                    index += 1
                pos += size
                ledger.append(batch)
                assert ledger.head().state_root == _ref_root(reference)
            for issuer in _ISSUERS:
                want = [a for i, a, _ in items if i == issuer]
                assert [a.record.achievement_id for a in ledger.achievements(issuer)] == want
            report = audit_store(ledger)
            assert report.achievements == len(items)
            assert report.state_root == _ref_root(reference)
