"""Interop of the ledger's bitstring status lists with an independent reader: Digital Bazaar's
``@digitalbazaar/vc-bitstring-status-list`` (``checkStatus``, ``createList``, ``decodeList``)
under ``@digitalbazaar/vc`` with the ``eddsa-rdfc-2022`` cryptosuite (versions pinned in
tests/interop/package-lock.json), run by node through tests/interop/status.mjs with a document
loader that serves only the pinned contexts and the list credentials each case names (did:key
is resolved locally; nothing is fetched).

- A credential whose bit is set reads revoked (suspended) in node's ``checkStatus``, one whose
  bit is clear does not, under both purposes, and the ledger's reader agrees with each answer.
- Node refuses what the ledger refuses: a tampered list, a list read for the wrong purpose, a
  list by another issuer, a list URL the loader does not serve.
- Both ways: node's ``createList``/``encode`` decodes here to the same bits, the ledger's
  ``encodedList`` decodes in node to the same bits, and a list node signs verifies here.

Skipped, with the reason, where node or npm is missing or ``npm ci`` cannot install the pinned
packages (offline), as tests/test_vc_interop.py is.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import dataintegrity, didkey, openbadges, statuslist
from ledger.errors import VerificationError

INTEROP = Path(__file__).resolve().parent / "interop"
SEED = bytes(range(32))
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
SITE = "https://example.edu/credentials"
KEY_ID = "56475aa75463474c"
URLS = {p: f"{SITE}/{statuslist.list_path('example-university', KEY_ID, p, 0)}"
        for p in statuslist.PURPOSES}
NOW = "2027-01-01T00:00:00Z"  # for the credentials: inside their validity window
LIST_FROM = "2025-01-01T00:00:00Z"  # node checks lists against its own clock
CREATED = "2026-07-01T09:00:00Z"
REVOKED = {5, 77, 131071}
SUSPENDED = {6, 77, 0}


def _node(node: str, mode: str, payload: Any, *args: str) -> Any:
    done = subprocess.run([node, str(INTEROP / "status.mjs"), mode, *args],
                          input=json.dumps(payload), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _list(purpose: str, ones: set[int], *, seed: bytes = SEED,
          url: str | None = None) -> dict[str, Any]:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return statuslist.issue_status_list_credential(
        seed, created=CREATED, issuer_key=public, list_url=url or URLS[purpose],
        purpose=purpose, bitstring=statuslist.make_bitstring(statuslist.LIST_BITS, ones),
        valid_from=LIST_FROM)


LISTS = {URLS[p]: _list(p, ones) for p, ones in (("revocation", REVOKED),
                                                  ("suspension", SUSPENDED))}


def _credential(status: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    """An Open Badge of the issuer, with ``status`` as its credentialStatus, signed."""
    doc = openbadges.build_credential(
        credential_id="urn:uuid:5b0d2c8e-7f43-4f5e-9a51-0c6a1d2e3f40",
        issuer=openbadges.Issuer(public_key=PUBLIC, name="Example University",
                                 url="https://example.edu/"),
        achievement=openbadges.Achievement(
            id="https://example.edu/achievements/cs201", name="Data Structures",
            description="Lists, trees, graphs.", criteria="Pass the exam."),
        identity_type="emailAddress", identity_value="ada@example.org", salt="5a" * 32,
        valid_from="2026-01-01T00:00:00Z", valid_until="2031-06-30T23:59:59Z")
    doc["credentialStatus"] = status
    return dataintegrity.sign(doc, SEED, created=CREATED,
                              verification_method=didkey.verification_method(PUBLIC))


def _ours(credential: dict[str, Any], lists: dict[str, Any]) -> dict[str, bool]:
    """The ledger's answer: each entry read in its list, the list verified as by the
    credential's issuer and for the entry's purpose."""
    out: dict[str, bool] = {}
    issuer = credential["issuer"]["id"]
    for entry in statuslist.check_credential_status(credential["credentialStatus"]):
        verified = statuslist.verify_status_list_credential(
            lists[entry.list_url], purpose=entry.purpose, list_url=entry.list_url,
            issuer=issuer)
        out[entry.purpose] = statuslist.entry_status(entry, verified.status_list)
    return out


def _theirs(answer: dict[str, Any]) -> dict[str, bool]:
    assert answer["verified"] is True, answer
    return {s["statusPurpose"]: s["status"] for s in answer["statuses"]}


def test_node_reads_each_bit_as_the_ledger_does_under_both_purposes(node: str) -> None:
    indexes = sorted(REVOKED | SUSPENDED | {1, 4, 131070})
    cases = [{"credential": _credential(statuslist.status_entries(i, URLS)), "lists": LISTS,
              "now": NOW} for i in indexes]
    answers = _node(node, "check", cases)
    assert len(answers) == len(indexes)
    for index, case, answer in zip(indexes, cases, answers, strict=True):
        want = {"revocation": index in REVOKED, "suspension": index in SUSPENDED}
        assert _theirs(answer) == want, (index, answer)
        assert _ours(case["credential"], LISTS) == want, index
        assert [s["statusListIndex"] for s in answer["statuses"]] == [str(index)] * 2


@pytest.mark.parametrize("purpose", statuslist.PURPOSES)
def test_one_entry_and_only_its_list_served(node: str, purpose: str) -> None:
    """A credential with one entry, the loader serving the pinned contexts and that one list:
    set bits read revoked (suspended), clear ones not."""
    ones = REVOKED if purpose == "revocation" else SUSPENDED
    served = {URLS[purpose]: LISTS[URLS[purpose]]}
    indexes = [*sorted(ones), 2, 3, 100000]
    cases = [{"credential": _credential(statuslist.status_entry(URLS[purpose], i, purpose)),
              "lists": served, "now": NOW} for i in indexes]
    for index, case, answer in zip(indexes, cases, _node(node, "check", cases), strict=True):
        assert _theirs(answer) == {purpose: index in ones}, (index, answer)
        assert _ours(case["credential"], served) == {purpose: index in ones}


def test_node_and_the_ledger_refuse_the_same_lists(node: str) -> None:
    revocation, suspension = URLS["revocation"], URLS["suspension"]
    good = LISTS[revocation]
    flipped = copy.deepcopy(good)
    flipped["credentialSubject"]["encodedList"] = statuslist.encode_list(
        statuslist.make_bitstring(statuslist.LIST_BITS, REVOKED - {5}))
    other_seed = b"\x09" * 32
    cases: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
        # name: (credential, lists served, what node's error says)
        "a tampered list (bit 5 cleared)": (
            _credential(statuslist.status_entry(revocation, 5, "revocation")),
            {revocation: flipped}, "not verified"),
        "a suspension entry pointing at the revocation list": (
            _credential({**statuslist.status_entry(revocation, 5, "revocation"),
                         "statusPurpose": "suspension", "id": f"{revocation}#5"}),
            {revocation: good}, "does not match the status purpose"),
        "a list by another issuer": (
            _credential(statuslist.status_entry(revocation, 5, "revocation")),
            {revocation: _list("revocation", REVOKED, seed=other_seed)}, "do not match"),
        "a list URL the loader does not serve": (
            _credential(statuslist.status_entry(suspension, 6, "suspension")),
            {revocation: good}, "Could not load"),
    }
    answers = _node(node, "check", [{"credential": c, "lists": lists, "now": NOW}
                                    for c, lists, _ in cases.values()])
    for (name, (credential, lists, says)), answer in zip(cases.items(), answers, strict=True):
        assert answer["verified"] is False, (name, answer)
        assert says in answer["error"], (name, answer)
        with pytest.raises((VerificationError, KeyError)):
            _ours(credential, lists)


def _sets() -> list[tuple[int, list[int]]]:
    rng = random.Random(16)
    return [(131072, [0, 7, 8, 131071]), (131072, []), (131072, list(range(131072))),
            (131072, sorted(rng.sample(range(131072), 5000))),
            (131072, list(range(1000, 9000))), (262144, [131072, 262143]),
            (131080, [131079])]


def test_what_node_encodes_decodes_here_to_the_same_bits(node: str) -> None:
    sets = _sets()
    answers = _node(node, "encode", [{"length": n, "set": ones} for n, ones in sets])
    for (size, ones), answer in zip(sets, answers, strict=True):
        bits = statuslist.decode_list(answer["encodedList"])
        assert bits == statuslist.make_bitstring(size, ones)
        assert statuslist.set_bits(bits) == ones


def test_what_the_ledger_encodes_decodes_in_node_to_the_same_bits(node: str) -> None:
    sets = _sets()
    answers = _node(node, "decode", [
        {"encodedList": statuslist.encode_list(statuslist.make_bitstring(n, ones))}
        for n, ones in sets])
    for (size, ones), answer in zip(sets, answers, strict=True):
        assert answer == {"length": size, "set": ones}


def test_the_ledger_verifies_a_list_node_signs(node: str) -> None:
    seed = bytes(range(100, 132))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    theirs = _node(node, "sign-list", {"id": URLS["suspension"], "statusPurpose": "suspension",
                                       "length": 131072, "set": sorted(SUSPENDED),
                                       "validFrom": LIST_FROM}, seed.hex(), CREATED)
    verified = statuslist.verify_status_list_credential(
        theirs, purpose="suspension", list_url=URLS["suspension"], issuer=didkey.encode(public))
    assert verified.proof.public_key == public
    assert statuslist.set_bits(verified.status_list.bitstring) == sorted(SUSPENDED)
    # The same list as the ledger writes it, but for the GZIP bytes and so the signature.
    ours = statuslist.issue_status_list_credential(
        seed, created=CREATED, issuer_key=public, list_url=URLS["suspension"],
        purpose="suspension", bitstring=statuslist.make_bitstring(131072, SUSPENDED),
        valid_from=LIST_FROM)
    for doc in (ours, theirs):
        del doc["credentialSubject"]["encodedList"], doc["proof"]["proofValue"]
    assert ours == theirs
