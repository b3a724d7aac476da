"""The issuer's copy of what it issued, and the names of the holder's files (docs/FORMAT.md §10).

What a holder receives is a standard credential: the signed ``OpenBadgeCredential``
(``ledger.openbadges``), written by the issuer to ``OUT/<issuer>/<own id>.json``, where ``own
id`` is the issuer's own name for it (a student number, often): the only place that name
exists. The log knows the credential by its random ``urn:uuid`` alone (docs/FORMAT.md §3.2).

On its way to disk a credential is one line of a batch's pending file
(``ledger.issuance``): a *pending record* ``{"origin", "issuer", "id", "credential"}``
naming the log, the issuer, the own id and the credential, so that recovery knows where each
belongs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from ledger.errors import EncodingError
from ledger.events import check_handle, check_id
from ledger.parse import json_fields, load_json

MAX_DOCUMENT_SIZE: Final = 1 << 20
"""The largest credential file a reader takes (the size ``openbadges`` bounds, too)."""
_RECORD_FIELDS: Final = frozenset({"origin", "issuer", "id", "credential"})


def pending_record(*, origin: str, issuer_id: str, own_id: str,
                   credential: dict[str, Any]) -> dict[str, Any]:
    """A credential on its way to ``OUT/<issuer>/<own id>.json`` (docs/FORMAT.md §10.1)."""
    return {"origin": origin, "issuer": issuer_id, "id": own_id, "credential": credential}


def check_pending_record(value: Any) -> dict[str, Any]:
    """``value`` (parsed JSON) as a pending record: its four fields, the ids valid, the
    credential an object with a handle as its ``id``."""
    rec = json_fields(value, "pending record", _RECORD_FIELDS)
    for name in ("origin", "issuer", "id"):
        if not isinstance(rec[name], str):
            raise EncodingError(f"pending record: {name}: want text")
    check_id(rec["issuer"], "pending record: issuer")
    check_id(rec["id"], "pending record: id")
    if not isinstance(rec["credential"], dict):
        raise EncodingError("pending record: credential: want a JSON object")
    check_handle(rec["credential"].get("id"), "pending record: credential id")
    return rec


def document_bytes(credential: dict[str, Any]) -> bytes:
    """The bytes of a credential's file: ``json.dumps(credential, indent=2)``, ASCII, and a
    newline (docs/FORMAT.md §10)."""
    return (json.dumps(credential, indent=2) + "\n").encode("ascii")


def pending_line(record: dict[str, Any]) -> bytes:
    """A pending record as one line of a pending file: ``json.dumps(record)`` (Python's default
    separators, non-ASCII as ``\\uXXXX``) and a newline (docs/FORMAT.md §10.1)."""
    return (json.dumps(record) + "\n").encode("ascii")


def parse_pending_line(line: bytes) -> dict[str, Any]:
    """One line of a pending file, checked (:func:`check_pending_record`)."""
    return check_pending_record(load_json(line, "pending record", 1 << 16))


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


def document_name(own_id: str) -> str:
    """The file name of a credential in ``OUT/<issuer>/``: the issuer's own id, ``.json``."""
    return file_stem(own_id) + ".json"
