"""Bitstring status lists: the revocation and suspension status the whole VC world reads.

W3C Bitstring Status List v1.0, as this ledger writes and reads it (docs/FORMAT.md §17). A
credential carries, in ``credentialStatus``, one ``BitstringStatusListEntry`` per purpose::

    {"id": "<list URL>#<index>", "type": "BitstringStatusListEntry",
     "statusPurpose": "revocation" | "suspension", "statusListIndex": "<index, decimal>",
     "statusListCredential": "<list URL>"}

and the issuer publishes, at each list URL, a ``BitstringStatusListCredential`` signed with an
``eddsa-rdfc-2022`` proof by the issuer's own did:key (``ledger.dataintegrity``)::

    @context            ["https://www.w3.org/ns/credentials/v2"]          (exactly)
    id                  the list URL
    type                ["VerifiableCredential", "BitstringStatusListCredential"]
    issuer              the issuer's did:key (or {"id": did:key, "name": ...})
    validFrom           RFC 3339; validUntil (optional) after it
    credentialSubject   {"id": "<list URL>#list", "type": "BitstringStatusList",
                         "statusPurpose": <one purpose>, "encodedList": "u...",
                         "ttl": <milliseconds> (optional)}
    proof               DataIntegrityProof, eddsa-rdfc-2022, by the issuer's did:key

The bitstring: bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8`` (index 0 is the left-most,
most significant bit of the first byte); a set bit means revoked (suspended). ``encodedList``
is ``u`` (multibase base64url) and the unpadded base64url of the GZIP of those bytes.

Choices the specification leaves open, and why:

* **GZIP from the standard library** (:func:`gzip_bitstring`: level 9, time 0). Its bytes
  may differ between zlib builds; nothing depends on them being reproduced elsewhere: a
  published list is checked by its digest (of the list as published) and by the bits it
  decodes to, never by encoding the bits again. Reading accepts any valid single-member GZIP
  (:func:`decode_list` inflates with zlib), within bounds.
* **Bounded reading**: an ``encodedList`` over :data:`MAX_ENCODED_LIST` characters is refused
  before it is decoded, and inflation stops past :data:`MAX_LIST_BYTES` (a GZIP bomb costs at
  most that much memory).
* **One random index per credential** (:func:`random_index`, from ``secrets``): uniform among
  the list's unused indexes, so an index says nothing of when the credential was issued or how
  many were; the credential's revocation and suspension entries share it (lists ``n`` of both
  purposes pair up).
* **Strict reading**: :func:`check_status_list_credential` accepts exactly the shape above
  and raises one-line :class:`~ledger.errors.CredentialError` naming the path that failed;
  :func:`verify_status_list_credential` adds the proof, that the key that signed is the
  issuer's own did:key, that the list is by the credential's issuer (always), and optionally
  the purpose, the URL and the validity window.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import gzip
import hashlib
import json
import re
import secrets
import zlib
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from ledger import dataintegrity, didkey, vcjson
from ledger.errors import CredentialError, EncodingError, UsageError
from ledger.ldloader import VC_V2

CONTEXT = (VC_V2,)
"""A status list credential's ``@context``: VC 2.0 alone (it defines every term used)."""
CREDENTIAL_TYPE = ("VerifiableCredential", "BitstringStatusListCredential")
LIST_TYPE = "BitstringStatusList"
ENTRY_TYPE = "BitstringStatusListEntry"
REVOCATION = "revocation"
SUSPENSION = "suspension"
PURPOSES = (REVOCATION, SUSPENSION)
"""The status purposes this ledger writes and reads: revocation (for good) and suspension
(until reinstated)."""

MIN_BITS = 131072
"""The fewest entries a list may have (16 KiB of bits): the specification's minimum, for herd
privacy."""
LIST_BITS = MIN_BITS
"""The size of every list this ledger writes."""
MAX_LIST_BYTES = 1 << 20
"""The most bytes a decoded list may have (8,388,608 entries): inflation stops past it."""
MAX_ENCODED_LIST = 1_600_000
"""The longest ``encodedList`` read, in characters: room for any list of
:data:`MAX_LIST_BYTES` as this module writes it (at most 9 bits a byte: 1,572,892 characters)
or stored uncompressed (about 1,398,200)."""
MAX_LIST_CREDENTIAL_BYTES = 2 << 20
"""The largest status list credential file :func:`parse_status_list_credential` reads."""
MAX_NAME = 256
MAX_TTL = (1 << 53) - 1
"""The largest ``ttl`` (milliseconds): what every JSON reader holds exactly."""

_INDEX = re.compile(r"0|[1-9][0-9]{0,15}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
"""A lone surrogate (``json.loads('"\\ud800"')`` gives one): not Unicode text, no UTF-8."""
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ISSUER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,255}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


# ------------------------------------------------------------------------------ the bitstring

def _object(value: object, path: str, required: set[str],
            optional: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    return vcjson.json_object(value, path, required, optional, what='status list')


def _iri(value: object, path: str) -> str:
    return vcjson.iri(value, path, fragment=False)



def _check_size(size: object) -> int:
    if type(size) is not int:
        raise EncodingError("status list: the size must be an int")
    if size < MIN_BITS:
        raise EncodingError(f"status list: {size} entries, at least {MIN_BITS}")
    if size % 8:
        raise EncodingError(f"status list: {size} entries is not a multiple of 8")
    if size > MAX_LIST_BYTES * 8:
        raise EncodingError(f"status list: {size} entries, at most {MAX_LIST_BYTES * 8}")
    return size


def make_bitstring(size: int, ones: Iterable[int] = ()) -> bytes:
    """The bitstring of ``size`` entries (at least :data:`MIN_BITS`, a multiple of 8) whose
    bits ``ones`` are set and every other clear."""
    bits = bytearray(_check_size(size) // 8)
    for index in ones:
        if type(index) is not int or not 0 <= index < size:
            raise EncodingError(f"status list: index {vcjson.short(index)} is not in [0, {size})")
        bits[index >> 3] |= 0x80 >> (index & 7)
    return bytes(bits)


def get_bit(bitstring: bytes, index: int) -> bool:
    """Whether bit ``index`` of ``bitstring`` is set (index 0: the most significant bit of
    the first byte)."""
    if type(index) is not int or not 0 <= index < len(bitstring) * 8:
        raise EncodingError(f"status list: index {vcjson.short(index)} is not in "
                            f"[0, {len(bitstring) * 8})")
    return bool(bitstring[index >> 3] & (0x80 >> (index & 7)))


def set_bits(bitstring: bytes) -> list[int]:
    """The indexes of the set bits of ``bitstring``, in increasing order."""
    out: list[int] = []
    for n, byte in enumerate(bitstring):
        if byte:
            out.extend(8 * n + k for k in range(8) if byte & (0x80 >> k))
    return out


def random_index(size: int, used: AbstractSet[int]) -> int:
    """A fresh index for a credential: drawn uniformly (``secrets``) from the indexes of a list
    of ``size`` entries that are not in ``used`` (those the list's earlier credentials hold).

    Random, not sequential, so that an index tells a verifier nothing of when the credential
    was issued or how many the issuer has issued (the specification's advice). Draws with
    rejection; after 64 misses (a list nearly full) it picks among the free indexes listed,
    which is as uniform and bounded in time. Raises :class:`UsageError` when every index is
    used: the issuer opens the next list."""
    _check_size(size)
    for _ in range(64):
        index = secrets.randbelow(size)
        if index not in used:
            return index
    free = [i for i in range(size) if i not in used]
    if not free:
        raise UsageError(f"status list: all {size} indexes are used; open the next list")
    return secrets.choice(free)


# ------------------------------------------------------------------------------------- GZIP


def gzip_bitstring(bitstring: bytes) -> bytes:
    """The GZIP member (RFC 1952) of ``bitstring``: the standard library's, at level 9 with a
    zero time, so that the same bits give the same bytes with one zlib build."""
    if not isinstance(bitstring, bytes):
        raise EncodingError("status list: the bitstring must be bytes")
    return gzip.compress(bitstring, compresslevel=9, mtime=0)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def encode_list(bitstring: bytes) -> str:
    """The ``encodedList`` of ``bitstring`` (at least :data:`MIN_BITS` bits): ``u`` and the
    unpadded base64url of :func:`gzip_bitstring`."""
    if not isinstance(bitstring, bytes):
        raise EncodingError("status list: the bitstring must be bytes")
    _check_size(len(bitstring) * 8)
    return "u" + _b64url(gzip_bitstring(bitstring))


def decode_list(encoded: str, *, max_bytes: int = MAX_LIST_BYTES) -> bytes:
    """The bitstring of an ``encodedList``, strictly: ``u``, canonical unpadded base64url, one
    GZIP member and nothing after it, at least :data:`MIN_BITS` bits. Refuses text over
    :data:`MAX_ENCODED_LIST` characters before decoding it, and stops inflating past
    ``max_bytes`` (a GZIP bomb is refused, never held). :class:`EncodingError` names what
    failed."""
    if not isinstance(encoded, str):
        raise EncodingError("encodedList: want a string")
    if len(encoded) > MAX_ENCODED_LIST:
        raise EncodingError(f"encodedList: {len(encoded)} characters, at most "
                            f"{MAX_ENCODED_LIST}")
    if not encoded.startswith("u"):
        raise EncodingError(f"encodedList: multibase prefix {encoded[:1]!r}, want 'u' "
                            f"(base64url without padding)")
    text = encoded[1:]
    if "=" in text:
        raise EncodingError("encodedList: base64url with padding; want none")
    if not _B64URL.fullmatch(text):
        bad = next(c for c in text if not _B64URL.fullmatch(c))
        raise EncodingError(f"encodedList: {bad!r} is not a base64url character")
    if len(text) % 4 == 1:
        raise EncodingError("encodedList: not a whole number of bytes of base64url")
    try:
        compressed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - the checks above cover it
        raise EncodingError("encodedList: not base64url") from None
    if _b64url(compressed) != text:
        raise EncodingError("encodedList: not the canonical base64url of its bytes (non-zero "
                            "trailing bits)")
    if compressed[:2] != b"\x1f\x8b":
        raise EncodingError("encodedList: not GZIP (no 1f 8b magic)")
    inflater = zlib.decompressobj(wbits=31)
    try:
        bitstring = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise EncodingError(f"encodedList: not valid GZIP ({exc})") from None
    if len(bitstring) > max_bytes:
        raise EncodingError(f"encodedList: inflates past {max_bytes} bytes (a GZIP bomb?)")
    if not inflater.eof:
        raise EncodingError("encodedList: the GZIP member is cut short")
    if inflater.unused_data:
        raise EncodingError("encodedList: bytes after the GZIP member")
    if len(bitstring) * 8 < MIN_BITS:
        raise EncodingError(f"encodedList: {len(bitstring) * 8} entries, at least {MIN_BITS}")
    return bitstring


# ------------------------------------------------------------------------------ entries


def _purpose(value: object, path: str) -> str:
    if not isinstance(value, str) or value not in PURPOSES:
        raise vcjson.fail(path, f"{vcjson.short(value)}; want one of {', '.join(PURPOSES)}")
    return value


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """What a ``BitstringStatusListEntry`` says: which list, which bit, for what purpose."""

    list_url: str
    index: int
    purpose: str


def status_entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    """The ``credentialStatus`` object pointing at bit ``index`` of the list at ``list_url``
    for ``purpose`` (``revocation`` or ``suspension``)."""
    _iri(list_url, "statusListCredential")
    _purpose(purpose, "statusPurpose")
    if type(index) is not int or not 0 <= index < MAX_LIST_BYTES * 8:
        raise vcjson.fail("statusListIndex", f"{vcjson.short(index)} is not an index of a list")
    return {"id": f"{list_url}#{index}", "type": ENTRY_TYPE, "statusPurpose": purpose,
            "statusListIndex": str(index), "statusListCredential": list_url}


def status_entries(index: int, list_urls: Mapping[str, str]) -> list[dict[str, Any]]:
    """A credential's ``credentialStatus``: one entry per purpose of ``list_urls`` (purpose ->
    list URL), in the order of :data:`PURPOSES`, all at the credential's one ``index``."""
    unknown = set(list_urls) - set(PURPOSES)
    if unknown or not list_urls:
        raise vcjson.fail("credentialStatus", f"want list URLs for {', '.join(PURPOSES)}, got "
                                        f"{vcjson.short(sorted(list_urls))}")
    return [status_entry(list_urls[p], index, p) for p in PURPOSES if p in list_urls]


def check_status_entry(value: object, path: str = "credentialStatus") -> StatusEntry:
    """What ``value`` says, if it is exactly an entry :func:`status_entry` writes; else
    :class:`CredentialError` naming the path that failed."""
    if not isinstance(value, dict):
        raise vcjson.fail(path, "want a JSON object")
    fields = {"id", "type", "statusPurpose", "statusListIndex", "statusListCredential"}
    missing = fields - set(value)
    if missing:
        raise vcjson.fail(f"{path}.{min(missing)}", "missing")
    extra = set(value) - fields
    if extra:
        raise vcjson.fail(f"{path}.{vcjson.member(min(extra, key=str))}", "not a member of this status "
                                                              "entry format")
    if value["type"] != ENTRY_TYPE:
        raise vcjson.fail(f"{path}.type", f"got {vcjson.short(value['type'])}, want {ENTRY_TYPE!r}")
    purpose = _purpose(value["statusPurpose"], f"{path}.statusPurpose")
    text = value["statusListIndex"]
    if not isinstance(text, str) or not _INDEX.fullmatch(text):
        raise vcjson.fail(f"{path}.statusListIndex", f"want a decimal string without leading "
                                               f"zeros, got {vcjson.short(text)}")
    index = int(text)
    if index >= MAX_LIST_BYTES * 8:
        raise vcjson.fail(f"{path}.statusListIndex", f"{index} is past the largest list")
    url = _iri(value["statusListCredential"], f"{path}.statusListCredential")
    if value["id"] != f"{url}#{index}":
        raise vcjson.fail(f"{path}.id", f"want the list URL, '#' and the index, got "
                                  f"{vcjson.short(value['id'])}")
    return StatusEntry(list_url=url, index=index, purpose=purpose)


def check_credential_status(value: object) -> tuple[StatusEntry, ...]:
    """The entries of a credential's ``credentialStatus`` (one object, or a list of one entry
    per purpose, no purpose twice), in the order of :data:`PURPOSES` whatever the JSON order
    (RDF's values are unordered: the signature does not bind it)."""
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > len(PURPOSES):
        raise vcjson.fail("credentialStatus", f"want 1 to {len(PURPOSES)} entries")
    entries = tuple(check_status_entry(item, f"credentialStatus[{n}]" if isinstance(
        value, list) else "credentialStatus") for n, item in enumerate(items))
    if len({e.purpose for e in entries}) != len(entries):
        raise vcjson.fail("credentialStatus", "a purpose is listed twice")
    return tuple(sorted(entries, key=lambda e: PURPOSES.index(e.purpose)))


def list_path(issuer: str, key_id: str, purpose: str, number: int) -> str:
    """Where ``export`` will publish an issuer's list (docs/FORMAT.md §17.4), relative to the
    site's base URL: ``status/<issuer>/<key id>/<purpose>/<number>.json``."""
    if not isinstance(issuer, str) or not _ISSUER_ID.fullmatch(issuer):
        raise UsageError(f"status list path: {vcjson.short(issuer)} is not an issuer id")
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise UsageError(f"status list path: {vcjson.short(key_id)} is not a ledger key id")
    if purpose not in PURPOSES:
        raise UsageError(f"status list path: purpose {vcjson.short(purpose)}")
    if type(number) is not int or number < 0:
        raise UsageError(f"status list path: list number {vcjson.short(number)}")
    return f"status/{issuer}/{key_id}/{purpose}/{number}.json"


# ------------------------------------------------------------------------------ list credentials


@dataclass(frozen=True, slots=True)
class StatusList:
    """What a status list credential that passed :func:`check_status_list_credential` says."""

    url: str
    issuer_did: str
    issuer_key: bytes
    issuer_name: str | None
    purpose: str
    valid_from: datetime.datetime
    valid_until: datetime.datetime | None
    ttl: int | None
    bitstring: bytes

    @property
    def size(self) -> int:
        """The number of entries."""
        return len(self.bitstring) * 8

    def status(self, index: int) -> bool:
        """Whether entry ``index`` is set (revoked, or suspended)."""
        if type(index) is not int or not 0 <= index < self.size:
            raise vcjson.fail("statusListIndex", f"{vcjson.short(index)} is outside the list's "
                                           f"{self.size} entries")
        return get_bit(self.bitstring, index)

    def valid_at(self, when: datetime.datetime) -> bool:
        """Whether ``when`` (an aware datetime) is in the list's validity window."""
        return self.valid_from <= when and (self.valid_until is None or when <= self.valid_until)


@dataclass(frozen=True, slots=True)
class VerifiedStatusList:
    """A status list credential whose shape and proof checked out, by its issuer's own key."""

    status_list: StatusList
    proof: dataintegrity.VerifiedProof


def build_status_list_credential(*, issuer_key: bytes, list_url: str, purpose: str,
                                 bitstring: bytes, valid_from: str,
                                 valid_until: str | None = None, ttl: int | None = None,
                                 issuer_name: str | None = None) -> dict[str, Any]:
    """The unsigned status list credential (see the module docstring) of ``bitstring`` (from
    :func:`make_bitstring`), published at ``list_url`` by the issuer whose Ed25519 public key
    is ``issuer_key``; checked with :func:`check_status_list_credential` before it is
    returned. ``ttl`` is in milliseconds."""
    did = didkey.encode(issuer_key)
    issuer: str | dict[str, Any] = did if issuer_name is None else {"id": did,
                                                                     "name": issuer_name}
    subject: dict[str, Any] = {
        "id": f"{_iri(list_url, 'id')}#list", "type": LIST_TYPE,
        "statusPurpose": _purpose(purpose, "credentialSubject.statusPurpose")}
    try:
        subject["encodedList"] = encode_list(bitstring)
    except EncodingError as exc:
        raise vcjson.fail("credentialSubject.encodedList", str(exc)) from None
    if ttl is not None:
        subject["ttl"] = ttl
    doc: dict[str, Any] = {"@context": list(CONTEXT), "id": list_url,
                           "type": list(CREDENTIAL_TYPE), "issuer": issuer,
                           "validFrom": valid_from}
    if valid_until is not None:
        doc["validUntil"] = valid_until
    doc["credentialSubject"] = subject
    check_status_list_credential(doc, signed=False)
    return doc


def issue_status_list_credential(seed: bytes, *, created: str, **fields: Any) -> dict[str, Any]:
    """:func:`build_status_list_credential` with ``fields``, signed by the issuer's key (its
    32-byte ``seed``, whose public key must be ``fields["issuer_key"]``) with an
    ``eddsa-rdfc-2022`` proof made at ``created``."""
    doc = build_status_list_credential(**fields)
    return dataintegrity.sign(doc, seed, created=created,
                              verification_method=didkey.verification_method(
                                  fields["issuer_key"]))


def check_status_list_credential(doc: object, *, signed: bool = True) -> StatusList:
    """What ``doc`` says, if it has exactly this ledger's status list credential shape (with a
    ``proof`` if ``signed``: its fields and signature are checked by
    :func:`verify_status_list_credential`), its ``encodedList`` decoded. Raises
    :class:`CredentialError` naming the first failed path."""
    top = _object(doc, "", {"@context", "id", "type", "issuer", "validFrom",
                            "credentialSubject", *(("proof",) if signed else ())},
                  frozenset({"validUntil"}))
    if top["@context"] != list(CONTEXT):
        raise vcjson.fail("@context", f"want exactly {list(CONTEXT)}")
    url = _iri(top["id"], "id")
    vcjson.types(top["type"], "type", CREDENTIAL_TYPE)
    issuer = top["issuer"]
    issuer_name = None
    if isinstance(issuer, dict):
        profile = _object(issuer, "issuer", {"id"}, frozenset({"name"}))
        did = profile["id"]
        if "name" in profile:
            name = profile["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
                raise vcjson.fail("issuer.name", f"want text of 1 to {MAX_NAME} characters")
            bad = _SURROGATE.search(name)
            if bad:
                raise vcjson.fail("issuer.name", f"a lone surrogate (U+{ord(bad.group()):04X}), "
                                           f"which is not Unicode text")
            issuer_name = name
        where = "issuer.id"
    else:
        did, where = issuer, "issuer"
    try:
        issuer_key = didkey.decode(did)
    except EncodingError as exc:
        raise vcjson.fail(where, str(exc)) from None
    valid_from = dataintegrity.check_datetime(top["validFrom"], "validFrom")
    valid_until = None
    if "validUntil" in top:
        valid_until = dataintegrity.check_datetime(top["validUntil"], "validUntil")
        if valid_until <= valid_from:
            raise vcjson.fail("validUntil", "not after validFrom")
    subject = _object(top["credentialSubject"], "credentialSubject",
                      {"id", "type", "statusPurpose", "encodedList"}, frozenset({"ttl"}))
    if subject["id"] != f"{url}#list":
        raise vcjson.fail("credentialSubject.id", f"want the list URL and '#list', got "
                                            f"{vcjson.short(subject['id'])}")
    vcjson.types(subject["type"], "credentialSubject.type", [LIST_TYPE])
    purpose = _purpose(subject["statusPurpose"], "credentialSubject.statusPurpose")
    ttl = subject.get("ttl")
    if ttl is not None and (type(ttl) is not int or not 0 < ttl <= MAX_TTL):
        raise vcjson.fail("credentialSubject.ttl", f"want a positive whole number of milliseconds, "
                                             f"got {vcjson.short(ttl)}")
    try:
        bitstring = decode_list(subject["encodedList"])
    except EncodingError as exc:  # "encodedList: ..."
        raise CredentialError(f"credentialSubject.{exc}") from None
    return StatusList(url=url, issuer_did=did, issuer_key=issuer_key, issuer_name=issuer_name,
                      purpose=purpose, valid_from=valid_from, valid_until=valid_until, ttl=ttl,
                      bitstring=bitstring)


def parse_status_list_credential(data: bytes | str) -> dict[str, Any]:
    """The status list credential in the JSON text ``data`` (at most
    :data:`MAX_LIST_CREDENTIAL_BYTES`; no member named twice in one object), checked by
    :func:`check_status_list_credential`."""
    if len(data) > MAX_LIST_CREDENTIAL_BYTES:
        raise CredentialError(f"status list credential: {len(data)} bytes, at most "
                              f"{MAX_LIST_CREDENTIAL_BYTES}")
    try:
        doc = json.loads(data, object_pairs_hook=vcjson.no_duplicates('status list credential'))
    except (ValueError, RecursionError):
        raise CredentialError("status list credential: not JSON") from None
    check_status_list_credential(doc)
    return doc  # type: ignore[no-any-return]


def verify_status_list_credential(
        doc: Mapping[str, Any], resolve_key: Callable[[str], bytes] = didkey.resolve, *,
        issuer: str, purpose: str | None = None, list_url: str | None = None,
        at: datetime.datetime | None = None) -> VerifiedStatusList:
    """Check the status list credential ``doc``: its shape
    (:func:`check_status_list_credential`), that its proof's verification method is the
    issuer's own did:key, the ``eddsa-rdfc-2022`` proof (``resolve_key`` maps the method to
    its key, as for ``dataintegrity.verify``), and that it is by ``issuer``, the DID of the
    issuer of the credential whose status it tells (required: a list by anyone else says
    nothing of it); then, if given, that it is a list for ``purpose``, published at
    ``list_url``, and valid at ``at``. Raises :class:`CredentialError` or
    :class:`~ledger.errors.SignatureError` naming the failed check."""
    status_list = check_status_list_credential(doc)
    proof = doc["proof"]
    want = didkey.verification_method(status_list.issuer_key)
    if isinstance(proof, dict) and proof.get("verificationMethod") != want:
        raise vcjson.fail("proof.verificationMethod", "not the issuer's own did:key")
    verified = dataintegrity.verify(doc, resolve_key)
    if purpose is not None and status_list.purpose != purpose:
        raise vcjson.fail("credentialSubject.statusPurpose", f"a {status_list.purpose} list, want "
                                                       f"a {purpose} list")
    if list_url is not None and status_list.url != list_url:
        raise vcjson.fail("id", f"the list at {vcjson.short(status_list.url)}, want {vcjson.short(list_url)}")
    if status_list.issuer_did != issuer:
        raise vcjson.fail("issuer", f"the list is by {vcjson.short(status_list.issuer_did)}, not by the "
                              f"credential's issuer {vcjson.short(issuer)}")
    if at is not None and not status_list.valid_at(at):
        raise vcjson.fail("validFrom" if at < status_list.valid_from else "validUntil",
                    f"the list is not valid at {at.isoformat()}")
    return VerifiedStatusList(status_list=status_list, proof=verified)


def status_of(list_credential: Mapping[str, Any] | StatusList, index: int) -> bool:
    """Whether bit ``index`` of the list is set: the credential holding that index is revoked
    (suspended) by this list. ``list_credential`` is a status list (its shape is checked; its
    proof is :func:`verify_status_list_credential`'s) or a :class:`StatusList`."""
    status_list = (list_credential if isinstance(list_credential, StatusList)
                   else check_status_list_credential(list_credential))
    return status_list.status(index)


def entry_status(entry: StatusEntry | Mapping[str, Any], status_list: StatusList) -> bool:
    """The status a credential's entry reads in ``status_list``: the entry must name that list
    and its purpose, and an index inside it."""
    if not isinstance(entry, StatusEntry):
        entry = check_status_entry(entry)
    if entry.list_url != status_list.url:
        raise vcjson.fail("statusListCredential", f"names {vcjson.short(entry.list_url)}, not the list "
                                            f"at {vcjson.short(status_list.url)}")
    if entry.purpose != status_list.purpose:
        raise vcjson.fail("statusPurpose", f"a {entry.purpose} entry read in a "
                                     f"{status_list.purpose} list")
    return status_list.status(entry.index)


def status_list_digest(doc: Mapping[str, Any]) -> bytes:
    """SHA-256 of the RDFC-1.0 canonical N-Quads of a signed status list credential, proof
    included: the digest the log will commit for a published list (as
    ``openbadges.credential_digest`` for a credential)."""
    if "proof" not in doc:
        raise vcjson.fail("proof", "the list is not signed; only a signed one has a digest")
    return hashlib.sha256(dataintegrity.canonicalize(doc).encode("utf-8")).digest()
