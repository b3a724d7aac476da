"""Real holder credentials for the tests that build logs statement by statement.

A holder's file in entry format 2 is the signed Open Badges 3.0 credential
(``ledger.openbadges``), named by its handle, whose digest, achievement, validity, status index
and parts the ``issue`` entry commits to (docs/FORMAT.md §16.8, ``ledger.anchoring``). The
verifier tests (tests/test_verify.py, tests/test_fuzz.py) build such credentials beside the
statements they append, independently of ``ledger.issuance``: :func:`make_credential` signs
one exactly as the issuer would, for any handle, key, achievement, dates, status index and
parts, and :func:`issue_statement` is the ``issue`` statement that commits to it. Signing costs
about 12 ms a credential (RDFC-1.0 twice): build them once per module.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from statements import ACHIEVEMENT

from ledger import anchoring, openbadges
from ledger.events import ISSUE, Statement, key_id, make_statement

SUBJECT = "ada@example.org"
"""The holder's identifier every credential names by default (an email address)."""


def achievement_text(ach_id: str = ACHIEVEMENT) -> tuple[str, str, str]:
    """The (name, description, criteria) ``statements.register_achievement`` registers."""
    return f"Course {ach_id}", f"What {ach_id} covers.", f"Pass the {ach_id} exam."


@dataclass
class Credential:
    """A signed credential and what its ``issue`` entry commits to."""

    issuer: str
    handle: str
    doc: dict[str, Any]
    digest: bytes
    achievement: str
    valid_from: int
    valid_until: int | None
    status_index: int
    parts: list[str] = field(default_factory=list)
    subject: str = SUBJECT

    def copy(self) -> dict[str, Any]:
        """A deep copy of the credential (to tamper with)."""
        return copy.deepcopy(self.doc)


def make_credential(*, origin: str, issuer: str, issuer_name: str, issuer_url: str | None,
                    seed: bytes, public_key: bytes, handle: str, valid_from: int,
                    status_index: int, achievement: str = ACHIEVEMENT,
                    achievement_def: tuple[str, str, str] | None = None,
                    valid_until: int | None = None, parts: Sequence[str] = (),
                    subject: str = SUBJECT, subject_type: str = "emailAddress",
                    salt: str | None = None, result: str | None = None,
                    status_key: bytes | None = None) -> Credential:
    """The credential the issuer ``issuer`` (registered with ``issuer_name`` and
    ``issuer_url``) signs with its key (``seed``, ``public_key``) in the log of ``origin``:
    times in UTC ms (whole seconds), the status entries of ``status_index`` of the signing key
    (or of ``status_key``'s, to build a credential pointing at another key's lists)."""
    name, description, criteria = achievement_def or achievement_text(achievement)
    ach = openbadges.Achievement(anchoring.achievement_iri(origin, issuer, achievement), name,
                                 description, criteria,
                                 result_name=None if result is None else "Result",
                                 result_type="Result")
    created = anchoring.rfc3339(valid_from)
    doc = openbadges.build_credential(
        credential_id=handle, issuer=openbadges.Issuer(public_key, issuer_name, issuer_url),
        achievement=ach, identity_type=subject_type, identity_value=subject,
        salt=salt or openbadges.new_salt(), valid_from=created,
        valid_until=None if valid_until is None else anchoring.rfc3339(valid_until),
        result=result, parts=[openbadges.Part(p) for p in parts],
        status=anchoring.credential_status(origin, issuer, key_id(status_key or public_key),
                                           status_index))
    signed = openbadges.sign_credential(doc, seed, created=created)
    return Credential(issuer, handle, signed, openbadges.credential_digest(signed), achievement,
                      valid_from, valid_until, status_index, list(parts), subject)


def resign(doc: dict[str, Any], seed: bytes, *, public_key: bytes | None = None
           ) -> dict[str, Any]:
    """``doc`` without its proof, signed again by ``seed`` (its issuer's did:key set to
    ``public_key`` first, when given: a credential re-signed by another key)."""
    from ledger import didkey

    doc = copy.deepcopy(doc)
    proof = doc.pop("proof")
    if public_key is not None:
        doc["issuer"]["id"] = didkey.encode(public_key)
    return openbadges.sign_credential(doc, seed, created=proof["created"])


def issue_statement(cred: Credential, time: int) -> Statement:
    """The ``issue`` statement committing to ``cred``."""
    return make_statement(ISSUE, cred.issuer, time, cred.handle, cred.digest,
                          cred.achievement, cred.valid_from, cred.valid_until,
                          cred.status_index, list(cred.parts))
