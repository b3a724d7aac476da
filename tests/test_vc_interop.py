"""Interop with an independent verifier: Digital Bazaar's ``@digitalbazaar/vc`` with the
``eddsa-rdfc-2022`` cryptosuite, ``data-integrity``, ``ed25519-multikey`` and
``did-method-key`` (versions pinned in tests/interop/package-lock.json), run by node through
tests/interop/vc.mjs with a document loader that serves only the contexts pinned in
ledger/contexts/ and resolves did:key locally.

- Credentials this ledger issues (every identity type, with and without a result, parts or
  expiry, text with tabs, line feeds, quotes, backslashes and non-ASCII) are accepted.
- Tampered ones (every value changed, an undefined member added, a context swapped for an
  unknown URL, the proof removed, another key) are refused, and the ledger's verifier agrees
  with every verdict.
- The reverse: node signs the same unsigned credential with the same key and time, and gets
  the very same proof, byte for byte; the ledger verifies what node signs.

Skipped, with the reason, where node or npm is missing or ``npm ci`` cannot install the pinned
packages (offline); the packages are installed once into tests/interop/node_modules (ignored by
git; ``.ci/run`` installs them when npm is there).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import didkey, openbadges
from ledger.errors import VerificationError

INTEROP = Path(__file__).resolve().parent / "interop"
NOW = "2027-01-01T00:00:00Z"  # inside every validity window below, whatever the clock says
SEED = bytes(range(32))
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
ISSUER = openbadges.Issuer(public_key=PUBLIC, name="Example University",
                           url="https://example.edu/")
GRADED = openbadges.Achievement(
    id="https://example.edu/achievements/cs201", name="Data Structures (CS201)",
    description="Lists, trees, graphs.", criteria="Pass the exam.", result_name="Grade")
PLAIN = openbadges.Achievement(id="urn:uuid:7d2c4b1a-0000-4000-8000-00000000000a",
                               name="Attendance", description="Attended.", criteria="Attend.")
CREATED = "2026-07-01T09:00:00Z"


def _fields(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "credential_id": "urn:uuid:5b0d2c8e-7f43-4f5e-9a51-0c6a1d2e3f40", "issuer": ISSUER,
        "achievement": GRADED, "identity_type": "emailAddress",
        "identity_value": "ada@example.org", "salt": "5a" * 32,
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2031-06-30T23:59:59Z",
        "result": "Pass",
        "parts": [openbadges.Part(id="urn:uuid:0c1e9b52-3a7d-4c8e-b6f1-2d4a5c6e7f81",
                                  name="Algorithms I")]}
    return {**base, **changes}


def _issue(**changes: Any) -> dict[str, Any]:
    return openbadges.issue_credential(SEED, created=CREATED, **_fields(**changes))


def _node(node: str, args: list[str], payload: Any) -> Any:
    done = subprocess.run([node, str(INTEROP / "vc.mjs"), *args], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _node_verdicts(node: str, docs: list[Any]) -> list[dict[str, Any]]:
    answers = _node(node, ["verify", "--now", NOW], docs)
    assert isinstance(answers, list) and len(answers) == len(docs)
    return answers


def _ours(doc: Any) -> bool:
    try:
        openbadges.verify_credential(doc)
    except VerificationError:
        return False
    return True


def _variants() -> dict[str, dict[str, Any]]:
    return {
        "graded, one part": _issue(),
        "student number": _issue(identity_type="sisSourcedId", identity_value="S2026000"),
        "name": _issue(identity_type="name", identity_value="Ada Lovelace", parts=()),
        "no result, no expiry": _issue(achievement=PLAIN, result=None, valid_until=None,
                                       parts=()),
        "awkward text": _issue(
            name='Tabs\tand "quotes" and \\backslashes\\',
            description="Line one.\nLine two.\r\nUnicode: é, ✓, 𝄞, \u2028, \u00a0.",
            achievement=openbadges.Achievement(
                id="https://example.edu/a?x=1&y=%20#frag", name="Ünïcödé",
                description="Markdown **bold**\n- item", criteria="Some\ttabs\there.",
                result_name="Note"),
            result="16/20 (très bien)"),
        "three parts": _issue(parts=[openbadges.Part(id=f"urn:uuid:00000000-0000-4000-8000-"
                                                        f"00000000000{n}") for n in range(3)]),
    }


def test_node_accepts_what_the_ledger_issues(node: str) -> None:
    variants = _variants()
    answers = _node_verdicts(node, list(variants.values()))
    for (name, doc), answer in zip(variants.items(), answers, strict=True):
        assert answer == {"verified": True, "error": None}, (name, answer)
        assert _ours(doc), name


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for n, v in enumerate(value) for leaf in _leaves(v, (*path, n))]
    return [path]


_DELETE = object()


def _with(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


def _other(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if value.startswith("did:key:") and "#" not in value:
        return didkey.encode(b"\x01" + PUBLIC[1:])
    if value.endswith("Z") and value[:2] == "20":
        return value.replace("20", "21", 1)
    if value.startswith("z") and len(value) > 80:
        return value[:-2] + ("2" if value[-2] != "2" else "3") + value[-1]
    if value.startswith("sha256$"):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    return value + "x"


def test_node_and_the_ledger_refuse_every_tampered_credential(node: str) -> None:
    signed = _issue()
    tampered: dict[str, Any] = {}
    for path in _leaves(signed):
        target: Any = signed
        for step in path:
            target = target[step]
        tampered[".".join(map(str, path))] = _with(signed, path, _other(target))
    tampered["an undefined member"] = _with(signed, ("notInAnyContext",), "x")
    tampered["an undefined member in the subject"] = _with(
        signed, ("credentialSubject", "notInAnyContext"), "x")
    tampered["context swapped for an unknown URL"] = _with(
        signed, ("@context", 1), "https://example.org/unknown-context.json")
    tampered["OB 3.0.2 context"] = _with(
        signed, ("@context", 1), "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json")
    tampered["proof removed"] = _with(signed, ("proof",), _DELETE)
    tampered["another cryptosuite"] = _with(signed, ("proof", "cryptosuite"), "eddsa-jcs-2022")
    other_seed = b"\x09" * 32
    other_public = Ed25519PrivateKey.from_private_bytes(other_seed).public_key().public_bytes_raw()
    other = openbadges.issue_credential(other_seed, created=CREATED, **_fields(
        issuer=openbadges.Issuer(public_key=other_public, name="Example University",
                                 url="https://example.edu/")))
    tampered["another key's proof"] = _with(signed, ("proof",), other["proof"])
    tampered["the holder swapped"] = _with(
        signed, ("credentialSubject", "identifier"),
        _issue(identity_value="eve@example.org")["credentialSubject"]["identifier"])
    answers = _node_verdicts(node, list(tampered.values()))
    for (name, doc), answer in zip(tampered.items(), answers, strict=True):
        assert answer["verified"] is False, (name, answer)
        assert not _ours(doc), name


def test_node_checks_validity_dates_the_ledger_leaves_to_its_caller(node: str) -> None:
    """The ledger's verifier checks the proof; validity dates are the caller's, as of a time
    it chooses (the log's checkpoint). Node checks them against the time it is given."""
    doc = _issue(valid_until="2026-06-30T23:59:59Z", valid_from="2026-01-01T00:00:00Z")
    answer = _node(node, ["verify", "--now", NOW], doc)
    assert answer["verified"] is False and "validUntil" in answer["error"]
    assert _ours(doc)


def test_node_signs_the_very_same_proof(node: str) -> None:
    for name, ours in _variants().items():
        unsigned = {k: v for k, v in ours.items() if k != "proof"}
        theirs = _node(node, ["sign", SEED.hex(), CREATED], unsigned)
        assert theirs["proof"] == ours["proof"], name
        assert theirs == ours, name
        assert openbadges.verify_credential(theirs).badge.issuer_key == PUBLIC
        assert openbadges.credential_digest(theirs) == openbadges.credential_digest(ours)


def test_the_ledger_verifies_what_node_signs_with_another_key(node: str) -> None:
    seed = bytes(range(100, 132))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    unsigned = openbadges.build_credential(**_fields(issuer=openbadges.Issuer(
        public_key=public, name="Node Academy")))
    theirs = _node(node, ["sign", seed.hex(), "2026-08-01T12:34:56Z"], unsigned)
    verified = openbadges.verify_credential(theirs)
    assert verified.proof.public_key == public
    assert verified.proof.created.isoformat() == "2026-08-01T12:34:56+00:00"
