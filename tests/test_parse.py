"""What the verifier's modules parse with: the field checks against the regular expressions
that specify them, the verifier's JSON reading against json.loads with its object_pairs_hook
(same value, or "not JSON" where json.loads raises), and canonical base64 (ledger.parse)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.bundle import parse_bundle
from ledger.errors import EncodingError
from ledger.events import MAX_ID_LEN, check_id, check_text
from ledger.parse import _no_duplicates, b64decode, b64encode
from ledger.parse import load_json as _load_json

# Text biased towards the characters the checks are about, plus anything at all.
_CHARS = st.one_of(st.sampled_from("0123456789abcdefABCDEF._:@+-/ \t\n\x00\x7f\x1f\u0660\xe9"),
                   st.characters())
TEXT = st.text(_CHARS, max_size=40)


@settings(max_examples=400)
@given(TEXT)
@example("")
@example("0")
@example("a\n")
@example("a!")
@example("\u0660")
@example("x\x1f")
def test_field_checks_match_the_regular_expressions(text: str) -> None:
    """Whole-text matches (a check that only matched a prefix would take ``a!``)."""
    def ok(check: Any, *args: Any) -> bool:
        try:
            check(text, "field", *args)
        except EncodingError:
            return False
        return True

    assert ok(check_id) == (len(text) <= MAX_ID_LEN and bool(
        re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:@+-]*", text)))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert not ok(check_text)
    else:
        assert ok(check_text) == (re.search(r"[\x00-\x08\x0a-\x1f\x7f]", text) is None)


# ------------------------------------------------------------------------------------- JSON


def _outcome(fn: Any, data: bytes | str) -> tuple[str, Any]:
    try:
        value = fn(data)
    except EncodingError as exc:
        return "encoding", str(exc)
    except (ValueError, RecursionError):
        return "encoding", "x: not JSON"
    # NaN != NaN: compare through a canonical dump
    return "ok", json.dumps(value, sort_keys=False)


def _both(data: bytes | str) -> None:
    ours = _outcome(lambda d: _load_json(d, "x"), data)
    theirs = _outcome(lambda d: json.loads(d, object_pairs_hook=_no_duplicates), data)
    assert ours == theirs, (data, ours, theirs)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(_CHARS),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(JSON_VALUES, st.sampled_from(["", " ", "\n", "\t\r\n "]), st.booleans())
def test_json_reading_matches_json_loads_on_documents(value: Any, pad: str, as_bytes: bool) -> None:
    text = pad + json.dumps(value, ensure_ascii=False) + pad
    _both(text.encode("utf-8", "surrogatepass") if as_bytes else text)


@settings(max_examples=400)
@given(st.one_of(st.text(st.sampled_from('{}[]":,0123456789.eE+-tfnrulsaNIy \n\\"x\u00e9'),
                         max_size=30),
                 st.binary(max_size=30)))
@example('{"a": 1, "a": 2}')
@example('{"a": 1} x')
@example("")
@example("\ufeff{}")
@example(b"\xef\xbb\xbf{}")
@example("[NaN, Infinity, -Infinity]")
@example('"\\ud800"')
@example(b'{"a": "\xed\xa0\x80"}')
@example(json.dumps({"a": [1, 2.5, "x"]}).encode("utf-16"))
@example(json.dumps([1]).encode("utf-32-le"))
def test_json_reading_matches_json_loads_on_anything(data: bytes | str) -> None:
    _both(data)


def test_duplicate_members_and_deep_nesting_are_refused() -> None:
    with pytest.raises(EncodingError, match="member 'a' appears twice"):
        _load_json('{"a": 1, "a": 2}', "x")
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(deep, object_pairs_hook=_no_duplicates)
    with pytest.raises(EncodingError, match="bundle: not JSON"):
        parse_bundle(deep)


def test_json_reading_takes_a_bytearray() -> None:
    for data in (b"1", b"\xef\xbb\xbf1", b'{"a": [1, 2]}', b"  [true] "):
        _both(bytearray(data))


# ----------------------------------------------------------------------------------- base64


@given(st.binary(max_size=70))
def test_base64_round_trip(data: bytes) -> None:
    assert b64encode(data) == base64.b64encode(data).decode()
    assert b64decode(b64encode(data)) == data


@settings(max_examples=400)
@given(st.text(st.sampled_from("ABCDQRSwxyz0189+/=\n -_\u00e9"), max_size=12))
@example("QQ==")  # "A"
@example("QR==")  # "A" with non-zero trailing bits: a second spelling
@example("QQ")
@example("QQ=")
@example("QQ==\n")
@example("")
def test_base64_takes_exactly_the_canonical_spelling(text: str) -> None:
    try:
        canonical = base64.b64encode(base64.b64decode(text, validate=True)).decode() == text
    except (binascii.Error, ValueError):
        canonical = False
    try:
        b64decode(text)
    except ValueError:
        assert not canonical
    else:
        assert canonical
