"""Witness cosignatures: c2sp.org/tlog-cosignature ``cosignature/v1`` (Ed25519, type 0x04).

A witness keeps, per log origin, the largest checkpoint it has cosigned. It cosigns a new
checkpoint only if the log key signed it and an RFC 9162 consistency proof shows that it extends
the last one; it refuses anything smaller, different at the same size, or inconsistent. So a
checkpoint carrying cosignatures from k independent witnesses cannot be part of a forked view
unless all k were fooled, and each cosignature's timestamp bounds how stale the view is.

Bytes (c2sp.org/tlog-cosignature):

- key id ``SHA-256(name || "\\n" || 0x04 || public key)[:4]``; verifier key string
  ``<name>+<8 hex id>+<base64(0x04 || public key)>``;
- signed message ``"cosignature/v1\\n" "time <decimal seconds>\\n"`` then the checkpoint body;
- note signature ``base64(key id || u64 big-endian timestamp || 64-byte Ed25519 signature)``.

The witness's private key file is ``PRIVATE+KEY+<name>+<8 hex id>+<base64(0x04 || seed)>``,
mode 0600, like the other key files. No lmdb here: verifiers import this module (``credledger
verify --witness``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING

from ledger import ed25519, merkle
from ledger.errors import (
    EncodingError,
    KeyFileError,
    NotFoundError,
    NotRegularFileError,
    SignatureError,
    VerificationError,
    WitnessStateError,
)
from ledger.note import (
    Checkpoint,
    Note,
    NoteSignature,
    Verifier,
    format_note,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
)
from ledger.parse import b64decode, b64encode

if TYPE_CHECKING:
    from pathlib import Path

ALG_COSIGNATURE = 0x04
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = (1 << 63) - 1


class WitnessRefused(VerificationError):
    """The witness will not cosign: the checkpoint does not extend what it cosigned before."""


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    data = name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE]) + public_key
    return sha256(data).digest()[:4]


def _b64(text: str, what: str) -> bytes:
    try:
        return b64decode(text)
    except ValueError as exc:
        raise KeyFileError(f"malformed {what}: {exc}") from None


def _check_name(name: str, what: str) -> None:
    if (not name or "+" in name or any(c.isspace() for c in name)  # [^\s+]+
            or not name.isprintable()):
        raise KeyFileError(f"malformed {what}: the name must be non-empty, without spaces or '+'")


@dataclass(frozen=True, slots=True)
class CosignerVerifier:
    """A witness's public key, as verifiers configure it (``--witness``)."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)

    def __str__(self) -> str:
        raw = b64encode(bytes([ALG_COSIGNATURE]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{raw}"


def parse_cosigner(text: str) -> CosignerVerifier:
    """Parse ``<name>+<8 hex id>+<base64(0x04 || public key)>`` strictly."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise KeyFileError("malformed witness key: want <name>+<key id>+<base64 key>")
    name, hex_id, encoded = parts
    _check_name(name, "witness key")
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise KeyFileError("malformed witness key: key id is not 8 lowercase hex digits")
    raw = _b64(encoded, "witness key")
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE:
        raise KeyFileError("malformed witness key: want type 0x04 and a 32-byte Ed25519 key")
    v = CosignerVerifier(name, raw[1:])
    if v.key_id.hex() != hex_id:
        raise KeyFileError("malformed witness key: key id does not match the key")
    return v


@dataclass(frozen=True, slots=True)
class WitnessKey:
    """A witness's private key: a name and a 32-byte Ed25519 seed (``str`` is the secret)."""

    name: str
    seed: bytes

    @property
    def public_key(self) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()

    def verifier(self) -> CosignerVerifier:
        return CosignerVerifier(self.name, self.public_key)

    def __str__(self) -> str:
        raw = b64encode(bytes([ALG_COSIGNATURE]) + self.seed)
        return f"PRIVATE+KEY+{self.name}+{self.verifier().key_id.hex()}+{raw}"

    def __repr__(self) -> str:
        return f"WitnessKey(name={self.name!r}, key_id='{self.verifier().key_id.hex()}')"

    @classmethod
    def generate(cls, name: str) -> WitnessKey:
        _check_name(name, "witness key")
        import secrets

        return cls(name, secrets.token_bytes(32))


def parse_witness_key(text: str) -> WitnessKey:
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise KeyFileError("malformed witness private key")
    _, _, name, hex_id, encoded = parts
    _check_name(name, "witness private key")
    raw = _b64(encoded, "witness private key")
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE:
        raise KeyFileError("malformed witness private key: want type 0x04 and a 32-byte seed")
    key = WitnessKey(name, raw[1:])
    if key.verifier().key_id.hex() != hex_id:
        raise KeyFileError("malformed witness private key: key id does not match")
    return key


def cosigned_message(body: str, timestamp: int) -> bytes:
    return f"{HEADER}time {timestamp}\n".encode() + body.encode("utf-8")


def add_cosignature(note_text: str, key: WitnessKey, timestamp: int) -> str:
    """Return the note with ``key``'s timestamped cosignature line appended."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise EncodingError(f"cosignature timestamp out of range: {timestamp}")
    note = parse_note(note_text)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    priv = Ed25519PrivateKey.from_private_bytes(key.seed)
    sig = priv.sign(cosigned_message(note.text, timestamp))
    line = NoteSignature(key.name, key.verifier().key_id, timestamp.to_bytes(8, "big") + sig)
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) != (line.name, line.key_id))
    return format_note(Note(note.text, kept + (line,)))


def cosignature_times(note: Note, witnesses: Sequence[CosignerVerifier]) -> dict[str, int]:
    """Verify the cosignatures of trusted ``witnesses`` on ``note``; witness -> timestamp (s).

    Witnesses are counted by public key, not by name (a cosignature signs neither the name nor
    the key id): one item per distinct trusted public key with a valid line, with its newest
    timestamp. The same key listed twice, or under two names (a line copied under the other
    name verifies too), counts once; two keys under one name count twice. An item is named by
    its witness's name, or ``name+<key id>`` when trusted witnesses of different keys share
    that name (:func:`witness_labels`).

    Lines from unknown keys are ignored; a trusted key's line that fails raises
    :class:`SignatureError`. Two different trusted keys with one name and key id (a 32-bit
    collision) make the trusted list ambiguous: :class:`KeyFileError`.
    """
    known: dict[tuple[str, bytes], CosignerVerifier] = {}
    for w in witnesses:
        if known.setdefault((w.name, w.key_id), w).public_key != w.public_key:
            raise KeyFileError(f"ambiguous trusted witness keys: two different keys are named "
                               f"{w.name}+{w.key_id.hex()}")
    labels = witness_labels(witnesses)
    newest: dict[bytes, int] = {}
    for sig in note.signatures:
        trusted = known.get((sig.name, sig.key_id))
        if trusted is None:
            continue
        w = trusted
        if len(sig.signature) != 72:
            raise SignatureError(f"cosignature from {w.name}: want 72 bytes, got "
                                 f"{len(sig.signature)}")
        ts = int.from_bytes(sig.signature[:8], "big")
        if ts > MAX_TIMESTAMP:
            raise SignatureError(f"cosignature from {w.name}: timestamp out of range")
        if not ed25519.verify(w.public_key, cosigned_message(note.text, ts), sig.signature[8:]):
            raise SignatureError(f"invalid cosignature from witness {w.name}")
        newest[w.public_key] = max(ts, newest.get(w.public_key, 0))
    return {labels[pk]: ts for pk, ts in newest.items()}


def witness_labels(witnesses: Sequence[CosignerVerifier]) -> dict[bytes, str]:
    """Public key -> the name it is counted under: the name of the first trusted witness with
    that key, or ``name+<key id>`` when a trusted witness of another key has the same name.
    Distinct keys get distinct labels (a name holds no ``+``)."""
    keys_of: dict[str, set[bytes]] = {}
    for w in witnesses:
        keys_of.setdefault(w.name, set()).add(w.public_key)
    labels: dict[bytes, str] = {}
    for w in witnesses:
        if w.public_key not in labels:
            labels[w.public_key] = (w.name if len(keys_of[w.name]) == 1
                                    else f"{w.name}+{w.key_id.hex()}")
    return labels


MAX_CLOCK_SKEW_MS = 10 * 60 * 1000
"""How far in the future of the verifier's clock a cosignature may be dated and still count."""


def check_witness_policy(note_text: str, witnesses: Sequence[CosignerVerifier], *,
                         min_witnesses: int, max_age_ms: int | None, now_ms: int) -> dict[str, int]:
    """Require valid cosignatures of ``min_witnesses`` distinct trusted witness keys
    (:func:`cosignature_times`), the newest no older than ``max_age_ms``."""
    times = cosignature_times(parse_note(note_text), witnesses)
    if len(times) < min_witnesses:
        raise SignatureError(f"the checkpoint has cosignatures of {len(times)} distinct trusted "
                             f"witness key(s), want at least {min_witnesses}")
    if max_age_ms is not None:
        if not times:
            raise SignatureError("--max-age needs at least one trusted witness cosignature")
        # A cosignature dated after the verifier's time (beyond a little clock skew) cannot vouch
        # for freshness: a witness with a fast or lying clock would otherwise pass any --max-age.
        dated = [t * 1000 for t in times.values() if t * 1000 <= now_ms + MAX_CLOCK_SKEW_MS]
        if not dated:
            raise SignatureError("every trusted witness cosignature is dated after the time of "
                                 "the check (more than the allowed clock skew); none can show "
                                 "freshness")
        newest = max(dated)
        if now_ms - newest > max_age_ms:
            raise SignatureError(f"the newest witness cosignature is "
                                 f"{duration_text((now_ms - newest) // 1000)} old, older than "
                                 f"the allowed {duration_text(max_age_ms // 1000)}")
    return times


def duration_text(seconds: int) -> str:
    """A duration for people, its two largest units: ``53 days 7 h``, ``2 h 5 min``, ``40 s``."""
    units = (("day", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        n, seconds = divmod(seconds, size)
        if n or parts:
            parts.append(f"{n} {name}{'s' if name == 'day' and n != 1 else ''}")
        if len(parts) == 2:
            break
    parts = [p for p in parts if not p.startswith("0 ")] or ["0 s"]
    return " ".join(parts)


STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
MAX_STATE_SIZE = 1 << 24
"""The largest ``state.json`` read (16 MiB: some 60,000 followed logs)."""


class _StateLock:
    """An exclusive ``flock`` on ``DIR/state.lock``, held while the witness reads, checks,
    signs and writes: one cosign at a time per witness directory, across processes (each
    holder opens the file itself, so threads of one process exclude each other too). The
    kernel drops the lock when its holder exits, however it exits."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self.fd = -1

    def __enter__(self) -> None:
        import errno
        import fcntl
        import stat

        flags = (os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO):
                raise NotRegularFileError(f"{self.path}: not a regular file (a link or a "
                                          "socket); refusing it as the witness's lock file"
                                          ) from None
            raise WitnessStateError(f"{self.path}: cannot open the witness's lock file: "
                                    f"{(exc.strerror or str(exc)).lower()}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotRegularFileError(f"{self.path}: not a regular file; refusing it as "
                                          "the witness's lock file")
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the lock
        self.fd = -1


class Witness:
    """A witness's key and state in a directory: ``witness.key`` (0600), ``state.json`` (0600)
    and ``state.lock`` (the lock :meth:`cosign` holds; empty)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from pathlib import Path

        from ledger.keys import read_key_text

        self.path = Path(path)
        self.key = parse_witness_key(read_key_text(self.path / "witness.key"))

    @classmethod
    def create(cls, path: str | os.PathLike[str], name: str) -> Witness:
        from pathlib import Path

        from ledger.keys import write_key_text

        p = Path(path)
        p.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_key_text(p / "witness.key", str(WitnessKey.generate(name)))
        with _StateLock(p):
            _write_state(p, {})
        return cls(p)

    def state(self) -> dict[str, dict[str, object]]:
        """The checkpoint last cosigned per origin, from ``state.json``.

        WitnessStateError if the file is missing or damaged; NotRegularFileError, at once,
        if it is a FIFO, a device or another non-regular file (or a link to one)."""
        import json

        from ledger.files import read_regular

        path = self.path / STATE_FILE
        damaged = WitnessStateError(f"{path}: damaged witness state")
        try:
            raw = read_regular(path, MAX_STATE_SIZE, "the witness state")
        except NotFoundError:
            raise WitnessStateError(f"{path}: missing witness state") from None
        except EncodingError:
            raise WitnessStateError(f"{path}: damaged witness state (more than "
                                    f"{MAX_STATE_SIZE} bytes)") from None
        except OSError as exc:
            raise WitnessStateError(f"{path}: cannot read the witness state: "
                                    f"{(exc.strerror or str(exc)).lower()}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            raise damaged from None
        if not isinstance(data, dict):
            raise damaged
        for entry in data.values():
            if not (isinstance(entry, dict) and isinstance(entry.get("size"), int)
                    and not isinstance(entry["size"], bool) and entry["size"] >= 0
                    and isinstance(entry.get("root"), str)
                    and isinstance(entry.get("log_key", ""), str)):
                raise damaged
            try:
                if len(_b64(entry["root"], "witness state root")) != 32:
                    raise damaged
            except KeyFileError:
                raise damaged from None
        return data

    def cosign(self, note_text: str, log_key: Verifier, proof: Sequence[bytes], *,
               now_ms: int) -> str:
        """Cosign a checkpoint that extends the last one cosigned for its origin.

        Reading the state, the checks, signing and writing the new state are one critical
        section under the witness directory's lock (:class:`_StateLock`): of two cosigns of
        two forks racing, the second sees the first's state and is refused. The state is
        replaced atomically and durably (``ledger.files.write_atomic``) before the
        cosignature is returned, so a crash leaves the old state or the new, never a part,
        and never a cosignature the state does not remember."""
        cp = open_checkpoint(note_text, log_key)
        with _StateLock(self.path):
            state = self.state()
            last = state.get(cp.origin)
            if last is not None and last.get("log_key", str(log_key)) != str(log_key):
                raise WitnessRefused(f"refusing to cosign: this witness follows {cp.origin} "
                                     f"under the log key {last['log_key']}, not {log_key} (a "
                                     "log does not change its key: a new key is a new log, or "
                                     "an attack)")
            if last is not None:
                old_size = int(str(last["size"]))  # an int: checked by state()
                old_root = _b64(str(last["root"]), "witness state root")
                if cp.size < old_size:
                    raise WitnessRefused(f"refusing to cosign size {cp.size}: already cosigned "
                                         f"the larger size {old_size}")
                try:
                    merkle.verify_consistency(old_size, cp.size, list(proof), old_root, cp.root)
                except VerificationError as exc:
                    raise WitnessRefused(f"refusing to cosign: size {cp.size} is not consistent "
                                         f"with the cosigned size {old_size} ({exc})") from None
            timestamp = now_ms // 1000
            out = add_cosignature(note_text, self.key, timestamp)
            state[cp.origin] = {"size": cp.size, "root": b64encode(cp.root),
                                "time": timestamp, "log_key": str(log_key)}
            _write_state(self.path, state)
        return out


def merge_cosignatures(stored: str, cosigned: str,
                       witnesses: Sequence[CosignerVerifier]) -> str:
    """The stored checkpoint note with the cosignatures of ``cosigned`` that verify under one
    of ``witnesses`` for this exact checkpoint; the bodies must match (docs/FORMAT.md §14.4).

    Every other line of ``cosigned`` is dropped: a line of an unknown key, or a known key's
    line that does not verify, never reaches the store (a junk line under a witness's name
    would make every bundle of the checkpoint fail, and junk lines would fill the note's line
    limit). One line per witness key is kept: the newest valid one, stored or new. Raises
    :class:`SignatureError` if ``cosigned`` holds no valid cosignature of ``witnesses``.
    """
    a, b = parse_note(stored), parse_note(cosigned)
    if a.text != b.text:
        raise EncodingError("the cosigned checkpoint is not the stored checkpoint of that size")
    known = {(w.name, w.key_id): w for w in witnesses}

    def valid(sigs: tuple[NoteSignature, ...]) -> list[tuple[int, NoteSignature]]:
        out = []
        for sig in sigs:
            w = known.get((sig.name, sig.key_id))
            ts = None if w is None else _valid_cosignature_time(a.text, w, sig)
            if ts is not None:
                out.append((ts, sig))
        return out

    offered = valid(b.signatures)
    if not offered:
        raise SignatureError("the cosigned checkpoint holds no valid cosignature of the given "
                             "witnesses; nothing was stored")
    best: dict[tuple[str, bytes], tuple[int, NoteSignature]] = {}
    for ts, sig in valid(a.signatures) + offered:
        if ts > best.get((sig.name, sig.key_id), (-1, sig))[0]:
            best[(sig.name, sig.key_id)] = (ts, sig)
    kept = tuple(s for s in a.signatures if (s.name, s.key_id) not in best)
    return format_note(Note(a.text, kept + tuple(sig for _, sig in best.values())))


def _valid_cosignature_time(body: str, w: CosignerVerifier, sig: NoteSignature) -> int | None:
    """The timestamp of ``w``'s cosignature line ``sig`` on ``body``, or None if invalid."""
    if len(sig.signature) != 72:
        return None
    ts = int.from_bytes(sig.signature[:8], "big")
    if ts > MAX_TIMESTAMP or not ed25519.verify(w.public_key, cosigned_message(body, ts),
                                                sig.signature[8:]):
        return None
    return ts


def checkpoint_of(note_text: str) -> Checkpoint:
    return parse_checkpoint(parse_note(note_text).text)


def _write_state(directory: Path, state: object) -> None:
    import json

    from ledger.files import write_atomic

    data = json.dumps(state, indent=2).encode("utf-8")
    write_atomic(directory / STATE_FILE, data, mode=0o600)
