"""Holder credential documents (docs/FORMAT.md §10): the format, built and read.

A holder document holds the salt of its credential's subject commitment: the only secret that
links the log to a person. The issuer writes one per credential (``ledger.issuance``, which
keeps them crash-safe on their way to disk); the verifier reads one from a holder, alone or
inside a bundle, and checks it against the logged statement (``ledger.verify``).
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring_ascii
from typing import Any, Final

from ledger.errors import EncodingError
from ledger.events import check_id
from ledger.parse import json_fields, load_json

CREDENTIAL_TYPE: Final = "credential-ledger/credential@v1"
"""The holder document's ``type`` (docs/FORMAT.md §10)."""
MAX_DOCUMENT_SIZE: Final = 1 << 20
MAX_PARTS_LISTED: Final = 1024
"""The most ``parts`` a document may list (a reader's bound; a statement holds fewer)."""


def holder_document(*, origin: str, issuer_id: str, cred_id: str, subject: str, salt: bytes,
                    title: str, expires: str | None, parts: list[str],
                    document: bytes | None) -> dict[str, Any]:
    """The holder document of one credential (docs/FORMAT.md §10)."""
    return {"type": CREDENTIAL_TYPE, "origin": origin, "issuer": issuer_id, "id": cred_id,
            "subject": subject, "salt": salt.hex(), "title": title, "expires": expires,
            "parts": parts, "document_sha256": None if document is None else document.hex()}


def document_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes of a holder document's file: ``json.dumps(doc, indent=2)`` and a newline
    (docs/FORMAT.md §10), exactly.

    ``json.dumps`` with an indent runs its pure-Python encoder over the whole document; here
    each string goes through the C function that encoder calls for it
    (``encode_basestring_ascii``), and the layout is the one ``indent=2`` gives, several times
    faster for a batch's thousands of documents (benchmarks/README.md, "Speed as the user sees
    it"). A document of any other shape than :func:`holder_document`'s (strings, ``None``, lists
    of strings) goes through ``json.dumps`` itself.
    """
    if type(doc) is not dict or not doc or not all(type(k) is str for k in doc):
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")
    lines = []
    for key, value in doc.items():
        if type(value) is str:
            text = encode_basestring_ascii(value)
        elif value is None:
            text = "null"
        elif type(value) is list and all(type(p) is str for p in value):
            text = ("[\n    " + ",\n    ".join(map(encode_basestring_ascii, value)) + "\n  ]"
                    if value else "[]")
        else:
            return (json.dumps(doc, indent=2) + "\n").encode("utf-8")
        lines.append(f"  {encode_basestring_ascii(key)}: {text}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("ascii")


def pending_line(doc: dict[str, Any]) -> bytes:
    """A holder document as one line of a pending file: ``json.dumps(doc)`` (Python's default
    separators, non-ASCII as ``\\uXXXX``) and a newline (docs/FORMAT.md §10.1)."""
    return (json.dumps(doc) + "\n").encode("ascii")


# ---------------------------------------------------------------------------------- file names


MAX_NAME = 200
"""Ids longer than this many characters are shortened in file names (:func:`file_stem`)."""


def file_stem(ident: str) -> str:
    """The part of a file or directory name that stands for an issuer or credential id.

    An id of at most :data:`MAX_NAME` characters stands for itself; a longer one (ids may have
    256) by its first 160 characters, ``~`` (which no id holds) and the first 32 hex digits of
    its SHA-256, so that every name the ledger derives from ids fits a file system's 255 bytes
    with room for a temporary name's affixes: a batch that commits can always write its
    documents (docs/FORMAT.md §10).
    """
    if len(ident) <= MAX_NAME:
        return ident
    return ident[:160] + "~" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]


def document_name(cred_id: str) -> str:
    """The file name of a credential's holder document in ``OUT/<issuer>/``."""
    return file_stem(cred_id) + ".json"



# ---------------------------------------------------------------------------------- reading


_DOC_FIELDS = frozenset({"type", "origin", "issuer", "id", "subject", "salt", "title",
                         "expires", "parts", "document_sha256"})


def check_holder_document(value: Any, n: int) -> dict[str, Any]:
    """``value`` (parsed JSON) as a holder document: exactly its ten fields, each of its type;
    ``n`` numbers it in messages (``documents[n]`` of a bundle)."""
    where = f"bundle: documents[{n}]"
    doc = json_fields(value, where, _DOC_FIELDS)
    if doc["type"] != CREDENTIAL_TYPE:
        raise EncodingError(f"{where}.type: want {CREDENTIAL_TYPE!r}")
    for name in ("origin", "issuer", "id", "subject", "salt", "title"):
        if not isinstance(doc[name], str) or not _utf8(doc[name]):
            raise EncodingError(f"{where}.{name}: want text")
    for name in ("issuer", "id"):  # quoted in answers and errors: ids only, no control text
        check_id(doc[name], f"{where}.{name}")
    parts = doc["parts"]
    if parts is not None and (not isinstance(parts, list) or len(parts) > MAX_PARTS_LISTED or
                              not all(isinstance(p, str) for p in parts)):
        raise EncodingError(f"{where}.parts: want null or a list of credential ids")
    for name in ("expires", "document_sha256"):
        if doc[name] is not None and not isinstance(doc[name], str):
            raise EncodingError(f"{where}.{name}: want null or text")
    return doc


def parse_holder_document(data: bytes | str) -> dict[str, Any]:
    """Parse a holder's credential document (as written by ``credledger issue``)."""
    if len(data) > MAX_DOCUMENT_SIZE:
        raise EncodingError("credential document: larger than 1 MiB")
    # Ten fields and at most MAX_PARTS_LISTED parts: a bound on what parsing may build.
    return check_holder_document(load_json(data, "credential document",
                                           MAX_PARTS_LISTED + 16), 0)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
