"""The offline verifier: proof bundles checked against a trusted root or log key.

A verifier (an employer, an admissions office) holds either the log's verifier key or a published
``(size, root)``, and a bundle file from a holder. :func:`verify_bundle` answers, for every
credential in the bundle, one of VALID, REVOKED, KEY COMPROMISED, SUSPENDED, EXPIRED or NOT
FOUND, **as of the bundle's checkpoint**; any check that fails raises :class:`~ledger.errors.VerificationError`
naming the check (the CLI reports it as INVALID). Nothing here touches the network or lmdb.
The bundle's format and its parsing are ``ledger.bundle``'s. A holder's standard credential
(``ledger.openbadges``), given beside its bundle, is checked against the issuance entry that
commits to it (``ledger.anchoring``).

Why the answer can be trusted (docs/FORMAT.md has the bytes):

1. the checkpoint is signed by the log key, or names exactly the trusted size and root;
2. every entry in the bundle is proven in that tree by an RFC 9162 inclusion proof;
3. the tree's last entry carries ``state_root``, the status map's root after every entry of the
   tree, so the status-map proofs (docs/FORMAT.md §5) prove each credential's, key's and issuer's record
   as of the checkpoint, including the *absence* of a revocation and of a never-issued id;
4. the credential's issuance entry is signed by a key that the map proves was active for its
   issuer at the issuance index; a later status change is proven by its own entry;
5. a credential given beside the bundle has a valid Data Integrity proof by the did:key of
   the issuance's signing key, and its digest, id, dates, achievement, status entries and
   parts are the ones the issuance entry commits to (docs/FORMAT.md §16.8);
6. a key flagged as compromised from some index on (docs/FORMAT.md §5.2) is proven so by its
   record and the ``revoke-key`` entry that flagged it: a credential whose issuance (or whose
   reinstatement) that key signed at or after that index is KEY COMPROMISED, not VALID.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ledger import merkle, smt
from ledger.bundle import MAX_CREDENTIALS, Bundle, parse_bundle
from ledger.errors import (
    EncodingError,
    ProofError,
    SignatureError,
    VerificationError,
)
from ledger.events import (
    ISSUE,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REINSTATE,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    Entry,
    Statement,
    decode_entry,
    key_id,
)
from ledger.note import Checkpoint, Verifier, open_checkpoint, parse_checkpoint, parse_note
from ledger.printable import printable
from ledger.records import (
    ACHIEVEMENT,
    CRED,
    ISSUED,
    ISSUER,
    KEY,
    REVOKED,
    SUSPENDED,
    AchievementRecord,
    CredRecord,
    IssuerRecord,
    KeyRecord,
    decode_record,
    map_key,
    record_hash,
)

if TYPE_CHECKING:
    from ledger.witness import CosignerVerifier

VALID: Final = "VALID"
REVOKED_ANSWER: Final = "REVOKED"
SUSPENDED_ANSWER: Final = "SUSPENDED"
EXPIRED: Final = "EXPIRED"
KEY_COMPROMISED: Final = "KEY COMPROMISED"
NOT_FOUND: Final = "NOT FOUND"
INVALID: Final = "INVALID"

class BundleError(VerificationError):
    """The bundle fails a check; the message names the check."""


# ---------------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class Compromise:
    """Why an answer is KEY COMPROMISED: the statement the credential's standing rests on (its
    issuance, or the reinstatement that set its current state), entry ``entry`` of kind
    ``kind``, was signed by key ``key_id``, which the log flags as compromised from entry
    ``since`` on (by the ``revoke-key`` at ``revoked_at``, for ``reason``)."""

    entry: int
    kind: str
    key_id: str
    since: int
    revoked_at: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "kind": self.kind, "key_id": self.key_id,
                "compromised_since": self.since, "revoked_at": self.revoked_at,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class CredentialAnswer:
    """What the bundle proves about one credential, as of its checkpoint.

    ``achievement`` and ``title`` are the id and name of the registered achievement it
    awards; ``expires`` its ``valid_until``. ``credential`` is True when the holder's standard
    credential was checked against the issuance; ``subject`` is set when, besides, the
    holder's identifier given to the verifier matched the credential's salted hash.
    ``key_revoked_index`` (and ``key_revoked_reason``, ``key_compromised_since``) are set when
    the map proves that the signing key was revoked, after the issuance (a key revoked before
    it could not have signed it); ``issuer_retired_index`` (and ``issuer_retired_reason``)
    when it proves the issuer retired. Neither changes the answer (a credential issued while
    its key was active stays as it was), but both are said; except that a key flagged as
    compromised from an index at or before the issuance (or the reinstatement) makes the
    answer KEY COMPROMISED, and ``compromise`` says why.
    """

    issuer: str
    cred_id: str
    answer: str
    title: str = ""
    issued_index: int | None = None
    issued_time: int | None = None
    expires: int | None = None
    changed_index: int | None = None
    changed_time: int | None = None
    reason: str = ""
    parts: tuple[str, ...] = ()
    subject: str | None = None
    key_id: str = ""
    digest: str | None = None
    """The digest (hex) of the signed credential the issuance commits to."""
    achievement: str = ""
    valid_from: int | None = None
    credential: bool = False
    key_revoked_index: int | None = None
    key_revoked_reason: str = ""
    issuer_retired_index: int | None = None
    issuer_retired_reason: str = ""
    issuer_name: str = ""
    """The issuer's display name, from its proven issuer record."""
    key_compromised_since: int | None = None
    """With ``key_revoked_index``: the first index from which the key's statements are not
    trusted (the revocation's own index, unless it was flagged from an earlier one)."""
    compromise: Compromise | None = None

    @property
    def holder_checked(self) -> bool:
        """True when the holder's identifier was checked against the credential's hash."""
        return self.subject is not None

    def as_dict(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "issuer_name": self.issuer_name or None,
                "id": self.cred_id, "answer": self.answer,
                "achievement": self.achievement or None, "title": self.title,
                "issued_index": self.issued_index, "issued_time": _iso(self.issued_time),
                "valid_from": _iso(self.valid_from), "expires": _iso(self.expires),
                "changed_index": self.changed_index, "changed_time": _iso(self.changed_time),
                "reason": self.reason, "parts": list(self.parts),
                "credential_checked": self.credential, "subject": self.subject,
                "holder_checked": self.holder_checked, "key_id": self.key_id,
                "digest": self.digest,
                "key_revoked": None if self.key_revoked_index is None else {
                    "index": self.key_revoked_index, "reason": self.key_revoked_reason,
                    "compromised_since": self.key_compromised_since},
                "compromise": None if self.compromise is None else self.compromise.as_dict(),
                "issuer_retired": None if self.issuer_retired_index is None else {
                    "index": self.issuer_retired_index, "reason": self.issuer_retired_reason}}

    def describe(self) -> str:
        """One line for a terminal: every piece of outside text in it escaped
        (``ledger.printable``)."""
        name = f"{self.issuer}/{self.cred_id}"
        if self.answer == NOT_FOUND:
            return printable(f"NOT FOUND  {name}: never issued as of this checkpoint (absence "
                             "proven)")
        by = f"{self.issuer_name} ({self.issuer})" if self.issuer_name else self.issuer
        text = f"{self.answer:<10} {name} {self.title!r}, issued by {by} at entry " \
               f"{self.issued_index} ({_iso(self.issued_time)})"
        if self.answer in (REVOKED_ANSWER, SUSPENDED_ANSWER):
            text += f"; {self.answer.lower()} at entry {self.changed_index} " \
                    f"({_iso(self.changed_time)})"
            if self.reason:
                text += f": {self.reason}"
        if self.expires is not None:
            text += f"; {'expired' if self.answer == EXPIRED else 'valid until'} " \
                    f"{_iso(self.expires)}"
        c = self.compromise
        if c is not None:
            text += f"; {'signed' if c.kind == ISSUE else 'reinstated at entry ' + str(c.entry)}" \
                    f" by key {c.key_id}, which the log flags as compromised from entry " \
                    f"{c.since} on (revoked at entry {c.revoked_at}" + \
                    (f": {c.reason})" if c.reason else ")")
        if self.key_revoked_index is not None and (c is None or c.key_id != self.key_id):
            text += f"; signed by key {self.key_id}, revoked at entry {self.key_revoked_index}"
            if self.key_revoked_reason:
                text += f" ({self.key_revoked_reason})"
            since = self.key_compromised_since
            if since is not None and since != self.key_revoked_index:
                text += f", compromised from entry {since} on (after this issuance)"
        if self.issuer_retired_index is not None:
            text += f"; issuer {self.issuer} retired at entry {self.issuer_retired_index}"
            if self.issuer_retired_reason:
                text += f" ({self.issuer_retired_reason})"
        if self.parts:
            text += f"; stacks {', '.join(self.parts)}"
        if not self.credential:
            text += "; credential not checked (only its bundle was given)"
        elif self.subject is not None:
            text += f"; credential checked; holder {self.subject!r} matches it"
        else:
            text += "; credential checked; holder not checked (no --subject)"
        return printable(text)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a bundle proves, as of its checkpoint, trusted by a key or root, judged at ``at``."""

    checkpoint: Checkpoint
    credentials: tuple[CredentialAnswer, ...]
    trusted_by: str
    at: int
    as_of: int | None = None
    """The sequencing time of the tree's last entry (None for an empty tree): what the
    answers are as of."""

    @property
    def valid(self) -> bool:
        return bool(self.credentials) and all(c.answer == VALID for c in self.credentials)

    def as_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "answer": VALID if self.valid else self.worst(),
                "checkpoint": {"origin": self.checkpoint.origin, "size": self.checkpoint.size,
                               "root": self.checkpoint.root.hex()},
                "trusted_by": self.trusted_by, "at": _iso(self.at),
                "as_of": _iso(self.as_of),
                "credentials": [c.as_dict() for c in self.credentials]}

    def worst(self) -> str:
        order = [REVOKED_ANSWER, KEY_COMPROMISED, NOT_FOUND, SUSPENDED_ANSWER, EXPIRED, VALID]
        answers = {c.answer for c in self.credentials}
        return next((a for a in order if a in answers), NOT_FOUND)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    try:
        import datetime as dt

        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"


# ---------------------------------------------------------------------------------- checking


class _Checker:
    def __init__(self, bundle: Bundle, cp: Checkpoint) -> None:
        self.bundle = bundle
        self.cp = cp
        self.entries: dict[int, Entry] = {}
        self.statements: dict[int, Statement] = {}
        if cp.size == 0:
            self.state_root = smt.EMPTY
        else:
            last = self.entry(cp.size - 1, "the tree's last entry")
            self.state_root = last.state_root

    def entry(self, index: int, what: str) -> Entry:
        """The bundle's entry ``index``, proven to be in the checkpointed tree."""
        if index in self.entries:
            return self.entries[index]
        if not 0 <= index < self.cp.size:
            raise BundleError(f"{what}: entry {index} is not in the tree of size {self.cp.size}")
        if index not in self.bundle.entries:
            raise BundleError(f"{what}: the bundle lacks entry {index}")
        data, proof = self.bundle.entries[index]
        try:
            merkle.verify_inclusion(index, self.cp.size, merkle.leaf_hash(data), proof,
                                    self.cp.root)
        except VerificationError as exc:
            raise BundleError(f"{what}: entry {index} inclusion proof fails: {exc}") from None
        try:
            entry = decode_entry(data)
        except EncodingError as exc:
            raise BundleError(f"{what}: entry {index} is malformed: {exc}") from None
        if entry.index != index:
            raise BundleError(f"{what}: entry at index {index} says it is entry {entry.index}")
        self.entries[index] = entry
        return entry

    def record(self, kind: str, issuer: str, ident: str = "") -> bytes | None:
        """The record the status map holds for the key, or None when absence is proven."""
        k = map_key(kind, issuer, ident)
        what = f"status of {kind} {issuer}{'/' + ident if ident else ''}"
        if k not in self.bundle.proofs:
            raise BundleError(f"{what}: the bundle lacks its status-map proof")
        proof, record = self.bundle.proofs[k]
        try:
            value = smt.verify_proof(self.state_root, proof)
        except VerificationError as exc:
            raise BundleError(f"{what}: status-map proof fails: {exc}") from None
        if value is None:
            if record is not None:
                raise BundleError(f"{what}: a record is given for an absent key")
            return None
        if record is None or record_hash(record) != value:
            raise BundleError(f"{what}: the record does not match the proven value hash")
        return record

    def credential(self, issuer: str, cred_id: str, at: int,
                   doc: dict[str, Any] | None, subject: str | None) -> CredentialAnswer:
        raw = self.record(CRED, issuer, cred_id)
        if raw is None:
            return CredentialAnswer(issuer, cred_id, NOT_FOUND)
        rec = _decoded(raw, CredRecord, f"{issuer}/{cred_id}")
        if (rec.issuer, rec.cred_id) != (issuer, cred_id):
            raise BundleError(f"{issuer}/{cred_id}: the record names {rec.issuer}/{rec.cred_id}")
        # The issuance: included, signed, and about this credential.
        issued = self.entry(rec.issued_index, f"{issuer}/{cred_id} issuance")
        st = self.statement(issued, f"{issuer}/{cred_id} issuance")
        if st.kind != ISSUE or st.issuer != issuer or st.fields[0] != cred_id:
            raise BundleError(f"{issuer}/{cred_id}: entry {rec.issued_index} is not its issuance")
        # The signing key: a key of the issuer, active at the issuance index.
        kid = key_id(issued.signer)
        key = self.key(issuer, issued.signer, f"{issuer}/{cred_id}")
        if not key.active_at(rec.issued_index):
            raise BundleError(f"{issuer}/{cred_id}: key {kid} was not active at entry "
                              f"{rec.issued_index}")
        intro = self.statement(self.entry(key.active_from, f"key {kid} registration"),
                               f"key {kid} registration")
        if not ((intro.kind == REGISTER_ISSUER and intro.fields[2] == key.public_key) or
                (intro.kind == ROTATE_KEY and intro.fields[0] == key.public_key)) or (
                intro.issuer != issuer):
            raise BundleError(f"key {kid}: entry {key.active_from} does not introduce it")
        issuer_rec = _decoded(self._need(ISSUER, issuer), IssuerRecord, f"issuer {issuer}")
        if issuer_rec.issuer != issuer:
            raise BundleError(f"issuer {issuer}: the record names {issuer_rec.issuer}")
        # The current status, proven by the entry that set it.
        compromise = _compromise(key, rec.issued_index, ISSUE)
        changed_time = None
        if rec.changed_index is not None:
            ch = self.entry(rec.changed_index, f"{issuer}/{cred_id} status change")
            cst = self.statement(ch, f"{issuer}/{cred_id} status change")
            want = {REVOKED: REVOKE, SUSPENDED: SUSPEND, ISSUED: REINSTATE}[rec.state]
            if cst.kind != want or cst.issuer != issuer or cst.fields[0] != cred_id or (
                    cst.fields[1] != rec.reason):
                raise BundleError(f"{issuer}/{cred_id}: entry {rec.changed_index} does not "
                                  f"{want} it")
            changed_time = ch.time
            if want == REINSTATE:
                # The credential stands on this reinstatement: its key must be trusted there.
                rkey = self.key(issuer, ch.signer, f"{issuer}/{cred_id} reinstatement")
                if not rkey.active_at(rec.changed_index):
                    raise BundleError(f"{issuer}/{cred_id}: key {rkey.key_id} was not active at "
                                      f"entry {rec.changed_index}")
                compromise = compromise or _compromise(rkey, rec.changed_index, REINSTATE)
        elif rec.state != ISSUED:
            raise BundleError(f"{issuer}/{cred_id}: state {rec.state} without a status entry")
        ach_id, expires = st.fields[2], st.fields[4]
        achievement = self.achievement(issuer, ach_id, f"{issuer}/{cred_id}")
        if doc is not None:
            _check_credential(doc, st, issued.signer, self.cp.origin, issuer_rec, achievement)
            if subject is not None:
                _check_subject(doc, subject, f"{issuer}/{cred_id}")
        if rec.state == REVOKED:
            answer = REVOKED_ANSWER
            compromise = None  # revoked whoever signed what: revocation is final
        elif compromise is not None:
            answer = KEY_COMPROMISED
        elif rec.state == SUSPENDED:
            answer = SUSPENDED_ANSWER
        elif expires is not None and expires < at:
            answer = EXPIRED
        else:
            answer = VALID
        return CredentialAnswer(
            issuer, cred_id, answer, title=achievement[0], issued_index=rec.issued_index,
            issued_time=issued.time, expires=expires,
            # The last status change (a reinstatement, for a VALID or EXPIRED answer): the
            # record names it and its entry was checked above.
            changed_index=rec.changed_index, changed_time=changed_time,
            reason=rec.reason, parts=tuple(st.fields[6]),
            subject=subject if doc is not None else None, key_id=kid,
            digest=st.fields[1].hex(), achievement=ach_id, valid_from=st.fields[3],
            credential=doc is not None,
            key_revoked_index=key.revoked_index,
            key_revoked_reason=key.reason if key.revoked_index is not None else "",
            issuer_retired_index=issuer_rec.retired_at,
            issuer_retired_reason=issuer_rec.reason if issuer_rec.retired_at is not None else "",
            issuer_name=issuer_rec.name,
            key_compromised_since=key.untrusted_from, compromise=compromise)

    def achievement(self, issuer: str, ach_id: str, what: str) -> tuple[str, str, str]:
        """The registered achievement ``ach_id`` of ``issuer``: (name, description, criteria),
        from the proven ``register-achievement`` entry its proven record names."""
        rec = _decoded(self._need(ACHIEVEMENT, issuer, ach_id), AchievementRecord,
                       f"achievement {issuer}/{ach_id}")
        if (rec.issuer, rec.achievement_id) != (issuer, ach_id):
            raise BundleError(f"{what}: the achievement record names "
                              f"{rec.issuer}/{rec.achievement_id}")
        ast = self.statement(self.entry(rec.registered_at, f"achievement {ach_id} registration"),
                             f"achievement {ach_id} registration")
        if ast.kind != REGISTER_ACHIEVEMENT or ast.issuer != issuer or ast.fields[0] != ach_id:
            raise BundleError(f"achievement {issuer}/{ach_id}: entry {rec.registered_at} does "
                              "not register it")
        return ast.fields[1], ast.fields[2], ast.fields[3]

    def key(self, issuer: str, signer: bytes, what: str) -> KeyRecord:
        """The proven record of the issuer's key ``signer``; for a key flagged as compromised
        (the 10-field record), the ``revoke-key`` entry that flagged it is checked too."""
        kid = key_id(signer)
        key: KeyRecord = _decoded(self._need(KEY, issuer, kid), KeyRecord, f"key {kid}")
        if key.issuer != issuer or key.public_key != signer:
            raise BundleError(f"{what}: signed by key {kid}, not a key of {issuer}")
        if key.revoked_at is not None:
            rst = self.statement(self.entry(key.revoked_at, f"key {kid} revocation"),
                                 f"key {kid} revocation")
            if rst.kind != REVOKE_KEY or rst.issuer != issuer or rst.fields != (
                    kid, key.reason, key.compromised_since):
                raise BundleError(f"key {kid}: entry {key.revoked_at} does not flag it as "
                                  f"compromised since entry {key.compromised_since}")
        return key

    def _need(self, kind: str, issuer: str, ident: str = "") -> bytes:
        raw = self.record(kind, issuer, ident)
        if raw is None:
            raise BundleError(f"{kind} {issuer}{'/' + ident if ident else ''}: the map proves "
                              "it does not exist")
        return raw

    def statement(self, entry: Entry, what: str) -> Statement:
        """The statement of a proven entry, its signature checked (once per entry: a stacked
        credential's issuance is read for its parts, then for its answer)."""
        st = self.statements.get(entry.index)
        if st is not None:
            return st
        try:
            st = self.statements[entry.index] = entry.signed().verify()
        except SignatureError:
            raise BundleError(f"{what}: the signature on entry {entry.index} does not "
                              "verify") from None
        except EncodingError as exc:
            raise BundleError(f"{what}: entry {entry.index}: {exc}") from None
        return st


def _compromise(key: KeyRecord, index: int, kind: str) -> Compromise | None:
    """Why the statement ``key`` signed at ``index`` is not trusted (None if it is)."""
    since, revoked = key.untrusted_from, key.revoked_index
    if since is None or revoked is None or index < since:
        return None
    return Compromise(index, kind, key.key_id, since, revoked, key.reason)


def _decoded(raw: bytes, cls: type[Any], what: str) -> Any:
    try:
        rec = decode_record(raw)
    except EncodingError as exc:
        raise BundleError(f"{what}: malformed record: {exc}") from None
    if not isinstance(rec, cls):
        raise BundleError(f"{what}: the record is of the wrong kind")
    return rec


def _check_credential(doc: dict[str, Any], st: Statement, signer: bytes, origin: str,
                      issuer_rec: IssuerRecord, achievement: tuple[str, str, str]) -> None:
    """Check the holder's standard credential: its proof, then that it is the one the
    issuance ``st`` commits to (``ledger.anchoring.check_anchored``)."""
    from ledger import anchoring, openbadges  # only with a credential: pyld is slow to load
    from ledger.errors import LedgerError

    name = f"{st.issuer}/{st.fields[0]}"
    try:
        badge = openbadges.verify_credential(doc).badge
        digest = openbadges.credential_digest(doc)
        anchoring.check_anchored(badge, digest, st, signer, origin=origin,
                                 issuer_name=issuer_rec.name, issuer_url=issuer_rec.url,
                                 achievement=achievement)
    except LedgerError as exc:
        raise BundleError(f"{name}: the credential: {exc}") from None


def _check_subject(doc: dict[str, Any], subject: str, name: str) -> None:
    """The holder's identifier ``subject`` must hash, with its salt, to one of the
    credential's identifiers."""
    from ledger import openbadges

    from ledger.errors import LedgerError

    try:
        badge = openbadges.check_credential(doc)
        matches = openbadges.identifier_matches(badge, subject)
    except LedgerError as exc:  # a subject that cannot be UTF-8 (a lone surrogate), say
        raise BundleError(f"{name}: {exc}") from None
    if not matches:
        raise BundleError(f"{name}: the holder {subject!r} is not the one the credential "
                          "names (no identifier hashes to it)")


def verify_bundle(data: bytes | str, *, log_key: Verifier | None = None,
                  root: bytes | None = None, size: int | None = None, at: int,
                  credentials: tuple[dict[str, Any], ...] = (), subject: str | None = None,
                  witnesses: tuple[CosignerVerifier, ...] = (), min_witnesses: int = 0,
                  max_age_ms: int | None = None) -> Verdict:
    """Verify a proof bundle and return what it proves about each credential.

    Trust is ``log_key`` (the checkpoint must carry its valid signature) or a published
    ``root`` and ``size`` (the bundle's checkpoint must be exactly that tree). ``at`` is the
    time (UTC ms) against which expiry is judged. ``credentials`` are the holders' standard
    credentials (parsed JSON) to check against the issuances the bundle proves, each of one
    credential the bundle proves; ``subject``, the holder's identifier, is checked against
    each of them. With ``witnesses``, the checkpoint must carry at least
    ``min_witnesses`` valid cosignatures from them, the newest no older than ``max_age_ms``.
    """
    # 1. Parse, with every size limit checked before any hashing.
    bundle = parse_bundle(data)
    # 2. Establish the trusted checkpoint.
    if log_key is not None:
        cp = open_checkpoint(bundle.checkpoint, log_key)
        trusted_by = f"log key {log_key.name}+{log_key.key_id.hex()}"
    elif root is not None and size is not None:
        cp = parse_checkpoint(parse_note(bundle.checkpoint).text)
        if cp.size != size or cp.root != root:
            raise BundleError(f"the bundle is for the tree of size {cp.size} with root "
                              f"{cp.root.hex()}; the trusted one has size {size}, root "
                              f"{root.hex()}")
        trusted_by = f"root {root.hex()} at size {size}"
    else:
        raise ProofError("give the log key, or a trusted root and size")
    if witnesses or min_witnesses or max_age_ms is not None:
        from ledger.witness import check_witness_policy  # only then: keeps a cold verify fast

        times = check_witness_policy(bundle.checkpoint, witnesses, min_witnesses=min_witnesses,
                                     max_age_ms=max_age_ms, now_ms=at)
        trusted_by += f", cosigned by {', '.join(sorted(times)) or 'no trusted witness'}"
    # 3. The tree's last entry gives the status-map root; 4. answer for every credential.
    checker = _Checker(bundle, cp)
    docs: dict[str, dict[str, Any]] = {}
    for d in credentials:
        handle = d.get("id") if isinstance(d, dict) else None
        if not isinstance(handle, str):
            raise BundleError("a credential without an id is given")
        if docs.setdefault(handle, d) != d:
            raise BundleError(f"two different credentials {printable(handle)} are given")
    if subject is not None and not docs:
        raise BundleError("a holder (--subject) is checked against the holder's credential; "
                          "none is given")
    answers = {}
    for issuer, cred_id in _with_parts(bundle, checker):
        answers[(issuer, cred_id)] = checker.credential(issuer, cred_id, at,
                                                       docs.get(cred_id), subject)
    proven = {cred_id for _, cred_id in answers}
    for handle in docs:
        if handle not in proven:
            raise BundleError(f"the credential {printable(handle)} is given, but the bundle "
                              "does not prove it")
    as_of = checker.entry(cp.size - 1, "the tree's last entry").time if cp.size else None
    return Verdict(cp, tuple(answers.values()), trusted_by, at, as_of)


def _with_parts(bundle: Bundle, checker: _Checker) -> Iterator[tuple[str, str]]:
    """The bundle's credentials, then (transitively) the parts of stacked ones."""
    seen: set[tuple[str, str]] = set()
    queue = list(bundle.credentials)
    while queue:
        issuer, cred_id = queue.pop(0)
        if (issuer, cred_id) in seen:
            continue
        seen.add((issuer, cred_id))
        if len(seen) > MAX_CREDENTIALS:
            raise BundleError(f"more than {MAX_CREDENTIALS} credentials in one stack")
        yield issuer, cred_id
        raw = checker.record(CRED, issuer, cred_id)
        if raw is not None:
            rec = _decoded(raw, CredRecord, f"{issuer}/{cred_id}")
            st = checker.statement(checker.entry(rec.issued_index, "issuance"), "issuance")
            if st.kind == ISSUE:
                queue.extend((issuer, p) for p in st.fields[6])
