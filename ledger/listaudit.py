"""The audit's status-list checks: every published status list, bit for bit.

The replay (:mod:`ledger.audit`) feeds :class:`StatusBits` every statement the rules accept,
and hands each ``publish-status-list`` entry to :func:`check_status_list`: its list credential
must be the signer's, at the URL of its list, of its purpose, with a valid proof, and say bit
for bit what the replayed credentials' states were after its ``tree_size`` entries
(docs/FORMAT.md §17.4, docs/SECURITY.md). A difference raises
:class:`~ledger.errors.AuditError` naming the entry and the rule (``status-list-...``).
"""

from __future__ import annotations

from typing import Final

from ledger import didkey, statuslist
from ledger.anchoring import list_url
from ledger.errors import AuditError, CredentialError, EncodingError, SignatureError
from ledger.events import (
    ISSUE,
    LIST_BITS,
    PURPOSES,
    REINSTATE,
    REVOKE,
    SUSPEND,
    Statement,
    key_id,
)

_BITS_AFTER: Final = {REVOKE: frozenset({"revocation"}), SUSPEND: frozenset({"suspension"}),
                      REINSTATE: frozenset()}
"""The purposes whose bit a credential has set after each status statement: revoked, the
revocation bit; suspended, the suspension bit; reinstated, neither."""


class StatusBits:
    """The bits of every status list, as the replayed statements set them (docs/FORMAT.md §17.4,
    docs/SECURITY.md): bit ``i % LIST_BITS`` of list ``i // LIST_BITS`` of key ``K`` for a
    purpose is 1 iff the credential holding status index ``i`` of ``K`` is revoked (the
    revocation list) or suspended (the suspension list).

    Kept per (issuer, key id): the bits set now, by (purpose, list number), and the history of
    every change, oldest first, as (entry index, status index, purpose, old value). The state
    after ``tree_size`` entries is the current one with the changes made at entries
    ``>= tree_size`` undone, newest first. Fed only statements the rules accepted."""

    __slots__ = ("_history", "_ones", "_slots")

    def __init__(self) -> None:
        self._slots: dict[tuple[str, str], tuple[str, int]] = {}  # (issuer, handle) -> slot
        self._ones: dict[tuple[str, str], dict[tuple[str, int], set[int]]] = {}
        self._history: dict[tuple[str, str], list[tuple[int, int, str, bool]]] = {}

    def feed(self, index: int, st: Statement, signer: bytes) -> None:
        """Entry ``index``'s statement ``st``, signed by ``signer``."""
        if st.kind == ISSUE:
            self._slots[(st.issuer, st.fields[0])] = (key_id(signer), st.fields[5])
            return
        want = _BITS_AFTER.get(st.kind)
        slot = None if want is None else self._slots.get((st.issuer, st.fields[0]))
        if want is None or slot is None:
            return
        kid, status_index = slot
        owner = (st.issuer, kid)
        ones = self._ones.setdefault(owner, {})
        number, bit = divmod(status_index, LIST_BITS)
        for purpose in PURPOSES:
            bits = ones.setdefault((purpose, number), set())
            old = bit in bits
            if old != (purpose in want):
                self._history.setdefault(owner, []).append((index, status_index, purpose, old))
                if old:
                    bits.discard(bit)
                else:
                    bits.add(bit)

    def ones_at(self, issuer: str, kid: str, purpose: str, number: int,
                tree_size: int) -> set[int]:
        """The set bits (indexes in the list) of list ``number`` of key ``kid`` of ``issuer``
        for ``purpose`` after the first ``tree_size`` entries (of those fed so far)."""
        owner = (issuer, kid)
        ones = set(self._ones.get(owner, {}).get((purpose, number), ()))
        for index, status_index, p, old in reversed(self._history.get(owner, [])):
            if index < tree_size:
                break
            n, bit = divmod(status_index, LIST_BITS)
            if p == purpose and n == number:
                if old:
                    ones.add(bit)
                else:
                    ones.discard(bit)
        return ones


def check_status_list(index: int, st: Statement, signer: bytes, origin: str,
                      bits: StatusBits) -> None:
    """The list credential of the ``publish-status-list`` statement ``st`` at entry ``index``
    (signed by ``signer``, the rules already passed): a strictly read, validly signed list by
    the signer's own did:key, at the URL of (origin, issuer, signer's key id, purpose,
    number), of that purpose, of :data:`~ledger.events.LIST_BITS` bits, each the state
    ``bits`` replayed after ``tree_size`` entries. Raises :class:`AuditError` naming the
    entry, the issuer, the list and what differs (rule ``status-list-...``)."""
    purpose, number, tree_size, data = st.fields
    kid = key_id(signer)
    url = list_url(origin, st.issuer, kid, purpose, number)  # what the credentials name
    what = f"{purpose} list {number} of key {kid} of issuer {st.issuer!r}"
    try:
        doc = statuslist.parse_status_list_credential(data)
        found = statuslist.check_status_list_credential(doc)
    except (CredentialError, EncodingError) as exc:
        raise AuditError(index, "status-list-encoding", f"{what}: {exc}") from None
    if found.url != url:
        raise AuditError(index, "status-list-url", f"{what}: the list's id is {found.url!r}, "
                         f"want {url!r}")
    did = didkey.encode(signer)
    if found.issuer_did != did:
        raise AuditError(index, "status-list-issuer", f"{what}: the list is by "
                         f"{found.issuer_did}, not by the entry's signer {did}")
    if found.purpose != purpose:
        raise AuditError(index, "status-list-purpose", f"{what}: the list credential is a "
                         f"{found.purpose} list")
    if found.size != LIST_BITS:
        raise AuditError(index, "status-list-size", f"{what}: {found.size} bits, want "
                         f"{LIST_BITS}")
    try:
        statuslist.verify_status_list_credential(doc, issuer=did, purpose=purpose, list_url=url)
    except (CredentialError, SignatureError, EncodingError) as exc:
        raise AuditError(index, "status-list-proof", f"{what}: {exc}") from None
    want = statuslist.make_bitstring(LIST_BITS, bits.ones_at(st.issuer, kid, purpose, number,
                                                            tree_size))
    if found.bitstring != want:
        at = next(n for n, (a, b) in enumerate(zip(found.bitstring, want)) if a != b)
        bit = 8 * at + next(k for k in range(8) if (found.bitstring[at] ^ want[at]) & (0x80 >> k))
        said = int(statuslist.get_bit(found.bitstring, bit))
        state = "revoked" if purpose == "revocation" else "suspended"
        raise AuditError(index, "status-list-mismatch", f"{what}: bit {bit} (status index "
                         f"{number * LIST_BITS + bit}) is {said}; after the first {tree_size} "
                         f"entries the credential holding it {'was not' if said else 'was'} "
                         f"{state} (the replay's bit is {1 - said})")
