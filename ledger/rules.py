"""The ledger's rules (docs/FORMAT.md §6) as pure state transitions over status records.

:func:`apply_rules` takes the records a statement is judged against (a :class:`RecordState`)
and returns the records it creates or changes, or raises :class:`RefusedError` naming the rule
it breaks. Nothing here reads a store or a clock: the writer (``ledger.log``) gives it the
committed records through a loader and the sequencing time; the auditor (``ledger.audit``)
gives it the records it replayed from nothing. Both therefore judge every statement alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.errors import RefusedError
from ledger.events import (
    ISSUE,
    PUBLISH_STATUS_LIST,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SUSPEND,
    Statement,
    key_id,
)
from ledger.records import (
    ACHIEVEMENT,
    CRED,
    ISSUED,
    ISSUER,
    KEY,
    KEY_REVOKED,
    KEY_ROTATED,
    REVOKED,
    SLOT,
    STATUS_LIST,
    SUSPENDED,
    AchievementRecord,
    CredRecord,
    IssuerRecord,
    KeyRecord,
    Record,
    SlotRecord,
    StatusListRecord,
    list_ident,
    map_key,
    slot_ident,
)

_NOT_READ: Any = object()


class RecordState:
    """Status records as the rules see them: a loader for committed records, plus those
    changed earlier in the batch (or replay). ``load(map_key)`` returns a record or None."""

    __slots__ = ("_loaded", "changed", "load")

    def __init__(self, load: Callable[[bytes], Record | None]) -> None:
        self.load = load
        self.changed: dict[bytes, Record] = {}
        # Committed records read so far: the store does not change under one transaction, and
        # a batch of a cohort asks for the same issuer and key records once per statement.
        self._loaded: dict[bytes, Record | None] = {}

    def get(self, kind: str, issuer: str, ident: str = "") -> Record | None:
        k = map_key(kind, issuer, ident)
        rec = self.changed.get(k)
        if rec is not None:
            return rec
        rec = self._loaded.get(k, _NOT_READ)
        if rec is _NOT_READ:  # (not a KeyError: most credentials a batch issues are new)
            rec = self._loaded[k] = self.load(k)
        return rec

    def cred(self, issuer: str, cred_id: str) -> CredRecord | None:
        r = self.get(CRED, issuer, cred_id)
        assert r is None or isinstance(r, CredRecord)
        return r

    def key(self, issuer: str, kid: str) -> KeyRecord | None:
        r = self.get(KEY, issuer, kid)
        assert r is None or isinstance(r, KeyRecord)
        return r

    def issuer(self, issuer: str) -> IssuerRecord | None:
        r = self.get(ISSUER, issuer)
        assert r is None or isinstance(r, IssuerRecord)
        return r

    def achievement(self, issuer: str, achievement_id: str) -> AchievementRecord | None:
        r = self.get(ACHIEVEMENT, issuer, achievement_id)
        assert r is None or isinstance(r, AchievementRecord)
        return r

    def slot(self, issuer: str, kid: str, status_index: int) -> SlotRecord | None:
        r = self.get(SLOT, issuer, slot_ident(kid, status_index))
        assert r is None or isinstance(r, SlotRecord)
        return r

    def status_list(self, issuer: str, kid: str, purpose: str,
                    number: int) -> StatusListRecord | None:
        r = self.get(STATUS_LIST, issuer, list_ident(kid, purpose, number))
        assert r is None or isinstance(r, StatusListRecord)
        return r


MAX_STATEMENT_AHEAD = 24 * 3600 * 1000
"""A statement may be dated at most a day after the entry's sequencing time: a statement from
the far future would make every later status statement about its credential stale."""


def apply_rules(state: RecordState, st: Statement, signer: bytes, index: int,
                registry: bytes, *, time: int | None = None) -> list[Record]:
    """Check ``st`` (signed by ``signer``, to be entry ``index`` sequenced at ``time``) against
    the rules of docs/FORMAT.md §6.

    Returns the status records it creates or changes; raises :class:`RefusedError` naming the
    rule it breaks. Shared by the append path and the auditor's replay.
    """
    kind, issuer = st.kind, st.issuer
    if time is not None and st.time > time + MAX_STATEMENT_AHEAD:
        raise RefusedError("future-statement", f"statement time {st.time} is more than a day "
                           f"after the sequencing time {time}")
    if kind == REGISTER_ISSUER:
        if signer != registry:
            raise RefusedError("wrong-signer", "issuer registrations must be signed by the registry key")
        if state.issuer(issuer) is not None:
            raise RefusedError("issuer-exists", f"issuer {issuer!r} is already registered")
        name, url, pub = st.fields
        if pub == registry:
            raise RefusedError("wrong-signer", "an issuer cannot use the registry key")
        return [IssuerRecord(issuer, name, url, index, None, ""),
                KeyRecord(issuer, key_id(pub), pub, index, None, "", "")]

    rec = state.issuer(issuer)
    if rec is None:
        raise RefusedError("unknown-issuer", f"issuer {issuer!r} is not registered")
    if rec.retired_at is not None:
        raise RefusedError("issuer-retired", f"issuer {issuer!r} was retired at index {rec.retired_at}")

    if kind == RETIRE_ISSUER:
        if signer != registry:
            raise RefusedError("wrong-signer", "only the registry key may retire an issuer")
        return [IssuerRecord(issuer, rec.name, rec.url, rec.registered_at, index, st.fields[0])]

    if kind == PUBLISH_STATUS_LIST:
        return [_publish_status_list(state, st, signer, index)]

    if kind == REVOKE_KEY and signer == registry:
        signing = None
    else:
        signing = _active_key(state, issuer, signer)

    if kind == REVOKE_KEY:
        return [_revoke_key(state, st, index)]

    if kind == ROTATE_KEY:
        assert signing is not None
        (new_pub,) = st.fields
        if new_pub == registry:
            raise RefusedError("wrong-signer", "an issuer cannot use the registry key")
        if state.key(issuer, key_id(new_pub)) is not None:
            raise RefusedError("key-exists", f"key {key_id(new_pub)} was already used by {issuer!r}")
        return [KeyRecord(issuer, signing.key_id, signing.public_key, signing.active_from, index,
                          KEY_ROTATED, ""),
                KeyRecord(issuer, key_id(new_pub), new_pub, index, None, "", "")]

    if kind == REGISTER_ACHIEVEMENT:
        ach_id = st.fields[0]
        known = state.achievement(issuer, ach_id)
        if known is not None:
            raise RefusedError("duplicate-achievement", f"issuer {issuer!r} already registered "
                               f"achievement {ach_id!r} (entry {known.registered_at}); an "
                               "achievement never changes: register a new version under a "
                               "new id")
        return [AchievementRecord(issuer, ach_id, index)]

    cred_id = st.fields[0]
    cred = state.cred(issuer, cred_id)
    if kind == ISSUE:
        assert signing is not None
        if cred is not None:
            raise RefusedError("duplicate-credential", f"issuer {issuer!r} already issued "
                               f"{cred_id} (entry {cred.issued_index})")
        _, _, ach_id, _, _, status_index, parts = st.fields
        if state.achievement(issuer, ach_id) is None:
            raise RefusedError("unknown-achievement", f"issuer {issuer!r} never registered "
                               f"achievement {ach_id!r}")
        held = state.slot(issuer, signing.key_id, status_index)
        if held is not None:
            raise RefusedError("duplicate-status-index", f"status index {status_index} of key "
                               f"{signing.key_id} is held by {held.credential}")
        for part in parts:
            prec = state.cred(issuer, part)
            if prec is None:
                raise RefusedError("unknown-part", f"part {part} was never issued by {issuer!r}")
            if prec.state == REVOKED:
                raise RefusedError("revoked-part", f"part {part} was revoked at index "
                                   f"{prec.changed_index}")
        return [CredRecord(issuer, cred_id, ISSUED, index, None, "", st.time),
                SlotRecord(issuer, signing.key_id, status_index, cred_id)]

    # revoke, suspend, reinstate
    if cred is None:
        raise RefusedError("unknown-credential", f"issuer {issuer!r} never issued {cred_id!r}")
    if cred.state == REVOKED:
        raise RefusedError("already-revoked", f"{issuer}/{cred_id} was revoked at index "
                           f"{cred.changed_index}; revocation is final")
    if kind == SUSPEND and cred.state == SUSPENDED:
        raise RefusedError("already-suspended", f"{issuer}/{cred_id} is already suspended")
    if kind == REINSTATE and cred.state != SUSPENDED:
        raise RefusedError("not-suspended", f"{issuer}/{cred_id} is not suspended")
    if st.time <= cred.last_time:
        raise RefusedError("stale-statement", f"statement time {st.time} is not after the last "
                           f"statement about {issuer}/{cred_id} ({cred.last_time})")
    new_state = {REVOKE: REVOKED, SUSPEND: SUSPENDED, REINSTATE: ISSUED}[kind]
    return [CredRecord(issuer, cred_id, new_state, cred.issued_index, index, st.fields[1], st.time)]


def _publish_status_list(state: RecordState, st: Statement, signer: bytes,
                         index: int) -> StatusListRecord:
    """``publish-status-list`` at ``index`` (docs/FORMAT.md §6): signed by the key whose list it
    is, which may have been rotated since (its credentials still point at its lists) but must
    not be revoked; the list reflects a log no larger than the one before this entry, and no
    older than the list it replaces. What the list says is the auditor's to check
    (``ledger.audit``): it is the status map's, bit for bit."""
    issuer, (purpose, number, tree_size, _) = st.issuer, st.fields
    rec = _issuer_key(state, issuer, signer)
    kid = rec.key_id
    if rec.revoked_index is not None:
        raise RefusedError("key-revoked", f"key {kid} of {issuer!r} was revoked at index "
                           f"{rec.revoked_index}; its lists can no longer be published")
    if tree_size > index:
        raise RefusedError("future-status-list", f"the list reflects {tree_size} entries; the "
                           f"log holds {index} before it")
    before = state.status_list(issuer, kid, purpose, number)
    if before is not None and tree_size < before.tree_size:
        raise RefusedError("stale-status-list", f"{purpose} list {number} of key {kid} was "
                           f"already published for {before.tree_size} entries")
    return StatusListRecord(issuer, kid, purpose, number, tree_size, index)


def _revoke_key(state: RecordState, st: Statement, index: int) -> KeyRecord:
    """``revoke-key`` at ``index`` (docs/FORMAT.md §5.3, §6): without a compromise index it
    ends an active key; with one, ``since``, it also says that the key's statements from entry
    ``since`` on are not to be trusted, and it may then name a key that was already rotated."""
    issuer, kid, reason, since = st.issuer, st.fields[0], st.fields[1], st.compromised_since
    target = state.key(issuer, kid)
    if target is None:
        raise RefusedError("unknown-key", f"issuer {issuer!r} has no key {kid}")
    revoked = target.revoked_index
    if revoked is not None:
        raise RefusedError("key-not-active", f"key {kid} of issuer {issuer!r} was already "
                           f"revoked at index {revoked}")
    if target.ended_at is not None and since is None:
        raise RefusedError("key-not-active", f"key {kid} of issuer {issuer!r} already ended at "
                           f"index {target.ended_at} ({target.end}); to flag it as stolen, give "
                           "the index from which it was compromised (--compromised-since)")
    if since is not None and since < target.active_from:
        raise RefusedError("bad-compromise-index", f"key {kid} of issuer {issuer!r} became "
                           f"active at index {target.active_from}; it signed nothing at index "
                           f"{since}")
    if target.ended_at is None:  # an active key: it ends here
        if since is not None and since > index:
            raise RefusedError("bad-compromise-index", f"compromised since index {since}: "
                               f"after this revocation (index {index})")
        if since is None or since == index:
            return KeyRecord(issuer, kid, target.public_key, target.active_from, index,
                             KEY_REVOKED, reason)
        return KeyRecord(issuer, kid, target.public_key, target.active_from, index,
                         KEY_REVOKED, reason, index, since)
    assert since is not None
    if since >= target.ended_at:
        raise RefusedError("bad-compromise-index", f"key {kid} of issuer {issuer!r} was "
                           f"{target.end} at index {target.ended_at} and signed nothing from "
                           f"then on; a compromise from index {since} would flag nothing")
    return KeyRecord(issuer, kid, target.public_key, target.active_from, target.ended_at,
                     target.end, reason, index, since)


def _issuer_key(state: RecordState, issuer: str, signer: bytes) -> KeyRecord:
    """The record of ``signer``, a key of ``issuer`` (its whole public key, not only its id:
    a 64-bit id is no proof of the key); else ``wrong-signer``."""
    kid = key_id(signer)
    key = state.key(issuer, kid)
    if key is None or key.public_key != signer:
        raise RefusedError("wrong-signer", f"key {kid} is not a key of issuer {issuer!r}")
    return key


def _active_key(state: RecordState, issuer: str, signer: bytes) -> KeyRecord:
    key = _issuer_key(state, issuer, signer)
    kid = key.key_id
    if key.ended_at is not None:
        raise RefusedError("key-not-active", f"key {kid} of issuer {issuer!r} {key.end} at "
                           f"index {key.ended_at}")
    return key
