"""Strict reading of the JSON of W3C credentials (Open Badges credentials, status list
credentials): one-line :class:`~ledger.errors.CredentialError` messages that name the path
that failed (``credentialSubject.achievement.id: ...``), objects with exactly their members,
``type`` sets, absolute IRIs, and JSON with no member named twice. ``ledger.openbadges`` and
``ledger.statuslist`` read through these, so both formats refuse alike."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from ledger.errors import CredentialError

MAX_IRI = 2048

_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\\ud800-\udfff]*")
"""An absolute IRI: a scheme, a colon, then no space, no character RDF's N-Quads would have to
escape, no lone surrogate (docs/FORMAT.md §16)."""


def fail(path: str, message: str) -> CredentialError:
    return CredentialError(f"{path}: {message}")


def short(value: object) -> str:
    """``value`` for an error message: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def member(name: object) -> str:
    """A member name as an error message shows it: as it is, or quoted (repr) if it holds a
    character that cannot be shown on one line (a line feed, a lone surrogate)."""
    return name if isinstance(name, str) and name.isprintable() else repr(name)


def json_object(value: object, path: str, required: set[str],
                optional: frozenset[str] | set[str] = frozenset(), *,
                what: str) -> dict[str, Any]:
    """``value``, if it is a JSON object with every ``required`` member and no member but
    those and the ``optional`` ones (``what``: the format, named when one is foreign)."""
    if not isinstance(value, dict):
        raise fail(path or "document", "want a JSON object")
    missing = required - set(value)
    if missing:
        raise fail(f"{path}.{min(missing)}" if path else min(missing), "missing")
    extra = set(value) - required - optional
    if extra:
        name = member(min(extra, key=str))
        raise fail(f"{path}.{name}" if path else name, f"not a member of this {what} format")
    return value


def types(value: object, path: str, want: Sequence[str]) -> None:
    """A ``type`` that is the set ``want`` (a list in any order; a one-item set may be the
    bare string, as JSON-LD compaction writes it)."""
    items = value if isinstance(value, list) else [value]
    if (not all(isinstance(t, str) for t in items) or len(set(items)) != len(items)
            or set(items) != set(want)):
        raise fail(path, f"got {short(value)}, want {list(want)}")


def iri(value: object, path: str, *, fragment: bool = True) -> str:
    """``value``, if it is an absolute IRI of at most :data:`MAX_IRI` characters (with
    ``fragment`` False: and without a ``#`` part, as a URL a document is fetched from)."""
    if (not isinstance(value, str) or len(value) > MAX_IRI or not _IRI.fullmatch(value)
            or (not fragment and "#" in value)):
        want = ("an absolute IRI (a URL or a URN)" if fragment
                else "an absolute URL without a fragment")
        raise fail(path, f"want {want}, got {short(value)}")
    return value


def no_duplicates(what: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A ``json.loads`` object hook that refuses a member named twice in one object."""
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in pairs:
            if name in out:
                raise CredentialError(f"{what}: member {name[:40]!r} appears twice in one "
                                      f"object")
            out[name] = value
        return out
    return hook



# ------------------------------------------------------------------------- the normal form

MAX_SAFE_INTEGER = (1 << 53) - 1


def normal_form(value: Any) -> Any:
    """The JSON-LD set normal form of a credential (docs/FORMAT.md §16.6): every member's
    value but ``@context``'s is a list (a bare value, as JSON-LD compaction writes a one-item
    set, becomes a one-item list), and every such list is sorted by the canonical JSON
    (:func:`canonical_json`) of its items: JSON-LD arrays other than ``@list`` are unordered
    sets, so their order says nothing. ``@context``'s order is meaningful and kept.
    Member names must be ASCII; numbers must be integers JSON holds exactly (no float)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise fail(member(key), "a member name must be ASCII here")
            if key == "@context":
                out[key] = [normal_form(x) for x in item] if isinstance(item, list) else item
            else:
                items = item if isinstance(item, list) else [item]
                out[key] = sorted((normal_form(x) for x in items), key=canonical_json)
        return out
    if isinstance(value, list):  # a list in a list: JSON-LD has none in a credential
        return [normal_form(x) for x in value]
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)
                                    and abs(value) > MAX_SAFE_INTEGER):
        raise fail("", f"a number JSON does not hold exactly: {short(value)}")
    return value


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) of JSON without floats: members sorted (ASCII names: code point order
    is JCS's UTF-16 order), no whitespace, strings as ECMAScript's ``JSON.stringify`` writes
    them (Python's ``json`` with ``ensure_ascii=False`` escapes exactly the same characters,
    the same way), UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
