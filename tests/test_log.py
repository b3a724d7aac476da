"""Tests for ledger.log (and ledger.store under it): append, rules, proofs, self-check, growth.

Every happy path is followed by a full re-check of the log (:func:`check_log`): the head, the
RFC 9162 root over the leaf hashes of all entries, every entry's ``prev_root`` (the hash chain,
docs/FORMAT.md §4.2) and ``state_root`` (recomputed by replaying the log into a slow reference of the
docs/FORMAT.md §5 map kept here), the status records and their map proofs. Every refusal of §6 is
checked to name its rule and to leave the head unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lmdb
import msgpack
import pytest
from statements import handle, register_achievement
from statements import issue as issue_statement
from statements import publish as publish_statement

import ledger.log as log_module
import ledger.parallel as parallel_module
import ledger.snapshot as snapshot_module
import ledger.store as store_module
from ledger import merkle, smt
from ledger.errors import (
    EncodingError,
    LedgerError,
    NotFoundError,
    RefusedError,
    StoreCorruptError,
    StoreError,
    StoreExistsError,
    StoreFullError,
    StoreNotFoundError,
)
from ledger.events import (
    ISSUE,
    MAX_ENTRY_SIZE,
    MAX_STATUS_INDEX,
    PUBLISH_STATUS_LIST,
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    STATUS_KINDS,
    SUSPEND,
    SignedStatement,
    Statement,
    decode_entry,
    key_id,
    make_statement,
    sign_statement,
    signing_message,
)
from ledger.log import Ledger
from ledger.note import Signer, open_checkpoint, parse_verifier
from ledger.parallel import collection_paused
from ledger.records import (
    ACHIEVEMENT,
    CRED,
    ISSUER,
    KEY,
    SLOT,
    STATUS_LIST,
    AchievementRecord,
    CredRecord,
    IssuerRecord,
    KeyRecord,
    Record,
    SlotRecord,
    StatusListRecord,
    list_ident,
    record_hash,
    slot_ident,
)
from ledger.rules import RecordState, apply_rules
from ledger.snapshot import Head
from ledger.store import DB_NAMES, tree_key, u64

ORIGIN = "test.example/log"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SUBJECT = hashlib.sha256(b"subject").digest()


class Clock:
    """The injected sequencing clock: one second later at every call (or a fixed script)."""

    def __init__(self, start: int = T0 + 10**9) -> None:
        self.now = start
        self.script: list[int] = []

    def __call__(self) -> int:
        if self.script:
            return self.script.pop(0)
        self.now += 1000
        return self.now


@dataclass
class World:
    ledger: Ledger
    log: Signer
    registry: Signer
    clock: Clock
    path: Path
    t: int = T0
    keys: dict[str, Signer] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)  # the tree size after each append
    handles: dict[str, str] = field(default_factory=dict)

    def stamp(self) -> int:
        self.t += 1
        return self.t

    def key(self, name: str) -> Signer:
        if name not in self.keys:
            self.keys[name] = Signer.generate(name.split("#")[0])
        return self.keys[name]

    def signed(self, signer: Signer, kind: str, issuer: str, *fields: Any,
               time: int | None = None) -> SignedStatement:
        st = make_statement(kind, issuer, self.stamp() if time is None else time, *fields)
        return sign_statement(st, signer.seed)

    def register(self, issuer: str, key: Signer) -> SignedStatement:
        return self.signed(self.registry, REGISTER_ISSUER, issuer, f"{issuer} name",
                           f"https://{issuer}", key.public_key)

    def h(self, name: str) -> str:
        """The handle of the credential the test calls ``name``: ``handle(n)``, ``n`` counting
        names in the order first used, so each holds status index ``n`` of its key."""
        if name not in self.handles:
            self.handles[name] = handle(len(self.handles) + 1)
        return self.handles[name]

    def achievement(self, signer: Signer, issuer: str, ach_id: str = "cs201",
                    ) -> SignedStatement:
        return sign_statement(register_achievement(issuer, self.stamp(), ach_id), signer.seed)

    def issue(self, signer: Signer, issuer: str, cred: str, parts: tuple[str, ...] = (),
              **change: Any) -> SignedStatement:
        st = issue_statement(issuer, self.stamp(), self.h(cred),
                             parts=[self.h(p) for p in parts], **change)
        return sign_statement(st, signer.seed)

    def status(self, signer: Signer, kind: str, issuer: str, cred: str,
               reason: str = "unspecified", *, time: int | None = None) -> SignedStatement:
        return self.signed(signer, kind, issuer, self.h(cred), reason, time=time)

    def append(self, *items: SignedStatement) -> log_module.Appended:
        before = self.ledger.head().size
        res = self.ledger.append(list(items))
        assert (res.first, res.count, res.size) == (before, len(items), before + len(items))
        assert res.root == self.ledger.head().root
        self.sizes.append(res.size)
        return res

    def refused(self, items: list[SignedStatement], rule: str, match: str | None = None,
                ) -> RefusedError:
        before = self.ledger.head()
        with pytest.raises(RefusedError) as info:
            self.ledger.append(items)
        assert info.value.rule == rule, str(info.value)
        assert f"({rule})" in str(info.value)
        if match is not None:
            assert match in str(info.value)
        assert self.ledger.head() == before
        with pytest.raises(NotFoundError):
            self.ledger.entry_bytes(before.size)
        return info.value


def _new_world(path: Path) -> World:
    clock = Clock()
    ledger, log_signer, registry = Ledger.create(path, ORIGIN, clock=clock)
    return World(ledger, log_signer, registry, clock, path)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = _new_world(tmp_path / "store")
    yield w
    w.ledger.close()


@pytest.fixture
def busy(world: World) -> World:
    """uni (key uni#1) and college registered, each with achievement cs201; uni issued c-1
    (entry 4), c-2 (revoked), c-3 (suspended), m-1; college issued x-1. One batch."""
    uni, college = world.key("uni#1"), world.key("college#1")
    world.append(
        world.register("uni", uni), world.register("college", college),
        world.achievement(uni, "uni"), world.achievement(college, "college"),
        world.issue(uni, "uni", "c-1"), world.issue(uni, "uni", "c-2"),
        world.issue(uni, "uni", "c-3"), world.issue(uni, "uni", "m-1"),
        world.issue(college, "college", "x-1"),
        world.status(uni, REVOKE, "uni", "c-2", "withdrawn"),
        world.status(uni, SUSPEND, "uni", "c-3", "under-review"),
    )
    return world


# ----------------------------------------------------------------------------- the reference


def _bit(key: bytes, i: int) -> int:
    return (key[i // 8] >> (7 - i % 8)) & 1


def ref_map_root(values: dict[bytes, bytes], depth: int = 0) -> bytes:
    """The docs/FORMAT.md §5 map root, written out recursively from the text (slow, for tests only)."""
    if not values:
        return bytes(32)
    if len(values) == 1:
        ((k, v),) = values.items()
        return hashlib.sha256(b"\x02" + k + v).digest()
    left = {k: v for k, v in values.items() if not _bit(k, depth)}
    right = {k: v for k, v in values.items() if _bit(k, depth)}
    return hashlib.sha256(b"\x03" + ref_map_root(left, depth + 1)
                          + ref_map_root(right, depth + 1)).digest()


def _record_address(rec: Record) -> tuple[str, str, str]:
    if isinstance(rec, CredRecord):
        return CRED, rec.issuer, rec.cred_id
    if isinstance(rec, KeyRecord):
        return KEY, rec.issuer, rec.key_id
    if isinstance(rec, AchievementRecord):
        return ACHIEVEMENT, rec.issuer, rec.achievement_id
    if isinstance(rec, SlotRecord):
        return SLOT, rec.issuer, slot_ident(rec.key_id, rec.status_index)
    if isinstance(rec, StatusListRecord):
        return STATUS_LIST, rec.issuer, list_ident(rec.key_id, rec.purpose, rec.number)
    return ISSUER, rec.issuer, ""


@dataclass
class Replay:
    leaves: list[bytes]
    records: dict[bytes, Record]
    snapshots: list[dict[bytes, bytes]]  # map key -> value hash after each entry
    cred_entries: dict[tuple[str, str], list[int]]


def check_log(ledger: Ledger, *, map_proofs: bool = True) -> Replay:
    """Re-check everything the ledger stores against a replay of its entries."""
    head = ledger.head()
    state = RecordState(lambda k: None)
    values: dict[bytes, bytes] = {}
    leaves: list[bytes] = []
    snapshots: list[dict[bytes, bytes]] = []
    cred_entries: dict[tuple[str, str], list[int]] = {}
    mirror = smt.MapWriter(lambda h: None)
    last_time = 0
    for i in range(head.size):
        data = ledger.entry_bytes(i)
        entry = decode_entry(data)
        assert entry.encode() == data
        assert entry.index == i
        assert entry.time >= last_time, "sequencing time went backwards"
        last_time = entry.time
        # The hash chain: prev_root is the root of the tree of size index.
        assert entry.prev_root == merkle.root_of(leaves) == ledger.root_at(i)
        st = entry.signed().verify()
        for rec in apply_rules(state, st, entry.signer, i, ledger.registry):
            state.changed[rec.key()] = rec
            values[rec.key()] = record_hash(rec.encode())
            mirror.set(rec.key(), record_hash(rec.encode()))
        assert entry.state_root == ref_map_root(values) == mirror.root
        if st.kind == ISSUE or st.kind in STATUS_KINDS:
            cred_entries.setdefault((st.issuer, st.fields[0]), []).append(i)
        leaves.append(merkle.leaf_hash(data))
        snapshots.append(dict(values))
    with pytest.raises(NotFoundError):
        ledger.entry_bytes(head.size)
    assert head.root == merkle.root_of(leaves) == ledger.root_at(head.size)
    assert head.state_root == ref_map_root(values)
    assert head.last_time == last_time
    for k, rec in state.changed.items():
        assert ledger.record(*_record_address(rec)) == rec
        if map_proofs:
            proof, proven = ledger.map_proof(k, head.state_root)
            assert smt.verify_proof(head.state_root, proof) == values[k]
            assert proven == rec.encode()
    for (issuer, cred), indexes in cred_entries.items():
        assert ledger.cred_entries(issuer, cred) == indexes
    return Replay(leaves, dict(state.changed), snapshots, cred_entries)


# ----------------------------------------------------------------------------- happy paths


def test_create_gives_an_empty_checked_log(world: World) -> None:
    head = world.ledger.head()
    assert head == Head(0, merkle.EMPTY_ROOT, smt.EMPTY, 0)
    assert world.ledger.origin == ORIGIN
    assert world.ledger.registry == world.registry.public_key
    assert world.ledger.log_vkey() == str(world.log.verifier())
    for name in ("log.key", "registry.key"):
        assert (world.path / "keys" / name).stat().st_mode & 0o777 == 0o600
    assert (world.path / "keys").stat().st_mode & 0o777 == 0o700
    world.ledger.self_check()
    check_log(world.ledger)


def test_lifecycle_checked_after_every_event(world: World) -> None:
    k1, k2, college = world.key("uni#1"), world.key("uni#2"), world.key("college#1")
    steps: list[tuple[str, SignedStatement]] = [
        ("register uni", world.register("uni", k1)),
        ("register college", world.register("college", college)),
        ("uni registers cs201", world.achievement(k1, "uni")),
        ("issue c-1", world.issue(k1, "uni", "c-1")),
        ("issue c-2", world.issue(k1, "uni", "c-2")),
        ("issue s-1 stacking c-1 and c-2", world.issue(k1, "uni", "s-1", ("c-1", "c-2"))),
        ("revoke c-1", world.status(k1, REVOKE, "uni", "c-1", "withdrawn")),
        ("suspend c-2", world.status(k1, SUSPEND, "uni", "c-2", "under-review")),
        ("reinstate c-2", world.status(k1, REINSTATE, "uni", "c-2", "review-complete")),
        ("rotate uni#1 -> uni#2", world.signed(k1, ROTATE_KEY, "uni", k2.public_key)),
        # status index 1 of the new key: c-1 holds index 1 of the old one
        ("issue c-3 with the new key", world.issue(k2, "uni", "c-3", status_index=1)),
        ("uni revokes its own key", world.signed(k2, REVOKE_KEY, "uni", key_id(k2.public_key),
                                                 "lost")),
        ("registry revokes college's key", world.signed(
            world.registry, REVOKE_KEY, "college", key_id(college.public_key), "stolen")),
        ("retire uni", world.signed(world.registry, RETIRE_ISSUER, "uni", "merged")),
    ]
    for n, (what, item) in enumerate(steps, 1):
        res = world.append(item)
        assert world.ledger.head().size == n, what
        assert res.first == n - 1
        check_log(world.ledger)
    led = world.ledger
    c1 = led.record(CRED, "uni", world.h("c-1"))
    assert isinstance(c1, CredRecord)
    assert (c1.state, c1.issued_index, c1.changed_index, c1.reason) == ("revoked", 3, 6,
                                                                         "withdrawn")
    c2 = led.record(CRED, "uni", world.h("c-2"))
    assert isinstance(c2, CredRecord)
    assert (c2.state, c2.changed_index, c2.reason) == ("issued", 8, "review-complete")
    old = led.record(KEY, "uni", key_id(k1.public_key))
    new = led.record(KEY, "uni", key_id(k2.public_key))
    assert isinstance(old, KeyRecord) and isinstance(new, KeyRecord)
    assert (old.active_from, old.ended_at, old.end) == (0, 9, "rotated")
    assert (new.active_from, new.ended_at, new.end, new.reason) == (9, 11, "revoked", "lost")
    # Each credential holds its slot: the status index of the key that signed it.
    for name, kid, index in (("c-1", k1, 1), ("c-2", k1, 2), ("s-1", k1, 3), ("c-3", k2, 1)):
        slot = led.record(SLOT, "uni", slot_ident(key_id(kid.public_key), index))
        assert slot == SlotRecord("uni", key_id(kid.public_key), index, world.h(name))
    assert led.record(SLOT, "uni", slot_ident(key_id(k2.public_key), 2)) is None
    # Credentials issued while a key was active stay as they were after it ends.
    c3 = led.record(CRED, "uni", world.h("c-3"))
    assert isinstance(c3, CredRecord) and c3.state == "issued"
    uni = led.record(ISSUER, "uni")
    assert isinstance(uni, IssuerRecord) and (uni.retired_at, uni.reason) == (13, "merged")
    assert led.cred_entries("uni", world.h("c-2")) == [4, 7, 8]
    assert led.cred_entries("uni", world.h("c-9")) == []
    assert led.record(CRED, "uni", world.h("c-9")) is None


def test_entries_carry_the_injected_clock_and_never_go_back(world: World) -> None:
    k = world.key("uni#1")
    world.clock.script = [T0 + 5000, T0 + 2000, T0 + 9000]
    world.append(world.register("uni", k), world.achievement(k, "uni"))
    world.append(world.issue(k, "uni", "c-1"), world.issue(k, "uni", "c-2"))
    world.append(world.issue(k, "uni", "c-3"))
    times = [world.ledger.entry(i).time for i in range(5)]
    # The clock went back for the batch: its entries keep the previous time.
    assert times == [T0 + 5000, T0 + 5000, T0 + 5000, T0 + 5000, T0 + 9000]
    assert world.ledger.head().last_time == T0 + 9000
    check_log(world.ledger)


def test_batch_sees_its_own_earlier_items_and_reports_progress(world: World) -> None:
    k = world.key("uni#1")
    seen: list[int] = []
    items = [world.register("uni", k), world.achievement(k, "uni"),
             world.issue(k, "uni", "c-1"), world.issue(k, "uni", "s-1", ("c-1",)),
             world.status(k, SUSPEND, "uni", "c-1"), world.status(k, REINSTATE, "uni", "c-1"),
             world.status(k, REVOKE, "uni", "c-1")]
    res = world.ledger.append(items, progress=seen.append)
    assert (res.first, res.count, res.size) == (0, 7, 7)
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    rec = world.ledger.record(CRED, "uni", world.h("c-1"))
    assert isinstance(rec, CredRecord) and (rec.state, rec.changed_index) == ("revoked", 6)
    replay = check_log(world.ledger)
    # Only the final record of each key is reachable; the intermediate ones are not stored
    # (the issuer, its key, its achievement, two credentials and their two slots).
    assert len(replay.records) == 7


@pytest.fixture(scope="module")
def forty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Replay]]:
    """A 40-entry ledger built from batches of several sizes, with checkpoints at 1, 17, 40."""
    w = _new_world(tmp_path_factory.mktemp("forty") / "store")
    k = w.key("uni#1")
    w.append(w.register("uni", k))
    w.ledger.checkpoint()
    w.append(w.achievement(k, "uni"), *[w.issue(k, "uni", f"c-{i}") for i in range(12)])
    w.append(w.status(k, REVOKE, "uni", "c-3"), w.status(k, SUSPEND, "uni", "c-4"))
    w.append(w.issue(k, "uni", "s-1", ("c-1", "c-2")))
    w.ledger.checkpoint()
    for i in range(13, 30):
        w.append(w.issue(k, "uni", f"c-{i}"))
    w.append(*[w.status(k, REVOKE, "uni", f"c-{i}") for i in range(20, 26)])
    w.ledger.checkpoint()
    assert w.ledger.head().size == 40
    yield w, check_log(w.ledger)
    w.ledger.close()


def test_forty_every_inclusion_proof(forty: tuple[World, Replay]) -> None:
    w, replay = forty
    led, leaves = w.ledger, replay.leaves
    n = len(leaves)
    for size in range(1, n + 1):
        root = led.root_at(size)
        assert root == merkle.root_of(leaves[:size])
        for index in range(size):
            proof = led.inclusion_proof(index, size)
            merkle.verify_inclusion(index, size, leaves[index], proof, root)
    for bad in ((n, n), (0, n + 1), (-1, 5), (5, 5), (0, 0)):
        with pytest.raises(NotFoundError):
            led.inclusion_proof(*bad)
    with pytest.raises(NotFoundError):
        led.root_at(n + 1)
    assert led.root_at(0) == merkle.EMPTY_ROOT


def test_forty_every_consistency_proof(forty: tuple[World, Replay]) -> None:
    w, replay = forty
    led = w.ledger
    n = len(replay.leaves)
    roots = [led.root_at(s) for s in range(n + 1)]
    for size1 in range(n + 1):
        for size2 in range(size1, n + 1):
            proof = led.consistency_proof(size1, size2)
            merkle.verify_consistency(size1, size2, proof, roots[size1], roots[size2])
    with pytest.raises(NotFoundError):
        led.consistency_proof(5, 4)
    with pytest.raises(NotFoundError):
        led.consistency_proof(1, n + 1)


def test_forty_map_proofs_at_every_earlier_batch(forty: tuple[World, Replay]) -> None:
    """docs/FORMAT.md §5.6: status proofs at every earlier checkpoint, not only the latest. Checkpoints
    are signed between batches, so the map must be provable at the end of every batch (the
    intermediate roots inside a batch are not stored)."""
    w, replay = forty
    keys = list(replay.records)
    absent = hashlib.sha256(b"never set").digest()
    assert len(w.sizes) == 22
    for size in w.sizes:
        values = replay.snapshots[size - 1]
        state_root = w.ledger.entry(size - 1).state_root
        for k in keys + [absent]:
            proof, data = w.ledger.map_proof(k, state_root)
            got = smt.verify_proof(state_root, proof)
            assert got == values.get(k)
            assert (data is None) == (got is None)
            if data is not None:
                assert record_hash(data) == got


def test_forty_checkpoints(forty: tuple[World, Replay]) -> None:
    w, replay = forty
    led = w.ledger
    vkey = parse_verifier(led.log_vkey())
    cps = led.checkpoints()
    assert [size for size, _ in cps] == [1, 17, 40]
    for size, note in cps:
        cp = open_checkpoint(note, vkey)
        assert (cp.origin, cp.size, cp.root) == (ORIGIN, size, led.root_at(size))
        assert led.checkpoint_note(size) == note
        for index in range(size):
            merkle.verify_inclusion(index, size, replay.leaves[index],
                                    led.inclusion_proof(index, size), cp.root)
    for (s1, n1), (s2, n2) in itertools.pairwise(cps):
        merkle.verify_consistency(s1, s2, led.consistency_proof(s1, s2),
                                  open_checkpoint(n1, vkey).root, open_checkpoint(n2, vkey).root)
    assert led.checkpoint_note() == cps[-1][1]
    with pytest.raises(NotFoundError):
        led.checkpoint_note(2)


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_is_stable_until_the_tree_grows(world: World) -> None:
    led = world.ledger
    with pytest.raises(NotFoundError):
        led.checkpoint_note()
    empty = led.checkpoint()
    k = world.key("uni#1")
    world.append(world.register("uni", k), world.achievement(k, "uni"))
    first = led.checkpoint()
    assert led.checkpoint() == first
    assert led.checkpoint(world.log) == first
    world.append(world.issue(k, "uni", "c-1"))
    second = led.checkpoint()
    assert second != first
    assert led.checkpoints() == [(0, empty), (2, first), (3, second)]
    vkey = world.log.verifier()
    assert open_checkpoint(empty, vkey).root == merkle.EMPTY_ROOT
    assert open_checkpoint(second, vkey).root == led.head().root
    # The note is exactly body, blank line, one signature line by the log key.
    body, sig = second.split("\n\n")
    assert body == f"{ORIGIN}\n3\n{base64.b64encode(led.head().root).decode()}"
    assert sig.startswith(f"\u2014 {ORIGIN} ") and sig.endswith("\n") and sig.count("\n") == 1
    with pytest.raises(LedgerError):
        led.checkpoint(Signer.generate("other.example/log"))
    assert led.checkpoints()[-1] == (3, second)
    check_log(led)


# ----------------------------------------------------------------------------- refusals


def test_refuses_empty_batch(world: World) -> None:
    world.refused([], "empty-batch")


def test_refuses_unknown_issuer(busy: World) -> None:
    k = busy.key("uni#1")
    busy.refused([busy.issue(k, "nowhere", "c-9")], "unknown-issuer", "'nowhere'")
    busy.refused([busy.signed(busy.registry, RETIRE_ISSUER, "nowhere", "")], "unknown-issuer")


def test_refuses_wrong_signer(busy: World) -> None:
    uni, college = busy.key("uni#1"), busy.key("college#1")
    stranger = busy.key("stranger")
    busy.refused([busy.issue(college, "uni", "c-9")], "wrong-signer", key_id(college.public_key))
    busy.refused([busy.issue(stranger, "uni", "c-9")], "wrong-signer")
    # Registry statements must be signed by the registry key.
    busy.refused([SignedStatement(*_resign(busy.register("new", stranger), uni))],
                 "wrong-signer")
    busy.refused([busy.signed(uni, RETIRE_ISSUER, "uni", "")], "wrong-signer")
    busy.refused([busy.signed(uni, RETIRE_ISSUER, "college", "")], "wrong-signer")
    # The registry key cannot be an issuer's key, nor sign as an issuer.
    busy.refused([busy.register("new", busy.registry)], "wrong-signer")
    busy.refused([busy.signed(uni, ROTATE_KEY, "uni", busy.registry.public_key)], "wrong-signer")
    busy.refused([busy.issue(busy.registry, "uni", "c-9")], "wrong-signer")


def _resign(item: SignedStatement, signer: Signer) -> tuple[bytes, bytes, bytes]:
    from ledger.events import signing_message

    return item.statement, signer.public_key, signer.sign(signing_message(item.statement))


def test_refuses_revoking_another_issuers_credential(busy: World) -> None:
    college = busy.key("college#1")
    for kind in (REVOKE, SUSPEND):
        busy.refused([busy.status(college, kind, "uni", "c-1")], "wrong-signer")
        busy.refused([busy.status(college, kind, "college", "c-1")], "unknown-credential")
    rec = busy.ledger.record(CRED, "uni", busy.h("c-1"))
    assert isinstance(rec, CredRecord) and rec.state == "issued"


def test_refuses_old_key_after_rotation(busy: World) -> None:
    k1, k2 = busy.key("uni#1"), busy.key("uni#2")
    busy.append(busy.signed(k1, ROTATE_KEY, "uni", k2.public_key))
    busy.refused([busy.issue(k1, "uni", "c-9")], "key-not-active", "rotated")
    busy.refused([busy.status(k1, REVOKE, "uni", "c-1")], "key-not-active")
    busy.refused([busy.signed(k1, ROTATE_KEY, "uni", busy.key("uni#3").public_key)],
                 "key-not-active")
    busy.refused([busy.signed(k2, ROTATE_KEY, "uni", k1.public_key)], "key-exists")
    busy.refused([busy.signed(k2, ROTATE_KEY, "uni", k2.public_key)], "key-exists")
    busy.refused([busy.signed(busy.registry, REVOKE_KEY, "uni", key_id(k1.public_key), "")],
                 "key-not-active", "already ended")
    busy.append(busy.issue(k2, "uni", "c-9"))
    check_log(busy.ledger)


def test_refuses_revoked_key(busy: World) -> None:
    k1 = busy.key("uni#1")
    busy.refused([busy.signed(busy.registry, REVOKE_KEY, "uni", "0123456789abcdef", "")],
                 "unknown-key")
    busy.append(busy.signed(busy.registry, REVOKE_KEY, "uni", key_id(k1.public_key), "stolen"))
    busy.refused([busy.issue(k1, "uni", "c-9")], "key-not-active", "revoked")
    busy.refused([busy.status(k1, REINSTATE, "uni", "c-3")], "key-not-active")
    busy.refused([busy.signed(k1, REVOKE_KEY, "uni", key_id(k1.public_key), "")],
                 "key-not-active")
    # Credentials issued before the revocation are untouched.
    rec = busy.ledger.record(CRED, "uni", busy.h("c-1"))
    assert isinstance(rec, CredRecord) and rec.state == "issued"
    check_log(busy.ledger)


def test_refuses_duplicate_credential(busy: World) -> None:
    uni = busy.key("uni#1")
    busy.refused([busy.issue(uni, "uni", "c-1")], "duplicate-credential", "entry 4")
    busy.refused([busy.issue(uni, "uni", "c-2")], "duplicate-credential")  # even when revoked
    busy.refused([busy.issue(uni, "uni", "n-1"), busy.issue(uni, "uni", "n-1")],
                 "duplicate-credential", "batch item 2")
    # Ids are per issuer: college may use uni's id.
    busy.append(busy.issue(busy.key("college#1"), "college", "c-1"))


def test_refuses_status_change_of_unknown_credential(busy: World) -> None:
    uni = busy.key("uni#1")
    for kind in STATUS_KINDS:
        busy.refused([busy.status(uni, kind, "uni", "c-99")], "unknown-credential")


def test_refuses_change_of_revoked_credential(busy: World) -> None:
    uni = busy.key("uni#1")
    for kind in STATUS_KINDS:
        busy.refused([busy.status(uni, kind, "uni", "c-2")], "already-revoked", "final")


def test_refuses_suspension_rules(busy: World) -> None:
    uni = busy.key("uni#1")
    busy.refused([busy.status(uni, REINSTATE, "uni", "c-1")], "not-suspended")
    busy.refused([busy.status(uni, SUSPEND, "uni", "c-3")], "already-suspended")
    # A suspended credential can still be revoked.
    busy.append(busy.status(uni, REVOKE, "uni", "c-3"))


def test_refuses_stale_statement(busy: World) -> None:
    uni = busy.key("uni#1")
    suspend = busy.status(uni, SUSPEND, "uni", "c-1", "under-review")
    busy.append(suspend)
    busy.append(busy.status(uni, REINSTATE, "uni", "c-1", "review-complete"))
    busy.refused([suspend], "stale-statement")  # the exact old bytes, replayed
    rec = busy.ledger.record(CRED, "uni", busy.h("c-1"))
    assert isinstance(rec, CredRecord)
    # Same time as the newest statement about it: not after it, refused too.
    busy.refused([busy.status(uni, SUSPEND, "uni", "c-1", time=rec.last_time)],
                 "stale-statement")
    busy.append(busy.status(uni, SUSPEND, "uni", "c-1", time=rec.last_time + 1))


def test_refuses_bad_parts(busy: World) -> None:
    uni, college = busy.key("uni#1"), busy.key("college#1")
    busy.refused([busy.issue(uni, "uni", "s-1", ("c-1", "zz"))], "unknown-part",
                 f"part {busy.h('zz')} was never issued")
    busy.refused([busy.issue(uni, "uni", "s-1", ("x-1",))], "unknown-part")  # college's
    busy.refused([busy.issue(college, "college", "s-1", ("c-1",))], "unknown-part")
    busy.refused([busy.issue(uni, "uni", "s-1", ("c-1", "c-2"))], "revoked-part")
    busy.append(busy.issue(uni, "uni", "s-1", ("c-1", "c-3", "m-1")))  # suspended is allowed


def test_refuses_unknown_achievement(busy: World) -> None:
    """An issue names an achievement its issuer registered (docs/FORMAT.md §6): not one never
    registered, not another issuer's."""
    uni, college = busy.key("uni#1"), busy.key("college#1")
    busy.refused([busy.issue(uni, "uni", "n-1", achievement="cs999")], "unknown-achievement",
                 "'cs999'")
    busy.append(busy.achievement(college, "college", "ma101"))
    busy.refused([busy.issue(uni, "uni", "n-1", achievement="ma101")], "unknown-achievement")
    # Registered earlier in the same batch is enough.
    busy.append(busy.achievement(uni, "uni", "ma101"),
                busy.issue(uni, "uni", "n-1", achievement="ma101"))
    check_log(busy.ledger)


def test_refuses_duplicate_status_index(busy: World) -> None:
    """A status index of an issuer's key is held by one credential for good (a slot record):
    refused again in a later batch and in the same batch, even once its holder is revoked;
    free under another key of the issuer and under another issuer."""
    uni, college = busy.key("uni#1"), busy.key("college#1")
    kid = key_id(uni.public_key)
    held = busy.ledger.record(SLOT, "uni", slot_ident(kid, 1))
    assert held == SlotRecord("uni", kid, 1, busy.h("c-1"))
    busy.refused([busy.issue(uni, "uni", "n-1", status_index=1)], "duplicate-status-index",
                 f"status index 1 of key {kid} is held by {busy.h('c-1')}")
    busy.refused([busy.issue(uni, "uni", "n-1", status_index=2)],  # c-2, revoked
                 "duplicate-status-index")
    busy.refused([busy.issue(uni, "uni", "n-1", status_index=500),
                  busy.issue(uni, "uni", "n-2", status_index=500)],
                 "duplicate-status-index", "batch item 2")
    busy.append(busy.issue(uni, "uni", "n-1", status_index=MAX_STATUS_INDEX))
    busy.refused([busy.issue(uni, "uni", "n-2", status_index=MAX_STATUS_INDEX)],
                 "duplicate-status-index")
    # Another issuer's key has indexes of its own.
    busy.append(busy.issue(college, "college", "x-2", status_index=1))
    # So has the issuer's next key: the same index under two keys of one issuer is allowed.
    k2 = busy.key("uni#2")
    busy.append(busy.signed(uni, ROTATE_KEY, "uni", k2.public_key),
                busy.issue(k2, "uni", "n-2", status_index=1),
                busy.issue(k2, "uni", "n-3", status_index=MAX_STATUS_INDEX))
    busy.refused([busy.issue(k2, "uni", "n-4", status_index=1)], "duplicate-status-index")
    assert busy.ledger.record(SLOT, "uni", slot_ident(kid, 1)) == held
    k2id = key_id(k2.public_key)
    assert busy.ledger.record(SLOT, "uni", slot_ident(k2id, 1)) == SlotRecord(
        "uni", k2id, 1, busy.h("n-2"))
    check_log(busy.ledger)


def test_publish_status_list_rules(busy: World) -> None:
    """docs/FORMAT.md §6: a status list is published by the key whose list it is (rotated is
    fine: its credentials still point at its lists; revoked is not), for a log no larger than
    the one before the entry, never older than the list it replaces."""
    uni, college = busy.key("uni#1"), busy.key("college#1")
    kid = key_id(uni.public_key)

    def publish(signer: Signer, issuer: str = "uni", **fields: Any) -> SignedStatement:
        return sign_statement(publish_statement(issuer, busy.stamp(), **fields), signer.seed)

    size = busy.ledger.head().size  # 11: the index the next entry gets
    busy.refused([publish(college)], "wrong-signer", f"{key_id(college.public_key)} is not a key")
    busy.refused([publish(busy.registry)], "wrong-signer")
    busy.refused([publish(busy.key("stranger"))], "wrong-signer")
    busy.refused([publish(uni, "nowhere")], "unknown-issuer")
    busy.refused([publish(uni, tree_size=size + 1)], "future-status-list",
                 f"the log holds {size} before it")
    busy.refused([publish(uni, tree_size=size + 1000)], "future-status-list")
    # tree_size may equal the entry's own index (the whole log before it).
    busy.append(publish(uni, tree_size=size))
    rec = busy.ledger.record(STATUS_LIST, "uni", list_ident(kid, "revocation", 0))
    assert rec == StatusListRecord("uni", kid, "revocation", 0, size, size)
    # Never older than the list it replaces; the same size again is fine.
    busy.refused([publish(uni, tree_size=size - 1)], "stale-status-list",
                 f"already published for {size} entries")
    busy.refused([publish(uni, tree_size=0)], "stale-status-list")
    busy.append(publish(uni, tree_size=size))
    # Within one batch, the earlier item counts.
    busy.refused([publish(uni, tree_size=size + 2), publish(uni, tree_size=size + 1)],
                 "stale-status-list", "batch item 2")
    # Each purpose and number is a list of its own.
    busy.append(publish(uni, purpose="suspension", tree_size=1),
                publish(uni, number=63, tree_size=0))
    # A rotated key still publishes its lists; a revoked one no longer does.
    k2 = busy.key("uni#2")
    busy.append(busy.signed(uni, ROTATE_KEY, "uni", k2.public_key))
    res = busy.append(publish(uni, tree_size=size + 3), publish(k2, tree_size=size + 3))
    assert busy.ledger.record(STATUS_LIST, "uni", list_ident(kid, "revocation", 0)) == (
        StatusListRecord("uni", kid, "revocation", 0, size + 3, res.first))
    assert busy.ledger.record(STATUS_LIST, "uni", list_ident(
        key_id(k2.public_key), "revocation", 0)) == StatusListRecord(
            "uni", key_id(k2.public_key), "revocation", 0, size + 3, res.first + 1)
    # A rotated key is revoked by flagging it compromised from an index before its rotation
    # (rules._revoke_key still holds that a rotated key signs nothing after it: reported).
    rotated = busy.ledger.record(KEY, "uni", kid)
    assert isinstance(rotated, KeyRecord) and rotated.ended_at is not None
    busy.append(busy.signed(busy.registry, REVOKE_KEY, "uni", kid, "stolen",
                            rotated.ended_at - 1))
    busy.refused([publish(uni, tree_size=size + 4)], "key-revoked", f"key {kid}")
    busy.append(publish(k2, tree_size=size + 4))
    # A retired issuer publishes nothing.
    busy.append(busy.signed(busy.registry, RETIRE_ISSUER, "college", "closed"))
    busy.refused([publish(college, "college")], "issuer-retired")
    check_log(busy.ledger)


def test_refuses_issuer_exists_and_retired(busy: World) -> None:
    college = busy.key("college#1")
    busy.refused([busy.register("uni", busy.key("uni#9"))], "issuer-exists")
    busy.append(busy.signed(busy.registry, RETIRE_ISSUER, "college", "closed"))
    busy.refused([busy.issue(college, "college", "x-2")], "issuer-retired")
    busy.refused([busy.status(college, REVOKE, "college", "x-1")], "issuer-retired")
    busy.refused([busy.signed(busy.registry, RETIRE_ISSUER, "college", "")], "issuer-retired")
    busy.refused([busy.signed(busy.registry, REVOKE_KEY, "college",
                              key_id(college.public_key), "")], "issuer-retired")
    busy.refused([busy.register("college", busy.key("college#2"))], "issuer-exists")
    check_log(busy.ledger)


def test_refuses_bad_signature(busy: World) -> None:
    uni = busy.key("uni#1")
    good = busy.issue(uni, "uni", "c-9")
    for i in (0, 31, 63):
        sig = bytearray(good.signature)
        sig[i] ^= 0x01
        busy.refused([SignedStatement(good.statement, good.signer, bytes(sig))], "bad-signature")
    # Another credential's handle: still a valid statement, no longer the signed one.
    changed = good.statement.replace(busy.h("c-9").encode(), busy.h("c-8").encode())
    assert changed != good.statement
    busy.refused([SignedStatement(changed, good.signer, good.signature)], "bad-signature")
    busy.refused([SignedStatement(good.statement + b"\x00", good.signer, good.signature)],
                 "malformed-statement")
    busy.append(good)


@pytest.mark.parametrize("flaw", ["duplicate", "signature", "rule-in-batch", "malformed"])
def test_batch_of_100_with_bad_item_57_refuses_all(busy: World, flaw: str) -> None:
    uni = busy.key("uni#1")
    items = [busy.issue(uni, "uni", f"b-{i}") for i in range(1, 101)]
    rule = {"duplicate": "duplicate-credential", "signature": "bad-signature",
            "rule-in-batch": "duplicate-credential", "malformed": "malformed-statement"}[flaw]
    if flaw == "duplicate":
        items[56] = busy.issue(uni, "uni", "c-1")
    elif flaw == "signature":
        items[56] = SignedStatement(items[56].statement, items[56].signer, bytes(64))
    elif flaw == "rule-in-batch":
        items[56] = busy.issue(uni, "uni", "b-10")
    else:
        items[56] = SignedStatement(b"\x93\x01\x02\x03", items[56].signer, items[56].signature)
    err = busy.refused(items, rule, "batch item 57")
    assert "batch item 57:" in err.detail
    for i in (1, 56, 58, 100):
        assert busy.ledger.record(CRED, "uni", busy.h(f"b-{i}")) is None
    assert busy.ledger.cred_entries("uni", busy.h("b-1")) == []
    # The same batch without the flaw goes in whole.
    items[56] = busy.issue(uni, "uni", "b-57")
    res = busy.append(*items)
    assert res.count == 100
    check_log(busy.ledger, map_proofs=False)


def test_refuses_entry_too_large(busy: World) -> None:
    uni = busy.key("uni#1")
    # The largest issue (256 parts) fits with room to spare: only a status list can be too big.
    parts = [f"p-{i}" for i in range(256)]
    busy.append(*[busy.issue(uni, "uni", p) for p in parts])
    busy.append(busy.issue(uni, "uni", "big", tuple(parts)))
    # No entry can hold this statement, so make_statement refuses it; built directly, it is
    # valid and signed, and the ledger must refuse it rather than write an oversized entry.
    st = Statement(PUBLISH_STATUS_LIST, "uni", busy.stamp(),
                   ("revocation", 0, 0, b"x" * (MAX_ENTRY_SIZE - 200)))
    with pytest.raises(EncodingError):
        make_statement(st.kind, st.issuer, st.time, *st.fields)
    busy.refused([sign_statement(st, uni.seed)], "entry-too-large")


# ----------------------------------------------------------------------------- parallel verify


_SERIAL_VERIFY = parallel_module.verify_statements


@pytest.fixture
def parallel(busy: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big-batch verification on 4 workers from 8 items, and no silent serial fallback."""
    monkeypatch.setattr(parallel_module, "PARALLEL_THRESHOLD", 8)
    busy.ledger.workers = 4  # the library checks in this process unless asked

    def serial(*args: object) -> None:
        raise AssertionError("the batch was verified serially")

    monkeypatch.setattr(parallel_module, "verify_statements", serial)


def test_parallelism_is_opt_in_for_library_callers(world: World,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A ledger opened without ``workers`` checks even a big batch in this process; asked for
    # workers, the same size of batch goes to them.
    started: list[int] = []
    real = parallel_module.start_signature_checks

    def start(items: Any, workers: int) -> Any:
        checks = real(items, workers)
        started.append(0 if checks is None else workers)
        return checks

    monkeypatch.setattr(parallel_module, "PARALLEL_THRESHOLD", 8)
    monkeypatch.setattr(parallel_module, "start_signature_checks", start)
    uni = world.key("uni#1")
    world.append(world.register("uni", uni), world.achievement(uni, "uni"))
    assert world.ledger.workers == 1
    world.append(*[world.issue(uni, "uni", f"o-{i}") for i in range(20)])
    path = world.ledger.store.path
    world.ledger.close()
    world.ledger = Ledger.open(path, workers=2)
    assert world.ledger.workers == 2
    world.append(*[world.issue(uni, "uni", f"p-{i}") for i in range(20)])
    assert started == [0, 0, 2]  # the registration, the default ledger's batch, the asked


@pytest.mark.usefixtures("parallel")
def test_parallel_verification(busy: World) -> None:
    uni = busy.key("uni#1")
    items = [busy.issue(uni, "uni", f"p-{i}") for i in range(1, 41)]  # 4 chunks of 10
    for bad_at in (15, 1, 40):  # the second chunk, the first (in this process), the last
        bad = list(items)
        bad[bad_at - 1] = SignedStatement(bad[bad_at - 1].statement, bad[bad_at - 1].signer,
                                          bytes(64))
        busy.refused(bad, "bad-signature", f"batch item {bad_at}:")
    malformed = list(items)
    malformed[24] = SignedStatement(b"\xc1", items[24].signer, items[24].signature)
    busy.refused(malformed, "malformed-statement", "batch item 25:")
    res = busy.append(*items)
    assert res.count == 40
    rec = busy.ledger.record(CRED, "uni", busy.h("p-40"))
    assert isinstance(rec, CredRecord) and rec.issued_index == res.first + 39
    check_log(busy.ledger, map_proofs=False)


def _bad_sig(item: SignedStatement) -> SignedStatement:
    return SignedStatement(item.statement, item.signer, bytes(64))


def _refusal_of(world: World, items: list[SignedStatement]) -> tuple[str, str]:
    before = world.ledger.head()
    with pytest.raises(RefusedError) as info:
        world.ledger.append(items)
    assert world.ledger.head() == before
    return info.value.rule, str(info.value)


def _signed_raw(seed: bytes, fields: list[Any], *, raw: bytes | None = None) -> SignedStatement:
    """A correctly signed statement of any bytes (``raw``, else ``fields`` packed)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = raw if raw is not None else msgpack.packb(fields, use_bin_type=True)
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return SignedStatement(data, key.public_key().public_bytes_raw(),
                           key.sign(signing_message(data)))


@pytest.mark.parametrize("case", ["rule-then-signature", "signature-then-rule", "short-sig",
                                  "bytearray-signer", "short-signer", "rule-then-malformed",
                                  "wrong-field-types", "parts-not-an-array", "non-canonical",
                                  "map-not-array", "two-values", "id-too-long",
                                  "id-too-long-unsigned"])
def test_parallel_refusals_match_the_serial_path(busy: World, case: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    uni = busy.key("uni#1")
    items = [busy.issue(uni, "uni", f"q-{i}") for i in range(1, 41)]
    if case == "rule-then-signature":  # a duplicate at item 5, a bad signature at item 31
        items[4] = busy.issue(uni, "uni", "q-1")
        items[30] = _bad_sig(items[30])
    elif case == "signature-then-rule":
        items[4] = _bad_sig(items[4])
        items[30] = busy.issue(uni, "uni", "q-1")
    elif case == "short-sig":
        items[9] = SignedStatement(items[9].statement, items[9].signer, items[9].signature[:63])
    elif case == "bytearray-signer":
        signer: Any = bytearray(items[9].signer)
        items[9] = SignedStatement(items[9].statement, signer, items[9].signature)
    elif case == "short-signer":
        items[9] = SignedStatement(items[9].statement, items[9].signer[:31], items[9].signature)
    else:
        # Signed statements that unpack but are not valid: the writer's trusted decoding takes
        # them, the strict checks in the workers must refuse them as the serial path does.
        t = busy.stamp()
        fields: list[Any] = [ISSUE, "uni", t, "q-x", SUBJECT, "title", None, None, []]
        raw = None
        if case == "rule-then-malformed":  # a duplicate at item 5, malformed at item 31
            items[4] = busy.issue(uni, "uni", "q-1")
            fields[3] = 12
        elif case == "wrong-field-types":
            fields[3:6] = [b"q-x", "subject", 7]
        elif case == "parts-not-an-array":
            fields[8] = 5
        elif case == "non-canonical":  # the array's length in 16 bits where 4 fit
            raw = b"\xdc\x00\x09" + msgpack.packb(fields, use_bin_type=True)[1:]
        elif case.startswith("id-too-long"):  # over the limit, and past LMDB's key size
            fields[3] = "a" * 600
        elif case == "map-not-array":
            raw = msgpack.packb({"kind": ISSUE})
        else:  # two values
            raw = msgpack.packb(fields, use_bin_type=True) + b"\x00"
        items[30 if case == "rule-then-malformed" else 9] = _signed_raw(uni.seed, fields, raw=raw)
        if case == "id-too-long-unsigned":  # the writer never checks signatures itself
            items[9] = _bad_sig(items[9])
    serial = _refusal_of(busy, items)
    monkeypatch.setattr(parallel_module, "PARALLEL_THRESHOLD", 8)
    busy.ledger.workers = 4
    assert _refusal_of(busy, items) == serial
    assert serial[0] == {"rule-then-signature": "bad-signature",
                         "signature-then-rule": "bad-signature"}.get(case, "malformed-statement")
    assert ("batch item 31:" if case.endswith("-then-signature") or case == "rule-then-malformed"
            else "batch item 5:" if case == "signature-then-rule" else "batch item 10:") in serial[1]


@pytest.mark.usefixtures("parallel")
def test_a_broken_worker_pool_falls_back(busy: World) -> None:
    import signal

    uni = busy.key("uni#1")
    busy.append(*[busy.issue(uni, "uni", f"w-{i}") for i in range(20)])  # the pool runs
    pool = parallel_module.worker_pool(4)
    for pid in list(pool._processes):  # kill its workers: the pool is broken for good
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    res = busy.append(*[busy.issue(uni, "uni", f"x-{i}") for i in range(20)])
    assert res.count == 20
    bad = [busy.issue(uni, "uni", f"y-{i}") for i in range(20)]
    bad[7] = _bad_sig(bad[7])
    busy.refused(bad, "bad-signature", "batch item 8:")
    assert busy.append(*[busy.issue(uni, "uni", f"z-{i}") for i in range(20)]).count == 20
    check_log(busy.ledger, map_proofs=False)

def test_the_caller_checks_the_chunks_no_worker_has(busy: World) -> None:
    # Rather than wait for the workers, the caller of a big batch checks the last chunks none
    # of them has (they get workers + 1 at a time, and run at a lower priority: when the
    # writer is done, it shares their work). A bad signature in the last chunk is found here,
    # with the index the serial path gives.
    uni = busy.key("uni#1")
    items = [busy.issue(uni, "uni", f"h-{i}") for i in range(4096)]
    items[-3] = _bad_sig(items[-3])
    checks = parallel_module.SignatureChecks(items, 2)
    shared = checks._shared
    with shared._lock:  # the workers have at most workers + 1 chunks at once (a finished one
        # gives out the next: how many have finished by now is up to the machine)
        given = checks._count - len(shared._waiting)
        finished = sum(f.done() for f in shared._futures.values())
        assert checks._count == 16 and shared._ahead == 3 and shared._out <= 3
        assert given - finished <= 3 and given >= 3
    with pytest.raises(RefusedError, match="batch item 4094:"):
        checks.raise_first(len(items))
    assert 15 in shared._local and shared._local[15][0] == 4093  # checked here
    good = parallel_module.SignatureChecks(items[:-3], 2)
    good.raise_first(len(items) - 3)  # every chunk, here or in a worker: all good
    assert good._shared._local and not good._shared._waiting
    own = os.getpriority(os.PRIO_PROCESS, 0)
    for pid in parallel_module.worker_pool(2)._processes:  # the workers run below this process
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, own + parallel_module.WORKER_NICENESS)


@pytest.mark.usefixtures("parallel")
def test_the_writer_hands_the_gil_over_while_the_workers_check(
        busy: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # While a big batch's signatures are checked in the workers, the writer lets the pool's
    # threads in every HANDOFF_EVERY entries (log.handoff: without it they starve, and the
    # workers wait for their next chunk); a batch checked in this process never does.
    done = [0]  # entries done so far: the writer reports each one before it may hand over
    calls: list[int] = []
    monkeypatch.setattr(parallel_module, "handoff", lambda: calls.append(done[0]))
    uni = busy.key("uni#1")
    items = [busy.issue(uni, "uni", f"g-{i}") for i in range(40)]
    assert busy.ledger.append(items, progress=lambda n: done.__setitem__(0, n)).count == 40
    every = parallel_module.HANDOFF_EVERY
    assert calls == list(range(1, 41, every))  # after entries 1, 17, 33 (every 16)
    calls.clear()
    monkeypatch.setattr(parallel_module, "PARALLEL_THRESHOLD", 1 << 20)
    monkeypatch.setattr(parallel_module, "verify_statements", _SERIAL_VERIFY)
    assert busy.append(*[busy.issue(uni, "uni", f"s-{i}") for i in range(40)]).count == 40
    assert calls == []


@pytest.mark.usefixtures("parallel")  # workers whatever the machine
def test_an_interrupted_batch_gives_the_workers_no_more(
        busy: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # A KeyboardInterrupt in the middle of a big batch (here from its progress callback) ends
    # the append; the chunks no worker has taken yet are not handed out after it, and nothing
    # was written.
    made: list[Any] = []
    real = parallel_module.start_signature_checks

    def start(items: Any, workers: int) -> Any:
        made.append(real(items, workers))
        return made[-1]

    monkeypatch.setattr(parallel_module, "start_signature_checks", start)
    uni = busy.key("uni#1")
    items = [busy.issue(uni, "uni", f"i-{i}") for i in range(4096)]
    size = busy.ledger.head().size

    def interrupt(n: int) -> None:
        if n == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        busy.ledger.append(items, progress=interrupt)
    shared = made[0]._shared
    assert shared._stopped and not shared._waiting
    assert busy.ledger.head().size == size
    assert busy.append(*items).count == 4096  # and the same batch goes through afterwards


def test_shared_checks_answer_every_chunk_in_order_even_after_stop() -> None:
    shared = parallel_module.SharedChecks(len, 2)  # the check: a chunk's length
    for i in range(12):
        shared.add([0] * i)
    assert [shared.verdict(i) for i in range(6)] == list(range(6))
    shared.stop()  # what nobody had taken is checked by the owner, on demand
    assert [shared.verdict(i) for i in range(6, 12)] == list(range(6, 12))


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_killed_mid_batch_never_hangs_the_batch(busy: World) -> None:
    # A worker dies while the caller is checking chunks too: the pool breaks, the caller checks
    # what the workers had, and the verdict is the right one. (With pool futures cancelled, as
    # an earlier version did, Python 3.11's pool manager thread died on a later break and the
    # batch could wait forever: CPython gh-107219. That thread's death is an unhandled thread
    # exception, an error here.)
    import signal
    import threading

    uni = busy.key("uni#1")
    base = [busy.issue(uni, "uni", f"k-{i}") for i in range(64)]
    items = [base[i % 64] for i in range(16384)]  # the checks only: no rules run here
    for bad_at in (None, 16000):
        batch = list(items)
        if bad_at is not None:
            batch[bad_at] = _bad_sig(batch[bad_at])
        parallel_module.worker_pool(2).submit(int).result()  # the pool is up
        checks = parallel_module.SignatureChecks(batch, 2)
        out: dict[str, Any] = {}

        def wait(checks: Any = checks, out: dict[str, Any] = out, total: int = len(batch)
                 ) -> None:
            try:
                checks.raise_first(total)
                out["r"] = "ok"
            except RefusedError as exc:
                out["r"] = str(exc)

        th = threading.Thread(target=wait, daemon=True)
        th.start()
        time.sleep(0.05)
        os.kill(next(iter(parallel_module.worker_pool(2)._processes)), signal.SIGKILL)
        th.join(120)
        assert not th.is_alive(), "the batch hung after a worker died"
        if bad_at is None:
            assert out["r"] == "ok"
        else:
            assert f"batch item {bad_at + 1}:" in out["r"]
        parallel_module._drop_pool()


# ----------------------------------------------------------------------------- re-open, self-check


def test_reopen_gives_the_same_head(busy: World) -> None:
    head = busy.ledger.head()
    note = busy.ledger.checkpoint()
    busy.ledger.close()
    with Ledger.open(busy.path) as again:
        assert again.head() == head
        assert again.checkpoint_note() == note
        assert again.origin == ORIGIN and again.registry == busy.registry.public_key
        check_log(again)
    with pytest.raises(StoreExistsError):
        Ledger.create(busy.path, ORIGIN)
    busy.ledger = Ledger.open(busy.path, clock=busy.clock)


def test_open_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError, match="credledger init"):
        Ledger.open(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreNotFoundError):
        Ledger.open(tmp_path / "empty")
    assert not (tmp_path / "nothing").exists()


def _edit_store(path: Path, edit: Any) -> None:
    """Change the closed store with lmdb directly, as damage or an attacker would."""
    env = lmdb.open(str(path), max_dbs=len(DB_NAMES) + 2, subdir=True)
    try:
        dbs = {name: env.open_db(name.encode()) for name in DB_NAMES}
        with env.begin(write=True) as txn:
            edit(txn, dbs)
    finally:
        env.close()


def _head_of(txn: lmdb.Transaction, dbs: dict[str, Any]) -> list[Any]:
    return _head_of_bytes(_get(txn, dbs["meta"], b"head"))


def _get(txn: lmdb.Transaction, db: Any, key: bytes) -> bytes:
    value = txn.get(key, db=db)
    assert value is not None
    return bytes(value)


def _set_head(txn: lmdb.Transaction, dbs: dict[str, Any], *values: Any) -> None:
    txn.put(b"head", msgpack.packb(list(values), use_bin_type=True), db=dbs["meta"])


def _flip_last_entry_byte(pos: int) -> Any:
    def edit(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        size = _head_of(txn, dbs)[0]
        data = bytearray(_get(txn, dbs["entries"], u64(size - 1)))
        data[pos] ^= 0x01
        txn.put(u64(size - 1), bytes(data), db=dbs["entries"])
    return edit


def _older_head(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
    size, _, _, t = _head_of(txn, dbs)
    prev = decode_entry(_get(txn, dbs["entries"], u64(size - 1)))
    _set_head(txn, dbs, size - 1, prev.prev_root, prev.state_root, t)


CORRUPTIONS: dict[str, Any] = {
    "head-deleted": lambda txn, dbs: txn.delete(b"head", db=dbs["meta"]),
    "head-garbage": lambda txn, dbs: txn.put(b"head", b"\xc1garbage", db=dbs["meta"]),
    "head-root": lambda txn, dbs: _set_head(txn, dbs, *_head_of(txn, dbs)[:1], bytes(32),
                                            *_head_of(txn, dbs)[2:]),
    "head-state-root": lambda txn, dbs: _set_head(txn, dbs, *_head_of(txn, dbs)[:2],
                                                  bytes(32), *_head_of(txn, dbs)[3:]),
    "head-size-plus-1": lambda txn, dbs: _set_head(txn, dbs, _head_of(txn, dbs)[0] + 1,
                                                   *_head_of(txn, dbs)[1:]),
    "head-older": _older_head,
    "head-size-0": lambda txn, dbs: _set_head(txn, dbs, 0, merkle.EMPTY_ROOT, bytes(32), 0),
    "last-leaf-node-deleted": lambda txn, dbs: txn.delete(
        tree_key(0, _head_of(txn, dbs)[0] - 1), db=dbs["tree"]),
    "top-tree-node-deleted": lambda txn, dbs: txn.delete(tree_key(3, 0), db=dbs["tree"]),
    "last-entry-deleted": lambda txn, dbs: txn.delete(u64(_head_of(txn, dbs)[0] - 1),
                                                      db=dbs["entries"]),
    "entry-after-head": lambda txn, dbs: txn.put(u64(_head_of(txn, dbs)[0]), b"\x90",
                                                 db=dbs["entries"]),
    "entry-far-after-head": lambda txn, dbs: txn.put(u64(_head_of(txn, dbs)[0] + 3), b"\x90",
                                                     db=dbs["entries"]),
    "last-entry-first-byte": _flip_last_entry_byte(0),
    "last-entry-middle-byte": _flip_last_entry_byte(100),
    "last-entry-last-byte": _flip_last_entry_byte(-1),
    "meta-origin-deleted": lambda txn, dbs: txn.delete(b"origin", db=dbs["meta"]),
}


def test_store_damage_does_not_hide_a_bad_item(busy: World, monkeypatch: pytest.MonkeyPatch,
                                               ) -> None:
    """Bad items are refused before the store is written (or read) on both paths, so damage
    that the write would trip over does not change which refusal a batch gets."""
    head = busy.ledger.head()
    busy.ledger.store.write(lambda t: t.put("entries", u64(head.size + 3), b"\x90"))
    uni = busy.key("uni#1")
    items = [busy.issue(uni, "uni", f"d-{i}") for i in range(40)]
    items[30] = _bad_sig(items[30])
    serial = _refusal_of(busy, items)
    monkeypatch.setattr(parallel_module, "PARALLEL_THRESHOLD", 8)
    busy.ledger.workers = 4
    assert _refusal_of(busy, items) == serial
    assert serial[0] == "bad-signature" and "batch item 31:" in serial[1]
    busy.ledger.store.write(lambda t: t._txn.delete(u64(head.size + 3),
                                                    db=t._dbs["entries"]))


def test_ids_of_the_longest_valid_lengths(world: World) -> None:
    """A 256-character issuer id and achievement id are valid: their index keys must fit
    LMDB's 511-byte key limit. A credential is named by its 45-character handle, so a
    credential's index prefix now always fits whole; longer pairs are still hashed."""
    issuer, ach = "i" * 256, "a" * 256
    k = world.key("long#1")
    world.append(world.signed(world.registry, REGISTER_ISSUER, issuer, "n", "https://x",
                              k.public_key), world.achievement(k, issuer, ach))
    res = world.append(world.issue(k, issuer, "long", achievement=ach),
                       world.issue(k, issuer, "short", achievement=ach))
    world.append(world.status(k, REVOKE, issuer, "long", "issued-in-error"))
    cred = world.h("long")
    assert world.ledger.cred_entries(issuer, cred) == [res.first, res.first + 2]
    assert world.ledger.cred_entries(issuer, world.h("short")) == [res.first + 1]
    assert snapshot_module.cred_index_prefix(issuer, cred) == msgpack.packb([issuer, cred])
    assert len(snapshot_module.cred_index_prefix(issuer, cred)) <= snapshot_module.MAX_CRED_PREFIX
    assert len(snapshot_module.cred_index_prefix(issuer, "c" * 256)) == 33
    assert snapshot_module.cred_index_prefix("uni", "c-1") == msgpack.packb(["uni", "c-1"])
    ach_rec = world.ledger.record(ACHIEVEMENT, issuer, ach)
    assert isinstance(ach_rec, AchievementRecord) and ach_rec.registered_at == 1
    check_log(world.ledger)


def test_append_refuses_when_entries_exist_past_the_head(busy: World) -> None:
    """LMDB's append mode skips, without an error, a key that is not after the last one: a
    stray entry past the head must stop the batch, not silently drop its entries."""
    head = busy.ledger.head()
    busy.ledger.store.write(lambda t: t.put("entries", u64(head.size + 3), b"\x90"))
    uni = busy.key("uni#1")
    with pytest.raises(StoreCorruptError, match="entries at or after its head"):
        busy.ledger.append([busy.issue(uni, "uni", f"s-{i}") for i in range(5)])
    assert busy.ledger.head() == head
    busy.ledger.store.write(lambda t: t._txn.delete(u64(head.size + 3),
                                                    db=t._dbs["entries"]))


def test_proof_over_a_missing_tree_node_is_store_corruption(busy: World) -> None:
    size = busy.ledger.head().size
    assert size >= 8
    busy.ledger.close()
    _edit_store(busy.path, lambda txn, dbs: txn.delete(tree_key(1, 0), db=dbs["tree"]))
    with Ledger.open(busy.path) as led:  # not on the tree's right edge: opening does not see it
        with pytest.raises(StoreCorruptError, match=r"tree node \(1, 0\) is missing"):
            led.inclusion_proof(2, size)
        with pytest.raises(StoreCorruptError, match=r"tree node \(1, 0\) is missing"):
            led.consistency_proof(3, size)
        assert len(led.inclusion_proof(size - 1, size)) > 0  # other proofs still work
    busy.ledger = Ledger.open(busy.path, clock=busy.clock)


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_open_detects_corruption(busy: World, corruption: str) -> None:
    busy.ledger.close()
    _edit_store(busy.path, CORRUPTIONS[corruption])
    with pytest.raises(StoreCorruptError):
        Ledger.open(busy.path)


def test_open_detects_every_flipped_head_byte(busy: World) -> None:
    busy.ledger.close()
    original: list[bytes] = []
    _edit_store(busy.path, lambda txn, dbs: original.append(bytes(txn.get(b"head",
                                                                          db=dbs["meta"]))))
    head = original[0]
    # Everything but the last-time field, which test_open_detects_wrong_last_time covers.
    checked = len(msgpack.packb(_head_of_bytes(head)[:3], use_bin_type=True))
    for pos in range(checked):
        for mask in (0x01, 0x80):
            changed = bytearray(head)
            changed[pos] ^= mask
            _put_head(busy.path, bytes(changed))
            with pytest.raises(StoreCorruptError):
                Ledger.open(busy.path)
    _put_head(busy.path, head)
    busy.ledger = Ledger.open(busy.path, clock=busy.clock)


def _put_head(path: Path, data: bytes) -> None:
    _edit_store(path, lambda txn, dbs: txn.put(b"head", data, db=dbs["meta"]))


def _head_of_bytes(data: bytes) -> list[Any]:
    values: list[Any] = msgpack.unpackb(data, raw=False)
    return values


@pytest.mark.parametrize("fake", [
    "last-time-changed",
    "last-time-text",
    "size-negative",
    "size-text",
    "size-nil",
    "root-short",
])
def test_open_detects_wrong_head_fields(busy: World, fake: str) -> None:
    busy.ledger.close()

    def edit(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        size, root, state_root, t = _head_of(txn, dbs)
        values = {"last-time-changed": [size, root, state_root, t + (1 << 40)],
                  "last-time-text": [size, root, state_root, "x"],
                  "size-negative": [-1, root, state_root, t],
                  "size-text": ["x", root, state_root, t],
                  "size-nil": [None, root, state_root, t],
                  "root-short": [size, root[:31], state_root, t]}[fake]
        _set_head(txn, dbs, *values)

    _edit_store(busy.path, edit)
    with pytest.raises(StoreCorruptError):
        Ledger.open(busy.path).close()


# ----------------------------------------------------------------------------- growth and cap


def _issues(w: World, signer: Signer, prefix: str, n: int) -> list[SignedStatement]:
    return [w.issue(signer, "uni", f"{prefix}-{i}") for i in range(n)]


def test_map_grows_when_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "INITIAL_MAP_SIZE", 128 << 10)
    monkeypatch.setattr(log_module, "RESERVE_PER_ITEM", 0)  # no growth ahead: inside the txn
    monkeypatch.delenv("CREDLEDGER_MAX_MAP_SIZE", raising=False)
    grown: list[int] = []
    grow = store_module.Store._grow

    def counting_grow(self: store_module.Store) -> None:
        grown.append(self.env.info()["map_size"])
        grow(self)

    monkeypatch.setattr(store_module.Store, "_grow", counting_grow)
    w = _new_world(tmp_path / "store")
    with w.ledger:
        k = w.key("uni#1")
        w.append(w.register("uni", k), w.achievement(k, "uni"))
        assert w.ledger.store.env.info()["map_size"] == 128 << 10
        assert grown == []
        w.append(*_issues(w, k, "a", 300))  # grows inside one transaction, retried
        assert grown[:2] == [128 << 10, 256 << 10]
        for n in range(3):
            w.append(*_issues(w, k, f"g{n}", 100))
        assert w.ledger.store.env.info()["map_size"] > 128 << 10
        assert w.ledger.store.data_size() > 128 << 10
        check_log(w.ledger, map_proofs=False)
        head = w.ledger.head()
    with Ledger.open(w.path) as again:
        assert again.head() == head


def test_append_grows_the_map_ahead_instead_of_redoing_the_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "INITIAL_MAP_SIZE", 128 << 10)
    monkeypatch.delenv("CREDLEDGER_MAX_MAP_SIZE", raising=False)
    w = _new_world(tmp_path / "store")
    with w.ledger:
        k = w.key("uni#1")
        w.append(w.register("uni", k), w.achievement(k, "uni"))
        runs = [0]
        write = store_module.Store.write

        def counting_write(self: store_module.Store, fn: Any, **kw: Any) -> Any:
            def counted(txn: Any) -> Any:
                runs[0] += 1
                return fn(txn)
            return write(self, counted, **kw)

        monkeypatch.setattr(store_module.Store, "write", counting_write)
        w.append(*_issues(w, k, "a", 300))  # several times what the map holds now
        assert runs == [1], "the batch was done again after growing the map"
        assert w.ledger.store.env.info()["map_size"] >= 1 << 20
        check_log(w.ledger, map_proofs=False)


def _cap_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDLEDGER_MAX_MAP_SIZE", str(1 << 20))
    w = _new_world(tmp_path / "store")
    with w.ledger:
        k = w.key("uni#1")
        w.append(w.register("uni", k), w.achievement(k, "uni"))
        w.append(*_issues(w, k, "small", 10))
        before = w.ledger.head()
        with pytest.raises(StoreFullError, match="CREDLEDGER_MAX_MAP_SIZE"):
            w.ledger.append(_issues(w, k, "big", 1500))
        assert w.ledger.head() == before
        assert w.ledger.record(CRED, "uni", w.h("big-0")) is None
        # Still usable: a small batch fits, and the store checks out.
        w.append(*_issues(w, k, "after", 5))
        check_log(w.ledger, map_proofs=False)


def test_cap_refuses_with_store_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "INITIAL_MAP_SIZE", 256 << 10)
    _cap_case(tmp_path, monkeypatch)


def test_cap_below_the_initial_map_size(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_module.INITIAL_MAP_SIZE > 1 << 20
    _cap_case(tmp_path, monkeypatch)


def test_bad_cap_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDLEDGER_MAX_MAP_SIZE", "lots")
    with pytest.raises(StoreError, match="CREDLEDGER_MAX_MAP_SIZE"):
        Ledger.create(tmp_path / "store", ORIGIN)



# ----------------------------------------------------------------------------- network file systems


def test_refuses_a_store_on_a_network_file_system(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    Ledger.create(tmp_path / "store", ORIGIN)[0].close()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\n"
                      f"server:/export {tmp_path} nfs4 rw,relatime 0 0\n")
    monkeypatch.setattr(store_module, "MOUNTS_FILE", str(mounts))
    assert store_module.file_system_type(tmp_path / "store") == "nfs4"
    for attempt in (lambda: Ledger.open(tmp_path / "store"),
                    lambda: Ledger.create(tmp_path / "other", ORIGIN)):
        with pytest.raises(StoreError, match=r"network file system \(nfs4\)"):
            attempt()
    assert not (tmp_path / "other").exists()  # refused before anything is created
    monkeypatch.setenv("CREDLEDGER_ALLOW_NETWORK_FS", "1")
    Ledger.open(tmp_path / "store").close()
    # A local mount deeper than the network one wins.
    monkeypatch.delenv("CREDLEDGER_ALLOW_NETWORK_FS")
    mounts.write_text(f"server:/export {tmp_path} nfs4 rw 0 0\n"
                      f"tmpfs {tmp_path}/store tmpfs rw 0 0\n")
    Ledger.open(tmp_path / "store").close()
    assert store_module.file_system_type(tmp_path / "storex") == "nfs4"
    # Mount points are written with octal escapes for space, tab, newline and backslash.
    odd = tmp_path / "a b\tc"
    escaped = str(odd).replace(" ", "\\040").replace("\t", "\\011")
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nserver:/x {escaped} nfs rw 0 0\n")
    assert store_module.file_system_type(odd / "store") == "nfs"


def test_collection_paused_restores_the_collector(world: World) -> None:
    """Bulk work pauses the cyclic collector and gives it back as it found it, on errors too."""
    import gc

    assert gc.isenabled()
    seen: list[bool] = []
    real = log_module.Ledger._append

    def spy(self: Ledger, *args: Any) -> Any:
        seen.append(gc.isenabled())
        return real(self, *args)

    log_module.Ledger._append = spy  # type: ignore[method-assign]
    key = world.key("uni")
    try:
        world.append(world.register("uni", key), world.achievement(key, "uni"))
        world.refused([world.issue(key, "nobody", "c-1")], "unknown-issuer")
    finally:
        log_module.Ledger._append = real  # type: ignore[method-assign]
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


# ---------------------------------------------------------------------------------------------
# Map nodes stored by location (format v2), and stores written before (v1: nodes by hash).


@pytest.mark.parametrize("old", [b"credential-ledger/v1", b"credential-ledger/v2"])
@pytest.mark.parametrize("store", ["fresh", "busy"])
def test_a_store_of_entry_format_1_is_refused_by_name(tmp_path: Path, old: bytes,
                                                      store: str) -> None:
    """docs/FORMAT.md §4: store formats v1 and v2 hold entry format 1 (credential ids, titles
    and free-text reasons in the log); this version refuses to open them, naming both entry
    formats, read-only or not, and never rewrites them."""
    w = _new_world(tmp_path / "store")
    if store == "busy":
        k = w.key("uni#1")
        w.append(w.register("uni", k), w.achievement(k, "uni"), w.issue(k, "uni", "c-1"))
    head = w.ledger.head()
    assert w.ledger.store.read(lambda t: t.get("meta", b"format")) == store_module.FORMAT
    assert store_module.FORMAT == b"credential-ledger/v3"
    w.ledger.store.write(lambda t: t.put("meta", b"format", old))
    w.ledger.close()
    for readonly in (False, True):
        with pytest.raises(StoreCorruptError) as info:
            Ledger.open(w.path, readonly=readonly)
        message = str(info.value)
        del info  # its traceback holds the refused Ledger, whose store Ledger.open leaves open
        assert "entry format 1" in message and "entry format 2" in message, message
        assert old.decode() in message and "credential-ledger/v3" in message, message
        assert "unknown store format" not in message
    # Nothing was changed: restoring the format gives back the same log.
    def restore(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        assert txn.get(b"format", db=dbs["meta"]) == old, "the refused store was rewritten"
        txn.put(b"format", store_module.FORMAT, db=dbs["meta"])

    _edit_store(w.path, restore)
    with Ledger.open(w.path) as led:
        assert led.head() == head
        led.self_check()


def test_map_nodes_are_appended_per_batch_children_first(world: World) -> None:
    """Each batch's nodes sit at (first index of the batch, 0, 1, ...), after every earlier
    batch's, each branch after its children, and ``maproots`` locates each batch's root."""
    k = world.key("uni#1")
    world.append(world.register("uni", k), world.achievement(k, "uni"))
    world.append(*[world.issue(k, "uni", f"c-{i}") for i in range(12)])
    world.append(world.status(k, REVOKE, "uni", "c-5"))
    rows = world.ledger.store.read(lambda t: list(t.items("mapnodes")))
    batches = sorted({int.from_bytes(loc[:8], "big") for loc, _ in rows})
    assert batches == [0, 2, 14]
    where = {loc: value for loc, value in rows}
    for loc, value in rows:
        assert int.from_bytes(loc[8:], "big") < sum(1 for r in rows if r[0][:8] == loc[:8])
        if value[0] == 3:
            for child_hash, child_loc in ((value[1:33], value[65:77]), (value[33:65], value[77:])):
                if child_hash == smt.EMPTY:
                    assert child_loc == store_module.NO_CHILD
                    continue
                assert child_loc < loc  # children first (an earlier batch, or earlier in it)
                assert hashlib.sha256(where[child_loc][:65]).digest() == child_hash
    for size in world.sizes:
        root = world.ledger.entry(size - 1).state_root
        loc = world.ledger.store.read(lambda t, r=root: t.get("maproots", r))
        assert loc is not None and hashlib.sha256(where[loc][:65]).digest() == root


def test_a_map_node_at_a_wrong_location_is_store_corruption(busy: World) -> None:
    """A branch whose child location points at another node: proofs and appends through it
    fail with a store error naming the location, and nothing is written."""
    state_root = busy.ledger.head().state_root
    key = busy.ledger.record(CRED, "uni", busy.h("c-1"))
    assert key is not None
    busy.ledger.close()

    def misdirect(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        loc = _get(txn, dbs["maproots"], state_root)
        root = bytearray(_get(txn, dbs["mapnodes"], loc))
        root[65:77], root[77:89] = root[77:89], root[65:77]  # each side's location swapped
        txn.put(loc, bytes(root), db=dbs["mapnodes"])

    _edit_store(busy.path, misdirect)
    with Ledger.open(busy.path, clock=busy.clock) as led:
        head = led.head()
        with pytest.raises(StoreCorruptError, match="map node at location .* does not hash"):
            led.map_proof(key.key(), state_root)
        with pytest.raises(StoreCorruptError, match="does not hash"):
            led.append([busy.issue(busy.key("uni#1"), "uni", "c-new")])
        assert led.head() == head
    busy.ledger = Ledger.open(busy.path, clock=busy.clock)


def test_a_store_of_an_unknown_format_is_not_opened(busy: World) -> None:
    busy.ledger.close()
    _edit_store(busy.path, lambda txn, dbs: txn.put(b"format", b"credential-ledger/v9",
                                                    db=dbs["meta"]))
    with pytest.raises(StoreCorruptError, match="unknown store format"):
        Ledger.open(busy.path)
    _edit_store(busy.path, lambda txn, dbs: txn.put(b"format", store_module.FORMAT,
                                                    db=dbs["meta"]))
    busy.ledger = Ledger.open(busy.path, clock=busy.clock)


def test_map_nodes_refuse_a_parent_before_its_child(world: World) -> None:
    """MapNodes.add stores children first; given a branch before a new child (or over a child
    it cannot locate), it raises and the transaction writes nothing."""
    leaf_a = b"\x02" + b"\x11" * 32 + b"\x22" * 32
    leaf_b = b"\x02" + b"\x99" * 32 + b"\x22" * 32
    ha, hb = hashlib.sha256(leaf_a).digest(), hashlib.sha256(leaf_b).digest()
    branch = b"\x03" + ha + hb
    hr = hashlib.sha256(branch).digest()

    def add(order: list[tuple[bytes, bytes]]) -> Any:
        return lambda t: store_module.MapNodes(t, smt.EMPTY).add(
            1000, hr, dict(order))

    with pytest.raises(StoreCorruptError, match="neither mapnodes nor nodes"):
        world.ledger.store.write(add([(hr, branch), (ha, leaf_a), (hb, leaf_b)]))
    with pytest.raises(StoreCorruptError, match="not among the batch's new nodes"):
        world.ledger.store.write(add([(ha, leaf_a)]))
    assert world.ledger.store.read(lambda t: list(t.items("mapnodes"))) == []
    assert world.ledger.store.write(add([(ha, leaf_a), (hb, leaf_b), (hr, branch)])) == 3
    with pytest.raises(StoreCorruptError, match="already holds map nodes at or after batch"):
        world.ledger.store.write(add([(ha, leaf_a), (hb, leaf_b), (hr, branch)]))
    stored = world.ledger.store.read(lambda t: t.get("mapnodes", store_module.u64(1000) + bytes(
        [0, 0, 0, 2])))
    assert stored == branch + store_module.u64(1000) + bytes(4) + store_module.u64(1000) + bytes(
        [0, 0, 0, 1])


def test_an_open_ledger_refuses_to_append_to_a_store_of_an_unknown_format(busy: World) -> None:
    """The format is checked inside the append's transaction too: another program may have
    changed it since this ledger was opened. None is upgraded, not even an earlier
    credential-ledger's (v1, v2: entry format 1); nothing is written."""
    head = busy.ledger.head()
    for fmt in (b"credential-ledger/v9", b"credential-ledger/v1", b"credential-ledger/v2"):
        busy.ledger.store.write(lambda t, f=fmt: t.put("meta", b"format", f))
        with pytest.raises(StoreCorruptError, match="unknown store format"):
            busy.ledger.append([busy.issue(busy.key("uni#1"), "uni", "c-late")])
        assert busy.ledger.head() == head
        assert busy.ledger.store.read(lambda t: t.get("meta", b"format")) == fmt
    busy.ledger.store.write(lambda t: t.put("meta", b"format", store_module.FORMAT))


def test_map_proof_of_a_malformed_root_is_an_encoding_error(busy: World) -> None:
    key = hashlib.sha256(b"any").digest()
    for root in (b"", b"\x01" * 31, "not bytes"):
        with pytest.raises(EncodingError, match="map root"):
            busy.ledger.map_proof(key, root)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        busy.ledger.map_proof(key, b"\x01" * 32)


def test_map_nodes_never_read_empty(busy: World) -> None:
    """EMPTY is the hash of no node, even after reading a branch with an EMPTY side (whose
    stored location is 12 zero bytes, the same bytes as the real location (0, 0))."""
    root = busy.ledger.head().state_root

    def walk(t: Any) -> None:
        nodes = store_module.MapNodes(t, root)
        stack = [root]
        while stack:
            h = stack.pop()
            encoding = nodes.get(h)
            assert encoding is not None and hashlib.sha256(encoding).digest() == h
            if encoding[0] == 3:
                stack += [c for c in (encoding[1:33], encoding[33:]) if c != smt.EMPTY]
        assert nodes.get(smt.EMPTY) is None

    busy.ledger.store.read(walk)


def test_overlapping_collection_pauses_end_with_the_last() -> None:
    import gc

    assert gc.isenabled()
    first, second = collection_paused(), collection_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second is still running
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_publish_status_list_checks_the_whole_public_key(busy: World,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A key id is 8 bytes of SHA-256: a key whose id collides with the issuer's (a 2**64
    search) must not publish that key's lists. Every other rule compares the whole key
    (rules._active_key); so must publish-status-list. Simulated with a key_id that collides."""
    import ledger.rules as rules_module

    uni = busy.key("uni#1")
    real = key_id(uni.public_key)
    monkeypatch.setattr(rules_module, "key_id", lambda _pub: real)
    forger = busy.key("forger")
    st = publish_statement("uni", busy.stamp(), tree_size=1)
    busy.refused([sign_statement(st, forger.seed)], "wrong-signer")
    busy.append(sign_statement(st, uni.seed))
