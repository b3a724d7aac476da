"""Witnesses: cosign only consistent checkpoints, and the verifier's witness policy.

A small ledger is built through the library; a witness cosigns its checkpoints as the log
grows, refuses a fork and a rollback, and the policy of ``verify --witness/--min-witnesses/
--max-age`` counts only trusted, valid cosignatures (and only those not dated after the time
of the check for freshness).
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from ledger.errors import SignatureError
from ledger.events import ISSUE, REGISTER_ISSUER, make_statement, sign_statement
from ledger.log import Ledger
from ledger.note import Signer
from ledger.witness import (
    MAX_CLOCK_SKEW_MS,
    Witness,
    WitnessKey,
    WitnessRefused,
    add_cosignature,
    check_witness_policy,
    merge_cosignatures,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000


class Log:
    def __init__(self, path: Path) -> None:
        clock = itertools.count(T0, 1000)
        self.ledger, self.log_signer, registry = Ledger.create(path, "w.example/log",
                                                               clock=lambda: next(clock))
        self.uni = Signer.generate("uni")
        self.n = 0
        st = make_statement(REGISTER_ISSUER, "uni", T0, "Uni", "", self.uni.public_key)
        self.ledger.append([sign_statement(st, registry.seed)])

    def grow(self, k: int) -> str:
        items = []
        for _ in range(k):
            self.n += 1
            st = make_statement(ISSUE, "uni", T0, f"c-{self.n}", hashlib.sha256(b"%d" % self.n)
                                .digest(), "Course", None, None, [])
            items.append(sign_statement(st, self.uni.seed))
        self.ledger.append(items)
        return self.ledger.checkpoint()


@pytest.fixture
def log(tmp_path: Path) -> Log:
    return Log(tmp_path / "store")


def test_witness_cosigns_only_consistent_growth(log: Log, tmp_path: Path) -> None:
    w = Witness.create(tmp_path / "w", "w1.example")
    key = log.log_signer.verifier()
    first = log.grow(3)
    size1 = log.ledger.head().size
    cosigned1 = w.cosign(first, key, [], now_ms=T0 + HOUR)
    assert cosigned1.startswith(first.split("\n\n")[0]) and cosigned1.count("\u2014 ") == 2
    second = log.grow(5)
    size2 = log.ledger.head().size
    proof = log.ledger.consistency_proof(size1, size2)
    cosigned2 = w.cosign(second, key, proof, now_ms=T0 + 2 * HOUR)
    assert w.state()["w.example/log"]["size"] == size2
    # Without the proof, with a wrong proof, or going back to the smaller size: refused.
    with pytest.raises(WitnessRefused, match="larger size"):
        w.cosign(first, key, [], now_ms=T0 + 3 * HOUR)
    third = log.grow(1)
    with pytest.raises(WitnessRefused, match="not consistent"):
        w.cosign(third, key, [], now_ms=T0 + 3 * HOUR)
    with pytest.raises(WitnessRefused, match="not consistent"):
        w.cosign(third, key, [bytes(32)] * len(log.ledger.consistency_proof(size2, size2 + 1)),
                 now_ms=T0 + 3 * HOUR)
    assert w.state()["w.example/log"]["size"] == size2  # a refusal changes nothing
    # The stored checkpoint takes the cosignature; merging is idempotent.
    merged = merge_cosignatures(second, cosigned2)
    assert merge_cosignatures(merged, cosigned2) == merged


def test_witness_refuses_a_fork(tmp_path: Path) -> None:
    # A forked operator: two histories under the same log key that share a prefix. The witness
    # that cosigned one refuses the other's larger checkpoint, even with that history's own
    # (valid) consistency proof.
    import shutil

    a = Log(tmp_path / "a")
    w = Witness.create(tmp_path / "w", "w1.example")
    key = a.log_signer.verifier()
    w.cosign(a.grow(2), key, [], now_ms=T0)
    shared = a.ledger.head().size
    a.ledger.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    clock = itertools.count(T0 + HOUR, 1000)
    a.ledger = Ledger.open(tmp_path / "a", clock=lambda: next(clock))
    b = Log.__new__(Log)
    b.ledger, b.log_signer, b.uni, b.n = (Ledger.open(tmp_path / "b", clock=lambda: next(clock)),
                                          a.log_signer, a.uni, 100)
    a_note = a.grow(3)
    w.cosign(a_note, key, a.ledger.consistency_proof(shared, shared + 3), now_ms=T0 + HOUR)
    b_note = b.grow(5)  # other entries after the shared prefix, signed by the same log key
    b_proof = b.ledger.consistency_proof(shared + 3, shared + 5)
    with pytest.raises(WitnessRefused, match="not consistent"):
        w.cosign(b_note, key, b_proof, now_ms=T0 + 2 * HOUR)
    assert w.state()["w.example/log"]["size"] == shared + 3


def test_witness_refuses_another_log_key_for_the_same_origin(tmp_path: Path) -> None:
    a, b = Log(tmp_path / "a"), Log(tmp_path / "b")  # the same origin, two log keys
    w = Witness.create(tmp_path / "w", "w1.example")
    w.cosign(a.grow(2), a.log_signer.verifier(), [], now_ms=T0)
    size = a.ledger.head().size
    b_note = b.grow(4)
    with pytest.raises(WitnessRefused, match="follows w.example/log under the log key"):
        w.cosign(b_note, b.log_signer.verifier(), [], now_ms=T0 + HOUR)
    assert w.state()["w.example/log"]["size"] == size
    assert w.state()["w.example/log"]["log_key"] == str(a.log_signer.verifier())


def test_policy_counts_trusted_valid_cosignatures(log: Log) -> None:
    note = log.grow(2)
    w1, w2, stranger = (WitnessKey.generate(n) for n in ("w1.example", "w2.example", "x.example"))
    cosigned = add_cosignature(note, w1, (T0 + HOUR) // 1000)
    cosigned = add_cosignature(cosigned, stranger, (T0 + HOUR) // 1000)
    trusted = [w1.verifier(), w2.verifier()]
    now = T0 + 2 * HOUR
    assert set(check_witness_policy(cosigned, trusted, min_witnesses=1, max_age_ms=None,
                                    now_ms=now)) == {"w1.example"}
    with pytest.raises(SignatureError, match="want at least 2"):
        check_witness_policy(cosigned, trusted, min_witnesses=2, max_age_ms=None, now_ms=now)
    check_witness_policy(cosigned, trusted, min_witnesses=1, max_age_ms=2 * HOUR, now_ms=now)
    with pytest.raises(SignatureError, match="older than"):
        check_witness_policy(cosigned, trusted, min_witnesses=1, max_age_ms=HOUR // 2,
                             now_ms=now)


def test_future_dated_cosignatures_cannot_show_freshness(log: Log) -> None:
    note = log.grow(1)
    w1, w2 = WitnessKey.generate("w1.example"), WitnessKey.generate("w2.example")
    now = T0 + 10 * HOUR
    fast = add_cosignature(note, w1, (now + MAX_CLOCK_SKEW_MS + 60_000) // 1000)
    trusted = [w1.verifier(), w2.verifier()]
    # The signature is valid, so it counts as a cosignature ...
    check_witness_policy(fast, trusted, min_witnesses=1, max_age_ms=None, now_ms=now)
    # ... but a witness whose clock runs ahead cannot make a stale view look fresh.
    with pytest.raises(SignatureError, match="dated after"):
        check_witness_policy(fast, trusted, min_witnesses=1, max_age_ms=HOUR, now_ms=now)
    # A little skew is tolerated, and an honest witness's older cosignature still counts.
    slight = add_cosignature(note, w1, (now + MAX_CLOCK_SKEW_MS - 60_000) // 1000)
    check_witness_policy(slight, trusted, min_witnesses=1, max_age_ms=HOUR, now_ms=now)
    both = add_cosignature(fast, w2, (now - HOUR // 2) // 1000)
    check_witness_policy(both, trusted, min_witnesses=2, max_age_ms=HOUR, now_ms=now)
    with pytest.raises(SignatureError, match="older than"):
        check_witness_policy(both, trusted, min_witnesses=2, max_age_ms=HOUR // 4, now_ms=now)
