"""Parsing at the edges: canonical base64 (one spelling per value) and strict JSON (no member
named twice), for the keys, notes, bundles and documents the verifier reads."""

from __future__ import annotations

import binascii
import json
from collections.abc import Set as AbstractSet
from typing import Any

from ledger.errors import EncodingError


def b64encode(data: bytes) -> str:
    """Standard, padded base64 (RFC 4648 §4)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode standard, padded base64 in its one canonical spelling, or raise ValueError
    ("not base64", or "not canonical base64": non-zero trailing bits, which the decoders of the
    standard library and Go's ``StdEncoding`` accept, would give one value several
    spellings)."""
    try:  # strict: only the alphabet, padding only at the end
        data = binascii.a2b_base64(text, strict_mode=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise ValueError("not base64") from None
    if b64encode(data) != text:
        raise ValueError("not canonical base64")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: a repeated member name would let two readers see two documents."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise EncodingError(f"bundle: member {name[:40]!r} appears twice in one object")
        out[name] = value
    return out


def load_json(data: bytes | str, what: str) -> Any:
    """Parse JSON strictly (a member named twice in one object is refused); one-line
    :class:`EncodingError` naming ``what`` for anything that is not JSON."""
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates)
    except EncodingError:
        raise
    except (ValueError, RecursionError):
        raise EncodingError(f"{what}: not JSON") from None


def json_fields(value: Any, what: str, keys: AbstractSet[str],
                optional: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    """``value`` as a JSON object with exactly the fields ``keys`` (and any of ``optional``);
    :class:`EncodingError` naming ``what`` and the first missing or unknown field."""
    if not isinstance(value, dict):
        raise EncodingError(f"{what}: want an object")
    missing = keys - set(value)
    extra = set(value) - keys - optional
    if missing or extra:
        name = min(missing) if missing else min(extra)
        raise EncodingError(f"{what}: {'missing' if missing else 'unknown'} field {name!r}")
    return value
