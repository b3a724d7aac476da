"""The pinned JSON-LD contexts, and the one document loader: it serves them and nothing else.

JSON-LD processing (the RDFC-1.0 canonicalization of a Data Integrity proof) dereferences every
``@context`` URL a document names. A verifier that fetched them would need the network, and
would let whoever answers at a URL change what a signed credential means. So the contexts a
credential of this project may name are package data (``ledger/contexts/``, with a README
that says where each came from), :data:`PINNED` maps each URL to its file and SHA-256, and
:class:`Loader` serves exactly those URLs, checking each file's digest when it first reads it.
Any other URL is refused with :class:`~ledger.errors.ContextError`; nothing here opens a
socket.

The loader has the shape pyld's ``documentLoader`` option takes (``loader(url, options)`` ->
a RemoteDocument dict), but this module does not import pyld.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import json
from collections.abc import Mapping
from typing import Any

from ledger.errors import ContextError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
"""The W3C Verifiable Credentials Data Model 2.0 context."""
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
"""The Open Badges 3.0.3 context (3.0.1 and 3.0.2 broke signatures with their errata)."""
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
"""The Data Integrity context (its terms are in the VC 2.0 context too)."""
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
"""The Multikey context (did:key documents)."""

PINNED: Mapping[str, tuple[str, str]] = {
    VC_V2: ("credentials-v2.jsonld",
            "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f"),
    OB_V3: ("ob-context-3.0.3.jsonld",
            "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761"),
    DATA_INTEGRITY_V2: ("data-integrity-v2.jsonld",
                        "0f77743daf5b4e8fc067fc5ba5b21044283053aa717fc6b0219843bed3b00363"),
    MULTIKEY_V1: ("multikey-v1.jsonld",
                  "8e6bad2e5b4f0721906a4dcc2f7a894b1215cf9a47014c71e286423860642ff0"),
}
"""URL -> (file in ``ledger/contexts/``, lowercase hex SHA-256 of the file)."""

_parsed: dict[str, Any] = {}
"""The pinned contexts read so far (digest checked), by URL."""


def pinned_context(url: str) -> Any:
    """The parsed JSON of the pinned context for ``url`` (shared: do not change it).

    Raises :class:`ContextError` if ``url`` is not pinned, or if its file's SHA-256 is not
    the pinned one (checked when the file is first read)."""
    if url in _parsed:
        return _parsed[url]
    if url not in PINNED:
        raise ContextError(f"JSON-LD context {_show(url)} is not one of the pinned contexts; "
                           f"it is never fetched")
    name, digest = PINNED[url]
    data = importlib.resources.files("ledger").joinpath("contexts", name).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != digest:
        raise ContextError(f"pinned JSON-LD context {name}: sha256 {got}, want {digest} "
                           f"(the installed package is damaged)")
    _parsed[url] = json.loads(data)
    return _parsed[url]


def _show(url: object) -> str:
    text = repr(url)
    return text if len(text) <= 120 else text[:117] + "..."


class Loader:
    """A JSON-LD document loader that serves the pinned contexts, and ``extra`` ones.

    ``extra`` maps further URLs to the JSON text of their contexts: for tests only (the W3C
    vectors name an examples context no real credential may name). Call it as pyld does,
    ``loader(url, options)``; it returns a new copy of the document each time (pyld edits the
    contexts it is given), and raises :class:`ContextError` for any other URL.

    ``resolved`` is this loader's own cache of processed contexts, for pyld's
    ``ContextResolver``: only what this loader served can ever be in it (pyld's module-wide
    cache, shared with every other loader in the process, is never used).
    """

    def __init__(self, extra: Mapping[str, bytes | str] | None = None) -> None:
        self._extra = {url: json.loads(text) for url, text in (extra or {}).items()}
        self.resolved: dict[str, Any] = {}

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(url, str):
            raise ContextError(f"JSON-LD context URL {_show(url)} is not a string")
        document = self._extra[url] if url in self._extra else pinned_context(url)
        return {"contentType": "application/ld+json", "contextUrl": None,
                "documentUrl": url, "document": copy.deepcopy(document),
                # pyld keeps a context tagged "static" in the resolver's cache (ours).
                "tag": "static"}

    def serves(self, url: str) -> bool:
        """Whether this loader serves ``url``."""
        return url in self._extra or url in PINNED


PINNED_LOADER = Loader()
"""The loader of the pinned contexts alone: what credentials are checked with."""
