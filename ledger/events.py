"""Statements and entries: their canonical msgpack encoding and validation.

Every value here is one msgpack array with a fixed field order (docs/FORMAT.md lists each field):
no maps, no floats, integers for times (UTC milliseconds since the Unix epoch), ``bin`` for bytes,
UTF-8 ``str`` for text. Decoding is strict: bytes that do not re-encode to exactly themselves are
refused, so one value has exactly one encoding and its hash is well defined (docs/FORMAT.md §1.1).

* A **statement** is what someone with authority says (docs/FORMAT.md §3): it is signed with Ed25519 over
  ``SIGN_CONTEXT || statement_bytes``.
* An **entry** is what the log sequences: a statement with its signer and signature, plus the
  entry's own index, the sequencing time, ``prev_root`` (the log root of everything before it: the
  hash chain) and ``state_root`` (the status-map root after applying it). The leaf hash of an
  entry is ``SHA-256(0x00 || entry_bytes)`` (RFC 9162 §2.1.1).
* A **record** is a value in the status map (docs/FORMAT.md §5): :mod:`ledger.records`, which
  uses this module's canonical msgpack and field checks.

This module has no I/O and does not import lmdb: it is part of the offline verifier.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final

import msgpack

from ledger import ed25519
from ledger.ed25519 import is_canonical_point, is_small_order
from ledger.errors import EncodingError, SignatureError

ENTRY_VERSION: Final = 2
"""The entry format (docs/FORMAT.md §4). Version 1 entries (issue 16 replaced their ``issue``
and status statements, which held the issuer's credential ids, titles and free-text reasons)
are refused by name: no store of them is read as if it were version 2."""
MAX_ENTRY_SIZE: Final = 65_535
"""Largest entry in bytes (the C2SP tlog-tiles entry-bundle limit)."""

SIGN_CONTEXT: Final = b"credential-ledger/v2 statement\n"
"""Prefix of every statement signature's message: a statement signature can never be mistaken
for a signed note (which starts with an origin line) or anything else a key might sign."""

# Statement kinds and who signs them (docs/FORMAT.md §3.2, §6).
REGISTER_ISSUER: Final = "register-issuer"  # registry key
RETIRE_ISSUER: Final = "retire-issuer"  # registry key
ROTATE_KEY: Final = "rotate-key"  # an active key of the issuer
REVOKE_KEY: Final = "revoke-key"  # the registry key or an active key of the issuer
ISSUE: Final = "issue"  # an active key of the issuer
REVOKE: Final = "revoke"  # an active key of the issuer
SUSPEND: Final = "suspend"  # an active key of the issuer
REINSTATE: Final = "reinstate"  # an active key of the issuer
REGISTER_ACHIEVEMENT: Final = "register-achievement"  # an active key of the issuer
PUBLISH_STATUS_LIST: Final = "publish-status-list"  # the list's key, while trusted
STATUS_KINDS: Final = (REVOKE, SUSPEND, REINSTATE)
KINDS: Final = (
    REGISTER_ISSUER, RETIRE_ISSUER, ROTATE_KEY, REVOKE_KEY, ISSUE, REVOKE, SUSPEND, REINSTATE,
    REGISTER_ACHIEVEMENT, PUBLISH_STATUS_LIST,
)

# Why a credential's status changed: the codes a status statement may give (docs/FORMAT.md §3.3).
# Free text (the case, the person's circumstances) stays in the issuer's own records: the log
# is public and cannot forget.
REASON_CODES: Final[dict[str, tuple[str, ...]]] = {
    "revoke": ("unspecified", "issued-in-error", "superseded", "withdrawn"),
    "suspend": ("unspecified", "under-review"),
    "reinstate": ("unspecified", "review-complete"),
}
# Status list purposes (docs/FORMAT.md §17): one bit a credential in each.
PURPOSES: Final = ("revocation", "suspension")
MAX_LIST_NUMBER: Final = 63
"""The highest status list number: 64 lists of 131,072 credentials a key (docs/FORMAT.md §17.4)."""
LIST_BITS: Final = 131_072
"""Entries in every status list the ledger writes: the least Bitstring Status List allows."""
MAX_STATUS_INDEX: Final = (MAX_LIST_NUMBER + 1) * LIST_BITS - 1
MAX_ID_LEN: Final = 256
MAX_TEXT_LEN: Final = 4096
MAX_PARTS: Final = 256
MAX_NAME_LEN: Final = 256
"""The longest issuer or achievement name, in code points."""
ACHIEVEMENT_TYPES: Final = frozenset({
    "Achievement", "ApprenticeshipCertificate", "Assessment", "Assignment", "AssociateDegree",
    "Award", "Badge", "BachelorDegree", "Certificate", "CertificateOfCompletion",
    "Certification", "CommunityService", "Competency", "Course", "CoCurricular", "Degree",
    "Diploma", "DoctoralDegree", "Fieldwork", "GeneralEducationDevelopment",
    "JourneymanCertificate", "LearningProgram", "License", "Membership",
    "ProfessionalDoctorate", "QualityAssuranceCredential", "MasterCertificate", "MasterDegree",
    "MicroCredential", "ResearchDoctorate", "SecondarySchoolDiploma"})
"""Open Badges 3.0's AchievementType enumeration (§B.1.28 of the specification, 31 terms).
It is extensible: a term of one's own starts with ``ext:`` (:func:`check_achievement_type`)."""
EXT_PREFIX: Final = "ext:"
_MAX_TIME: Final = (1 << 63) - 1
#: Canonical values nest at most this deep (a statement's parts are the deepest, at 2).
MAX_NESTING: Final = 8
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]*")
_KEY_ID: Final = re.compile(r"[0-9a-f]{16}")
_HANDLE: Final = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_EXT_TERM: Final = re.compile(r"ext:[A-Za-z0-9][A-Za-z0-9._:@+-]*")
# Control characters other than tab, and DEL. (Lone surrogates, which UTF-8 cannot encode, are
# found by encoding.)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_BUT_LF: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""For text of several lines (an achievement's description and criteria): tab and line feed."""


# --------------------------------------------------------------------------------------------
# Canonical msgpack


_PACK = msgpack.Packer(use_bin_type=True).pack
"""One packer for the process: ``packb`` makes a new one per call, which costs more than
packing an entry. ``pack`` runs in C without releasing the GIL, so threads cannot interleave."""


def pack(value: Any) -> bytes:
    """The canonical encoding of ``value`` (arrays, ints, str, bytes, None, bool only)."""
    return _PACK(value)  # type: ignore[no-any-return]


def unpack_array(data: bytes, what: str) -> list[Any]:
    """Strictly decode one canonical msgpack array; :class:`EncodingError` for anything else.

    Strict means: exactly one value, an array, no maps, no floats, no extension types, valid
    UTF-8 for strings, and the value re-encodes to exactly ``data``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise EncodingError(f"{what}: want bytes, got {type(data).__name__}")
    data = bytes(data)
    try:
        value = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError, UnicodeDecodeError) as exc:
        raise EncodingError(f"{what}: not one msgpack value ({exc.__class__.__name__})") from None
    except Exception as exc:  # noqa: BLE001 - msgpack raises plain Exceptions on truncated input
        raise EncodingError(f"{what}: not one msgpack value ({exc.__class__.__name__})") from None
    if not isinstance(value, list):
        raise EncodingError(f"{what}: want a msgpack array, got {type(value).__name__}")
    _check_plain(value, what, 0)
    if pack(value) != data:
        raise EncodingError(f"{what}: not canonical msgpack (does not re-encode identically)")
    return value


_SCALARS: Final = frozenset((type(None), bool, int, str, bytes))


def _check_plain(value: list[Any], what: str, depth: int) -> None:
    """Only arrays, nil, bool, int, str and bin, nested at most MAX_NESTING deep."""
    if depth >= MAX_NESTING:
        raise EncodingError(f"{what}: arrays nested deeper than {MAX_NESTING} levels")
    scalars = _SCALARS
    for item in value:
        t = type(item)
        if t in scalars:
            continue
        if t is list:
            _check_plain(item, what, depth + 1)
        else:
            raise EncodingError(f"{what}: {t.__name__} is not allowed in canonical values")


# --------------------------------------------------------------------------------------------
# Field checks shared by statements and records


def check_id(value: Any, field: str) -> str:
    """An issuer or credential id: 1 to 256 ASCII characters from ``[A-Za-z0-9._:@+-]``."""
    if not isinstance(value, str) or len(value) > MAX_ID_LEN or not _ID.fullmatch(value):
        raise EncodingError(
            f"{field}: want 1 to {MAX_ID_LEN} characters of [A-Za-z0-9._:@+-] starting with a "
            f"letter or digit, got {_show(value)}"
        )
    return value


def check_text(value: Any, field: str, *, max_len: int = MAX_TEXT_LEN, empty: bool = True,
               lines: bool = False) -> str:
    """Text of at most ``max_len`` characters: no control characters but tab (and, with
    ``lines``, line feed), valid Unicode (docs/FORMAT.md §1.5)."""
    if not isinstance(value, str):
        raise EncodingError(f"{field}: want text, got {type(value).__name__}")
    if len(value) > max_len:
        raise EncodingError(f"{field}: at most {max_len} characters, got {len(value)}")
    if not empty and not value.strip():
        raise EncodingError(f"{field}: must not be empty")
    control = (_CONTROL_BUT_LF if lines else _CONTROL).search(value)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate; the first bad character is named
            if control is None or exc.start < control.start():
                raise EncodingError(
                    f"{field}: not valid Unicode (a lone surrogate cannot be UTF-8)") from None
    if control is not None:
        raise EncodingError(f"{field}: control characters are not allowed")
    return value


def check_achievement_type(value: Any, field: str = "achievement type") -> str:
    """``""`` (none given), a term of OB 3.0's AchievementType (:data:`ACHIEVEMENT_TYPES`),
    or an extension term: ``ext:`` then 1 to 252 characters of an id (§1.4), so at most 256
    in all (docs/FORMAT.md §3.2)."""
    if isinstance(value, str) and (value == "" or value in ACHIEVEMENT_TYPES or (
            len(value) <= MAX_ID_LEN and _EXT_TERM.fullmatch(value))):
        return value
    raise EncodingError(f"{field}: want \"\", one of Open Badges 3.0's AchievementType terms "
                        f"(Badge, Certificate, Course, ...) or ext: and a name of [A-Za-z0-9."
                        f"_:@+-], got {_show(value)}")


def check_bytes(value: Any, field: str, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise EncodingError(f"{field}: want {size} bytes, got {got}")
    return value


def check_time(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_TIME:
        raise EncodingError(f"{field}: want a non-negative integer of milliseconds, got {_show(value)}")
    return value


def check_index(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << 63):
        raise EncodingError(f"{field}: want a non-negative integer index, got {_show(value)}")
    return value


def check_handle(value: Any, field: str = "credential") -> str:
    """A credential's handle: its ``urn:uuid:`` IRI, a random (version 4) UUID in lower case
    (docs/FORMAT.md §3.2). The log names a credential by nothing else: not by the issuer's
    own id, which is a student number as often as not."""
    if not isinstance(value, str) or not _HANDLE.fullmatch(value):
        raise EncodingError(f"{field}: want urn:uuid: and a random UUID in lower case, got "
                            f"{_show(value)}")
    return value


def check_reason_code(value: Any, kind: str) -> str:
    """One of the reason codes a ``kind`` status statement may give (:data:`REASON_CODES`)."""
    codes = REASON_CODES[kind]
    if not isinstance(value, str) or value not in codes:
        raise EncodingError(f"reason: want one of {', '.join(codes)} for {kind}, got "
                            f"{_show(value)} (free text stays in the issuer's own records)")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(items: list[Any], n: int, what: str) -> list[Any]:
    if len(items) != n:
        raise EncodingError(f"{what}: want {n} fields, got {len(items)}")
    return items


# --------------------------------------------------------------------------------------------
# Keys


@functools.lru_cache(maxsize=1024)
def key_id(public_key: bytes) -> str:
    """The ledger's id of an Ed25519 public key: hex of the first 8 bytes of its SHA-256."""
    return sha256(public_key).digest()[:8].hex()


def check_public_key(value: Any, field: str) -> bytes:
    """A 32-byte Ed25519 public key: a canonical encoding, not of small order."""
    check_bytes(value, field, 32)
    if is_small_order(value):
        raise EncodingError(f"{field}: a small-order point, which anyone can sign for")
    if not is_canonical_point(value):
        raise EncodingError(f"{field}: not a canonical point encoding")
    return value  # type: ignore[no-any-return]


def _signature_shape_error(public_key: bytes, signature: bytes) -> str | None:
    """Why the key or R breaks the ledger's Ed25519 rule (:func:`ledger.ed25519.rule_violation`),
    or None."""
    broken = ed25519.rule_violation(public_key, signature)
    if broken == "key":
        return f"statement signer {key_id(public_key)} is a small-order or non-canonical key"
    if broken == "r":
        return f"statement signature by key {key_id(public_key)} has a small-order point as r"
    return None


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is ``public_key``'s over ``message``.

    One check at a time, with OpenSSL: the offline verifier's path; batches use
    :func:`verify_signature_fast`. Both accept exactly the same signatures (see
    :mod:`ledger.ed25519`).
    """
    _check(public_key, message, signature, ed25519.verify_openssl)


def verify_signature_fast(public_key: bytes, message: bytes, signature: bytes) -> None:
    """:func:`verify_signature` with libsodium (PyNaCl), about twice as fast: the append and
    audit workers' path."""
    _check(public_key, message, signature, ed25519.verify_sodium)


def _check(public_key: bytes, message: bytes, signature: bytes,
           equation: Callable[[bytes, bytes, bytes], bool]) -> None:
    problem = _signature_shape_error(public_key, signature)
    if problem is not None:
        raise SignatureError(problem)
    if len(signature) != 64 or len(public_key) != 32 or not equation(
            public_key, message, signature):
        raise SignatureError(f"statement signature does not verify with key {key_id(public_key)}")


# --------------------------------------------------------------------------------------------
# Statements


@dataclass(frozen=True, slots=True)
class Statement:
    """A decoded statement. ``fields`` holds the kind-specific fields after the common three.

    Layout: ``[kind, issuer, time, *fields]``; the fields per kind are (docs/FORMAT.md):

    ========================  ===================================================================
    register-issuer           name (str), url (str), public_key (bin 32)
    retire-issuer             reason (str)
    rotate-key                new_public_key (bin 32)
    revoke-key                key_id (str, 16 hex), reason (str)[, compromised_since (int)]
    issue                     credential (str, urn:uuid handle), digest (bin 32),
                              achievement (str), valid_from (int), valid_until (int|nil),
                              status_index (int), parts (array of handles)
    revoke/suspend/reinstate  credential (str, handle), reason (str, a code)
    register-achievement      achievement_id (str), name (str), description (str),
                              criteria (str), achievement_type (str)
    publish-status-list       purpose (str), number (int), tree_size (int), list (bin)
    ========================  ===================================================================
    """

    kind: str
    issuer: str
    time: int
    fields: tuple[Any, ...]

    def encode(self) -> bytes:
        return pack([self.kind, self.issuer, self.time, *self.fields])

    # Convenience accessors, valid for the kinds that have the field.
    @property
    def cred_id(self) -> str:
        if self.kind == ISSUE or self.kind in STATUS_KINDS:
            return str(self.fields[0])
        raise AttributeError(f"{self.kind} statements have no credential id")

    @property
    def achievement_id(self) -> str:
        if self.kind == REGISTER_ACHIEVEMENT:
            return str(self.fields[0])
        if self.kind == ISSUE:
            return str(self.fields[2])
        raise AttributeError(f"{self.kind} statements have no achievement id")

    @property
    def reason(self) -> str:
        if self.kind in STATUS_KINDS:
            return str(self.fields[1])
        if self.kind == REVOKE_KEY:
            return str(self.fields[1])
        if self.kind == RETIRE_ISSUER:
            return str(self.fields[0])
        return ""

    @property
    def compromised_since(self) -> int | None:
        """A ``revoke-key``'s compromise index (its optional third field), else None."""
        if self.kind == REVOKE_KEY and len(self.fields) == 3:
            return int(self.fields[2])
        return None


_STATEMENT_FIELDS: Final = {
    REGISTER_ISSUER: 3, RETIRE_ISSUER: 1, ROTATE_KEY: 1, REVOKE_KEY: 2, ISSUE: 7,
    REVOKE: 2, SUSPEND: 2, REINSTATE: 2, REGISTER_ACHIEVEMENT: 5, PUBLISH_STATUS_LIST: 4,
}

FIELD_NAMES: Final[dict[str, tuple[str, ...]]] = {
    REGISTER_ISSUER: ("name", "url", "public_key"), RETIRE_ISSUER: ("reason",),
    ROTATE_KEY: ("new_public_key",), REVOKE_KEY: ("key_id", "reason", "compromised_since"),
    ISSUE: ("credential", "digest", "achievement", "valid_from", "valid_until",
            "status_index", "parts"),
    REVOKE: ("credential", "reason"), SUSPEND: ("credential", "reason"),
    REINSTATE: ("credential", "reason"),
    REGISTER_ACHIEVEMENT: ("achievement_id", "name", "description", "criteria",
                           "achievement_type"),
    PUBLISH_STATUS_LIST: ("purpose", "number", "tree_size", "list"),
}
"""The names of each kind's fields, as docs/FORMAT.md §3.2 gives them (``credledger entry``);
a trailing optional field (``revoke-key``'s ``compromised_since``) may be absent."""


def _validate_fields(kind: str, fields: list[Any]) -> tuple[Any, ...]:
    if kind == REVOKE_KEY and len(fields) == 3:  # the optional compromise index
        kid, reason = _validate_fields(kind, fields[:2])
        return (kid, reason, check_index(fields[2], "compromised since"))
    if kind == REVOKE_KEY and len(fields) != 2:
        raise EncodingError(f"{kind} statement: want 2 or 3 fields, got {len(fields)}")
    _fields(fields, _STATEMENT_FIELDS[kind], f"{kind} statement")
    if kind == REGISTER_ISSUER:
        name, url, pub = fields
        return (check_text(name, "name", max_len=MAX_NAME_LEN),
                check_text(url, "url", max_len=2048), check_public_key(pub, "public key"))
    if kind == REGISTER_ACHIEVEMENT:
        ach, name, description, criteria, ach_type = fields
        return (check_id(ach, "achievement id"),
                check_text(name, "name", max_len=MAX_NAME_LEN, empty=False),
                check_text(description, "description", lines=True),
                check_text(criteria, "criteria", lines=True),
                check_achievement_type(ach_type))
    if kind == RETIRE_ISSUER:
        return (check_text(fields[0], "reason", max_len=1024),)
    if kind == ROTATE_KEY:
        return (check_public_key(fields[0], "new public key"),)
    if kind == REVOKE_KEY:
        kid = fields[0]
        if not isinstance(kid, str) or not _KEY_ID.fullmatch(kid):
            raise EncodingError(f"key id: want 16 lowercase hex digits, got {_show(kid)}")
        return (kid, check_text(fields[1], "reason", max_len=1024))
    if kind == ISSUE:
        cred, digest, achievement, valid_from, valid_until, status_index, parts = fields
        if not isinstance(parts, list) or len(parts) > MAX_PARTS:
            raise EncodingError(f"parts: want an array of at most {MAX_PARTS} credentials")
        checked_parts = tuple(check_handle(p, "part") for p in parts)
        if len(set(checked_parts)) != len(checked_parts):
            raise EncodingError("parts: the same credential is listed twice")
        cred = check_handle(cred)
        if cred in checked_parts:
            raise EncodingError("parts: a credential cannot be a part of itself")
        valid_from = check_time(valid_from, "valid_from")
        if valid_until is not None and check_time(valid_until, "valid_until") <= valid_from:
            raise EncodingError("valid_until: must be after valid_from")
        if (isinstance(status_index, bool) or not isinstance(status_index, int)
                or not 0 <= status_index <= MAX_STATUS_INDEX):
            raise EncodingError(f"status_index: want an integer from 0 to {MAX_STATUS_INDEX}, "
                                f"got {_show(status_index)}")
        return (cred, check_bytes(digest, "digest", 32), check_id(achievement, "achievement"),
                valid_from, valid_until, status_index, list(checked_parts))
    if kind == PUBLISH_STATUS_LIST:
        purpose, number, tree_size, data = fields
        if purpose not in PURPOSES:
            raise EncodingError(f"purpose: want {' or '.join(PURPOSES)}, got {_show(purpose)}")
        if (isinstance(number, bool) or not isinstance(number, int)
                or not 0 <= number <= MAX_LIST_NUMBER):
            raise EncodingError(f"list number: want 0 to {MAX_LIST_NUMBER}, got {_show(number)}")
        if not isinstance(data, bytes) or not data:
            raise EncodingError("list: want the list credential's bytes (bin)")
        return (purpose, number, check_index(tree_size, "tree_size"), data)
    # revoke, suspend, reinstate
    return (check_handle(fields[0]), check_reason_code(fields[1], kind))


def make_statement(kind: str, issuer: str, time: int, *fields: Any) -> Statement:
    """Build and validate a statement (raises :class:`EncodingError` naming the bad field)."""
    if not isinstance(kind, str) or kind not in _STATEMENT_FIELDS:
        raise EncodingError(f"statement kind: want one of {', '.join(KINDS)}, got {_show(kind)}")
    validated = _validate_fields(kind, list(fields))
    st = Statement(kind, check_id(issuer, "issuer id"), check_time(time, "time"), validated)
    if len(st.encode()) > MAX_ENTRY_SIZE - 256:
        raise EncodingError(
            f"statement is {len(st.encode())} bytes; an entry holds at most {MAX_ENTRY_SIZE}"
        )
    return st


def decode_statement(data: bytes) -> Statement:
    """Strictly decode statement bytes (canonical msgpack, every field valid)."""
    items = unpack_array(data, "statement")
    if len(items) < 3:
        raise EncodingError(f"statement: want at least 3 fields, got {len(items)}")
    kind = items[0]
    if not isinstance(kind, str) or kind not in _STATEMENT_FIELDS:
        raise EncodingError(f"statement kind: want one of {', '.join(KINDS)}, got {_show(kind)}")
    return Statement(kind, check_id(items[1], "issuer id"), check_time(items[2], "time"),
                     _validate_fields(kind, items[3:]))


def signing_message(statement_bytes: bytes) -> bytes:
    """What a statement's Ed25519 signature covers: the context string, then the bytes."""
    return SIGN_CONTEXT + statement_bytes


@dataclass(frozen=True, slots=True)
class SignedStatement:
    """A statement as submitted to the log: exact bytes, signer public key, signature."""

    statement: bytes
    signer: bytes
    signature: bytes

    def verify(self, *, fast: bool = False) -> Statement:
        """Decode the statement and check the signature over it; return the statement.

        ``fast`` checks the signature with libsodium (:func:`verify_signature_fast`), which
        accepts exactly what the default accepts.
        """
        st = decode_statement(self.statement)
        check_bytes(self.signer, "signer", 32)
        check_bytes(self.signature, "signature", 64)
        check = verify_signature_fast if fast else verify_signature
        check(self.signer, signing_message(self.statement), self.signature)
        return st


def sign_statement(st: Statement, seed: bytes) -> SignedStatement:
    """Sign ``st`` with the Ed25519 private key ``seed`` (32 bytes)."""
    return sign_encoded(st.encode(), seed)


def seed_public_key(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of the private key ``seed``."""
    return _private_key(bytes(seed))[1]


def sign_encoded(data: bytes, seed: bytes) -> SignedStatement:
    """Sign the statement bytes ``data`` (``Statement.encode``) with the key ``seed``."""
    priv, pub = _private_key(bytes(seed))
    return SignedStatement(data, pub, priv.sign(signing_message(data)))


@functools.lru_cache(maxsize=8)
def _private_key(seed: bytes) -> tuple[Any, bytes]:
    """The key object and public key of a seed. The last 8 seeds used stay cached in this
    process (as the key files they were read from do), so a batch signs with one key object."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    priv = Ed25519PrivateKey.from_private_bytes(seed)
    return priv, priv.public_key().public_bytes_raw()


# --------------------------------------------------------------------------------------------
# Entries


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: ``[version, index, time, prev_root, state_root, statement, signer, signature]``."""

    index: int
    time: int
    prev_root: bytes
    state_root: bytes
    statement: bytes
    signer: bytes
    signature: bytes

    def encode(self) -> bytes:
        data = pack([ENTRY_VERSION, self.index, self.time, self.prev_root, self.state_root,
                     self.statement, self.signer, self.signature])
        if len(data) > MAX_ENTRY_SIZE:
            raise EncodingError(f"entry is {len(data)} bytes; at most {MAX_ENTRY_SIZE} allowed")
        return data

    def signed(self) -> SignedStatement:
        return SignedStatement(self.statement, self.signer, self.signature)


def decode_entry(data: bytes) -> Entry:
    """Strictly decode entry bytes (the statement inside is checked by :func:`decode_statement`)."""
    if len(data) > MAX_ENTRY_SIZE:
        raise EncodingError(f"entry is {len(data)} bytes; at most {MAX_ENTRY_SIZE} allowed")
    items = _fields(unpack_array(data, "entry"), 8, "entry")
    version, index, time, prev_root, state_root, statement, signer, signature = items
    if version != ENTRY_VERSION or isinstance(version, bool):
        if version == 1 and not isinstance(version, bool):
            raise EncodingError(
                f"entry version 1: this ledger reads entry format {ENTRY_VERSION}, whose "
                "credentials are Open Badges 3.0 and whose log holds nothing personal; a "
                "version 1 store cannot be read as version 2 (docs/FORMAT.md §4)")
        raise EncodingError(f"entry version: want {ENTRY_VERSION}, got {_show(version)}")
    if not isinstance(statement, bytes):
        raise EncodingError("entry statement: want bin")
    decode_statement(statement)
    return Entry(check_index(index, "entry index"), check_time(time, "entry time"),
                 check_bytes(prev_root, "prev_root", 32), check_bytes(state_root, "state_root", 32),
                 statement, check_bytes(signer, "signer", 32), check_bytes(signature, "signature", 64))


def encode_entry(index: int, time: int, prev_root: bytes, state_root: bytes, statement: bytes,
                 signer: bytes, signature: bytes) -> bytes:
    """The bytes of an :class:`Entry` with these fields (EncodingError if it is too large)."""
    data = pack([ENTRY_VERSION, index, time, prev_root, state_root, statement, signer, signature])
    if len(data) > MAX_ENTRY_SIZE:
        raise EncodingError(f"entry is {len(data)} bytes; at most {MAX_ENTRY_SIZE} allowed")
    return data


def trusted_statement(data: bytes) -> Statement:
    """Decode statement bytes that :func:`decode_statement` accepts, without checking them
    again: for the append path, whose workers decode every statement strictly (and refuse the
    batch if one fails) while the writer builds the transaction. On other bytes the result is
    unspecified, or EncodingError."""
    items = msgpack.unpackb(data, raw=False, use_list=True)
    if type(items) is not list or len(items) < 3:
        raise EncodingError("statement: want a msgpack array of at least 3 fields")
    return Statement(items[0], items[1], items[2], tuple(items[3:]))


def trusted_entry(data: bytes) -> Entry:
    """Decode entry bytes that :func:`decode_entry` accepts, without checking them again (the
    audit's workers decode every entry strictly before the replay reads it); see
    :func:`trusted_statement`."""
    items = msgpack.unpackb(data, raw=False, use_list=True)
    if type(items) is not list or len(items) != 8:
        raise EncodingError("entry: want a msgpack array of 8 fields")
    return Entry(*items[1:])


def subject_commitment(salt: bytes, subject: str) -> bytes:
    """``SHA-256(salt || subject)``: how a credential names its holder without personal data."""
    check_bytes(salt, "salt", 32)
    if not isinstance(subject, str):
        raise EncodingError(f"subject: want text, got {type(subject).__name__}")
    try:
        return sha256(salt + subject.encode("utf-8")).digest()
    except UnicodeEncodeError:
        raise EncodingError("subject: not valid Unicode (a lone surrogate cannot be UTF-8)") from None
