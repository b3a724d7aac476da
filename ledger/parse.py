"""Parsing at the edges: canonical base64 (one spelling per value) and strict JSON (no member
named twice), for the keys, notes, bundles and documents the verifier reads."""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Iterator
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


# A JSON string (possessive: linear, no backtracking), a character that opens a container or
# follows an item, or a quote that opens no complete string (the text is not JSON from there).
_TOKEN_BYTES = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[{\[,]|"', re.DOTALL)
_TOKEN_TEXT = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[{\[,]|"', re.DOTALL)


def json_items_within(data: bytes | str, limit: int) -> bool:
    """Whether the JSON text ``data`` has at most ``limit`` structural characters (``{``, ``[``
    and ``,`` outside strings), without building anything: a bound on the objects that parsing
    it makes (every value, member or item but the first of each container follows a comma).

    The count of those characters anywhere (strings included) is an upper bound, taken first
    at the cost of three ``count`` calls; only above ``limit`` are strings skipped, token by
    token, stopping as soon as ``limit`` is passed. Text that stops being JSON (a string never
    closed) is counted only up to there: parsing refuses it anyway."""
    tokens: Iterator[re.Match[bytes]] | Iterator[re.Match[str]]
    if isinstance(data, bytes):
        if data.count(b"{") + data.count(b"[") + data.count(b",") <= limit:
            return True
        tokens = _TOKEN_BYTES.finditer(data)
    else:
        if data.count("{") + data.count("[") + data.count(",") <= limit:
            return True
        tokens = _TOKEN_TEXT.finditer(data)
    count = 0
    for match in tokens:
        if match.end() - match.start() == 1:
            if data[match.start()] in (34, '"'):  # an unclosed string: not JSON from here
                return True
            count += 1
            if count > limit:
                return False
    return True


def load_json(data: bytes | str, what: str, max_items: int | None = None) -> Any:
    """Parse JSON strictly (a member named twice in one object is refused); one-line
    :class:`EncodingError` naming ``what`` for anything that is not JSON. With ``max_items``,
    text of more than that many items (:func:`json_items_within`) is refused before it is
    parsed: parsing builds every item at once, some 70 bytes or more each."""
    if max_items is not None and not json_items_within(data, max_items):
        raise EncodingError(f"{what}: more than {max_items} JSON items")
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
