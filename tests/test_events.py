"""Tests for ledger.events: canonical msgpack, strict decoding, validation and signatures.

docs/FORMAT.md §1.1: every entry is one canonical msgpack value (fixed-order arrays, no maps, no floats,
integer times, ``bin`` bytes, UTF-8 ``str``); decoding is strict and re-encodes; an entry is at
most 65,535 bytes; statements are signed with Ed25519 over ``SIGN_CONTEXT || statement``. Entry
format 2 (§3.2, §4): a credential is named only by its handle (``urn:uuid:`` and a random
version 4 UUID in lower case), status statements give a reason code, never free text; an entry
of version 1 is refused by name.

Non-canonical and hostile encodings are built by hand here from the msgpack specification
(github.com/msgpack/msgpack/blob/master/spec.md), not with the package's own encoder.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from statements import handle

from ledger import ed25519
from ledger import events as events_module
from ledger.errors import EncodingError, LedgerError, SignatureError, VerificationError
from ledger.events import (
    ENTRY_VERSION,
    ISSUE,
    KINDS,
    MAX_ENTRY_SIZE,
    MAX_ID_LEN,
    MAX_LIST_NUMBER,
    MAX_STATUS_INDEX,
    PUBLISH_STATUS_LIST,
    REASON_CODES,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SIGN_CONTEXT,
    SUSPEND,
    Entry,
    SignedStatement,
    Statement,
    decode_entry,
    decode_statement,
    key_id,
    make_statement,
    sign_statement,
    signing_message,
    subject_commitment,
    verify_signature,
    verify_signature_fast,
)
from ledger.records import (
    ACHIEVEMENT,
    CRED,
    ISSUED,
    ISSUER,
    KEY,
    KEY_REVOKED,
    KEY_ROTATED,
    REVOKED,
    SLOT,
    STATUS_LIST,
    SUSPENDED,
    AchievementRecord,
    CredRecord,
    IssuerRecord,
    KeyRecord,
    SlotRecord,
    StatusListRecord,
    decode_record,
    map_key,
    record_hash,
)

SEED = bytes(range(32))
PUB = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
OTHER_PUB = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))).public_key().public_bytes_raw()
T = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
ROOT_A = hashlib.sha256(b"a").digest()
ROOT_B = hashlib.sha256(b"b").digest()
DIGEST = hashlib.sha256(b"credential").digest()
C1, C2 = handle(1), handle(2)  # credentials' handles
M1, M2 = handle(11), handle(12)  # the parts of a stacked credential
LIST = b'{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"]}'

PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _raw(*parts: bytes) -> bytes:
    return b"".join(parts)


def _str(text: str) -> bytes:
    """fixstr/str8 by hand (the msgpack spec), for texts shorter than 256 bytes."""
    data = text.encode("utf-8")
    if len(data) < 32:
        return bytes([0xA0 | len(data)]) + data
    return b"\xd9" + bytes([len(data)]) + data


def _bin(data: bytes) -> bytes:
    assert len(data) < 256
    return b"\xc4" + bytes([len(data)]) + data


def _array(*items: bytes) -> bytes:
    assert len(items) < 16
    return bytes([0x90 | len(items)]) + b"".join(items)


def _uint(n: int) -> bytes:
    """The shortest msgpack encoding of a non-negative integer."""
    if n < 0x80:
        return bytes([n])
    if n < 1 << 8:
        return b"\xcc" + struct.pack(">B", n)
    if n < 1 << 16:
        return b"\xcd" + struct.pack(">H", n)
    if n < 1 << 32:
        return b"\xce" + struct.pack(">I", n)
    return b"\xcf" + struct.pack(">Q", n)


def all_statements() -> dict[str, Statement]:
    """One statement of every kind (two of ``issue``: minimal and with every optional field,
    at the largest status index)."""
    return {
        REGISTER_ISSUER: make_statement(REGISTER_ISSUER, "uni.example", T, "Example University",
                                        "https://uni.example", PUB),
        RETIRE_ISSUER: make_statement(RETIRE_ISSUER, "uni.example", T, "merged"),
        ROTATE_KEY: make_statement(ROTATE_KEY, "uni.example", T, OTHER_PUB),
        REVOKE_KEY: make_statement(REVOKE_KEY, "uni.example", T, key_id(PUB), "laptop stolen"),
        ISSUE: make_statement(ISSUE, "uni.example", T, C1, DIGEST, "cs201", T, None, 0, []),
        "issue-full": make_statement(ISSUE, "uni.example", T, C2, DIGEST, "cert:2026@cs+1", T,
                                     T + 1000, MAX_STATUS_INDEX, [M1, M2]),
        REVOKE: make_statement(REVOKE, "uni.example", T, C1, "issued-in-error"),
        SUSPEND: make_statement(SUSPEND, "uni.example", T, C1, "under-review"),
        REINSTATE: make_statement(REINSTATE, "uni.example", T, C1, "review-complete"),
        REGISTER_ACHIEVEMENT: make_statement(REGISTER_ACHIEVEMENT, "uni.example", T, "cs201",
                                             "Data Structures", "Lists and trees.",
                                             "Pass the exam.", "Course"),
        PUBLISH_STATUS_LIST: make_statement(PUBLISH_STATUS_LIST, "uni.example", T, "revocation",
                                            3, 41, LIST),
    }


STATEMENTS = all_statements()


def sample_entry(name: str = "issue-full", index: int = 7) -> Entry:
    signed = sign_statement(STATEMENTS[name], SEED)
    return Entry(index, T + 5, ROOT_A, ROOT_B, signed.statement, signed.signer, signed.signature)


Rec = CredRecord | KeyRecord | IssuerRecord | AchievementRecord | SlotRecord | StatusListRecord


def all_records() -> list[Rec]:
    return [
        CredRecord("uni.example", C1, ISSUED, 3, None, "", T),
        CredRecord("uni.example", C1, REVOKED, 3, 9, "issued-in-error", T + 9),
        CredRecord("uni.example", C1, SUSPENDED, 3, 4, "under-review", T + 4),
        KeyRecord("uni.example", key_id(PUB), PUB, 1, None, "", ""),
        KeyRecord("uni.example", key_id(PUB), PUB, 1, 5, KEY_ROTATED, ""),
        KeyRecord("uni.example", key_id(PUB), PUB, 1, 6, KEY_REVOKED, "stolen"),
        IssuerRecord("uni.example", "Example University", "https://uni.example", 0, None, ""),
        IssuerRecord("uni.example", "Example University", "", 0, 12, "merged"),
        AchievementRecord("uni.example", "cs201", 7),
        SlotRecord("uni.example", key_id(PUB), 0, C1),
        SlotRecord("uni.example", key_id(PUB), MAX_STATUS_INDEX, C2),
        StatusListRecord("uni.example", key_id(PUB), "revocation", 0, 0, 1),
        StatusListRecord("uni.example", key_id(PUB), "suspension", MAX_LIST_NUMBER, 41, 42),
    ]


# ----------------------------------------------------------------------------- helpers

_DEEP = b"\x91" * 1_020 + b"\x01"  # within msgpack's own nesting limit of 1,024


def _decode_or_encoding_error(decode: Callable[[bytes], Any], data: bytes) -> Any:
    """Decode, or return None on EncodingError; anything else fails."""
    try:
        return decode(data)
    except EncodingError:
        return None
    except Exception as exc:
        raise AssertionError(f"{decode.__name__}({data.hex()}) raised "
                             f"{exc.__class__.__name__}: {exc}") from exc


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_statement_round_trip(name: str) -> None:
    st_ = STATEMENTS[name]
    data = st_.encode()
    decoded = decode_statement(data)
    assert decoded == st_
    assert decoded.encode() == data
    assert data == msgpack.packb([st_.kind, st_.issuer, st_.time, *st_.fields], use_bin_type=True)


def test_every_kind_is_covered() -> None:
    assert {s.kind for s in STATEMENTS.values()} == set(KINDS)


def test_statement_layout_is_fixed_order_array() -> None:
    """The bytes of a suspend statement, written out from docs/FORMAT.md's layout by hand."""
    data = STATEMENTS[SUSPEND].encode()
    want = _array(_str("suspend"), _str("uni.example"), _uint(T), _str(C1),
                  _str("under-review"))
    assert data == want


def test_issue_layout_is_fixed_order_array() -> None:
    """The bytes of the full issue statement, from docs/FORMAT.md §3.2's layout by hand:
    credential, digest, achievement, valid_from, valid_until, status_index, parts."""
    want = _array(_str("issue"), _str("uni.example"), _uint(T), _str(C2), _bin(DIGEST),
                  _str("cert:2026@cs+1"), _uint(T), _uint(T + 1000), _uint(MAX_STATUS_INDEX),
                  _array(_str(M1), _str(M2)))
    assert STATEMENTS["issue-full"].encode() == want
    assert _uint(MAX_STATUS_INDEX) == b"\xce\x00\x7f\xff\xff"  # 2**23 - 1
    want = _array(_str(PUBLISH_STATUS_LIST), _str("uni.example"), _uint(T), _str("revocation"),
                  _uint(3), _uint(41), b"\xc4" + bytes([len(LIST)]) + LIST)
    assert STATEMENTS[PUBLISH_STATUS_LIST].encode() == want


def test_statement_accessors() -> None:
    assert STATEMENTS[ISSUE].cred_id == C1
    assert STATEMENTS["issue-full"].cred_id == C2
    assert STATEMENTS[SUSPEND].cred_id == C1
    assert STATEMENTS[ISSUE].achievement_id == "cs201"
    assert STATEMENTS["issue-full"].achievement_id == "cert:2026@cs+1"
    assert STATEMENTS[REGISTER_ACHIEVEMENT].achievement_id == "cs201"
    assert STATEMENTS[REVOKE].reason == "issued-in-error"
    assert STATEMENTS[SUSPEND].reason == "under-review"
    assert STATEMENTS[REVOKE_KEY].reason == "laptop stolen"
    assert STATEMENTS[RETIRE_ISSUER].reason == "merged"
    assert STATEMENTS[ISSUE].reason == ""
    assert STATEMENTS[PUBLISH_STATUS_LIST].reason == ""
    with pytest.raises(AttributeError):
        _ = STATEMENTS[ROTATE_KEY].cred_id
    with pytest.raises(AttributeError):
        _ = STATEMENTS[PUBLISH_STATUS_LIST].cred_id
    with pytest.raises(AttributeError):
        _ = STATEMENTS[REVOKE].achievement_id


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_entry_round_trip(name: str) -> None:
    entry = sample_entry(name)
    data = entry.encode()
    decoded = decode_entry(data)
    assert decoded == entry
    assert decoded.encode() == data
    assert decoded.signed().verify() == STATEMENTS[name]


@pytest.mark.parametrize("record", all_records(), ids=lambda r: type(r).__name__)
def test_record_round_trip(record: Rec) -> None:
    data = record.encode()
    assert decode_record(data) == record
    assert record_hash(data) == hashlib.sha256(data).digest()


def test_new_records_layout_and_map_keys() -> None:
    """docs/FORMAT.md §5.1-5.2: a slot record ``["slot", issuer, key_id, status_index,
    credential]`` at ``map_key("slot", issuer, "<key_id>/<index>")``; a status-list record
    ``["status-list", issuer, key_id, purpose, number, tree_size, published_at]`` at
    ``map_key("status-list", issuer, "<key_id>/<purpose>/<number>")``: written out by hand."""
    kid = key_id(PUB)
    slot = SlotRecord("uni", kid, 7, C1)
    assert slot.encode() == _array(_str("slot"), _str("uni"), _str(kid), _uint(7), _str(C1))
    assert slot.key() == hashlib.sha256(
        _array(_str("slot"), _str("uni"), _str(f"{kid}/7"))).digest()
    lst = StatusListRecord("uni", kid, "suspension", 2, 40, 41)
    assert lst.encode() == _array(_str("status-list"), _str("uni"), _str(kid),
                                  _str("suspension"), _uint(2), _uint(40), _uint(41))
    assert lst.key() == hashlib.sha256(
        _array(_str("status-list"), _str("uni"), _str(f"{kid}/suspension/2"))).digest()
    # Every key, index, purpose and number has a map key of its own.
    keys = {SlotRecord("uni", k, i, C1).key() for k in (kid, key_id(OTHER_PUB)) for i in (0, 7)}
    keys |= {StatusListRecord("uni", k, p, n, 0, 0).key() for k in (kid, key_id(OTHER_PUB))
             for p in ("revocation", "suspension") for n in (0, 7)}
    assert len(keys) == 12
    assert SlotRecord("uni", kid, 7, C2).key() == slot.key()  # the slot, not who holds it


def test_map_key_known_answer() -> None:
    # printf '\x93\xa4cred\xa3uni\xa3c-1' | sha256sum
    assert map_key(CRED, "uni", "c-1").hex() == (
        "82cc0088594108e1f2daaefe171600d570cb773245b603a4b0ee44470b7914a0")
    assert map_key(ISSUER, "uni") == hashlib.sha256(b"\x93\xa6issuer\xa3uni\xa0").digest()
    assert map_key(KEY, "uni", "00") != map_key(CRED, "uni", "00")


def test_key_id_is_first_8_bytes_of_sha256_hex() -> None:
    assert key_id(PUB) == hashlib.sha256(PUB).hexdigest()[:16]


def test_subject_commitment_known_answer() -> None:
    salt = bytes(range(32))
    # python -c "import sys;sys.stdout.buffer.write(bytes(range(32))+b'Ada Lovelace')" | sha256sum
    want = "59af269ca64ec7a253d4b959af644f3e3f274fca7a0ff8021171fcdb4fc7f4ff"
    assert subject_commitment(salt, "Ada Lovelace").hex() == want
    assert subject_commitment(salt, "Ada Lovelace") == hashlib.sha256(
        salt + b"Ada Lovelace").digest()
    assert subject_commitment(salt, "Zo\u00eb") == hashlib.sha256(
        salt + "Zo\u00eb".encode()).digest()
    assert subject_commitment(bytes(32), "Ada Lovelace") != subject_commitment(salt,
                                                                                "Ada Lovelace")
    for bad in (b"", bytes(31), bytes(33), "0" * 32):
        with pytest.raises(EncodingError, match="salt"):
            subject_commitment(bad, "Ada")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- strict decoding


SUSPEND_PARTS = [_str("suspend"), _str("uni"), _uint(5), _str(C1), _str("unspecified")]


def test_hand_built_statement_is_accepted() -> None:
    """The baseline of the refusals below: the canonical hand-built statement decodes."""
    st_ = decode_statement(_array(*SUSPEND_PARTS))
    assert (st_.kind, st_.issuer, st_.time, st_.fields) == (SUSPEND, "uni", 5,
                                                            (C1, "unspecified"))


@pytest.mark.parametrize("time5", [
    b"\xcc\x05", b"\xcd\x00\x05", b"\xce\x00\x00\x00\x05", b"\xcf" + struct.pack(">Q", 5),
    b"\xd0\x05", b"\xd1\x00\x05", b"\xd2\x00\x00\x00\x05", b"\xd3" + struct.pack(">q", 5),
], ids=lambda b: b.hex())
def test_refuses_non_canonical_int(time5: bytes) -> None:
    data = _array(SUSPEND_PARTS[0], SUSPEND_PARTS[1], time5, *SUSPEND_PARTS[3:])
    assert msgpack.unpackb(data)[2] == 5  # msgpack itself accepts it
    with pytest.raises(EncodingError, match="canonical"):
        decode_statement(data)


@pytest.mark.parametrize("data", [
    # array 16 for a 5-element array
    b"\xdc\x00\x05" + b"".join(SUSPEND_PARTS),
    # array 32 for a 5-element array
    b"\xdd\x00\x00\x00\x05" + b"".join(SUSPEND_PARTS),
    # str 8 for a 3-byte string
    _array(_str("suspend"), b"\xd9\x03uni", *SUSPEND_PARTS[2:]),
    # str 16 for an 11-byte string (the reason code)
    _array(*SUSPEND_PARTS[:4], b"\xda\x00\x0bunspecified"),
    # str 16 for the 45-byte handle, which str 8 holds
    _array(*SUSPEND_PARTS[:3], b"\xda\x00\x2d" + C1.encode(), SUSPEND_PARTS[4]),
    # a bin where a str is wanted
    _array(*SUSPEND_PARTS[:3], _bin(C1.encode()), SUSPEND_PARTS[4]),
], ids=["array16", "array32", "str8", "str16", "str16-handle", "bin-for-str"])
def test_refuses_non_canonical_lengths(data: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_statement(data)


@pytest.mark.parametrize("data", [
    b"\x80",  # empty map
    b"\x81\xa4kind\xa7suspend",  # a map at top level
    _array(SUSPEND_PARTS[0], SUSPEND_PARTS[1], SUSPEND_PARTS[2], SUSPEND_PARTS[3], b"\x80"),
    _array(SUSPEND_PARTS[0], SUSPEND_PARTS[1], b"\x81\x01\x02", *SUSPEND_PARTS[3:]),
    _array(*SUSPEND_PARTS[:4], b"\xde\x00\x00"),  # map 16
], ids=["empty-map", "top-map", "map-field", "map-time", "map16"])
def test_refuses_maps(data: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_statement(data)


@pytest.mark.parametrize("value", [
    b"\xca" + struct.pack(">f", 5.0), b"\xcb" + struct.pack(">d", 5.0),
    b"\xcb" + struct.pack(">d", float("nan")),
], ids=["float32", "float64", "nan"])
def test_refuses_floats(value: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_statement(_array(SUSPEND_PARTS[0], SUSPEND_PARTS[1], value, *SUSPEND_PARTS[3:]))
    with pytest.raises(EncodingError):
        decode_statement(_array(*SUSPEND_PARTS[:4], value))


@pytest.mark.parametrize("value", [
    b"\xd4\x01\x00",  # fixext 1
    b"\xd5\x05\x00\x00",  # fixext 2
    b"\xc7\x00\x05",  # ext 8, empty
    b"\xc7\x03\x7f\x01\x02\x03",  # ext 8
    b"\xd6\xff\x00\x00\x00\x05",  # timestamp 32 (ext type -1)
    b"\xd7\xff" + bytes(8),  # timestamp 64
    b"\xc7\x0c\xff" + bytes(12),  # timestamp 96
], ids=["fixext1", "fixext2", "ext8-empty", "ext8", "ts32", "ts64", "ts96"])
def test_refuses_ext_types(value: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_statement(_array(SUSPEND_PARTS[0], SUSPEND_PARTS[1], value, *SUSPEND_PARTS[3:]))
    with pytest.raises(EncodingError):
        decode_statement(value)
    with pytest.raises(EncodingError):
        decode_record(_array(_str(CRED), value))


@pytest.mark.parametrize("trailer", [b"\x00", b"\xc0", b"\x90", STATEMENTS[SUSPEND].encode()],
                         ids=["zero", "nil", "array", "statement"])
def test_refuses_trailing_bytes(trailer: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_statement(STATEMENTS[SUSPEND].encode() + trailer)
    with pytest.raises(EncodingError):
        decode_entry(sample_entry().encode() + trailer)
    with pytest.raises(EncodingError):
        decode_record(all_records()[0].encode() + trailer)


@pytest.mark.parametrize("decode,data", [
    (decode_statement, STATEMENTS["issue-full"].encode()),
    (decode_entry, sample_entry().encode()),
    (decode_record, all_records()[4].encode()),
], ids=["statement", "entry", "record"])
def test_refuses_every_truncation(decode: Callable[[bytes], Any], data: bytes) -> None:
    for n in range(len(data)):
        with pytest.raises(EncodingError):
            decode(data[:n])


@pytest.mark.parametrize("bad", [
    b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"a\x80b",
], ids=["ff", "overlong", "surrogate", "short", "above-10ffff", "continuation"])
def test_refuses_invalid_utf8(bad: bytes) -> None:
    s = bytes([0xA0 | len(bad)]) + bad
    for i in (0, 1, 3, 4):  # kind, issuer, credential, reason code
        parts = list(SUSPEND_PARTS)
        parts[i] = s
        with pytest.raises(EncodingError):
            decode_statement(_array(*parts))


def test_refuses_empty_and_non_bytes() -> None:
    for decode in (decode_statement, decode_entry, decode_record):
        with pytest.raises(EncodingError):
            decode(b"")
        with pytest.raises(EncodingError):
            decode(b"\x90")
        with pytest.raises(EncodingError):
            decode("abc")  # type: ignore[arg-type]


# Field specs: what each position of a statement accepts.
FIELD_SPECS: dict[str, list[str]] = {
    REGISTER_ISSUER: ["kind", "id", "time", "text", "text", "bin32"],
    RETIRE_ISSUER: ["kind", "id", "time", "text"],
    ROTATE_KEY: ["kind", "id", "time", "bin32"],
    REVOKE_KEY: ["kind", "id", "time", "kid", "text"],
    # valid_from, valid_until: the full statement's valid_until (T + 1000) is after every
    # candidate time; any candidate valid_until is at or before the statements' valid_from (T)
    ISSUE: ["kind", "id", "time", "handle", "bin32", "id", "time", "none_after_t", "index",
            "parts"],
    "issue-full": ["kind", "id", "time", "handle", "bin32", "id", "time", "none_after_t",
                   "index", "parts"],
    REVOKE: ["kind", "id", "time", "handle", "code"],
    SUSPEND: ["kind", "id", "time", "handle", "code"],
    REINSTATE: ["kind", "id", "time", "handle", "code"],
    REGISTER_ACHIEVEMENT: ["kind", "id", "time", "id", "title", "text", "text", "achtype"],
    PUBLISH_STATUS_LIST: ["kind", "id", "time", "purpose", "index", "index", "bytes"],
}

CANDIDATES: dict[str, Any] = {
    "nil": None, "true": True, "false": False, "zero": 0, "seven": 7, "neg": -1,
    "big": (1 << 64) - 1, "empty-str": "", "str": "x", "hex16": "0123456789abcdef",
    "empty-bin": b"", "bin31": bytes(31), "bin33": bytes(33),
    "bin32": hashlib.sha256(b"x").digest(),  # 32 bytes, and not a small-order Ed25519 point
    "empty-list": [], "list": ["y"], "nested": [[1]],
    "handle": handle(7), "code": "unspecified", "handles": [handle(8)],
}

ACCEPTS: dict[str, set[str]] = {
    "kind": set(),
    "id": {"str", "hex16", "handle", "code"},
    "time": {"zero", "seven"},
    "none_after_t": {"nil"},
    "index": {"zero", "seven"},
    "text": {"empty-str", "str", "hex16", "handle", "code"},
    "title": {"str", "hex16", "handle", "code"},
    "bin32": {"bin32"},
    "bytes": {"bin31", "bin32", "bin33"},
    "kid": {"hex16"},
    "handle": {"handle"},
    "code": {"code"},
    "purpose": set(),
    "parts": {"empty-list", "handles"},
    "achtype": {"empty-str"},
}


def _statement_cases() -> list[tuple[str, int, str]]:
    # An array as the kind is left to test_refuses_array_as_statement_kind (a known bug).
    return [(name, pos, cand) for name, specs in FIELD_SPECS.items()
            for pos, spec in enumerate(specs) for cand in CANDIDATES
            if cand not in ACCEPTS[spec] and not (pos == 0 and isinstance(CANDIDATES[cand], list))]


def test_field_specs_match_statements() -> None:
    for name, st_ in STATEMENTS.items():
        assert len(FIELD_SPECS[name]) == 3 + len(st_.fields)


@pytest.mark.parametrize("name,pos,cand", _statement_cases())
def test_refuses_wrong_type_in_every_statement_field(name: str, pos: int, cand: str) -> None:
    st_ = STATEMENTS[name]
    items: list[Any] = [st_.kind, st_.issuer, st_.time, *st_.fields]
    items[pos] = CANDIDATES[cand]
    data = msgpack.packb(items, use_bin_type=True)
    with pytest.raises(EncodingError):
        decode_statement(data)
    with pytest.raises(EncodingError):
        make_statement(*items)


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_accepted_candidates_really_decode(name: str) -> None:
    """The other half of the table above: the values a field accepts do decode (so the refusals
    are about the value's type, not about something else in the test's statement)."""
    st_ = STATEMENTS[name]
    for pos, spec in enumerate(FIELD_SPECS[name]):
        for cand in ACCEPTS[spec]:
            items: list[Any] = [st_.kind, st_.issuer, st_.time, *st_.fields]
            items[pos] = CANDIDATES[cand]
            decode_statement(msgpack.packb(items, use_bin_type=True))


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_refuses_wrong_field_counts(name: str) -> None:
    st_ = STATEMENTS[name]
    items: list[Any] = [st_.kind, st_.issuer, st_.time, *st_.fields]
    for bad in (items[:-1], items + [None], items + [""], items[:3], items[:2], items[:1], []):
        if bad == items[:3] and len(items) == 3:
            continue
        with pytest.raises(EncodingError):
            decode_statement(msgpack.packb(bad, use_bin_type=True))


ENTRY_SPECS = ["version", "index", "time", "bin32", "bin32", "statement", "bin32", "bin64"]


@pytest.mark.parametrize("pos", range(8))
def test_refuses_wrong_type_in_every_entry_field(pos: int) -> None:
    entry = sample_entry()
    good: list[Any] = [2, entry.index, entry.time, entry.prev_root, entry.state_root,
                       entry.statement, entry.signer, entry.signature]
    assert msgpack.packb(good, use_bin_type=True) == entry.encode()
    spec = ENTRY_SPECS[pos]
    accepts = {"index": {"zero", "seven"}, "time": {"zero", "seven"}, "bin32": {"bin32"}}
    for cand, value in CANDIDATES.items():
        if cand in accepts.get(spec, set()):
            continue
        items = list(good)
        items[pos] = value
        with pytest.raises(EncodingError):
            decode_entry(msgpack.packb(items, use_bin_type=True))
    if spec == "version":
        for v in (0, 1, 3, True, False, "2", 2.0):
            items = list(good)
            items[0] = v
            with pytest.raises(EncodingError):
                decode_entry(msgpack.packb(items, use_bin_type=True))
    if spec == "statement":  # bin holding something that is not a valid statement
        for inner in (b"\x90", msgpack.packb(["issue"]), STATEMENTS[SUSPEND].encode() + b"\x00"):
            items = list(good)
            items[5] = inner
            with pytest.raises(EncodingError):
                decode_entry(msgpack.packb(items, use_bin_type=True))
    if spec == "bin64":
        for sig in (bytes(63), bytes(65)):
            items = list(good)
            items[7] = sig
            with pytest.raises(EncodingError):
                decode_entry(msgpack.packb(items, use_bin_type=True))


def test_entry_version_is_2_and_version_1_is_refused_by_name() -> None:
    """docs/FORMAT.md §4: an entry of version 1 (credential ids, titles and free-text reasons
    in the log) is refused with a message that names both formats, never read as version 2."""
    assert ENTRY_VERSION == 2
    entry = sample_entry()
    assert msgpack.unpackb(entry.encode())[0] == 2
    items = msgpack.unpackb(entry.encode(), raw=False)
    items[0] = 1
    with pytest.raises(EncodingError) as info:
        decode_entry(msgpack.packb(items, use_bin_type=True))
    assert "entry version 1" in str(info.value)
    assert "entry format 2" in str(info.value)
    # A version-1 entry keeps its own (v1) statement: still refused, by version first.
    v1 = msgpack.packb(["issue", "uni", T, "c-1", bytes(32), "Python 101", None, None, []],
                       use_bin_type=True)
    items[5] = v1
    with pytest.raises(EncodingError, match="entry version 1"):
        decode_entry(msgpack.packb(items, use_bin_type=True))
    # Other versions get the plain message; True (== 1 in Python) is no version 1.
    for v in (0, 3, True):
        items[0] = v
        with pytest.raises(EncodingError, match="entry version: want 2") as info:
            decode_entry(msgpack.packb(items, use_bin_type=True))
        assert "version 1" not in str(info.value)


def test_refuses_wrong_entry_field_counts() -> None:
    entry = sample_entry()
    good: list[Any] = [2, entry.index, entry.time, entry.prev_root, entry.state_root,
                       entry.statement, entry.signer, entry.signature]
    for bad in (good[:-1], good + [None], good[:1]):
        with pytest.raises(EncodingError):
            decode_entry(msgpack.packb(bad, use_bin_type=True))


@pytest.mark.parametrize("record", all_records(), ids=lambda r: type(r).__name__)
def test_refuses_wrong_type_in_every_record_field(record: Rec) -> None:
    items = msgpack.unpackb(record.encode(), raw=False)
    # Values each position accepts, per record kind (the rest must be refused).
    ended = items[5] if items[0] == KEY else None
    ids = {"str", "hex16", "handle", "code"}
    texts = {"empty-str", "str", "hex16", "handle", "code"}
    index = {"zero", "seven"}
    table: dict[str, list[set[str]]] = {
        CRED: [set(), ids, {"handle"}, set(), index, index | {"nil"}, texts, index],
        KEY: [set(), ids, set(), set(), index,
              index if ended is not None else {"nil"},
              set() if ended is not None else {"empty-str"},
              texts],
        ISSUER: [set(), ids, texts, texts, index, index | {"nil"}, texts],
        ACHIEVEMENT: [set(), ids, ids, index],
        SLOT: [set(), ids, {"hex16"}, index, {"handle"}],
        STATUS_LIST: [set(), ids, {"hex16"}, set(), index, index, index],
    }
    ok = table[items[0]]
    for pos in range(len(items)):
        for cand, value in CANDIDATES.items():
            if cand in ok[pos]:
                continue
            bad = list(items)
            bad[pos] = value
            with pytest.raises(EncodingError):
                decode_record(msgpack.packb(bad, use_bin_type=True))
    for bad in (items[:-1], items + [None]):
        with pytest.raises(EncodingError):
            decode_record(msgpack.packb(bad, use_bin_type=True))


def test_cred_record_reason_is_empty_or_a_reason_code() -> None:
    """Entry format 2: a cred record's reason is "" or a reason code, as the rules write it;
    a record holding free text (a v1 reason, a person's circumstances) is refused."""
    for state, changed, code in ((REVOKED, 9, "withdrawn"), (SUSPENDED, 4, "under-review"),
                                 (ISSUED, 5, "review-complete"), (ISSUED, None, "")):
        good = CredRecord("uni", C1, state, 3, changed, code, T)
        assert decode_record(good.encode()) == good
    for state, changed, text in ((REVOKED, 9, "academic misconduct"),
                                 (SUSPENDED, 4, "review"), (ISSUED, 5, "cleared"),
                                 (REVOKED, 9, "under-review"), (SUSPENDED, 4, "withdrawn"),
                                 (ISSUED, None, "unspecified"), (ISSUED, 5, "")):
        with pytest.raises(EncodingError, match="reason"):
            decode_record(CredRecord("uni", C1, state, 3, changed, text, T).encode())


def test_refuses_inconsistent_key_record() -> None:
    good = KeyRecord("uni", key_id(PUB), PUB, 1, 5, KEY_ROTATED, "")
    items = msgpack.unpackb(good.encode(), raw=False)
    for pos, value in ((2, key_id(OTHER_PUB)), (5, None), (6, "")):
        bad = list(items)
        bad[pos] = value
        with pytest.raises(EncodingError):
            decode_record(msgpack.packb(bad, use_bin_type=True))
    assert decode_record(good.encode()) == good


def test_refuses_unknown_record_kind_and_cred_state() -> None:
    with pytest.raises(EncodingError, match="record kind"):
        decode_record(msgpack.packb(["credential", "uni", C1]))
    with pytest.raises(EncodingError, match="slot or status-list"):
        decode_record(msgpack.packb(["slots", "uni", key_id(PUB), 0, C1]))
    bad = msgpack.unpackb(all_records()[0].encode(), raw=False)
    bad[3] = "valid"
    with pytest.raises(EncodingError, match="state"):
        decode_record(msgpack.packb(bad))


BAD_IDS = ["", " a", "a b", "-a", ".a", "+a", "a/b", "a\n", "a\x00", "\u00e9", "a\u00e9",
           "a,b", "a" * (MAX_ID_LEN + 1), "\uff41", "a\t"]
GOOD_IDS = ["a", "A", "0", "a.b:c@d+e-f_g", "a" * MAX_ID_LEN, "9-", "uni.example"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_refuses_bad_ids(bad: str) -> None:
    with pytest.raises(EncodingError, match="issuer id"):
        make_statement(SUSPEND, bad, T, C1, "unspecified")
    with pytest.raises(EncodingError, match="credential"):
        make_statement(SUSPEND, "uni", T, bad, "unspecified")
    with pytest.raises(EncodingError, match="part"):
        make_statement(ISSUE, "uni", T, C1, DIGEST, "cs201", T, None, 0, [bad])
    with pytest.raises(EncodingError, match="achievement"):
        make_statement(ISSUE, "uni", T, C1, DIGEST, bad, T, None, 0, [])
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([SUSPEND, bad, T, C1, "unspecified"]))
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([SUSPEND, "uni", T, bad, "unspecified"]))


@pytest.mark.parametrize("good", GOOD_IDS)
def test_accepts_good_ids(good: str) -> None:
    st_ = make_statement(SUSPEND, good, T, C1, "unspecified")
    assert decode_statement(st_.encode()) == st_
    st_ = make_statement(ISSUE, good, T, C1, DIGEST, good, T, None, 0, [])
    assert decode_statement(st_.encode()) == st_
    assert st_.achievement_id == good


# Handles the log must refuse: it names a credential by a random v4 UUID in lower case and
# nothing else, least of all the issuer's own id (a student number as often as not).
BAD_HANDLES = [
    "", "CS201-S2026000", "cs201-s2026000", "c-1", "S2026000",
    "urn:uuid:00000000-0000-4000-8000-00000000000A",  # upper case
    "URN:UUID:00000000-0000-4000-8000-000000000001",
    "urn:uuid:4F3A2B1C-0D9E-4A8B-9C7D-6E5F4A3B2C1D",
    "urn:uuid:00000000-0000-1000-8000-000000000001",  # version 1 (time based)
    "urn:uuid:00000000-0000-3000-8000-000000000001",  # version 3 (name based, MD5)
    "urn:uuid:00000000-0000-5000-8000-000000000001",  # version 5 (name based, SHA-1)
    "urn:uuid:00000000-0000-7000-8000-000000000001",  # version 7 (time ordered)
    "urn:uuid:00000000-0000-0000-0000-000000000000",  # the nil UUID
    "urn:uuid:00000000-0000-4000-0000-000000000001",  # the NCS variant
    "urn:uuid:00000000-0000-4000-c000-000000000001",  # the Microsoft variant
    "00000000-0000-4000-8000-000000000001",  # no urn:uuid:
    "uuid:00000000-0000-4000-8000-000000000001",
    "urn:uuid:{00000000-0000-4000-8000-000000000001}",
    "urn:uuid:00000000000040008000000000000001",  # no hyphens
    "urn:uuid:00000000-0000-4000-8000-0000000000001",  # one digit too many
    "urn:uuid:00000000-0000-4000-8000-00000000001",  # one too few
    "urn:uuid:00000000-0000-4000-8000-00000000000g",
    "urn:uuid:00000000-0000-4000-8000-000000000001\n",
    " urn:uuid:00000000-0000-4000-8000-000000000001",
    "urn:uuid:00000000-0000-4000-8000-000000000001#x",
    "https://uni.example/credentials/00000000-0000-4000-8000-000000000001",
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
]


@pytest.mark.parametrize("bad", BAD_HANDLES, ids=repr)
def test_refuses_bad_handles(bad: str) -> None:
    """Every place a v2 statement or record names a credential takes a handle only."""
    for kind in (REVOKE, SUSPEND, REINSTATE):
        with pytest.raises(EncodingError, match="credential: want urn:uuid"):
            make_statement(kind, "uni", T, bad, "unspecified")
        with pytest.raises(EncodingError, match="credential"):
            decode_statement(msgpack.packb([kind, "uni", T, bad, "unspecified"]))
    with pytest.raises(EncodingError, match="credential: want urn:uuid"):
        make_statement(ISSUE, "uni", T, bad, DIGEST, "cs201", T, None, 0, [])
    with pytest.raises(EncodingError, match="part: want urn:uuid"):
        make_statement(ISSUE, "uni", T, C1, DIGEST, "cs201", T, None, 0, [C2, bad])
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([ISSUE, "uni", T, bad, DIGEST, "cs201", T, None, 0, []],
                                       use_bin_type=True))
    for rec in (CredRecord("uni", bad, ISSUED, 3, None, "", T), SlotRecord("uni", key_id(PUB),
                                                                              0, bad)):
        with pytest.raises(EncodingError, match="credential"):
            decode_record(rec.encode())


def test_handles_of_the_test_helper_are_valid_and_distinct() -> None:
    hs = [handle(n) for n in (0, 1, 2, 255, 2**62 - 1)]
    assert len(set(hs)) == len(hs)
    for h in hs + [handle(2**128 - 1)]:
        st_ = make_statement(SUSPEND, "uni", T, h, "unspecified")
        assert decode_statement(st_.encode()) == st_
    assert handle(1) == "urn:uuid:00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize("kind", [REVOKE, SUSPEND, REINSTATE])
def test_status_reason_is_one_of_its_kinds_codes(kind: str) -> None:
    """docs/FORMAT.md §3.3: a status statement gives one of its kind's reason codes; free text
    (the case, the person) stays in the issuer's records."""
    for code in REASON_CODES[kind]:
        st_ = make_statement(kind, "uni", T, C1, code)
        assert decode_statement(st_.encode()) == st_ and st_.reason == code
    others = {c for k, codes in REASON_CODES.items() if k != kind for c in codes}
    bad: list[Any] = [c for c in sorted(others) if c not in REASON_CODES[kind]]
    assert bad  # each kind has a code no other kind may give
    bad += ["", "Unspecified", "unspecified ", "academic misconduct", "misconduct",
            "under review", "issued in error", "plagiarism in the exam of 2026-05-04", "cleared",
            0, None, b"unspecified", ["unspecified"]]
    for reason in bad:
        with pytest.raises(EncodingError, match=f"reason: want one of .* for {kind}"):
            make_statement(kind, "uni", T, C1, reason)
        with pytest.raises(EncodingError):
            decode_statement(msgpack.packb([kind, "uni", T, C1, reason], use_bin_type=True))


def test_reason_codes_are_the_documented_lists() -> None:
    assert REASON_CODES == {
        REVOKE: ("unspecified", "issued-in-error", "superseded", "withdrawn"),
        SUSPEND: ("unspecified", "under-review"),
        REINSTATE: ("unspecified", "review-complete"),
    }


def _issue_fields(**change: Any) -> tuple[Any, ...]:
    """A valid issue statement's fields (credential, digest, achievement, valid_from,
    valid_until, status_index, parts) with ``change`` applied."""
    fields = {"credential": C1, "digest": DIGEST, "achievement": "cs201", "valid_from": T,
              "valid_until": None, "status_index": 0, "parts": []}
    fields.update(change)
    return tuple(fields.values())


@pytest.mark.parametrize("fields,match", [
    (_issue_fields(parts=[M1, M1]), "twice"),
    (_issue_fields(parts=[C1]), "itself"),
    (_issue_fields(parts=[handle(100 + i) for i in range(257)]), "parts"),
    (_issue_fields(parts=M1), "parts"),
    (_issue_fields(digest=bytes(31)), "digest: want 32 bytes, got 31"),
    (_issue_fields(digest=bytes(33)), "digest: want 32 bytes, got 33"),
    (_issue_fields(digest=bytes(64)), "digest: want 32 bytes, got 64"),
    (_issue_fields(digest=b""), "digest"),
    (_issue_fields(digest=None), "digest"),
    (_issue_fields(digest=DIGEST.hex()), "digest"),
    (_issue_fields(achievement=""), "achievement"),
    (_issue_fields(achievement="Data Structures"), "achievement"),
    (_issue_fields(achievement=None), "achievement"),
    (_issue_fields(valid_from=-1), "valid_from"),
    (_issue_fields(valid_from=1 << 63), "valid_from"),
    (_issue_fields(valid_from=None), "valid_from"),
    (_issue_fields(valid_from=True), "valid_from"),
    (_issue_fields(valid_until=T), "valid_until: must be after valid_from"),
    (_issue_fields(valid_until=T - 1), "valid_until: must be after valid_from"),
    (_issue_fields(valid_until=0), "valid_until: must be after valid_from"),
    (_issue_fields(valid_until=-1), "valid_until"),
    (_issue_fields(valid_until=1 << 63), "valid_until"),
    (_issue_fields(status_index=-1), "status_index"),
    (_issue_fields(status_index=MAX_STATUS_INDEX + 1), "status_index"),
    (_issue_fields(status_index=1 << 63), "status_index"),
    (_issue_fields(status_index=True), "status_index"),
    (_issue_fields(status_index=False), "status_index"),
    (_issue_fields(status_index=None), "status_index"),
    (_issue_fields(status_index="0"), "status_index"),
], ids=["dup-part", "self-part", "257-parts", "parts-not-array", "digest-31", "digest-33",
        "digest-64", "digest-empty", "digest-nil", "digest-hex", "achievement-empty",
        "achievement-space", "achievement-nil", "valid-from-negative", "valid-from-huge",
        "valid-from-nil", "valid-from-bool", "valid-until-equal", "valid-until-before",
        "valid-until-zero", "valid-until-negative", "valid-until-huge", "index-negative",
        "index-past-max", "index-huge", "index-true", "index-false", "index-nil", "index-str"])
def test_issue_validation(fields: tuple[Any, ...], match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        make_statement(ISSUE, "uni", T, *fields)
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([ISSUE, "uni", T, *fields], use_bin_type=True))


def test_issue_accepts_its_bounds() -> None:
    """The other side of each refusal above: the bounds themselves are accepted."""
    for fields in (_issue_fields(valid_until=T + 1), _issue_fields(valid_from=0, valid_until=1),
                   _issue_fields(valid_from=(1 << 63) - 2, valid_until=(1 << 63) - 1),
                   _issue_fields(status_index=MAX_STATUS_INDEX),
                   _issue_fields(parts=[handle(100 + i) for i in range(256)])):
        st_ = make_statement(ISSUE, "uni", T, *fields)
        assert decode_statement(st_.encode()) == st_
    assert MAX_STATUS_INDEX == 64 * 131_072 - 1


@pytest.mark.parametrize("fields,match", [
    (("revocations", 0, 0, LIST), "purpose"),
    (("Revocation", 0, 0, LIST), "purpose"),
    (("suspend", 0, 0, LIST), "purpose"),
    (("", 0, 0, LIST), "purpose"),
    ((None, 0, 0, LIST), "purpose"),
    ((b"revocation", 0, 0, LIST), "purpose"),
    (("revocation", -1, 0, LIST), "list number"),
    (("revocation", MAX_LIST_NUMBER + 1, 0, LIST), "list number"),
    (("revocation", True, 0, LIST), "list number"),
    (("revocation", None, 0, LIST), "list number"),
    (("revocation", "0", 0, LIST), "list number"),
    (("revocation", 0, -1, LIST), "tree_size"),
    (("revocation", 0, 1 << 63, LIST), "tree_size"),
    (("revocation", 0, True, LIST), "tree_size"),
    (("revocation", 0, None, LIST), "tree_size"),
    (("revocation", 0, 0, b""), "list"),
    (("revocation", 0, 0, LIST.decode()), "list"),
    (("revocation", 0, 0, None), "list"),
], ids=["purpose-plural", "purpose-case", "purpose-kind", "purpose-empty", "purpose-nil",
        "purpose-bin", "number-negative", "number-64", "number-bool", "number-nil", "number-str",
        "size-negative", "size-huge", "size-bool", "size-nil", "list-empty", "list-str",
        "list-nil"])
def test_publish_status_list_validation(fields: tuple[Any, ...], match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        make_statement(PUBLISH_STATUS_LIST, "uni", T, *fields)
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([PUBLISH_STATUS_LIST, "uni", T, *fields],
                                       use_bin_type=True))


def test_publish_status_list_accepts_its_bounds() -> None:
    for fields in (("revocation", 0, 0, b"x"), ("suspension", MAX_LIST_NUMBER, (1 << 63) - 1,
                                                 LIST)):
        st_ = make_statement(PUBLISH_STATUS_LIST, "uni", T, *fields)
        assert decode_statement(st_.encode()) == st_
        assert st_.fields == fields


def test_text_limits_count_characters() -> None:
    st_ = make_statement(REGISTER_ACHIEVEMENT, "uni", T, "cs201", "n", "\U0001f40d" * 4096, "",
                         "")
    assert decode_statement(st_.encode()) == st_
    with pytest.raises(EncodingError, match="description"):
        make_statement(REGISTER_ACHIEVEMENT, "uni", T, "cs201", "n", "\U0001f40d" * 4097, "", "")
    make_statement(REVOKE_KEY, "uni", T, key_id(PUB), "r" * 1024)
    with pytest.raises(EncodingError, match="reason"):
        make_statement(REVOKE_KEY, "uni", T, key_id(PUB), "r" * 1025)
    make_statement(REGISTER_ISSUER, "uni", T, "n" * 256, "u" * 2048, PUB)
    with pytest.raises(EncodingError, match="name"):
        make_statement(REGISTER_ISSUER, "uni", T, "n" * 257, "", PUB)
    with pytest.raises(EncodingError, match="url"):
        make_statement(REGISTER_ISSUER, "uni", T, "", "u" * 2049, PUB)
    with pytest.raises(EncodingError, match="key id"):
        make_statement(REVOKE_KEY, "uni", T, key_id(PUB).upper(), "")


def test_refuses_times_that_are_not_ms_integers() -> None:
    bad: Any
    for bad in (-1, 1 << 63, True, None, "1", 1.0):
        with pytest.raises(EncodingError, match="time"):
            make_statement(SUSPEND, "uni", bad, C1, "unspecified")
    make_statement(SUSPEND, "uni", (1 << 63) - 1, C1, "unspecified")
    with pytest.raises(EncodingError, match="kind"):
        make_statement("issue-credential", "uni", T)


def test_refuses_text_that_is_not_utf8_encodable() -> None:
    with pytest.raises(EncodingError, match="Unicode"):
        make_statement(REVOKE_KEY, "uni", T, key_id(PUB), "bad \udcff")
    with pytest.raises(EncodingError, match="Unicode"):
        make_statement(REGISTER_ACHIEVEMENT, "uni", T, "cs201", "\ud800", "", "", "")
    with pytest.raises(EncodingError, match="reason"):
        make_statement(SUSPEND, "uni", T, C1, "bad \udcff")
    with pytest.raises(EncodingError):
        subject_commitment(bytes(32), "Ada \udcff")


def test_refuses_array_as_statement_kind() -> None:
    with pytest.raises(EncodingError, match="kind"):
        decode_statement(b"\x93\x90\xa1a\x01")
    with pytest.raises(EncodingError, match="kind"):
        decode_statement(msgpack.packb([["issue"], "uni", T, "c-1", ""]))
    with pytest.raises(EncodingError, match="kind"):
        make_statement(["issue"], "uni", T)  # type: ignore[arg-type]


@pytest.mark.parametrize("decode", [decode_statement, decode_entry, decode_record])
def test_refuses_deeply_nested_arrays(decode: Callable[[bytes], Any]) -> None:
    for depth in (900, 1_000, 1_023, 1_500):
        with pytest.raises(EncodingError):
            decode(b"\x91" * depth + b"\x01")


# ----------------------------------------------------------------------------- size limit


def _list_statement(size: int) -> Statement:
    """A publish-status-list statement whose list is ``size`` bytes (built directly, past
    make_statement's own limit): the one v2 field that can fill an entry."""
    return Statement(PUBLISH_STATUS_LIST, "uni", T, ("revocation", 0, 0, b"x" * size))


def _entry_of_size(target: int) -> bytes:
    """Valid entry bytes of exactly ``target`` bytes, padded through a status list's bytes
    (their bin16 header stays 3 bytes from 256 to 65,535)."""
    def build(size: int) -> bytes:
        return Entry(0, T, ROOT_A, ROOT_B, _list_statement(size).encode(), PUB,
                     bytes(64)).encode()

    base = build(300)
    data = build(300 + target - len(base))
    assert len(data) == target
    return data


def test_entry_size_limit() -> None:
    data = _entry_of_size(MAX_ENTRY_SIZE)
    entry = decode_entry(data)
    assert entry.encode() == data
    # One more list byte: 65,536 bytes.
    st_ = decode_statement(entry.statement)
    longer = _list_statement(len(st_.fields[3]) + 1)
    big = Entry(0, T, ROOT_A, ROOT_B, longer.encode(), PUB, bytes(64))
    with pytest.raises(EncodingError, match="65535"):
        big.encode()
    raw = msgpack.packb([2, 0, T, ROOT_A, ROOT_B, longer.encode(), PUB, bytes(64)],
                        use_bin_type=True)
    assert len(raw) == MAX_ENTRY_SIZE + 1
    with pytest.raises(EncodingError, match="at most"):
        decode_entry(raw)
    with pytest.raises(EncodingError):
        decode_entry(bytes(200_000))


def test_make_statement_refuses_what_no_entry_can_hold() -> None:
    with pytest.raises(EncodingError, match="at most 65535"):
        make_statement(PUBLISH_STATUS_LIST, "uni", T, "revocation", 0, 0, b"x" * 65_300)
    # Whatever make_statement accepts fits in an entry, at the largest index and time.
    size = 65_300
    while True:
        try:
            st_ = make_statement(PUBLISH_STATUS_LIST, "uni", T, "revocation", 0, 0, b"x" * size)
            break
        except EncodingError:
            size -= 1
    assert size > 65_000
    Entry((1 << 63) - 1, (1 << 63) - 1, ROOT_A, ROOT_B, st_.encode(), PUB, bytes(64)).encode()
    # The largest issue statement (256 parts) is far from the limit.
    st_ = make_statement(ISSUE, "uni", T, *_issue_fields(
        parts=[handle(100 + i) for i in range(256)], achievement="a" * MAX_ID_LEN,
        valid_until=(1 << 63) - 1, status_index=MAX_STATUS_INDEX))
    Entry((1 << 63) - 1, (1 << 63) - 1, ROOT_A, ROOT_B, st_.encode(), PUB, bytes(64)).encode()


# ----------------------------------------------------------------------------- mutations


@pytest.mark.parametrize("what", ["entry", "statement", "record"])
def test_every_single_byte_change(what: str) -> None:
    """Each byte of a valid encoding replaced by each other value: refused with EncodingError,
    or decoded to a value that re-encodes to exactly the changed bytes. Nothing else."""
    decode: Callable[[bytes], Any]
    if what == "entry":
        data, decode = sample_entry().encode(), decode_entry
    elif what == "statement":
        data, decode = STATEMENTS["issue-full"].encode(), decode_statement
    else:
        data, decode = all_records()[1].encode(), decode_record
    accepted = 0
    for pos in range(len(data)):
        for value in range(256):
            if value == data[pos]:
                continue
            changed = data[:pos] + bytes([value]) + data[pos + 1:]
            decoded = _decode_or_encoding_error(decode, changed)
            if decoded is not None:
                accepted += 1
                assert decoded.encode() == changed
    assert accepted > 0  # e.g. a changed hash byte or text character is still well-formed


# ----------------------------------------------------------------------------- properties


@PROPERTY
@given(st.binary(max_size=300))
@example(b"\x93\x90\xa1a\x01")
@example(_DEEP)
def test_arbitrary_bytes_raise_only_ledger_errors(data: bytes) -> None:
    for decode in (decode_entry, decode_statement, decode_record):
        try:
            value = decode(data)
        except LedgerError:
            continue
        assert value.encode() == data


_plain = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.text(max_size=20) | st.binary(max_size=40)
    | st.sampled_from(list(KINDS) + [CRED, KEY, ISSUER, ISSUED, REVOKED, SUSPENDED, "uni"])
    | st.just(bytes(32)) | st.just(PUB),
    lambda inner: st.lists(inner, max_size=9),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_plain, max_size=9))
def test_arbitrary_msgpack_arrays_raise_only_ledger_errors(value: list[Any]) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    for decode in (decode_entry, decode_statement, decode_record):
        decoded = _decode_or_encoding_error(decode, data)
        if decoded is not None:
            assert decoded.encode() == data


@PROPERTY
@given(st.sampled_from(sorted(STATEMENTS)), st.data())
def test_spliced_encodings_raise_only_ledger_errors(name: str, data: st.DataObject) -> None:
    """Valid entries with a random run of bytes replaced, inserted or removed."""
    raw = sample_entry(name).encode()
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, min(len(raw), start + 8)))
    changed = raw[:start] + data.draw(st.binary(max_size=8)) + raw[end:]
    for decode in (decode_entry, decode_statement):
        decoded = _decode_or_encoding_error(decode, changed)
        if decoded is not None:
            assert decoded.encode() == changed
    inner = decode_entry(raw).statement
    changed_inner = inner[:start % len(inner)] + data.draw(st.binary(max_size=4)) + inner[
        (start % len(inner)) + 1:]
    decoded = _decode_or_encoding_error(decode_statement, changed_inner)
    if decoded is not None:
        assert decoded.encode() == changed_inner


# ----------------------------------------------------------------------------- signatures


def test_signing_message_is_context_then_statement() -> None:
    data = STATEMENTS[ISSUE].encode()
    assert SIGN_CONTEXT == b"credential-ledger/v2 statement\n"
    assert signing_message(data) == SIGN_CONTEXT + data
    assert signing_message(data).startswith(SIGN_CONTEXT)


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_sign_then_verify(name: str) -> None:
    signed = sign_statement(STATEMENTS[name], SEED)
    assert signed.signer == PUB
    assert signed.statement == STATEMENTS[name].encode()
    assert signed.verify() == STATEMENTS[name]
    # An independent check with cryptography: the signature covers SIGN_CONTEXT || statement.
    Ed25519PrivateKey.from_private_bytes(SEED).public_key().verify(
        signed.signature, SIGN_CONTEXT + signed.statement)
    assert Ed25519PrivateKey.from_private_bytes(SEED).sign(
        SIGN_CONTEXT + signed.statement) == signed.signature


def test_signature_over_bare_statement_is_refused() -> None:
    data = STATEMENTS[ISSUE].encode()
    bare = Ed25519PrivateKey.from_private_bytes(SEED).sign(data)
    with pytest.raises(SignatureError):
        SignedStatement(data, PUB, bare).verify()


def _flips(data: bytes) -> list[bytes]:
    return [data[:i] + bytes([data[i] ^ (1 << b)]) + data[i + 1:]
            for i, b in itertools.product(range(len(data)), range(8))]


@pytest.mark.parametrize("field", ["statement", "signer", "signature"])
def test_every_bit_flip_is_refused(field: str) -> None:
    good = sign_statement(STATEMENTS["issue-full"], SEED)
    for flipped in _flips(getattr(good, field)):
        parts = {"statement": good.statement, "signer": good.signer,
                 "signature": good.signature}
        parts[field] = flipped
        with pytest.raises((VerificationError, EncodingError)):
            SignedStatement(**parts).verify()


def test_wrong_signer_or_lengths_are_refused() -> None:
    good = sign_statement(STATEMENTS[SUSPEND], SEED)
    with pytest.raises(SignatureError, match=key_id(OTHER_PUB)):
        SignedStatement(good.statement, OTHER_PUB, good.signature).verify()
    for signer in (b"", PUB[:31], PUB + b"\x00"):
        with pytest.raises(EncodingError, match="signer"):
            SignedStatement(good.statement, signer, good.signature).verify()
    for sig in (b"", good.signature[:63], good.signature + b"\x00"):
        with pytest.raises(EncodingError, match="signature"):
            SignedStatement(good.statement, PUB, sig).verify()
    with pytest.raises(EncodingError):
        SignedStatement(good.statement + b"\x00", PUB, good.signature).verify()


# Encodings of Ed25519 points of small order (libsodium's blocklist): with such a "public key",
# R = the same kind of point and S = 0 verifies for many or all messages under RFC 8032's
# cofactorless equation, so anyone can sign for it.
IDENTITY = b"\x01" + bytes(31)
SMALL_ORDER = [
    IDENTITY,
    bytes(32),  # order 4
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
]


def test_small_order_key_forgeries_are_refused() -> None:
    for name in STATEMENTS:
        with pytest.raises(SignatureError):
            SignedStatement(STATEMENTS[name].encode(), IDENTITY, IDENTITY + bytes(32)).verify()


@pytest.mark.parametrize("weak", SMALL_ORDER, ids=lambda b: b.hex()[:8])
def test_small_order_keys_cannot_be_registered(weak: bytes) -> None:
    with pytest.raises(EncodingError):
        make_statement(REGISTER_ISSUER, "uni", T, "", "", weak)
    with pytest.raises(EncodingError):
        make_statement(ROTATE_KEY, "uni", T, weak)


def test_signature_error_message_holds_no_secret() -> None:
    good = sign_statement(STATEMENTS[SUSPEND], SEED)
    with pytest.raises(SignatureError) as info:
        SignedStatement(good.statement, PUB, bytes(64)).verify()
    assert SEED.hex() not in str(info.value)
    assert str(info.value) == str(info.value).lower()


# ----------------------------------------------------------------------------- two Ed25519 checks
#
# Single checks (the offline verifier) use OpenSSL through cryptography; batches (append and
# audit workers) use libsodium through PyNaCl. The ledger's rule (canonical key not of small
# order, R not of small order, S < L, the cofactorless equation) makes both accept exactly the
# same signatures; these tests hold them to it where the bare libraries differ.

_L = 2**252 + 27742317777372353535851937790883648493


def _scalar(seed: bytes) -> int:
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    return (a & ((1 << 254) - 8)) | (1 << 254)


def _all(pub: bytes, msg: bytes, sig: bytes) -> tuple[bool, ...]:
    """(OpenSSL, libsodium, and verify_signature / verify_signature_fast as the ledger calls
    them): each under the ledger's rule."""
    out = []
    for equation in (ed25519.verify_openssl, ed25519.verify_sodium):
        try:
            events_module._check(pub, msg, sig, equation)
            out.append(True)
        except SignatureError:
            out.append(False)
    for check in (verify_signature, verify_signature_fast):
        try:
            check(pub, msg, sig)
            out.append(True)
        except SignatureError:
            out.append(False)
    return tuple(out)


def _both(pub: bytes, msg: bytes, sig: bytes) -> tuple[bool, bool]:
    """One answer for all four checks (they must agree), twice, as the tests below compare."""
    answers = _all(pub, msg, sig)
    assert len(set(answers)) == 1, answers
    return answers[0], answers[0]


def test_both_bindings_accept_good_signatures() -> None:
    for name in STATEMENTS:
        good = sign_statement(STATEMENTS[name], SEED)
        assert _both(good.signer, signing_message(good.statement), good.signature) == (True, True)
        assert SignedStatement(good.statement, good.signer, good.signature).verify(fast=True)


def test_identity_r_signature_is_refused_by_both() -> None:
    # A signer may pick r = 0: R is the identity and S = k*a. Bare OpenSSL accepts that
    # signature and bare libsodium refuses it; the ledger's rule refuses it on both paths.
    msg = signing_message(STATEMENTS[SUSPEND].encode())
    r_enc = IDENTITY
    k = int.from_bytes(hashlib.sha512(r_enc + PUB + msg).digest(), "little") % _L
    sig = r_enc + (k * _scalar(SEED) % _L).to_bytes(32, "little")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    Ed25519PublicKey.from_public_bytes(PUB).verify(sig, msg)  # bare OpenSSL: accepted
    assert _both(PUB, msg, sig) == (False, False)


def test_non_canonical_s_is_refused_by_both() -> None:
    good = sign_statement(STATEMENTS[REVOKE], SEED)
    s = int.from_bytes(good.signature[32:], "little")
    big = good.signature[:32] + (s + _L).to_bytes(32, "little")
    assert _both(PUB, signing_message(good.statement), big) == (False, False)


def test_non_canonical_keys_are_refused() -> None:
    # y = p + 2 .. 2^255 - 1 encode the same points as y - p: refused as keys and as signers.
    for y in ((1 << 255) - 19 + 2, (1 << 255) - 1):
        enc = y.to_bytes(32, "little")
        with pytest.raises(EncodingError, match="canonical"):
            make_statement(ROTATE_KEY, "uni", T, enc)
        assert _both(enc, b"m", bytes(64)) == (False, False)


@PROPERTY
@given(st.data())
def test_bindings_agree_on_tampered_signatures(data: st.DataObject) -> None:
    good = sign_statement(STATEMENTS[ISSUE], SEED)
    msg = bytearray(signing_message(good.statement))
    sig = bytearray(good.signature)
    pub = bytearray(good.signer)
    target = data.draw(st.sampled_from([msg, sig, pub]))
    i = data.draw(st.integers(0, len(target) - 1))
    target[i] ^= 1 << data.draw(st.integers(0, 7))
    assert _both(bytes(pub), bytes(msg), bytes(sig)) == (False, False)
