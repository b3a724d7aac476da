"""Character checks, base64 and JSON parsing without importing :mod:`re`, :mod:`base64` or
:mod:`json`.

Importing ``re`` (with the ``enum`` it imports) and ``json`` (which compiles regular expressions
at import) took about 15 ms of a cold ``credledger verify``, a third of its own start-up. The
verifier's modules check characters with the functions here instead, and parse JSON with the
C scanner that ``json.loads`` itself uses (``_json.make_scanner``), set up exactly as
``json.loads`` sets it up; the tests hold both to the regular expressions and to
``json.loads`` they replace. Where the C scanner is missing (not CPython), or for input that
is not plain UTF-8 bytes, :func:`load_json` is ``json.loads``.
"""

from __future__ import annotations

import binascii

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_LOWER_HEX = frozenset("0123456789abcdef")
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_CHARS = _ALNUM | frozenset("._:@+-")
_DIGITS = frozenset("0123456789")


def is_lower_hex(text: str, length: int | None = None) -> bool:
    """``[0-9a-f]{length}`` (any even length when ``length`` is None: ``(?:[0-9a-f]{2})*``)."""
    if length is None:
        if len(text) % 2:
            return False
    elif len(text) != length:
        return False
    return _LOWER_HEX.issuperset(text)


def is_id(text: str) -> bool:
    """``[A-Za-z0-9][A-Za-z0-9._:@+-]*`` over the whole text (an issuer or credential id)."""
    return bool(text) and text[0] in _ALNUM and _ID_CHARS.issuperset(text)


def is_ascii_digits(text: str, min_len: int = 1, max_len: int | None = None) -> bool:
    """``[0-9]{min_len,max_len}`` over the whole text."""
    return (min_len <= len(text) and (max_len is None or len(text) <= max_len)
            and _DIGITS.issuperset(text))


def is_decimal(text: str) -> bool:
    """``0|[1-9][0-9]*``: ASCII decimal without leading zeros."""
    return is_ascii_digits(text) and (text == "0" or text[0] != "0")


def first_of(text: str, chars: frozenset[str]) -> int:
    """The index of the first character of ``text`` in ``chars``, or -1 (a character class
    search, ``re.search("[...]", text)``)."""
    if chars.isdisjoint(text):
        return -1
    for i, c in enumerate(text):
        if c in chars:
            return i
    return -1  # pragma: no cover - isdisjoint said there is one


def control_chars(*ranges: tuple[int, int]) -> frozenset[str]:
    """The characters of the inclusive code point ``ranges``."""
    return frozenset(chr(c) for lo, hi in ranges for c in range(lo, hi + 1))


# ----------------------------------------------------------------------------------- base64


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


# ------------------------------------------------------------------------------------- JSON

_WHITESPACE = " \t\n\r"
_UTF8_FIRST_BYTES_NOT = (0x00, 0xEF, 0xFE, 0xFF)  # NUL (UTF-16/32) and the first bytes of BOMs


class _Context:
    """What ``json.JSONDecoder`` gives the C scanner: its settings for ``json.loads`` with an
    ``object_pairs_hook`` and nothing else set."""

    __slots__ = ("memo", "object_hook", "object_pairs_hook", "parse_constant", "parse_float",
                 "parse_int", "strict")

    def __init__(self, pairs_hook: Callable[[list[tuple[str, Any]]], Any]) -> None:
        nan = float("nan")
        inf = float("inf")
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = pairs_hook
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = {"-Infinity": -inf, "Infinity": inf, "NaN": nan}.__getitem__
        self.memo: dict[str, str] = {}


def load_json(data: bytes | bytearray | str,
              pairs_hook: Callable[[list[tuple[str, Any]]], Any]) -> Any:
    """``json.loads(data, object_pairs_hook=pairs_hook)``: the same value, or a ValueError
    (or RecursionError) where it raises one. (Within two levels of the interpreter's recursion
    limit, about 990 nested arrays, json.loads fails where this still parses: its own two
    frames count against the limit.)"""
    if isinstance(data, bytes | bytearray):
        if len(data) < 4 or data[0] in _UTF8_FIRST_BYTES_NOT or data[1] == 0:
            return _json_loads(data, pairs_hook)  # another encoding, a BOM, or tiny
        text = bytes(data).decode("utf-8", "surrogatepass")  # as json.loads decodes UTF-8
    else:
        text = data
        if text.startswith("\ufeff"):
            return _json_loads(text, pairs_hook)  # refused, with json's own message
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - not CPython
        return _json_loads(text, pairs_hook)
    scan = make_scanner(_Context(pairs_hook))  # type: ignore[arg-type]
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = scan(text, start)
    except StopIteration:
        return _json_loads(text, pairs_hook)  # "Expecting value": json's own error
    rest = text[end:]
    if rest.lstrip(_WHITESPACE):
        return _json_loads(text, pairs_hook)  # "Extra data"
    return value


def _json_loads(data: bytes | bytearray | str, pairs_hook: Callable[[list[tuple[str, Any]]], Any]) -> Any:
    import json

    return json.loads(data, object_pairs_hook=pairs_hook)
