"""Data Integrity ``eddsa-rdfc-2022`` (ledger/dataintegrity.py).

Known answers: the W3C Data Integrity EdDSA vectors (tests/vectors/vc-di-eddsa, sources in
tests/vectors/README.md): both canonical forms, their hashes, the signature and the signed
credential are reproduced exactly, and the signed credential verifies. Tamper cases generated
from it: every value of the document and of the proof changed, every member removed, the proof
removed, doubled or given unknown fields, another key, another cryptosuite, an unknown context:
each one fails, naming its check. Safe mode, the escaping rule and the poisoned-dataset bound
are each shown refusing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import dataintegrity as di
from ledger import didkey, ldloader, multibase
from ledger.errors import ContextError, CredentialError, SignatureError, VerificationError

VECTORS = Path(__file__).resolve().parent / "vectors" / "vc-di-eddsa"
RDFC = VECTORS / "eddsa-rdfc-2022"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
LOADER = ldloader.Loader({EXAMPLES: (VECTORS / "credentials-examples-v2.jsonld").read_bytes()})
KEYPAIR = json.loads((VECTORS / "keyPair.json").read_text(encoding="utf-8"))
SEED = multibase.decode(KEYPAIR["privateKeyMultibase"])[2:]  # multicodec ed25519-priv 0x8026
PUBLIC = multibase.decode(KEYPAIR["publicKeyMultibase"])[2:]  # multicodec ed25519-pub 0xed01
CREATED = "2023-02-24T23:36:38Z"


def _text(name: str) -> str:
    return (RDFC / name).read_text(encoding="utf-8")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


UNSIGNED = _json(VECTORS / "unsigned.json")
SIGNED = _json(RDFC / "signedDataInt.json")
PROOF_CONFIG = _json(RDFC / "proofConfigDataInt.json")
METHOD = PROOF_CONFIG["verificationMethod"]


def _verify(doc: Any, resolve: Any = didkey.resolve) -> di.VerifiedProof:
    return di.verify(doc, resolve, loader=LOADER)


# ------------------------------------------------------------------------------ known answers


def test_the_vector_key_pair_is_one() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    assert multibase.decode(KEYPAIR["privateKeyMultibase"])[:2] == b"\x80\x26"
    assert Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw() == PUBLIC
    assert didkey.verification_method(PUBLIC) == METHOD


def test_canonical_document() -> None:
    canon = di.canonicalize(UNSIGNED, loader=LOADER)
    assert canon == _text("canonDocDataInt.txt")
    assert hashlib.sha256(canon.encode()).hexdigest() == _text("docHashDataInt.txt").strip()


def test_canonical_proof_configuration() -> None:
    canon = di.canonicalize(PROOF_CONFIG, loader=LOADER)
    assert canon == _text("proofCanonDataInt.txt")
    assert hashlib.sha256(canon.encode()).hexdigest() == _text("proofHashDataInt.txt").strip()


def test_hash_data() -> None:
    options = {k: v for k, v in PROOF_CONFIG.items() if k != "@context"}
    data = di.hash_data(UNSIGNED, options, loader=LOADER)
    assert data.hex() == _text("combinedHashDataInt.txt").strip()


def test_sign_gives_the_vector_exactly() -> None:
    signed = di.sign(UNSIGNED, SEED, verification_method=METHOD, created=CREATED, loader=LOADER)
    assert signed == SIGNED
    assert list(signed) == list(SIGNED) and list(signed["proof"]) == list(SIGNED["proof"])
    signature = multibase.decode(signed["proof"]["proofValue"])
    assert signature.hex() == _text("sigHexDataInt.txt").strip()
    assert signed["proof"]["proofValue"] == _text("sigBTC58DataInt.txt").strip()


def test_the_signed_vector_verifies() -> None:
    before = copy.deepcopy(SIGNED)
    result = _verify(SIGNED)
    assert result.verification_method == METHOD
    assert result.public_key == PUBLIC
    assert result.created.isoformat() == "2023-02-24T23:36:38+00:00"
    assert SIGNED == before  # verify changes nothing


def test_sign_does_not_change_its_input() -> None:
    before = copy.deepcopy(UNSIGNED)
    di.sign(UNSIGNED, SEED, verification_method=METHOD, created=CREATED, loader=LOADER)
    assert UNSIGNED == before


def test_the_pinned_loader_alone_refuses_the_vector() -> None:
    """The examples context is served to tests only."""
    with pytest.raises(CredentialError, match="^@context: .*examples/v2.*not one of the pinned"):
        di.verify(SIGNED, didkey.resolve)


# ------------------------------------------------------------------------------ tamper cases


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _leaves(item, (*path, n))
    else:
        yield path


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return out


DOCUMENT_LEAVES = [p for p in _leaves(SIGNED) if p[0] != "proof"]
PROOF_LEAVES = [p for p in _leaves(SIGNED) if p[0] == "proof"]


def _changed(value: str) -> str:
    """Another value of the same kind: a date stays a date, a key stays a key."""
    if value == CREATED or value == "2023-01-01T00:00:00Z":
        return value.replace("T00", "T01").replace("T23", "T22")
    if value.startswith("z") and len(value) > 80:  # the proofValue: one bit of the signature
        sig = bytearray(multibase.decode(value))
        sig[10] ^= 1
        return multibase.encode(bytes(sig))
    return value + "x"


@pytest.mark.parametrize("path", DOCUMENT_LEAVES + PROOF_LEAVES,
                         ids=lambda p: ".".join(map(str, p)))
def test_every_value_changed_fails(path: tuple[Any, ...]) -> None:
    target: Any = SIGNED
    for step in path:
        target = target[step]
    with pytest.raises(VerificationError):
        _verify(_set(SIGNED, path, _changed(target)))


@pytest.mark.parametrize("path", [p for p in DOCUMENT_LEAVES + PROOF_LEAVES],
                         ids=lambda p: ".".join(map(str, p)))
def test_every_member_removed_fails(path: tuple[Any, ...]) -> None:
    with pytest.raises(VerificationError):
        _verify(_delete(SIGNED, path))


@pytest.mark.parametrize("name", sorted(di.PROOF_FIELDS))
def test_each_proof_field_missing_is_named(name: str) -> None:
    with pytest.raises(CredentialError, match=rf"^proof\.{name}: missing"):
        _verify(_delete(SIGNED, ("proof", name)))


TAMPERS: dict[str, tuple[Any, type[Exception], str]] = {
    "proof removed": (lambda d: _delete(d, ("proof",)), CredentialError,
                      "^proof: the document has none"),
    "proof set": (lambda d: _set(d, ("proof",), [d["proof"], d["proof"]]), CredentialError,
                  "^proof: a set of proofs"),
    "proof not an object": (lambda d: _set(d, ("proof",), "z123"), CredentialError,
                            "^proof: want a JSON object"),
    "unknown proof field": (lambda d: _set(d, ("proof", "domain"), "example.org"),
                            CredentialError, r"^proof\.domain: not a field"),
    "another cryptosuite": (lambda d: _set(d, ("proof", "cryptosuite"), "eddsa-jcs-2022"),
                            CredentialError, r"^proof\.cryptosuite: got 'eddsa-jcs-2022'"),
    "ecdsa cryptosuite": (lambda d: _set(d, ("proof", "cryptosuite"), "ecdsa-rdfc-2019"),
                          CredentialError, r"^proof\.cryptosuite"),
    "another proof type": (lambda d: _set(d, ("proof", "type"), "Ed25519Signature2020"),
                           CredentialError, r"^proof\.type"),
    "another purpose": (lambda d: _set(d, ("proof", "proofPurpose"), "authentication"),
                        CredentialError, r"^proof\.proofPurpose"),
    "created not a date": (lambda d: _set(d, ("proof", "created"), "2023-02-24"),
                           CredentialError, r"^proof\.created: want an RFC 3339"),
    "created impossible": (lambda d: _set(d, ("proof", "created"), "2023-02-30T00:00:00Z"),
                           CredentialError, r"^proof\.created: .* not a valid date-time"),
    "created without zone": (lambda d: _set(d, ("proof", "created"), "2023-02-24T23:36:38"),
                             CredentialError, r"^proof\.created"),
    "proofValue not multibase": (lambda d: _set(d, ("proof", "proofValue"), "u" + "A" * 86),
                                 CredentialError, r"^proof\.proofValue: want multibase"),
    "proofValue short": (lambda d: _set(d, ("proof", "proofValue"),
                                        multibase.encode(bytes(63))), CredentialError,
                         r"^proof\.proofValue: a signature of 63 bytes"),
    "proofValue bad character": (lambda d: _set(d, ("proof", "proofValue"),
                                                d["proof"]["proofValue"][:-1] + "0"),
                                 CredentialError, r"^proof\.proofValue: '0' is not"),
    "signature bit flipped": (lambda d: _set(d, ("proof", "proofValue"),
                                             _changed(d["proof"]["proofValue"])),
                              SignatureError, r"^proof\.proofValue: the signature does not"),
    "another did:key": (lambda d: _set(d, ("proof", "verificationMethod"),
                                       didkey.verification_method(b"\x11" * 32)),
                        SignatureError, "does not verify"),
    "method not a did:key": (lambda d: _set(d, ("proof", "verificationMethod"),
                                            "https://vc.example/issuers/5678#key-1"),
                             CredentialError, r"^proof\.verificationMethod: did:key"),
    "proof @context differs": (lambda d: _set(d, ("proof", "@context"), [ldloader.VC_V2]),
                               CredentialError, r"^proof\.@context: differs"),
    "context swapped for an unknown URL": (
        lambda d: _set(d, ("@context", 1), "https://example.org/unknown-context"),
        CredentialError, "^@context: .*example.org/unknown-context.* not one of the pinned"),
    "no VC context": (lambda d: _set(d, ("@context",), [EXAMPLES]), CredentialError,
                      "^@context: names neither"),
    "no context": (lambda d: _delete(d, ("@context",)), CredentialError, "^@context"),
    "relative id": (lambda d: _set(d, ("id",), "58172aac"), CredentialError,
                    "^canonicalization: @id '58172aac' is a relative IRI"),
    "undefined term added without the examples vocab": (
        lambda d: _set(_set(d, ("@context",), [ldloader.VC_V2]), ("notDefinedAnywhere",), "x"),
        CredentialError, "^canonicalization: the term '(alumniOf|notDefinedAnywhere)'"),
    "control character": (lambda d: _set(d, ("name",), "Alumni\x01Credential"),
                          CredentialError, "^canonicalization: document.name: a control"),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_tampered_documents_fail_naming_the_check(name: str) -> None:
    change, kind, message = TAMPERS[name]
    with pytest.raises(kind, match=message) as caught:
        _verify(change(SIGNED))
    assert "\n" not in str(caught.value)


def test_the_examples_vocab_does_not_hide_an_added_property() -> None:
    """The examples context has an ``@vocab``, so an added property is defined, and signed:
    adding one breaks the signature (the case safe mode leaves to the signature)."""
    with pytest.raises(SignatureError):
        _verify(_set(SIGNED, ("credentialSubject", "degree"), "PhD"))


def test_context_order_is_not_signed_when_the_rdf_is_the_same() -> None:
    """The examples context only adds an @vocab under VC 2.0's protected terms: in either
    order the dataset, and so the signature, is the same. RDFC-1.0 signs meaning, not JSON:
    the Open Badges checker is what holds a credential's contexts to one order."""
    assert _verify(_set(SIGNED, ("@context",), SIGNED["@context"][::-1])).public_key == PUBLIC


def test_a_wrong_key_from_the_resolver_fails() -> None:
    with pytest.raises(SignatureError, match="does not verify"):
        _verify(SIGNED, lambda method: didkey.decode(didkey.encode(b"\x22" * 32)))


def test_a_resolver_error_is_named() -> None:
    def refuse(method: str) -> bytes:
        raise ContextError("no such key")

    with pytest.raises(CredentialError, match=r"^proof\.verificationMethod: no such key"):
        _verify(SIGNED, refuse)
    with pytest.raises(CredentialError, match="gave no 32-byte key"):
        _verify(SIGNED, lambda method: b"\x01" * 31)


def test_a_small_order_key_never_verifies() -> None:
    """The ledger's rule: a key of small order (here the identity) is refused whatever the
    signature, even the forgery (R = identity, S = 0) that RFC 8032's equation accepts."""
    identity = bytes.fromhex("01" + "00" * 31)
    forged = _set(SIGNED, ("proof", "proofValue"), multibase.encode(identity + bytes(32)))
    with pytest.raises(SignatureError):
        _verify(forged, lambda method: identity)


# ------------------------------------------------------------------------------ signing


def test_sign_refuses_a_document_with_a_proof() -> None:
    with pytest.raises(CredentialError, match="already has one"):
        di.sign(SIGNED, SEED, verification_method=METHOD, created=CREATED, loader=LOADER)


def test_sign_refuses_a_did_key_of_another_key() -> None:
    with pytest.raises(CredentialError, match="names another key"):
        di.sign(UNSIGNED, b"\x01" * 32, verification_method=METHOD, created=CREATED,
                loader=LOADER)


@pytest.mark.parametrize("created", ["2023-02-24", "2023-02-24T23:36:38", "yesterday",
                                     "2023-02-24t23:36:38z", "2023-13-01T00:00:00Z", 1677281798])
def test_sign_wants_an_rfc3339_created(created: Any) -> None:
    with pytest.raises(CredentialError, match=r"^proof\.created"):
        di.sign(UNSIGNED, SEED, verification_method=METHOD, created=created, loader=LOADER)


@pytest.mark.parametrize("seed", [b"\x01" * 31, b"\x01" * 33, "a" * 32])
def test_sign_wants_a_32_byte_seed(seed: Any) -> None:
    with pytest.raises(CredentialError, match="32-byte seed"):
        di.sign(UNSIGNED, seed, verification_method="https://example.org/k", created=CREATED,
                loader=LOADER)


def test_sign_and_verify_round_trip_with_any_method_and_resolver() -> None:
    seed = bytes(range(32))
    signed = di.sign(UNSIGNED, seed, verification_method="https://vc.example/keys/1",
                     created="2026-01-01T00:00:00.250+01:00", loader=LOADER)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    keys = {"https://vc.example/keys/1": public}
    assert _verify(signed, keys.__getitem__).public_key == public


# ------------------------------------------------------------------------------ canonicalization


@pytest.mark.parametrize("text", ["tab\there", "line\nfeed", "cr\rlf", 'quote " and \\ slash',
                                  "unicode é ✓ 𝄞", "\u2028 \u00a0 \u200b"])
def test_text_that_pyld_writes_as_rdfc_does_is_signed(text: str) -> None:
    doc = _set(UNSIGNED, ("description",), text)
    signed = di.sign(doc, SEED, verification_method=METHOD, created=CREATED, loader=LOADER)
    assert _verify(signed).public_key == PUBLIC


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1f",
                                  "\x7f"])
def test_control_characters_rdfc_escapes_otherwise_are_refused(char: str) -> None:
    doc = _set(UNSIGNED, ("credentialSubject", "alumniOf"), f"School{char}of Examples")
    with pytest.raises(CredentialError, match=r"credentialSubject\.alumniOf: a control"):
        di.sign(doc, SEED, verification_method=METHOD, created=CREATED, loader=LOADER)


@pytest.mark.parametrize("where", ["value", "member name", "IRI"])
@pytest.mark.parametrize("char", [chr(c) for c in (0xD800, 0xDBFF, 0xDC00, 0xDFFF)],
                         ids=["d800", "dbff", "dc00", "dfff"])
def test_lone_surrogates_are_refused_at_every_entry(char: str, where: str) -> None:
    """``json.loads('"\\ud800"')`` gives a lone surrogate, which is no Unicode text and has
    no UTF-8: a one-line CredentialError, never a UnicodeEncodeError, however it is reached."""
    subject = copy.deepcopy(UNSIGNED["credentialSubject"])
    if where == "value":
        subject["alumniOf"] = f"School{char}of Examples"
    elif where == "member name":
        subject[f"alumni{char}Of"] = subject.pop("alumniOf")
    else:
        subject["id"] = f"did:example:{char}"
    doc = _set(UNSIGNED, ("credentialSubject",), subject)
    signed = _set(SIGNED, ("credentialSubject",), subject)
    options = {k: v for k, v in PROOF_CONFIG.items() if k != "@context"}
    for call in (lambda: di.canonicalize(doc, loader=LOADER),
                 lambda: di.hash_data(doc, options, loader=LOADER),
                 lambda: di.sign(doc, SEED, verification_method=METHOD, created=CREATED,
                                 loader=LOADER),
                 lambda: _verify(signed),
                 lambda: _verify(_set(SIGNED, ("proof", "verificationMethod"), METHOD + char)),
                 lambda: di.sign(UNSIGNED, SEED, verification_method=f"urn:x:{char}",
                                 created=CREATED, loader=LOADER),
                 lambda: _verify(_set(SIGNED, ("proof", f"x{char}"), "y"))):
        with pytest.raises(CredentialError, match=r"^(canonicalization|proof)") as caught:
            call()
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("iri", ["https://example.org/a b", "https://example.org/<a>",
                                 "https://example.org/{a}", "https://example.org/a|b",
                                 "https://example.org/a^b", "https://example.org/a`b",
                                 'https://example.org/a"b', "https://example.org/a\\b"])
def test_iris_rdfc_escapes_are_refused(iri: str) -> None:
    with pytest.raises(CredentialError, match="canonicalization: @id .*(relative IRI|may not)"):
        di.canonicalize(_set(UNSIGNED, ("credentialSubject", "id"), iri), loader=LOADER)


def test_undefined_terms_are_refused_in_nested_objects_too() -> None:
    doc = {"@context": [ldloader.VC_V2], "type": ["VerifiableCredential"],
           "issuer": "did:example:1", "credentialSubject": {"id": "did:example:2", "x": 1}}
    with pytest.raises(CredentialError, match="the term 'x' is defined by no context"):
        di.canonicalize(doc)


def test_an_undefined_type_is_refused() -> None:
    doc = {"@context": [ldloader.VC_V2], "type": ["VerifiableCredential", "MadeUp"],
           "issuer": "did:example:1", "credentialSubject": {"id": "did:example:2"}}
    with pytest.raises(CredentialError, match="@type 'MadeUp' is a relative IRI"):
        di.canonicalize(doc)


def test_a_blank_node_property_is_refused() -> None:
    with pytest.raises(CredentialError, match="blank node"):
        di.canonicalize({"@id": "https://example.org/s", "_:p": "o"})


def test_invalid_json_ld_is_one_line() -> None:
    with pytest.raises(CredentialError, match="^canonicalization: ") as caught:
        di.canonicalize({"@context": [ldloader.VC_V2], "@id": 5})
    assert "\n" not in str(caught.value)


def test_a_poisoned_dataset_is_refused_quickly() -> None:
    """RDFC-1.0 §4.4.1's poison: blank nodes that all look alike (a clique), whose N-degree
    hashing is factorial. The bound stops it after as many calls as there are blank nodes."""
    nodes = [f"_:b{n}" for n in range(12)]
    doc = {"@graph": [{"@id": node, "https://example.org/p": [{"@id": other} for other in nodes
                                                               if other != node]}
                      for node in nodes]}
    with pytest.raises(CredentialError, match="poisoned dataset"):
        di.canonicalize(doc)


def test_blank_nodes_that_differ_canonicalize() -> None:
    doc = {"@graph": [{"@id": f"_:b{n}", "https://example.org/v": str(n)} for n in range(20)]}
    assert di.canonicalize(doc).count("_:c14n") == 20


def test_two_alike_blank_nodes_canonicalize() -> None:
    """Non-unique blank nodes within the bound (rdf-canonize's default accepts these too)."""
    doc = {"@id": "https://example.org/s", "https://example.org/p": [
        {"https://example.org/v": "same"}, {"https://example.org/v": "same"}]}
    assert di.canonicalize(doc).count("_:c14n") == 4


def test_the_context_cache_stays_bounded() -> None:
    loader = ldloader.Loader()
    for n in range(300):
        di.canonicalize({"@context": {"p": f"https://example.org/p{n}"},
                         "@id": "https://example.org/s", "p": "o"}, loader=loader)
    assert len(loader.resolved) <= 257
