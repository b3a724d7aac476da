"""Signed notes, checkpoints and Ed25519 note keys.

Implements, byte for byte:

- c2sp.org/signed-note: a text ending in a newline, a blank line, then one or more signature
  lines ``— <key name> <base64(4-byte key id || signature)>``. The text is split from the
  signatures at the *last* blank line. Ed25519 (signature type 0x01) is the only key type.
- c2sp.org/tlog-checkpoint: the note text ``<origin>\\n<size>\\n<base64 root>\\n``. This ledger
  writes and accepts no extension lines (docs/FORMAT.md §7).
- The key strings of golang.org/x/mod/sumdb/note: verifier keys
  ``<name>+<8 hex key id>+<base64(0x01 || public key)>`` and signer keys
  ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``.

Timestamped witness cosignatures (c2sp.org/tlog-cosignature, type 0x04) are not handled here;
this module only signs and checks Ed25519 note signatures.

Parsing is strict: anything a conforming writer would not produce is refused, including
non-canonical base64 (a second spelling of the same signature), uppercase key ids and notes over
:data:`MAX_NOTE_SIZE`. Malformed keys raise :class:`~ledger.errors.KeyFileError`, malformed notes
and checkpoints :class:`~ledger.errors.EncodingError`, and signatures that do not check out
:class:`~ledger.errors.SignatureError`. No message ever contains a private key. Reading key files
is the caller's job; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING

from ledger import ed25519
from ledger.errors import EncodingError, KeyFileError, SignatureError
from ledger.parse import b64decode, b64encode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "Signer",
    "Verifier",
    "format_note",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_note",
    "parse_signer",
    "parse_verifier",
    "sign_checkpoint",
    "sign_note",
]

MAX_NOTE_SIZE = 1 << 20
"""The largest note, in UTF-8 bytes, that is parsed, built or signed."""

MAX_SIGNATURES = 100
"""The most signature lines a note may carry (sumdb/note's cap; C2SP asks for at least 16)."""

ALG_ED25519 = 0x01
"""The c2sp.org/signed-note signature type byte of Ed25519."""

_KEY_ID_SIZE = 4
_ED25519_KEY_SIZE = 32
_SIGNER_PREFIX = "PRIVATE+KEY+"
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_MAX_SIZE = (1 << 64) - 1  # checkpoint sizes are uint64 everywhere else (tlog-tiles, Go)

# Every ASCII control character except newline (c2sp.org/signed-note, "Format").
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


# Names and base64.


def _name_problem(name: str) -> str | None:
    """Say why ``name`` is not a valid key name, or return None if it is.

    A key name is non-empty, valid UTF-8, and holds no Unicode space and no ``+`` (signed-note,
    "Format"). Control characters are refused too: a note may not contain them, so a key so
    named could never sign one. The message never quotes the name (it may be part of a secret).
    """
    if not name:
        return "key name is empty"
    if "+" in name:
        return "key name contains '+'"
    for char in name:
        if char.isspace() or ord(char) < 0x20:
            return f"key name contains a space or control character (U+{ord(char):04X})"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "key name is not valid UTF-8"
    return None


def _b64decode(text: str) -> bytes | None:
    """Canonical padded base64 (:func:`ledger.parse.b64decode`), or None."""
    try:
        return b64decode(text)
    except ValueError:
        return None


# Keys.


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the key id of an Ed25519 note key: the first 4 bytes of
    ``SHA-256(name || 0x0A || 0x01 || public_key)`` (c2sp.org/signed-note, "Ed25519 signatures").

    Requires a valid key name and a 32-byte public key; raises KeyFileError otherwise.
    """
    problem = _name_problem(name)
    if problem is not None:
        raise KeyFileError(f"cannot compute key id: {problem}")
    if len(public_key) != _ED25519_KEY_SIZE:
        raise KeyFileError(f"cannot compute key id: public key is {len(public_key)} bytes, want 32")
    digest = sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key)
    return digest.digest()[:_KEY_ID_SIZE]


@dataclass(frozen=True, slots=True)
class Verifier:
    """An Ed25519 note verifier key: a name, its 4-byte key id and a 32-byte public key.

    Construction checks that ``key_id`` is the id computed from ``name`` and ``public_key``.
    """

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        problem = _name_problem(self.name)
        if problem is not None:
            raise KeyFileError(f"malformed verifier key: {problem}")
        if len(self.public_key) != _ED25519_KEY_SIZE:
            raise KeyFileError(
                f"malformed verifier key: public key is {len(self.public_key)} bytes, want 32"
            )
        computed = key_id(self.name, self.public_key)
        if self.key_id != computed:
            raise KeyFileError(
                f"malformed verifier key: key id {self.key_id.hex()} does not match the key "
                f"(computed {computed.hex()})"
            )

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Report whether ``signature`` is this key's Ed25519 signature of ``message``.

        Returns False, never raises, for a signature that is wrong, malleated or of the wrong
        length, and under a key or with an R of small order (the ledger's rule for every
        Ed25519 check, :func:`ledger.ed25519.acceptable`).
        """
        return ed25519.verify(self.public_key, message, signature)

    def __str__(self) -> str:
        encoded = b64encode(bytes([ALG_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


def parse_verifier(text: str) -> Verifier:
    """Parse a verifier key string ``<name>+<8 hex key id>+<base64(0x01 || public key)>``.

    Strict: no surrounding whitespace, a lowercase key id that matches the key, canonical padded
    base64 of exactly 33 bytes whose first byte is 0x01 (Ed25519). Raises KeyFileError otherwise.
    """
    parts = text.split("+", 2)  # the name holds no '+'; the base64 may
    if len(parts) != 3:
        raise KeyFileError(
            "malformed verifier key: want <name>+<key id>+<base64 key>, "
            f"got {len(parts) - 1} '+' separator(s)"
        )
    name, hex_id, encoded = parts
    problem = _name_problem(name)
    if problem is not None:
        raise KeyFileError(f"malformed verifier key: {problem}")
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise KeyFileError("malformed verifier key: key id is not 8 lowercase hex digits")
    raw = _b64decode(encoded)
    if raw is None:
        raise KeyFileError("malformed verifier key: key is not canonical padded base64")
    if len(raw) != 1 + _ED25519_KEY_SIZE:
        raise KeyFileError(
            f"malformed verifier key: key decodes to {len(raw)} bytes, want 33 "
            "(type byte and Ed25519 public key)"
        )
    if raw[0] != ALG_ED25519:
        raise KeyFileError(
            f"malformed verifier key: key type is 0x{raw[0]:02x}, want 0x01 (Ed25519)"
        )
    return Verifier(name=name, key_id=bytes.fromhex(hex_id), public_key=raw[1:])


@dataclass(frozen=True, slots=True)
class Signer:
    """An Ed25519 note signer key: a name and a 32-byte private seed.

    ``repr`` shows the name and key id only; ``str`` is the secret key string and must be
    treated as the secret itself.
    """

    name: str
    seed: bytes

    def __post_init__(self) -> None:
        problem = _name_problem(self.name)
        if problem is not None:
            raise KeyFileError(f"malformed signer key: {problem}")
        if len(self.seed) != _ED25519_KEY_SIZE:
            raise KeyFileError(f"malformed signer key: seed is {len(self.seed)} bytes, want 32")

    @classmethod
    def generate(cls, name: str) -> Signer:
        """Return a new signer with a fresh random seed."""
        import secrets

        return cls(name=name, seed=secrets.token_bytes(_ED25519_KEY_SIZE))

    def _private_key(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return self._private_key().public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        """The 4-byte key id (see :func:`key_id`)."""
        return key_id(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return self._private_key().sign(message)

    def verifier(self) -> Verifier:
        """Return the matching verifier key."""
        public_key = self.public_key
        return Verifier(name=self.name, key_id=key_id(self.name, public_key), public_key=public_key)

    def __str__(self) -> str:
        encoded = b64encode(bytes([ALG_ED25519]) + self.seed)
        return f"{_SIGNER_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id.hex()!r})"


def parse_signer(text: str) -> Signer:
    """Parse a secret key string ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``.

    Surrounding whitespace (a key file's final newline) is ignored; everything else is strict,
    and the key id must match the public key derived from the seed. Raises KeyFileError, whose
    message never quotes the input.
    """
    text = text.strip()
    if not text.startswith(_SIGNER_PREFIX):
        raise KeyFileError("malformed signer key: does not start with PRIVATE+KEY+")
    parts = text[len(_SIGNER_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise KeyFileError("malformed signer key: want PRIVATE+KEY+<name>+<key id>+<base64 key>")
    name, hex_id, encoded = parts
    problem = _name_problem(name)
    if problem is not None:
        raise KeyFileError(f"malformed signer key: {problem}")
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise KeyFileError("malformed signer key: key id is not 8 lowercase hex digits")
    raw = _b64decode(encoded)
    if raw is None:
        raise KeyFileError("malformed signer key: key is not canonical padded base64")
    if len(raw) != 1 + _ED25519_KEY_SIZE:
        raise KeyFileError(
            f"malformed signer key: key decodes to {len(raw)} bytes, want 33 "
            "(type byte and Ed25519 seed)"
        )
    if raw[0] != ALG_ED25519:
        raise KeyFileError(f"malformed signer key: key type is 0x{raw[0]:02x}, want 0x01 (Ed25519)")
    signer = Signer(name=name, seed=raw[1:])
    computed = signer.key_id
    if computed != bytes.fromhex(hex_id):
        # Both ids are derived from public data; neither reveals the seed.
        raise KeyFileError(
            f"malformed signer key: key id {hex_id} does not match the key "
            f"(computed {computed.hex()})"
        )
    return signer


# Notes.


def _text_problem(text: str) -> str | None:
    """Say why ``text`` cannot be the text of a signed note, or return None if it can."""
    if not text.endswith("\n"):
        return "text does not end with a newline"
    bad = _FORBIDDEN_CONTROL.search(text)
    if bad is not None:
        return f"text contains control character U+{ord(bad[0]):04X}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text is not valid UTF-8"
    return None


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note: key name, 4-byte key id, and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        problem = _name_problem(self.name)
        if problem is not None:
            raise EncodingError(f"malformed note signature: {problem}")
        if len(self.key_id) != _KEY_ID_SIZE:
            raise EncodingError(
                f"malformed note signature: key id is {len(self.key_id)} bytes, want 4"
            )
        if not self.signature:
            raise EncodingError("malformed note signature: signature is empty")

    def line(self) -> str:
        """Return the signature line, with its final newline."""
        encoded = b64encode(self.key_id + self.signature)
        return f"{_SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note: its text (ending in a newline) and its signatures, verified or not.

    Construction checks what :func:`parse_note` checks, so every Note can be formatted and parsed
    back: a valid text, 1 to :data:`MAX_SIGNATURES` signatures, at most :data:`MAX_NOTE_SIZE`
    bytes in all.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        problem = _text_problem(self.text)
        if problem is not None:
            raise EncodingError(f"malformed note: {problem}")
        if not self.signatures:
            raise EncodingError("malformed note: no signature lines, want at least one")
        if len(self.signatures) > MAX_SIGNATURES:
            raise EncodingError(
                f"malformed note: {len(self.signatures)} signature lines, limit {MAX_SIGNATURES}"
            )
        size = len(self.text.encode("utf-8")) + 1
        size += sum(len(sig.line().encode("utf-8")) for sig in self.signatures)
        if size > MAX_NOTE_SIZE:
            raise EncodingError(f"note is too large: {size} bytes, limit {MAX_NOTE_SIZE}")


def parse_note(data: bytes | str) -> Note:
    """Parse a signed note (c2sp.org/signed-note) without verifying it.

    Strict: valid UTF-8 of at most :data:`MAX_NOTE_SIZE` bytes (checked before anything else),
    no control character but newline, text and signatures split at the last blank line, and
    1 to :data:`MAX_SIGNATURES` lines of exactly ``— <name> <base64>`` where the base64 is
    canonical and holds a 4-byte key id and a non-empty signature. Raises EncodingError otherwise.
    """
    # 1. Size, then UTF-8.
    if len(data) > MAX_NOTE_SIZE:  # a str never has more characters than UTF-8 bytes
        raise EncodingError(
            f"note is too large: more than {MAX_NOTE_SIZE} bytes, limit {MAX_NOTE_SIZE}"
        )
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"malformed note: not valid UTF-8 at byte {exc.start}") from None
    else:
        text = data
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise EncodingError(
                f"malformed note: not valid UTF-8 at character {exc.start}"
            ) from None
        if size > MAX_NOTE_SIZE:
            raise EncodingError(f"note is too large: {size} bytes, limit {MAX_NOTE_SIZE}")

    # 2. Characters.
    bad = _FORBIDDEN_CONTROL.search(text)
    if bad is not None:
        raise EncodingError(
            f"malformed note: control character U+{ord(bad[0]):04X} at character {bad.start()}"
        )

    # 3. Split at the last blank line: signature lines never hold an empty line, so everything
    #    up to and including the newline before it is text, even if the text has blank lines.
    split = text.rfind("\n\n")
    if split < 0:
        raise EncodingError("malformed note: no blank line before the signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise EncodingError("malformed note: no signature lines after the blank line")
    if not block.endswith("\n"):
        raise EncodingError("malformed note: last signature line does not end with a newline")
    count = block.count("\n")
    if count > MAX_SIGNATURES:
        raise EncodingError(f"malformed note: {count} signature lines, limit {MAX_SIGNATURES}")

    # 4. Signature lines.
    signatures: list[NoteSignature] = []
    for number, line in enumerate(block[:-1].split("\n"), start=1):
        signatures.append(_parse_signature_line(line, number))
    return Note(text=body, signatures=tuple(signatures))


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    where = f"malformed note: signature line {number}"
    if not line.startswith(_SIGNATURE_PREFIX):
        raise EncodingError(f"{where} does not start with an em dash (U+2014) and a space")
    name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise EncodingError(f"{where} has no space between key name and signature")
    problem = _name_problem(name)
    if problem is not None:
        raise EncodingError(f"{where}: {problem}")
    raw = _b64decode(encoded)
    if raw is None:
        raise EncodingError(f"{where}: signature is not canonical padded base64")
    if len(raw) <= _KEY_ID_SIZE:
        raise EncodingError(
            f"{where}: signature decodes to {len(raw)} bytes, want a 4-byte key id and more"
        )
    return NoteSignature(name=name, key_id=raw[:_KEY_ID_SIZE], signature=raw[_KEY_ID_SIZE:])


def format_note(note: Note) -> str:
    """Return the signed note text: the note text, a blank line, and the signature lines."""
    return note.text + "\n" + "".join(sig.line() for sig in note.signatures)


def sign_note(text: str, *signers: Signer) -> str:
    """Sign ``text`` (which must end with a newline) with each signer, in order, and return the
    whole signed note. Raises EncodingError for an invalid text, no signers, or too large a note.
    """
    problem = _text_problem(text)
    if problem is not None:
        raise EncodingError(f"cannot sign note: {problem}")
    message = text.encode("utf-8")
    signatures = tuple(
        NoteSignature(name=signer.name, key_id=signer.key_id, signature=signer.sign(message))
        for signer in signers
    )
    return format_note(Note(text=text, signatures=signatures))


def open_note(data: bytes | str, verifiers: Sequence[Verifier]) -> tuple[Note, list[Verifier]]:
    """Parse a signed note and check its signatures against the trusted ``verifiers``.

    Per c2sp.org/signed-note, "Signatures": a line whose key name *and* key id do not both match
    a trusted key is ignored; every line that does match must verify; at least one must. Returns
    the note and the trusted verifiers whose signatures verified, in the order of their first
    lines. Raises EncodingError for a malformed note, SignatureError for a failed or missing
    trusted signature, and KeyFileError if two different trusted keys share a name and key id.
    """
    # 1. Parse.
    note = parse_note(data)

    # 2. Index the trusted keys by (name, key id). Two different keys under one index (a 32-bit
    #    id collision) mean the trusted list itself is wrong; give up, as sumdb/note does.
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        index = (verifier.name, verifier.key_id)
        other = known.setdefault(index, verifier)
        if other.public_key != verifier.public_key:
            raise KeyFileError(
                f"ambiguous trusted keys: two different keys are named "
                f"{verifier.name}+{verifier.key_id.hex()}"
            )

    # 3. Verify every line from a trusted key; one failure rejects the whole note.
    message = note.text.encode("utf-8")
    verified: dict[tuple[str, bytes], Verifier] = {}
    for sig in note.signatures:
        index = (sig.name, sig.key_id)
        trusted = known.get(index)
        if trusted is None:
            continue
        if not trusted.verify(message, sig.signature):
            raise SignatureError(
                f"invalid signature from trusted key {sig.name}+{sig.key_id.hex()}"
            )
        verified.setdefault(index, trusted)

    # 4. Require at least one.
    if not verified:
        found = ", ".join(f"{sig.name}+{sig.key_id.hex()}" for sig in note.signatures[:4])
        if len(note.signatures) > 4:
            found += f", and {len(note.signatures) - 4} more"
        want = ", ".join(f"{v.name}+{v.key_id.hex()}" for v in known.values()) or "none"
        raise SignatureError(
            f"note has no signature from a trusted key: signed by {found}; trusted: {want}"
        )
    return note, list(verified.values())


# Checkpoints.


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log checkpoint (c2sp.org/tlog-checkpoint): origin, tree size and 32-byte root hash."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not self.origin:
            raise EncodingError("malformed checkpoint: origin is empty")
        if "\n" in self.origin:
            raise EncodingError("malformed checkpoint: origin contains a newline")
        problem = _text_problem(self.origin + "\n")
        if problem is not None:
            raise EncodingError(f"malformed checkpoint: origin {problem.removeprefix('text ')}")
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= _MAX_SIZE
        ):
            raise EncodingError(f"malformed checkpoint: size {self.size!r} is not in [0, 2**64)")
        if len(self.root) != 32:
            raise EncodingError(f"malformed checkpoint: root is {len(self.root)} bytes, want 32")

    def body(self) -> str:
        """Return the note text: ``<origin>\\n<size>\\n<base64 root>\\n``."""
        return f"{self.origin}\n{self.size}\n{b64encode(self.root)}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text (no signatures).

    Strict: exactly three newline-terminated lines; a non-empty origin; the size in ASCII
    decimal without leading zeros (``0`` for the empty tree), below 2**64; the root as canonical
    padded base64 of 32 bytes. Extension lines are refused. Raises EncodingError otherwise.
    """
    if not text.endswith("\n"):
        raise EncodingError("malformed checkpoint: does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise EncodingError(
            f"malformed checkpoint: {len(lines)} lines, want 3 (origin, size, root)"
        )
    origin, size_text, root_text = lines
    # At most 20 digits: also keeps int() away from its digit limit on hostile input.
    if len(size_text) > 20 or not _DECIMAL.fullmatch(size_text):
        raise EncodingError("malformed checkpoint: size is not ASCII decimal without leading zeros")
    root = _b64decode(root_text)
    if root is None:
        raise EncodingError("malformed checkpoint: root is not canonical padded base64")
    return Checkpoint(origin=origin, size=int(size_text), root=root)


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> str:
    """Return the signed checkpoint note. The log key's name must be the origin (docs/FORMAT.md §7.1);
    raises KeyFileError otherwise."""
    if signer.name != cp.origin:
        raise KeyFileError(
            f"signer key name {signer.name!r} does not match checkpoint origin {cp.origin!r}"
        )
    return sign_note(cp.body(), signer)


def open_checkpoint(data: bytes | str, verifier: Verifier) -> Checkpoint:
    """Verify a signed checkpoint against the log's key and return it.

    Raises what :func:`open_note` raises, EncodingError if the text is not a checkpoint, and
    SignatureError if its origin is not the log key's name.
    """
    note, _ = open_note(data, [verifier])
    cp = parse_checkpoint(note.text)
    if cp.origin != verifier.name:
        raise SignatureError(
            f"checkpoint origin {cp.origin!r} does not match log key name {verifier.name!r}"
        )
    return cp
