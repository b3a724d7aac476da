"""Publishing an issuer's status lists in the log: the ``publish-status-list`` statements of
one key as of a tree size (docs/FORMAT.md §3.2, §17.4).

A credential holds one status index of the key that signed it (``issue``'s ``status_index``,
unique per key: rule ``duplicate-status-index``); index ``i`` is bit ``i % LIST_BITS`` of that
key's list number ``i // LIST_BITS``, one list per purpose. The revocation bit is set iff the
credential is revoked, the suspension bit iff it is suspended, both as of the first
``tree_size`` entries of the log. For issuer ``I`` and key ``K`` at tree size ``N``:

1. scan entries ``[0, N)``: the ``issue`` statements of ``I`` signed by ``K`` give the slots,
   and the status statements of ``I`` (signed by whichever active key) each credential's state;
2. for every list number holding at least one credential of ``K``, and both purposes, build
   the ``BitstringStatusListCredential`` (``ledger.statuslist``) at
   ``anchoring.list_url(origin, I, key id of K, purpose, number)``, the URL the credentials
   name (``https://<origin>/status/<I>/<key id>/<purpose>/<n>.json``), issuer the
   did:key of ``K`` with the issuer record's name, ``validFrom`` (and the proof's
   ``created``) the time of entry ``N - 1`` in whole seconds, ``ttl`` a day, signed by ``K``;
3. serialize it as ``json.dumps(doc, indent=2) + "\\n"`` in UTF-8: the ``list`` field of the
   statement, and the exact bytes ``export`` serves.

The result is a function of the log's first ``N`` entries and the key (Ed25519 signatures are
deterministic). The auditor (``ledger.audit``) recomputes the bits from its own replay and
checks every published list bit for bit; the rules (``ledger.rules``) only check who signed,
and that ``tree_size`` neither runs ahead of the entry nor goes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger import statuslist
from ledger.anchoring import list_url, rfc3339
from ledger.errors import NotFoundError, RefusedError, UsageError
from ledger.events import (
    ISSUE,
    LIST_BITS,
    PUBLISH_STATUS_LIST,
    PURPOSES,
    REINSTATE,
    REVOKE,
    STATUS_KINDS,
    SUSPEND,
    Statement,
    key_id,
    make_statement,
    seed_public_key,
    trusted_entry,
    trusted_statement,
)
from ledger.log import Ledger
from ledger.records import IssuerRecord, KeyRecord
from ledger.rules import RecordState
from ledger.snapshot import Snapshot, store_loader
from ledger.store import Txn, u64

TTL_MS: Final = 86_400_000
"""The lists' ``ttl``: a day, a caching hint for readers (docs/FORMAT.md §17.4)."""

_STATE_BITS: Final = {REVOKE: ("revocation",), SUSPEND: ("suspension",), REINSTATE: ()}
"""The purposes whose bit a credential has set after each status statement."""


def serialize(doc: dict[str, Any]) -> bytes:
    """The bytes of a list credential, as the log holds and ``export`` serves them."""
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class ListBits:
    """What one list of a key says as of ``tree_size`` entries: the set bits (indexes in the
    list, ``0 <= i < LIST_BITS``), in increasing order."""

    purpose: str
    number: int
    ones: tuple[int, ...]


def _entries(txn: Txn, size: int) -> Iterator[tuple[int, bytes]]:
    """Entries ``[0, size)`` in one cursor walk, with their indexes."""
    expected = 0
    for key, value in txn.items("entries", u64(0)):
        if len(key) != 8:
            continue
        i = int.from_bytes(key, "big")
        if i >= size:
            break
        if i != expected:
            raise NotFoundError(f"the store lacks entry {expected}")
        expected += 1
        yield i, value
    if expected != size:
        raise NotFoundError(f"the store lacks entry {expected}")


def list_bits_in(txn: Txn, issuer: str, kid: str, tree_size: int) -> list[ListBits]:
    """The lists of key ``kid`` of ``issuer`` after the first ``tree_size`` entries of the
    store read by ``txn``: every list number that holds a credential of the key, both
    purposes, in the order (number, purpose)."""
    return list_bits_of((data for _, data in _entries(txn, tree_size)), issuer, kid)


def list_bits_of(entries: Iterable[bytes], issuer: str, kid: str) -> list[ListBits]:
    """:func:`list_bits_in` of the entries ``entries`` (the bytes of entries ``0, 1, ...``,
    checked by the caller: read from a store, or from a served tree whose root the caller
    checks against a checkpoint it trusts)."""
    slots: dict[str, int] = {}  # handle -> status index, for the key's credentials
    state: dict[str, tuple[str, ...]] = {}  # handle -> the purposes whose bit is set
    for data in entries:
        entry = trusted_entry(data)
        st = trusted_statement(entry.statement)
        if st.issuer != issuer:
            continue
        if st.kind == ISSUE and key_id(entry.signer) == kid:
            slots[st.fields[0]] = st.fields[5]
        elif st.kind in STATUS_KINDS and st.fields[0] in slots:
            state[st.fields[0]] = _STATE_BITS[st.kind]
    numbers = sorted({index // LIST_BITS for index in slots.values()})
    ones: dict[tuple[str, int], list[int]] = {(p, n): [] for n in numbers for p in PURPOSES}
    for handle, purposes in state.items():
        index = slots[handle]
        for purpose in purposes:
            ones[(purpose, index // LIST_BITS)].append(index % LIST_BITS)
    return [ListBits(p, n, tuple(sorted(ones[(p, n)]))) for n in numbers for p in PURPOSES]


def list_bits(ledger: Ledger, issuer: str, kid: str,
              tree_size: int | None = None) -> list[ListBits]:
    """:func:`list_bits_in` on one snapshot of ``ledger`` (``tree_size``: default the head)."""
    def run(txn: Txn) -> list[ListBits]:
        size = _tree_size(txn, tree_size)
        return list_bits_in(txn, issuer, kid, size)
    return ledger.store.read(run)


def _tree_size(txn: Txn, tree_size: int | None) -> int:
    head = Snapshot(txn).head().size
    if tree_size is None:
        return head
    if type(tree_size) is not int or not 0 <= tree_size <= head:
        raise UsageError(f"tree size {tree_size!r}: the log has {head} entries")
    return tree_size


def publish_statements(ledger: Ledger, issuer: str, seed: bytes, *, time: int,
                       tree_size: int | None = None) -> list[Statement]:
    """The ``publish-status-list`` statements (unsigned; the caller signs them with ``seed``
    and appends them) of every list of the key of ``seed``, as of the first ``tree_size``
    entries (default: the head), in the order (number, purpose); empty if the key holds no
    credential. ``time`` is the statements' time (UTC ms).

    Refused before any list is built, with the rule the append would name: an issuer that is
    not registered (``unknown-issuer``) or is retired (``issuer-retired``); a key that is not
    the issuer's (``wrong-signer``) or was revoked (``key-revoked``; a rotated key still
    publishes: its credentials point at its lists)."""
    public_key = seed_public_key(seed)
    kid = key_id(public_key)

    def run(txn: Txn) -> list[Statement]:
        size = _tree_size(txn, tree_size)
        records = RecordState(store_loader(txn))
        rec = records.issuer(issuer)
        check_publisher(issuer, rec, records.key(issuer, kid) if rec else None, public_key)
        assert rec is not None
        lists = list_bits_in(txn, issuer, kid, size)
        if not lists:
            return []
        last_time = trusted_entry(Snapshot(txn).entry_bytes(size - 1)).time
        return list_statements(ledger.origin, issuer, rec.name, seed, lists, size=size,
                               last_time=last_time, time=time)
    return ledger.store.read(run)


def check_publisher(issuer: str, rec: IssuerRecord | None, key: KeyRecord | None,
                    public_key: bytes) -> None:
    """Refuse, with the rule the append would name, a publication by ``public_key`` for
    ``issuer`` (its record ``rec``, the key's record ``key``)."""
    kid = key_id(public_key)
    if rec is None:
        raise RefusedError("unknown-issuer", f"issuer {issuer!r} is not registered")
    if rec.retired_at is not None:
        raise RefusedError("issuer-retired", f"issuer {issuer!r} was retired at index "
                           f"{rec.retired_at}")
    if key is None or key.public_key != public_key:
        raise RefusedError("wrong-signer", f"{kid} is not a key of issuer {issuer!r}")
    if key.revoked_index is not None:
        raise RefusedError("key-revoked", f"key {kid} of {issuer!r} was revoked at index "
                           f"{key.revoked_index}; its lists can no longer be published")


def list_statements(origin: str, issuer: str, issuer_name: str, seed: bytes,
                    lists: Sequence[ListBits], *, size: int, last_time: int,
                    time: int) -> list[Statement]:
    """The ``publish-status-list`` statements of ``lists`` (of the key of ``seed``) as of
    the first ``size`` entries, the last of them sequenced at ``last_time``."""
    public_key = seed_public_key(seed)
    kid = key_id(public_key)
    # The time of the last entry reflected, in whole seconds (entry times are in ms).
    when = rfc3339(last_time)
    name = issuer_name if issuer_name.strip() else None
    out = []
    for bits in lists:
        doc = statuslist.issue_status_list_credential(
            seed, created=when, issuer_key=public_key,
            list_url=list_url(origin, issuer, kid, bits.purpose, bits.number),
            purpose=bits.purpose,
            bitstring=statuslist.make_bitstring(LIST_BITS, bits.ones),
            valid_from=when, ttl=TTL_MS, issuer_name=name)
        out.append(make_statement(PUBLISH_STATUS_LIST, issuer, time, bits.purpose,
                                  bits.number, size, serialize(doc)))
    return out
