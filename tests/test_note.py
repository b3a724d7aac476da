"""Tests for ledger.note: C2SP signed notes, checkpoints and Ed25519 note keys.

Known answers come from tests/vectors/signed-note.json (golang.org/x/mod sumdb/note and
c2sp.org/signed-note) and the example of c2sp.org/tlog-checkpoint. Every error a test provokes
goes through :func:`refused`, which also checks that its message is lowercase and holds no
private key known to the tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import (
    EncodingError,
    KeyFileError,
    LedgerError,
    SignatureError,
)
from ledger.note import (
    MAX_NOTE_SIZE,
    Checkpoint,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    format_note,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_signer,
    parse_verifier,
    sign_checkpoint,
    sign_note,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "signed-note.json").read_text(encoding="utf-8")
)
VALID: list[dict[str, str]] = VECTORS["valid"]
PETER = VALID[0]
VECTOR_IDS = [vector["vkey"].split("+")[0] for vector in VALID]

# The order of the Ed25519 group (RFC 8032 §5.1): adding it to S gives a second, non-canonical
# encoding of the same signature, which a verifier must refuse.
ED25519_L = 2**252 + 27742317777372353535851937790883648493

# Everything that would give a private key away if it showed up in a message or a repr.
_SECRETS: list[str] = []


def _remember(signer: Signer) -> Signer:
    seed = signer.seed
    _SECRETS.extend(
        [
            base64.b64encode(b"\x01" + seed).decode(),
            base64.b64encode(seed).decode(),
            seed.hex(),
            str(signer),
        ]
    )
    return signer


def new_signer(name: str) -> Signer:
    return _remember(Signer.generate(name))


PETER_SIGNER = _remember(parse_signer(PETER["skey"]))


def refused(
    errors: type[LedgerError] | tuple[type[LedgerError], ...],
    func: Callable[..., object],
    *args: Any,
) -> LedgerError:
    """Call ``func(*args)``, require one of ``errors``, check its message, and return it."""
    with pytest.raises(errors) as info:
        func(*args)
    message = str(info.value)
    assert message, "empty error message"
    assert not message[0].isupper(), message
    for secret in _SECRETS:
        assert secret not in message
    return info.value


def text_of(note: str) -> str:
    """The note text of a signed note: everything up to and including the last blank line's
    first newline."""
    return note[: note.rindex("\n\n") + 1]


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def respell(encoded: str) -> str:
    """A second, non-canonical spelling of padded base64 that ends in one "=": the last digit
    before it carries two unused bits, and this sets the lowest one."""
    assert encoded.endswith("=") and not encoded.endswith("==")
    digit = _B64_ALPHABET.index(encoded[-2])
    assert digit & 0b11 == 0
    respelled = encoded[:-2] + _B64_ALPHABET[digit | 1] + "="
    assert base64.b64decode(respelled) == base64.b64decode(encoded)
    return respelled


def one_signature_note(text: str, name: str, raw: bytes) -> str:
    """A note with one signature line whose base64 holds ``raw`` (key id and signature)."""
    return f"{text}\n\u2014 {name} {base64.b64encode(raw).decode()}\n"


# Known answers.


@pytest.mark.parametrize("vector", VALID, ids=VECTOR_IDS)
def test_vector_note_opens_with_its_key(vector: dict[str, str]) -> None:
    verifier = parse_verifier(vector["vkey"])
    for data in (vector["note"], vector["note"].encode("utf-8")):
        note, verified = open_note(data, [verifier])
        assert verified == [verifier]
        assert note.text == text_of(vector["note"])
        assert [(sig.name, sig.key_id) for sig in note.signatures] == [
            (verifier.name, verifier.key_id)
        ]
        assert len(note.signatures[0].signature) == 64
        assert format_note(note) == vector["note"]


@pytest.mark.parametrize("vector", VALID, ids=VECTOR_IDS)
def test_vector_verifier_key_round_trips(vector: dict[str, str]) -> None:
    verifier = parse_verifier(vector["vkey"])
    assert str(verifier) == vector["vkey"]
    assert verifier.key_id.hex() == vector["vkey"].split("+")[1]
    assert key_id(verifier.name, verifier.public_key) == verifier.key_id


def test_vector_signer_key_gives_the_verifier_key_and_the_note() -> None:
    signer = parse_signer(PETER["skey"])
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == "c74f20a3"
    assert str(signer.verifier()) == PETER["vkey"]
    assert str(signer) == PETER["skey"]
    # Ed25519 is deterministic (RFC 8032), so signing again reproduces the note byte for byte.
    assert sign_note(text_of(PETER["note"]), signer) == PETER["note"]


@pytest.mark.parametrize("vkey", VECTORS["malformed_vkeys"])
def test_vector_malformed_verifier_keys_are_refused(vkey: str) -> None:
    error = refused(KeyFileError, parse_verifier, vkey)
    assert str(error).startswith("malformed verifier key: ")


def test_checkpoint_example_of_the_spec_parses() -> None:
    # The example of c2sp.org/tlog-checkpoint (its signing key is not published).
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = parse_checkpoint(body)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.body() == body


# Tampering: every change to a valid note fails to open.


def _substitutions(data: bytes) -> Iterator[bytes]:
    for index, old in enumerate(data):
        for new in range(256):
            if new != old:
                yield data[:index] + bytes([new]) + data[index + 1 :]


@pytest.mark.parametrize("vector", VALID, ids=VECTOR_IDS)
def test_every_single_byte_substitution_fails(vector: dict[str, str]) -> None:
    verifier = parse_verifier(vector["vkey"])
    data = vector["note"].encode("utf-8")
    seen: dict[type[LedgerError], int] = {}
    for mutated in _substitutions(data):
        error = refused((SignatureError, EncodingError), open_note, mutated, [verifier])
        seen[type(error)] = seen.get(type(error), 0) + 1
    assert sum(seen.values()) == 255 * len(data)
    # Both layers were exercised: the parser, and the signature check behind it.
    assert seen[EncodingError] > 0
    assert seen[SignatureError] > 0


@pytest.mark.parametrize("vector", VALID, ids=VECTOR_IDS)
def test_every_signature_bit_flip_fails(vector: dict[str, str]) -> None:
    verifier = parse_verifier(vector["vkey"])
    text = text_of(vector["note"])
    sig = parse_note(vector["note"]).signatures[0]
    raw = sig.key_id + sig.signature
    for index in range(len(raw)):
        for bit in range(8):
            flipped = raw[:index] + bytes([raw[index] ^ (1 << bit)]) + raw[index + 1 :]
            tampered = one_signature_note(text, sig.name, flipped)
            error = refused(SignatureError, open_note, tampered, [verifier])
            if index < 4:  # the key id: now an unknown key, so no trusted signature
                assert "no signature from a trusted key" in str(error)
            else:
                assert "invalid signature from trusted key" in str(error)


@pytest.mark.parametrize("vector", VALID, ids=VECTOR_IDS)
def test_every_deletion_and_truncation_fails(vector: dict[str, str]) -> None:
    verifier = parse_verifier(vector["vkey"])
    data = vector["note"].encode("utf-8")
    for index in range(len(data)):
        refused((SignatureError, EncodingError), open_note, data[:index], [verifier])
        deleted = data[:index] + data[index + 1 :]
        refused((SignatureError, EncodingError), open_note, deleted, [verifier])


@pytest.mark.parametrize("vector", VALID, ids=VECTOR_IDS)
def test_malleated_signature_is_refused(vector: dict[str, str]) -> None:
    verifier = parse_verifier(vector["vkey"])
    text = text_of(vector["note"])
    sig = parse_note(vector["note"]).signatures[0]
    s = int.from_bytes(sig.signature[32:], "little")
    assert s + ED25519_L < 2**256
    malleated = sig.signature[:32] + (s + ED25519_L).to_bytes(32, "little")
    assert not verifier.verify(text.encode(), malleated)
    tampered = one_signature_note(text, sig.name, sig.key_id + malleated)
    refused(SignatureError, open_note, tampered, [verifier])


def test_noncanonical_base64_of_a_valid_signature_is_refused() -> None:
    # A lenient decoder (Python's, Go's StdEncoding) still finds the valid signature in it.
    encoded = PETER["note"].splitlines()[-1].rsplit(" ", 1)[1]
    note = PETER["note"].replace(encoded, respell(encoded))
    refused(EncodingError, open_note, note, [parse_verifier(PETER["vkey"])])


# Which signatures count.


def test_signatures_from_unknown_keys_are_ignored() -> None:
    known, unknown = new_signer("known.example"), new_signer("unknown.example")
    note_text = sign_note("hello\n", unknown, known)
    note, verified = open_note(note_text, [known.verifier()])
    assert verified == [known.verifier()]
    assert [sig.name for sig in note.signatures] == ["unknown.example", "known.example"]
    # Appending an unknown key's line (a witness cosignature, say) does not break a valid note.
    extra = one_signature_note("x\n", "witness.example/w1", b"\x00" * 4 + b"\x01" * 72)
    appended = note_text + extra.splitlines(keepends=True)[-1]
    assert open_note(appended, [known.verifier()])[1] == [known.verifier()]


def test_note_signed_by_two_keys_opens_with_either_or_both() -> None:
    a, b = new_signer("a.example"), new_signer("b.example")
    note_text = sign_note("two signers\n", a, b)
    assert open_note(note_text, [a.verifier()])[1] == [a.verifier()]
    assert open_note(note_text, [b.verifier()])[1] == [b.verifier()]
    # Verifiers come back in the order of the signature lines.
    assert open_note(note_text, [b.verifier(), a.verifier()])[1] == [a.verifier(), b.verifier()]


def test_note_with_only_unknown_signatures_fails() -> None:
    a, b = new_signer("a.example"), new_signer("b.example")
    note_text = sign_note("hello\n", a)
    error = refused(SignatureError, open_note, note_text, [b.verifier()])
    assert "no signature from a trusted key" in str(error)
    assert "a.example+" + a.key_id.hex() in str(error)
    refused(SignatureError, open_note, note_text, [])


def test_lines_sharing_only_name_or_only_key_id_with_a_trusted_key_are_ignored() -> None:
    a = new_signer("a.example")
    text = "hello\n"
    good = sign_note(text, a)
    same_name = one_signature_note(text, a.name, b"\x00\x00\x00\x00" + b"\x07" * 64)
    same_id = one_signature_note(text, "b.example", a.key_id + b"\x07" * 64)
    lines = same_name.splitlines(keepends=True)[-1] + same_id.splitlines(keepends=True)[-1]
    note, verified = open_note(good + lines, [a.verifier()])
    assert verified == [a.verifier()]
    assert len(note.signatures) == 3
    refused(SignatureError, open_note, text + "\n" + lines, [a.verifier()])


def test_failed_signature_from_a_trusted_key_rejects_the_whole_note() -> None:
    a, b = new_signer("a.example"), new_signer("b.example")
    text = "hello\n"
    forged = one_signature_note(text, b.name, b.key_id + b.sign(b"something else\n"))
    note_text = sign_note(text, a) + forged.splitlines(keepends=True)[-1]
    error = refused(SignatureError, open_note, note_text, [a.verifier(), b.verifier()])
    assert str(error) == f"invalid signature from trusted key b.example+{b.key_id.hex()}"
    # Without b among the trusted keys, b's line is just an unknown signature.
    assert open_note(note_text, [a.verifier()])[1] == [a.verifier()]


@pytest.mark.parametrize("bad_first", [True, False])
def test_every_line_of_a_trusted_key_is_checked(bad_first: bool) -> None:
    a = new_signer("a.example")
    text = "hello\n"
    good = sign_note(text, a).splitlines(keepends=True)[-1]
    bad = one_signature_note(text, a.name, a.key_id + b"\x07" * 64).splitlines(keepends=True)[-1]
    lines = bad + good if bad_first else good + bad
    refused(SignatureError, open_note, text + "\n" + lines, [a.verifier()])


def test_repeated_valid_lines_verify_one_key_once() -> None:
    a = new_signer("a.example")
    note_text = sign_note("hello\n", a, a)
    note, verified = open_note(note_text, [a.verifier(), a.verifier()])
    assert len(note.signatures) == 2
    assert verified == [a.verifier()]


def test_ambiguous_trusted_keys_are_refused() -> None:
    # Two keys whose ids collide under one name, from a birthday search over
    # seed = SHA-256("collision <i>"); reproduce with (prints "27071 53139"):
    #   python -c 'import hashlib;from ledger.note import Signer;s={};[print(s[k],i) for i in
    #   range(60000) if (k:=Signer("ambiguous.example",hashlib.sha256(b"collision %d"%i)
    #   .digest()).key_id) in s or s.setdefault(k,i)<0]'
    one, two = (
        Signer("ambiguous.example", hashlib.sha256(b"collision %d" % i).digest())
        for i in (27071, 53139)
    )
    assert one.key_id == two.key_id and one.public_key != two.public_key
    note_text = sign_note("hello\n", one)
    error = refused(KeyFileError, open_note, note_text, [one.verifier(), two.verifier()])
    assert "ambiguous trusted keys" in str(error)


# The note format.


@pytest.mark.parametrize(
    "text",
    [
        "a\n\nb\n",
        "a\n\n",
        "a\n\n\n",
        "\n",
        "\n\n",
        "x\n\n\u2014 k QUFBQUE=\n",  # a text that itself looks like a signed note
        (
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n"
            "\ned \u00e8 subito sera.\n"
        ),
    ],
)
def test_text_is_split_from_signatures_at_the_last_blank_line(text: str) -> None:
    a = new_signer("a.example")
    note_text = sign_note(text, a)
    note, _ = open_note(note_text, [a.verifier()])
    assert note.text == text
    assert format_note(note) == note_text


def _peter_case(old: str, new: str) -> str:
    assert old in PETER["note"]
    return PETER["note"].replace(old, new)


_PETER_B64 = PETER["note"].splitlines()[-1].rsplit(" ", 1)[1]

MALFORMED_NOTES: dict[str, str | bytes] = {
    "empty": "",
    "hyphen instead of em dash": _peter_case("\u2014 ", "- "),
    "en dash instead of em dash": _peter_case("\u2014 ", "\u2013 "),
    "two hyphens instead of em dash": _peter_case("\u2014 ", "-- "),
    "no dash": _peter_case("\u2014 ", ""),
    "no space after dash": _peter_case("\u2014 ", "\u2014"),
    "two spaces after dash": _peter_case("\u2014 ", "\u2014  "),
    "two spaces before signature": _peter_case("PeterNeumann ", "PeterNeumann  "),
    "tab before signature": _peter_case("PeterNeumann ", "PeterNeumann\t"),
    "trailing space": PETER["note"][:-1] + " \n",
    "no trailing newline": PETER["note"][:-1],
    "blank line after signatures": PETER["note"] + "\n",
    "crlf line endings": PETER["note"].replace("\n", "\r\n"),
    "no blank line": _peter_case("\n\n", "\n"),
    "no signature lines": text_of(PETER["note"]) + "\n",
    "no text": "\u2014 PeterNeumann " + _PETER_B64 + "\n",
    "no name": _peter_case("PeterNeumann ", " "),
    "no signature": _peter_case(_PETER_B64, ""),
    "plus in name": _peter_case("PeterNeumann", "Peter+Neumann"),
    "no-break space in name": _peter_case("PeterNeumann", "Peter\u00a0Neumann"),
    "non-base64 signature": _peter_case(_PETER_B64, "!" * len(_PETER_B64)),
    "unpadded signature": _peter_case(_PETER_B64, _PETER_B64.rstrip("=")),
    "url-safe base64": _peter_case(_PETER_B64, _PETER_B64.replace("/", "_")),
    "key id only": _peter_case(_PETER_B64, base64.b64encode(bytes.fromhex("c74f20a3")).decode()),
    "short key id": _peter_case(_PETER_B64, "x08g"),
    "nul in text": _peter_case("problem,", "problem\x00"),
    "carriage return in text": _peter_case("problem,\n", "problem,\r\n"),
    "escape in signature line": _peter_case("PeterNeumann", "Peter\x1bNeumann"),
    "lone surrogate in text": _peter_case("problem", "problem\ud800"),
    "invalid utf-8": PETER["note"].encode().replace(b"problem", b"probl\xffm"),
    "overlong newline": PETER["note"].encode().replace(b"problem,\n", b"problem,\xc0\x8a"),
    "encoded surrogate": PETER["note"].encode().replace(b"problem", b"probl\xed\xa0\x80"),
    "truncated em dash": PETER["note"].encode().replace("\u2014".encode(), b"\xe2\x80"),
}


@pytest.mark.parametrize("data", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_notes_are_refused(data: str | bytes) -> None:
    refused(EncodingError, parse_note, data)
    refused(EncodingError, open_note, data, [PETER_SIGNER.verifier()])


def _note_of_size(size: int) -> tuple[Signer, str]:
    a = new_signer("a.example")
    overhead = len(sign_note("\n", a).encode()) - 1
    text = "x" * (size - overhead - 1) + "\n"
    note_text = sign_note(text, a) if size <= MAX_NOTE_SIZE else text + sign_note("\n", a)[1:]
    assert len(note_text.encode()) == size
    return a, note_text


def test_size_limit() -> None:
    a, largest = _note_of_size(MAX_NOTE_SIZE)
    assert open_note(largest, [a.verifier()])[1] == [a.verifier()]
    assert open_note(largest.encode(), [a.verifier()])[1] == [a.verifier()]

    b, too_large = _note_of_size(MAX_NOTE_SIZE + 1)
    for data in (too_large, too_large.encode()):
        error = refused(EncodingError, parse_note, data)
        assert "too large" in str(error)
    # Fewer characters than the limit, more UTF-8 bytes.
    wide = "\u00e9" * (MAX_NOTE_SIZE // 2) + "\n\n" + too_large.splitlines()[-1] + "\n"
    assert len(wide) < MAX_NOTE_SIZE < len(wide.encode())
    assert "too large" in str(refused(EncodingError, parse_note, wide))
    # Refused before it is parsed: a huge input that is not a note at all.
    assert "too large" in str(refused(EncodingError, parse_note, b"\xff" * (MAX_NOTE_SIZE + 1)))
    # Nothing is signed that could not be opened.
    text = text_of(too_large)
    assert "too large" in str(refused(EncodingError, sign_note, text, b))


def test_signature_count_limit() -> None:
    a = new_signer("a.example")
    line = sign_note("hello\n", a).splitlines(keepends=True)[-1]
    # C2SP: verifiers must accept at least 16 signatures; this one accepts 100.
    note, verified = open_note("hello\n\n" + line * 100, [a.verifier()])
    assert len(note.signatures) == 100 and verified == [a.verifier()]
    refused(EncodingError, parse_note, "hello\n\n" + line * 101)
    sig = note.signatures[0]
    refused(EncodingError, Note, "hello\n", (sig,) * 101)
    refused(EncodingError, Note, "hello\n", ())


def test_sixteen_signers_sign_and_open() -> None:
    signers = [new_signer(f"w{i}.example") for i in range(16)]
    note_text = sign_note("cosigned\n", *signers)
    _, verified = open_note(note_text, [s.verifier() for s in reversed(signers)])
    assert verified == [s.verifier() for s in signers]


@pytest.mark.parametrize(
    ("text", "signers"),
    [
        ("no newline", 1),
        ("", 1),
        ("carriage\r\n", 1),
        ("tab\t\n", 1),
        ("surrogate \udc80\n", 1),
        ("no signers\n", 0),
    ],
)
def test_sign_note_refuses_what_cannot_be_a_note(text: str, signers: int) -> None:
    refused(EncodingError, sign_note, text, *[PETER_SIGNER] * signers)


def test_note_values_validate_on_construction() -> None:
    sig = parse_note(PETER["note"]).signatures[0]
    refused(EncodingError, NoteSignature, "", sig.key_id, sig.signature)
    refused(EncodingError, NoteSignature, "a b", sig.key_id, sig.signature)
    refused(EncodingError, NoteSignature, sig.name, sig.key_id[:3], sig.signature)
    refused(EncodingError, NoteSignature, sig.name, sig.key_id, b"")
    refused(EncodingError, Note, "no newline", (sig,))
    refused(EncodingError, Note, "nul\x00\n", (sig,))


# Keys.


def test_generated_keys_round_trip_through_their_strings() -> None:
    signer = new_signer("log.example/ledger")
    assert len(signer.seed) == 32 and len(signer.public_key) == 32 and len(signer.key_id) == 4
    assert parse_signer(str(signer)) == signer
    verifier = signer.verifier()
    assert parse_verifier(str(verifier)) == verifier
    assert verifier.key_id == signer.key_id == key_id(signer.name, signer.public_key)
    signature = signer.sign(b"message")
    assert len(signature) == 64
    assert verifier.verify(b"message", signature)
    assert not verifier.verify(b"massage", signature)
    assert new_signer("log.example/ledger").seed != signer.seed


def test_parse_signer_ignores_surrounding_whitespace_only() -> None:
    assert parse_signer(f"  {PETER['skey']}\n") == PETER_SIGNER
    assert parse_signer(f"\r\n{PETER['skey']}\r\n\t") == PETER_SIGNER
    inner = PETER["skey"].replace("+AYEK", "+ AYEK")
    refused(KeyFileError, parse_signer, inner)


def test_signer_repr_hides_the_seed() -> None:
    assert repr(PETER_SIGNER) == "Signer(name='PeterNeumann', key_id='c74f20a3')"
    signer = new_signer("log.example/ledger")
    for shown in (repr(signer), f"{signer!r}", repr([signer]), repr({"k": signer})):
        for secret in _SECRETS:
            assert secret not in shown


def _skey_with(raw: bytes, name: str = "PeterNeumann", hex_id: str = "c74f20a3") -> str:
    return f"PRIVATE+KEY+{name}+{hex_id}+{base64.b64encode(raw).decode()}"


_PETER_SKEY_B64 = PETER["skey"].split("+", 4)[4]
_PETER_SEED = base64.b64decode(_PETER_SKEY_B64)[1:]

MALFORMED_SIGNERS: dict[str, str] = {
    "empty": "",
    "verifier key": PETER["vkey"],
    "lowercase prefix": PETER["skey"].replace("PRIVATE+KEY+", "private+key+"),
    "no prefix": PETER["skey"].removeprefix("PRIVATE+KEY+"),
    "half a prefix": PETER["skey"].replace("PRIVATE+KEY+", "PRIVATE+"),
    "no name": PETER["skey"].replace("PeterNeumann+", ""),
    "empty name": PETER["skey"].replace("PeterNeumann", ""),
    "space in name": PETER["skey"].replace("PeterNeumann", "Peter Neumann"),
    "wrong key id": PETER["skey"].replace("c74f20a3", "c74f20a4"),
    "uppercase key id": PETER["skey"].replace("c74f20a3", "C74F20A3"),
    "short key id": PETER["skey"].replace("c74f20a3", "c74f20a"),
    "wrong name for key id": PETER["skey"].replace("PeterNeumann", "PeterNeumann2"),
    "surplus padding": PETER["skey"] + "=",
    "another seed": PETER["skey"][:-1] + "0",
    "url-safe base64": _skey_with(b"\x01" + _PETER_SEED).replace("+Y7h", "-Y7h"),
    "no type byte": _skey_with(_PETER_SEED + b"\x00"),
    "cosignature type byte": _skey_with(b"\x04" + _PETER_SEED),
    "short seed": _skey_with(b"\x01" + _PETER_SEED[:31]),
    "long seed": _skey_with(b"\x01" + _PETER_SEED + b"\x00\x00"),
    "inner newline": PETER["skey"].replace("+AYEK", "+\nAYEK"),
}


@pytest.mark.parametrize("skey", MALFORMED_SIGNERS.values(), ids=MALFORMED_SIGNERS.keys())
def test_malformed_signer_keys_are_refused_without_echoing_them(skey: str) -> None:
    message = str(refused(KeyFileError, parse_signer, skey))
    assert message.startswith("malformed signer key: ")
    encoded = skey.split("+", 4)[-1]
    for start in range(max(len(encoded) - 7, 0)):
        assert encoded[start : start + 8] not in message
    for start in range(len(_PETER_SKEY_B64) - 7):
        assert _PETER_SKEY_B64[start : start + 8] not in message


_PETER_PUBLIC = parse_verifier(PETER["vkey"]).public_key


def _vkey_with(raw: bytes, name: str = "PeterNeumann", hex_id: str = "c74f20a3") -> str:
    return f"{name}+{hex_id}+{base64.b64encode(raw).decode()}"


MALFORMED_VERIFIERS: dict[str, str] = {
    "empty": "",
    "name only": "PeterNeumann",
    "no key": "PeterNeumann+c74f20a3",
    "no key id": PETER["vkey"].replace("c74f20a3+", ""),
    "empty name": PETER["vkey"].replace("PeterNeumann", ""),
    "space in name": PETER["vkey"].replace("PeterNeumann", "Peter Neumann"),
    "no-break space in name": PETER["vkey"].replace("PeterNeumann", "Peter\u00a0Neumann"),
    "line separator in name": PETER["vkey"].replace("PeterNeumann", "Peter\u2028Neumann"),
    "control character in name": PETER["vkey"].replace("PeterNeumann", "Peter\x7fNeumann\x01"),
    "surrogate in name": PETER["vkey"].replace("PeterNeumann", "Peter\udc80"),
    "uppercase key id": PETER["vkey"].replace("c74f20a3", "C74F20A3"),
    "long key id": PETER["vkey"].replace("c74f20a3", "0c74f20a3"),
    "non-hex key id": PETER["vkey"].replace("c74f20a3", "c74f20ag"),
    "signed key id": PETER["vkey"].replace("c74f20a3", "+74f20a3"),
    "wrong key id": PETER["vkey"].replace("c74f20a3", "c74f20a4"),
    "leading space": " " + PETER["vkey"],
    "trailing newline": PETER["vkey"] + "\n",
    "unpadded": _vkey_with(b"\x01" + _PETER_PUBLIC + b"\x00").rstrip("="),
    "surplus padding": PETER["vkey"] + "==",
    "another key": PETER["vkey"][:-1] + "X",
    "no type byte": _vkey_with(_PETER_PUBLIC + b"\x00"),
    "cosignature type byte": _vkey_with(b"\x04" + _PETER_PUBLIC),
    "short key": _vkey_with(b"\x01" + _PETER_PUBLIC[:31]),
    "long key": _vkey_with(b"\x01" + _PETER_PUBLIC + b"\x00"),
}


@pytest.mark.parametrize("vkey", MALFORMED_VERIFIERS.values(), ids=MALFORMED_VERIFIERS.keys())
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    assert str(refused(KeyFileError, parse_verifier, vkey)).startswith("malformed verifier key: ")


def test_verify_returns_false_and_never_raises_for_bad_signatures() -> None:
    verifier = parse_verifier(PETER["vkey"])
    text = text_of(PETER["note"]).encode()
    good = parse_note(PETER["note"]).signatures[0].signature
    assert verifier.verify(text, good)
    for bad in (b"", good[:63], good + b"\x00", bytes(64), b"\xff" * 64, good[32:] + good[:32]):
        assert verifier.verify(text, bad) is False
    assert verifier.verify(b"", good) is False


def test_key_values_validate_on_construction() -> None:
    verifier = parse_verifier(PETER["vkey"])
    refused(KeyFileError, Verifier, verifier.name, b"\x00" * 4, verifier.public_key)
    refused(KeyFileError, Verifier, "Other", verifier.key_id, verifier.public_key)
    refused(KeyFileError, Verifier, verifier.name, verifier.key_id, verifier.public_key[:31])
    refused(KeyFileError, Signer, "PeterNeumann", _PETER_SEED[:31])
    refused(KeyFileError, Signer, "Peter+Neumann", _PETER_SEED)
    refused(KeyFileError, Signer, "Peter Neumann", _PETER_SEED)
    refused(KeyFileError, Signer.generate, "")
    refused(KeyFileError, key_id, "a b", _PETER_PUBLIC)
    refused(KeyFileError, key_id, "PeterNeumann", _PETER_PUBLIC + b"\x00")


# Checkpoints.

ROOT = hashlib.sha256(b"root").digest()


@pytest.mark.parametrize("size", [0, 1, 20852163, 2**64 - 1])
def test_checkpoint_round_trip(size: int) -> None:
    log = new_signer("log.example/ledger")
    cp = Checkpoint(origin=log.name, size=size, root=ROOT)
    assert parse_checkpoint(cp.body()) == cp
    assert cp.body() == f"log.example/ledger\n{size}\n{base64.b64encode(ROOT).decode()}\n"
    note_text = sign_checkpoint(cp, log)
    assert text_of(note_text) == cp.body()
    assert open_checkpoint(note_text, log.verifier()) == cp
    assert open_checkpoint(note_text.encode(), log.verifier()) == cp


def test_checkpoint_opens_with_a_witness_cosignature_appended() -> None:
    log, witness = new_signer("log.example/ledger"), new_signer("witness.example/w1")
    cp = Checkpoint(origin=log.name, size=3, root=ROOT)
    note_text = sign_note(cp.body(), log, witness)
    assert open_checkpoint(note_text, log.verifier()) == cp


_BODY = f"log.example/ledger\n7\n{base64.b64encode(ROOT).decode()}\n"
_ROOT_B64 = base64.b64encode(ROOT).decode()

MALFORMED_CHECKPOINTS: dict[str, str] = {
    "empty": "",
    "no final newline": _BODY[:-1],
    "two lines": "log.example/ledger\n7\n",
    "extension line": _BODY + "extension\n",
    "empty extension line": _BODY + "\n",
    "empty origin": _BODY.replace("log.example/ledger", ""),
    "control character in origin": _BODY.replace("log.example", "log\x00example"),
    "carriage return": _BODY.replace("\n", "\r\n"),
    "leading zero": _BODY.replace("\n7\n", "\n07\n"),
    "zero zero": _BODY.replace("\n7\n", "\n00\n"),
    "negative": _BODY.replace("\n7\n", "\n-7\n"),
    "plus sign": _BODY.replace("\n7\n", "\n+7\n"),
    "space before size": _BODY.replace("\n7\n", "\n 7\n"),
    "space after size": _BODY.replace("\n7\n", "\n7 \n"),
    "underscore in size": _BODY.replace("\n7\n", "\n1_000\n"),
    "arabic-indic digit": _BODY.replace("\n7\n", "\n\u0667\n"),
    "hex size": _BODY.replace("\n7\n", "\n0x7\n"),
    "empty size": _BODY.replace("\n7\n", "\n\n"),
    "size 2**64": _BODY.replace("\n7\n", f"\n{2**64}\n"),
    "size of 5000 digits": _BODY.replace("\n7\n", "\n" + "9" * 5000 + "\n"),
    "31-byte root": _BODY.replace(_ROOT_B64, base64.b64encode(ROOT[:31]).decode()),
    "33-byte root": _BODY.replace(_ROOT_B64, base64.b64encode(ROOT + b"\x00").decode()),
    "unpadded root": _BODY.replace(_ROOT_B64, _ROOT_B64.rstrip("=")),
    "non-canonical root": _BODY.replace(_ROOT_B64, respell(_ROOT_B64)),
    "hex root": _BODY.replace(_ROOT_B64, ROOT.hex()),
    "empty root": _BODY.replace(_ROOT_B64, ""),
}


@pytest.mark.parametrize("text", MALFORMED_CHECKPOINTS.values(), ids=MALFORMED_CHECKPOINTS.keys())
def test_malformed_checkpoints_are_refused(text: str) -> None:
    refused(EncodingError, parse_checkpoint, text)


def test_checkpoint_values_validate_on_construction() -> None:
    refused(EncodingError, Checkpoint, "", 1, ROOT)
    refused(EncodingError, Checkpoint, "a\nb", 1, ROOT)
    refused(EncodingError, Checkpoint, "a\x1fb", 1, ROOT)
    refused(EncodingError, Checkpoint, "a", -1, ROOT)
    refused(EncodingError, Checkpoint, "a", 2**64, ROOT)
    refused(EncodingError, Checkpoint, "a", True, ROOT)
    refused(EncodingError, Checkpoint, "a", 1, ROOT[:31])


def test_sign_checkpoint_requires_the_origin_as_key_name() -> None:
    log = new_signer("log.example/ledger")
    cp = Checkpoint(origin="log.example/other", size=1, root=ROOT)
    refused(KeyFileError, sign_checkpoint, cp, log)


def test_open_checkpoint_refuses_a_wrong_origin_key_or_body() -> None:
    log, other = new_signer("log.example/ledger"), new_signer("log.example/other")
    # Signed by the log's key, but for another origin.
    foreign = sign_note(Checkpoint(origin="log.example/other", size=1, root=ROOT).body(), log)
    error = refused(SignatureError, open_checkpoint, foreign, log.verifier())
    assert "does not match log key name" in str(error)
    # A valid checkpoint of another log.
    theirs = sign_checkpoint(Checkpoint(origin=other.name, size=1, root=ROOT), other)
    refused(SignatureError, open_checkpoint, theirs, log.verifier())
    # A signed note that is not a checkpoint.
    refused(EncodingError, open_checkpoint, sign_note("hello\n", log), log.verifier())
    # A checkpoint with an extension line.
    extended = sign_note(Checkpoint(origin=log.name, size=1, root=ROOT).body() + "ext\n", log)
    refused(EncodingError, open_checkpoint, extended, log.verifier())


# Properties.

_ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]))
_ANY_TEXT = st.text(_ANY_CHAR, max_size=300)
# Fragments of real notes and keys, so that random text gets past the first checks.
_FRAGMENTS = st.lists(
    st.sampled_from(
        [
            "\n",
            "\n\n",
            "\u2014 ",
            "\u2014",
            " ",
            "+",
            "=",
            "/",
            "PRIVATE+KEY+",
            "PeterNeumann",
            "c74f20a3",
            "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            _PETER_B64,
            "0",
            "7",
            "01",
            "example.com/log",
            _ROOT_B64,
            "\u00a0",
            "\r",
            "\x00",
            "\udc80",
            "\u00e9",
        ]
    ),
    max_size=40,
).map("".join)
_STR_PARSERS: list[Callable[[str], object]] = [
    parse_note,
    parse_verifier,
    parse_signer,
    parse_checkpoint,
]


def _only_ledger_errors(parse: Callable[[Any], object], data: str | bytes) -> None:
    try:
        parse(data)
    except LedgerError as error:
        for secret in _SECRETS:
            assert secret not in str(error)


@given(st.one_of(_ANY_TEXT, _FRAGMENTS))
def test_str_parsers_raise_only_ledger_errors(text: str) -> None:
    for parse in _STR_PARSERS:
        _only_ledger_errors(parse, text)


@given(st.binary(max_size=500))
def test_parsers_raise_only_ledger_errors_on_bytes(data: bytes) -> None:
    _only_ledger_errors(parse_note, data)
    _only_ledger_errors(lambda d: open_note(d, [PETER_SIGNER.verifier()]), data)
    # What a key file or a checkpoint read with errors="surrogateescape" would hand over.
    text = data.decode("utf-8", errors="surrogateescape")
    for parse in _STR_PARSERS:
        _only_ledger_errors(parse, text)


@given(st.data())
def test_random_edits_of_a_valid_note_fail_or_change_nothing(data: st.DataObject) -> None:
    note_text = PETER["note"]
    start = data.draw(st.integers(0, len(note_text)))
    end = data.draw(st.integers(start, min(len(note_text), start + 4)))
    edited = note_text[:start] + data.draw(st.text(_ANY_CHAR, max_size=4)) + note_text[end:]
    verifier = PETER_SIGNER.verifier()
    if edited == note_text:
        assert open_note(edited, [verifier])[1] == [verifier]
    else:
        try:
            open_note(edited, [verifier])
        except (SignatureError, EncodingError):
            return
        # The only edits that still open append or insert unknown signature lines.
        note = parse_note(edited)
        assert note.text == text_of(note_text)


_NOTE_TEXT = st.text(
    st.one_of(st.characters(exclude_categories=["Cs", "Cc"]), st.just("\n")), max_size=200
).map(lambda text: text + "\n")
_NAME = st.text(
    st.characters(exclude_categories=["Z", "C"], exclude_characters="+"), min_size=1, max_size=30
)


@settings(max_examples=50)
@given(_NOTE_TEXT, _NAME)
def test_any_text_signs_and_opens(text: str, name: str) -> None:
    signer = _remember(Signer.generate(name))
    note_text = sign_note(text, signer)
    note, verified = open_note(note_text, [signer.verifier()])
    assert note.text == text and verified == [signer.verifier()]
    assert format_note(parse_note(note_text.encode())) == note_text
    assert parse_signer(str(signer)) == signer
    assert parse_verifier(str(signer.verifier())) == signer.verifier()


@given(
    st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=50),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin=origin, size=size, root=root)
    assert parse_checkpoint(cp.body()) == cp
