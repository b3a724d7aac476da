"""Wycheproof's Ed25519 vectors and speccheck's edge cases ("Taming the many EdDSAs") through
every signature path of the ledger: one verdict per case, the ledger's rule (docs/FORMAT.md
§3.4: RFC 8032's cofactorless check with S < L, the key canonical and not of small order, R not
of small order).

The paths:

* ``ed25519.verify``: single checks (OpenSSL);
* ``events.verify_signature``: a statement's signature, one at a time (OpenSSL);
* ``events.verify_signature_fast``: the bulk path (libsodium), which the append and audit
  workers (``parallel._check_signatures``, ``parallel.check_entry_chunk``) call for each item once its
  statement has decoded; the vectors' messages are no statements, so they go to it directly;
* ``note.Verifier.verify``: checkpoint signatures (``open_note`` calls it for each trusted
  line; a note signs its own text, so the vector's message goes to the verifier directly);
* ``witness.cosignature_times``: cosignatures, with the vector's signature behind an 8-byte
  timestamp on a signature line of the vector's key, and the cosigned message replaced by the
  vector's.

Sources and licences of the vector files: tests/vectors/README.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger import ed25519, events, note, witness
from ledger.errors import SignatureError

VECTORS = Path(__file__).resolve().parent / "vectors"


def _wycheproof() -> list[dict[str, Any]]:
    data = json.loads((VECTORS / "wycheproof-ed25519.json").read_text(encoding="utf-8"))
    return [dict(test, pk=group["publicKey"]["pk"]) for group in data["testGroups"]
            for test in group["tests"]]


def _speccheck() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = json.loads(
        (VECTORS / "ed25519-speccheck.json").read_text(encoding="utf-8"))
    return cases


WYCHEPROOF = _wycheproof()
SPECCHECK = _speccheck()

# Wycheproof's `valid` cases that the ledger's rule refuses, by tcId, with the reason. None:
# every key in the file is canonical and of full order, and no valid signature has an R of
# small order. A case moving either way (a valid one refused, an invalid one accepted) fails.
REFUSED_VALID: dict[int, str] = {}

# Wycheproof's `invalid` cases that the rule's own byte comparisons refuse (R of small order),
# before any library sees them; every other invalid case is refused by the libraries' check.
_R_ZERO = "R = 00..00, y = 0: a point of order 4"
_R_IDENTITY = "R = 01 00..00, the identity"
_R_P = "R = edff..ff7f, y = p: a non-canonical encoding of the order-4 point y = 0"
REFUSED_BY_THE_RULE: dict[int, str] = {
    **dict.fromkeys(range(10, 15), _R_ZERO),
    **dict.fromkeys(range(15, 20), _R_IDENTITY),
    **dict.fromkeys(range(25, 30), _R_P),
    60: _R_ZERO,
    151: "R = the identity with the sign bit set (x = 0 cannot be negative)",
}

# speccheck's cases carry no verdict: the ledger's, by case index, with the reason. ("mixed":
# a point with both a torsion and a prime-order component; "rule": which part of the rule
# refuses it, None where the library's check decides.)
SPECCHECK_VERDICTS: dict[int, tuple[bool, str | None, str]] = {
    0: (False, "key", ("the key is of small order (c7176a..fa: order 8, sign bit set), so is"
                       " R, S = 0; the cofactorless equation holds")),
    1: (False, "key", "the key is of small order (as in case 0), R mixed; the equation holds"),
    2: (False, "r", "R is of small order (c7176a..fa), the key mixed; the equation holds"),
    3: (True, None, "key and R mixed, neither of small order; the cofactorless equation holds"),
    4: (False, None, "key and R mixed: only the cofactored equation holds"),
    5: (False, None, "key mixed, R of order L: only the cofactored equation holds"),
    6: (False, None, "S = s + L for an S = s that verifies: S >= L"),
    7: (False, None, "S = s + 2L for an S = s that verifies: S >= L"),
    8: (False, "r", "R = edff..ff7f (y = p): not canonical, and the order-4 point y = 0"),
    9: (False, "r", ("R as in case 8; the equation holds with R decoded leniently (y mod p),"
                     " but comparing encodings, as OpenSSL and libsodium do, refuses it")),
}


# ----------------------------------------------------------------------------- the paths


def _raises_signature_error(check: Callable[[bytes, bytes, bytes], None]
                            ) -> Callable[[bytes, bytes, bytes], bool]:
    def verdict(pk: bytes, msg: bytes, sig: bytes) -> bool:
        try:
            check(pk, msg, sig)
        except SignatureError:
            return False
        return True
    return verdict


def _checkpoint(pk: bytes, msg: bytes, sig: bytes) -> bool:
    verifier = note.Verifier("vectors.example", note.key_id("vectors.example", pk), pk)
    return verifier.verify(msg, sig)


def _cosignature(pk: bytes, msg: bytes, sig: bytes) -> bool:
    cosigner = witness.CosignerVerifier("witness.example", pk)
    line = note.NoteSignature(cosigner.name, cosigner.key_id, (1234).to_bytes(8, "big") + sig)
    signed = note.Note("vectors.example\n1\n", (line,))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(witness, "cosigned_message", lambda body, timestamp: msg)
        try:
            times = witness.cosignature_times(signed, [cosigner])
        except SignatureError:
            return False
    assert times == {cosigner.name: 1234}
    return True


PATHS: dict[str, Callable[[bytes, bytes, bytes], bool]] = {
    "ed25519.verify": ed25519.verify,
    "events.verify_signature": _raises_signature_error(events.verify_signature),
    "events.verify_signature_fast": _raises_signature_error(events.verify_signature_fast),
    "note.Verifier.verify": _checkpoint,
    "witness.cosignature_times": _cosignature,
}


def _verdicts(pk: bytes, msg: bytes, sig: bytes) -> dict[str, bool]:
    return {name: path(pk, msg, sig) for name, path in PATHS.items()}


def _rule(pk: bytes, sig: bytes) -> str | None:
    return ed25519.rule_violation(pk, sig) if len(sig) == 64 else "size"


# ----------------------------------------------------------------------------- Wycheproof


def test_wycheproof_file_is_complete() -> None:
    assert len(WYCHEPROOF) == 151
    assert sorted(t["tcId"] for t in WYCHEPROOF) == list(range(1, 152))
    assert {t["result"] for t in WYCHEPROOF} == {"valid", "invalid"}  # no "acceptable"
    assert REFUSED_VALID.keys() <= {t["tcId"] for t in WYCHEPROOF if t["result"] == "valid"}
    assert REFUSED_BY_THE_RULE.keys() <= {t["tcId"] for t in WYCHEPROOF
                                          if t["result"] == "invalid"}


@pytest.mark.parametrize("case", WYCHEPROOF, ids=lambda t: f"tc{t['tcId']}")
def test_wycheproof(case: dict[str, Any]) -> None:
    pk, msg, sig = (bytes.fromhex(case[k]) for k in ("pk", "msg", "sig"))
    want = case["result"] == "valid" and case["tcId"] not in REFUSED_VALID
    assert _verdicts(pk, msg, sig) == dict.fromkeys(PATHS, want), case["comment"]
    refused_by_rule = len(sig) == 64 and _rule(pk, sig) is not None
    assert refused_by_rule == (case["tcId"] in REFUSED_BY_THE_RULE
                               or case["tcId"] in REFUSED_VALID)


# ----------------------------------------------------------------------------- speccheck


def test_speccheck_file_is_complete() -> None:
    assert len(SPECCHECK) == len(SPECCHECK_VERDICTS) == 10
    assert all(set(c) == {"message", "pub_key", "signature"} for c in SPECCHECK)


@pytest.mark.parametrize("index", range(len(SPECCHECK)), ids=lambda i: f"case{i}")
def test_speccheck(index: int) -> None:
    case = SPECCHECK[index]
    pk, msg, sig = (bytes.fromhex(case[k]) for k in ("pub_key", "message", "signature"))
    want, rule, reason = SPECCHECK_VERDICTS[index]
    assert _verdicts(pk, msg, sig) == dict.fromkeys(PATHS, want), reason
    assert _rule(pk, sig) == rule, reason
    if rule is None:  # the libraries decide, and agree
        assert ed25519.verify_openssl(pk, msg, sig) == ed25519.verify_sodium(pk, msg, sig) == want
    else:  # the rule decides: libsodium refuses these itself, bare OpenSSL accepts 0 to 2
        assert not ed25519.verify_sodium(pk, msg, sig)
        assert ed25519.verify_openssl(pk, msg, sig) == (index in (0, 1, 2)), reason
