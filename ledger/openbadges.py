"""Open Badges 3.0 credentials: built, signed, read strictly, verified, and digested.

An ``OpenBadgeCredential`` (1EdTech Open Badges 3.0, over the W3C Verifiable Credentials Data
Model 2.0) as this ledger issues it; docs/FORMAT.md §16 lists every field. In short::

    @context            [VC 2.0, OB 3.0.3]                       (in that order, exactly)
    id                  the credential's URI                      (urn:uuid:... for instance)
    type                ["VerifiableCredential", "OpenBadgeCredential"]
    issuer              Profile: id = the issuer's did:key, type ["Profile"], name, url
    validFrom           RFC 3339; validUntil (optional) after it
    name                the credential's name; description (optional)
    credentialSubject   AchievementSubject:
        identifier      [IdentityObject: identityType, hashed true,
                         identityHash "sha256$" + hex(SHA-256(value || salt)), salt]
        achievement     Achievement: id, type ["Achievement"], name, description,
                        criteria {narrative}, resultDescription (only with a result)
        result          (optional) [one Result: resultDescription -> the achievement's,
                        value]
    evidence            (optional, a stacked credential) [Evidence: id = a part's credential
                        id, type ["Evidence"], name]
    proof               DataIntegrityProof, eddsa-rdfc-2022, by the issuer's did:key

Choices the specification leaves open, and why:

* **The holder is named by a hashed, salted identifier**, never in clear: an
  ``IdentityObject`` per OB 3.0 §B.1 ("IdentityHash": ``sha256$`` and the lowercase hex of
  SHA-256 over the UTF-8 identifier with the UTF-8 salt appended). The value is hashed exactly
  as given (callers normalise, e.g. lower-case an email address, before issuing). The salt is
  64 hex digits (:func:`new_salt`). OB 3.0's ``IdentifierTypeEnum`` has no student number
  type; a student number is ``sisSourcedId`` (the id the student information system gives),
  not an ``ext:`` extension no wallet knows.
* **Parts of a stacked credential are its evidence.** OB 3.0 has no part-of property (CLR
  2.0's ``association`` is for CLR documents, ``related`` means "the same achievement in
  another language or version"); the credentials a stacked one was earned on are what it was
  earned on: each part is an ``Evidence`` whose ``id`` is the part's credential id.
* **The digest the log commits** (:func:`credential_digest`) is SHA-256 of the canonical JSON
  (RFC 8785) of the whole signed credential's JSON-LD set normal form, proof included
  (``vcjson.normal_form``), not of its bytes: a wallet that re-serialises the JSON (member
  order, spacing, escapes, ``"Profile"`` for ``["Profile"]``, the order of a set) keeps the
  digest, while any change of what it says, or of its signature, changes it. It needs no
  JSON-LD processing, so a browser page checks it with ``JSON.stringify`` and WebCrypto.

Reading is strict: :func:`check_credential` accepts exactly the shape above (no unknown
member anywhere, each type and date checked) and raises one-line
:class:`~ledger.errors.CredentialError` naming the path of what failed (``issuer.id``,
``credentialSubject.identifier[0].identityHash``). :func:`verify_credential` adds the proof
(``ledger.dataintegrity``) and that the key that signed is the issuer's own did:key.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import dataintegrity, didkey, statuslist, vcjson
from ledger.errors import CredentialError, EncodingError
from ledger.ldloader import OB_V3, VC_V2

CONTEXT = (VC_V2, OB_V3)
CREDENTIAL_TYPE = ("VerifiableCredential", "OpenBadgeCredential")
IDENTITY_TYPES = frozenset({
    "name", "sourcedId", "systemId", "productId", "userName", "accountId", "emailAddress",
    "nationalIdentityNumber", "isbn", "issn", "lisSourcedId", "oneRosterSourcedId",
    "sisSourcedId", "ltiContextId", "ltiDeploymentId", "ltiToolId", "ltiPlatformId",
    "ltiUserId", "identifier"})
"""OB 3.0's IdentifierTypeEnum (an extensible vocabulary: ``ext:...`` names are read too)."""
ISSUED_IDENTITY_TYPES = frozenset({"emailAddress", "sisSourcedId", "name"})
"""What this ledger names holders by: an email address, a student number, or the name."""
RESULT_TYPES = frozenset({
    "GradePointAverage", "LetterGrade", "Percent", "PerformanceLevel", "PredictedScore",
    "RawScore", "Result", "RubricCriterion", "RubricCriterionLevel", "RubricScore",
    "ScaledScore", "Status"})
"""OB 3.0's ResultType (extensible: ``ext:...`` names are read too)."""
MAX_CREDENTIAL_BYTES = 1 << 20
"""The largest credential file :func:`parse_credential` reads."""
MAX_TEXT = 16384
"""The longest text field (a name, a description, a narrative, a value), in code points."""
MAX_ITEMS = 1024
"""The most identifiers or parts a credential may list."""

_HASH = re.compile(r"sha256\$[0-9a-fA-F]{64}")
_SALT = re.compile(r"[0-9a-f]{64}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
"""A lone surrogate (``json.loads('"\\ud800"')`` gives one): not Unicode text, no UTF-8."""

def _object(value: object, path: str, required: set[str],
            optional: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    return vcjson.json_object(value, path, required, optional, what='credential')


def _iri(value: object, path: str) -> str:
    return vcjson.iri(value, path)



def _unicode(value: str, path: str) -> str:
    """``value``, if it is Unicode text (no lone surrogate: it has UTF-8)."""
    bad = _SURROGATE.search(value)
    if bad:
        raise vcjson.fail(path, f"a lone surrogate (U+{ord(bad.group()):04X}), which is not "
                          f"Unicode text")
    return value


# ------------------------------------------------------------------------------ identities


def new_salt() -> str:
    """A fresh salt for an identity hash: 32 random bytes as 64 lowercase hex digits."""
    return secrets.token_hex(32)


def identity_hash(value: str, salt: str) -> str:
    """OB 3.0's IdentityHash of ``value`` salted with ``salt``: ``sha256$`` and the lowercase
    hex of SHA-256(UTF-8(value) || UTF-8(salt))."""
    data = _unicode(value, "identity value") + _unicode(salt, "salt")
    return "sha256$" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def identity_object(identity_type: str, value: str, salt: str) -> dict[str, Any]:
    """The hashed, salted ``IdentityObject`` naming a holder by ``value``."""
    if identity_type not in ISSUED_IDENTITY_TYPES:
        raise vcjson.fail("identityType", f"{vcjson.short(identity_type)}; this ledger names holders by "
                                    f"{', '.join(sorted(ISSUED_IDENTITY_TYPES))}")
    _text(value, "identity value")
    if not isinstance(salt, str) or not _SALT.fullmatch(salt):
        raise vcjson.fail("salt", "want 64 lowercase hex digits (new_salt())")
    return {"type": "IdentityObject", "identityType": identity_type, "hashed": True,
            "identityHash": identity_hash(value, salt), "salt": salt}


# ------------------------------------------------------------------------------ building


@dataclass(frozen=True, slots=True)
class Issuer:
    """The issuing organisation: its Ed25519 public key (its did:key), name and home page."""

    public_key: bytes
    name: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Achievement:
    """What is awarded. ``result_name`` (e.g. "Grade") and ``result_type`` (OB 3.0's
    ResultType) describe the result a credential may carry; without ``result_name`` it
    carries none."""

    id: str
    name: str
    description: str
    criteria: str
    result_name: str | None = None
    result_type: str = "LetterGrade"


@dataclass(frozen=True, slots=True)
class Part:
    """One credential a stacked credential was earned on: its credential id, and a name."""

    id: str
    name: str | None = None


def _text(value: object, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise vcjson.fail(path, "want a string")
    if not empty and not value.strip():
        raise vcjson.fail(path, "empty")
    if len(value) > MAX_TEXT:
        raise vcjson.fail(path, f"{len(value)} characters, at most {MAX_TEXT}")
    return _unicode(value, path)


def _result_description_id(achievement_id: str) -> str:
    return achievement_id + "#result"


def build_credential(*, credential_id: str, issuer: Issuer, achievement: Achievement,
                     identity_type: str, identity_value: str, salt: str, valid_from: str,
                     valid_until: str | None = None, name: str | None = None,
                     description: str | None = None, result: str | None = None,
                     parts: Sequence[Part] = (),
                     status: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` (see the module docstring); checked with
    :func:`check_credential` before it is returned. ``name`` defaults to the achievement's;
    ``status``: its ``credentialStatus`` entries (``statuslist.status_entries``), if any."""
    achievement_doc: dict[str, Any] = {
        "id": _iri(achievement.id, "achievement.id"), "type": ["Achievement"],
        "name": _text(achievement.name, "achievement.name"),
        "description": _text(achievement.description, "achievement.description"),
        "criteria": {"narrative": _text(achievement.criteria, "achievement.criteria")}}
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [identity_object(identity_type, identity_value, salt)],
        "achievement": achievement_doc}
    if achievement.result_name is not None:
        achievement_doc["resultDescription"] = [{
            "id": _result_description_id(achievement.id), "type": ["ResultDescription"],
            "name": _text(achievement.result_name, "achievement.result_name"),
            "resultType": achievement.result_type}]
    if result is not None:
        if achievement.result_name is None:
            raise vcjson.fail("result", "the achievement describes no result (result_name)")
        subject["result"] = [{"type": ["Result"],
                              "resultDescription": _result_description_id(achievement.id),
                              "value": _text(result, "result")}]
    profile: dict[str, Any] = {"id": didkey.encode(issuer.public_key), "type": ["Profile"],
                               "name": _text(issuer.name, "issuer.name")}
    if issuer.url is not None:
        profile["url"] = _iri(issuer.url, "issuer.url")
    doc: dict[str, Any] = {
        "@context": list(CONTEXT), "id": _iri(credential_id, "id"),
        "type": list(CREDENTIAL_TYPE), "issuer": profile, "validFrom": valid_from}
    if valid_until is not None:
        doc["validUntil"] = valid_until
    doc["name"] = achievement.name if name is None else name
    if description is not None:
        doc["description"] = description
    doc["credentialSubject"] = subject
    if status:
        doc["credentialStatus"] = [dict(entry) for entry in status]
    if parts:
        doc["evidence"] = [{"id": part.id, "type": ["Evidence"],
                            **({"name": part.name} if part.name is not None else {})}
                           for part in parts]
    check_credential(doc, signed=False)
    return doc


def issue_credential(seed: bytes, *, created: str, **fields: Any) -> dict[str, Any]:
    """:func:`build_credential` with ``fields``, signed by the issuer's key (its 32-byte
    ``seed``) with an ``eddsa-rdfc-2022`` proof made at ``created``."""
    return sign_credential(build_credential(**fields), seed, created=created)


def sign_credential(doc: Mapping[str, Any], seed: bytes, *, created: str) -> dict[str, Any]:
    """The unsigned credential ``doc`` (:func:`build_credential`'s) signed by the issuer's key
    (its 32-byte ``seed``: the did:key of ``doc``'s issuer) with an ``eddsa-rdfc-2022`` proof
    made at ``created``."""
    method = didkey.verification_method(didkey.decode(doc["issuer"]["id"]))
    return dataintegrity.sign(doc, seed, created=created, verification_method=method)


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class Identifier:
    """One hashed identifier of the holder."""

    identity_type: str
    identity_hash: str
    salt: str


@dataclass(frozen=True, slots=True)
class OpenBadge:
    """What a credential that passed :func:`check_credential` says. ``identifiers`` and
    ``parts`` are sets in JSON-LD (``identifier`` is an ``@set``; ``evidence`` is unordered
    RDF): the signature does not bind their JSON order, so they are listed sorted, the same
    for every order."""

    id: str
    issuer_did: str
    issuer_key: bytes
    issuer_name: str
    issuer_url: str | None
    valid_from: datetime.datetime
    valid_until: datetime.datetime | None
    name: str
    achievement_id: str
    achievement_name: str
    identifiers: tuple[Identifier, ...]
    result: str | None
    parts: tuple[str, ...]
    achievement_description: str = ""
    achievement_criteria: str = ""
    status: tuple[statuslist.StatusEntry, ...] = ()
    """The ``credentialStatus`` entries, revocation first (none if the credential has none)."""


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise vcjson.fail(path, "want a non-empty list")
    if len(value) > MAX_ITEMS:
        raise vcjson.fail(path, f"{len(value)} items, at most {MAX_ITEMS}")
    return value


def _enum(value: object, path: str, known: frozenset[str]) -> str:
    if not isinstance(value, str) or not (value in known or (
            value.startswith("ext:") and 4 < len(value) <= 256)):
        raise vcjson.fail(path, f"{vcjson.short(value)} is not one of OB 3.0's values (or ext:...)")
    return _unicode(value, path)


def _identifier(value: object, path: str) -> Identifier:
    obj = _object(value, path, {"type", "identityType", "hashed", "identityHash", "salt"})
    if obj["type"] != "IdentityObject":
        raise vcjson.fail(f"{path}.type", f"got {vcjson.short(obj['type'])}, want 'IdentityObject'")
    if obj["hashed"] is not True:
        raise vcjson.fail(f"{path}.hashed", "want true: a holder is never named in clear")
    if not isinstance(obj["identityHash"], str) or not _HASH.fullmatch(obj["identityHash"]):
        raise vcjson.fail(f"{path}.identityHash", "want 'sha256$' and 64 hex digits")
    if not isinstance(obj["salt"], str) or not obj["salt"] or len(obj["salt"]) > 256:
        raise vcjson.fail(f"{path}.salt", "want a non-empty string of at most 256 characters")
    _unicode(obj["salt"], f"{path}.salt")
    return Identifier(identity_type=_enum(obj["identityType"], f"{path}.identityType",
                                          IDENTITY_TYPES),
                      identity_hash=obj["identityHash"], salt=obj["salt"])


def check_credential(doc: object, *, signed: bool = True) -> OpenBadge:
    """What ``doc`` says, if it has exactly this ledger's OpenBadgeCredential shape (with a
    ``proof`` if ``signed``; its fields are checked by :func:`verify_credential`, which also
    checks the signature). Raises :class:`CredentialError` naming the first failed path."""
    top = _object(doc, "", {"@context", "id", "type", "issuer", "validFrom", "name",
                            "credentialSubject", *(("proof",) if signed else ())},
                  {"validUntil", "description", "evidence", "credentialStatus"})
    if top["@context"] != list(CONTEXT):
        raise vcjson.fail("@context", f"want exactly {list(CONTEXT)}, in that order")
    credential_id = _iri(top["id"], "id")
    vcjson.types(top["type"], "type", CREDENTIAL_TYPE)
    # The issuer: a Profile whose id is a did:key.
    profile = _object(top["issuer"], "issuer", {"id", "type", "name"}, {"url"})
    try:
        issuer_key = didkey.decode(profile["id"])
    except EncodingError as exc:
        raise vcjson.fail("issuer.id", str(exc)) from None
    vcjson.types(profile["type"], "issuer.type", ["Profile"])
    issuer_name = _text(profile["name"], "issuer.name")
    issuer_url = _iri(profile["url"], "issuer.url") if "url" in profile else None
    # Validity.
    valid_from = dataintegrity.check_datetime(top["validFrom"], "validFrom")
    valid_until = None
    if "validUntil" in top:
        valid_until = dataintegrity.check_datetime(top["validUntil"], "validUntil")
        if valid_until <= valid_from:
            raise vcjson.fail("validUntil", "not after validFrom")
    name = _text(top["name"], "name")
    if "description" in top:
        _text(top["description"], "description", empty=True)
    # The subject: who (hashed identifiers), what (the achievement), how well (the result).
    subject = _object(top["credentialSubject"], "credentialSubject",
                      {"type", "identifier", "achievement"}, {"id", "result"})
    vcjson.types(subject["type"], "credentialSubject.type", ["AchievementSubject"])
    if "id" in subject:
        _iri(subject["id"], "credentialSubject.id")
    identifiers = tuple(_identifier(item, f"credentialSubject.identifier[{n}]")
                        for n, item in enumerate(_list(subject["identifier"],
                                                       "credentialSubject.identifier")))
    path = "credentialSubject.achievement"
    achievement = _object(subject["achievement"], path,
                          {"id", "type", "name", "description", "criteria"},
                          {"resultDescription"})
    achievement_id = _iri(achievement["id"], f"{path}.id")
    vcjson.types(achievement["type"], f"{path}.type", ["Achievement"])
    achievement_name = _text(achievement["name"], f"{path}.name")
    achievement_description = _text(achievement["description"], f"{path}.description")
    criteria = _object(achievement["criteria"], f"{path}.criteria", {"narrative"})
    achievement_criteria = _text(criteria["narrative"], f"{path}.criteria.narrative")
    described: set[str] = set()
    descriptions = (_list(achievement["resultDescription"], f"{path}.resultDescription")
                    if "resultDescription" in achievement else [])
    for n, item in enumerate(descriptions):
        where = f"{path}.resultDescription[{n}]"
        rd = _object(item, where, {"id", "type", "name", "resultType"})
        described.add(_iri(rd["id"], f"{where}.id"))
        vcjson.types(rd["type"], f"{where}.type", ["ResultDescription"])
        _text(rd["name"], f"{where}.name")
        _enum(rd["resultType"], f"{where}.resultType", RESULT_TYPES)
    result = None
    if "result" in subject:
        # An @set (OB 3.0.3's context): RDFC-1.0 ignores its order, so with two Results the
        # signature would not say which one is the grade. The builder makes one.
        results = _list(subject["result"], "credentialSubject.result")
        if len(results) != 1:
            raise vcjson.fail("credentialSubject.result", f"{len(results)} results, want one (a "
                                                    f"JSON-LD set: its order is not signed)")
        where = "credentialSubject.result[0]"
        res = _object(results[0], where, {"type", "resultDescription", "value"})
        vcjson.types(res["type"], f"{where}.type", ["Result"])
        if _iri(res["resultDescription"], f"{where}.resultDescription") not in described:
            raise vcjson.fail(f"{where}.resultDescription", "names no resultDescription of the "
                                                      "achievement")
        result = _text(res["value"], f"{where}.value")
    parts: list[str] = []
    if "evidence" in top:
        for n, item in enumerate(_list(top["evidence"], "evidence")):
            ev = _object(item, f"evidence[{n}]", {"id", "type"}, {"name"})
            parts.append(_iri(ev["id"], f"evidence[{n}].id"))
            vcjson.types(ev["type"], f"evidence[{n}].type", ["Evidence"])
            if "name" in ev:
                _text(ev["name"], f"evidence[{n}].name")
        if len(set(parts)) != len(parts):
            raise vcjson.fail("evidence", "a part is listed twice")
    status = (statuslist.check_credential_status(top["credentialStatus"])
              if "credentialStatus" in top else ())
    return OpenBadge(id=credential_id, issuer_did=profile["id"], issuer_key=issuer_key,
                     issuer_name=issuer_name, issuer_url=issuer_url, valid_from=valid_from,
                     valid_until=valid_until, name=name, achievement_id=achievement_id,
                     achievement_name=achievement_name,
                     identifiers=tuple(sorted(identifiers, key=_identifier_order)),
                     result=result, parts=tuple(sorted(parts)),
                     achievement_description=achievement_description,
                     achievement_criteria=achievement_criteria, status=status)


def _identifier_order(ident: Identifier) -> tuple[str, str, str]:
    return ident.identity_type, ident.identity_hash, ident.salt


def parse_credential(data: bytes | str) -> dict[str, Any]:
    """The credential in the JSON text ``data`` (at most :data:`MAX_CREDENTIAL_BYTES`; no
    member named twice in one object), checked by :func:`check_credential`."""
    if len(data) > MAX_CREDENTIAL_BYTES:
        raise CredentialError(f"credential: {len(data)} bytes, at most {MAX_CREDENTIAL_BYTES}")
    try:
        doc = json.loads(data, object_pairs_hook=vcjson.no_duplicates('credential'))
    except (ValueError, RecursionError):
        raise CredentialError("credential: not JSON") from None
    check_credential(doc)
    return doc  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ verifying


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """A credential whose shape and proof checked out, by its issuer's own key."""

    badge: OpenBadge
    proof: dataintegrity.VerifiedProof


def verify_credential(doc: Mapping[str, Any]) -> VerifiedCredential:
    """Check ``doc``: its shape (:func:`check_credential`), that its proof's verification
    method is the issuer's own did:key, and the ``eddsa-rdfc-2022`` proof itself (with the
    pinned contexts only). Says nothing of validity dates or status: those are the verifier's,
    as of a time it chooses. Raises :class:`CredentialError` or
    :class:`~ledger.errors.SignatureError` naming the failed check."""
    badge = check_credential(doc)
    proof = doc["proof"]
    want = didkey.verification_method(badge.issuer_key)
    if isinstance(proof, dict) and proof.get("verificationMethod") != want:
        raise vcjson.fail("proof.verificationMethod", "not the issuer's own did:key")
    return VerifiedCredential(badge=badge, proof=dataintegrity.verify(doc, didkey.resolve))


def identifier_matches(badge: OpenBadge, value: str, identity_type: str | None = None) -> bool:
    """Whether the holder's claimed identifier ``value`` (of ``identity_type``, or of any
    type) hashes, with its salt, to one of the credential's identity hashes. The value is
    compared exactly as given (no case folding); the hex of the hash in either case."""
    for ident in badge.identifiers:
        if identity_type is not None and ident.identity_type != identity_type:
            continue
        if hmac.compare_digest(identity_hash(value, ident.salt).encode(),
                               ident.identity_hash.lower().encode()):
            return True
    return False


def credential_digest(doc: Mapping[str, Any]) -> bytes:
    """The digest the log commits for a signed credential: SHA-256 of the canonical JSON
    (RFC 8785) of its JSON-LD set normal form, proof included (docs/FORMAT.md §16.6,
    ``vcjson.normal_form``). The same for every JSON spelling of the same credential (member
    order, spacing, escapes, one-item sets as bare values, the order of sets); different for
    any change of what it says or of its signature."""
    if not isinstance(doc, Mapping) or "proof" not in doc:
        raise vcjson.fail("proof", "the credential is not signed; only a signed one has a digest")
    check_credential(doc)  # exactly this format's shape, every string valid Unicode
    dataintegrity.check_proof(doc)  # and its proof's
    return hashlib.sha256(vcjson.canonical_json(vcjson.normal_form(dict(doc)))).digest()
