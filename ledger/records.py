"""Status-map keys and records: their canonical msgpack encoding and strict decoding.

A **record** is a value in the status map (docs/FORMAT.md §5), keyed by :func:`map_key`: one
msgpack array with a fixed field order (docs/FORMAT.md §5.2), decoded as strictly as the
statements and entries of :mod:`ledger.events`, whose canonical msgpack and field checks it
uses.

This module has no I/O and does not import lmdb: it is part of the offline verifier.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final

from ledger.errors import EncodingError
from ledger.events import (
    _KEY_ID,
    MAX_LIST_NUMBER,
    MAX_STATUS_INDEX,
    PURPOSES,
    REASON_CODES,
    _fields,
    _show,
    check_bytes,
    check_handle,
    check_id,
    check_index,
    check_text,
    check_time,
    key_id,
    pack,
    unpack_array,
)

# Status-map record kinds (the first element of a map key and of a record).
CRED: Final = "cred"
KEY: Final = "key"
ISSUER: Final = "issuer"
ACHIEVEMENT: Final = "achievement"
SLOT: Final = "slot"
STATUS_LIST: Final = "status-list"

# Credential states.
ISSUED: Final = "issued"
SUSPENDED: Final = "suspended"
REVOKED: Final = "revoked"
CRED_STATES: Final = (ISSUED, SUSPENDED, REVOKED)

# Why a key stopped being active.
KEY_ROTATED: Final = "rotated"
KEY_REVOKED: Final = "revoked"

_STATE_KIND: Final = {"revoked": "revoke", "suspended": "suspend", "issued": "reinstate"}
"""The statement that puts a credential in each state after its issuance: its reason codes
are the ones a cred record in that state may hold."""


def _opt(value: Any, check: Any, *args: Any) -> Any:
    return None if value is None else check(value, *args)


@functools.lru_cache(maxsize=4096)
def map_key(kind: str, issuer: str, ident: str = "") -> bytes:
    """``SHA-256(canonical msgpack of [kind, issuer_id, id])``: the status map's 256-bit key.

    Cached: a batch asks for its issuer's and key's map keys once per statement, and for each
    credential's twice (the rules' lookup, then the record's key).
    """
    return sha256(pack([kind, issuer, ident])).digest()


def record_hash(record: bytes) -> bytes:
    """The value hash ``V = SHA-256(record)`` stored in the map for a record."""
    return sha256(record).digest()


@dataclass(frozen=True, slots=True)
class CredRecord:
    """``["cred", issuer, cred_id, state, issued_index, changed_index|nil, reason, last_time]``.

    ``changed_index`` is the index of the entry that set the current state (nil while it is the
    original issuance); ``last_time`` is the signer's time of the newest statement about the
    credential: a status statement must be newer (this refuses replays of an old suspension).
    """

    issuer: str
    cred_id: str
    state: str
    issued_index: int
    changed_index: int | None
    reason: str
    last_time: int

    def key(self) -> bytes:
        return map_key(CRED, self.issuer, self.cred_id)

    def encode(self) -> bytes:
        return pack([CRED, self.issuer, self.cred_id, self.state, self.issued_index,
                     self.changed_index, self.reason, self.last_time])


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """``["key", issuer, key_id, public_key, active_from, ended_at|nil, end, reason]``, or
    with ``revoked_at, compromised_since`` after them (10 fields): docs/FORMAT.md §5.2.

    The key may sign for its issuer at indexes ``active_from <= i < ended_at``; ``end`` is
    ``"rotated"`` or ``"revoked"`` once it ended, ``""`` before. A ``revoke-key`` with a
    compromise index writes the 10-field form: ``revoked_at`` is that entry's index, and the
    key's signatures at indexes ``>= compromised_since`` are not trusted. The 8-field form
    with ``end == "revoked"`` means ``revoked_at == compromised_since == ended_at``.
    """

    issuer: str
    key_id: str
    public_key: bytes
    active_from: int
    ended_at: int | None
    end: str
    reason: str
    revoked_at: int | None = None
    compromised_since: int | None = None

    def key(self) -> bytes:
        return map_key(KEY, self.issuer, self.key_id)

    def encode(self) -> bytes:
        items = [KEY, self.issuer, self.key_id, self.public_key, self.active_from,
                 self.ended_at, self.end, self.reason]
        if self.revoked_at is not None:
            items += [self.revoked_at, self.compromised_since]
        return pack(items)

    def active_at(self, index: int) -> bool:
        return self.active_from <= index and (self.ended_at is None or index < self.ended_at)

    @property
    def revoked_index(self) -> int | None:
        """The index of the ``revoke-key`` entry that revoked the key, or None."""
        if self.revoked_at is not None:
            return self.revoked_at
        return self.ended_at if self.end == KEY_REVOKED else None

    @property
    def untrusted_from(self) -> int | None:
        """The first index at which a statement the key signed is not trusted (None: none):
        the compromise index, or for a plain revocation its own index."""
        if self.compromised_since is not None:
            return self.compromised_since
        return self.ended_at if self.end == KEY_REVOKED else None

    def trusted_at(self, index: int) -> bool:
        """Whether a statement the key signed at ``index`` stands: active there, and not at
        or after its compromise."""
        since = self.untrusted_from
        return self.active_at(index) and (since is None or index < since)


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """``["issuer", issuer, name, url, registered_at, retired_at|nil, reason]``."""

    issuer: str
    name: str
    url: str
    registered_at: int
    retired_at: int | None
    reason: str

    def key(self) -> bytes:
        return map_key(ISSUER, self.issuer, "")

    def encode(self) -> bytes:
        return pack([ISSUER, self.issuer, self.name, self.url, self.registered_at,
                     self.retired_at, self.reason])


@dataclass(frozen=True, slots=True)
class AchievementRecord:
    """``["achievement", issuer, achievement_id, registered_at]``: docs/FORMAT.md §5.2.

    The definition (name, description, criteria, type) is not here: it is in the signed
    ``register-achievement`` entry at ``registered_at``, which a proof can carry. An achievement
    never changes once registered, so its record never does either.
    """

    issuer: str
    achievement_id: str
    registered_at: int

    def key(self) -> bytes:
        return map_key(ACHIEVEMENT, self.issuer, self.achievement_id)

    def encode(self) -> bytes:
        return pack([ACHIEVEMENT, self.issuer, self.achievement_id, self.registered_at])


def slot_ident(key_id: str, status_index: int) -> str:
    """The map id of a slot record: ``<key id>/<status index>`` (docs/FORMAT.md §5.1)."""
    return f"{key_id}/{status_index}"


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """``["slot", issuer, key_id, status_index, credential]``: the credential that holds a
    status index of the issuer's key (docs/FORMAT.md §5.2). Every credential a key signs
    holds its own index in the key's status lists, so one bit never speaks for two."""

    issuer: str
    key_id: str
    status_index: int
    credential: str

    def key(self) -> bytes:
        return map_key(SLOT, self.issuer, slot_ident(self.key_id, self.status_index))

    def encode(self) -> bytes:
        return pack([SLOT, self.issuer, self.key_id, self.status_index, self.credential])


def list_ident(key_id: str, purpose: str, number: int) -> str:
    """The map id of a status list record: ``<key id>/<purpose>/<number>``."""
    return f"{key_id}/{purpose}/{number}"


@dataclass(frozen=True, slots=True)
class StatusListRecord:
    """``["status-list", issuer, key_id, purpose, number, tree_size, published_at]``: the
    newest published status list of the issuer's key for ``purpose`` and list ``number``
    (docs/FORMAT.md §5.2): it reflects the log of ``tree_size`` entries, and the
    ``publish-status-list`` entry at ``published_at`` holds it."""

    issuer: str
    key_id: str
    purpose: str
    number: int
    tree_size: int
    published_at: int

    def key(self) -> bytes:
        return map_key(STATUS_LIST, self.issuer, list_ident(self.key_id, self.purpose, self.number))

    def encode(self) -> bytes:
        return pack([STATUS_LIST, self.issuer, self.key_id, self.purpose, self.number,
                     self.tree_size, self.published_at])


Record = (CredRecord | KeyRecord | IssuerRecord | AchievementRecord | SlotRecord
          | StatusListRecord)


def decode_record(data: bytes) -> Record:
    """Strictly decode a status-map record."""
    items = unpack_array(data, "record")
    if not items:
        raise EncodingError("record: empty")
    kind = items[0]
    if kind == CRED:
        _, issuer, cred, state, issued, changed, reason, last = _fields(items, 8, "cred record")
        if state not in CRED_STATES:
            raise EncodingError(f"cred record state: got {_show(state)}")
        want = ("",) if changed is None else REASON_CODES[_STATE_KIND[state]]
        if reason not in want:
            raise EncodingError(f"cred record reason: want {' or '.join(map(repr, want))} for "
                                f"a record in state {state}, got {_show(reason)}")
        return CredRecord(check_id(issuer, "issuer id"), check_handle(cred), state,
                          check_index(issued, "issued_index"),
                          _opt(changed, check_index, "changed_index"), reason,
                          check_time(last, "last_time"))
    if kind == KEY:
        revoked_at = since = None
        if len(items) not in (8, 10):
            raise EncodingError(f"key record: want 8 or 10 fields, got {len(items)}")
        if len(items) == 10:
            revoked_at = check_index(items[8], "revoked_at")
            since = check_index(items[9], "compromised_since")
            items = items[:8]
        _, issuer, kid, pub, start, ended, end, reason = _fields(items, 8, "key record")
        if end not in ("", KEY_ROTATED, KEY_REVOKED) or (end == "") != (ended is None):
            raise EncodingError(f"key record end: got {_show(end)}")
        pub = check_bytes(pub, "public key", 32)
        if kid != key_id(pub):
            raise EncodingError("key record: key id does not match the public key")
        rec = KeyRecord(check_id(issuer, "issuer id"), kid, pub, check_index(start, "active_from"),
                        _opt(ended, check_index, "ended_at"), end,
                        check_text(reason, "reason", max_len=1024), revoked_at, since)
        if revoked_at is not None:
            _check_compromise(rec)
        return rec
    if kind == ISSUER:
        _, issuer, name, url, reg, retired, reason = _fields(items, 7, "issuer record")
        return IssuerRecord(check_id(issuer, "issuer id"), check_text(name, "name", max_len=256),
                            check_text(url, "url", max_len=2048), check_index(reg, "registered_at"),
                            _opt(retired, check_index, "retired_at"),
                            check_text(reason, "reason", max_len=1024))
    if kind == ACHIEVEMENT:
        _, issuer, ach, reg = _fields(items, 4, "achievement record")
        return AchievementRecord(check_id(issuer, "issuer id"), check_id(ach, "achievement id"),
                                 check_index(reg, "registered_at"))
    if kind == SLOT:
        _, issuer, kid, index, cred = _fields(items, 5, "slot record")
        if not isinstance(kid, str) or not _KEY_ID.fullmatch(kid):
            raise EncodingError(f"slot record key id: got {_show(kid)}")
        if isinstance(index, bool) or not isinstance(index, int) or not (
                0 <= index <= MAX_STATUS_INDEX):
            raise EncodingError(f"slot record status_index: got {_show(index)}")
        return SlotRecord(check_id(issuer, "issuer id"), kid, index, check_handle(cred))
    if kind == STATUS_LIST:
        _, issuer, kid, purpose, number, size, at = _fields(items, 7, "status-list record")
        if not isinstance(kid, str) or not _KEY_ID.fullmatch(kid):
            raise EncodingError(f"status-list record key id: got {_show(kid)}")
        if purpose not in PURPOSES:
            raise EncodingError(f"status-list record purpose: got {_show(purpose)}")
        if isinstance(number, bool) or not isinstance(number, int) or not (
                0 <= number <= MAX_LIST_NUMBER):
            raise EncodingError(f"status-list record number: got {_show(number)}")
        return StatusListRecord(check_id(issuer, "issuer id"), kid, purpose, number,
                                check_index(size, "tree_size"), check_index(at, "published_at"))
    raise EncodingError(f"record kind: want cred, key, issuer, achievement, slot or status-list, "
                        f"got {_show(kind)}")


def _check_compromise(rec: KeyRecord) -> None:
    """The 10-field key record's constraints (docs/FORMAT.md §5.2): it says something the
    8-field form cannot, consistently."""
    ended, revoked, since = rec.ended_at, rec.revoked_at, rec.compromised_since
    assert revoked is not None and since is not None
    if ended is None:
        raise EncodingError("key record: revoked_at is set but the key has not ended")
    if not rec.active_from <= since < ended:
        raise EncodingError(f"key record: compromised_since {since} is not in the key's active "
                            f"span [{rec.active_from}, {ended})")
    if rec.end == KEY_REVOKED and revoked != ended:
        raise EncodingError("key record: a revoked key's revoked_at must equal ended_at")
    if rec.end == KEY_ROTATED and revoked <= ended:
        raise EncodingError("key record: a rotated key is revoked after its rotation")
