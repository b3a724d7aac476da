"""Canonical base64: one spelling per value, for the keys, notes and bundles the verifier reads."""

from __future__ import annotations

import binascii


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
