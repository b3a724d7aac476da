"""did:key for Ed25519 (ledger/didkey.py) and multibase base58btc (ledger/multibase.py):
known answers from the W3C Data Integrity EdDSA vectors and the base58 draft, round trips,
and every strict check refusing what it should, naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import didkey, multibase
from ledger.ed25519 import P
from ledger.errors import EncodingError

VECTORS = Path(__file__).resolve().parent / "vectors" / "vc-di-eddsa"
KEYPAIR = json.loads((VECTORS / "keyPair.json").read_text(encoding="utf-8"))
PUBLIC_MB = KEYPAIR["publicKeyMultibase"]  # z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2
PUBLIC = multibase.decode(PUBLIC_MB)[2:]
VECTOR_METHOD = json.loads((VECTORS / "eddsa-rdfc-2022" / "proofConfigDataInt.json")
                           .read_text(encoding="utf-8"))["verificationMethod"]

# ------------------------------------------------------------------------------ base58btc


@pytest.mark.parametrize(("data", "text"), [
    (b"", ""),
    (b"\0", "1"),
    (b"\0\0\x01", "112"),
    (b"Hello World!", "2NEpo7TZRRrLZSi2U"),  # draft-msporny-base58-03 §5
    (b"The quick brown fox jumps over the lazy dog.",
     "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"),  # the same section
    (bytes.fromhex("0000287fb4cd"), "11233QC4"),  # the same section
])
def test_base58btc_known_answers(data: bytes, text: str) -> None:
    assert multibase.b58encode(data) == text
    assert multibase.b58decode(text) == data


@given(st.binary(max_size=200))
def test_base58btc_round_trips(data: bytes) -> None:
    text = multibase.b58encode(data)
    assert multibase.b58decode(text) == data
    assert multibase.decode(multibase.encode(data)) == data


@given(st.text(alphabet=multibase.ALPHABET, max_size=120))
def test_every_text_of_the_alphabet_is_the_one_spelling_of_its_bytes(text: str) -> None:
    assert multibase.b58encode(multibase.b58decode(text)) == text


@pytest.mark.parametrize("char", ["0", "O", "I", "l", "+", "/", " ", "=", "\u0661", "é"])
def test_characters_outside_the_alphabet_are_refused(char: str) -> None:
    with pytest.raises(EncodingError, match="not a base58btc character"):
        multibase.b58decode("2NEpo" + char + "7TZ")


def test_long_inputs_are_refused_before_conversion() -> None:
    with pytest.raises(EncodingError, match="at most"):
        multibase.b58decode("2" * (multibase.MAX_TEXT + 1))
    with pytest.raises(EncodingError, match="at most"):
        multibase.b58encode(b"\1" * (multibase.MAX_BYTES + 1))


@pytest.mark.parametrize("text", ["", "2NEpo", "f00", "u0", "Z2NEpo", 7])
def test_multibase_wants_the_z_prefix(text: object) -> None:
    with pytest.raises(EncodingError, match="multibase base58btc"):
        multibase.decode(text)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ did:key


def test_the_vector_key_as_a_did_key() -> None:
    assert multibase.decode(PUBLIC_MB)[:2] == b"\xed\x01"
    did = didkey.encode(PUBLIC)
    assert did == "did:key:" + PUBLIC_MB
    assert did.startswith("did:key:z6Mk")
    assert didkey.verification_method(PUBLIC) == VECTOR_METHOD
    assert didkey.decode(did) == PUBLIC
    assert didkey.decode_verification_method(VECTOR_METHOD) == PUBLIC
    assert didkey.resolve(VECTOR_METHOD) == PUBLIC


@given(st.binary(min_size=32, max_size=32))
def test_did_keys_round_trip(seed: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    did = didkey.encode(public)
    assert did.startswith("did:key:z6Mk") and len(did) == 56
    assert didkey.decode(did) == public
    assert didkey.decode_verification_method(didkey.verification_method(public)) == public


def _did(payload: bytes) -> str:
    return "did:key:z" + multibase.b58encode(payload)


IDENTITY = bytes.fromhex("01" + "00" * 31)  # the identity point: small order
NOT_CANONICAL = (P + 3).to_bytes(32, "little")  # y = p + 3 (= 3), not reduced

BAD_DIDS = {
    "not a string": (None, "want a string"),
    "another method": ("did:web:example.org", "does not start with 'did:key:'"),
    "upper case method": ("DID:KEY:" + PUBLIC_MB, "does not start with"),
    "no multibase prefix": ("did:key:" + PUBLIC_MB[1:], "not multibase base58btc"),
    "base64 multibase": ("did:key:m7QFBGl0", "not multibase base58btc"),
    "a character outside the alphabet": ("did:key:z6Mk0" + PUBLIC_MB[5:], "not a base58btc"),
    "secp256k1 multicodec": (_did(b"\xe7\x01" + b"\2" * 33), "multicodec e701, want ed01"),
    "x25519 multicodec": (_did(b"\xec\x01" + PUBLIC), "multicodec ec01"),
    "no multicodec": (_did(PUBLIC), "want ed01"),
    "a short key": (_did(b"\xed\x01" + PUBLIC[:31]), "31 bytes, want 32"),
    "a long key": (_did(b"\xed\x01" + PUBLIC + b"\0"), "33 bytes, want 32"),
    "empty": ("did:key:z", "multicodec none"),
    "a small-order key": (_did(b"\xed\x01" + IDENTITY), "small order"),
    "a non-canonical key": (_did(b"\xed\x01" + NOT_CANONICAL), "not a canonical point"),
    "too long": ("did:key:z" + "2" * 200, "an Ed25519 did:key has 56"),
    "a fragment on the DID": ("did:key:" + PUBLIC_MB + "#" + PUBLIC_MB, "not a base58btc"),
}


@pytest.mark.parametrize("name", sorted(BAD_DIDS))
def test_bad_did_keys_are_refused_naming_the_check(name: str) -> None:
    did, message = BAD_DIDS[name]
    with pytest.raises(EncodingError, match=message):
        didkey.decode(did)  # type: ignore[arg-type]


@pytest.mark.parametrize(("method", "message"), [
    ("did:key:" + PUBLIC_MB, "no '#fragment'"),
    ("did:key:" + PUBLIC_MB + "#key-1", "fragment is not the key's own"),
    ("did:key:" + PUBLIC_MB + "#", "fragment is not the key's own"),
    ("did:key:" + PUBLIC_MB + "#" + PUBLIC_MB + "x", "fragment is not the key's own"),
    ("did:web:example.org#" + PUBLIC_MB, "does not start with"),
    (b"did:key:", "want a string"),
])
def test_bad_verification_methods_are_refused(method: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        didkey.decode_verification_method(method)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [b"\1" * 31, b"\1" * 33, bytearray(32), "a" * 32])
def test_encode_wants_32_bytes(key: object) -> None:
    with pytest.raises(EncodingError, match="32 bytes"):
        didkey.encode(key)  # type: ignore[arg-type]
