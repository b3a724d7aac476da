"""Tests for ledger.audit.audit_store: a genuine store passes; every kind of damage or rewriting
of the store fails with an AuditError naming the entry and the rule, whether the entries are
checked in this process or on worker processes, in one chunk or many.

The store is edited with lmdb directly, as damage or a dishonest operator would; entries that
are rewritten keep a valid signature where the case needs it, so the check that must catch the
change is the one named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lmdb
import pytest
from statements import handle, issue, register_achievement

import ledger.audit as audit_module
import ledger.parallel as parallel_module
from ledger.audit import audit_store
from ledger.errors import AuditError
from ledger.events import (
    REGISTER_ISSUER,
    REVOKE,
    SUSPEND,
    Entry,
    decode_entry,
    make_statement,
    sign_statement,
)
from ledger.log import Ledger
from ledger.note import Signer
from ledger.records import map_key
from ledger.store import DB_NAMES, tree_key, u64

ORIGIN = "audit.example/log"
T0 = 1_767_225_600_000
SUBJECT = hashlib.sha256(b"subject").digest()
Edit = Callable[[lmdb.Transaction, dict[str, Any]], None]


def _build(path: Path) -> None:
    led, _, registry = Ledger.create(path, ORIGIN, clock=lambda: T0 + 10**9)
    uni = Signer.generate("uni")
    t = T0

    def signed(signer: Signer, kind: str, *fields: Any) -> Any:
        nonlocal t
        t += 1
        return sign_statement(make_statement(kind, "uni", t, *fields), signer.seed)

    def issued(name: str) -> Any:
        nonlocal t
        t += 1
        return sign_statement(issue("uni", t, _h(name)), uni.seed)

    led.append([signed(registry, REGISTER_ISSUER, "Uni", "https://uni.example", uni.public_key)])
    for batch in range(3):
        # The first batch opens with the achievement in place of c-0-0: the entries' indexes
        # stay those the cases below name.
        first = [sign_statement(register_achievement("uni", t), uni.seed)] if batch == 0 else []
        led.append(first + [issued(f"c-{batch}-{i}") for i in range(len(first), 20)])
        led.checkpoint()
    led.append([signed(uni, REVOKE, _h("c-0-3"), "issued-in-error"),
                signed(uni, SUSPEND, _h("c-1-4"), "unspecified")])
    led.checkpoint()
    led.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "s"
    _build(path)
    return path


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "s"
    copy.mkdir()
    for name in ("data.mdb", "lock.mdb"):
        (copy / name).write_bytes((pristine / name).read_bytes())
    (copy / "keys").symlink_to(pristine / "keys")
    return copy


def _edit(path: Path, edit: Edit) -> None:
    env = lmdb.open(str(path), max_dbs=len(DB_NAMES) + 2, subdir=True)
    try:
        dbs = {name: env.open_db(name.encode()) for name in DB_NAMES}
        with env.begin(write=True) as txn:
            edit(txn, dbs)
    finally:
        env.close()


def _entry(txn: lmdb.Transaction, dbs: dict[str, Any], i: int) -> Entry:
    return decode_entry(bytes(txn.get(u64(i), db=dbs["entries"])))


def _rewrite(i: int, **changes: Any) -> Edit:
    """Entry ``i`` re-encoded with some fields changed (its signature stays valid unless the
    statement, signer or signature are among them)."""
    def edit(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        e = _entry(txn, dbs, i)
        fields = {"index": e.index, "time": e.time, "prev_root": e.prev_root,
                  "state_root": e.state_root, "statement": e.statement, "signer": e.signer,
                  "signature": e.signature, **changes}
        txn.put(u64(i), Entry(**fields).encode(), db=dbs["entries"])
    return edit


def _replay_statement(i: int, source: int) -> Edit:
    """Entry ``i`` carries entry ``source``'s signed statement (a valid signature; the roots
    entry ``i`` claims are left as they were)."""
    def edit(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        src = _entry(txn, dbs, source)
        _rewrite(i, statement=src.statement, signer=src.signer, signature=src.signature)(txn, dbs)
    return edit


def _flip_signature(i: int) -> Edit:
    def edit(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        e = _entry(txn, dbs, i)
        _rewrite(i, signature=e.signature[:10] + bytes([e.signature[10] ^ 1])
                 + e.signature[11:])(txn, dbs)
    return edit


def _h(name: str) -> str:
    """The handle of credential c-BATCH-I: handle(100 * BATCH + I + 1)."""
    _, b, i = name.split("-")
    return handle(100 * int(b) + int(i) + 1)


def _cred_key(cred: str) -> bytes:
    return map_key("cred", "uni", _h(cred))


def _status_value(cred: str, value: bytes) -> Edit:
    return lambda txn, dbs: txn.put(_cred_key(cred), value, db=dbs["status"])


def _record_bytes(cred: str) -> Edit:
    def edit(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
        vh = bytes(txn.get(_cred_key(cred), db=dbs["status"]))
        data = bytearray(txn.get(vh, db=dbs["records"]))
        data[-1] ^= 1
        txn.put(vh, bytes(data), db=dbs["records"])
    return edit


def _tree_node(level: int, index: int) -> Edit:
    return lambda txn, dbs: txn.put(tree_key(level, index), bytes(32), db=dbs["tree"])


def _checkpoint_signature(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
    key = u64(21)
    note = bytearray(txn.get(key, db=dbs["checkpoints"]))
    note[-5] = ord("A") if note[-5] != ord("A") else ord("B")
    txn.put(key, bytes(note), db=dbs["checkpoints"])


def _last_batch_first_node(txn: lmdb.Transaction, dbs: dict[str, Any]) -> bytes:
    """The location of the newest batch's first map node (a leaf the head's map reaches)."""
    with txn.cursor(db=dbs["mapnodes"]) as cur:
        assert cur.last()
        return bytes(cur.key())[:8] + bytes(4)


def _map_node_bytes(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
    loc = _last_batch_first_node(txn, dbs)
    value = bytearray(txn.get(loc, db=dbs["mapnodes"]))
    value[-1] ^= 1
    txn.put(loc, bytes(value), db=dbs["mapnodes"])


def _map_root_truncated(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
    """The head's map root, a branch, stored without its children's locations (a v2 branch
    is 89 bytes; 65 is a v1 branch, which only ``nodes`` may hold)."""
    root = _entry(txn, dbs, txn.stat(dbs["entries"])["entries"] - 1).state_root
    loc = bytes(txn.get(root, db=dbs["maproots"]))
    txn.put(loc, bytes(txn.get(loc, db=dbs["mapnodes"]))[:65], db=dbs["mapnodes"])


def _checkpoint_map_root(txn: lmdb.Transaction, dbs: dict[str, Any]) -> None:
    assert txn.delete(_entry(txn, dbs, 20).state_root, db=dbs["maproots"])  # checkpoint 21


# (edit, the entry named (None: the whole store), the rule in the message)
CASES: dict[str, tuple[Edit, int | None, str]] = {
    "entry-garbage": (lambda txn, dbs: txn.put(u64(10), b"\xc1", db=dbs["entries"]), 10,
                      "encoding"),
    "entry-non-canonical": (lambda txn, dbs: txn.put(
        u64(10), b"\xdc\x00\x08" + bytes(_entry(txn, dbs, 10).encode())[1:],
        db=dbs["entries"]), 10, "encoding"),
    "entry-missing": (lambda txn, dbs: txn.delete(u64(10), db=dbs["entries"]), 10, "missing"),
    "signature": (_flip_signature(10), 10, "signature"),
    "index": (_rewrite(10, index=11), 10, "index"),
    "prev-root": (_rewrite(10, prev_root=bytes(32)), 10, "prev_root"),
    "state-root": (_rewrite(10, state_root=bytes(32)), 10, "state_root"),
    "time-order": (_rewrite(10, time=0), 10, "time-order"),
    "duplicate-credential": (_replay_statement(12, 11), 12, "rule duplicate-credential"),
    "revocation-before-its-issue": (_replay_statement(2, 61), 2, "rule unknown-credential"),
    "tree-leaf": (_tree_node(0, 7), 7, "tree"),
    "tree-inner": (_tree_node(3, 1), None, "tree"),
    "status-value": (_status_value("c-0-5", bytes(32)), None, "status-index"),
    "status-extra": (lambda txn, dbs: txn.put(_cred_key("c-9-9"), bytes(32), db=dbs["status"]),
                     None, "status-index"),
    "status-deleted": (lambda txn, dbs: txn.delete(_cred_key("c-2-2"), db=dbs["status"]),
                       None, "status-index"),
    "record-bytes": (_record_bytes("c-0-3"), None, "status-index"),
    "checkpoint-signature": (_checkpoint_signature, None, "checkpoint"),
    "map-node-missing": (lambda txn, dbs: txn.delete(_last_batch_first_node(txn, dbs),
                                                     db=dbs["mapnodes"]), None, "map"),
    "map-node-bytes": (_map_node_bytes, None, "map"),
    "map-root-truncated": (_map_root_truncated, None, "map"),
    "map-root-of-a-checkpoint": (_checkpoint_map_root, None, "map"),
}


@pytest.mark.parametrize("workers", [1, 2])
def test_genuine_store_passes(store: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_module, "CHUNK", 8)  # many chunks, several in flight
    with Ledger.open(store) as led:
        report = audit_store(led, workers=workers)
        assert (report.size, report.root) == (led.head().size, led.head().root)
    assert (report.issuers, report.credentials, report.revocations, report.suspensions,
            report.achievements, report.checkpoints) == (1, 59, 1, 1, 1, 4)


@pytest.mark.parametrize("chunk", [8, 2048])
@pytest.mark.parametrize("case", list(CASES))
def test_damage_is_found(store: Path, case: str, chunk: int,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    edit, index, rule = CASES[case]
    _edit(store, edit)
    monkeypatch.setattr(audit_module, "CHUNK", chunk)
    messages = []
    with Ledger.open(store) as led:
        for workers in (1, 2):  # in this process, then on worker processes: the same verdict
            with pytest.raises(AuditError) as info:
                audit_store(led, workers=workers)
            assert info.value.index == index, str(info.value)
            assert info.value.rule == rule, str(info.value)
            messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_the_replay_checks_chunks_too_and_reads_verdicts_in_order(pristine: Path) -> None:
    # verified_chunks gives the workers a few chunks at a time; the replay checks the last ones
    # nobody has rather than wait. Verdicts come back in order, each with its own chunk.
    with Ledger.open(pristine) as led:
        good = [led.entry_bytes(i) for i in range(led.head().size)]
    chunks = [list(good) for _ in range(12)]
    chunks[9] = [b"\x00garbage", *good[1:]]
    seen = []
    for chunk, verdict in parallel_module.verified_chunks(iter(chunks), workers=2):
        seen.append((chunk is chunks[len(seen)], verdict))
    assert [ok for ok, _ in seen] == [True] * 12
    assert [v is None for _, v in seen] == [i != 9 for i in range(12)]
    assert seen[9][1] is not None and seen[9][1][0] == 0


def test_entry_failures_are_classified_by_type_not_by_words(pristine: Path) -> None:
    # A signature field of the wrong size is an encoding error, though its message names the
    # signature; a well-formed signature that does not verify is a signature error.
    import msgpack

    with Ledger.open(pristine) as led:
        good = led.entry_bytes(1)
    fields = msgpack.unpackb(good, raw=True)
    short = list(fields)
    short[-1] = fields[-1][:63]
    forged = list(fields)
    forged[-1] = bytes(64)
    for changed, rule in ((short, "encoding"), (forged, "signature")):
        verdict = parallel_module.check_entry_chunk([good, msgpack.packb(changed)])
        assert verdict is not None and verdict[:2] == (1, rule), verdict
        assert "signature" in verdict[2]
