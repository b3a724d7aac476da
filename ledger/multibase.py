"""Multibase base58btc: the ``z...`` text of Data Integrity signatures and did:key keys.

base58btc is Bitcoin's alphabet (no ``0``, ``O``, ``I``, ``l``); a byte string is read as one
big-endian integer written in base 58, and each leading zero byte stands as one leading ``1``
(draft-msporny-base58-03). A multibase value is that text behind the prefix ``z``
(W3C Controlled Identifiers 1.0, "Multibase").

It is done here with the standard library in a few lines: it is an encoding, not
cryptography; PyPI's small packages for it (``base58``, ``py-multibase``) would be a
dependency for twenty lines, and neither decodes as strictly as a verifier wants.
:func:`decode` accepts only the alphabet and only the one spelling :func:`encode` gives, and
both refuse long inputs (base conversion through one integer is quadratic in the length).
"""

from __future__ import annotations

from ledger.errors import EncodingError

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
MAX_BYTES = 1024
"""The longest byte string encoded or decoded here (signatures and keys are under 100)."""
MAX_TEXT = 1400
"""The longest base58btc text decoded here (1024 bytes take at most 1399 characters)."""


def b58encode(data: bytes) -> str:
    """base58btc of ``data`` (at most :data:`MAX_BYTES` bytes)."""
    if len(data) > MAX_BYTES:
        raise EncodingError(f"base58btc: {len(data)} bytes, at most {MAX_BYTES}")
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    digits: list[str] = []
    while n:
        n, r = divmod(n, 58)
        digits.append(ALPHABET[r])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str, what: str = "base58btc") -> bytes:
    """The bytes ``text`` spells in base58btc; :class:`EncodingError` naming ``what`` for a
    character outside the alphabet, or text longer than :data:`MAX_TEXT`."""
    if not isinstance(text, str):
        raise EncodingError(f"{what}: want a string")
    if len(text) > MAX_TEXT:
        raise EncodingError(f"{what}: {len(text)} characters, at most {MAX_TEXT}")
    n = 0
    for c in text:
        digit = _INDEX.get(c)
        if digit is None:
            raise EncodingError(f"{what}: {c!r} is not a base58btc character")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    # Every text of the alphabet is the one spelling of its bytes: the leading "1"s are the
    # zero bytes, and what follows is a numeral without a leading zero digit (tests hold
    # b58encode(b58decode(t)) == t).
    return b"\0" * zeros + body


def encode(data: bytes) -> str:
    """The multibase base58btc text of ``data``: ``z`` then :func:`b58encode`."""
    return "z" + b58encode(data)


def decode(text: str, what: str = "multibase") -> bytes:
    """The bytes of a multibase base58btc value: ``z`` then base58btc; anything else is an
    :class:`EncodingError` naming ``what``."""
    if not isinstance(text, str) or not text.startswith("z"):
        raise EncodingError(f"{what}: want multibase base58btc (a string starting with 'z')")
    return b58decode(text[1:], what)
