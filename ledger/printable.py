"""Outside text made safe to print: the one escaping of what a terminal would obey.

Text from a bundle, a note, a holder document or a store (key names, origins, titles, reasons,
ids quoted in errors) may hold control characters (C0, DEL, C1: a terminal's escape
sequences), Unicode direction overrides and isolates (which reorder what the reader sees) and
other characters that print nothing. :func:`printable` writes each of them as ``\\xNN``,
``\\uNNNN`` or ``\\UNNNNNNNN`` and leaves everything else as it is; its result is printable, so
escaping twice changes nothing. JSON output needs none of this: ``json.dumps`` (with its default
``ensure_ascii``) already writes every character outside printable ASCII as ``\\uNNNN``.
"""

from __future__ import annotations

from typing import Final

BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""The Unicode direction marks, embeddings, overrides and isolates (all of category Cf, so
:meth:`str.isprintable` already refuses them; listed for the record and the tests)."""


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every non-printable character (:meth:`str.isprintable`: controls, DEL,
    C1, format characters such as the direction overrides, separators other than the ASCII
    space, lone surrogates, unassigned code points) escaped as ``\\xNN``/``\\uNNNN``/
    ``\\UNNNNNNNN``. Newlines and tabs are escaped too: a line printed stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() and c not in BIDI_CONTROLS else _escape(c)
                   for c in text)


def printable_lines(text: str) -> str:
    """``text`` with each of its lines made :func:`printable`, its line breaks kept."""
    return "\n".join(printable(line) for line in text.split("\n"))
