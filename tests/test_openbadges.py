"""Open Badges 3.0 credentials (ledger/openbadges.py): built and signed, read strictly, verified
by the issuer's own did:key, the holder's identifier checked against its salted hash, and the
digest the log will commit, the same for every JSON spelling of one credential."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import dataintegrity, didkey, ldloader, multibase, openbadges, vcjson
from ledger.errors import CredentialError, SignatureError, VerificationError

SEED = bytes(range(32))
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
ISSUER = openbadges.Issuer(public_key=PUBLIC, name="Example University",
                           url="https://example.edu/")
ACHIEVEMENT = openbadges.Achievement(
    id="https://example.edu/achievements/cs201", name="Data Structures (CS201)",
    description="Lists, trees, graphs, and their costs.",
    criteria="Pass the final exam.\nSubmit every lab.", result_name="Grade")
SALT = "5a" * 32
FIELDS: dict[str, Any] = {
    "credential_id": "urn:uuid:0f6b2a4e-1111-4a4a-8a8a-123456789abc", "issuer": ISSUER,
    "achievement": ACHIEVEMENT, "identity_type": "emailAddress",
    "identity_value": "ada@example.org", "salt": SALT, "valid_from": "2026-01-01T00:00:00Z",
    "valid_until": "2030-06-30T23:59:59Z", "result": "Pass",
    "parts": [openbadges.Part(id="urn:uuid:aaaaaaaa-0000-4000-8000-000000000001",
                              name="Algorithms I"),
              openbadges.Part(id="urn:uuid:aaaaaaaa-0000-4000-8000-000000000002")]}
CREATED = "2026-01-01T00:00:00Z"


def _issue(**changes: Any) -> dict[str, Any]:
    return openbadges.issue_credential(SEED, created=CREATED, **{**FIELDS, **changes})


SIGNED = _issue()


def test_the_credential_has_the_open_badges_shape() -> None:
    doc = SIGNED
    assert doc["@context"] == ["https://www.w3.org/ns/credentials/v2",
                               "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["issuer"] == {"id": didkey.encode(PUBLIC), "type": ["Profile"],
                             "name": "Example University", "url": "https://example.edu/"}
    subject = doc["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"] == [{
        "type": "IdentityObject", "identityType": "emailAddress", "hashed": True,
        "identityHash": openbadges.identity_hash("ada@example.org", SALT), "salt": SALT}]
    assert subject["achievement"]["criteria"] == {"narrative": ACHIEVEMENT.criteria}
    assert subject["result"] == [{"type": ["Result"], "value": "Pass", "resultDescription":
                                  ACHIEVEMENT.id + "#result"}]
    assert [e["id"] for e in doc["evidence"]] == [p.id for p in FIELDS["parts"]]
    proof = doc["proof"]
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["verificationMethod"] == didkey.verification_method(PUBLIC)
    assert "ada@example.org" not in json.dumps(doc)  # the holder is never in clear


def test_it_verifies_and_says_what_it_holds() -> None:
    verified = openbadges.verify_credential(SIGNED)
    badge = verified.badge
    assert badge.issuer_key == PUBLIC and badge.issuer_name == "Example University"
    assert badge.achievement_name == "Data Structures (CS201)"
    assert badge.result == "Pass"
    assert badge.parts == tuple(p.id for p in FIELDS["parts"])
    assert badge.valid_from.isoformat() == "2026-01-01T00:00:00+00:00"
    assert badge.valid_until is not None and badge.valid_until.year == 2030
    assert verified.proof.public_key == PUBLIC


def test_the_identity_hash_of_the_specification() -> None:
    """OB 3.0's IdentityHash example: 'a@example.com' salted with 'Kosher'."""
    assert openbadges.identity_hash("a@example.com", "Kosher") == (
        "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399")


def test_a_holders_claimed_identifier() -> None:
    badge = openbadges.check_credential(SIGNED)
    assert openbadges.identifier_matches(badge, "ada@example.org")
    assert openbadges.identifier_matches(badge, "ada@example.org", "emailAddress")
    assert not openbadges.identifier_matches(badge, "ada@example.org", "name")
    assert not openbadges.identifier_matches(badge, "Ada@example.org")
    assert not openbadges.identifier_matches(badge, "ada@example.org ")
    assert not openbadges.identifier_matches(badge, "")
    upper = copy.deepcopy(SIGNED)
    ident = upper["credentialSubject"]["identifier"][0]
    ident["identityHash"] = "sha256$" + ident["identityHash"][7:].upper()
    assert openbadges.identifier_matches(openbadges.check_credential(upper), "ada@example.org")


@pytest.mark.parametrize(("kind", "value"), [("sisSourcedId", "S2026000"),
                                             ("name", "Ada Lovelace")])
def test_student_numbers_and_names(kind: str, value: str) -> None:
    doc = _issue(identity_type=kind, identity_value=value)
    badge = openbadges.verify_credential(doc).badge
    assert openbadges.identifier_matches(badge, value, kind)
    assert value not in json.dumps(doc)


def test_no_result_no_parts_no_expiry() -> None:
    fields = {**FIELDS, "achievement": openbadges.Achievement(
        id="urn:uuid:11111111-2222-4333-8444-555555555555", name="Attendance",
        description="Attended.", criteria="Attend."), "result": None, "parts": (),
        "valid_until": None}
    doc = openbadges.issue_credential(SEED, created=CREATED, **fields)
    assert "evidence" not in doc and "validUntil" not in doc
    assert "result" not in doc["credentialSubject"]
    assert "resultDescription" not in doc["credentialSubject"]["achievement"]
    assert openbadges.verify_credential(doc).badge.result is None


# ------------------------------------------------------------------------------ build refusals


@pytest.mark.parametrize(("changes", "message"), [
    ({"identity_type": "studentId"}, "identityType: 'studentId'; this ledger names holders by"),
    ({"salt": "ab"}, "salt: want 64 lowercase hex"),
    ({"salt": "AB" * 32}, "salt: want 64 lowercase hex"),
    ({"identity_value": ""}, "identity value: empty"),
    ({"credential_id": "CS201-S2026000"}, "^id: want an absolute IRI"),
    ({"credential_id": "urn:uuid:a b"}, "^id: want an absolute IRI"),
    ({"valid_from": "2026-01-01"}, "^validFrom: want an RFC 3339"),
    ({"valid_until": "2025-01-01T00:00:00Z"}, "^validUntil: not after validFrom"),
    ({"achievement": openbadges.Achievement(id="https://e.edu/a", name="A", description="d",
                                            criteria="c")}, "^result: the achievement"),
    ({"achievement": openbadges.Achievement(id="https://e.edu/a", name=" ", description="d",
                                            criteria="c")}, "^achievement.name: empty"),
    ({"issuer": openbadges.Issuer(public_key=PUBLIC, name="U", url="example.edu")},
     "^issuer.url: want an absolute IRI"),
    ({"parts": [openbadges.Part(id="urn:x:1"), openbadges.Part(id="urn:x:1")]},
     "^evidence: a part is listed twice"),
    ({"name": "x" * (openbadges.MAX_TEXT + 1)}, "^name: 16385 characters"),
])
def test_build_refuses(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        _issue(**changes)


def test_a_control_character_is_refused_before_signing() -> None:
    with pytest.raises(CredentialError, match=r"canonicalization: document\.name: a control"):
        _issue(name="Data\x00Structures")


_SURROGATE_AT: list[tuple[tuple[Any, ...], str]] = [
    (("name",), "Data \ud800"), (("description",), "\udfff"), (("issuer", "name"), "U\udc80"),
    (("id",), "urn:uuid:\ud800"), (("issuer", "url"), "https://example.edu/\udc80"),
    (("credentialSubject", "identifier", 0, "salt"), "\ud800" * 64),
    (("credentialSubject", "identifier", 0, "identityType"), "ext:\ud800"),
    (("credentialSubject", "achievement", "criteria", "narrative"), "Pass \udbff"),
    (("credentialSubject", "result", 0, "value"), "A\udc00"),
    (("evidence", 0, "name"), "Part \ud800")]


@pytest.mark.parametrize(("path", "value"), _SURROGATE_AT, ids=lambda p: str(p))
def test_a_lone_surrogate_is_a_credential_error(path: tuple[Any, ...], value: str) -> None:
    """``json.loads('"\\ud800"')`` gives a lone surrogate, which has no UTF-8: reading,
    verifying, digesting and parsing such a credential is a one-line CredentialError, never a
    UnicodeEncodeError."""
    doc = copy.deepcopy(SIGNED)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    calls = [lambda: openbadges.check_credential(doc),
             lambda: openbadges.verify_credential(doc),
             lambda: openbadges.credential_digest(doc),
             lambda: openbadges.parse_credential(json.dumps(doc)),
             lambda: openbadges.parse_credential(json.dumps(doc, ensure_ascii=False))]
    for call in calls:
        with pytest.raises(CredentialError) as caught:
            call()
        assert "\n" not in str(caught.value)
        str(caught.value).encode("utf-8")  # the message itself can be written


@pytest.mark.parametrize("name", ["x\ud800", "a\nb"])
@pytest.mark.parametrize("where", [(), ("credentialSubject",), ("proof",)])
def test_an_unknown_member_is_named_on_one_line(name: str, where: tuple[str, ...]) -> None:
    """A member name with a lone surrogate or a line feed is quoted in the message, which
    stays one line that can be written."""
    doc = copy.deepcopy(SIGNED)
    target = doc
    for step in where:
        target = target[step]
    target[name] = "x"
    for call in (openbadges.verify_credential, openbadges.credential_digest):
        with pytest.raises(CredentialError) as caught:
            call(doc)
        assert "\n" not in str(caught.value)
        str(caught.value).encode("utf-8")


def test_a_lone_surrogate_is_refused_when_building_and_matching() -> None:
    for changes in ({"identity_value": "ada\udc80@example.org"}, {"name": "\ud800"},
                    {"result": "\udfff"}, {"description": "\ud800"}):
        with pytest.raises(CredentialError):
            _issue(**changes)
    badge = openbadges.check_credential(SIGNED)
    with pytest.raises(CredentialError, match="^identity value: a lone surrogate"):
        openbadges.identifier_matches(badge, "ada\udc80@example.org")  # a surrogateescape arg


def test_the_key_must_be_the_issuers() -> None:
    with pytest.raises(CredentialError, match="names another key"):
        openbadges.issue_credential(b"\x07" * 32, created=CREATED, **FIELDS)


# ------------------------------------------------------------------------------ strict reading


def _with(path: tuple[Any, ...], value: Any, doc: Any = None) -> Any:
    out = copy.deepcopy(SIGNED if doc is None else doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


_DELETE = object()
S = "credentialSubject"
A = (S, "achievement")

SHAPES: dict[str, tuple[tuple[Any, ...], Any, str]] = {
    "contexts swapped": (("@context",), list(reversed(openbadges.CONTEXT)), "^@context: want"),
    "an older OB context": (("@context", 1),
                            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
                            "^@context"),
    "a third context": (("@context",), [*openbadges.CONTEXT, ldloader.DATA_INTEGRITY_V2],
                        "^@context"),
    "no OpenBadgeCredential type": (("type",), ["VerifiableCredential"], "^type: got"),
    "a type twice": (("type",), ["VerifiableCredential", "OpenBadgeCredential",
                                 "OpenBadgeCredential"], "^type: got"),
    "an unknown member": (("refreshService",), {}, "^refreshService: not a member"),
    "a bad credentialStatus": (("credentialStatus",), {}, "^credentialStatus"),
    "no proof": (("proof",), _DELETE, "^proof: missing"),
    "no name": (("name",), _DELETE, "^name: missing"),
    "relative id": (("id",), "cs201", "^id: want an absolute IRI"),
    "issuer a string": (("issuer",), "did:key:z6Mk", "^issuer: want a JSON object"),
    "issuer id not a did:key": (("issuer", "id"), "https://example.edu/",
                                "^issuer.id: did:key: .* does not start"),
    "issuer id a bad did:key": (("issuer", "id"), "did:key:" + multibase.encode(
        b"\xed\x01" + PUBLIC[:31]), "^issuer.id: did:key: an Ed25519 key of 31 bytes"),
    "issuer type": (("issuer", "type"), ["Organization"], "^issuer.type: got"),
    "issuer extra": (("issuer", "email"), "a@example.edu", "^issuer.email: not a member"),
    "validFrom a date": (("validFrom",), "2026-01-01", "^validFrom: want an RFC 3339"),
    "validFrom without zone": (("validFrom",), "2026-01-01T00:00:00", "^validFrom"),
    "validUntil impossible": (("validUntil",), "2030-02-30T00:00:00Z",
                              "^validUntil: .* not a valid date-time"),
    "subject type": ((S, "type"), ["Person"], "^credentialSubject.type"),
    "subject without identifier": ((S, "identifier"), _DELETE,
                                   "^credentialSubject.identifier: missing"),
    "identifier empty": ((S, "identifier"), [], "^credentialSubject.identifier: want a non-empty"),
    "identifier in clear": ((S, "identifier", 0, "hashed"), False,
                            r"^credentialSubject.identifier\[0\].hashed: want true"),
    "identifier hash not sha256": ((S, "identifier", 0, "identityHash"), "md5$" + "0" * 32,
                                   r"identifier\[0\].identityHash: want 'sha256\$'"),
    "identifier type unknown": ((S, "identifier", 0, "identityType"), "studentId",
                                r"identifier\[0\].identityType: 'studentId' is not one"),
    "identifier type wrong class": ((S, "identifier", 0, "type"), ["IdentityObject"],
                                    r"identifier\[0\].type: got"),
    "identifier without salt": ((S, "identifier", 0, "salt"), _DELETE,
                                r"identifier\[0\].salt: missing"),
    "achievement without criteria": ((*A, "criteria"), _DELETE, "achievement.criteria: missing"),
    "criteria extra": ((*A, "criteria", "url"), "https://e/", "criteria.url: not a member"),
    "achievement type": ((*A, "type"), ["Badge"], "achievement.type: got"),
    "result of no description": ((S, "result", 0, "resultDescription"), "https://e.edu/x",
                                 r"result\[0\].resultDescription: names no resultDescription"),
    "result type unknown": ((*A, "resultDescription", 0, "resultType"), "Grade",
                            r"resultDescription\[0\].resultType: 'Grade' is not one"),
    "evidence type": (("evidence", 0, "type"), ["Credential"], r"^evidence\[0\].type"),
    "evidence relative id": (("evidence", 1, "id"), "part-2", r"^evidence\[1\].id"),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_check_refuses_naming_the_path(name: str) -> None:
    path, value, message = SHAPES[name]
    with pytest.raises(CredentialError, match=message) as caught:
        openbadges.check_credential(_with(path, value))
    assert "\n" not in str(caught.value)


def _signed_with(change: Any) -> dict[str, Any]:
    """SIGNED's fields, unsigned, changed by ``change`` (past the builder's checks), signed."""
    doc = copy.deepcopy(SIGNED)
    del doc["proof"]
    change(doc)
    return dataintegrity.sign(doc, SEED, verification_method=didkey.verification_method(PUBLIC),
                              created=CREATED)


def test_two_results_are_refused_a_set_has_no_first() -> None:
    """``result`` is a JSON-LD @set (OB 3.0.3's context): RDFC-1.0 ignores its order, so a
    credential with two Results verifies the same in either order; the one a reader took
    first would be the grade. The builder makes one; more are refused, and have no digest."""
    rd = SIGNED[S]["achievement"]["resultDescription"][0]["id"]

    def two(doc: dict[str, Any]) -> None:
        doc[S]["result"] = [{"type": ["Result"], "resultDescription": rd, "value": "Fail"},
                            {"type": ["Result"], "resultDescription": rd, "value": "Pass"}]

    signed = _signed_with(two)
    swapped = copy.deepcopy(signed)
    swapped[S]["result"].reverse()
    for doc in (signed, swapped):
        for read in (openbadges.check_credential, openbadges.verify_credential,
                     openbadges.credential_digest):
            with pytest.raises(CredentialError, match=r"^credentialSubject\.result: 2 results"
                               ) as caught:
                read(doc)
            assert "\n" not in str(caught.value)


def test_identifiers_and_parts_do_not_depend_on_their_order() -> None:
    """``identifier`` (an @set) and ``evidence`` (unordered RDF) are sets: the badge lists
    them in one order whatever the JSON order, which the signature does not bind."""
    other = openbadges.identity_object("sisSourcedId", "s-1234", "7b" * 32)

    def two_identifiers(doc: dict[str, Any]) -> None:
        doc[S]["identifier"].append(other)

    signed = _signed_with(two_identifiers)
    swapped = copy.deepcopy(signed)
    swapped[S]["identifier"].reverse()
    swapped["evidence"].reverse()
    assert openbadges.credential_digest(signed) == openbadges.credential_digest(swapped)
    one, two = (openbadges.verify_credential(d).badge for d in (signed, swapped))
    assert one == two
    assert len(one.identifiers) == 2 and len(one.parts) == 2
    assert openbadges.identifier_matches(two, "s-1234", "sisSourcedId")


def test_extension_vocabulary_and_compacted_types_are_read() -> None:
    doc = _with((S, "identifier", 0, "identityType"), "ext:libraryCard")
    doc = _with(("issuer", "type"), "Profile", doc)
    badge = openbadges.check_credential(doc)
    assert badge.identifiers[0].identity_type == "ext:libraryCard"


# ------------------------------------------------------------------------------ verifying


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for n, v in enumerate(value) for leaf in _leaves(v, (*path, n))]
    return [path]


def _other(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if value.startswith("did:key:"):  # another valid key, so that the change is of meaning
        return didkey.encode(b"\x01" + PUBLIC[1:]) if "#" not in value else value + "x"
    if value.endswith("Z") and value[:2] == "20":
        return value.replace("20", "21", 1)
    if value.startswith("z") and len(value) > 80:
        return value[:-2] + ("2" if value[-2] != "2" else "3") + value[-1]
    if value.startswith("sha256$"):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    return value + "x"


@pytest.mark.parametrize("path", _leaves(SIGNED), ids=lambda p: ".".join(map(str, p)))
def test_every_value_changed_fails_verification(path: tuple[Any, ...]) -> None:
    target: Any = SIGNED
    for step in path:
        target = target[step]
    with pytest.raises(VerificationError):
        openbadges.verify_credential(_with(path, _other(target)))


def test_a_proof_by_another_key_is_not_the_issuers() -> None:
    unsigned = {k: v for k, v in SIGNED.items() if k != "proof"}
    other = b"\x09" * 32
    other_public = Ed25519PrivateKey.from_private_bytes(other).public_key().public_bytes_raw()
    forged = dataintegrity.sign(unsigned, other, created=CREATED,
                                verification_method=didkey.verification_method(other_public))
    with pytest.raises(CredentialError, match="^proof.verificationMethod: not the issuer's"):
        openbadges.verify_credential(forged)


def test_a_proof_moved_to_another_credential_fails() -> None:
    other = _issue(identity_value="grace@example.org")
    moved = _with(("proof",), SIGNED["proof"], other)
    with pytest.raises(SignatureError):
        openbadges.verify_credential(moved)


# ------------------------------------------------------------------------------ the digest


def _respelled(doc: dict[str, Any]) -> dict[str, Any]:
    """The same credential as a wallet might write it back: members reordered, single-item
    sets compacted to a string."""
    out = json.loads(json.dumps(doc, sort_keys=True, ensure_ascii=True))
    out["issuer"]["type"] = "Profile"
    out["credentialSubject"]["type"] = "AchievementSubject"
    return dict(reversed(list(out.items())))


def test_the_digest_survives_reserialisation() -> None:
    digest = openbadges.credential_digest(SIGNED)
    assert len(digest) == 32
    respelled = _respelled(SIGNED)
    assert json.dumps(respelled) != json.dumps(SIGNED)
    assert openbadges.credential_digest(respelled) == digest
    assert openbadges.verify_credential(respelled).badge.id == SIGNED["id"]


def test_the_digest_is_of_the_canonical_form() -> None:
    """SHA-256 of RFC 8785 over the set normal form, computed here the slow way: every
    member's value a list sorted by its items' canonical JSON (@context kept as it is)."""
    import hashlib

    def normal(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if k == "@context" else sorted(
                (normal(x) for x in (v if isinstance(v, list) else [v])),
                key=lambda x: json.dumps(x, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode()))
                    for k, v in value.items()}
        return value

    canon = json.dumps(normal(SIGNED), sort_keys=True, separators=(",", ":"),
                       ensure_ascii=False).encode("utf-8")
    assert openbadges.credential_digest(SIGNED) == hashlib.sha256(canon).digest()
    assert SIGNED["proof"]["proofValue"].encode() in canon
    assert b'"type":["AchievementSubject"]' in canon and b": " not in canon


def test_the_digest_takes_sets_in_any_order_and_refuses_floats() -> None:
    doc = json.loads(json.dumps(SIGNED))
    doc["type"] = list(reversed(doc["type"]))
    assert openbadges.credential_digest(doc) == openbadges.credential_digest(SIGNED)
    doc["@context"] = list(reversed(doc["@context"]))  # a list, ordered: another form
    assert vcjson.normal_form(doc) != vcjson.normal_form(SIGNED)
    with pytest.raises(CredentialError, match="number"):
        vcjson.normal_form({"a": [1.5]})
    with pytest.raises(CredentialError, match="number"):
        vcjson.normal_form({"a": 1 << 53})
    assert vcjson.canonical_json(vcjson.normal_form({"b": "\u2028\x1f", "a": True})) == \
        '{"a":[true],"b":["\u2028\\u001f"]}'.encode()


@pytest.mark.parametrize("path", [p for p in _leaves(SIGNED) if p[0] != "@context"],
                         ids=lambda p: ".".join(map(str, p)))
def test_every_change_changes_the_digest(path: tuple[Any, ...]) -> None:
    target: Any = SIGNED
    for step in path:
        target = target[step]
    try:
        digest = openbadges.credential_digest(_with(path, _other(target)))
    except CredentialError:  # a credential this format refuses has no digest at all
        with pytest.raises(CredentialError):
            openbadges.verify_credential(_with(path, _other(target)))
        return
    assert digest != openbadges.credential_digest(SIGNED)


def test_another_signature_changes_the_digest() -> None:
    again = openbadges.issue_credential(SEED, created="2026-01-01T00:00:01Z", **FIELDS)
    assert openbadges.credential_digest(again) != openbadges.credential_digest(SIGNED)


def test_an_unsigned_credential_has_no_digest() -> None:
    with pytest.raises(CredentialError, match="not signed"):
        openbadges.credential_digest(openbadges.build_credential(**FIELDS))


# ------------------------------------------------------------------------------ parsing


def test_parse_round_trips() -> None:
    text = json.dumps(SIGNED, indent=2)
    assert openbadges.parse_credential(text) == SIGNED
    assert openbadges.parse_credential(text.encode()) == SIGNED


@pytest.mark.parametrize(("data", "message"), [
    (b"{", "credential: not JSON"),
    (b'{"id": 1, "id": 2}', "member 'id' appears twice"),
    (b"[]", "want a JSON object"),
    (b" " * (openbadges.MAX_CREDENTIAL_BYTES + 1), "at most 1048576"),
    (b"[" * 100000 + b"]" * 100000, "credential: not JSON"),
])
def test_parse_refuses(data: bytes, message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        openbadges.parse_credential(data)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=[
    chr(c) for c in (*range(9), 11, 12, *range(14, 32), 127)]), min_size=1, max_size=40
    ).filter(lambda t: t.strip() != "")


@settings(max_examples=15, deadline=None)
@given(name=_TEXT, description=_TEXT, value=_TEXT, result=_TEXT)
def test_any_text_issues_verifies_and_keeps_its_digest(name: str, description: str,
                                                       value: str, result: str) -> None:
    doc = _issue(name=name, description=description, identity_value=value, result=result)
    badge = openbadges.verify_credential(doc).badge
    assert badge.name == name and badge.result == result
    assert openbadges.identifier_matches(badge, value)
    assert openbadges.credential_digest(_respelled(doc)) == openbadges.credential_digest(doc)


def test_the_example_in_format_md_verifies_and_has_its_digest() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md").read_text("utf-8")
    section = text.split("### 16.7 Example", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    digest = re.search(r"Its digest: `([0-9a-f]{64})`", section)
    assert block and digest
    doc = openbadges.parse_credential(block[1])
    verified = openbadges.verify_credential(doc)
    assert verified.badge.issuer_key == PUBLIC
    assert openbadges.identifier_matches(verified.badge, "ada@example.org", "emailAddress")
    assert openbadges.credential_digest(doc).hex() == digest[1]


@pytest.mark.parametrize("bad", [[], {}, [[]], 7, None])
def test_a_result_description_that_is_no_iri_is_a_credential_error(bad: Any) -> None:
    """A list or an object where the Result's resultDescription IRI goes: one CredentialError
    naming the path, never a TypeError from a set lookup (found by review)."""
    doc = _with(("credentialSubject", "result", 0, "resultDescription"), bad)
    with pytest.raises(CredentialError, match=r"result\[0\]\.resultDescription"):
        openbadges.check_credential(doc)


@pytest.mark.parametrize("doc", [[], "text", 7, None])
def test_a_document_that_is_no_object_is_named_as_such(doc: Any) -> None:
    """Both credential formats read through ledger.vcjson: a top level that is no JSON object
    is one CredentialError naming the document."""
    from ledger import statuslist

    with pytest.raises(CredentialError, match=r"^document: want a JSON object$"):
        openbadges.check_credential(doc)
    with pytest.raises(CredentialError, match=r"^document: want a JSON object$"):
        statuslist.check_status_list_credential(doc)
