"""How a standard credential is anchored in the log (docs/FORMAT.md §16.8): where its
achievement and status lists live, and the check that a signed Open Badges credential is the
one an ``issue`` entry commits to.

The log's site is ``https://<origin>/`` (a C2SP origin is the log's URL without its scheme):
achievements are named ``https://<origin>/achievements/<issuer>/<id>`` and status lists are
published at ``https://<origin>/status/<issuer>/<key id>/<purpose>/<n>.json``
(``statuslist.list_path``). The issuer (``ledger.issuance``) builds credentials with these
names; the verifier (``ledger.verify``) holds a credential to them and to its entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ledger import statuslist
from ledger.errors import CredentialError
from ledger.events import LIST_BITS, PURPOSES, Statement, key_id

if TYPE_CHECKING:
    from ledger.openbadges import OpenBadge


def site(origin: str) -> str:
    """The log's published site: ``https://<origin>/``."""
    return f"https://{origin}/"


def achievement_iri(origin: str, issuer: str, achievement_id: str) -> str:
    """The IRI a credential gives the registered achievement ``achievement_id`` of ``issuer``."""
    return f"{site(origin)}achievements/{issuer}/{achievement_id}"


def list_url(origin: str, issuer: str, kid: str, purpose: str, number: int) -> str:
    """The URL of list ``number`` for ``purpose`` of the issuer's key ``kid``."""
    return site(origin) + statuslist.list_path(issuer, kid, purpose, number)


def credential_status(origin: str, issuer: str, kid: str, status_index: int) -> list[dict[str, Any]]:
    """The ``credentialStatus`` of the credential holding ``status_index`` of key ``kid``:
    one entry a purpose, both at bit ``status_index % LIST_BITS`` of list
    ``status_index // LIST_BITS``."""
    number, bit = divmod(status_index, LIST_BITS)
    return statuslist.status_entries(bit, {p: list_url(origin, issuer, kid, p, number)
                                           for p in PURPOSES})


def profile_name(issuer: str, registered_name: str) -> str:
    """The name a credential's issuer Profile gives: the registered name, or the issuer id for
    an issuer registered without one (a Profile must have a name)."""
    return registered_name if registered_name.strip() else issuer


def rfc3339(ms: int) -> str:
    """UTC milliseconds (whole seconds) as the credential's date-time: ``YYYY-MM-DDThh:mm:ssZ``."""
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_ms(value: dt.datetime) -> int:
    """A credential's date-time (timezone-aware) as UTC milliseconds, exactly (integer
    arithmetic: ``timestamp() * 1000`` is a float, which can be a millisecond off)."""
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def _mismatch(what: str) -> CredentialError:
    return CredentialError(f"the credential differs from its logged issuance: {what}")


def check_anchored(badge: OpenBadge, digest: bytes, st: Statement, signer: bytes, *,
                   origin: str, issuer_name: str, issuer_url: str,
                   achievement: Sequence[str]) -> None:
    """Check that the credential ``badge`` (whose proof was verified, and whose digest is
    ``digest``) is the one the ``issue`` statement ``st``, signed by ``signer``, commits to in
    the log of ``origin``: its id, digest, signing key, issuer's name and url, validity,
    status entries, parts and the registered ``achievement`` (name, description, criteria).
    Raises :class:`CredentialError` naming the first difference."""
    handle, logged, ach_id, valid_from, valid_until, status_index, parts = st.fields
    if badge.id != handle:
        raise _mismatch(f"its id {badge.id!r} is not the logged credential {handle}")
    if digest != logged:
        raise _mismatch("its digest is not the one the log committed (it was changed "
                        "after it was signed, or is another credential)")
    if badge.issuer_key != signer:
        raise _mismatch(f"it is signed by another key than the logged issuance's "
                        f"({key_id(signer)})")
    if (badge.issuer_name != profile_name(st.issuer, issuer_name)
            or badge.issuer_url != (issuer_url or None)):
        raise _mismatch("the issuer's name or url is not the registered issuer's")
    if to_ms(badge.valid_from) != valid_from:
        raise _mismatch("validFrom is not the logged one")
    if (None if badge.valid_until is None else to_ms(badge.valid_until)) != valid_until:
        raise _mismatch("validUntil is not the logged one")
    name, description, criteria = achievement
    if (badge.achievement_id != achievement_iri(origin, st.issuer, ach_id)
            or (badge.achievement_name, badge.achievement_description,
                badge.achievement_criteria) != (name, description, criteria)):
        raise _mismatch(f"its achievement is not the registered achievement {ach_id!r}")
    want = statuslist.check_credential_status(
        credential_status(origin, st.issuer, key_id(signer), status_index))
    if badge.status != want:
        raise _mismatch("its credentialStatus is not the logged status index's")
    if badge.parts != tuple(sorted(parts)):
        raise _mismatch("its parts (evidence) are not the logged ones")
