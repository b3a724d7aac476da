"""Entry format 2 statements for the tests: one shared place (docs/FORMAT.md §3.2).

A credential is named in the log by its handle, ``urn:uuid:`` and a random (version 4) UUID in
lower case; the tests build handles deterministically instead: :func:`handle` from a number,
:func:`named` from a readable name. An ``issue`` needs its achievement registered first (rule
``unknown-achievement``, :func:`register_achievement`) and a status index no other credential
of the issuer's signing key holds (rule ``duplicate-status-index``): :func:`issue` derives one
from the handle, ``n`` for ``handle(n)`` (so distinct numbers below 2**23 never collide).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

from ledger import events
from ledger.events import (
    ISSUE,
    PUBLISH_STATUS_LIST,
    REGISTER_ACHIEVEMENT,
    REINSTATE,
    REVOKE,
    SUSPEND,
    Statement,
    make_statement,
)

ACHIEVEMENT = "cs201"
_INDEXES = events.MAX_STATUS_INDEX + 1  # 2**23: a power of two, so masking is the modulus
_SMALL = 1 << 62  # handle(n) keeps n whole below this (the version and variant bits lie above)


def handle(n: int) -> str:
    """A valid handle (lower-case ``urn:uuid:``, a version 4 UUID) that is a function of ``n``;
    distinct ``n`` below 2**62 give distinct handles."""
    return f"urn:uuid:{uuid.UUID(int=n, version=4)}"


def named(name: str) -> str:
    """A valid handle derived from a readable test name (SHA-256, so it looks random)."""
    return handle(int.from_bytes(hashlib.sha256(b"test handle\n" + name.encode()).digest()[:16],
                                 "big"))


def _handle(cred: str | int) -> str:
    return handle(cred) if isinstance(cred, int) else cred


def digest_of(cred: str | int) -> bytes:
    """The deterministic 32-byte digest :func:`issue` gives a credential by default."""
    return hashlib.sha256(b"test credential digest\n" + _handle(cred).encode()).digest()


def status_index_of(cred: str | int) -> int:
    """The status index :func:`issue` gives a credential by default: ``n`` for ``handle(n)``
    with ``n`` below 2**23, else one derived from the handle by SHA-256 (for the few
    :func:`named` credentials of one key a test issues, unique in practice: a collision shows
    as ``duplicate-status-index``, and the test then passes ``status_index``)."""
    text = _handle(cred)
    try:
        n = uuid.UUID(text.removeprefix("urn:uuid:")).int
    except ValueError:  # a malformed handle, for a test of validation
        n = _INDEXES
    low = n & (_SMALL - 1)  # below the variant bits: the clock_seq and node bits
    if n == uuid.UUID(int=low, version=4).int and low < _INDEXES:
        return low
    return int.from_bytes(hashlib.sha256(b"test status index\n" + text.encode()).digest()[:8],
                          "big") % _INDEXES


def issue(issuer: str, time: int, cred: str | int, *, digest: bytes | None = None,
          achievement: str = ACHIEVEMENT, valid_from: int | None = None,
          valid_until: int | None = None, status_index: int | None = None,
          parts: Iterable[str | int] = ()) -> Statement:
    """An ``issue`` statement of ``cred`` (a handle, or ``n`` for ``handle(n)``): ``digest``
    defaults to :func:`digest_of`, ``valid_from`` to ``time`` in whole seconds,
    ``status_index`` to :func:`status_index_of`."""
    cred = _handle(cred)
    return make_statement(
        ISSUE, issuer, time, cred, digest_of(cred) if digest is None else digest, achievement,
        time - time % 1000 if valid_from is None else valid_from, valid_until,
        status_index_of(cred) if status_index is None else status_index,
        [_handle(p) for p in parts])


def register_achievement(issuer: str, time: int, ach_id: str = ACHIEVEMENT) -> Statement:
    """A ``register-achievement`` statement of ``ach_id`` (a course, with a name, description
    and criteria derived from the id)."""
    return make_statement(REGISTER_ACHIEVEMENT, issuer, time, ach_id,
                          f"Course {ach_id}"[:events.MAX_NAME_LEN],
                          f"What {ach_id} covers.", f"Pass the {ach_id} exam.", "Course")


def status(kind: str, issuer: str, time: int, cred: str | int,
           reason: str = "unspecified") -> Statement:
    """A ``revoke``, ``suspend`` or ``reinstate`` statement with a reason code
    (:data:`ledger.events.REASON_CODES`; ``unspecified`` is one for every kind)."""
    assert kind in (REVOKE, SUSPEND, REINSTATE)
    return make_statement(kind, issuer, time, _handle(cred), reason)


def publish(issuer: str, time: int, *, purpose: str = "revocation", number: int = 0,
            tree_size: int = 0, data: bytes = b'{"type":"BitstringStatusListCredential"}',
            ) -> Statement:
    """A ``publish-status-list`` statement (the rules never read the list bytes; the audit
    does)."""
    return make_statement(PUBLISH_STATUS_LIST, issuer, time, purpose, number, tree_size, data)
