"""The value classes of the verifier's modules are frozen, slotted dataclasses: equality, hash,
repr, immutability, pickling, and dataclasses.replace running their constructor checks."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest
from statements import handle

from ledger import bundle, events, note, records, smt, verify, witness
from ledger.errors import EncodingError, ProofError
from ledger.note import Checkpoint, Signer

MODULES = (bundle, events, note, records, smt, verify, witness)
CLASSES = sorted((cls for m in MODULES for cls in vars(m).values()
                  if isinstance(cls, type) and dataclasses.is_dataclass(cls)
                  and cls.__module__ == m.__name__), key=lambda c: c.__qualname__)
ROOT = bytes(range(32))


_SIGNER = Signer("v.example", ROOT)
_SAMPLES: dict[str, Any] = {
    "Checkpoint": Checkpoint("example.org/log", 3, ROOT),
    "Verifier": _SIGNER.verifier(),
    "Signer": _SIGNER,
    "NoteSignature": note.NoteSignature("v.example", b"\x01\x02\x03\x04", b"sig"),
    "Note": note.Note("text\n", (note.NoteSignature("v.example", b"abcd", b"sig"),)),
    "MapProof": smt.MapProof(ROOT, None, None, ()),
    "Statement": events.Statement(events.REVOKE, "uni", 5, ("c-1", "why")),
    "SignedStatement": events.SignedStatement(b"st", ROOT, bytes(64)),
    "Entry": events.Entry(1, 2, ROOT, ROOT, b"st", ROOT, bytes(64)),
    "CredRecord": records.CredRecord("uni", handle(1), records.ISSUED, 1, None, "", 5),
    "KeyRecord": records.KeyRecord("uni", events.key_id(ROOT), ROOT, 0, None, "", ""),
    "IssuerRecord": records.IssuerRecord("uni", "Uni", "https://uni.example", 0, None, ""),
    "AchievementRecord": records.AchievementRecord("uni", "cs201", 3),
    "SlotRecord": records.SlotRecord("uni", events.key_id(ROOT), 7, handle(1)),
    "StatusListRecord": records.StatusListRecord("uni", events.key_id(ROOT), "revocation", 0,
                                                 3, 4),
    "CredentialAnswer": verify.CredentialAnswer("uni", handle(1), verify.VALID, title="T",
                                                achievement="cs201", digest="00" * 32),
    "Compromise": verify.Compromise(3, events.ISSUE, events.key_id(ROOT), 2, 7, "stolen"),
    "Verdict": verify.Verdict(Checkpoint("example.org/log", 3, ROOT), (), "log key", 0),
    "Bundle": bundle.Bundle("note", {}, {}, (("uni", handle(1)),)),
    "CosignerVerifier": witness.CosignerVerifier("w.example", ROOT),
    "WitnessKey": witness.WitnessKey("w.example", ROOT),
}


def test_the_classes_are_found() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {"Entry", "Statement", "Checkpoint", "Verifier", "MapProof", "Verdict",
            "CredentialAnswer", "Bundle", "CosignerVerifier"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_frozen_and_slotted(cls: type[Any]) -> None:
    params = cls.__dataclass_params__
    assert params.frozen and params.eq
    assert cls.__slots__ == tuple(f.name for f in dataclasses.fields(cls))
    assert not hasattr(_SAMPLES[cls.__qualname__], "__dict__")


def _fields(value: Any) -> tuple[object, ...]:
    return tuple(getattr(value, f.name) for f in dataclasses.fields(value))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_value_semantics(cls: type[Any]) -> None:
    value = _SAMPLES[cls.__qualname__]
    twin = cls(*_fields(value))
    assert twin == value
    assert (twin != value) is False  # __ne__ from __eq__
    assert twin is not value and value != _fields(value)
    if cls is not bundle.Bundle:  # its dicts are unhashable
        assert hash(twin) == hash(value)
    for f in dataclasses.fields(cls):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, f.name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(value, f.name)
    # Not a field: FrozenInstanceError, or a TypeError from the generated __setattr__ where
    # CPython lacks the fix for python/cpython#105936 (3.11 and 3.12 do): nothing is set.
    with pytest.raises((AttributeError, TypeError)):
        value.not_a_field = 1
    assert not hasattr(value, "not_a_field")
    for copied in (copy.copy(value), copy.deepcopy(value),
                   pickle.loads(pickle.dumps(value))):
        assert copied == value and type(copied) is cls
    assert dataclasses.replace(value) == value


def test_repr_lists_the_fields_in_order_and_signer_hides_its_seed() -> None:
    cp = Checkpoint("example.org/log", 3, ROOT)
    assert repr(cp) == f"Checkpoint(origin='example.org/log', size=3, root={ROOT!r})"
    assert repr(verify.CredentialAnswer("uni", handle(1), verify.NOT_FOUND)).startswith(
        f"CredentialAnswer(issuer='uni', cred_id='{handle(1)}', answer='NOT FOUND', title='', ")
    assert ROOT.hex() not in repr(_SIGNER) and repr(ROOT) not in repr(_SIGNER)
    assert repr(_SIGNER) == f"Signer(name='v.example', key_id='{_SIGNER.key_id.hex()}')"


def test_equality_needs_the_same_class() -> None:
    a = witness.CosignerVerifier("w.example", ROOT)
    assert a != witness.WitnessKey("w.example", ROOT)
    assert a == witness.CosignerVerifier("w.example", ROOT)
    assert a != witness.CosignerVerifier("w.example", bytes(32))
    assert len({a, witness.CosignerVerifier("w.example", ROOT)}) == 1


def test_replace_runs_the_constructor_checks() -> None:
    cp = Checkpoint("example.org/log", 3, ROOT)
    assert dataclasses.replace(cp, size=4) == Checkpoint("example.org/log", 4, ROOT)
    assert cp.size == 3
    with pytest.raises(EncodingError, match="size -1 is not in"):
        dataclasses.replace(cp, size=-1)
    with pytest.raises(TypeError, match="'height'"):
        dataclasses.replace(cp, height=4)
    proof = smt.MapProof(ROOT, None, None, ())
    with pytest.raises(ProofError, match="both be given or both be None"):
        dataclasses.replace(proof, leaf_key=ROOT)
    assert dataclasses.replace(proof, siblings=[ROOT]).siblings == (ROOT,)
