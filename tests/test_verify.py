"""The offline verifier (ledger.verify) against bundles built by ledger.bundle from real ledgers.

Covers every answer (VALID, REVOKED, SUSPENDED, reinstated, EXPIRED, NOT FOUND) under both
kinds of trust (log key; published root and size), historic checkpoints, key rotation and key
revocation, stacks and multi-credential bundles, the holder's Open Badges credential checked
beside its bundle (and each way of tampering with it), exhaustive single-byte tampering of
small bundles, parser limits, the layering rule (no lmdb), and the ``verify`` and ``prove``
commands through click's CliRunner.

The ledgers are built with the Python API and an injected clock, so entry times are known;
each issuance commits to a real signed credential (tests/holders.py), named by a handle
derived from a readable test name (:func:`H`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from holders import SUBJECT, Credential, issue_statement, make_credential, resign
from hypothesis import given, settings
from hypothesis import strategies as st
from statements import ACHIEVEMENT, handle, named, register_achievement
from statements import issue as issue_st
from statements import status as status_st

from ledger.bundle import BUNDLE_FORMAT, MAX_BUNDLE_SIZE, MAX_PATH, build_bundle, dump_bundle
from ledger.errors import (
    EncodingError,
    LedgerError,
    RefusedError,
    SignatureError,
    VerificationError,
)
from ledger.events import (
    REGISTER_ISSUER,
    REINSTATE,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    key_id,
    make_statement,
    sign_statement,
)
from ledger.log import Ledger
from ledger.note import Signer
from ledger.records import ACHIEVEMENT as ACHIEVEMENT_KIND
from ledger.records import CRED, ISSUED, REVOKED, CredRecord, decode_record, map_key
from ledger.verify import (
    EXPIRED,
    NOT_FOUND,
    REVOKED_ANSWER,
    SUSPENDED_ANSWER,
    VALID,
    Verdict,
    verify_bundle,
)

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in UTC milliseconds
DAY = 86_400_000
VALID_UNTIL = T0 + 400 * DAY - 1000  # the expiring credential's validUntil: its last valid instant
LATER = T0 + 30 * DAY  # a verification time well after every entry, before VALID_UNTIL


# ------------------------------------------------------------------------------------ helpers

_NAMES: dict[str, str] = {}


def H(name: str) -> str:
    """The handle of the test credential ``name`` (tests/statements.py ``named``)."""
    h = named(name)
    _NAMES[h] = name
    return h


def name_of(cred_id: str) -> str:
    """The test name of a handle :func:`H` gave (the handle itself otherwise)."""
    return _NAMES.get(cred_id, cred_id)


class World:
    """A ledger plus the keys and the holders' credentials needed to drive it from tests."""

    def __init__(self, path: Path, origin: str) -> None:
        clock = itertools.count(T0, 60_000)
        self.ledger, self.log_signer, self.registry = Ledger.create(
            path, origin, clock=lambda: next(clock))
        self.origin = origin
        self.times = itertools.count(T0, 1000)  # statement times, strictly increasing
        self.creds: dict[tuple[str, str], Credential] = {}  # (issuer, name) -> credential
        self.indexes = itertools.count(1)  # status indexes, unique in the log

    @property
    def log_key(self) -> Any:
        return self.log_signer.verifier()

    def statement(self, signer: Signer, kind: str, issuer: str, *fields: Any) -> Any:
        return sign_statement(make_statement(kind, issuer, next(self.times), *fields), signer.seed)

    def append(self, signer: Signer, kind: str, issuer: str, *fields: Any) -> int:
        """Append one statement; return its entry index."""
        return self.ledger.append([self.statement(signer, kind, issuer, *fields)]).first

    def put(self, signer: Signer, st_: Any) -> int:
        return self.ledger.append([sign_statement(st_, signer.seed)]).first

    def register(self, issuer: str, key: Signer, *, name: str | None = None) -> int:
        """Register ``issuer`` and (signed by ``key``) its achievement ``cs201``; return the
        issuer's registration index."""
        first = self.append(self.registry, REGISTER_ISSUER, issuer, name or issuer.title(),
                            f"https://{issuer}.example", key.public_key)
        self.put(key, register_achievement(issuer, next(self.times)))
        return first

    def make(self, key: Signer, issuer: str, name: str, *, expires: int | None = None,
             parts: list[str] | None = None, time: int | None = None) -> Credential:
        """The credential ``name`` signed by ``key`` as ``issuer`` (not yet logged)."""
        t = next(self.times) if time is None else time
        return make_credential(
            origin=self.origin, issuer=issuer, issuer_name=issuer.title(),
            issuer_url=f"https://{issuer}.example", seed=key.seed, public_key=key.public_key,
            handle=H(name), valid_from=t - t % 1000, valid_until=expires,
            status_index=next(self.indexes), parts=[H(p) for p in parts or []])

    def issue(self, key: Signer, issuer: str, name: str, *, expires: int | None = None,
              parts: list[str] | None = None) -> int:
        t = next(self.times)
        cred = self.make(key, issuer, name, expires=expires, parts=parts, time=t)
        self.creds[(issuer, name)] = cred
        return self.put(key, issue_statement(cred, t))

    def status(self, key: Signer, kind: str, issuer: str, name: str, reason: str) -> int:
        return self.put(key, status_st(kind, issuer, next(self.times), H(name), reason))

    def doc(self, issuer: str, name: str) -> dict[str, Any]:
        return self.creds[(issuer, name)].doc

    def bundle(self, *creds: tuple[str, str], size: int | None = None) -> str:
        return dump_bundle(build_bundle(self.ledger, [(i, H(c)) for i, c in creds], size=size))

    def verify(self, data: str | bytes, *, at: int = LATER, **kw: Any) -> Verdict:
        if "root" not in kw and "log_key" not in kw:
            kw["log_key"] = self.log_key
        return verify_bundle(data, at=at, **kw)

    def root_of(self, size: int) -> bytes:
        return self.ledger.root_at(size)


def answers(verdict: Verdict) -> dict[tuple[str, str], str]:
    return {(c.issuer, name_of(c.cred_id)): c.answer for c in verdict.credentials}


def one(verdict: Verdict) -> Any:
    (answer,) = verdict.credentials
    return answer


def edit(data: str, change: Callable[[dict[str, Any]], object]) -> str:
    """Parse bundle JSON, apply ``change`` to the object in place, and re-serialise."""
    doc = json.loads(data)
    change(doc)
    return json.dumps(doc)


# ------------------------------------------------------------------------------------ fixtures


@dataclass
class Story:
    w: World
    idx: dict[str, int]
    old_size: int
    size: int
    keys: dict[str, Signer]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """A ledger with every answer, a checkpoint in the middle, a key rotation and a revoked key.

    ``old_size`` is a checkpoint taken before any status change; ``size`` is the latest one.
    """
    w = World(tmp_path_factory.mktemp("story") / "store", "story.example/log")
    a, b, c = Signer.generate("uni-a"), Signer.generate("uni-b"), Signer.generate("poly-c")
    idx: dict[str, int] = {}
    idx["reg-uni"] = w.register("uni", a)
    idx["reg-poly"] = w.register("poly", c)
    for name in ("valid-1", "rev-1", "susp-1", "reinst-1", "part-1", "part-2"):
        idx[name] = w.issue(a, "uni", name)
    idx["exp-1"] = w.issue(a, "uni", "exp-1", expires=VALID_UNTIL)
    idx["stack-1"] = w.issue(a, "uni", "stack-1", parts=["part-1", "part-2"])
    idx["p-1"] = w.issue(c, "poly", "p-1")
    w.ledger.checkpoint()
    old_size = w.ledger.head().size
    idx["revoke"] = w.status(a, REVOKE, "uni", "rev-1", "withdrawn")
    idx["suspend"] = w.status(a, SUSPEND, "uni", "susp-1", "under-review")
    w.status(a, SUSPEND, "uni", "reinst-1", "unspecified")
    idx["reinstate"] = w.status(a, REINSTATE, "uni", "reinst-1", "review-complete")
    idx["revoke-part"] = w.status(a, REVOKE, "uni", "part-2", "issued-in-error")
    idx["rotate"] = w.append(a, ROTATE_KEY, "uni", b.public_key)
    idx["after-b"] = w.issue(b, "uni", "after-b")
    idx["revoke-c"] = w.append(w.registry, REVOKE_KEY, "poly", key_id(c.public_key),
                               "key compromised")
    w.ledger.checkpoint()
    size = w.ledger.head().size
    yield Story(w, idx, old_size, size, {"a": a, "b": b, "c": c})
    w.ledger.close()


@dataclass
class Small:
    w: World
    valid: str
    revoked: str
    absent: str
    credential: dict[str, Any]  # c1's: the holder's credential, given beside ``valid``


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Small]:
    """A six-entry ledger and its three one-credential bundles (a few KB each)."""
    w = World(tmp_path_factory.mktemp("small") / "store", "small.example/log")
    key = Signer.generate("uni")
    w.register("uni", key)
    w.issue(key, "uni", "c1")
    w.issue(key, "uni", "c2")
    w.status(key, REVOKE, "uni", "c2", "issued-in-error")
    w.issue(key, "uni", "c3")
    w.ledger.checkpoint()
    yield Small(w, w.bundle(("uni", "c1")), w.bundle(("uni", "c2")), w.bundle(("uni", "c9")),
                w.doc("uni", "c1"))
    w.ledger.close()


# ------------------------------------------------------------------------------------ answers


def test_valid(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "valid-1"))
    assert json.loads(data)["format"] == BUNDLE_FORMAT
    v = w.verify(data)
    a = one(v)
    assert v.valid and a.answer == VALID
    assert (a.issuer, a.cred_id, a.title) == ("uni", H("valid-1"), f"Course {ACHIEVEMENT}")
    cred = w.creds[("uni", "valid-1")]
    assert (a.achievement, a.digest, a.valid_from, a.expires) == (
        ACHIEVEMENT, cred.digest.hex(), cred.valid_from, None)
    assert a.credential is False and "credential not checked" in a.describe()
    assert a.issued_index == story.idx["valid-1"]
    assert a.issued_time == w.ledger.entry(story.idx["valid-1"]).time
    assert (a.changed_index, a.changed_time, a.reason, a.subject) == (None, None, "", None)
    assert a.key_id == key_id(story.keys["a"].public_key)
    assert v.checkpoint.size == story.size and v.checkpoint.root == w.root_of(story.size)
    assert v.as_dict()["answer"] == VALID


def test_revoked_says_when_and_why(story: Story) -> None:
    w = story.w
    v = w.verify(w.bundle(("uni", "rev-1")))
    a = one(v)
    assert not v.valid and a.answer == REVOKED_ANSWER
    assert a.changed_index == story.idx["revoke"]
    assert a.changed_time == w.ledger.entry(story.idx["revoke"]).time
    assert a.changed_time is not None and a.issued_time is not None
    assert a.changed_time > a.issued_time
    assert a.reason == "withdrawn"
    assert v.as_dict()["answer"] == REVOKED_ANSWER
    assert ": withdrawn" in a.describe() and "REVOKED" in a.describe()


def test_suspended(story: Story) -> None:
    w = story.w
    v = w.verify(w.bundle(("uni", "susp-1")))
    a = one(v)
    assert not v.valid and a.answer == SUSPENDED_ANSWER
    assert (a.changed_index, a.reason) == (story.idx["suspend"], "under-review")
    assert a.changed_time == w.ledger.entry(story.idx["suspend"]).time


def test_reinstated_is_valid(story: Story) -> None:
    w = story.w
    v = w.verify(w.bundle(("uni", "reinst-1")))
    a = one(v)
    assert v.valid and a.answer == VALID
    # Issue 15: the reinstatement is the last status change; 'status --json' names it too.
    reinstated = w.ledger.entry(story.idx["reinstate"])
    assert (a.changed_index, a.changed_time, a.reason) == (story.idx["reinstate"],
                                                           reinstated.time,
                                                           "review-complete")
    assert a.as_dict()["changed_index"] == story.idx["reinstate"]


def test_expiry_is_judged_at_the_given_time(story: Story) -> None:
    """validUntil is the last valid instant (whole seconds: the issuer logs the last second of
    the last valid day); a millisecond later the credential is EXPIRED."""
    w = story.w
    data = w.bundle(("uni", "exp-1"))
    doc = w.doc("uni", "exp-1")
    for at in (VALID_UNTIL - DAY, VALID_UNTIL):
        v = w.verify(data, at=at, credentials=(doc,))
        assert one(v).answer == VALID and v.valid and one(v).credential
    for at in (VALID_UNTIL + 1, VALID_UNTIL + DAY):
        v = w.verify(data, at=at, credentials=(doc,))
        assert one(v).answer == EXPIRED and not v.valid
        assert one(v).expires == VALID_UNTIL
        assert v.as_dict()["answer"] == EXPIRED


@pytest.mark.parametrize("name", [("uni", "never-issued"), ("nobody", "x-1")],
                         ids=["never-issued-id", "unknown-issuer"])
def test_not_found_is_a_proof_of_absence(story: Story, name: tuple[str, str]) -> None:
    w = story.w
    data = w.bundle(name)
    cred = (name[0], H(name[1]))
    doc = json.loads(data)
    # Absence is proven by one map proof with no record, against the last entry's state_root.
    assert [e["index"] for e in doc["entries"]] == [story.size - 1]
    (proof,) = doc["map"]
    assert proof["record"] is None
    assert base64.b64decode(proof["key"]) == map_key(CRED, *cred)
    v = w.verify(data)
    a = one(v)
    assert not v.valid and a.answer == NOT_FOUND and (a.issuer, a.cred_id) == cred
    assert a.issued_index is None
    assert v.as_dict()["answer"] == NOT_FOUND
    # Dropping the absence proof leaves nothing to answer with.
    with pytest.raises(VerificationError, match="lacks its status-map proof"):
        w.verify(edit(data, lambda d: d.update(map=[])))


def test_not_found_in_an_empty_log(tmp_path: Path) -> None:
    w = World(tmp_path / "store", "empty.example/log")
    try:
        w.ledger.checkpoint()
        data = w.bundle(("uni", "x"))
        v = w.verify(data)
        assert v.checkpoint.size == 0 and one(v).answer == NOT_FOUND
        assert one(w.verify(data, root=w.root_of(0), size=0)).answer == NOT_FOUND
    finally:
        w.ledger.close()


@pytest.mark.parametrize("cred,want", [
    (("uni", "valid-1"), VALID), (("uni", "rev-1"), REVOKED_ANSWER),
    (("uni", "susp-1"), SUSPENDED_ANSWER), (("uni", "reinst-1"), VALID),
    (("uni", "never-issued"), NOT_FOUND), (("nobody", "x-1"), NOT_FOUND),
])
def test_same_answers_with_root_and_size_trust(story: Story, cred: tuple[str, str],
                                               want: str) -> None:
    w = story.w
    data = w.bundle(cred)
    by_key = w.verify(data)
    by_root = w.verify(data, root=w.root_of(story.size), size=story.size)
    assert one(by_root).answer == one(by_key).answer == want
    assert one(by_key).cred_id == H(cred[1])
    assert one(by_root) == one(by_key)
    assert "root" in by_root.trusted_by and "log key" in by_key.trusted_by


def test_root_trust_expiry(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "exp-1"))
    trust = {"root": w.root_of(story.size), "size": story.size}
    assert one(w.verify(data, at=VALID_UNTIL, **trust)).answer == VALID
    assert one(w.verify(data, at=VALID_UNTIL + 1, **trust)).answer == EXPIRED


def test_wrong_root_or_size_is_refused(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "valid-1"))
    root = w.root_of(story.size)
    wrong_root = bytes([root[0] ^ 1]) + root[1:]
    for bad in ({"root": wrong_root, "size": story.size},
                {"root": root, "size": story.size - 1},
                {"root": root, "size": story.size + 1},
                {"root": w.root_of(story.old_size), "size": story.old_size},
                {"root": bytes(32), "size": story.size}):
        with pytest.raises(VerificationError, match="trusted one"):
            w.verify(data, **bad)


def test_missing_trust_is_refused(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "valid-1"))
    for trust in ({}, {"root": w.root_of(story.size)}, {"size": story.size}):
        with pytest.raises(VerificationError, match="log key"):
            verify_bundle(data, at=LATER, **trust)


def test_another_log_key_is_refused(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "valid-1"))
    for other in (Signer.generate(w.origin), Signer.generate("other.example/log"), w.registry):
        with pytest.raises(SignatureError):
            verify_bundle(data, log_key=other.verifier(), at=LATER)


# ------------------------------------------------------------------------------------ history


def test_historic_bundle_verifies_against_the_old_root(story: Story) -> None:
    w = story.w
    old = w.bundle(("uni", "rev-1"), size=story.old_size)
    old_root = w.root_of(story.old_size)
    v = w.verify(old, root=old_root, size=story.old_size)
    assert one(v).answer == VALID and v.checkpoint.size == story.old_size
    # The old checkpoint is signed too: the log key gives the same answer as of that checkpoint.
    assert one(w.verify(old)).answer == VALID
    assert w.verify(old).checkpoint.size == story.old_size
    # The latest bundle tells the rest of the story.
    new = w.bundle(("uni", "rev-1"))
    assert one(w.verify(new)).answer == REVOKED_ANSWER
    assert one(w.verify(new, root=w.root_of(story.size), size=story.size)).answer == REVOKED_ANSWER
    # Each bundle only verifies against its own tree.
    with pytest.raises(VerificationError):
        w.verify(old, root=w.root_of(story.size), size=story.size)
    with pytest.raises(VerificationError):
        w.verify(new, root=old_root, size=story.old_size)


@pytest.mark.parametrize("cred", ["susp-1", "reinst-1", "part-2", "stack-1"])
def test_historic_bundles_predate_every_status_change(story: Story, cred: str) -> None:
    w = story.w
    old = w.bundle(("uni", cred), size=story.old_size)
    v = w.verify(old, root=w.root_of(story.old_size), size=story.old_size)
    assert v.valid and set(answers(v).values()) == {VALID}


def test_spliced_old_and_new_bundles_never_lie(story: Story) -> None:
    """Mix the checkpoint, entries and map proofs of an old (VALID) and a new (REVOKED) bundle:
    each mix either fails or gives the answer of the checkpoint it carries."""
    w = story.w
    old = json.loads(w.bundle(("uni", "rev-1"), size=story.old_size))
    new = json.loads(w.bundle(("uni", "rev-1")))
    parts = ("checkpoint", "entries", "map")
    for pick in itertools.product((old, new), repeat=3):
        mixed = dict(new)
        mixed.update({p: src[p] for p, src in zip(parts, pick, strict=True)})
        truth = VALID if pick[0] is old else REVOKED_ANSWER
        try:
            v = w.verify(json.dumps(mixed))
        except VerificationError:
            continue
        assert answers(v) == {("uni", "rev-1"): truth}, [p is old for p in pick]
    # Unioning the entries and the map proofs of both does not help either.
    union = dict(new)
    union["entries"] = new["entries"] + [e for e in old["entries"]
                                         if e["index"] not in {x["index"] for x in new["entries"]}]
    union["checkpoint"] = new["checkpoint"]
    with pytest.raises(VerificationError):
        w.verify(edit(json.dumps(union), lambda d: d.update(map=old["map"])))


# ------------------------------------------------------------------------------------ keys


def test_credential_issued_before_rotation_stays_valid(story: Story) -> None:
    w = story.w
    a = one(w.verify(w.bundle(("uni", "valid-1"))))
    assert a.answer == VALID and a.key_id == key_id(story.keys["a"].public_key)
    assert story.idx["rotate"] > story.idx["valid-1"]
    # The map proves key A ended at the rotation, after the issuance.
    data = json.loads(w.bundle(("uni", "valid-1")))
    assert story.idx["reg-uni"] in {e["index"] for e in data["entries"]}


def test_credential_issued_with_the_new_key_is_valid(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "after-b"))
    a = one(w.verify(data))
    assert a.answer == VALID and a.key_id == key_id(story.keys["b"].public_key)
    # B was introduced by the rotation entry, which the bundle carries and proves.
    assert story.idx["rotate"] in {e["index"] for e in json.loads(data)["entries"]}


def test_credential_stays_valid_after_its_key_is_revoked_by_the_registry(story: Story) -> None:
    w = story.w
    assert story.idx["revoke-c"] > story.idx["p-1"]
    a = one(w.verify(w.bundle(("poly", "p-1"))))
    assert a.answer == VALID and a.key_id == key_id(story.keys["c"].public_key)


def test_ended_keys_cannot_sign(story: Story) -> None:
    w = story.w
    size = w.ledger.head().size
    for key, issuer in (("a", "uni"), ("c", "poly")):
        late = issue_st(issuer, next(w.times), H(f"by-{key}"), status_index=next(w.indexes))
        with pytest.raises(RefusedError) as info:
            w.ledger.append([sign_statement(late, story.keys[key].seed)])
        assert info.value.rule == "key-not-active"
    assert w.ledger.head().size == size


def test_issuance_signed_with_a_key_from_another_issuer_is_refused(story: Story) -> None:
    w = story.w
    other = issue_st("poly", next(w.times), H("by-b"), status_index=next(w.indexes))
    with pytest.raises(RefusedError) as info:
        w.ledger.append([sign_statement(other, story.keys["b"].seed)])
    assert info.value.rule == "wrong-signer"


# ------------------------------------------------------------------------------------ stacks


def test_stack_parts_are_checked_and_a_revoked_part_spoils_the_verdict(story: Story) -> None:
    w = story.w
    v = w.verify(w.bundle(("uni", "stack-1")))
    assert answers(v) == {("uni", "stack-1"): VALID, ("uni", "part-1"): VALID,
                          ("uni", "part-2"): REVOKED_ANSWER}
    assert not v.valid and v.worst() == REVOKED_ANSWER and v.as_dict()["answer"] == REVOKED_ANSWER
    stack = next(c for c in v.credentials if c.cred_id == H("stack-1"))
    assert stack.parts == (H("part-1"), H("part-2"))
    part = next(c for c in v.credentials if c.cred_id == H("part-2"))
    assert (part.changed_index, part.reason) == (story.idx["revoke-part"], "issued-in-error")


def test_stack_needs_its_parts_proofs(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "stack-1"))
    part_key = base64.b64encode(map_key(CRED, "uni", H("part-2"))).decode()
    with pytest.raises(VerificationError, match=H("part-2")):
        w.verify(edit(data, lambda d: d.update(map=[m for m in d["map"] if m["key"] != part_key])))


def test_several_credentials_share_one_checkpoint(story: Story) -> None:
    w = story.w
    creds = [("uni", "valid-1"), ("uni", "rev-1"), ("uni", "susp-1"), ("uni", "exp-1")]
    data = w.bundle(*creds)
    doc = json.loads(data)
    indexes = [e["index"] for e in doc["entries"]]
    assert len(indexes) == len(set(indexes)) and indexes.count(story.idx["reg-uni"]) == 1
    v = w.verify(data)
    assert v.checkpoint.size == story.size
    assert answers(v) == {c: one(w.verify(w.bundle(c))).answer for c in creds}
    assert answers(v) == {creds[0]: VALID, creds[1]: REVOKED_ANSWER,
                          creds[2]: SUSPENDED_ANSWER, creds[3]: VALID}
    assert not v.valid and v.worst() == REVOKED_ANSWER
    assert w.verify(w.bundle(("uni", "valid-1"), ("uni", "reinst-1"))).valid


def test_cross_issuer_bundle(story: Story) -> None:
    w = story.w
    data = w.bundle(("uni", "valid-1"), ("poly", "p-1"), ("uni", "after-b"))
    v = w.verify(data)
    assert v.valid
    assert answers(v) == {("uni", "valid-1"): VALID, ("poly", "p-1"): VALID,
                          ("uni", "after-b"): VALID}
    assert {c.key_id for c in v.credentials} == {
        key_id(story.keys[k].public_key) for k in "abc"}
    same = w.verify(data, root=w.root_of(story.size), size=story.size)
    assert same.credentials == v.credentials


# ------------------------------------------------------------------------------------ credentials
# The holder's standard credential, given beside its bundle (docs/FORMAT.md §16.8): its Data
# Integrity proof, its digest, its did:key (the issuance's signer), its achievement (the
# registered one), its credentialStatus (the logged status index), its parts (the logged
# ones), and --subject against the salted identifier hash.


def test_the_credential_beside_its_bundle_proves_the_holder(story: Story) -> None:
    w = story.w
    doc = w.doc("uni", "valid-1")
    data = w.bundle(("uni", "valid-1"))
    a = one(w.verify(data, credentials=(doc,), subject=SUBJECT))
    assert a.answer == VALID and a.credential and a.subject == SUBJECT and a.holder_checked
    assert f"holder {SUBJECT!r} matches it" in a.describe()
    a = one(w.verify(data, credentials=(doc,)))
    assert a.credential and a.subject is None and "holder not checked" in a.describe()
    a = one(w.verify(data))
    assert not a.credential and a.subject is None
    with pytest.raises(VerificationError, match=r"holder \(--subject\).*none is given"):
        w.verify(data, subject=SUBJECT)
    # The identifier is compared exactly, against its salted hash.
    for other in ("mallory@example.org", SUBJECT.upper(), SUBJECT + " ", ""):
        with pytest.raises(VerificationError, match="is not the one the credential names"):
            w.verify(data, credentials=(doc,), subject=other)
    # Whatever JSON spelling a wallet gives it: the digest is of its RDFC-1.0 form.
    respelled = json.loads(json.dumps(doc, indent=None, sort_keys=True))
    assert one(w.verify(data, credentials=(respelled,), subject=SUBJECT)).answer == VALID


def test_holder_credentials_in_a_stack(story: Story) -> None:
    w = story.w
    docs = (w.doc("uni", "stack-1"), w.doc("uni", "part-1"))
    v = w.verify(w.bundle(("uni", "stack-1")), credentials=docs, subject=SUBJECT)
    got = {name_of(c.cred_id): (c.credential, c.subject) for c in v.credentials}
    assert got == {"stack-1": (True, SUBJECT), "part-1": (True, SUBJECT),
                   "part-2": (False, None)}


def test_every_answer_checks_its_credential(story: Story) -> None:
    w = story.w
    for name, want in (("rev-1", REVOKED_ANSWER), ("susp-1", SUSPENDED_ANSWER),
                       ("reinst-1", VALID), ("after-b", VALID)):
        a = one(w.verify(w.bundle(("uni", name)), credentials=(w.doc("uni", name),),
                         subject=SUBJECT))
        assert (a.answer, a.credential, a.subject) == (want, True, SUBJECT)
    a = one(w.verify(w.bundle(("poly", "p-1")), credentials=(w.doc("poly", "p-1"),)))
    assert a.answer == VALID and a.credential


# Each field of a credential, changed (valid-1's, issued by key A of uni).

def _restatus(d: dict[str, Any], change: Callable[[str, int], tuple[str, int]]) -> None:
    """Point each status entry elsewhere, consistently (its id is the list URL # the index)."""
    for e in d["credentialStatus"]:
        url, index = change(e["statusListCredential"], int(e["statusListIndex"]))
        e.update(id=f"{url}#{index}", statusListCredential=url, statusListIndex=str(index))


def _change_issuer_name(d: dict[str, Any]) -> None:
    d["issuer"]["name"] = "Uni of Elsewhere"


FIELD_CHANGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "id": lambda d: d.update(id=H("valid-2")),
    "name": lambda d: d.update(name="Another Course"),
    "validFrom": lambda d: d.update(validFrom="2025-01-01T00:00:00Z"),
    "validUntil": lambda d: d.update(validUntil="2099-01-01T00:00:00Z"),
    "issuer.name": _change_issuer_name,
    "issuer.url": lambda d: d["issuer"].update(url="https://evil.example"),
    "achievement.id": lambda d: d["credentialSubject"]["achievement"].update(
        id="https://story.example/log/achievements/uni/cs999"),
    "achievement.name": lambda d: d["credentialSubject"]["achievement"].update(name="Other"),
    "achievement.criteria": lambda d: d["credentialSubject"]["achievement"].update(
        criteria={"narrative": "Nothing at all."}),
    "identifier": lambda d: d["credentialSubject"]["identifier"][0].update(
        identityHash="sha256$" + "00" * 32),
    "salt": lambda d: d["credentialSubject"]["identifier"][0].update(salt="00" * 32),
    "statusListIndex": lambda d: _restatus(d, lambda url, i: (url, i + 1)),
    "statusListCredential": lambda d: _restatus(d, lambda url, i: (
        url.replace("/0.json", "/1.json"), i)),
    "evidence": lambda d: d.update(evidence=[{"id": H("part-1"), "type": ["Evidence"]}]),
}


@pytest.fixture(scope="module")
def changed(story: Story) -> dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """For each field: valid-1's credential with it changed, unsigned (its old proof kept),
    re-signed by another key (a stranger's, named as the issuer's did:key), and re-signed by
    the issuance's own key (so only the log can tell)."""
    w = story.w
    stranger = Signer.generate("stranger")
    out = {}
    for field_, change in FIELD_CHANGES.items():
        doc = w.doc("uni", "valid-1")
        tampered = json.loads(json.dumps(doc))
        change(tampered)
        assert tampered != doc, field_
        out[field_] = (tampered, resign(tampered, stranger.seed, public_key=stranger.public_key),
                       resign(tampered, story.keys["a"].seed))
    return out


@pytest.mark.parametrize("field_", FIELD_CHANGES)
def test_a_changed_credential_is_refused(story: Story, changed: Any, field_: str) -> None:
    w = story.w
    data = w.bundle(("uni", "valid-1"))
    unsigned, by_stranger, by_issuer = changed[field_]
    # Its proof no longer verifies (or, for a changed id, it names another credential).
    with pytest.raises(VerificationError, match="does not verify|is not|does not prove"):
        w.verify(data, credentials=(unsigned,))
    # Re-signed by another key: its did:key is not the key that signed the issuance.
    with pytest.raises(VerificationError, match="is given, but the bundle does not prove it"
                       if field_ == "id" else "differs from its logged issuance: its digest "
                       "is not"):
        w.verify(data, credentials=(by_stranger,))
    # Re-signed by the right key: a valid credential, but not the one the log committed to.
    with pytest.raises(VerificationError, match="is given, but the bundle does not prove it"
                       if field_ == "id" else "differs from its logged issuance: its digest "
                       "is not the one the log committed"):
        w.verify(data, credentials=(by_issuer,))


def test_each_logged_field_is_checked_even_when_the_digest_agrees(story: Story) -> None:
    """The digest is checked before the other fields, so a credential the log did not commit
    to never gets further. Here a forged issuance (a statement the verifier is made to read
    from a hostile store; signed by the issuer's own key, which the verifier trusts) commits
    to the tampered credential's digest: each field must still agree with the statement."""
    from ledger.anchoring import check_anchored
    from ledger.errors import CredentialError
    from ledger.openbadges import credential_digest, verify_credential

    w = story.w
    key = story.keys["a"]
    honest = w.creds[("uni", "valid-1")]
    st_ = issue_statement(honest, T0)
    reg = (f"Course {ACHIEVEMENT}", f"What {ACHIEVEMENT} covers.", f"Pass the {ACHIEVEMENT} exam.")
    check = {"origin": w.origin, "issuer_name": "Uni", "issuer_url": "https://uni.example",
                 "achievement": reg}
    check_anchored(verify_credential(honest.doc).badge, honest.digest, st_, key.public_key,
                   **check)
    want = {"id": "its id", "name": None, "validFrom": "validFrom", "validUntil": "validUntil",
            "issuer.name": "issuer's name or url", "issuer.url": "issuer's name or url",
            "achievement.id": "achievement", "achievement.name": "achievement",
            "achievement.criteria": "achievement", "identifier": None, "salt": None,
            "statusListIndex": "credentialStatus", "statusListCredential": "credentialStatus",
            "evidence": "parts"}
    for field_, change in FIELD_CHANGES.items():
        doc = json.loads(json.dumps(honest.doc))
        change(doc)
        signed = resign(doc, key.seed)
        badge = verify_credential(signed).badge
        if want[field_] is None:  # not logged: only the digest holds it
            continue
        digest = credential_digest(signed)
        forged = issue_statement(dataclasses.replace(honest, digest=digest), T0)
        with pytest.raises(CredentialError, match=want[field_]):
            check_anchored(badge, digest, forged, key.public_key, **check)
    # Signed by another key: named.
    stranger = Signer.generate("stranger")
    other = resign(honest.doc, stranger.seed, public_key=stranger.public_key)
    with pytest.raises(CredentialError, match="signed by another key than the logged issuance"):
        check_anchored(verify_credential(other).badge, honest.digest, st_, key.public_key,
                       **check)


def test_a_credential_signed_by_another_key_is_refused(story: Story) -> None:
    """valid-1's own credential re-signed by uni's later key B (a key of the same issuer) or
    by poly's key: the did:key is not the issuance's signer (and the digest changes)."""
    w = story.w
    data = w.bundle(("uni", "valid-1"))
    for k in ("b", "c"):
        key = story.keys[k]
        doc = resign(w.doc("uni", "valid-1"), key.seed, public_key=key.public_key)
        with pytest.raises(VerificationError, match="differs from its logged issuance"):
            w.verify(data, credentials=(doc,))
    # Issuer A named, but the proof made by key B under B's own did:key: the proof's
    # verificationMethod must be the issuer's own did:key.
    from ledger import dataintegrity, didkey

    doc = {k: v for k, v in w.doc("uni", "valid-1").items() if k != "proof"}
    b = story.keys["b"]
    doc = dataintegrity.sign(doc, b.seed, created=w.doc("uni", "valid-1")["proof"]["created"],
                             verification_method=didkey.verification_method(b.public_key))
    with pytest.raises(VerificationError, match="proof.verificationMethod: not the issuer's "
                                                "own did:key"):
        w.verify(data, credentials=(doc,))


def test_a_credential_of_another_log_is_refused(story: Story, tmp_path: Path) -> None:
    """The same issuer, key, handle and status index in a log of another origin: its
    achievement and status lists are another site's; re-signed or not, it is refused."""
    w = story.w
    key = story.keys["a"]
    honest = w.creds[("uni", "valid-1")]
    other = make_credential(
        origin="elsewhere.example/log", issuer="uni", issuer_name="Uni",
        issuer_url="https://uni.example", seed=key.seed, public_key=key.public_key,
        handle=honest.handle, valid_from=honest.valid_from, status_index=honest.status_index)
    with pytest.raises(VerificationError, match="differs from its logged issuance"):
        w.verify(w.bundle(("uni", "valid-1")), credentials=(other.doc,))
    # And a bundle of that other log does not verify under this log's key at all.
    o = World(tmp_path / "other", "elsewhere.example/log")
    try:
        o.register("uni", key)
        o.issue(key, "uni", "valid-1")
        o.ledger.checkpoint()
        with pytest.raises(SignatureError):
            w.verify(o.bundle(("uni", "valid-1")), credentials=(o.doc("uni", "valid-1"),))
        # Under its own key, this log's credential is not the one it committed.
        with pytest.raises(VerificationError, match="differs from its logged issuance"):
            o.verify(o.bundle(("uni", "valid-1")), credentials=(w.doc("uni", "valid-1"),))
    finally:
        o.ledger.close()


def test_status_entries_pointing_at_another_index_are_refused(story: Story) -> None:
    """A credential whose credentialStatus names another status index (of the same lists,
    another list, or another key's lists), signed by the issuance's key: refused."""
    w = story.w
    key = story.keys["a"]
    honest = w.creds[("uni", "valid-1")]
    variants = {
        "next-bit": {"status_index": honest.status_index + 1},
        "next-list": {"status_index": honest.status_index + 131072},
        "other-key": {"status_index": honest.status_index, "status_key": story.keys["b"].public_key},
    }
    data = w.bundle(("uni", "valid-1"))
    for name, kw in variants.items():
        kw.setdefault("status_key", None)
        other = make_credential(
            origin=w.origin, issuer="uni", issuer_name="Uni", issuer_url="https://uni.example",
            seed=key.seed, public_key=key.public_key, handle=honest.handle,
            valid_from=honest.valid_from, **kw)
        with pytest.raises(VerificationError, match="differs from its logged issuance"):
            w.verify(data, credentials=(other.doc,))
        # Were the log to commit to it, the status entries would still be refused by name.
        from ledger.anchoring import check_anchored
        from ledger.errors import CredentialError
        from ledger.openbadges import verify_credential

        with pytest.raises(CredentialError, match="credentialStatus is not the logged"):
            check_anchored(verify_credential(other.doc).badge, other.digest,
                           issue_statement(dataclasses.replace(honest, digest=other.digest), T0),
                           key.public_key, origin=w.origin,
                           issuer_name="Uni", issuer_url="https://uni.example",
                           achievement=(f"Course {ACHIEVEMENT}", f"What {ACHIEVEMENT} covers.",
                                        f"Pass the {ACHIEVEMENT} exam.")), name


def test_a_bundle_without_the_achievement_is_refused(story: Story) -> None:
    """The achievement's register entry and its map proof are part of what a bundle proves:
    without either, the credential is not answered for."""
    w = story.w
    data = w.bundle(("uni", "valid-1"))
    doc = json.loads(data)
    ach_key = base64.b64encode(map_key(ACHIEVEMENT_KIND, "uni", ACHIEVEMENT)).decode()
    assert ach_key in {m["key"] for m in doc["map"]}
    rec = decode_record(base64.b64decode(_map_item(doc, map_key(ACHIEVEMENT_KIND, "uni",
                                                                ACHIEVEMENT))["record"]))
    registered_at = rec.registered_at
    assert registered_at in {e["index"] for e in doc["entries"]}
    for beside in ((), (w.doc("uni", "valid-1"),)):
        with pytest.raises(VerificationError, match=f"status of achievement uni/{ACHIEVEMENT}: "
                                                    "the bundle lacks its status-map proof"):
            w.verify(edit(data, lambda d: d.update(
                map=[m for m in d["map"] if m["key"] != ach_key])), credentials=beside)
        with pytest.raises(VerificationError, match=f"achievement {ACHIEVEMENT} registration: "
                                                    f"the bundle lacks entry {registered_at}"):
            w.verify(edit(data, lambda d: d.update(
                entries=[e for e in d["entries"] if e["index"] != registered_at])),
                credentials=beside)
    # Another entry put in its place (the issuer's registration) is not its registration.
    reg_entry = next(e for e in doc["entries"] if e["index"] == story.idx["reg-uni"])

    def swap(d: dict[str, Any]) -> None:
        for e in d["entries"]:
            if e["index"] == registered_at:
                e["entry"] = reg_entry["entry"]
    with pytest.raises(VerificationError):
        w.verify(edit(data, swap))


def test_credential_for_a_credential_not_in_the_bundle_is_refused(story: Story) -> None:
    w = story.w
    doc = w.doc("uni", "valid-1")
    with pytest.raises(VerificationError, match="is given, but the bundle does not prove it"):
        w.verify(w.bundle(("uni", "after-b")), credentials=(doc,))


def test_two_credentials_with_one_id_are_refused(story: Story) -> None:
    """Issue 15.8d, for credentials: the same one twice is harmless; two different ones under
    one id are refused, whichever comes first."""
    w = story.w
    doc = w.doc("uni", "valid-1")
    other = resign(dict(doc, name="Something else"), story.keys["a"].seed)
    data = w.bundle(("uni", "valid-1"))
    assert one(w.verify(data, credentials=(doc, doc), subject=SUBJECT)).subject == SUBJECT
    for docs in ((doc, other), (other, doc)):
        with pytest.raises(VerificationError, match=f"two different credentials "
                                                    f"{H('valid-1')} are given"):
            w.verify(data, credentials=docs)
    with pytest.raises(VerificationError, match="a credential without an id"):
        w.verify(data, credentials=({k: v for k, v in doc.items() if k != "id"},))


def test_credential_of_another_credential_under_this_id_is_refused(story: Story) -> None:
    """after-b's genuine credential relabelled as valid-1 (re-signed by after-b's key B, the
    key that could sign it): valid-1 was signed by key A, and its digest is another."""
    w = story.w
    doc = resign(dict(w.doc("uni", "after-b"), id=H("valid-1")), story.keys["b"].seed)
    with pytest.raises(VerificationError, match="differs from its logged issuance"):
        w.verify(w.bundle(("uni", "valid-1")), credentials=(doc,))
    # Unchanged, it is simply not a credential this bundle proves.
    with pytest.raises(VerificationError, match="does not prove it"):
        w.verify(w.bundle(("uni", "valid-1")), credentials=(w.doc("uni", "after-b"),))


@pytest.mark.parametrize("change", [
    {"type": ["VerifiableCredential"]}, {"credentialSubject": 5}, {"extra": 1},
    {"evidence": 5}, {"evidence": True}, {"name": "\ud800"}, {"@context": []},
], ids=["type", "subject-type", "extra-field", "parts-int", "parts-bool", "lone-surrogate",
        "context"])
def test_malformed_credential_is_a_verification_error(story: Story,
                                                      change: dict[str, Any]) -> None:
    w = story.w
    doc = dict(w.doc("uni", "valid-1"), **change)
    with pytest.raises(VerificationError, match=f"uni/{H('valid-1')}: the credential: "):
        w.verify(w.bundle(("uni", "valid-1")), credentials=(doc,))


# ------------------------------------------------------------------------------------ tamper


def _mutants(data: bytes, values: tuple[int, ...], step: int) -> Iterator[tuple[int, bytes]]:
    for pos in range(0, len(data), step):
        for value in values:
            new = value(data[pos]) if callable(value) else value
            if new != data[pos]:
                yield pos, data[:pos] + bytes([new]) + data[pos + 1:]


def _tamper(data: str, honest: dict[tuple[str, str], tuple[str, str | None]],
            values: tuple[Any, ...], step: int = 1, **trust: Any) -> tuple[int, int]:
    """Verify every mutant; each must raise a LedgerError or give exactly the honest answers
    (and subjects). Returns (refused, accepted); fails listing the first offending positions.
    ``trust`` may carry ``credentials`` and ``subject``, given beside every mutant."""
    raw = data.encode()
    bad: list[str] = []
    refused = accepted = 0
    for pos, mutant in _mutants(raw, values, step):
        try:
            v = verify_bundle(mutant, at=LATER, **trust)
        except LedgerError:
            refused += 1
            continue
        except Exception as exc:  # noqa: BLE001 -- the point: nothing but LedgerError escapes
            bad.append(f"@{pos} {raw[pos:pos + 1]!r}->{mutant[pos:pos + 1]!r}: "
                       f"{exc.__class__.__name__}: {exc}")
            continue
        got = _honest(v)
        if got != honest:
            bad.append(f"@{pos} {raw[pos:pos + 1]!r}->{mutant[pos:pos + 1]!r}: {got}")
        accepted += 1
    assert not bad, f"{len(bad)} bad mutants, first: {bad[:5]}"
    return refused, accepted


def _honest(v: Verdict) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(c.issuer, name_of(c.cred_id)): (c.answer, c.subject) for c in v.credentials}


def _flip(b: int) -> int:
    return b ^ 0x01


OTHER_VALUES = (ord("0"), ord('"'), ord("}"), ord("A"), ord("\\"), 0x00, 0xFF, _flip)


def test_tamper_every_byte_of_a_valid_bundle(small: Small) -> None:
    w = small.w
    honest = _honest(w.verify(small.valid))
    assert honest == {("uni", "c1"): (VALID, None)}
    assert len(small.valid) < 8192
    refused, accepted = _tamper(small.valid, honest, (_flip,), log_key=w.log_key)
    # Today every flip is refused; the bound leaves room for a future byte that changes nothing
    # (such a mutant must still answer honestly, which _tamper checks).
    assert refused > 0.95 * len(small.valid)
    assert refused + accepted == len(small.valid)


def test_tamper_a_valid_bundle_with_other_values(small: Small) -> None:
    w = small.w
    honest = _honest(w.verify(small.valid))
    _tamper(small.valid, honest, OTHER_VALUES, log_key=w.log_key)


def test_tamper_a_valid_bundle_under_root_trust(small: Small) -> None:
    """With a trusted root the note's signature lines are not checked: flips there may still
    verify, but only with the honest answer."""
    w = small.w
    size = w.ledger.head().size
    trust = {"root": w.root_of(size), "size": size}
    honest = _honest(w.verify(small.valid, **trust))
    _tamper(small.valid, honest, (_flip,), **trust)


def test_tamper_a_valid_bundle_beside_its_credential(small: Small) -> None:
    """Every flip of the bundle, verified with the holder's credential and identifier beside
    it: refused, or the honest answer with the holder checked."""
    w = small.w
    beside = {"credentials": (small.credential,), "subject": SUBJECT}
    honest = _honest(w.verify(small.valid, **beside))
    assert honest == {("uni", "c1"): (VALID, SUBJECT)}
    _tamper(small.valid, honest, (_flip,), log_key=w.log_key, **beside)


def test_tamper_the_credential_beside_a_valid_bundle(small: Small) -> None:
    """Flips of the holder's credential file (every 5th byte: each costs a proof check): each
    is refused as JSON or as the credential, or changes nothing the proof and the digest
    cover (whitespace, a key's escape) and gives the honest answer."""
    from ledger.openbadges import parse_credential

    w = small.w
    raw = json.dumps(small.credential, indent=2).encode()
    refused = accepted = 0
    bad = []
    for pos, mutant in _mutants(raw, (_flip,), 5):
        try:
            v = w.verify(small.valid, credentials=(parse_credential(mutant),), subject=SUBJECT)
        except LedgerError:
            refused += 1
            continue
        except Exception as exc:  # noqa: BLE001 -- the point: nothing but LedgerError escapes
            bad.append(f"@{pos}: {exc.__class__.__name__}: {exc}")
            continue
        if _honest(v) != {("uni", "c1"): (VALID, SUBJECT)}:
            bad.append(f"@{pos}: {_honest(v)}")
        accepted += 1
    assert not bad, bad[:5]
    assert refused > 0.9 * (refused + accepted)


def test_tamper_every_byte_of_a_revoked_bundle(small: Small) -> None:
    w = small.w
    honest = _honest(w.verify(small.revoked))
    assert honest == {("uni", "c2"): (REVOKED_ANSWER, None)}
    _tamper(small.revoked, honest, (_flip,), log_key=w.log_key)
    _tamper(small.revoked, honest, OTHER_VALUES, step=2, log_key=w.log_key)


def test_tamper_every_byte_of_a_not_found_bundle(small: Small) -> None:
    w = small.w
    honest = _honest(w.verify(small.absent))
    assert honest == {("uni", "c9"): (NOT_FOUND, None)}
    _tamper(small.absent, honest, (_flip,), log_key=w.log_key)
    _tamper(small.absent, honest, OTHER_VALUES, log_key=w.log_key)


def _map_item(doc: dict[str, Any], key: bytes) -> dict[str, Any]:
    want = base64.b64encode(key).decode()
    return next(m for m in doc["map"] if m["key"] == want)


def test_forged_record_is_refused(small: Small) -> None:
    """Replace the revoked credential's record by a well-formed "issued" one: the map proof
    proves the hash of the real record, so the forgery is caught."""
    w = small.w
    doc = json.loads(small.revoked)
    item = _map_item(doc, map_key(CRED, "uni", H("c2")))
    real = decode_record(base64.b64decode(item["record"]))
    assert isinstance(real, CredRecord) and real.state == REVOKED
    forged = CredRecord(real.issuer, real.cred_id, ISSUED, real.issued_index, None, "",
                        real.last_time)
    item["record"] = base64.b64encode(forged.encode()).decode()
    with pytest.raises(VerificationError, match="does not match the proven value hash"):
        w.verify(json.dumps(doc))
    doc["entries"] = [e for e in doc["entries"] if e["index"] != real.changed_index]
    with pytest.raises(VerificationError, match="does not match the proven value hash"):
        w.verify(json.dumps(doc))


def test_record_given_with_a_proof_of_absence_is_refused(small: Small) -> None:
    w = small.w
    doc = json.loads(small.absent)
    record = json.loads(small.valid)["map"][0]["record"]
    _map_item(doc, map_key(CRED, "uni", H("c9")))["record"] = record
    with pytest.raises(VerificationError, match="record is given for an absent key"):
        w.verify(json.dumps(doc))


def test_tamper_truncations(small: Small) -> None:
    w = small.w
    raw = small.valid.encode()
    for n in range(0, len(raw) - 2, 7):  # the last two bytes are "}\n": dropping "\n" is fine
        with pytest.raises(LedgerError):
            verify_bundle(raw[:n], log_key=w.log_key, at=LATER)


@pytest.mark.parametrize("mutate", [
    lambda d: d["entries"][0].update(index=d["entries"][0]["index"] + 1),
    lambda d: d["entries"][0].update(index=d["entries"][0]["index"] - 1),
    lambda d: d["entries"][0]["proof"].pop(),
    lambda d: d["entries"][0]["proof"].append(d["entries"][0]["proof"][0]),
    lambda d: d["entries"][0]["proof"].reverse(),
    lambda d: d["entries"].pop(0),
    lambda d: d["entries"].pop(),
    lambda d: d["map"].pop(),
    lambda d: d["map"][0]["siblings"].pop(),
    lambda d: d["map"][0].update(record=d["map"][1]["record"]),
    lambda d: d["map"][0].update(leaf_key=None, leaf_value=None, record=None),
    lambda d: d.update(entries=[dict(e, entry=d["entries"][-1]["entry"]) for e in d["entries"]]),
    lambda d: d.update(checkpoint=d["checkpoint"].replace("\n6\n", "\n5\n")),
], ids=["index+1", "index-1", "proof-short", "proof-long", "proof-reversed", "no-key-entry",
        "no-last-entry", "no-issuer-proof", "map-short", "record-swapped", "absence-claimed",
        "entries-swapped", "size-1"])
def test_structural_tampering_is_refused(small: Small, mutate: Callable[[Any], None]) -> None:
    w = small.w
    assert w.ledger.head().size == 6  # what "size-1" changes
    with pytest.raises(LedgerError):
        w.verify(edit(small.valid, mutate))
    size = w.ledger.head().size
    with pytest.raises(LedgerError):
        w.verify(edit(small.valid, mutate), root=w.root_of(size), size=size)


# ------------------------------------------------------------------------------------ limits


def _with_proof(data: str, items: str) -> str:
    """The bundle with its first entry proof replaced by the raw JSON ``items``."""
    doc = json.loads(data)
    doc["entries"][0]["proof"] = ["PLACEHOLDER"]
    return json.dumps(doc).replace('["PLACEHOLDER"]', "[" + items + "]")


def test_a_million_proof_hashes_are_refused(small: Small) -> None:
    w = small.w
    h = json.loads(small.valid)["entries"][0]["proof"][0]
    data = _with_proof(small.valid, ",".join([json.dumps(h)] * 1_000_000))
    assert len(data) > MAX_BUNDLE_SIZE
    with pytest.raises(EncodingError, match=str(MAX_BUNDLE_SIZE)):
        w.verify(data)


def test_a_million_short_proof_items_are_refused_by_count(small: Small) -> None:
    w = small.w
    data = _with_proof(small.valid, ",".join(["0"] * 1_000_000))
    assert len(data) < MAX_BUNDLE_SIZE
    # Refused now before parsing, by the count of JSON items (issue 15.8e), no longer after it
    # by the length of the list (test_path_limit_itself holds that limit).
    from ledger.bundle import MAX_BUNDLE_ITEMS

    with pytest.raises(EncodingError, match=f"bundle: more than {MAX_BUNDLE_ITEMS} JSON items"):
        w.verify(data)


def test_path_limit_itself(small: Small) -> None:
    w = small.w
    h = json.loads(small.valid)["entries"][0]["proof"][0]
    with pytest.raises(EncodingError, match=f"more than {MAX_PATH} items"):
        w.verify(_with_proof(small.valid, ",".join([json.dumps(h)] * (MAX_PATH + 1))))
    # At the limit the shape is fine and the inclusion proof itself fails.
    with pytest.raises(VerificationError):
        w.verify(_with_proof(small.valid, ",".join([json.dumps(h)] * MAX_PATH)))


@pytest.mark.parametrize("what", ["map", "siblings", "credentials", "entries"])
def test_list_limits(small: Small, what: str) -> None:
    doc = json.loads(small.valid)
    if what == "siblings":
        doc["map"][0]["siblings"] = [doc["map"][0]["key"]] * 257
    elif what == "credentials":
        doc["credentials"] = [{"issuer": "uni", "id": handle(i)} for i in range(1025)]
    elif what == "entries":
        doc["entries"] = [dict(doc["entries"][0], index=i) for i in range(4097)]
    else:
        doc["map"] = [dict(doc["map"][0], key=base64.b64encode(i.to_bytes(32, "big")).decode())
                      for i in range(4097)]
    with pytest.raises(EncodingError, match="more than"):
        small.w.verify(json.dumps(doc))


def test_a_17_mib_bundle_is_refused(small: Small) -> None:
    data = small.valid.rstrip() + " " * (17 << 20) + "\n"
    for form in (data, data.encode()):
        with pytest.raises(EncodingError, match=f"larger than {MAX_BUNDLE_SIZE}"):
            small.w.verify(form)


@pytest.mark.parametrize("data", [
    "", "not json", "{", b"\xff\xfe\x00", "[]", '["format"]', "null", "42", '"text"',
    "{}", "NaN",
], ids=["empty", "text", "open-brace", "bad-utf8", "empty-array", "array", "null", "number",
        "string", "empty-object", "nan"])
def test_non_bundles_are_encoding_errors(small: Small, data: str | bytes) -> None:
    with pytest.raises(EncodingError):
        small.w.verify(data)


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(name)


@pytest.mark.parametrize("mutate,match", [
    (_drop("format"), "missing field 'format'"),
    (_drop("checkpoint"), "missing field 'checkpoint'"),
    (_drop("entries"), "missing field 'entries'"),
    (_drop("map"), "missing field 'map'"),
    (_drop("credentials"), "missing field 'credentials'"),
    (lambda d: d.update(extra=1), "unknown field 'extra'"),
    (lambda d: d["entries"][0].update(extra=1), "unknown field 'extra'"),
    (lambda d: d["entries"][0].pop("proof"), "missing field 'proof'"),
    (lambda d: d["map"][0].update(extra=None), "unknown field 'extra'"),
    (lambda d: d["map"][0].pop("record"), "missing field 'record'"),
    (lambda d: d["credentials"][0].update(note="x"), "unknown field 'note'"),
    (lambda d: d["credentials"][0].pop("id"), "missing field 'id'"),
    (lambda d: d.update(format="credential-ledger/bundle@v3"), "format: want"),
    (lambda d: d.update(format="credential-ledger/bundle@v1"),
     ("credential-ledger/bundle@v1 is of entry format 1; this verifier reads "
     "'credential-ledger/bundle@v2'")),
    (lambda d: d.update(format=None), "format"),
    (lambda d: d.update(checkpoint=5), "checkpoint"),
    (lambda d: d.update(credentials=[]), "credentials: empty"),
    (lambda d: d["credentials"][0].update(id="../etc"), "want urn:uuid:"),
    (lambda d: d["credentials"][0].update(id=H("c1").upper()), "in lower case"),
    (lambda d: d["credentials"][0].update(id="c1"), r"credentials\[0\]: credential: want"),
    (lambda d: d["credentials"][0].update(issuer=7), "issuer"),
    (lambda d: d["entries"][0].update(index=True), "index"),
    (lambda d: d["entries"][0].update(index=-1), "index"),
    (lambda d: d["entries"][0].update(index=1.0), "index"),
    (lambda d: d["entries"][0].update(index=1 << 63), "index"),
    (lambda d: d["entries"].append(d["entries"][0]), "appears twice"),
    (lambda d: d["map"].append(d["map"][0]), "appears twice"),
    (lambda d: d["entries"][0].update(entry="not base64!"), "base64"),
    (lambda d: d["entries"][0].update(entry="AB=="), "not canonical base64"),
    (lambda d: d["entries"][0]["proof"].__setitem__(0, "AAAA"), "32 bytes"),
    (lambda d: d["map"][0].update(leaf_key=None), "map"),
    (lambda d: d["map"][0].update(key="AAAA"), "32 bytes"),
    (lambda d: d.update(documents={}), "unknown field 'documents'"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_malformed_bundles_are_encoding_errors(small: Small, mutate: Callable[[Any], None],
                                               match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        small.w.verify(edit(small.valid, mutate))


def test_duplicate_json_keys_are_refused(small: Small) -> None:
    other = json.dumps([{"issuer": "uni", "id": H("c2")}])
    data = small.valid.rstrip()[:-1] + f', "credentials": {other}}}'
    with pytest.raises(EncodingError):
        small.w.verify(data)


# ------------------------------------------------------------------------------------ layering


def test_importing_the_verifier_does_not_load_lmdb() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "import ledger.verify, sys; print('lmdb' in sys.modules, 'ledger.store' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
    # The check can fail: importing the store does load lmdb.
    code = "import ledger.store, sys; print('lmdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["True"]


# ------------------------------------------------------------------------------------ CLI


@dataclass
class CliStory:
    store: Path
    vkey: str
    old_size: int
    size: int
    roots: dict[int, str]
    doc: dict[str, Any]  # v-1's credential


@pytest.fixture(scope="module")
def cli_story(tmp_path_factory: pytest.TempPathFactory) -> CliStory:
    """A small store built with the API and closed, so the CLI can open it."""
    store = tmp_path_factory.mktemp("cli") / "store"
    w = World(store, "cli.example/log")
    key = Signer.generate("uni")
    w.register("uni", key)
    for name in ("v-1", "r-1", "s-1"):
        w.issue(key, "uni", name)
    w.ledger.checkpoint()
    old_size = w.ledger.head().size
    w.status(key, REVOKE, "uni", "r-1", "withdrawn")
    w.status(key, SUSPEND, "uni", "s-1", "under-review")
    w.ledger.checkpoint()
    size = w.ledger.head().size
    story = CliStory(store, str(w.log_key), old_size, size,
                     {n: w.root_of(n).hex() for n in (old_size, size)}, w.doc("uni", "v-1"))
    w.ledger.close()
    return story


def _run(*args: str) -> Any:
    from ledger.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _prove(s: CliStory, tmp_path: Path, cred: str, *extra: str) -> Path:
    out = tmp_path / f"{cred}.bundle.json"
    r = _run("--dir", str(s.store), "prove", "uni", H(cred), "-o", str(out), *extra)
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.parametrize("cred,code,words", [
    ("v-1", 0, ["VALID", f"uni/{H('v-1')}"]),
    ("r-1", 1, ["REVOKED", ": withdrawn"]),
    ("s-1", 1, ["SUSPENDED", ": under-review"]),
    ("never", 1, ["NOT FOUND", "absence proven"]),
])
def test_cli_verify_answers(cli_story: CliStory, tmp_path: Path, cred: str, code: int,
                            words: list[str]) -> None:
    s = cli_story
    path = _prove(s, tmp_path, cred)
    for trust in (["--log-key", s.vkey], ["--root", s.roots[s.size], "--size", str(s.size)]):
        r = _run("--dir", str(tmp_path / "nowhere"), "verify", str(path), *trust)
        assert r.exit_code == code, r.output
        for word in words:
            assert word in r.stdout
        j = _run("verify", str(path), *trust, "--json")
        assert j.exit_code == code
        doc = json.loads(j.stdout)
        assert doc["answer"] == words[0] and doc["valid"] is (code == 0)
        assert doc["checkpoint"]["size"] == s.size


def test_cli_verify_tampered_bundle_is_invalid(cli_story: CliStory, tmp_path: Path) -> None:
    s = cli_story
    path = _prove(s, tmp_path, "v-1")
    doc = json.loads(path.read_text())
    proof = doc["entries"][0]["proof"]
    proof[0] = base64.b64encode(bytes(32)).decode()
    path.write_text(json.dumps(doc))
    r = _run("verify", str(path), "--log-key", s.vkey)
    assert r.exit_code == 1 and "INVALID" in r.stdout
    j = _run("verify", str(path), "--log-key", s.vkey, "--json")
    assert j.exit_code == 1 and json.loads(j.stdout)["answer"] == "INVALID"
    # The wrong root is INVALID as well.
    r = _run("verify", str(_prove(s, tmp_path, "v-1")), "--root", s.roots[s.old_size],
             "--size", str(s.size))
    assert r.exit_code == 1 and "INVALID" in r.stdout


@pytest.mark.parametrize("trust", [
    [], ["--root", "00" * 32], ["--size", "3"], ["--root", "zz" * 32, "--size", "3"],
    ["--root", "00" * 31, "--size", "3"], ["--log-key", "K", "--root", "00" * 32, "--size", "3"],
    ["--size", "-1", "--root", "00" * 32],
], ids=["none", "root-only", "size-only", "root-not-hex", "root-short", "both", "size-negative"])
def test_cli_verify_usage_errors(cli_story: CliStory, tmp_path: Path, trust: list[str]) -> None:
    path = _prove(cli_story, tmp_path, "v-1")
    r = _run("verify", str(path), *trust)
    assert r.exit_code == 2, r.output


def test_cli_verify_missing_file(cli_story: CliStory, tmp_path: Path) -> None:
    r = _run("verify", str(tmp_path / "absent.json"), "--log-key", cli_story.vkey)
    assert r.exit_code == 3 and "no such file" in r.output


def test_cli_verify_oversize_and_garbage(cli_story: CliStory, tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (17 << 20))
    r = _run("verify", str(big), "--log-key", cli_story.vkey)
    assert r.exit_code == 1 and "larger than" in r.output
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2, 3]")
    r = _run("verify", str(junk), "--log-key", cli_story.vkey)
    assert r.exit_code == 1 and "INVALID" in r.stdout


def test_cli_prove_at_an_old_checkpoint(cli_story: CliStory, tmp_path: Path) -> None:
    s = cli_story
    path = _prove(s, tmp_path, "r-1", "--size", str(s.old_size))
    r = _run("verify", str(path), "--root", s.roots[s.old_size], "--size", str(s.old_size))
    assert r.exit_code == 0 and "VALID" in r.stdout and "REVOKED" not in r.stdout
    r = _run("verify", str(path), "--log-key", s.vkey, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["checkpoint"]["size"] == s.old_size
    r = _run("verify", str(_prove(s, tmp_path, "r-1")), "--log-key", s.vkey)
    assert r.exit_code == 1 and "REVOKED" in r.stdout
    r = _run("--dir", str(s.store), "prove", "uni", H("r-1"), "--size", str(s.old_size + 1))
    assert r.exit_code == 3 and "no checkpoint of size" in r.output


def test_cli_prove_never_issued(cli_story: CliStory, tmp_path: Path) -> None:
    s = cli_story
    r = _run("--dir", str(s.store), "prove", "uni", H("never-issued"))
    assert r.exit_code == 0
    path = tmp_path / "never.json"
    path.write_text(r.stdout)
    assert json.loads(r.stdout)["map"][0]["record"] is None
    r = _run("verify", str(path), "--log-key", s.vkey, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["answer"] == NOT_FOUND


def test_cli_verify_a_credential_with_its_bundle(cli_story: CliStory, tmp_path: Path) -> None:
    s = cli_story
    path = _prove(s, tmp_path, "v-1")
    doc = tmp_path / "v-1.json"
    doc.write_text(json.dumps(s.doc, indent=2))
    r = _run("verify", str(doc), "--bundle", str(path), "--log-key", s.vkey, "--subject",
             SUBJECT, "--json")
    assert r.exit_code == 0, r.output
    answer = json.loads(r.stdout)["credentials"][0]
    assert (answer["subject"], answer["credential_checked"], answer["holder_checked"]) == (
        SUBJECT, True, True)
    r = _run("verify", str(doc), "--bundle", str(path), "--log-key", s.vkey)
    assert r.exit_code == 0 and "credential checked; holder not checked" in r.stdout
    # Another holder, or a credential changed after it was signed: INVALID.
    r = _run("verify", str(doc), "--bundle", str(path), "--log-key", s.vkey, "--subject",
             "mallory@example.org")
    assert r.exit_code == 1 and "INVALID" in r.stdout
    doc.write_text(json.dumps(dict(s.doc, name="Another Course")))
    r = _run("verify", str(doc), "--bundle", str(path), "--log-key", s.vkey)
    assert r.exit_code == 1 and "INVALID" in r.stdout and "does not verify" in r.stdout
    # The bundle of another credential: the credential is not one it proves (a usage error,
    # exit 2, naming the fix; the library refuses it too, test_credential_for_a_credential_
    # not_in_the_bundle_is_refused).
    other = _prove(s, tmp_path, "r-1")
    doc.write_text(json.dumps(s.doc))
    r = _run("verify", str(doc), "--bundle", str(other), "--log-key", s.vkey)
    assert r.exit_code == 2 and "none of the bundles proves its credential" in r.output
    # A credential alone is not verified: its bundle is needed.
    r = _run("verify", str(doc), "--log-key", s.vkey)
    assert r.exit_code == 2 and "--bundle" in r.output


def test_cli_verify_credential_with_bad_parts_is_invalid(cli_story: CliStory,
                                                         tmp_path: Path) -> None:
    s = cli_story
    path = _prove(s, tmp_path, "v-1")
    doc = tmp_path / "v-1.json"
    doc.write_text(json.dumps(dict(s.doc, evidence=5)))
    r = _run("verify", str(doc), "--bundle", str(path), "--log-key", s.vkey)
    assert r.exit_code in (1, 2) and ("INVALID" in r.stdout or "evidence" in r.output)
    assert "Traceback" not in r.output and "internal error" not in r.output


# ---------------------------------------------------------------------------------------------
# Base64 fields: exactly the canonical encodings are accepted (strict binascii decoding plus a
# re-encoding check), the same set as base64.b64decode(validate=True) plus the same check.


def _reference_b64(value: str) -> bytes | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw if base64.b64encode(raw).decode() == value else None


_B64_PIECES = ["A", "B", "Q", "g", "w", "/", "+", "=", "==", " ", "\n", "-", "_", "é", "AAAA",
               "AA==", "AB==", "AAA=", "AAB=", "\x00"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_B64_PIECES), max_size=12) | st.binary(max_size=40).map(
    lambda b: [base64.b64encode(b).decode()]))
def test_base64_fields_accept_exactly_the_canonical_encodings(pieces: list[str]) -> None:
    from ledger.bundle import _b64
    from ledger.errors import EncodingError

    value = "".join(pieces)
    want = _reference_b64(value)
    try:
        got: bytes | None = _b64(value, "field")
    except EncodingError:
        got = None
    assert got == want, value


# ------------------------------------------------------------------- what is printed (issue 15.8)
# Text from a bundle or a note reaches the terminal escaped (ledger.printable): no C0, DEL or C1
# control, no direction override or isolate, nothing else that does not print.

HOSTILE = "x\x1b[2J\x9b31m\u202eevil\u2066\u200f\u061c\x7f\t\n\u2028y"


def _printed(text: str) -> None:
    """Every line of ``text`` is printable, and the hostile characters appear only escaped."""
    for line in text.splitlines():
        assert line.isprintable(), repr(line)
    for char in "\x1b\x9b\u202e\u2066\u200f\u061c\x7f\u2028":
        assert char not in text


def test_printable_escapes_what_a_terminal_obeys() -> None:
    from ledger.printable import BIDI_CONTROLS, printable

    assert printable("plain text, é, 中文, 😀") == "plain text, é, 中文, 😀"
    assert printable("a\x1bb\x9bc\x7fd\u202ee\tf\ng") == \
        "a\\x1bb\\x9bc\\x7fd\\u202ee\\x09f\\x0ag"
    assert printable("\U000e0001\ud800") == "\\U000e0001\\ud800"
    for char in BIDI_CONTROLS | {chr(c) for c in (*range(0x20), *range(0x7f, 0xa0))}:
        assert printable(char).isprintable() and printable(char).startswith("\\")
    assert printable(printable(HOSTILE)) == printable(HOSTILE)  # escaping twice changes nothing


def _verify_file(tmp_path: Path, data: str, **kw: Any) -> tuple[int, str, str]:
    from ledger.verifycmd import run_verify

    path = tmp_path / "b.json"
    path.write_text(data, encoding="utf-8")
    kw.setdefault("log_key", None)
    kw.setdefault("root", None)
    kw.setdefault("size", None)
    return run_verify(str(path), at="2026-02-01", **kw)


def test_reasons_and_titles_are_printed_escaped(tmp_path: Path) -> None:
    """The logged text an answer prints: the achievement's name (its title), the issuer's
    name, a key revocation's reason (credential status reasons are codes now)."""
    from ledger.events import REGISTER_ACHIEVEMENT

    w = World(tmp_path / "store", "print.example/log")
    key = Signer.generate("uni")
    reason = "".join(c for c in HOSTILE if c not in "\x1b\x7f\n")  # logged text: no C0 but tab
    w.append(w.registry, REGISTER_ISSUER, "uni", "Uni " + reason, "https://uni.example",
             key.public_key)
    w.append(key, REGISTER_ACHIEVEMENT, "uni", "evil", "Title " + reason, "What it covers.",
             "Pass it.", "Course")
    w.put(key, issue_st("uni", next(w.times), H("c1"), achievement="evil", status_index=1))
    w.status(key, REVOKE, "uni", "c1", "withdrawn")
    w.append(w.registry, REVOKE_KEY, "uni", key_id(key.public_key), reason)
    w.ledger.checkpoint()
    data = w.bundle(("uni", "c1"))
    a = one(w.verify(data))
    # The answer keeps the logged text; only printing escapes it.
    assert (a.title, a.issuer_name, a.key_revoked_reason) == ("Title " + reason, "Uni " + reason,
                                                              reason)
    _printed(a.describe())
    code, out, err = _verify_file(tmp_path, data, log_key=str(w.log_key))
    assert code == 1 and "REVOKED" in out and not err
    _printed(out)
    assert "\\x9b31m\\u202eevil" in out and "Title x" in out
    code, out, _ = _verify_file(tmp_path, data, log_key=str(w.log_key), as_json=True)
    got = json.loads(out)["credentials"][0]
    assert out.isascii() and (got["title"], got["key_revoked"]["reason"]) == (
        "Title " + reason, reason)
    w.ledger.close()
    # The store's own commands print the logged text escaped too.
    from ledger.cli import cli

    for args in (["status", "uni"], ["achievement", "show", "uni", "evil"]):
        result = CliRunner().invoke(cli, ["--dir", str(tmp_path / "store"), *args])
        assert result.exit_code == 0 and "\\x9b31m\\u202eevil" in result.output, args
        _printed(result.output)
    result = CliRunner().invoke(cli, ["--dir", str(tmp_path / "store"), "status", "uni",
                                      "c\u202e1"])
    assert result.exit_code != 0 and "c\\u202e1" in result.output
    _printed(result.output)


def test_an_unauthenticated_origin_and_note_key_names_are_printed_escaped(small: Small,
                                                                           tmp_path: Path) -> None:
    from ledger.note import format_note, parse_note

    w = small.w
    size = w.ledger.head().size
    note = parse_note(json.loads(small.valid)["checkpoint"])
    evil_origin = note.text.replace(w.origin, "evil\x9b\u202e.example/log", 1)
    # With root trust the origin is not authenticated: it is printed, escaped.
    data = edit(small.valid, lambda d: d.update(
        checkpoint=format_note(type(note)(evil_origin, note.signatures))))
    code, out, err = _verify_file(tmp_path, data, root=w.root_of(size).hex(), size=size)
    assert code == 0 and "checkpoint evil\\x9b\\u202e.example/log" in out
    _printed(out)
    # A signature line under a key name of controls and overrides, quoted in the error.
    stranger = Signer.generate("k\x9b\u202e\u2066\x9dz")
    from ledger.note import sign_note

    forged = sign_note(note.text, stranger)
    data = edit(small.valid, lambda d: d.update(checkpoint=forged))
    code, out, err = _verify_file(tmp_path, data, log_key=str(w.log_key))
    assert code == 1 and out.startswith("INVALID") and "k\\x9b\\u202e\\u2066\\x9dz+" in out
    _printed(out)
    _printed(err)


def test_a_revoked_signing_key_and_a_retired_issuer_are_said(tmp_path: Path) -> None:
    """Issue 15.8c: still VALID by the rules (the key was active at the issuance), but said."""
    from ledger.events import RETIRE_ISSUER

    w = World(tmp_path / "store", "said.example/log")
    key, new = Signer.generate("uni"), Signer.generate("uni-2")
    w.register("uni", key)
    w.issue(key, "uni", "c1")
    w.append(key, ROTATE_KEY, "uni", new.public_key)
    w.issue(new, "uni", "c2")
    w.ledger.checkpoint()
    for cred in ("c1", "c2"):  # a rotated key, an active one, a registered issuer: nothing said
        a = one(w.verify(w.bundle(("uni", cred))))
        assert a.answer == VALID and a.key_revoked_index is None
        assert a.issuer_retired_index is None
        assert "revoked" not in a.describe() and "retired" not in a.describe()
        assert a.as_dict()["key_revoked"] is None and a.as_dict()["issuer_retired"] is None
    kid = key_id(new.public_key)
    revoked_at = w.append(w.registry, REVOKE_KEY, "uni", kid, "stolen laptop")
    retired_at = w.append(w.registry, RETIRE_ISSUER, "uni", "merged into poly")
    w.register("poly", Signer.generate("poly"))  # the tree's last entry is another one
    w.ledger.checkpoint()
    data = w.bundle(("uni", "c2"))
    v = w.verify(data)
    a = one(v)
    assert v.valid and a.answer == VALID
    assert (a.key_id, a.key_revoked_index, a.key_revoked_reason) == (kid, revoked_at,
                                                                    "stolen laptop")
    assert (a.issuer_retired_index, a.issuer_retired_reason) == (retired_at, "merged into poly")
    assert a.describe().startswith("VALID ")
    assert f"; signed by key {kid}, revoked at entry {revoked_at} (stolen laptop)" in a.describe()
    assert f"; issuer uni retired at entry {retired_at} (merged into poly)" in a.describe()
    d = v.as_dict()["credentials"][0]
    assert d["key_revoked"] == {"index": revoked_at, "reason": "stolen laptop",
                                "compromised_since": revoked_at}
    assert d["compromise"] is None
    assert d["issuer_retired"] == {"index": retired_at, "reason": "merged into poly"}
    # The first key was rotated, not revoked: only the retirement is said for c1.
    a = one(w.verify(w.bundle(("uni", "c1"))))
    assert a.answer == VALID and a.key_revoked_index is None
    assert a.issuer_retired_index == retired_at
    # The bundle needs nothing more than the key's and issuer's records (already proven); the
    # revocation and retirement entries themselves are not in it.
    indexes = {e["index"] for e in json.loads(data)["entries"]}
    assert revoked_at not in indexes and retired_at not in indexes
    w.ledger.close()


# --------------------------------------------------------- parsing memory (issue 15.8e)

_PEAK = r"""
import sys
def hwm():  # VmHWM: this process's peak RSS, in MiB (reset by exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
from ledger.bundle import parse_bundle
from ledger.errors import EncodingError
data = open(sys.argv[1], "rb").read()
before = hwm()
try:
    parse_bundle(data)
except EncodingError as exc:
    print(exc)
print(hwm() - before)
"""


def _parse_growth(tmp_path: Path, data: bytes) -> tuple[str, float]:
    """Parse ``data`` as a bundle in a fresh interpreter: its error, and how far (MiB) the
    parse raised the process's peak RSS above what reading the file took."""
    path = tmp_path / "hostile.json"
    path.write_bytes(data)
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout.splitlines()
    return out[0], float(out[1])


def _filled(body: bytes, tail: bytes = b"") -> bytes:
    """``body`` (a JSON array) padded with one long string to exactly MAX_BUNDLE_SIZE."""
    filler = MAX_BUNDLE_SIZE - len(body) - 3 - len(tail)
    return body[:-1] + b',"' + tail + b"a" * filler + b'"]'


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_bundle_parsing_memory_is_bounded(tmp_path: Path) -> None:
    from ledger.bundle import MAX_BUNDLE_ITEMS

    # 16 MiB of empty objects: refused before parsing. Before the bound, parsing it raised the
    # peak by about 400 MiB (measured 399-401 MiB on Python 3.11); now by nothing measurable
    # (0 MiB) and in about 0.3 s. Bound: 32 MiB.
    empty = b"[" + b"{}," * ((MAX_BUNDLE_SIZE - 2) // 3 - 1) + b"{}]"
    error, grew = _parse_growth(tmp_path, empty)
    assert grew < 32, grew
    assert error == f"bundle: more than {MAX_BUNDLE_ITEMS} JSON items"
    # The costliest shapes the bound admits, at 16 MiB: parsed, then refused for their shape.
    # Bound: MAX_BUNDLE_ITEMS (2^19) items at most about 130 bytes each (one large object's
    # member, key and pair; or a one-member object) = 64 MiB, plus the text decoded to str and
    # one long string in it, each at most 4 bytes a byte of input when a character outside
    # the BMP makes them UCS-4 = 2 x 64 MiB; 192 MiB in all. Measured: 127 MiB (one object of
    # 2^19 members) and 142 MiB (2^18 empty objects and a 12 MiB string with an emoji).
    big_object = b'[{' + b",".join(b'"%x":0' % (i + 0x100000)
                                   for i in range(MAX_BUNDLE_ITEMS - 3)) + b"}]"
    objects = b"[" + b"{}," * (MAX_BUNDLE_ITEMS // 2 - 2) + b"{}]"
    for data in (_filled(big_object), _filled(objects, "😀".encode())):
        assert len(data) == MAX_BUNDLE_SIZE
        error, grew = _parse_growth(tmp_path, data)
        assert error == "bundle: top level: want an object"
        assert grew < 192, grew


def test_the_item_bound_admits_any_bundle_of_hashes_up_to_the_size_cap() -> None:
    """What build_bundle writes is mostly 32-byte hashes (47 bytes or more an item, indented):
    16 MiB of them, as map proof siblings, stays under MAX_BUNDLE_ITEMS; strings are skipped."""
    from ledger.bundle import MAX_BUNDLE_ITEMS
    from ledger.parse import json_items_within

    proof = {"key": "A" * 43 + "=", "leaf_key": None, "leaf_value": None,
             "siblings": [base64.b64encode(bytes([i]) * 32).decode() for i in range(256)],
             "record": None}
    def text_of(n: int) -> str:
        return json.dumps({"map": [proof] * n}, indent=1)

    one_proof = len(text_of(2)) - len(text_of(1))
    text = text_of((MAX_BUNDLE_SIZE - len(text_of(0))) // one_proof)
    assert MAX_BUNDLE_SIZE - one_proof < len(text) <= MAX_BUNDLE_SIZE
    assert json_items_within(text, MAX_BUNDLE_ITEMS)
    assert json_items_within(text.encode(), MAX_BUNDLE_ITEMS)
    # Commas, brackets and braces inside strings are not items.
    titled = json.dumps({"documents": [{"title": "{[,]}" * 1000}] * 1000})
    assert json_items_within(titled, 2100) and not json_items_within(titled, 2000)
    assert json_items_within(rb'["a\",\\",1]', 2) and not json_items_within(rb'["a\",\\",1]', 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_credential_parsing_is_bounded_too(tmp_path: Path) -> None:
    """A holder's credential file is refused above MAX_CREDENTIAL_BYTES (1 MiB) before it is
    parsed; the costliest 1 MiB of JSON (empty objects) raises the peak by about 11 MiB
    (measured on Python 3.11). Bound: 32 MiB."""
    from ledger.errors import CredentialError
    from ledger.openbadges import MAX_CREDENTIAL_BYTES, parse_credential

    with pytest.raises(CredentialError, match=f"at most {MAX_CREDENTIAL_BYTES}"):
        parse_credential(b" " * (MAX_CREDENTIAL_BYTES + 1))
    code = _PEAK.replace("from ledger.bundle import parse_bundle",
                         "from ledger.openbadges import parse_credential as parse_bundle")
    path = tmp_path / "hostile.json"
    path.write_bytes(b"[" + b"{}," * ((MAX_CREDENTIAL_BYTES - 2) // 3 - 1) + b"{}]")
    assert path.stat().st_size <= MAX_CREDENTIAL_BYTES
    out = subprocess.run([sys.executable, "-c", code.replace("EncodingError", "LedgerError"),
                          str(path)], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.splitlines()
    assert out[0] == "document: want a JSON object"
    assert float(out[1]) < 32, out
