"""Witnesses: cosign only consistent checkpoints, and the verifier's witness policy.

A small ledger is built through the library; a witness cosigns its checkpoints as the log
grows, refuses a fork and a rollback, and the policy of ``verify --witness/--min-witnesses/
--max-age`` counts only trusted, valid cosignatures (and only those not dated after the time
of the check for freshness).
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from statements import handle, issue, register_achievement

from ledger.errors import SignatureError
from ledger.events import REGISTER_ISSUER, make_statement, sign_statement
from ledger.log import Ledger
from ledger.note import Signer
from ledger.witness import (
    MAX_CLOCK_SKEW_MS,
    Witness,
    WitnessKey,
    WitnessRefused,
    add_cosignature,
    check_witness_policy,
    checkpoint_of,
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
        self.ledger.append([sign_statement(st, registry.seed),
                            sign_statement(register_achievement("uni", T0), self.uni.seed)])

    def grow(self, k: int) -> str:
        items = []
        for _ in range(k):
            self.n += 1
            st = issue("uni", T0, handle(self.n), digest=hashlib.sha256(b"%d" % self.n).digest())
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
    trusted = [w.key.verifier()]
    merged = merge_cosignatures(second, cosigned2, trusted)
    assert merge_cosignatures(merged, cosigned2, trusted) == merged


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


def test_quorum_counts_distinct_witness_keys_not_names(log: Log) -> None:
    """Issue 15.8b: a cosignature signs neither the witness's name nor its key id."""
    from ledger.note import NoteSignature, format_note, parse_note
    from ledger.witness import CosignerVerifier, cosigner_key_id

    note = log.grow(2)
    now = T0 + 2 * HOUR
    ts = (T0 + HOUR) // 1000

    def policy(text: str, trusted: list[Any], k: int) -> dict[str, int]:
        return check_witness_policy(text, trusted, min_witnesses=k, max_age_ms=None, now_ms=now)

    # Two trusted witnesses of one name and two keys: two witnesses.
    x1, x2 = WitnessKey.generate("w.example"), WitnessKey.generate("w.example")
    both = add_cosignature(add_cosignature(note, x1, ts), x2, ts)
    trusted = [x1.verifier(), x2.verifier()]
    assert policy(both, trusted, 2) == {f"w.example+{x1.verifier().key_id.hex()}": ts,
                                        f"w.example+{x2.verifier().key_id.hex()}": ts}
    # One key listed twice: one witness.
    one = add_cosignature(note, x1, ts)
    assert policy(one, [x1.verifier(), x1.verifier()], 1) == {"w.example": ts}
    with pytest.raises(SignatureError, match="of 1 distinct trusted witness key.*want at least 2"):
        policy(one, [x1.verifier(), x1.verifier(), x2.verifier()], 2)
    # One key trusted under two names: its line, copied under the other name (with that
    # name's key id), verifies too, but the key counts once.
    alias = CosignerVerifier("alias.example", x1.public_key)
    line = parse_note(one).signatures[-1]
    renamed = NoteSignature("alias.example", cosigner_key_id("alias.example", x1.public_key),
                            line.signature)
    parsed = parse_note(one)
    doubled = format_note(type(parsed)(parsed.text, (*parsed.signatures, renamed)))
    trusted = [x1.verifier(), alias]
    assert policy(doubled, trusted, 1) == {"w.example": ts}
    with pytest.raises(SignatureError, match="want at least 2"):
        policy(doubled, trusted, 2)


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


# ----------------------------------------------------------------------------- concurrency, crashes


def _two_forks(tmp_path: Path) -> tuple[str, str, str, int]:
    """Two checkpoints of one size under one log key, with different roots (a forked
    operator): (note a, note b, the log key, their size)."""
    import shutil

    a = Log(tmp_path / "a")
    a.grow(1)
    a.ledger.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    clock = itertools.count(T0 + HOUR, 1000)
    a.ledger = Ledger.open(tmp_path / "a", clock=lambda: next(clock))
    b = Log.__new__(Log)
    b.ledger, b.log_signer, b.uni, b.n = (Ledger.open(tmp_path / "b", clock=lambda: next(clock)),
                                          a.log_signer, a.uni, 100)
    a_note, b_note = a.grow(2), b.grow(2)
    size = a.ledger.head().size
    assert b.ledger.head().size == size and a_note != b_note
    a.ledger.close()
    b.ledger.close()
    return a_note, b_note, str(a.log_signer.verifier()), size


def _cosign_in_turn(dirs: list[str], note: str, log_key: str, barrier: Any, results: Any) -> None:
    """One racer: for each witness directory, wait for the other racer, then cosign."""
    from ledger.note import parse_verifier

    key = parse_verifier(log_key)
    for d in dirs:
        w = Witness(d)
        barrier.wait(timeout=60)
        try:
            w.cosign(note, key, [], now_ms=T0 + 2 * HOUR)
            outcome = "cosigned"
        except WitnessRefused:
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
            outcome = f"error: {exc!r}"
        results.put((d, note, outcome))


def test_two_forks_racing_get_one_cosignature(tmp_path: Path) -> None:
    # Two `witness cosign` runs, in two processes, on two forks of the same size against one
    # witness directory, started together (a barrier) 200 times: one is cosigned, the other
    # refused, every time; and the state holds the root of the one that was cosigned.
    import base64
    import multiprocessing

    a_note, b_note, log_key, size = _two_forks(tmp_path)
    dirs = []
    for n in range(200):
        Witness.create(tmp_path / f"w{n}", "w1.example")
        dirs.append(str(tmp_path / f"w{n}"))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    racers = [ctx.Process(target=_cosign_in_turn, args=(dirs, note, log_key, barrier, results))
              for note in (a_note, b_note)]
    for p in racers:
        p.start()
    outcomes: dict[str, dict[str, str]] = {d: {} for d in dirs}
    for _ in range(2 * len(dirs)):
        d, note, outcome = results.get(timeout=120)
        outcomes[d][note] = outcome
    for p in racers:
        p.join(timeout=60)
        assert p.exitcode == 0
    bad = []
    for d in dirs:
        got = sorted(outcomes[d].values())
        state = Witness(d).state()["w.example/log"]
        winner = [note for note, o in outcomes[d].items() if o == "cosigned"]
        if got != ["cosigned", "refused"] or state["size"] != size or \
                state["root"] != base64.b64encode(checkpoint_of(winner[0]).root).decode():
            bad.append(" + ".join(o.split("(")[0] for o in got))
    assert not bad, f"{len(bad)} of {len(dirs)} races went wrong: {Counter(bad)}"


def test_a_failed_write_leaves_the_old_state_whole(log: Log, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A crash between writing the new state and renaming it over the old (here: the rename
    # fails): state.json is still the old state, whole; no temporary file is left; no
    # cosignature came out; and the lock is free again.
    import os

    w = Witness.create(tmp_path / "w", "w1.example")
    key = log.log_signer.verifier()
    w.cosign(log.grow(2), key, [], now_ms=T0)
    size1 = log.ledger.head().size
    before = (tmp_path / "w" / "state.json").read_bytes()
    note = log.grow(3)
    proof = log.ledger.consistency_proof(size1, log.ledger.head().size)

    def crash(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error (injected)")

    monkeypatch.setattr(os, "replace", crash)  # as ledger.files.write_atomic calls it
    with pytest.raises(OSError, match="injected"):
        w.cosign(note, key, proof, now_ms=T0 + HOUR)
    monkeypatch.undo()
    assert (tmp_path / "w" / "state.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["state.json", "state.lock",
                                                                 "witness.key"]
    assert w.state()["w.example/log"]["size"] == size1
    w.cosign(note, key, proof, now_ms=T0 + HOUR)  # the lock was released
    assert w.state()["w.example/log"]["size"] == log.ledger.head().size


def test_state_is_private_and_written_under_a_fresh_name(log: Log, tmp_path: Path) -> None:
    import stat

    w = Witness.create(tmp_path / "w", "w1.example")
    plant = tmp_path / "w" / "state.json.tmp"  # the old fixed temporary name: never used now
    plant.symlink_to(tmp_path / "elsewhere")
    w.cosign(log.grow(1), log.log_signer.verifier(), [], now_ms=T0)
    assert stat.S_IMODE((tmp_path / "w" / "state.json").stat().st_mode) == 0o600
    assert not (tmp_path / "elsewhere").exists() and plant.is_symlink()


def _cosign_in_a_child(wdir: Path, note: str, log_key: str) -> str:
    """Run one cosign in a fresh interpreter, killed after 30 s; its one-line outcome."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from ledger.errors import LedgerError\n"
            "from ledger.note import parse_verifier\n"
            "from ledger.witness import Witness\n"
            "try:\n"
            "    Witness(sys.argv[1]).cosign(sys.argv[2], parse_verifier(sys.argv[3]), [],\n"
            "                                now_ms=0)\n"
            "    print('cosigned')\n"
            "except LedgerError as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(wdir), note, log_key],
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "link-to-fifo", "directory"])
def test_a_state_that_is_not_a_regular_file_is_refused_at_once(log: Log, tmp_path: Path,
                                                                kind: str) -> None:
    import os

    wdir = tmp_path / "w"
    Witness.create(wdir, "w1.example")
    state = wdir / "state.json"
    state.unlink()
    if kind == "fifo":
        os.mkfifo(state)
    elif kind == "dev-zero":
        state.symlink_to("/dev/zero")
    elif kind == "link-to-fifo":
        os.mkfifo(tmp_path / "fifo")
        state.symlink_to(tmp_path / "fifo")
    else:
        state.mkdir()
    said = _cosign_in_a_child(wdir, log.grow(1), str(log.log_signer.verifier()))
    assert said.startswith(f"NotRegularFileError {state}: not a regular file"), said
    assert "\n" not in said


def test_a_lock_file_that_is_not_a_regular_file_is_refused(log: Log, tmp_path: Path) -> None:
    import os

    wdir = tmp_path / "w"
    Witness.create(wdir, "w1.example")
    (wdir / "state.lock").unlink()
    os.mkfifo(wdir / "state.lock")
    said = _cosign_in_a_child(wdir, log.grow(1), str(log.log_signer.verifier()))
    assert said.startswith("NotRegularFileError"), said
    (wdir / "state.lock").unlink()
    (wdir / "state.lock").symlink_to(tmp_path / "elsewhere")
    said = _cosign_in_a_child(wdir, log.grow(1), str(log.log_signer.verifier()))
    assert said.startswith("NotRegularFileError"), said
    assert not (tmp_path / "elsewhere").exists()


def test_missing_or_damaged_state_is_a_witness_state_error(log: Log, tmp_path: Path) -> None:
    from ledger.errors import WitnessStateError

    w = Witness.create(tmp_path / "w", "w1.example")
    note = log.grow(1)
    (tmp_path / "w" / "state.json").write_text("{", encoding="utf-8")
    with pytest.raises(WitnessStateError, match="damaged witness state"):
        w.cosign(note, log.log_signer.verifier(), [], now_ms=T0)
    (tmp_path / "w" / "state.json").unlink()
    with pytest.raises(WitnessStateError, match="missing witness state"):
        w.cosign(note, log.log_signer.verifier(), [], now_ms=T0)


# ----------------------------------------------------------------------------- storing cosignatures


def test_only_verified_cosignatures_are_stored(log: Log, tmp_path: Path) -> None:
    # A line under a real witness's name with random bytes, junk lines up to the note's line
    # limit, lines of unknown keys: none is stored; the genuine cosignature is, and a bundle
    # of the checkpoint verifies under the witness policy.
    import os

    from ledger.note import NoteSignature, format_note, parse_note

    w1, w2 = WitnessKey.generate("w1.example"), WitnessKey.generate("w2.example")
    note = log.grow(2)
    size = log.ledger.head().size
    trusted = [w1.verifier(), w2.verifier()]
    genuine = add_cosignature(note, w1, T0 // 1000)
    parsed = parse_note(genuine)
    forged = NoteSignature("w2.example", w2.verifier().key_id, os.urandom(72))
    junk = [NoteSignature(f"junk{i}.example", os.urandom(4), os.urandom(72)) for i in range(96)]
    hostile = format_note(type(parsed)(parsed.text, (*parsed.signatures, forged, *junk)))
    stored = log.ledger.add_cosignatures(hostile, trusted)
    assert stored == genuine == log.ledger.checkpoint_note(size)
    assert check_witness_policy(stored, trusted, min_witnesses=1, max_age_ms=None,
                                now_ms=T0) == {"w1.example": T0 // 1000}
    # Nothing valid from the given witnesses: refused, nothing changes.
    only_junk = format_note(type(parsed)(parsed.text, (parsed.signatures[0], forged, *junk)))
    with pytest.raises(SignatureError, match="no valid cosignature"):
        log.ledger.add_cosignatures(only_junk, trusted)
    with pytest.raises(SignatureError, match="no valid cosignature"):
        log.ledger.add_cosignatures(genuine, [w2.verifier()])  # w1 is not trusted here
    assert log.ledger.checkpoint_note(size) == genuine
    # One line per witness key: a newer cosignature replaces the older; another witness's
    # is added beside it.
    newer = add_cosignature(note, w1, T0 // 1000 + 60)
    both = add_cosignature(newer, w2, T0 // 1000 + 30)
    stored = log.ledger.add_cosignatures(both, trusted)
    times = check_witness_policy(stored, trusted, min_witnesses=2, max_age_ms=None, now_ms=T0)
    assert times == {"w1.example": T0 // 1000 + 60, "w2.example": T0 // 1000 + 30}
    assert len(parse_note(stored).signatures) == 3  # the log's, w1's newest, w2's
    older = log.ledger.add_cosignatures(genuine, trusted)  # an older w1 line changes nothing
    assert older == stored


def test_add_cosignatures_on_the_command_line_needs_the_witnesses(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ledger.cli import cli

    runner = CliRunner()
    store = tmp_path / "store"
    assert runner.invoke(cli, ["--dir", str(store), "init", "--origin", "c.example/log"]
                         ).exit_code == 0
    note = runner.invoke(cli, ["--dir", str(store), "checkpoint"]).stdout
    w1 = WitnessKey.generate("w1.example")
    cosigned = tmp_path / "cosigned.txt"
    cosigned.write_text(add_cosignature(note, w1, T0 // 1000))
    result = runner.invoke(cli, ["--dir", str(store), "checkpoint", "--add-cosignatures",
                                 str(cosigned)])
    assert result.exit_code == 2 and "--witness" in result.stderr
    result = runner.invoke(cli, ["--dir", str(store), "checkpoint", "--add-cosignatures",
                                 str(cosigned), "--witness", str(w1.verifier())])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == cosigned.read_text()
    other = WitnessKey.generate("w2.example")
    result = runner.invoke(cli, ["--dir", str(store), "checkpoint", "--add-cosignatures",
                                 str(cosigned), "--witness", str(other.verifier())])
    assert result.exit_code == 1 and "no valid cosignature" in result.stderr
