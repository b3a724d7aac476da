"""did:key for Ed25519 keys: the issuer identifiers of the ledger's standard credentials.

The did:key Method (W3C CCG, v0.9): an Ed25519 public key ``A`` (32 bytes) is the DID

    did:key:z<base58btc(0xed 0x01 || A)>        e.g. did:key:z6Mk...

where ``0xed 0x01`` is the multicodec ``ed25519-pub`` (code 0xed as an unsigned varint) and
``z`` the multibase prefix of base58btc. Its one verification method (a ``Multikey`` whose
``publicKeyMultibase`` is the same text) has the id ``did:key:z6Mk...#z6Mk...``: the DID, ``#``,
and the DID's own multibase value. Resolving one is pure computation: no registry, no network.

Decoding is strict: the prefix, ``z``, the base58btc alphabet in its one spelling, the
multicodec, the length, and the ledger's Ed25519 rule on the key (a canonical encoding, not of
small order: docs/FORMAT.md §3.4) are each checked, and each failure is an
:class:`~ledger.errors.EncodingError` that names it.
"""

from __future__ import annotations

from ledger import multibase
from ledger.ed25519 import is_canonical_point, is_small_order
from ledger.errors import EncodingError

PREFIX = "did:key:"
ED25519_PUB = b"\xed\x01"
"""The multicodec ``ed25519-pub`` (0xed), as an unsigned varint."""
_MAX_DID = 120
"""Longer than any Ed25519 did:key (56 characters): refused before it is decoded."""


def encode(public_key: bytes) -> str:
    """The did:key of the Ed25519 public key ``public_key`` (32 bytes)."""
    if type(public_key) is not bytes or len(public_key) != 32:
        raise EncodingError("did:key: an Ed25519 public key is 32 bytes")
    return PREFIX + multibase.encode(ED25519_PUB + public_key)


def verification_method(public_key: bytes) -> str:
    """The id of the did:key's verification method: ``did:key:z6Mk...#z6Mk...``."""
    did = encode(public_key)
    return f"{did}#{did[len(PREFIX):]}"


def decode(did: str) -> bytes:
    """The Ed25519 public key that the did:key ``did`` names, strictly checked."""
    if not isinstance(did, str):
        raise EncodingError("did:key: want a string")
    if len(did) > _MAX_DID:
        raise EncodingError(f"did:key: {len(did)} characters; an Ed25519 did:key has 56")
    if not did.startswith(PREFIX):
        raise EncodingError(f"did:key: {did[:40]!r} does not start with {PREFIX!r}")
    value = did[len(PREFIX):]
    if not value.startswith("z"):
        raise EncodingError("did:key: the identifier is not multibase base58btc (no 'z')")
    data = multibase.b58decode(value[1:], "did:key")
    if data[:2] != ED25519_PUB:
        raise EncodingError(f"did:key: multicodec {data[:2].hex() or 'none'}, want ed01 "
                            f"(ed25519-pub)")
    key = data[2:]
    if len(key) != 32:
        raise EncodingError(f"did:key: an Ed25519 key of {len(key)} bytes, want 32")
    if not is_canonical_point(key):
        raise EncodingError("did:key: the key is not a canonical point encoding")
    if is_small_order(key):
        raise EncodingError("did:key: the key is a point of small order")
    return key


def decode_verification_method(method: str) -> bytes:
    """The Ed25519 public key of the verification method id ``did:key:X#X`` (the fragment
    must be the DID's own multibase value ``X``)."""
    if not isinstance(method, str):
        raise EncodingError("did:key verification method: want a string")
    did, sep, fragment = method.partition("#")
    if not sep:
        raise EncodingError("did:key verification method: no '#fragment'")
    key = decode(did)
    if fragment != did[len(PREFIX):]:
        raise EncodingError("did:key verification method: the fragment is not the key's "
                            "own multibase value")
    return key


def resolve(method: str) -> bytes:
    """A ``resolve_key`` for ``ledger.dataintegrity.verify``: the key of a did:key
    verification method, computed locally (:func:`decode_verification_method`)."""
    return decode_verification_method(method)
