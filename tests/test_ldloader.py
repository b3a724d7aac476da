"""The pinned JSON-LD contexts and their loader (ledger/ldloader.py): exactly the pinned URLs,
each file checked against its SHA-256, every other URL refused, and never the network."""

from __future__ import annotations

import hashlib
import importlib.resources
import re
import socket
from typing import Any

import pyld.jsonld  # noqa: F401  (loaded before the network is taken away: ssl subclasses socket)
import pytest

from ledger import dataintegrity, ldloader
from ledger.errors import ContextError, CredentialError, LedgerError

README = importlib.resources.files("ledger").joinpath("contexts", "README.md")


def _readme_table() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"\| (\S+\.jsonld) \| (\S+) \| [^|]+ \| ([0-9a-f]{64}) \|", line)
        if m:
            rows[m[2]] = (m[1], m[3])
    return rows


def test_the_readme_table_is_the_pinned_table() -> None:
    assert _readme_table() == dict(ldloader.PINNED)
    assert len(ldloader.PINNED) == 4


@pytest.mark.parametrize("url", sorted(ldloader.PINNED))
def test_each_pinned_context_is_served_and_matches_its_digest(url: str) -> None:
    name, digest = ldloader.PINNED[url]
    data = importlib.resources.files("ledger").joinpath("contexts", name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest
    remote = ldloader.PINNED_LOADER(url, {})
    assert remote["documentUrl"] == url
    assert remote["contentType"] == "application/ld+json"
    assert isinstance(remote["document"], dict) and "@context" in remote["document"]


def test_the_examples_context_is_not_pinned() -> None:
    with pytest.raises(ContextError, match="not one of the pinned contexts"):
        ldloader.PINNED_LOADER("https://www.w3.org/ns/credentials/examples/v2", {})


@pytest.mark.parametrize("url", [
    "https://example.org/evil-context",
    "https://www.w3.org/ns/credentials/v2/",  # a trailing slash is another URL
    "http://www.w3.org/ns/credentials/v2",  # so is another scheme
    "https://www.w3.org/ns/credentials/V2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",  # an older OB context
    "file:///etc/passwd",
    "",
])
def test_every_other_url_is_refused(url: str) -> None:
    with pytest.raises(ContextError) as caught:
        ldloader.PINNED_LOADER(url, {})
    assert isinstance(caught.value, LedgerError)
    assert "\n" not in str(caught.value)


def test_a_url_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ContextError, match="not a string"):
        ldloader.PINNED_LOADER(42, {})  # type: ignore[arg-type]


def test_each_call_returns_a_fresh_copy() -> None:
    first = ldloader.PINNED_LOADER(ldloader.VC_V2, {})
    first["document"]["@context"]["VerifiableCredential"] = "https://evil.example/"
    again = ldloader.PINNED_LOADER(ldloader.VC_V2, {})
    assert again["document"]["@context"]["VerifiableCredential"] != "https://evil.example/"


def test_a_damaged_context_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ldloader, "_parsed", {})
    monkeypatch.setattr(ldloader, "PINNED", {
        **ldloader.PINNED, ldloader.VC_V2: ("credentials-v2.jsonld", "00" * 32)})
    with pytest.raises(ContextError, match="sha256 8a9f494a.*want 0000.*damaged"):
        ldloader.pinned_context(ldloader.VC_V2)


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way to open a connection raises, and is recorded."""
    calls: list[str] = []

    def refuse(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"the network was used: socket.{name}")
        return call

    class NoSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse("socket")()

    monkeypatch.setattr(socket, "socket", NoSocket)
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, refuse(name))
    return calls


def test_no_socket_is_opened_for_an_unknown_context(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _no_network(monkeypatch)
    doc = {"@context": ["https://www.w3.org/ns/credentials/v2", "https://example.org/ctx"],
           "type": ["VerifiableCredential"], "issuer": "did:example:1",
           "credentialSubject": {"id": "did:example:2"}}
    with pytest.raises(ContextError, match="https://example.org/ctx"):
        dataintegrity.canonicalize(doc)
    assert calls == []


def test_no_socket_is_opened_for_the_pinned_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _no_network(monkeypatch)
    monkeypatch.setattr(ldloader, "_parsed", {})  # read the files again, with no network
    loader = ldloader.Loader()
    doc = {"@context": [ldloader.VC_V2, ldloader.OB_V3],
           "type": ["VerifiableCredential", "OpenBadgeCredential"],
           "issuer": {"id": "did:example:1", "type": ["Profile"], "name": "n"},
           "credentialSubject": {"type": ["AchievementSubject"]}}
    assert "OpenBadgeCredential" in dataintegrity.canonicalize(doc, loader=loader)
    assert calls == []


def test_pylds_own_cache_is_never_consulted() -> None:
    """pyld keeps a module-wide cache of contexts that any loader of the process may fill: a
    context cached there for an unknown URL must still be refused."""
    from pyld import jsonld
    from pyld.resolved_context import ResolvedContext

    url = "https://example.org/cached-elsewhere"
    jsonld._resolved_context_cache[url] = {
        "static": [ResolvedContext({"@context": {"evil": "https://example.org/evil"}})]}
    try:
        with pytest.raises(ContextError, match="cached-elsewhere"):
            dataintegrity.canonicalize({"@context": url, "evil": "x"})
    finally:
        jsonld._resolved_context_cache.pop(url, None)


def test_an_unknown_context_in_a_signed_document_is_a_failed_check() -> None:
    doc = {"@context": [ldloader.VC_V2, "https://example.org/ctx"], "proof": {}}
    with pytest.raises(CredentialError, match=r"^proof\.|^@context"):
        dataintegrity.verify(doc, lambda method: b"")


def test_the_network_guard_itself_catches_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    calls = _no_network(monkeypatch)
    with pytest.raises(AssertionError, match="the network was used"):
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
    assert calls
