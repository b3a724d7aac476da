"""A real entry format 2 store for the browser verifier's differential tests (tests/test_web_v2.py):
every answer ``ledger.verify.verify_bundle`` gives, built through the library as
``credledger issue``/``revoke``/... build it (``ledger.issuance.issue`` signs real Open Badges
credentials), with an injected clock so that every time is known.

What it holds (issuer ``uni``, and ``college``):

* ``uni``: achievements cs101, cs102, cert; credentials s1..s7 issued in one batch by key 1
  (s1 VALID, s2 REVOKED, s3 SUSPENDED, s4 suspended then reinstated by key 2, s5 EXPIRED at
  ``AT``, s6 VALID without result or expiry, s7 a part of the stack), ``stack`` (achievement
  cert, parts s1 and s7), then key 1 rotated to key 2 and s8 issued by key 2;
* ``college``: its key issues c1, then revokes itself flagging compromise from before c1
  (KEY COMPROMISED), then the registry retires the college;
* forgeries the issuer itself signed and committed, each inconsistent with its own entry in
  one field (``ledger.verify`` checks these after the proof, as the page checks them after the
  digest): f-key (signed by key 2, entry by key 1's successor... see :func:`build_world`),
  f-name, f-url, f-from, f-until, f-ach, f-status, f-parts.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import anchoring, openbadges
from ledger.batchfile import CredentialRequest
from ledger.bundle import build_bundle, dump_bundle
from ledger.events import (
    ISSUE,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    key_id,
    make_statement,
    sign_statement,
)
from ledger.issuance import issue
from ledger.log import Ledger
from ledger.note import Signer

ORIGIN = "web.example/log"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000
AT = T0 + 200 * DAY  # the verification time: after s5's expiry, before the others'


def _signer(name: str, n: int) -> Signer:
    return Signer(name, bytes([n]) * 32)


@dataclass
class World:
    ledger: Ledger
    log: Signer
    registry: Signer
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> credential
    handles: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (issuer, handle)
    sizes: dict[str, int] = field(default_factory=dict)  # checkpoint name -> size

    @property
    def log_vkey(self) -> str:
        return str(self.log.verifier())

    def bundle(self, *names: str, size: int | None = None) -> str:
        return dump_bundle(build_bundle(self.ledger, [self.handles[n] for n in names], size=size))

    def credential_text(self, name: str) -> str:
        return json.dumps(self.docs[name], indent=2)


def build_world(path: Path) -> World:
    clock = itertools.count(T0, 60_000)
    ledger, log, registry = Ledger.create(path / "store", ORIGIN, clock=lambda: next(clock))
    world = World(ledger, log, registry)
    times = itertools.count(T0, 1000)
    k1, k2, kc = _signer("uni1", 1), _signer("uni2", 2), _signer("college", 3)

    def append(signer: Signer, kind: str, issuer: str, *fields: Any) -> int:
        st = make_statement(kind, issuer, next(times), *fields)
        return ledger.append([sign_statement(st, signer.seed)]).first

    append(registry, REGISTER_ISSUER, "uni", "Example University", "https://uni.example",
           k1.public_key)
    append(registry, REGISTER_ISSUER, "college", "Example College", "", kc.public_key)
    for ach, name in (("cs101", "Programming I"), ("cs102", "Data Structures"),
                      ("cert", "Certificate in Computing")):
        append(k1, REGISTER_ACHIEVEMENT, "uni", ach, name, f"What {name} covers.\nAll of it.",
               f"Pass the {name} exam.", "Course")
    append(kc, REGISTER_ACHIEVEMENT, "college", "art1", "Art I", "Drawing.", "A portfolio.",
           "Badge")
    out = path / "out"

    def issue_batch(issuer: str, signer: Signer, requests: list[CredentialRequest]) -> None:
        issued = issue(ledger, issuer, signer, requests, out, now=next(times))
        for doc in issued.documents:
            world.docs[doc["id"]] = doc["credential"]
            world.handles[doc["id"]] = (issuer, doc["credential"]["id"])

    issue_batch("uni", k1, [
        CredentialRequest("s1", "ada@example.org", "cs101", "emailAddress", "A", "2031-06-30"),
        CredentialRequest("s2", "alan@example.org", "cs102", "emailAddress", "B", "2031-06-30"),
        CredentialRequest("s3", "grace@example.org", "cs101", "emailAddress", "A"),
        CredentialRequest("s4", "S-0004", "cs102", "sisSourcedId", "Pass"),
        CredentialRequest("s5", "Edsger W. Dijkstra", "cs101", "name", "A", "2026-03-31"),
        CredentialRequest("s6", "barbara@example.org", "cs102", "emailAddress"),
        CredentialRequest("s7", "ada@example.org", "cs102", "emailAddress", "A"),
    ])
    issue_batch("uni", k1, [CredentialRequest("stack", "ada@example.org", "cert",
                                              "emailAddress", parts=("s1", "s7"))])
    issue_batch("college", kc, [CredentialRequest("c1", "frances@example.org", "art1",
                                                  "emailAddress", "Merit")])
    world.sizes["first"] = ledger.head().size
    ledger.checkpoint()
    h = world.handles
    append(k1, REVOKE, "uni", h["s2"][1], "withdrawn")
    append(k1, SUSPEND, "uni", h["s3"][1], "under-review")
    append(k1, SUSPEND, "uni", h["s4"][1], "unspecified")
    append(k1, ROTATE_KEY, "uni", k2.public_key)
    append(k2, REINSTATE, "uni", h["s4"][1], "review-complete")
    issue_batch("uni", k2, [CredentialRequest("s8", "ken@example.org", "cs101", "emailAddress",
                                              "B")])
    c1_index = ledger.cred_entries("college", h["c1"][1])[0]
    append(kc, REVOKE_KEY, "college", key_id(kc.public_key), "laptop stolen", c1_index)
    append(registry, RETIRE_ISSUER, "college", "merged")
    _forgeries(world, k2, append, times, out)
    world.sizes["last"] = ledger.head().size
    ledger.checkpoint()
    return world


def _forgeries(world: World, key: Signer, append: Any, times: Any, out: Path) -> None:
    """Credentials the issuer signed with its own (current) key and committed, each differing
    from what its ``issue`` entry says in one field: a verifier catches them only by
    comparing the credential with the entry (anchoring.check_anchored)."""
    ledger = world.ledger
    base = copy.deepcopy(world.docs["s8"])
    del base["proof"]
    index = 1000  # status indexes of key 2 that no credential holds
    for n, (name, change) in enumerate(_FORGERIES.items()):
        doc = copy.deepcopy(base)
        doc["id"] = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        status_index = index + n
        kid = key_id(key.public_key)
        doc["credentialStatus"] = anchoring.credential_status(ORIGIN, "uni", kid, status_index)
        entry_fields: dict[str, Any] = {
            "achievement": "cs101", "valid_from": T0 + 5 * DAY, "valid_until": None,
            "status_index": status_index, "parts": []}
        doc["validFrom"] = anchoring.rfc3339(T0 + 5 * DAY)
        change(doc, entry_fields, world)
        signer = _signer("other", 9) if name == "f-key" else key
        if name == "f-key":
            from ledger import didkey

            doc["issuer"]["id"] = didkey.encode(signer.public_key)
        signed = openbadges.sign_credential(doc, signer.seed,
                                            created=anchoring.rfc3339(T0 + 5 * DAY))
        digest = openbadges.credential_digest(signed)
        append(key, ISSUE, "uni", doc["id"], digest, entry_fields["achievement"],
               entry_fields["valid_from"], entry_fields["valid_until"],
               entry_fields["status_index"], entry_fields["parts"])
        world.docs[name] = signed
        world.handles[name] = ("uni", doc["id"])


def _set(path: str, value: Any) -> Any:
    def change(doc: dict[str, Any], fields: dict[str, Any], world: World) -> None:
        *head, last = path.split(".")
        target = doc
        for p in head:
            target = target[p]
        target[last] = value
    return change


def _entry(name: str, value: Any) -> Any:
    def change(doc: dict[str, Any], fields: dict[str, Any], world: World) -> None:
        fields[name] = value
    return change


def _parts(doc: dict[str, Any], fields: dict[str, Any], world: World) -> None:
    doc["evidence"] = [{"id": world.handles["s6"][1], "type": ["Evidence"]}]
    fields["parts"] = [world.handles["s1"][1]]


_FORGERIES: dict[str, Any] = {
    "f-key": lambda doc, fields, world: None,
    "f-name": _set("issuer.name", "Example Universitas"),
    "f-url": _set("issuer.url", "https://uni.example/other"),
    "f-from": _entry("valid_from", T0 + 6 * DAY),
    "f-until": _entry("valid_until", T0 + 900 * DAY),
    "f-ach": _set("credentialSubject.achievement.name", "Programming II"),
    "f-status": _entry("status_index", 999),
    "f-parts": _parts,
}
