"""The bytes of a compromise index (docs/FORMAT.md §3.2, §5.2): the optional sixth field of
``revoke-key`` and the 10-field key record, strictly decoded, and the example FORMAT.md
shows, checked against the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgpack
import pytest

from ledger.errors import EncodingError
from ledger.events import REVOKE_KEY, decode_statement, key_id, make_statement
from ledger.records import (
    KEY,
    KEY_REVOKED,
    KEY_ROTATED,
    KeyRecord,
    decode_record,
    map_key,
    record_hash,
)

FORMAT = Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md"
PUB = bytes.fromhex("b9df896d052495d9c734683dd561ba8ce66d29528ccbbe296c7c10243d56df7c")
KID = key_id(PUB)
T = 1767312000000


def _pack(items: list[Any]) -> bytes:
    return bytes(msgpack.packb(items, use_bin_type=True))


def _hex_block(after: str) -> bytes:
    """The bytes of the first fenced hex block after ``after`` in FORMAT.md (the annotated
    form: hex pairs before each '#')."""
    text = FORMAT.read_text(encoding="utf-8")
    start = text.index(after)
    block = text[text.index("```\n", start) + 4:]
    block = block[:block.index("```")]
    pairs = []
    for line in block.splitlines():
        pairs += re.findall(r"\b[0-9a-f]{2}\b", line.split("#")[0])
    return bytes.fromhex("".join(pairs))


def test_the_documented_example_is_what_the_code_writes() -> None:
    st = make_statement(REVOKE_KEY, "uni", T, KID, "laptop stolen", 2)
    assert _hex_block("`revoke-key` statement (statement time 1767312000000), 57 bytes") == \
        st.encode()
    assert len(st.encode()) == 57 and st.compromised_since == 2
    rec = KeyRecord("uni", KID, PUB, 0, 4, KEY_ROTATED, "laptop stolen", 6, 2)
    data = _hex_block("The key record it writes, 86 bytes")
    assert data == rec.encode() and len(data) == 86 and decode_record(data) == rec
    text = FORMAT.read_text(encoding="utf-8")
    assert f"value hash `{record_hash(data).hex()}`" in text
    assert f"map key `{map_key(KEY, 'uni', KID).hex()}`" in text


def test_revoke_key_takes_an_optional_index_and_nothing_else() -> None:
    plain = make_statement(REVOKE_KEY, "uni", T, KID, "r")
    assert plain.compromised_since is None and len(plain.fields) == 2
    assert decode_statement(plain.encode()) == plain
    flagged = make_statement(REVOKE_KEY, "uni", T, KID, "r", 0)
    assert decode_statement(flagged.encode()) == flagged and flagged.compromised_since == 0
    for bad in (None, -1, True, "2", b"\x02", 1 << 63, [2]):
        with pytest.raises(EncodingError, match="compromised since"):
            make_statement(REVOKE_KEY, "uni", T, KID, "r", bad)
        with pytest.raises(EncodingError):
            decode_statement(_pack([REVOKE_KEY, "uni", T, KID, "r", bad]))
    for fields in ([KID], [KID, "r", 2, 3]):
        with pytest.raises(EncodingError, match="want 2 or 3 fields"):
            decode_statement(_pack([REVOKE_KEY, "uni", T, *fields]))


GOOD = [
    KeyRecord("uni", KID, PUB, 0, 4, KEY_ROTATED, "stolen", 6, 2),  # flagged after rotation
    KeyRecord("uni", KID, PUB, 0, 4, KEY_ROTATED, "", 5, 0),
    KeyRecord("uni", KID, PUB, 1, 4, KEY_REVOKED, "stolen", 4, 3),  # flagged as it ends
    KeyRecord("uni", KID, PUB, 1, 4, KEY_REVOKED, "stolen", 4, 1),
]


@pytest.mark.parametrize("rec", GOOD, ids=lambda r: f"{r.end}-{r.compromised_since}")
def test_ten_field_key_records(rec: KeyRecord) -> None:
    data = rec.encode()
    assert len(msgpack.unpackb(data)) == 10
    assert decode_record(data) == rec
    assert rec.untrusted_from == rec.compromised_since and rec.revoked_index == rec.revoked_at
    since = rec.compromised_since
    assert since is not None
    assert not rec.trusted_at(since) and rec.trusted_at(since - 1) == (since > rec.active_from)


@pytest.mark.parametrize("items, why", [
    # What the 8-field form says: one encoding per key.
    (["key", "uni", KID, PUB, 1, 4, KEY_REVOKED, "r", 4, 4], "active span"),
    # Not ended, or compromised outside its span.
    (["key", "uni", KID, PUB, 1, None, "", "r", 4, 2], "has not ended"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 6, 0], "active span"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 6, 4], "active span"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 6, 9], "active span"),
    # A revocation that did not end the key; a rotated key revoked before its rotation.
    (["key", "uni", KID, PUB, 1, 4, KEY_REVOKED, "r", 6, 2], "must equal ended_at"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 4, 2], "after its rotation"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 3, 2], "after its rotation"),
    # Not indexes; other lengths.
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", None, 2], "revoked_at"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 6, None], "compromised_since"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 6, -1], "compromised_since"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 6], "want 8 or 10 fields"),
    (["key", "uni", KID, PUB, 1, 4, KEY_ROTATED, "r", 6, 2, 0], "want 8 or 10 fields"),
])
def test_inconsistent_ten_field_records_are_refused(items: list[Any], why: str) -> None:
    with pytest.raises(EncodingError, match=why):
        decode_record(_pack(items))


def test_eight_field_records_keep_their_bytes_and_meaning() -> None:
    rotated = KeyRecord("uni", KID, PUB, 0, 4, KEY_ROTATED, "")
    revoked = KeyRecord("uni", KID, PUB, 0, 4, KEY_REVOKED, "stolen")
    active = KeyRecord("uni", KID, PUB, 0, None, "", "")
    for rec in (rotated, revoked, active):
        assert rec.encode() == _pack(["key", "uni", KID, PUB, rec.active_from, rec.ended_at,
                                      rec.end, rec.reason])
    assert (rotated.revoked_index, rotated.untrusted_from) == (None, None)
    assert (revoked.revoked_index, revoked.untrusted_from) == (4, 4)
    assert (active.revoked_index, active.untrusted_from) == (None, None)
    assert rotated.trusted_at(3) and not rotated.trusted_at(4)
    assert revoked.trusted_at(3) and not revoked.trusted_at(4)
