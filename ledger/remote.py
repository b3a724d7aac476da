"""A log on another machine: :class:`RemoteLog`, the part of :class:`ledger.log.Ledger` that
issuing and the issuer's commands use, over the HTTP API of ``credledger serve``
(docs/API.md; the contract of issue 18, v1).

Statements are signed here (the issuer's key never leaves this machine); the server only
sequences them. Nothing the server says is taken on trust where it matters:

- :meth:`RemoteLog.append` POSTs the batch with ``"proof": true`` and checks the answer:
  one entry for every statement sent, the checkpoint signed by the log key this client
  trusts (``note.open_checkpoint``), each entry fetched and decoded and found to hold
  exactly the statement, signer and signature sent, its leaf hash the hash of those bytes
  (``merkle.leaf_hash``), and its RFC 9162 inclusion proof leading to the checkpoint's root;
- every checkpoint the client accepts must be consistent with the newest one it saw of the
  log before (kept in the state directory, ``checkpoint-<log>.txt``; the proof from
  ``/v1/consistency``): a server that forks its log, or rolls it back, is caught;
- whether a credential is in the log (what ``recover`` writes holders' credentials for) is
  read from a proof bundle verified offline (``verify.verify_bundle``), never from the
  server's word alone.

A check that fails raises :class:`~ledger.errors.LogAnswerError` (exit 1), and nothing is
taken as committed. The requests go through :class:`ledger.httpclient.HttpClient`: reads are
bounded in size; each request has one deadline over connecting, sending and every byte of the
answer (``ledger.tilereader``'s approach); a 503 (after its ``Retry-After``), a 408 and a
connection failure are retried with backoff, a POST too (a statement already in the log
answers as a duplicate: nothing is issued twice).

The state directory also holds the issuer's record of pending files (``ledger.issuance``:
``STATE/pending``), as a store directory does for a local log.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ledger import merkle
from ledger.errors import (
    EncodingError,
    FetchError,
    LedgerError,
    LogAnswerError,
    NotFoundError,
    RefusedError,
    UsageError,
    VerificationError,
)
from ledger.events import SignedStatement, check_handle, check_id, decode_entry
from ledger.files import read_regular, write_atomic
from ledger.httpclient import DEFAULT_TIMEOUT, MAX_SMALL, RETRIES, HttpClient, _short
from ledger.note import MAX_NOTE_SIZE, Checkpoint, Verifier, open_checkpoint
from ledger.parse import b64decode, b64encode
from ledger.records import (
    ACHIEVEMENT,
    CRED,
    ISSUER,
    KEY,
    SLOT,
    AchievementRecord,
    CredRecord,
    IssuerRecord,
    KeyRecord,
    Record,
)

MAX_BATCH = 10_000
"""Statements in one submission (the API's bound): a batch lands whole or not at all, so a
bigger one cannot be sent as one."""

MAX_APPEND_ANSWER = 64 << 20
"""The most bytes read of a submission's answer: an entry and an inclusion proof (at most 64
hashes) a statement, for up to :data:`MAX_BATCH` statements."""

SLOTS_PER_QUERY = 1000
ENTRY_FETCHERS = 8
"""Entries fetched at once while an answer is checked."""

STATE_ENV = "CREDLEDGER_STATE_DIR"


@dataclass(frozen=True, slots=True)
class RemoteAchievement:
    """What :meth:`RemoteLog.achievement` gives of a registered achievement: its definition
    (issuing builds the credential's Achievement from it)."""

    issuer: str
    achievement_id: str
    name: str
    description: str
    criteria: str
    achievement_type: str
    registered_at: int


# ------------------------------------------------------------------------ the remote log


class RemoteLog:
    """A log served by ``credledger serve`` at ``url``, trusted through its verifier key
    ``log_key``: what issuing (``ledger.issuance``) and the issuer's commands use of a
    :class:`~ledger.log.Ledger` (``origin``, ``clock``, ``workers``, :meth:`record`,
    :meth:`achievement`, :meth:`cred_entries`, :meth:`held_slots`, :meth:`head`,
    :meth:`append`), and :attr:`pending_home`, the local directory holding the record of
    pending files and the last checkpoint seen (``state_dir``)."""

    def __init__(self, url: str, log_key: Verifier, token: str | None = None,
                 state_dir: str | os.PathLike[str] = "credentials/.credledger-state", *,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = RETRIES,
                 workers: int | None = None, clock: Callable[[], int] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from ledger.log import now_ms
        from ledger.parallel import default_workers

        self.http = HttpClient(url, token=token, timeout=timeout, retries=retries, sleep=sleep)
        self.url = self.http.base
        self.log_key = log_key
        self.origin = log_key.name  # a checkpoint's origin is its log key's name
        self.clock = clock or now_ms
        self.workers = default_workers() if workers is None else workers
        self.state_dir = Path(state_dir)
        self._issuers: dict[str, dict[str, Any] | None] = {}

    # life cycle: nothing is held open between requests
    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending_home(self) -> Path:
        """Where ``ledger.issuance`` keeps the issuer's record of pending files
        (``pending_home/pending``)."""
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.state_dir

    @property
    def cli_args(self) -> str:
        """How a command line names this log (``recover`` hints)."""
        return f"--log {self.url}"

    # ---------------------------------------------------------------- JSON reading

    def _json(self, method: str, path: str, fmt: str, *, body: bytes | None = None,
              limit: int = MAX_SMALL, accept_404: bool = False) -> dict[str, Any] | None:
        resp = self.http.call(method, path, body=body, limit=limit, accept_404=accept_404)
        if resp.status == 404:
            return None
        try:
            doc = json.loads(resp.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise LogAnswerError(f"{method} {_short(self.url + path)}: the answer is not "
                                 "JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != fmt:
            raise LogAnswerError(f"{method} {_short(self.url + path)}: the answer is not "
                                 f"{fmt}")
        return doc

    def _issuer(self, issuer: str) -> dict[str, Any] | None:
        if issuer not in self._issuers:
            q = urllib.parse.quote(check_id(issuer, "issuer id"), safe="")
            self._issuers[issuer] = self._json("GET", f"/v1/issuer/{q}", "credledger-issuer/1",
                                               accept_404=True)
        return self._issuers[issuer]

    # ---------------------------------------------------------------- what issuing reads

    def head(self) -> Checkpoint:
        """The log's latest checkpoint, verified and consistent with those seen before."""
        resp = self.http.call("GET", "/checkpoint", limit=MAX_NOTE_SIZE)
        return self.observe(resp.body.decode("utf-8", "replace"))

    def record(self, kind: str, issuer: str, ident: str = "") -> Record | None:
        """The status-map record ``kind`` of ``issuer`` (and ``ident``), as the server
        reports it (its word: what it says is checked where it matters)."""
        try:
            if kind == ISSUER:
                doc = self._issuer(issuer)
                if doc is None:
                    return None
                return IssuerRecord(issuer, str(doc.get("name") or ""), str(doc.get("url") or ""),
                                    _int(doc["registered_at"]), _opt_int(doc.get("retired_at")),
                                    "")
            if kind == CRED:
                doc = self._credential(issuer, ident)
                if doc is None:
                    return None
                return CredRecord(issuer, ident, str(doc["state"]), _int(doc["issued_index"]),
                                  _opt_int(doc.get("changed_index")), str(doc.get("reason") or ""),
                                  _int(doc["last_time"]))
            if kind == KEY:
                doc = self._issuer(issuer)
                for k in (doc or {}).get("keys", []):
                    if k.get("key_id") == ident:
                        return KeyRecord(issuer, ident, b64decode(k["public_key"]),
                                         _int(k["active_from"]), _opt_int(k.get("ended_at")),
                                         str(k.get("end") or ""), "")
                return None
            if kind == ACHIEVEMENT:
                a = self.achievement(issuer, ident)
                return None if a is None else AchievementRecord(issuer, ident, a.registered_at)
            if kind == SLOT:
                kid, _, index = ident.partition("/")
                n = int(index)
                return None if n not in self.held_slots(issuer, kid, [n]) else \
                    _HeldSlot(issuer, kid, n)  # type: ignore[return-value]
        except (KeyError, TypeError, ValueError, AttributeError, EncodingError) as exc:
            raise LogAnswerError(f"{self.url}: a malformed {kind} record of {issuer!r} "
                                 f"({exc.__class__.__name__})") from None
        raise UsageError(f"a {kind} record is not read from a log server")

    def _credential(self, issuer: str, handle: str) -> dict[str, Any] | None:
        q = "/".join(urllib.parse.quote(p, safe="") for p in
                     (check_id(issuer, "issuer id"), check_id(handle, "credential id")))
        return self._json("GET", f"/v1/credential/{q}", "credledger-credential/1",
                          accept_404=True)

    def achievement(self, issuer: str, achievement_id: str) -> RemoteAchievement | None:
        for a in self.achievements(issuer):
            if a.achievement_id == achievement_id:
                return a
        return None

    def achievements(self, issuer: str) -> list[RemoteAchievement]:
        doc = self._issuer(issuer)
        out = []
        try:
            for a in (doc or {}).get("achievements", []):
                out.append(RemoteAchievement(issuer, str(a["id"]), str(a["name"]),
                                             str(a.get("description") or ""),
                                             str(a.get("criteria") or ""),
                                             str(a.get("achievement_type") or ""),
                                             _int(a["registered_at"])))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise LogAnswerError(f"{self.url}: a malformed achievement of {issuer!r}") from None
        return out

    def held_slots(self, issuer: str, kid: str, indexes: Iterable[int]) -> set[int]:
        """Which of ``indexes`` (status indexes of key ``kid`` of ``issuer``) are held."""
        wanted = sorted(set(indexes))
        held: set[int] = set()
        q = f"{urllib.parse.quote(check_id(issuer, 'issuer id'), safe='')}/" \
            f"{urllib.parse.quote(kid, safe='')}"
        for i in range(0, len(wanted), SLOTS_PER_QUERY):
            chunk = wanted[i:i + SLOTS_PER_QUERY]
            query = "&".join(f"index={n}" for n in chunk)
            doc = self._json("GET", f"/v1/slots/{q}?{query}", "credledger-slots/1")
            assert doc is not None
            got = doc.get("held")
            if not isinstance(got, list) or not all(isinstance(n, int) for n in got):
                raise LogAnswerError(f"{self.url}: a malformed slots answer")
            held.update(n for n in got if n in set(chunk))
        return held

    def cred_entries(self, issuer: str, cred_id: str) -> list[int]:
        """The entries about a credential, oldest first (empty: not in the log), checked
        against a proof bundle verified offline: the server's list must start with the
        issuance the bundle proves, and a credential it says is absent must be proven
        absent. A credential the log holds beyond its latest checkpoint cannot be proven yet:
        an error says so (``recover`` keeps the pending file meanwhile)."""
        handle = check_handle(cred_id)
        doc = self._credential(issuer, handle)
        said: list[int] = []
        if doc is not None:
            said = doc.get("entries") or []
            if not isinstance(said, list) or not all(type(n) is int for n in said) or not said:
                raise LogAnswerError(f"{self.url}: a malformed credential answer for {handle}")
        _, verdict = self.bundle(issuer, [handle])
        answer = next(a for a in verdict.credentials if a.cred_id == handle)
        if answer.issued_index is None:  # proven absent as of the bundle's checkpoint
            if said:
                raise FetchError(
                    f"the log says it holds {handle} (entry {said[0]}) but its latest "
                    f"checkpoint (size {verdict.checkpoint.size}) does not prove it yet: "
                    "try again after the log's next checkpoint")
            return []
        if said[:1] != [answer.issued_index]:
            raise LogAnswerError(f"the log says {handle} is at entries {said[:3]}, but its "
                                 f"bundle proves it issued at entry {answer.issued_index}")
        return said

    # ---------------------------------------------------------------- proofs

    def bundle(self, issuer: str, handles: Sequence[str], size: int | None = None
               ) -> tuple[str, Any]:
        """A proof bundle of ``handles`` of ``issuer`` (at the checkpoint of ``size``, or
        the latest), verified offline against the log key and consistent with the
        checkpoints seen before: its text and its ``verify.Verdict``."""
        from ledger.bundle import MAX_BUNDLE_SIZE
        from ledger.log import now_ms
        from ledger.verify import verify_bundle

        query = [("issuer", issuer)] + [("id", h) for h in handles]
        if size is not None:
            query.append(("size", str(size)))
        path = "/v1/bundle?" + urllib.parse.urlencode(query)
        resp = self.http.call("GET", path, limit=MAX_BUNDLE_SIZE)
        try:
            text = resp.body.decode("utf-8")
            verdict = verify_bundle(text, log_key=self.log_key, at=now_ms())
        except (UnicodeDecodeError, LedgerError) as exc:
            raise LogAnswerError(f"GET {_short(self.url + path)}: the bundle does not verify "
                                 f"under the trusted log key: {exc}") from None
        proven = {(a.issuer, a.cred_id) for a in verdict.credentials}
        for h in handles:
            if (issuer, h) not in proven:
                raise LogAnswerError(f"GET {_short(self.url + path)}: the bundle does not "
                                     f"prove {issuer}/{h}")
        if size is not None and verdict.checkpoint.size != size:
            raise LogAnswerError(f"GET {_short(self.url + path)}: a bundle of size "
                                 f"{verdict.checkpoint.size}, not {size}")
        self.observe_checkpoint(verdict.checkpoint, _bundle_note(text))
        return text, verdict

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        doc = self._json("GET", f"/v1/consistency?from={size1}&to={size2}",
                         "credledger-consistency/1")
        assert doc is not None
        proof = doc.get("proof")
        try:
            if not isinstance(proof, list) or len(proof) > 130:
                raise EncodingError("not a list of hashes")
            return [b64decode(h) for h in proof]
        except (EncodingError, TypeError) as exc:
            raise LogAnswerError(f"{self.url}: a malformed consistency proof ({exc})") from None

    def observe(self, note_text: str) -> Checkpoint:
        """Open a checkpoint note from the server under the trusted key, and check it is
        consistent with the newest checkpoint this client saw of the log."""
        try:
            cp = open_checkpoint(note_text, self.log_key)
        except LedgerError as exc:
            raise LogAnswerError(f"{self.url}: the log's checkpoint is not signed by the "
                                 f"trusted log key {self.log_key.name}: {exc}") from None
        self.observe_checkpoint(cp, note_text)
        return cp

    def observe_checkpoint(self, cp: Checkpoint, note_text: str) -> None:
        """Check ``cp`` (already verified) against the newest checkpoint seen before, and
        keep it if it is newer: the server must never show two histories."""
        with self._state_lock():
            path = self._state_file()
            old = self._seen(path)
            if old is None or cp.size > old.size:
                if old is not None:
                    self._check_consistent(old, cp)
                write_atomic(path, note_text.encode("utf-8"), mode=0o600)
                return
            if cp.size == old.size:
                if cp.root != old.root:
                    raise LogAnswerError(f"{self.url}: two checkpoints of size {cp.size} with "
                                         "different roots: the log shows two histories")
                return
            self._check_consistent(cp, old)

    def _check_consistent(self, older: Checkpoint, newer: Checkpoint) -> None:
        proof = self.consistency(older.size, newer.size)
        try:
            merkle.verify_consistency(older.size, newer.size, proof, older.root, newer.root)
        except VerificationError as exc:
            raise LogAnswerError(f"{self.url}: the checkpoint of size {newer.size} is not "
                                 f"consistent with the one of size {older.size} seen before: "
                                 f"{exc}") from None

    def _state_file(self) -> Path:
        digest = hashlib.sha256(str(self.log_key).encode()).hexdigest()[:16]
        return self.pending_home / f"checkpoint-{digest}.txt"

    def _seen(self, path: Path) -> Checkpoint | None:
        try:
            data = read_regular(path, MAX_NOTE_SIZE, "a saved checkpoint")
        except NotFoundError:
            return None
        try:
            return open_checkpoint(data, self.log_key)
        except LedgerError as exc:
            raise EncodingError(f"{path}: not a checkpoint of this log ({exc}); remove it "
                                "only if you know why it is there") from None

    @contextlib.contextmanager
    def _state_lock(self) -> Iterator[None]:
        fd = os.open(self.pending_home / ".checkpoint.lock",
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def publish_statements(self, issuer: str, seed: bytes, *, time: int) -> list[Any]:
        """``statuspublish.publish_statements`` over the served tree: the key's lists as of
        the log's latest checkpoint, from the entries of its tiles (``/tile/entries/...``),
        whose leaf hashes must make the checkpoint's root."""
        from ledger.events import key_id, seed_public_key
        from ledger.statuspublish import check_publisher, list_statements

        public_key = seed_public_key(seed)
        kid = key_id(public_key)
        rec = self.record(ISSUER, issuer)
        key = self.record(KEY, issuer, kid) if rec is not None else None
        check_publisher(issuer, rec, key, public_key)  # type: ignore[arg-type]
        assert isinstance(rec, IssuerRecord)
        for attempt in range(3):
            cp = self.head()
            try:
                lists, last_time = self._scan(cp, issuer, kid)
                break
            except NotFoundError:  # the log grew past this checkpoint's partial tile
                if attempt == 2:
                    raise
        if not lists:
            return []
        return list_statements(self.origin, issuer, rec.name, seed, lists, size=cp.size,
                               last_time=last_time, time=time)

    def _scan(self, cp: Checkpoint, issuer: str, kid: str) -> tuple[list[Any], int]:
        """The key's list bits from the served entries of the tree of ``cp``, and the time
        of its last entry; LogAnswerError unless the entries hash to ``cp``'s root."""
        from ledger.events import trusted_entry
        from ledger.statuspublish import list_bits_of
        from ledger.tilereader import TileReader
        from ledger.tiles import TILE_WIDTH

        reader = TileReader(self.url, timeout=self.http.timeout)
        frontier = merkle.CompactRange()
        last: list[bytes] = []

        def entries() -> Iterator[bytes]:
            for k in range((cp.size + TILE_WIDTH - 1) // TILE_WIDTH):
                width = min(TILE_WIDTH, cp.size - k * TILE_WIDTH)
                for data in reader.entries(k, width):
                    frontier.append(merkle.leaf_hash(data))
                    last[:] = [data]
                    yield data
        try:
            lists = list_bits_of(entries(), issuer, kid)
            last_time = trusted_entry(last[0]).time if last else 0
        except (NotFoundError, FetchError):
            raise
        except Exception as exc:  # noqa: BLE001 - an entry that does not decode: checked below
            raise LogAnswerError(f"{self.url}: the served entries do not decode "
                                 f"({exc.__class__.__name__})") from None
        if frontier.size != cp.size or frontier.root() != cp.root:
            raise LogAnswerError(f"{self.url}: the served entries do not make the root of the "
                                 f"checkpoint of size {cp.size}")
        return lists, last_time

    # ---------------------------------------------------------------- writing

    def append(self, items: Sequence[SignedStatement], *,
               progress: Callable[[int], None] | None = None) -> Any:
        """Submit ``items`` as one batch (all land or none), and check the answer (see the
        module's docstring): an ``Appended`` of the checkpoint that proves them."""
        from ledger.log import Appended

        if not items:
            raise RefusedError("empty-batch", "nothing to append")
        if len(items) > MAX_BATCH:
            raise UsageError(f"{len(items)} statements: a log server takes at most {MAX_BATCH} "
                             "in one batch (all land or none); issue the batch in parts")
        body = json.dumps({"statements": [
            {"statement": b64encode(it.statement), "signer": b64encode(it.signer),
             "signature": b64encode(it.signature)} for it in items], "proof": True}).encode()
        doc = self._json("POST", "/v1/statements", "credledger-append/1", body=body,
                         limit=MAX_APPEND_ANSWER)
        assert doc is not None
        self._issuers.clear()  # what the batch registered or changed
        cp, indexes = self._check_append(items, doc)
        if progress is not None:
            progress(len(items))
        return Appended(min(indexes), len(indexes), cp.size, cp.root)

    def _check_append(self, items: Sequence[SignedStatement], doc: dict[str, Any]
                      ) -> tuple[Checkpoint, list[int]]:
        where = f"POST {self.url}/v1/statements"
        entries, proofs, note = doc.get("entries"), doc.get("proofs"), doc.get("checkpoint")
        if not isinstance(entries, list) or len(entries) != len(items):
            n = len(entries) if isinstance(entries, list) else "no"
            raise LogAnswerError(f"{where}: the answer names {n} entries for the "
                                 f"{len(items)} statements sent")
        if not isinstance(proofs, list) or len(proofs) != len(items):
            raise LogAnswerError(f"{where}: the answer has no inclusion proof for every "
                                 "statement")
        if not isinstance(note, str):
            raise LogAnswerError(f"{where}: the answer has no checkpoint")
        try:
            cp = open_checkpoint(note, self.log_key)
        except LedgerError as exc:
            raise LogAnswerError(f"{where}: the answer's checkpoint is not signed by the "
                                 f"trusted log key {self.log_key.name}: {exc}") from None
        indexes, leaves, paths = [], [], []
        try:
            for e, p in zip(entries, proofs, strict=True):
                index = e["index"]
                if type(index) is not int or not 0 <= index < cp.size:
                    raise EncodingError(f"index {index!r} outside the checkpoint's tree of "
                                        f"size {cp.size}")
                indexes.append(index)
                leaves.append(b64decode(e["leaf_hash"]))
                if not isinstance(p, list) or len(p) > 64:
                    raise EncodingError("an inclusion proof is not a list of hashes")
                paths.append([b64decode(h) for h in p])
        except (KeyError, TypeError, EncodingError) as exc:
            raise LogAnswerError(f"{where}: a malformed answer ({exc})") from None
        if len(set(indexes)) != len(indexes):
            raise LogAnswerError(f"{where}: the answer gives one entry for two statements")
        with ThreadPoolExecutor(min(ENTRY_FETCHERS, len(items))) as pool:
            raw = list(pool.map(self.entry_bytes, indexes))
        for n, (item, index, data, leaf, path) in enumerate(
                zip(items, indexes, raw, leaves, paths, strict=True)):
            try:
                entry = decode_entry(data)
            except LedgerError as exc:
                raise LogAnswerError(f"{where}: entry {index} does not decode ({exc})") from None
            if entry.index != index or (entry.statement, entry.signer, entry.signature) != (
                    item.statement, item.signer, item.signature):
                raise LogAnswerError(f"{where}: entry {index}, given for statement {n}, holds "
                                     "another statement")
            if merkle.leaf_hash(data) != leaf:
                raise LogAnswerError(f"{where}: the leaf hash given for statement {n} (entry "
                                     f"{index}) is not the hash of that entry")
            try:
                merkle.verify_inclusion(index, cp.size, leaf, path, cp.root)
            except VerificationError as exc:
                raise LogAnswerError(f"{where}: the inclusion proof of entry {index} does not "
                                     f"lead to the checkpoint's root: {exc}") from None
        self.observe_checkpoint(cp, note)
        return cp, indexes

    def entry_bytes(self, index: int) -> bytes:
        doc = self._json("GET", f"/v1/entry/{int(index)}", "credledger-entry/1")
        assert doc is not None
        try:
            if doc.get("index") != index:
                raise EncodingError(f"entry {doc.get('index')!r} given for {index}")
            return b64decode(doc["entry"])
        except (KeyError, TypeError, EncodingError) as exc:
            raise LogAnswerError(f"GET {self.url}/v1/entry/{index}: a malformed answer "
                                 f"({exc})") from None


@dataclass(frozen=True, slots=True)
class _HeldSlot:
    issuer: str
    key_id: str
    status_index: int


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError("not an integer")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _bundle_note(text: str) -> str:
    from ledger.bundle import parse_bundle

    return parse_bundle(text).checkpoint


def state_dir_for(out_dir: str | os.PathLike[str], given: str | None) -> Path:
    """The client's state directory: ``given`` (``--state-dir``), else $CREDLEDGER_STATE_DIR,
    else OUT/.credledger-state."""
    if given:
        return Path(given)
    env = os.environ.get(STATE_ENV)
    return Path(env) if env else Path(out_dir) / ".credledger-state"


def open_remote(url: str, log_key: str, *, token: str | None, state_dir: Path) -> RemoteLog:
    """A :class:`RemoteLog` from the command line's words (the key as ``note`` prints it)."""
    from ledger.note import parse_verifier

    try:
        verifier = parse_verifier(log_key.strip())
    except LedgerError as exc:
        raise UsageError(f"--log-key: {exc}") from None
    return RemoteLog(url, verifier, token=token or None, state_dir=state_dir)


