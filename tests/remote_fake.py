"""A fake log server for tests/test_remote.py: the HTTP API of issue 18 (v1) served from a
real Ledger in a temporary directory by http.server in a thread on 127.0.0.1 (an ephemeral
port). A small adapter, not the real service (ledger/service.py): one lock around the store,
no sequencer, no tokens. It can be told to lie, or to fail, in the ways the client must catch.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ledger import merkle
from ledger.bundle import build_bundle, dump_bundle
from ledger.errors import LedgerError, NotFoundError, RefusedError
from ledger.events import SignedStatement
from ledger.log import Ledger
from ledger.note import Checkpoint, Signer, parse_checkpoint, parse_note, sign_checkpoint
from ledger.parse import b64decode, b64encode
from ledger.records import CRED, ISSUER, CredRecord, IssuerRecord
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, encode_bundle

_TILE = re.compile(r"/tile/(entries|\d+)/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?")


class FakeLog:
    """The served log and how it misbehaves.

    ``lie``: None, or one of "other-key" (the answer's checkpoint signed by another key of
    the same name), "bad-proof" (an inclusion proof with a hash changed), "other-leaf" (the
    leaf hash of another entry), "drop" (the answer leaves the last statement out).
    ``drop_after_commit``: how many submissions to commit and then answer with a closed
    connection (-1: all). ``busy``: how many submissions to answer 503 with Retry-After.
    ``checkpoint_on_commit``: sign a checkpoint after each commit (as proof: true asks).
    """

    def __init__(self, ledger: Ledger, log_signer: Signer) -> None:
        self.ledger = ledger
        self.signer = log_signer
        self.lock = threading.RLock()
        self.lie: str | None = None
        self.drop_after_commit = 0
        self.busy = 0
        self.retry_after = "0"
        self.checkpoint_on_commit = True
        self.posts: list[dict[str, Any]] = []  # the answers given (or not) to submissions

    # ------------------------------------------------------------------ submissions

    def known(self) -> dict[tuple[bytes, bytes, bytes], int]:
        out = {}
        for i in range(self.ledger.head().size):
            e = self.ledger.entry(i)
            out[(e.statement, e.signer, e.signature)] = i
        return out

    def submit(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        items = [SignedStatement(b64decode(s["statement"]), b64decode(s["signer"]),
                                 b64decode(s["signature"])) for s in body["statements"]]
        with self.lock:
            known = self.known()
            new = [it for it in items if (it.statement, it.signer, it.signature) not in known]
            if new:
                try:
                    self.ledger.append(new)
                except RefusedError as exc:
                    return 409, _error(409, "refused", exc.detail, rule=exc.rule)
                known = self.known()
            note = (self.ledger.checkpoint(self.signer) if self.checkpoint_on_commit and new
                    else None)
            if note is None:
                try:
                    note = self.ledger.checkpoint_note()
                except NotFoundError:
                    note = self.ledger.checkpoint(self.signer)
            cp = parse_checkpoint(parse_note(note).text)
            fresh = {(it.statement, it.signer, it.signature) for it in new}
            entries, proofs = [], []
            for it in items:
                i = known[(it.statement, it.signer, it.signature)]
                entries.append({"index": i,
                                "leaf_hash": b64encode(merkle.leaf_hash(self.ledger.entry_bytes(i))),
                                "duplicate": (it.statement, it.signer, it.signature) not in fresh})
                proofs.append([b64encode(h) for h in self.ledger.inclusion_proof(i, cp.size)]
                              if i < cp.size else [])
            answer = {"format": "credledger-append/1", "entries": entries,
                      "size": self.ledger.head().size, "checkpoint": note, "proofs": proofs}
        return 200, self._lie(answer, cp)

    def _lie(self, answer: dict[str, Any], cp: Checkpoint) -> dict[str, Any]:
        if self.lie == "other-key":
            answer["checkpoint"] = sign_checkpoint(cp, Signer.generate(cp.origin))
        elif self.lie == "bad-proof":
            proof = answer["proofs"][0]
            raw = bytearray(b64decode(proof[0]))
            raw[0] ^= 1
            proof[0] = b64encode(bytes(raw))
        elif self.lie == "other-leaf":
            e = answer["entries"][0]
            e["leaf_hash"] = b64encode(merkle.leaf_hash(self.ledger.entry_bytes(e["index"] - 1)))
        elif self.lie == "drop":
            answer["entries"].pop()
            answer["proofs"].pop()
        return answer

    # ------------------------------------------------------------------ reads

    def get(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        with self.lock:
            return self._get(path, query)

    def _get(self, path: str, q: dict[str, list[str]]) -> tuple[int, str, bytes]:
        lg = self.ledger
        if path == "/checkpoint":
            return 200, "text/plain", lg.checkpoint_note().encode()
        if path == "/healthz":
            return _json({"format": "credledger-health/1", "ok": True, "size": lg.head().size})
        m = _TILE.fullmatch(path)
        if m:
            return self._tile(m)
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        if parts[:2] == ["v1", "entry"] and len(parts) == 3:
            i = int(parts[2])
            if i >= lg.head().size:
                return _json(_error(404, "not-found", f"no entry {i}"), 404)
            return _json({"format": "credledger-entry/1", "index": i,
                          "entry": b64encode(lg.entry_bytes(i))})
        if parts[:2] == ["v1", "consistency"]:
            a, b = int(q["from"][0]), int(q["to"][0])
            return _json({"format": "credledger-consistency/1",
                          "proof": [b64encode(h) for h in lg.consistency_proof(a, b)]})
        if parts[:2] == ["v1", "bundle"]:
            issuer = q["issuer"][0]
            size = int(q["size"][0]) if "size" in q else parse_checkpoint(
                parse_note(lg.checkpoint_note()).text).size
            bundle = build_bundle(lg, [(issuer, h) for h in q["id"]], size=size)
            if self.lie == "other-key":
                cp = parse_checkpoint(parse_note(bundle["checkpoint"]).text)
                bundle["checkpoint"] = sign_checkpoint(cp, Signer.generate(cp.origin))
            return 200, "application/json", dump_bundle(bundle).encode()
        if parts[:2] == ["v1", "issuer"] and len(parts) == 3:
            return self._issuer(parts[2])
        if parts[:2] == ["v1", "credential"] and len(parts) == 4:
            rec = lg.record(CRED, parts[2], parts[3])
            if not isinstance(rec, CredRecord):
                return _json(_error(404, "not-found", "no such credential"), 404)
            return _json({"format": "credledger-credential/1", "state": rec.state,
                          "issued_index": rec.issued_index, "changed_index": rec.changed_index,
                          "reason": rec.reason, "last_time": rec.last_time,
                          "entries": lg.cred_entries(parts[2], parts[3])})
        if parts[:2] == ["v1", "slots"] and len(parts) == 4:
            wanted = [int(n) for n in q.get("index", [])]
            return _json({"format": "credledger-slots/1",
                          "held": sorted(lg.held_slots(parts[2], parts[3], wanted))})
        return _json(_error(404, "not-found", path), 404)

    def _issuer(self, issuer: str) -> tuple[int, str, bytes]:
        hist = self.ledger.issuer_history(issuer)
        rec = self.ledger.record(ISSUER, issuer)
        if hist is None or not isinstance(rec, IssuerRecord):
            return _json(_error(404, "not-found", f"no issuer {issuer}"), 404)
        return _json({
            "format": "credledger-issuer/1", "issuer": issuer, "name": rec.name, "url": rec.url,
            "registered_at": rec.registered_at, "retired_at": rec.retired_at,
            "keys": [{"key_id": k.record.key_id, "public_key": b64encode(k.record.public_key),
                      "active_from": k.record.active_from, "ended_at": k.record.ended_at,
                      "end": k.record.end} for k in hist.keys],
            "achievements": [{"id": a.record.achievement_id, "name": a.name,
                              "description": a.description, "criteria": a.criteria,
                              "achievement_type": a.achievement_type,
                              "registered_at": a.record.registered_at}
                             for a in self.ledger.achievements(issuer)]})

    def _tile(self, m: re.Match[str]) -> tuple[int, str, bytes]:
        cp = parse_checkpoint(parse_note(self.ledger.checkpoint_note()).text)
        index = int(m.group(2).replace("x", "").replace("/", ""))
        width = int(m.group(3) or TILE_WIDTH)
        if m.group(1) == "entries":
            first = index * TILE_WIDTH
            if first + width > cp.size or (width < TILE_WIDTH and first + width != cp.size):
                return 404, "text/plain", b"not found"
            data = encode_bundle(self.ledger.entry_bytes(i) for i in range(first, first + width))
            return 200, "application/octet-stream", data
        level = int(m.group(1))
        base = index * TILE_WIDTH
        span = 1 << (TILE_HEIGHT * level)
        if (base + width) * span > cp.size or (
                width < TILE_WIDTH and (base + width + 1) * span <= cp.size):
            return 404, "text/plain", b"not found"
        tree_level = TILE_HEIGHT * level
        data = self.ledger.store.read(lambda t: b"".join(
            t.tree_node(tree_level, base + i) for i in range(width)))
        return 200, "application/octet-stream", data


def _error(code: int, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"format": "credledger-error/1",
            "error": {"code": code, "kind": kind, "message": message, **extra}}


def _json(doc: dict[str, Any], status: int = 200) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(doc).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None
              ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        try:
            status, ctype, body = self.server.log.get(url.path, urllib.parse.parse_qs(url.query))
        except LedgerError as exc:
            status, ctype, body = _json(_error(400, "bad-request", str(exc)), 400)
        self._send(status, ctype, body)

    def do_POST(self) -> None:
        log = self.server.log
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if urllib.parse.urlsplit(self.path).path != "/v1/statements":
            self._send(*_json(_error(404, "not-found", self.path), 404))
            return
        if log.busy:
            log.busy -= 1
            self._send(*_json(_error(503, "overloaded", "busy"), 503),
                       headers={"Retry-After": log.retry_after})
            return
        status, answer = log.submit(body)
        log.posts.append(answer)
        if status == 200 and log.drop_after_commit:
            log.drop_after_commit -= 1 if log.drop_after_commit > 0 else 0
            self.close_connection = True
            self.connection.shutdown(2)  # committed, and then the network fails
            return
        self._send(*_json(answer, status))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    log: FakeLog


def serve(log: FakeLog) -> Generator[str, None, None]:
    """Serve ``log`` on 127.0.0.1 (an ephemeral port) while the generator is open: its URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.log = log
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
