"""Bitstring status lists (ledger/statuslist.py): the bitstring and its GZIP (known answers,
round trips, the same bytes for the same bits, every refusal of a reader that must not be
fooled or flooded), random indexes, status entries, and status list credentials built, signed,
read strictly and verified; the worked example of docs/FORMAT.md §17."""

from __future__ import annotations

import base64
import copy
import datetime
import gzip
import inspect
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import dataintegrity, didkey, openbadges, statuslist
from ledger.errors import CredentialError, EncodingError, SignatureError, UsageError

SEED = bytes(range(32))
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
SITE = "https://example.edu/credentials"
KEY_ID = "56475aa75463474c"  # the ledger key id of PUBLIC
REVOCATION_URL = f"{SITE}/{statuslist.list_path('example-university', KEY_ID, 'revocation', 0)}"
SUSPENSION_URL = f"{SITE}/{statuslist.list_path('example-university', KEY_ID, 'suspension', 0)}"
CREATED = "2026-07-01T09:00:00Z"
ISSUER = didkey.encode(PUBLIC)
"""The DID of the issuer of the credentials whose status the lists tell."""
KNOWN_BITS = (0, 7, 8, 131071)
KNOWN_ENCODED = (
    "uH4sIAAAAAAAA_2tsYBgFo2AUjIJRMApGwSgYBaNgFIyCUTAKRsEoGAWjYBSMglEwCkbBKBgFo2AUjIJRMApGwSgYB"
    "aNgFIyCUTAKRsEoGAWjYBSMglEwCkbBKBgFo2AUjIJRMApGwSgYBaNgFIyCUTAKRsHAAkYAebcplgBAAAA")
"""The encodedList of a list of 131,072 entries with bits 0, 7, 8 and 131,071 set."""
EMPTY_ENCODED = (
    "uH4sIAAAAAAAA_2MYBaNgFIyCUTAKRsEoGAWjYBSMglEwCkbBKBgFo2AUjIJRMApGwSgYBaNgFIyCUTAKRsEoGAWjY"
    "BSMglEwCkbBKBgFo2AUjIJRMApGwSgYBaNgFIyCUTAKRsEoGAWjYBSMglEwCkbBgAMAhtJUqwBAAAA")
"""The encodedList of a list of 131,072 entries with no bit set."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _list(purpose: str = "revocation", ones: tuple[int, ...] = KNOWN_BITS,
          **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "issuer_key": PUBLIC, "purpose": purpose,
        "list_url": REVOCATION_URL if purpose == "revocation" else SUSPENSION_URL,
        "bitstring": statuslist.make_bitstring(statuslist.LIST_BITS, ones),
        "valid_from": "2026-07-01T09:00:00Z", **changes}
    return statuslist.issue_status_list_credential(SEED, created=CREATED, **fields)


SIGNED = _list()
OUR_ENCODED = statuslist.encode_list(statuslist.make_bitstring(131072, KNOWN_BITS))
"""What this machine's zlib makes of the known list (KNOWN_ENCODED was written by another)."""


# ------------------------------------------------------------------------------ known answers


def test_the_known_lists_decode_to_their_bits_and_encode_back() -> None:
    bits = statuslist.make_bitstring(131072, KNOWN_BITS)
    assert len(bits) == 16384
    assert bits[0] == 0x81 and bits[1] == 0x80 and bits[16383] == 0x01
    assert set(bits[2:16383]) == {0}
    assert statuslist.decode_list(KNOWN_ENCODED) == bits
    assert statuslist.set_bits(statuslist.decode_list(KNOWN_ENCODED)) == list(KNOWN_BITS)
    assert statuslist.decode_list(EMPTY_ENCODED) == statuslist.make_bitstring(131072)
    assert statuslist.decode_list(statuslist.encode_list(bits)) == bits


def test_the_gzip_member_is_the_one_documented() -> None:
    bits = statuslist.make_bitstring(131072, KNOWN_BITS)
    member = statuslist.gzip_bitstring(bits)
    # ID1 ID2 CM (deflate) FLG 0, MTIME 0; then CRC-32 and ISIZE, little-endian.
    assert member[:8] == bytes.fromhex("1f8b080000000000")
    assert member[-8:] == struct.pack("<II", zlib.crc32(bits), 16384)
    assert gzip.decompress(member) == bits
    assert statuslist.encode_list(bits) == "u" + _b64url(member)


def test_bit_order_is_left_to_right() -> None:
    for index in (0, 1, 6, 7, 8, 9, 131070, 131071):
        bits = statuslist.make_bitstring(131072, [index])
        assert bits[index // 8] == 0x80 >> (index % 8)
        assert statuslist.get_bit(bits, index)
        assert statuslist.set_bits(bits) == [index]


def test_the_same_bits_give_the_same_bytes_whatever_zlib_does() -> None:
    bits = statuslist.make_bitstring(131072, [3, 99, 4096, 77777])
    ours = statuslist.encode_list(bits)
    assert statuslist.encode_list(bytes(bytearray(bits))) == ours
    # Other writers' GZIP (any level, with a name, a time) reads as the same bits.
    for level in (0, 1, 6, 9):
        other = gzip.compress(bits, compresslevel=level, mtime=1234567890)
        assert statuslist.decode_list("u" + _b64url(other)) == bits
    named = zlib.compressobj(9, zlib.DEFLATED, 31)
    assert statuslist.decode_list("u" + _b64url(named.compress(bits) + named.flush())) == bits


# ------------------------------------------------------------------------------ round trips

_SIZES = st.sampled_from([131072, 131080, 131072 + 8 * 1000, 262144])


@st.composite
def _bitstrings(draw: st.DrawFn) -> bytes:
    """Lists of every kind: sparse bits, dense patches, runs of any byte, at any size."""
    size = draw(_SIZES)
    data = bytearray(statuslist.make_bitstring(
        size, draw(st.lists(st.integers(0, size - 1), max_size=200))))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data) - 1))
        patch = draw(st.one_of(st.binary(max_size=600),
                               st.builds(lambda b, n: bytes([b]) * n, st.integers(0, 255),
                                         st.integers(1, 1000))))
        data[at:at + len(patch)] = patch[:len(data) - at]
    return bytes(data)


@settings(max_examples=60, deadline=None)
@given(bits=_bitstrings())
def test_any_bitstring_round_trips(bits: bytes) -> None:
    encoded = statuslist.encode_list(bits)
    assert statuslist.decode_list(encoded) == bits
    assert encoded == statuslist.encode_list(bits)
    text = encoded[1:]
    assert gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == bits


@settings(max_examples=40, deadline=None)
@given(size=_SIZES, ones=st.sets(st.integers(0, 131071), max_size=300))
def test_set_bits_round_trip(size: int, ones: set[int]) -> None:
    bits = statuslist.make_bitstring(size, ones)
    assert statuslist.set_bits(statuslist.decode_list(statuslist.encode_list(bits))) == \
        sorted(ones)
    assert all(statuslist.get_bit(bits, i) == (i in ones) for i in range(0, size, 997))


def test_every_run_length_round_trips() -> None:
    for run in (*range(1, 12), 257, 258, 259, 260, 261, 516, 517, 518):
        bits = bytearray(16384)
        bits[100:100 + run] = b"\xaa" * run
        assert statuslist.decode_list(statuslist.encode_list(bytes(bits))) == bits


# ------------------------------------------------------------------------------ refusals


def _encode_raw(data: bytes) -> str:
    return "u" + _b64url(data)


_BOMB = gzip.compress(bytes(100 << 20), compresslevel=9, mtime=0)
_GOOD_MEMBER = statuslist.gzip_bitstring(statuslist.make_bitstring(131072, KNOWN_BITS))


@pytest.mark.parametrize(("encoded", "message"), [
    ("z" + KNOWN_ENCODED[1:], r"multibase prefix 'z', want 'u'"),
    ("m" + base64.b64encode(_GOOD_MEMBER).decode(), "multibase prefix 'm'"),
    (KNOWN_ENCODED[1:], "multibase prefix 'H'"),
    ("", "multibase prefix ''"),
    (KNOWN_ENCODED + "==", "with padding"),
    ("u" + base64.urlsafe_b64encode(_GOOD_MEMBER).decode(), "with padding"),
    (KNOWN_ENCODED[:40] + "+" + KNOWN_ENCODED[41:], r"'\+' is not a base64url character"),
    (KNOWN_ENCODED[:40] + "/" + KNOWN_ENCODED[41:], "'/' is not a base64url character"),
    (KNOWN_ENCODED + "AA", "not a whole number of bytes"),
    (KNOWN_ENCODED[:-1] + "B", "not the canonical base64url"),
    (_encode_raw(zlib.compress(bytes(16384))), r"not GZIP \(no 1f 8b magic\)"),
    (_encode_raw(bytes(16384)), "not GZIP"),
    (_encode_raw(_GOOD_MEMBER[:2] + b"\x07" + _GOOD_MEMBER[3:]), "not valid GZIP"),
    (_encode_raw(_GOOD_MEMBER[:-8] + b"\0\0\0\0" + _GOOD_MEMBER[-4:]), "not valid GZIP"),
    (_encode_raw(_GOOD_MEMBER[:-4] + b"\0\0\0\0"), "not valid GZIP"),
    (_encode_raw(_GOOD_MEMBER[:-3]), "cut short"),
    (_encode_raw(_GOOD_MEMBER + b"\0"), "bytes after the GZIP member"),
    (_encode_raw(_GOOD_MEMBER + _GOOD_MEMBER), "bytes after the GZIP member"),
    (_encode_raw(gzip.compress(bytes(16383), mtime=0)), "131064 entries, at least 131072"),
    (_encode_raw(gzip.compress(b"", mtime=0)), "0 entries, at least 131072"),
    (_encode_raw(_BOMB), r"inflates past 1048576 bytes \(a GZIP bomb\?\)"),
    ("u" + "A" * statuslist.MAX_ENCODED_LIST, "1600001 characters, at most 1600000"),
])
def test_decode_refuses(encoded: str, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        statuslist.decode_list(encoded)


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(EncodingError, match="GZIP bomb"):
            statuslist.decode_list(_encode_raw(_BOMB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(_BOMB) < 200_000  # 100 MiB of zeros in ~100 KB
    assert peak < 8 * statuslist.MAX_LIST_BYTES, peak


def test_a_smaller_cap_is_honoured() -> None:
    big = statuslist.encode_list(statuslist.make_bitstring(262144, [262143]))
    with pytest.raises(EncodingError, match="inflates past 16384 bytes"):
        statuslist.decode_list(big, max_bytes=16384)


@pytest.mark.parametrize(("size", "message"), [
    (131071, "131071 entries, at least 131072"),
    (131064, "131064 entries, at least 131072"),
    (131073, "131073 entries is not a multiple of 8"),
    (131077, "not a multiple of 8"),
    (8 * (1 << 20) + 8, "at most 8388608"),
])
def test_make_refuses_sizes(size: int, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        statuslist.make_bitstring(size)


def test_encode_and_make_refuse() -> None:
    with pytest.raises(EncodingError, match="131064 entries, at least 131072"):
        statuslist.encode_list(bytes(16383))
    with pytest.raises(EncodingError, match="must be bytes"):
        statuslist.encode_list(bytearray(16384))  # type: ignore[arg-type]
    with pytest.raises(EncodingError, match=r"index 131072 is not in \[0, 131072\)"):
        statuslist.make_bitstring(131072, [131072])
    with pytest.raises(EncodingError, match="index -1"):
        statuslist.make_bitstring(131072, [-1])
    with pytest.raises(EncodingError, match="index True"):
        statuslist.make_bitstring(131072, [True])
    with pytest.raises(EncodingError, match="index 131072"):
        statuslist.get_bit(bytes(16384), 131072)


# ------------------------------------------------------------------------------ random indexes


def test_random_indexes_are_fresh_and_in_range() -> None:
    used: set[int] = set()
    for _ in range(2000):
        index = statuslist.random_index(131072, used)
        assert 0 <= index < 131072 and index not in used
        used.add(index)
    # Not sequential: 2,000 draws from 131,072 spread over the whole range.
    assert min(used) < 131072 // 8 and max(used) > 131072 * 7 // 8


def test_a_nearly_full_list_still_draws_uniformly_among_the_free() -> None:
    free = {5, 70000, 131071}
    used = set(range(131072)) - free
    seen = {statuslist.random_index(131072, used) for _ in range(60)}
    assert seen == free


def test_a_full_list_asks_for_the_next() -> None:
    with pytest.raises(UsageError, match="all 131072 indexes are used; open the next list"):
        statuslist.random_index(131072, set(range(131072)))


# ------------------------------------------------------------------------------ entries


def test_the_status_entry() -> None:
    entry = statuslist.status_entry(REVOCATION_URL, 94567, "revocation")
    assert entry == {"id": f"{REVOCATION_URL}#94567", "type": "BitstringStatusListEntry",
                     "statusPurpose": "revocation", "statusListIndex": "94567",
                     "statusListCredential": REVOCATION_URL}
    assert statuslist.check_status_entry(entry) == statuslist.StatusEntry(
        list_url=REVOCATION_URL, index=94567, purpose="revocation")
    both = statuslist.status_entries(7, {"suspension": SUSPENSION_URL,
                                         "revocation": REVOCATION_URL})
    assert [e["statusPurpose"] for e in both] == ["revocation", "suspension"]
    assert {e["statusListIndex"] for e in both} == {"7"}
    assert statuslist.check_credential_status(both) == (
        statuslist.StatusEntry(REVOCATION_URL, 7, "revocation"),
        statuslist.StatusEntry(SUSPENSION_URL, 7, "suspension"))
    assert statuslist.check_credential_status(both[0]) == (
        statuslist.StatusEntry(REVOCATION_URL, 7, "revocation"),)


def test_the_entries_do_not_depend_on_their_order() -> None:
    """``credentialStatus`` is unordered (RDF): the entries read come in :data:`PURPOSES`
    order whatever the JSON order."""
    both = statuslist.status_entries(7, {"revocation": REVOCATION_URL,
                                         "suspension": SUSPENSION_URL})
    assert statuslist.check_credential_status(both[::-1]) == \
        statuslist.check_credential_status(both)


_ENTRY = statuslist.status_entry(REVOCATION_URL, 12, "revocation")


@pytest.mark.parametrize(("changes", "message"), [
    ({"statusListIndex": "012"}, "statusListIndex: want a decimal string"),
    ({"statusListIndex": "-1"}, "statusListIndex: want a decimal string"),
    ({"statusListIndex": "1.0"}, "statusListIndex: want a decimal string"),
    ({"statusListIndex": "١٢"}, "statusListIndex: want a decimal string"),
    ({"statusListIndex": 12}, "statusListIndex: want a decimal string"),
    ({"statusListIndex": "8388608"}, "statusListIndex: 8388608 is past the largest list"),
    ({"statusPurpose": "refresh"}, "statusPurpose: 'refresh'; want one of revocation, susp"),
    ({"statusPurpose": ["revocation"]}, "statusPurpose: \\['revocation'\\]"),
    ({"type": "StatusList2021Entry"}, "type: got 'StatusList2021Entry'"),
    ({"id": f"{REVOCATION_URL}#13"}, "credentialStatus.id: want the list URL, '#'"),
    ({"id": REVOCATION_URL}, "credentialStatus.id: want the list URL"),
    ({"statusListCredential": "status/0.json"}, "statusListCredential: want an absolute URL"),
    ({"statusListCredential": f"{REVOCATION_URL}#x"}, "statusListCredential: want an absol"),
    ({"statusSize": 1}, "credentialStatus.statusSize: not a member"),
])
def test_check_status_entry_refuses(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        statuslist.check_status_entry({**_ENTRY, **changes})


def test_check_status_entry_refuses_missing_members_and_bad_lists() -> None:
    with pytest.raises(CredentialError, match="credentialStatus.statusListIndex: missing"):
        statuslist.check_status_entry({k: v for k, v in _ENTRY.items()
                                       if k != "statusListIndex"})
    with pytest.raises(CredentialError, match="credentialStatus: want a JSON object"):
        statuslist.check_status_entry([_ENTRY])
    with pytest.raises(CredentialError, match="a purpose is listed twice"):
        statuslist.check_credential_status([_ENTRY, _ENTRY])
    with pytest.raises(CredentialError, match="want 1 to 2 entries"):
        statuslist.check_credential_status([])
    with pytest.raises(CredentialError, match=r"credentialStatus\[1\].type"):
        statuslist.check_credential_status([_ENTRY, {**_ENTRY, "type": "x"}])
    with pytest.raises(CredentialError, match="statusPurpose: 'message'"):
        statuslist.status_entry(REVOCATION_URL, 1, "message")
    with pytest.raises(CredentialError, match="statusListIndex: -1"):
        statuslist.status_entry(REVOCATION_URL, -1, "revocation")
    with pytest.raises(CredentialError, match="want list URLs for revocation, suspension"):
        statuslist.status_entries(1, {"message": REVOCATION_URL})


def test_list_paths() -> None:
    assert statuslist.list_path("example-university", "56475aa75463474c", "suspension", 12) \
        == "status/example-university/56475aa75463474c/suspension/12.json"
    for args in [("../x", "56475aa75463474c", "revocation", 0),
                 ("u", "5F1DDC8664125531", "revocation", 0),
                 ("u", "56475aa75463474c", "message", 0),
                 ("u", "56475aa75463474c", "revocation", -1)]:
        with pytest.raises(UsageError):
            statuslist.list_path(*args)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ list credentials


def test_the_signed_list_has_the_documented_shape() -> None:
    assert SIGNED["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert SIGNED["id"] == REVOCATION_URL
    assert SIGNED["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert SIGNED["issuer"] == didkey.encode(PUBLIC)
    assert SIGNED["credentialSubject"] == {
        "id": f"{REVOCATION_URL}#list", "type": "BitstringStatusList",
        "statusPurpose": "revocation", "encodedList": OUR_ENCODED}
    assert SIGNED["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert SIGNED["proof"]["verificationMethod"] == didkey.verification_method(PUBLIC)


def test_the_signed_list_canonicalizes_in_safe_mode() -> None:
    nquads = dataintegrity.canonicalize(SIGNED)
    status = "https://www.w3.org/ns/credentials/status#"
    assert f"<{REVOCATION_URL}#list> <{status}encodedList> \"{OUR_ENCODED}\"" \
           f"^^<https://w3id.org/security#multibase>" in nquads
    assert f"<{REVOCATION_URL}#list> <{status}statusPurpose> \"revocation\"" in nquads
    assert f"<{REVOCATION_URL}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
           f"<{status}BitstringStatusListCredential>" in nquads
    with_ttl = _list(ttl=86400000, valid_until="2026-07-08T09:00:00Z")
    assert f"<{status}ttl> \"86400000\"^^<http://www.w3.org/2001/XMLSchema#integer>" in \
        dataintegrity.canonicalize(with_ttl)


def test_it_verifies_and_reads() -> None:
    verified = statuslist.verify_status_list_credential(SIGNED, purpose="revocation",
                                                        list_url=REVOCATION_URL, issuer=ISSUER)
    sl = verified.status_list
    assert (sl.url, sl.purpose, sl.size, sl.issuer_key) == (REVOCATION_URL, "revocation",
                                                            131072, PUBLIC)
    assert verified.proof.public_key == PUBLIC
    for index in range(20):
        assert statuslist.status_of(SIGNED, index) == (index in KNOWN_BITS)
        assert sl.status(index) == (index in KNOWN_BITS)
    assert statuslist.status_of(sl, 131071)
    assert statuslist.entry_status(statuslist.status_entry(REVOCATION_URL, 8, "revocation"), sl)
    assert not statuslist.entry_status(statuslist.StatusEntry(REVOCATION_URL, 9, "revocation"),
                                       sl)


def test_a_suspension_list_and_the_optional_members() -> None:
    doc = _list("suspension", (42,), valid_until="2026-07-08T09:00:00Z", ttl=3600000,
                issuer_name="Example University")
    assert doc["issuer"] == {"id": didkey.encode(PUBLIC), "name": "Example University"}
    sl = statuslist.verify_status_list_credential(doc, purpose="suspension",
                                                  issuer=ISSUER).status_list
    assert (sl.purpose, sl.ttl, sl.issuer_name) == ("suspension", 3600000, "Example University")
    assert sl.status(42) and not sl.status(41)
    at = datetime.datetime(2026, 7, 2, tzinfo=datetime.UTC)
    assert statuslist.verify_status_list_credential(doc, at=at,
                                                    issuer=ISSUER).status_list is not None
    with pytest.raises(CredentialError, match="validUntil: the list is not valid at 2026-07-09"):
        statuslist.verify_status_list_credential(doc, at=at + datetime.timedelta(days=7),
                                                 issuer=ISSUER)
    with pytest.raises(CredentialError, match="validFrom: the list is not valid at 2026-06"):
        statuslist.verify_status_list_credential(doc, at=at - datetime.timedelta(days=2),
                                                 issuer=ISSUER)


def test_wrong_purpose_is_refused() -> None:
    with pytest.raises(CredentialError, match="statusPurpose: a revocation list, want a "
                                              "suspension list"):
        statuslist.verify_status_list_credential(SIGNED, purpose="suspension", issuer=ISSUER)
    sl = statuslist.check_status_list_credential(SIGNED)
    with pytest.raises(CredentialError, match="statusPurpose: a suspension entry read in a "
                                              "revocation list"):
        statuslist.entry_status(statuslist.StatusEntry(REVOCATION_URL, 0, "suspension"), sl)
    with pytest.raises(CredentialError, match="statusListCredential: names"):
        statuslist.entry_status(statuslist.StatusEntry(SUSPENSION_URL, 0, "revocation"), sl)
    with pytest.raises(CredentialError, match="id: the list at"):
        statuslist.verify_status_list_credential(SIGNED, list_url=SUSPENSION_URL, issuer=ISSUER)
    with pytest.raises(CredentialError, match="statusPurpose: 'message'"):
        _list(purpose="message")


def test_an_index_outside_the_list_is_refused() -> None:
    with pytest.raises(CredentialError, match="statusListIndex: 131072 is outside the list's "
                                              "131072 entries"):
        statuslist.status_of(SIGNED, 131072)
    sl = statuslist.check_status_list_credential(SIGNED)
    with pytest.raises(CredentialError, match="outside"):
        statuslist.entry_status(statuslist.StatusEntry(REVOCATION_URL, 200000, "revocation"), sl)


def _with(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def test_a_tampered_list_fails_its_signature() -> None:
    flipped = statuslist.encode_list(statuslist.make_bitstring(131072, KNOWN_BITS[1:]))
    for path, value in [
        (("credentialSubject", "encodedList"), flipped),
        (("validFrom",), "2026-07-01T09:00:01Z"),
        (("proof", "proofValue"), SIGNED["proof"]["proofValue"][:-2] + "22"),
        (("proof", "created"), "2026-07-01T09:00:01Z"),
    ]:
        with pytest.raises(SignatureError, match="proof.proofValue: the signature does not "
                                                 "verify"):
            statuslist.verify_status_list_credential(_with(SIGNED, path, value), issuer=ISSUER)


def test_the_issuer_is_always_checked() -> None:
    """A status list tells the status of a credential only if it is by the credential's
    issuer: ``issuer`` has no default (it was None, and the check was skipped)."""
    param = inspect.signature(statuslist.verify_status_list_credential).parameters["issuer"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY
    assert param.default is inspect.Parameter.empty
    with pytest.raises(TypeError, match="issuer"):
        statuslist.verify_status_list_credential(SIGNED)  # type: ignore[call-arg]
    with pytest.raises(CredentialError, match="^issuer: the list is by 'did:key:"):
        statuslist.verify_status_list_credential(SIGNED, issuer=None)  # type: ignore[arg-type]
    assert statuslist.verify_status_list_credential(SIGNED, issuer=ISSUER).status_list.url == \
        REVOCATION_URL


def test_a_list_signed_by_another_key_is_refused() -> None:
    other_seed = b"\x09" * 32
    other = Ed25519PrivateKey.from_private_bytes(other_seed).public_key().public_bytes_raw()
    theirs = statuslist.issue_status_list_credential(
        other_seed, created=CREATED, issuer_key=other, list_url=REVOCATION_URL,
        purpose="revocation", bitstring=statuslist.make_bitstring(131072),
        valid_from="2026-07-01T09:00:00Z")
    with pytest.raises(CredentialError, match="proof.verificationMethod: not the issuer's own"):
        statuslist.verify_status_list_credential(_with(SIGNED, ("proof",), theirs["proof"]),
                                                 issuer=ISSUER)
    statuslist.verify_status_list_credential(theirs, issuer=didkey.encode(other))
    with pytest.raises(CredentialError, match="issuer: the list is by 'did:key:z6Mk.*, not by "
                                              "the credential's issuer 'did:key:"):
        statuslist.verify_status_list_credential(theirs, issuer=didkey.encode(PUBLIC))
    with pytest.raises(CredentialError, match="names another key"):
        statuslist.issue_status_list_credential(
            other_seed, created=CREATED, issuer_key=PUBLIC, list_url=REVOCATION_URL,
            purpose="revocation", bitstring=statuslist.make_bitstring(131072),
            valid_from="2026-07-01T09:00:00Z")


@pytest.mark.parametrize(("path", "value", "message"), [
    (("@context",), ["https://www.w3.org/ns/credentials/v2", "https://example.org/unknown"],
     "@context: want exactly"),
    (("@context",), ["https://www.w3.org/ns/credentials/v2",
                     "https://www.w3.org/ns/credentials/status/v1"], "@context: want exactly"),
    (("@context",), "https://www.w3.org/ns/credentials/v2", "@context: want exactly"),
    (("type",), ["VerifiableCredential", "StatusList2021Credential"], "^type: got"),
    (("id",), "status/0.json", "^id: want an absolute URL"),
    (("issuer",), "did:web:example.edu", "^issuer: did:key: 'did:web:example.edu'"),
    (("issuer",), {"id": didkey.encode(PUBLIC), "type": "Profile"}, "issuer.type: not a memb"),
    (("issuer",), {"id": didkey.encode(PUBLIC), "name": ""}, "issuer.name: want text"),
    (("validFrom",), "2026-07-01", "validFrom: want an RFC 3339"),
    (("validUntil",), "2026-07-01T09:00:00Z", "validUntil: not after validFrom"),
    (("credentialSubject", "id"), f"{REVOCATION_URL}#x", "credentialSubject.id: want the l"),
    (("credentialSubject", "type"), "StatusList2021", "credentialSubject.type: got"),
    (("credentialSubject", "statusPurpose"), "refresh", "credentialSubject.statusPurpose: 'r"),
    (("credentialSubject", "statusPurpose"), ["revocation", "suspension"],
     "credentialSubject.statusPurpose: \\["),
    (("credentialSubject", "ttl"), 0, "credentialSubject.ttl: want a positive"),
    (("credentialSubject", "ttl"), 1.5, "credentialSubject.ttl: want a positive"),
    (("credentialSubject", "ttl"), True, "credentialSubject.ttl: want a positive"),
    (("credentialSubject", "encodedList"), "z" + KNOWN_ENCODED[1:],
     "credentialSubject.encodedList: multibase prefix 'z'"),
    (("credentialSubject", "encodedList"), _encode_raw(gzip.compress(bytes(100), mtime=0)),
     "credentialSubject.encodedList: 800 entries, at least 131072"),
    (("credentialSubject", "encodedList"), _encode_raw(_BOMB),
     "credentialSubject.encodedList: inflates past"),
    (("credentialSubject", "statusSize"), 1, "credentialSubject.statusSize: not a member"),
    (("name",), "Revocations", "^name: not a member"),
])
def test_check_refuses_naming_the_path(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        statuslist.verify_status_list_credential(_with(SIGNED, path, value), issuer=ISSUER)


def test_an_unpinned_context_is_never_fetched() -> None:
    """Past the shape check, the proof's own canonicalization refuses an unknown context."""
    doc = copy.deepcopy(SIGNED)
    doc["@context"] = ["https://www.w3.org/ns/credentials/v2", "https://example.org/unknown"]
    with pytest.raises(CredentialError, match="@context: JSON-LD context 'https://example.org/"
                                              "unknown' is not one of the pinned contexts"):
        dataintegrity.verify(doc, didkey.resolve)


def test_build_refuses() -> None:
    with pytest.raises(CredentialError, match="credentialSubject.encodedList: status list: "
                                              "131064 entries"):
        _list(bitstring=bytes(16383))
    with pytest.raises(CredentialError, match="^id: want an absolute URL"):
        _list(list_url="https://example.edu/list#x")
    with pytest.raises(CredentialError, match="validUntil: not after"):
        _list(valid_until="2026-01-01T00:00:00Z")
    with pytest.raises(CredentialError, match="ttl"):
        _list(ttl=-5)


def test_the_digest_is_of_the_canonical_form_and_survives_reserialisation() -> None:
    digest = statuslist.status_list_digest(SIGNED)
    respelled = json.loads(json.dumps(SIGNED, indent=3, ensure_ascii=True, sort_keys=True))
    respelled["credentialSubject"]["type"] = ["BitstringStatusList"]
    assert statuslist.status_list_digest(respelled) == digest
    assert statuslist.status_list_digest(_list(ones=(1,))) != digest
    with pytest.raises(CredentialError, match="not signed"):
        statuslist.status_list_digest({k: v for k, v in SIGNED.items() if k != "proof"})


@pytest.mark.parametrize(("path", "value"), [
    (("issuer",), {"id": didkey.encode(PUBLIC), "name": "Uni \ud800"}),
    (("id",), REVOCATION_URL + "\udc80"),
    (("validFrom",), "2026-07-01T09:00:00Z\ud800"),
    (("credentialSubject", "encodedList"), "u\ud800")])
def test_a_lone_surrogate_is_a_credential_error(path: tuple[Any, ...], value: Any) -> None:
    """A lone surrogate (``json.loads('"\\ud800"')``) has no UTF-8: checking, verifying,
    digesting and parsing the list is a one-line CredentialError, never a UnicodeEncodeError."""
    doc = _with(SIGNED, path, value)
    if path == ("id",):
        doc["credentialSubject"]["id"] = value + "#list"
    calls = [lambda: statuslist.check_status_list_credential(doc),
             lambda: statuslist.verify_status_list_credential(doc, issuer=ISSUER),
             lambda: statuslist.status_list_digest(doc),
             lambda: statuslist.parse_status_list_credential(json.dumps(doc)),
             lambda: statuslist.parse_status_list_credential(json.dumps(doc, ensure_ascii=False))]
    for call in calls:
        with pytest.raises(CredentialError) as caught:
            call()
        assert "\n" not in str(caught.value)
        str(caught.value).encode("utf-8")
    with pytest.raises(CredentialError):
        statuslist.check_status_entry({**_ENTRY, "statusListCredential": REVOCATION_URL + "\ud800"})


@pytest.mark.parametrize("name", ["x\ud800", "a\nb"])
@pytest.mark.parametrize("where", [(), ("credentialSubject",), ("proof",)])
def test_an_unknown_member_is_named_on_one_line(name: str, where: tuple[str, ...]) -> None:
    """A member name with a lone surrogate or a line feed is quoted in the message, which
    stays one line that can be written."""
    doc = copy.deepcopy(SIGNED)
    target = doc
    for step in where:
        target = target[step]
    target[name] = "x"
    for call in (lambda: statuslist.verify_status_list_credential(doc, issuer=ISSUER),
                 lambda: statuslist.status_list_digest(doc),
                 lambda: statuslist.check_status_entry({**_ENTRY, name: 1})):
        with pytest.raises(CredentialError) as caught:
            call()
        assert "\n" not in str(caught.value)
        str(caught.value).encode("utf-8")


def test_parse() -> None:
    text = json.dumps(SIGNED)
    assert statuslist.parse_status_list_credential(text) == SIGNED
    assert statuslist.parse_status_list_credential(text.encode()) == SIGNED
    for data, message in [(b"{", "not JSON"), (b'{"id": 1, "id": 2}', "'id' appears twice"),
                          (b"[]", "document: want a JSON object"),
                          (b" " * (statuslist.MAX_LIST_CREDENTIAL_BYTES + 1), "at most 2097152")]:
        with pytest.raises(CredentialError, match=message):
            statuslist.parse_status_list_credential(data)


def test_an_open_badge_with_status_entries_signs_and_verifies() -> None:
    """The entries canonicalize under the OB 3.0.3 context too (safe mode), ready for the
    credentials of the coming entry format."""
    doc = openbadges.build_credential(
        credential_id="urn:uuid:5b0d2c8e-7f43-4f5e-9a51-0c6a1d2e3f40",
        issuer=openbadges.Issuer(public_key=PUBLIC, name="Example University"),
        achievement=openbadges.Achievement(id="https://example.edu/a", name="A",
                                           description="d", criteria="c"),
        identity_type="emailAddress", identity_value="ada@example.org", salt="5a" * 32,
        valid_from="2026-01-01T00:00:00Z")
    doc["credentialStatus"] = statuslist.status_entries(
        8, {"revocation": REVOCATION_URL, "suspension": SUSPENSION_URL})
    signed = dataintegrity.sign(doc, SEED, created=CREATED,
                                verification_method=didkey.verification_method(PUBLIC))
    assert dataintegrity.verify(signed, didkey.resolve).public_key == PUBLIC
    assert "status#statusListIndex> \"8\"" in dataintegrity.canonicalize(signed)
    entries = statuslist.check_credential_status(signed["credentialStatus"])
    sl = statuslist.check_status_list_credential(SIGNED)
    assert statuslist.entry_status(entries[0], sl)


# ------------------------------------------------------------------------------ FORMAT.md §17


def test_the_example_in_format_md_is_what_the_code_builds() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md").read_text("utf-8")
    section = text.split("### 17.6 Example", 1)[1]
    blocks = re.findall(r"```json\n(.*?)\n```", section, re.DOTALL)
    digest = re.search(r"Its digest:\s+`([0-9a-f]{64})`", section)
    assert len(blocks) == 2 and digest
    entries = json.loads(blocks[0])
    doc = statuslist.parse_status_list_credential(blocks[1])
    assert entries == statuslist.status_entries(
        94567, {"revocation": REVOCATION_URL, "suspension": SUSPENSION_URL})
    assert _but_the_gzip(doc) == _but_the_gzip(SIGNED)
    assert doc["credentialSubject"]["encodedList"] == KNOWN_ENCODED
    sl = statuslist.verify_status_list_credential(doc, purpose="revocation",
                                                  issuer=ISSUER).status_list
    assert statuslist.set_bits(sl.bitstring) == list(KNOWN_BITS)
    assert not statuslist.entry_status(entries[0], sl)
    assert statuslist.status_list_digest(doc).hex() == digest[1]
    member = base64.urlsafe_b64decode(KNOWN_ENCODED[1:] + "=" * (-len(KNOWN_ENCODED[1:]) % 4))
    told = re.search(r"a GZIP member of (\d+) bytes, which ends with `([0-9a-f \n]+)` "
                     r"\(the CRC-32 of the bits\) and `([0-9a-f ]+)` \(16,384 bytes\)", section)
    assert told, "17.6 no longer describes the GZIP member"
    assert int(told[1]) == len(member)
    assert bytes.fromhex(told[2] + told[3]) == member[-8:]


def _but_the_gzip(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without what depends on the zlib build: the encodedList, so the proofValue."""
    out: dict[str, Any] = json.loads(json.dumps(doc))
    del out["credentialSubject"]["encodedList"], out["proof"]["proofValue"]
    return out
