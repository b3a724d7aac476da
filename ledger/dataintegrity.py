"""Data Integrity proofs of cryptosuite ``eddsa-rdfc-2022``: signing and verifying documents.

W3C Data Integrity EdDSA Cryptosuites v1.0, §3.3 (eddsa-rdfc-2022), over W3C Verifiable
Credential Data Integrity 1.0. A proof is an object embedded in the document as ``proof``::

    {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
     "created": "2026-01-01T00:00:00Z", "verificationMethod": "did:key:z6Mk...#z6Mk...",
     "proofPurpose": "assertionMethod", "proofValue": "z<base58btc(signature)>"}

and the signature is Ed25519 (RFC 8032) over 64 bytes:

    proofConfig = the proof without proofValue, with the document's "@context"
    hashData    = SHA-256(RDFC-1.0(proofConfig)) || SHA-256(RDFC-1.0(document without proof))

where RDFC-1.0 (W3C RDF Dataset Canonicalization) is the canonical N-Quads of the document's
RDF dataset. Both come from ``pyld`` (Digital Bazaar's JSON-LD processor, 3.x): JSON-LD
expansion and RDF Dataset Canonicalization are long, subtle algorithms with conformance
suites, and a canonicalizer written here would be a second implementation to review, in the
one place where two verifiers must agree byte for byte. Contexts are served by
``ledger.ldloader`` alone (the pinned files; never the network).

What is checked beyond pyld, so that what is signed is what a reader sees, and so that pyld's
output is RDFC-1.0's exactly (the tests hold it to the W3C vectors and to Digital Bazaar's
rdf-canonize through ``tests/interop/``):

* **Safe mode**, as Digital Bazaar's verifiers do (jsonld.js ``safe: true``): a property that
  no context defines (JSON-LD drops it silently, so it would be unsigned), a relative IRI in
  ``@id`` or ``@type`` (dropped when the dataset is made), and a blank-node property are
  refused, naming the term.
* **Lone surrogates** (U+D800 to U+DFFF alone: JSON's ``"\\ud800"`` parses to one) are not
  Unicode text and have no UTF-8: refused in any string or member name, naming its path.
* **Escaping.** pyld 3.3 writes N-Quads literals as URDNA2015 did: it escapes ``\\t``, ``\\n``,
  ``\\r``, ``"`` and ``\\`` and writes other control characters raw, where RDFC-1.0 writes
  ``\\b``, ``\\f`` and ``\\u00XX``; and it writes IRIs unescaped where RDFC-1.0 escapes
  ``<>"{}|^`\\`` and controls. So a string holding a control character other than tab, line
  feed and carriage return, and an IRI holding one of those characters, are refused: on
  everything else the two agree.
* **Poisoned datasets** (RDFC-1.0 §4.4.1): the N-degree hashing may run at most as many times
  as the dataset has blank nodes (rdf-canonize's default allows as many as it has blank nodes
  whose first-degree hashes collide, which is no more), so a crafted document cannot make
  canonicalization exponential.

Verification (:func:`verify`) checks the proof's fields first (exactly the six above, plus
``@context`` only if it equals the document's), then canonicalizes, then checks the signature
with ``ledger.ed25519.verify``: the ledger's one Ed25519 rule (docs/FORMAT.md §3.4) holds here
too. Every failure is a one-line :class:`~ledger.errors.CredentialError` (or
:class:`~ledger.errors.SignatureError` for the signature itself) whose message starts with
the check that failed.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger import ed25519, multibase
from ledger.errors import ContextError, CredentialError, EncodingError, LedgerError, SignatureError
from ledger.ldloader import DATA_INTEGRITY_V2, PINNED_LOADER, VC_V2, Loader

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_PURPOSE = "assertionMethod"
PROOF_FIELDS = frozenset({"type", "cryptosuite", "created", "verificationMethod", "proofPurpose",
                          "proofValue"})
"""The fields a proof must have (and ``@context``, only equal to the document's, may)."""

_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
"""Control characters that pyld and RDFC-1.0 escape differently in literals, and lone
surrogates (``json.loads('"\\ud800"')`` gives one): no Unicode text, they have no UTF-8."""
_BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')
"""Characters RDFC-1.0 escapes in IRIs and pyld does not."""
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:.*", re.DOTALL)
_MAX_RESOLVED = 256
"""Processed contexts a loader's cache may hold before it is emptied (documents may carry
inline contexts, each cached by its JSON)."""


def check_datetime(value: object, what: str) -> datetime.datetime:
    """``value`` as an aware datetime, if it is an RFC 3339 date-time with an offset that is
    also an XML Schema ``dateTimeStamp`` (``2026-01-01T00:00:00Z``, ``...T01:00:00.5+01:00``;
    upper-case ``T`` and ``Z``; no leap second); else :class:`CredentialError` naming
    ``what``."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise CredentialError(f"{what}: want an RFC 3339 date-time such as "
                              f"2026-01-01T00:00:00Z, got {_short(value)}")
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        raise CredentialError(f"{what}: {value!r} is not a valid date-time") from None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """What a proof that verified says: who signed (the verification method and its key) and
    when the signer says it signed."""

    verification_method: str
    public_key: bytes
    created: datetime.datetime


# ------------------------------------------------------------------------------ canonicalization


class _Dropped(Exception):
    """Raised inside pyld's expansion when it drops a property (caught below)."""


def _dropped(prop: str | None) -> None:
    raise _Dropped(prop)


def _check_text(value: Any, path: str, depth: int = 0) -> None:
    """Every string (and member name) in the JSON value is one pyld writes as RDFC-1.0 does;
    only JSON types occur."""
    if depth > 64:
        raise CredentialError(f"canonicalization: {path}: nested deeper than 64")
    if isinstance(value, str):
        bad = _BAD_TEXT.search(value)
        if bad and bad.group() >= "\ud800":
            raise CredentialError(f"canonicalization: {path}: a lone surrogate "
                                  f"(U+{ord(bad.group()):04X}), which is not Unicode text")
        if bad:
            raise CredentialError(f"canonicalization: {path}: a control character other than "
                                  f"tab, line feed or carriage return")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CredentialError(f"canonicalization: {path}: a member name that is not "
                                      f"a string")
            _check_text(key, path, depth + 1)
            _check_text(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_text(item, f"{path}[{n}]", depth + 1)
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise CredentialError(f"canonicalization: {path}: {type(value).__name__} is not JSON")


def _check_iri(iri: object, what: str) -> None:
    if not isinstance(iri, str):
        raise CredentialError(f"canonicalization: {what} is not a string")
    if iri.startswith("_:"):
        return
    if not _ABSOLUTE_IRI.fullmatch(iri):
        raise CredentialError(f"canonicalization: {what} {_short(iri)} is a relative IRI "
                              f"(a term no context defines?); it would not be signed")
    if _BAD_IRI.search(iri):
        raise CredentialError(f"canonicalization: {what} {_short(iri)} holds a character "
                              f"an IRI may not hold")


def _check_expanded(value: Any) -> None:
    """Safe mode on expanded JSON-LD: every @id and @type an absolute IRI (or a blank node id)
    that RDFC-1.0 writes as pyld does; no blank-node property."""
    if isinstance(value, list):
        for item in value:
            _check_expanded(item)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key == "@id":
            _check_iri(item, "@id")
        elif key == "@type":
            for t in item if isinstance(item, list) else [item]:
                if t != "@json":
                    _check_iri(t, "@type")
        elif not key.startswith("@"):
            if key.startswith("_:"):
                raise CredentialError(f"canonicalization: the property {_short(key)} is a "
                                      f"blank node; it would not be signed")
            _check_iri(key, "property")
        if key != "@value":
            _check_expanded(item)


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _canon_class() -> type[Any]:
    from pyld.canon import URDNA2015

    class Rdfc10(URDNA2015):  # type: ignore[misc]
        """pyld's URDNA2015 (RDFC-1.0's algorithm) with RDFC-1.0's bound on N-degree
        hashing."""

        def __init__(self) -> None:
            super().__init__()
            self.remaining: int | None = None

        def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
            if self.remaining is None:
                self.remaining = len(self.blank_node_info)
            if self.remaining <= 0:
                raise CredentialError(
                    f"canonicalization: more N-degree hashing than the dataset's "
                    f"{len(self.blank_node_info)} blank nodes allow (a poisoned dataset)")
            self.remaining -= 1
            return super().hash_n_degree_quads(id_, issuer)

    return Rdfc10


def canonicalize(document: Mapping[str, Any], *, loader: Loader = PINNED_LOADER) -> str:
    """The RDFC-1.0 canonical N-Quads of the JSON-LD ``document``, in safe mode (see the
    module's docstring), with contexts from ``loader`` only.

    Raises :class:`CredentialError` (``canonicalization: ...``) for what safe mode refuses or
    pyld cannot process, and :class:`ContextError` for a context ``loader`` does not serve.
    """
    from pyld.context_resolver import ContextResolver
    from pyld.jsonld import JsonLdError, JsonLdProcessor

    _check_text(document, "document")
    if len(loader.resolved) > _MAX_RESOLVED:  # inline contexts are cached too: stay bounded
        loader.resolved.clear()

    # No base IRI (as jsonld.js's base: null): pyld would resolve a relative IRI against
    # http://example.org/base/ when given "", and safe mode must see it relative.
    def options() -> dict[str, Any]:
        return {"documentLoader": loader, "base": None, "processingMode": "json-ld-1.1",
                "contextResolver": ContextResolver(loader.resolved, loader)}

    try:
        expanded = JsonLdProcessor(on_property_dropped=_dropped).expand(dict(document),
                                                                          options())
        _check_expanded(expanded)
        dataset = JsonLdProcessor().to_rdf(expanded, {**options(), "produceGeneralizedRdf": False})
        nquads = _canon_class()().main(dataset, {"algorithm": "URDNA2015",
                                                 "format": "application/n-quads"})
    except (JsonLdError, _Dropped, RecursionError, TypeError, ValueError, KeyError) as exc:
        ours = _find(exc, LedgerError)
        if ours is not None:
            raise ours from None
        dropped = _find(exc, _Dropped)
        if dropped is not None:
            term = dropped.args[0] if dropped.args else None
            raise CredentialError(f"canonicalization: the term {_short(term)} is defined by no "
                                  f"context the document names; it would not be signed") from None
        if isinstance(exc, JsonLdError):
            code = f" ({exc.code})" if exc.code else ""
            raise CredentialError(f"canonicalization: {exc.args[0]}{code}") from None
        raise CredentialError(f"canonicalization: not processable JSON-LD "
                              f"({type(exc).__name__})") from None
    if not isinstance(nquads, str):
        raise CredentialError("canonicalization: pyld returned no N-Quads")
    return nquads


def hash_data(document: Mapping[str, Any], proof_options: Mapping[str, Any], *,
              loader: Loader = PINNED_LOADER) -> bytes:
    """``SHA-256(RDFC-1.0(proofConfig)) || SHA-256(RDFC-1.0(document))``: what the Ed25519
    signature covers (64 bytes). ``document`` is without its proof; ``proof_options`` is the
    proof without ``proofValue``, and gets the document's ``@context``."""
    if "@context" not in document:
        raise CredentialError("@context: the document has none")
    config = {**proof_options, "@context": copy.deepcopy(document["@context"])}
    config_hash = hashlib.sha256(canonicalize(config, loader=loader).encode("utf-8")).digest()
    doc_hash = hashlib.sha256(canonicalize(document, loader=loader).encode("utf-8")).digest()
    return config_hash + doc_hash


# ------------------------------------------------------------------------------ sign and verify


def _contexts(document: Mapping[str, Any]) -> list[Any]:
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if context is None or not contexts:
        raise CredentialError("@context: the document has none")
    if VC_V2 not in contexts and DATA_INTEGRITY_V2 not in contexts:
        raise CredentialError(f"@context: names neither {VC_V2} nor {DATA_INTEGRITY_V2}, "
                              f"which define the proof")
    return contexts


def sign(document: Mapping[str, Any], private_key: bytes, *, verification_method: str,
         created: str, loader: Loader = PINNED_LOADER) -> dict[str, Any]:
    """A copy of ``document`` with an embedded ``eddsa-rdfc-2022`` proof by the Ed25519 key
    whose 32-byte seed is ``private_key``, made at ``created`` (an RFC 3339 date-time; the
    time is a parameter, never read here). ``verification_method`` names the key for
    verifiers; a did:key method (``ledger.didkey.verification_method``) must be the seed's
    own key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(document, Mapping):
        raise CredentialError("document: want a JSON object")
    if "proof" in document:
        raise CredentialError("proof: the document already has one")
    _contexts(document)
    check_datetime(created, "proof.created")
    if not isinstance(verification_method, str) or not verification_method:
        raise CredentialError("proof.verificationMethod: want a non-empty string")
    if type(private_key) is not bytes or len(private_key) != 32:
        raise CredentialError("sign: an Ed25519 private key is a 32-byte seed")
    key = Ed25519PrivateKey.from_private_bytes(private_key)
    public = key.public_key().public_bytes_raw()
    if verification_method.startswith("did:key:"):
        from ledger import didkey

        try:
            named = didkey.decode_verification_method(verification_method)
        except EncodingError as exc:
            raise CredentialError(f"proof.verificationMethod: {exc}") from None
        if named != public:
            raise CredentialError("proof.verificationMethod: names another key than the one "
                                  "signing")
    options = {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE, "created": created,
               "verificationMethod": verification_method, "proofPurpose": PROOF_PURPOSE}
    signature = key.sign(hash_data(document, options, loader=loader))
    signed = copy.deepcopy(dict(document))
    signed["proof"] = {**options, "proofValue": multibase.encode(signature)}
    return signed


def check_proof(document: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The proof's options (the proof less proofValue) and its signature, every field checked;
    the document's contexts checked first."""
    contexts = _contexts(document)
    proof = document.get("proof")
    if proof is None:
        raise CredentialError("proof: the document has none")
    if isinstance(proof, list):
        raise CredentialError("proof: a set of proofs; want exactly one proof object")
    if not isinstance(proof, dict):
        raise CredentialError("proof: want a JSON object")
    missing = PROOF_FIELDS - set(proof)
    if missing:
        raise CredentialError(f"proof.{min(missing)}: missing")
    extra = set(proof) - PROOF_FIELDS - {"@context"}
    if extra:
        name = min(extra, key=str)
        shown = name if isinstance(name, str) and name.isprintable() else repr(name)
        raise CredentialError(f"proof.{shown}: not a field this verifier accepts")
    if "@context" in proof:
        inner = proof["@context"]
        if (inner if isinstance(inner, list) else [inner]) != contexts:
            raise CredentialError("proof.@context: differs from the document's @context")
    for name, want in (("type", PROOF_TYPE), ("cryptosuite", CRYPTOSUITE),
                       ("proofPurpose", PROOF_PURPOSE)):
        if proof[name] != want:
            raise CredentialError(f"proof.{name}: got {_short(proof[name])}, want {want!r}")
    check_datetime(proof["created"], "proof.created")
    if not isinstance(proof["verificationMethod"], str) or not proof["verificationMethod"]:
        raise CredentialError("proof.verificationMethod: want a non-empty string")
    try:
        signature = multibase.decode(proof["proofValue"], "proof.proofValue")
    except EncodingError as exc:
        raise CredentialError(str(exc)) from None
    if len(signature) != 64:
        raise CredentialError(f"proof.proofValue: a signature of {len(signature)} bytes, "
                              f"want 64")
    options = {k: v for k, v in proof.items() if k not in ("proofValue", "@context")}
    return options, signature


def verify(document: Mapping[str, Any], resolve_key: Callable[[str], bytes], *,
           loader: Loader = PINNED_LOADER) -> VerifiedProof:
    """Check the ``eddsa-rdfc-2022`` proof embedded in ``document``.

    ``resolve_key`` maps the proof's ``verificationMethod`` to the 32-byte Ed25519 public key
    it names, or raises a ``LedgerError`` (``ledger.didkey.resolve`` does it for did:key).
    Returns what the proof says; raises :class:`CredentialError` or :class:`SignatureError`
    naming the failed check. ``document`` is not changed."""
    if not isinstance(document, Mapping):
        raise CredentialError("document: want a JSON object")
    # 1. The proof's fields, before anything is canonicalized.
    options, signature = check_proof(document)
    method = options["verificationMethod"]
    created = check_datetime(options["created"], "proof.created")
    # 2. The key the proof names.
    try:
        public_key = resolve_key(method)
    except LedgerError as exc:
        raise CredentialError(f"proof.verificationMethod: {exc}") from None
    if type(public_key) is not bytes or len(public_key) != 32:
        raise CredentialError("proof.verificationMethod: the resolver gave no 32-byte key")
    # 3. What the signature covers: the proof configuration and the document without proof.
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    try:
        data = hash_data(unsecured, options, loader=loader)
    except ContextError as exc:
        raise CredentialError(f"@context: {exc}") from None
    # 4. The signature, under the ledger's Ed25519 rule.
    if not ed25519.verify(public_key, data, signature):
        raise SignatureError(f"proof.proofValue: the signature does not verify under "
                             f"{_short(method)}")
    return VerifiedProof(verification_method=method, public_key=public_key, created=created)
