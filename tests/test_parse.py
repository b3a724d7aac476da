"""ledger.parse against what it replaces on the verifier's path: the regular expressions, and
json.loads with an object_pairs_hook (same value, or an error where it raises one)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.errors import EncodingError
from ledger.parse import (
    control_chars,
    first_of,
    is_ascii_digits,
    is_decimal,
    is_id,
    is_lower_hex,
    load_json,
)
from ledger.verify import _no_duplicates

# Text biased towards the characters the checks are about, plus anything at all.
_CHARS = st.one_of(st.sampled_from("0123456789abcdefABCDEF._:@+-/ \t\n\x00\x7f\x1f\u0660\xe9"),
                   st.characters())
TEXT = st.text(_CHARS, max_size=40)


@settings(max_examples=400)
@given(TEXT)
@example("")
@example("0")
@example("00")
@example("01")
@example("a" * 16)
@example("\u0660")
def test_character_checks_match_the_regular_expressions(text: str) -> None:
    assert is_lower_hex(text, 16) == bool(re.fullmatch(r"[0-9a-f]{16}", text))
    assert is_lower_hex(text, 8) == bool(re.fullmatch(r"[0-9a-f]{8}", text))
    assert is_lower_hex(text) == bool(re.fullmatch(r"(?:[0-9a-f]{2})*", text))
    assert is_id(text) == bool(re.match(r"[A-Za-z0-9][A-Za-z0-9._:@+-]*\Z", text))
    assert is_decimal(text) == bool(re.fullmatch(r"0|[1-9][0-9]*", text))
    assert is_ascii_digits(text, 1, 18) == bool(re.fullmatch(r"[0-9]{1,18}", text))
    for pattern, chars in ((r"[\x00-\x08\x0a-\x1f\x7f]", control_chars((0, 8), (10, 31),
                                                                       (127, 127))),
                           (r"[\x00-\x09\x0b-\x1f]", control_chars((0, 9), (11, 31)))):
        m = re.search(pattern, text)
        assert first_of(text, chars) == (-1 if m is None else m.start())


_hook = _no_duplicates  # the hook the verifier parses with


def _outcome(fn: Any, data: bytes | str) -> tuple[str, Any]:
    try:
        value = fn(data)
    except EncodingError as exc:
        return "encoding", str(exc)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__
    # NaN != NaN: compare through a canonical dump
    return "ok", json.dumps(value, sort_keys=False)


def _both(data: bytes | str) -> None:
    ours = _outcome(lambda d: load_json(d, _hook), data)
    theirs = _outcome(lambda d: json.loads(d, object_pairs_hook=_hook), data)
    assert ours == theirs, (data, ours, theirs)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(_CHARS),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(JSON_VALUES, st.sampled_from(["", " ", "\n", "\t\r\n "]), st.booleans())
def test_load_json_matches_json_loads_on_documents(value: Any, pad: str, as_bytes: bool) -> None:
    text = pad + json.dumps(value, ensure_ascii=False) + pad
    _both(text.encode("utf-8", "surrogatepass") if as_bytes else text)


@settings(max_examples=400)
@given(st.one_of(st.text(st.sampled_from('{}[]":,0123456789.eE+-tfnrulsaNIy \n\\"x\u00e9'),
                         max_size=30),
                 st.binary(max_size=30)))
@example('{"a": 1, "a": 2}')
@example('{"a": 1} x')
@example('{"a": 1} {}')
@example("")
@example("   ")
@example("\ufeff{}")
@example(b"\xef\xbb\xbf{}")
@example("[NaN, Infinity, -Infinity]")
@example('"\\ud800"')
@example(b'{"a": "\xed\xa0\x80"}')
@example('{"a": "\x01"}')
@example(json.dumps({"a": [1, 2.5, "x"]}).encode("utf-16"))
@example(json.dumps([1]).encode("utf-32-le"))
@example(b"[1]")
@example(b"1")
def test_load_json_matches_json_loads_on_anything(data: bytes | str) -> None:
    _both(data)


def test_deep_nesting_is_an_error_both_ways() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        load_json(deep, _hook)
    with pytest.raises(RecursionError):
        json.loads(deep, object_pairs_hook=_hook)


def test_load_json_takes_a_bytearray_as_json_loads_does() -> None:
    for data in (b"1", b"\xef\xbb\xbf1", b'{"a": [1, 2]}', b"  [true] "):
        _both(bytearray(data))
