"""Tests for ledger.events: canonical msgpack, strict decoding, validation and signatures.

docs/FORMAT.md §1.1: every entry is one canonical msgpack value (fixed-order arrays, no maps, no floats,
integer times, ``bin`` bytes, UTF-8 ``str``); decoding is strict and re-encodes; an entry is at
most 65,535 bytes; statements are signed with Ed25519 over ``SIGN_CONTEXT || statement``; a
subject is named only through ``SHA-256(salt || subject)``.

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

from ledger import ed25519
from ledger import events as events_module
from ledger.errors import EncodingError, LedgerError, SignatureError, VerificationError
from ledger.events import (
    ACHIEVEMENT,
    CRED,
    ISSUE,
    ISSUED,
    ISSUER,
    KEY,
    KEY_REVOKED,
    KEY_ROTATED,
    KINDS,
    MAX_ENTRY_SIZE,
    MAX_ID_LEN,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    REVOKED,
    ROTATE_KEY,
    SIGN_CONTEXT,
    SUSPEND,
    SUSPENDED,
    AchievementRecord,
    CredRecord,
    Entry,
    IssuerRecord,
    KeyRecord,
    SignedStatement,
    Statement,
    decode_entry,
    decode_record,
    decode_statement,
    key_id,
    make_statement,
    map_key,
    record_hash,
    sign_statement,
    signing_message,
    subject_commitment,
    verify_signature,
    verify_signature_fast,
)

SEED = bytes(range(32))
PUB = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
OTHER_PUB = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))).public_key().public_bytes_raw()
T = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
ROOT_A = hashlib.sha256(b"a").digest()
ROOT_B = hashlib.sha256(b"b").digest()
SUBJECT = hashlib.sha256(b"subject").digest()
DOCUMENT = hashlib.sha256(b"document").digest()

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
    """One statement of every kind (two of ``issue``: minimal and with every optional field)."""
    return {
        REGISTER_ISSUER: make_statement(REGISTER_ISSUER, "uni.example", T, "Example University",
                                        "https://uni.example", PUB),
        RETIRE_ISSUER: make_statement(RETIRE_ISSUER, "uni.example", T, "merged"),
        ROTATE_KEY: make_statement(ROTATE_KEY, "uni.example", T, OTHER_PUB),
        REVOKE_KEY: make_statement(REVOKE_KEY, "uni.example", T, key_id(PUB), "laptop stolen"),
        ISSUE: make_statement(ISSUE, "uni.example", T, "c-1", SUBJECT, "Python 101", None, None,
                              []),
        "issue-full": make_statement(ISSUE, "uni.example", T, "cert:2026@cs+1", SUBJECT,
                                     "Zertifikat \u00fcber Python \U0001f40d", T + 1, DOCUMENT,
                                     ["m-1", "m-2"]),
        REVOKE: make_statement(REVOKE, "uni.example", T, "c-1", "academic misconduct"),
        SUSPEND: make_statement(SUSPEND, "uni.example", T, "c-1", "under review"),
        REINSTATE: make_statement(REINSTATE, "uni.example", T, "c-1", ""),
        REGISTER_ACHIEVEMENT: make_statement(REGISTER_ACHIEVEMENT, "uni.example", T, "cs201",
                                             "Data Structures", "Lists and trees.",
                                             "Pass the exam.", "Course"),
    }


STATEMENTS = all_statements()


def sample_entry(name: str = "issue-full", index: int = 7) -> Entry:
    signed = sign_statement(STATEMENTS[name], SEED)
    return Entry(index, T + 5, ROOT_A, ROOT_B, signed.statement, signed.signer, signed.signature)


def all_records() -> list[CredRecord | KeyRecord | IssuerRecord | AchievementRecord]:
    return [
        CredRecord("uni.example", "c-1", ISSUED, 3, None, "", T),
        CredRecord("uni.example", "c-1", REVOKED, 3, 9, "misconduct", T + 9),
        CredRecord("uni.example", "c-1", SUSPENDED, 3, 4, "review", T + 4),
        KeyRecord("uni.example", key_id(PUB), PUB, 1, None, "", ""),
        KeyRecord("uni.example", key_id(PUB), PUB, 1, 5, KEY_ROTATED, ""),
        KeyRecord("uni.example", key_id(PUB), PUB, 1, 6, KEY_REVOKED, "stolen"),
        IssuerRecord("uni.example", "Example University", "https://uni.example", 0, None, ""),
        IssuerRecord("uni.example", "Example University", "", 0, 12, "merged"),
        AchievementRecord("uni.example", "cs201", 7),
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
    want = _array(_str("suspend"), _str("uni.example"), _uint(T), _str("c-1"),
                  _str("under review"))
    assert data == want


def test_statement_accessors() -> None:
    assert STATEMENTS[ISSUE].cred_id == "c-1"
    assert STATEMENTS[REVOKE].reason == "academic misconduct"
    assert STATEMENTS[REVOKE_KEY].reason == "laptop stolen"
    assert STATEMENTS[RETIRE_ISSUER].reason == "merged"
    assert STATEMENTS[ISSUE].reason == ""
    with pytest.raises(AttributeError):
        _ = STATEMENTS[ROTATE_KEY].cred_id


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_entry_round_trip(name: str) -> None:
    entry = sample_entry(name)
    data = entry.encode()
    decoded = decode_entry(data)
    assert decoded == entry
    assert decoded.encode() == data
    assert decoded.signed().verify() == STATEMENTS[name]


@pytest.mark.parametrize("record", all_records(), ids=lambda r: type(r).__name__)
def test_record_round_trip(
        record: CredRecord | KeyRecord | IssuerRecord | AchievementRecord) -> None:
    data = record.encode()
    assert decode_record(data) == record
    assert record_hash(data) == hashlib.sha256(data).digest()


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


SUSPEND_PARTS = [_str("suspend"), _str("uni"), _uint(5), _str("c1"), _str("")]


def test_hand_built_statement_is_accepted() -> None:
    """The baseline of the refusals below: the canonical hand-built statement decodes."""
    st_ = decode_statement(_array(*SUSPEND_PARTS))
    assert (st_.kind, st_.issuer, st_.time, st_.fields) == (SUSPEND, "uni", 5, ("c1", ""))


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
    # str 16 for an empty string
    _array(*SUSPEND_PARTS[:4], b"\xda\x00\x00"),
    # a bin where a str is wanted
    _array(*SUSPEND_PARTS[:3], _bin(b"c1"), SUSPEND_PARTS[4]),
], ids=["array16", "array32", "str8", "str16", "bin-for-str"])
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
    for i in (0, 1, 3, 4):  # kind, issuer, cred id, reason
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
    ISSUE: ["kind", "id", "time", "id", "bin32", "title", "opt_time", "opt_bin32", "parts"],
    "issue-full": ["kind", "id", "time", "id", "bin32", "title", "opt_time", "opt_bin32",
                   "parts"],
    REVOKE: ["kind", "id", "time", "id", "text"],
    SUSPEND: ["kind", "id", "time", "id", "text"],
    REINSTATE: ["kind", "id", "time", "id", "text"],
    REGISTER_ACHIEVEMENT: ["kind", "id", "time", "id", "title", "text", "text", "achtype"],
}

CANDIDATES: dict[str, Any] = {
    "nil": None, "true": True, "false": False, "zero": 0, "seven": 7, "neg": -1,
    "big": (1 << 64) - 1, "empty-str": "", "str": "x", "hex16": "0123456789abcdef",
    "empty-bin": b"", "bin31": bytes(31), "bin33": bytes(33),
    "bin32": hashlib.sha256(b"x").digest(),  # 32 bytes, and not a small-order Ed25519 point
    "empty-list": [], "list": ["y"], "nested": [[1]],
}

ACCEPTS: dict[str, set[str]] = {
    "kind": set(),
    "id": {"str", "hex16"},
    "time": {"zero", "seven"},
    "opt_time": {"zero", "seven", "nil"},
    "text": {"empty-str", "str", "hex16"},
    "title": {"str", "hex16"},
    "bin32": {"bin32"},
    "opt_bin32": {"bin32", "nil"},
    "kid": {"hex16"},
    "parts": {"empty-list", "list"},
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
    good: list[Any] = [1, entry.index, entry.time, entry.prev_root, entry.state_root,
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
        for v in (0, 2, True, "1"):
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


def test_refuses_wrong_entry_field_counts() -> None:
    entry = sample_entry()
    good: list[Any] = [1, entry.index, entry.time, entry.prev_root, entry.state_root,
                       entry.statement, entry.signer, entry.signature]
    for bad in (good[:-1], good + [None], good[:1]):
        with pytest.raises(EncodingError):
            decode_entry(msgpack.packb(bad, use_bin_type=True))


@pytest.mark.parametrize("record", all_records(), ids=lambda r: type(r).__name__)
def test_refuses_wrong_type_in_every_record_field(
        record: CredRecord | KeyRecord | IssuerRecord | AchievementRecord) -> None:
    items = msgpack.unpackb(record.encode(), raw=False)
    # Values each position accepts, per record kind (the rest must be refused).
    ended = items[5] if items[0] == KEY else None
    table: dict[str, list[set[str]]] = {
        CRED: [set(), {"str", "hex16"}, {"str", "hex16"}, set(), {"zero", "seven"},
               {"zero", "seven", "nil"}, {"empty-str", "str", "hex16"}, {"zero", "seven"}],
        KEY: [set(), {"str", "hex16"}, set(), set(), {"zero", "seven"},
              {"zero", "seven"} if ended is not None else {"nil"},
              set() if ended is not None else {"empty-str"},
              {"empty-str", "str", "hex16"}],
        ISSUER: [set(), {"str", "hex16"}, {"empty-str", "str", "hex16"},
                 {"empty-str", "str", "hex16"}, {"zero", "seven"}, {"zero", "seven", "nil"},
                 {"empty-str", "str", "hex16"}],
        ACHIEVEMENT: [set(), {"str", "hex16"}, {"str", "hex16"}, {"zero", "seven"}],
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
        decode_record(msgpack.packb(["credential", "uni", "c-1"]))
    bad = msgpack.unpackb(all_records()[0].encode(), raw=False)
    bad[3] = "valid"
    with pytest.raises(EncodingError, match="state"):
        decode_record(msgpack.packb(bad))


BAD_IDS = ["", " a", "a b", "-a", ".a", "+a", "a/b", "a\n", "a\x00", "\u00e9", "a\u00e9",
           "a,b", "a" * (MAX_ID_LEN + 1), "\uff41", "a\t"]
GOOD_IDS = ["a", "A", "0", "a.b:c@d+e-f_g", "a" * MAX_ID_LEN, "9-", "uni.example"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_refuses_bad_ids(bad: str) -> None:
    with pytest.raises(EncodingError, match="id"):
        make_statement(SUSPEND, bad, T, "c-1", "")
    with pytest.raises(EncodingError, match="id"):
        make_statement(SUSPEND, "uni", T, bad, "")
    with pytest.raises(EncodingError):
        make_statement(ISSUE, "uni", T, "c-1", SUBJECT, "t", None, None, [bad])
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([SUSPEND, bad, T, "c-1", ""]))
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([SUSPEND, "uni", T, bad, ""]))


@pytest.mark.parametrize("good", GOOD_IDS)
def test_accepts_good_ids(good: str) -> None:
    st_ = make_statement(SUSPEND, good, T, good, "")
    assert decode_statement(st_.encode()) == st_


@pytest.mark.parametrize("fields,match", [
    (("c-1", SUBJECT, "   ", None, None, []), "title"),
    (("c-1", SUBJECT, "x" * 4097, None, None, []), "title"),
    (("c-1", SUBJECT, "a\nb", None, None, []), "control"),
    (("c-1", SUBJECT, "a\x7fb", None, None, []), "control"),
    (("c-1", SUBJECT, "t", None, None, ["m-1", "m-1"]), "twice"),
    (("c-1", SUBJECT, "t", None, None, ["c-1"]), "itself"),
    (("c-1", SUBJECT, "t", None, None, [f"m-{i}" for i in range(257)]), "parts"),
    (("c-1", SUBJECT, "t", -1, None, []), "expires"),
    (("c-1", SUBJECT, "t", 1 << 63, None, []), "expires"),
], ids=["blank-title", "long-title", "newline", "del", "dup-part", "self-part", "257-parts",
        "negative-expiry", "huge-expiry"])
def test_issue_validation(fields: tuple[Any, ...], match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        make_statement(ISSUE, "uni", T, *fields)
    with pytest.raises(EncodingError):
        decode_statement(msgpack.packb([ISSUE, "uni", T, *fields], use_bin_type=True))


def test_text_limits_count_characters() -> None:
    st_ = make_statement(ISSUE, "uni", T, "c-1", SUBJECT, "\U0001f40d" * 4096, None, None, [])
    assert decode_statement(st_.encode()) == st_
    make_statement(SUSPEND, "uni", T, "c-1", "r" * 1024)
    with pytest.raises(EncodingError, match="reason"):
        make_statement(SUSPEND, "uni", T, "c-1", "r" * 1025)
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
            make_statement(SUSPEND, "uni", bad, "c-1", "")
    make_statement(SUSPEND, "uni", (1 << 63) - 1, "c-1", "")
    with pytest.raises(EncodingError, match="kind"):
        make_statement("issue-credential", "uni", T)


def test_refuses_text_that_is_not_utf8_encodable() -> None:
    with pytest.raises(EncodingError):
        make_statement(SUSPEND, "uni", T, "c-1", "bad \udcff")
    with pytest.raises(EncodingError):
        make_statement(ISSUE, "uni", T, "c-1", SUBJECT, "\ud800", None, None, [])
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


def _entry_of_size(target: int) -> bytes:
    """Valid entry bytes of exactly ``target`` bytes: an issue statement with many parts (built
    directly, past make_statement's own limit), padded through its title."""
    parts = [f"p{i:03d}-" + "x" * 240 for i in range(256)]  # 256 parts of 245 characters

    def build(title_len: int) -> bytes:
        st_ = Statement(ISSUE, "uni", T, ("c-1", SUBJECT, "t" * title_len, None, None, parts))
        return Entry(0, T, ROOT_A, ROOT_B, st_.encode(), PUB, bytes(64)).encode()

    base = build(300)
    # Only the title length moves; its str16 header stays 3 bytes from 256 to 65,535.
    # A shortfall is taken from the parts instead.
    while len(base) > target:
        parts.pop()
        base = build(300)
    data = build(300 + target - len(base))
    assert len(data) == target
    return data


def test_entry_size_limit() -> None:
    data = _entry_of_size(MAX_ENTRY_SIZE)
    entry = decode_entry(data)
    assert entry.encode() == data
    # One more title character: 65,536 bytes.
    st_ = decode_statement(entry.statement)
    longer = Statement(ISSUE, "uni", T, (st_.fields[0], st_.fields[1], st_.fields[2] + "t",
                                         None, None, st_.fields[5]))
    big = Entry(0, T, ROOT_A, ROOT_B, longer.encode(), PUB, bytes(64))
    with pytest.raises(EncodingError, match="65535"):
        big.encode()
    raw = msgpack.packb([1, 0, T, ROOT_A, ROOT_B, longer.encode(), PUB, bytes(64)],
                        use_bin_type=True)
    assert len(raw) == MAX_ENTRY_SIZE + 1
    with pytest.raises(EncodingError, match="at most"):
        decode_entry(raw)
    with pytest.raises(EncodingError):
        decode_entry(bytes(200_000))


def test_make_statement_refuses_what_no_entry_can_hold() -> None:
    parts = [f"p{i:03d}-" + "x" * 250 for i in range(256)]
    with pytest.raises(EncodingError, match="at most 65535"):
        make_statement(ISSUE, "uni", T, "c-1", SUBJECT, "t", None, None, parts)
    # Whatever make_statement accepts fits in an entry, at the largest index and time.
    st_ = make_statement(ISSUE, "uni", T, "c-1", SUBJECT, "t", None, None, parts[:240])
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
    assert SIGN_CONTEXT == b"credential-ledger/v1 statement\n"
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
