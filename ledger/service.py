"""The log as an HTTP service (``credledger serve``): the Starlette application.

The API is docs/API.md. Issuers on other machines POST signed statements to
``/v1/statements``; the request threads check each submission (its shape, base64, the strict
decoding and signature of every statement, the bearer token its issuers need) and hand it to
the one writer thread (``ledger.sequencer``), which answers once the commit is durable.
Everything else is read from LMDB read snapshots in the request threads, never waiting for the
writer: the C2SP tlog-tiles of the latest checkpoint, proof bundles, consistency proofs,
issuers, credentials, status slots, entries, status lists, the verifier page, health and
Prometheus metrics.

Every body is bounded in size (:data:`MAX_BODY`) and time (:data:`BODY_SECONDS`); every
error is one JSON object (``credledger-error/1``) with the HTTP status, a kind and a message,
never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ledger.bundle import build_bundle, dump_bundle
from ledger.errors import (
    EncodingError,
    LedgerError,
    NotFoundError,
    SignatureError,
    UsageError,
)
from ledger.events import (
    MAX_ENTRY_SIZE,
    REGISTER_ISSUER,
    RETIRE_ISSUER,
    SignedStatement,
    Statement,
    check_bytes,
    check_handle,
    check_id,
    decode_statement,
    signing_message,
    trusted_entry,
    trusted_statement,
    verify_signature_fast,
)
from ledger.log import Ledger
from ledger.note import Signer
from ledger.parse import b64decode, b64encode, json_fields, load_json
from ledger.records import (
    CRED,
    SLOT,
    STATUS_LIST,
    CredRecord,
    StatusListRecord,
    list_ident,
    slot_ident,
)
from ledger.rules import RecordState
from ledger.sequencer import Metrics, Outcome, Sequencer, Submission, checkpoint_size
from ledger.snapshot import store_loader
from ledger.store import from_u64
from ledger.tiles import TILE_WIDTH, bundle_path, read_tile, tile_end, tile_path
from ledger.webpage import build_page

MAX_BODY: Final = 16 << 20
"""The largest request body (bytes)."""
BODY_SECONDS: Final = 30.0
"""A request body must arrive within this many seconds (else 408)."""
MAX_STATEMENTS: Final = 10_000
"""The most statements one submission may hold."""
MAX_JSON_ITEMS: Final = 8 * MAX_STATEMENTS + 16
"""JSON items a submission may have (counted before parsing: ``ledger.parse``)."""
MAX_SLOTS: Final = 1000
"""The most status indexes one ``/v1/slots`` request may ask about."""
RETRY_AFTER: Final = 1
"""Seconds an overloaded server asks a client to wait (``Retry-After``)."""
TOKEN_PREFIX: Final = "sha256:"
_HEX64 = re.compile(r"[0-9a-f]{64}")

KINDS: Final = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                405: "method-not-allowed", 408: "timeout", 409: "refused", 411: "too-large",
                413: "too-large", 415: "unsupported-media-type", 500: "internal",
                503: "overloaded"}
_IMMUTABLE = "public, max-age=31536000, immutable"


class ApiError(Exception):
    """An answer other than 200: the HTTP status, the message, and for a refusal its rule
    and the statement's 0-based place."""

    def __init__(self, code: int, message: str, *, rule: str | None = None,
                 item: int | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rule = rule
        self.item = item
        self.headers = dict(headers or {})


def error_body(code: int, message: str, *, rule: str | None = None,
               item: int | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "kind": KINDS.get(code, "error"), "message": message}
    if rule is not None:
        err["rule"] = rule
    if item is not None:
        err["item"] = item
    return {"format": "credledger-error/1", "error": err}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message, rule=exc.rule, item=exc.item),
                        status_code=exc.code, headers=exc.headers)


def _json(fmt: str, data: dict[str, Any], headers: Mapping[str, str] | None = None
          ) -> JSONResponse:
    return JSONResponse({"format": fmt, **data}, headers=dict(headers or {}))


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class Config:
    """Who may submit (the ``--config`` file, docs/API.md): per issuer, the SHA-256 hashes of
    its bearer tokens; the operator's, for registry-signed statements and ``POST
    /v1/checkpoint``. An issuer the file does not list needs no token (its statements are
    self-authenticating)."""

    tokens: Mapping[str, frozenset[bytes]] = field(default_factory=dict)
    operator_tokens: frozenset[bytes] = frozenset()


def parse_config(data: bytes, what: str = "config") -> Config:
    """The config file's JSON, strictly: ``{"tokens": {ISSUER: ["sha256:HEX", ...]},
    "operator_tokens": ["sha256:HEX", ...]}`` (both optional). EncodingError naming the
    first problem, in one line."""
    doc = load_json(data, what, max_items=1 << 16)
    json_fields(doc, what, frozenset(), frozenset({"tokens", "operator_tokens"}))

    def hashes(value: Any, where: str) -> frozenset[bytes]:
        if not isinstance(value, list):
            raise EncodingError(f"{where}: want a list of \"sha256:HEX\" token hashes")
        out = set()
        for n, h in enumerate(value):
            if (not isinstance(h, str) or not h.startswith(TOKEN_PREFIX)
                    or not _HEX64.fullmatch(h[len(TOKEN_PREFIX):])):
                raise EncodingError(f"{where}[{n}]: want \"sha256:\" and 64 lowercase hex "
                                    "digits (the SHA-256 of a token, never the token)")
            out.add(bytes.fromhex(h[len(TOKEN_PREFIX):]))
        return frozenset(out)

    tokens = doc.get("tokens", {})
    if not isinstance(tokens, dict):
        raise EncodingError(f"{what}: tokens: want an object of issuer ids")
    per_issuer = {}
    for issuer, value in tokens.items():
        try:
            check_id(issuer, "issuer id")
        except EncodingError as exc:
            raise EncodingError(f"{what}: tokens: {exc}") from None
        per_issuer[issuer] = hashes(value, f"{what}: tokens[{issuer!r}]")
    return Config(per_issuer, hashes(doc.get("operator_tokens", []),
                                     f"{what}: operator_tokens"))


def token_hash(token: str) -> str:
    """The config file's form of a token: ``sha256:`` and the hex SHA-256 of its UTF-8."""
    return TOKEN_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _holds(hashes: frozenset[bytes], token: str | None) -> bool:
    if token is None:
        return False
    digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
    return any(hmac.compare_digest(digest, h) for h in hashes)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Authorization: want 'Bearer TOKEN'")
    return token.strip()


# ----------------------------------------------------------------------------- the service


def _answers(fn: Callable[[Any, Request], Response]) -> Callable[[Any, Request], Response]:
    """A read endpoint (run in a request thread): the package's errors and :class:`ApiError`
    answered as JSON errors (404 for what is not there, 400 for a request that is wrong)."""
    @functools.wraps(fn)
    def endpoint(self: Any, request: Request) -> Response:
        try:
            return fn(self, request)
        except ApiError as exc:
            return error_response(exc)
        except NotFoundError as exc:
            return error_response(ApiError(404, str(exc)))
        except (UsageError, EncodingError) as exc:
            return error_response(ApiError(400, str(exc)))
        except LedgerError as exc:
            return error_response(ApiError(500, str(exc)))
    return endpoint




class Service:
    """The application over one open Ledger (opened for writing) and its log key."""

    def __init__(self, ledger: Ledger, signer: Signer, *, config: Config | None = None,
                 checkpoint_every: float | None = 60.0, max_batch: int = 10_000,
                 max_wait: float = 0.02, max_queue: int = 100_000,
                 body_seconds: float = BODY_SECONDS, max_body: int = MAX_BODY) -> None:
        self.ledger = ledger
        self.signer = signer
        self.config = config or Config()
        self.body_seconds = body_seconds
        self.max_body = max_body
        self.metrics = Metrics()
        self.metrics.tree_size = ledger.head().size
        self.sequencer = Sequencer(ledger, signer, max_batch=max_batch, max_wait=max_wait,
                                   max_queue=max_queue, checkpoint_every=checkpoint_every,
                                   metrics=self.metrics)
        self.page = build_page(origin=ledger.origin, log_vkey=ledger.log_vkey())
        self.started = time.time()
        routes = [
            Route("/v1/statements", self.submit, methods=["POST"]),
            Route("/v1/checkpoint", self.sign_checkpoint, methods=["POST"]),
            Route("/checkpoint", self.checkpoint, methods=["GET"]),
            Route("/tile/{path:path}", self.tile, methods=["GET"]),
            Route("/status/{issuer}/{kid}/{purpose}/{name}", self.status_list, methods=["GET"]),
            Route("/verify.html", self.verify_page, methods=["GET"]),
            Route("/v1/bundle", self.bundle, methods=["GET"]),
            Route("/v1/consistency", self.consistency, methods=["GET"]),
            Route("/v1/issuer/{issuer}", self.issuer, methods=["GET"]),
            Route("/v1/credential/{issuer}/{handle}", self.credential, methods=["GET"]),
            Route("/v1/slots/{issuer}/{kid}", self.slots, methods=["GET"]),
            Route("/v1/entry/{index}", self.entry, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Route("/metrics", self.metrics_text, methods=["GET"]),
        ]
        self.app = Starlette(routes=routes, lifespan=self._lifespan, exception_handlers={
            HTTPException: self._http_error, Exception: self._internal})

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # A log with entries past its latest checkpoint gets one now: readers see all of it.
        self.ledger.checkpoint(self.signer)
        self.sequencer.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(self.sequencer.stop)

    # ------------------------------------------------------------------ errors

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: f"no such resource: {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(
                       exc.status_code, str(exc.detail))
        return error_response(ApiError(exc.status_code, message, headers=exc.headers))

    async def _internal(self, request: Request, exc: Exception) -> Response:
        return error_response(ApiError(500, f"internal error ({exc.__class__.__name__})"))

    # ------------------------------------------------------------------ submit

    async def submit(self, request: Request) -> Response:
        try:
            return await self._submit(request)
        except ApiError as exc:
            if exc.code == 503:
                self.metrics.submission("overloaded")
            elif exc.code != 409:
                self.metrics.submission("bad")
            return error_response(exc)

    async def _submit(self, request: Request) -> Response:
        _want_json(request)
        token = _bearer(request)
        body = await self._body(request)
        self.sequencer.incoming(1)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Outcome] = loop.create_future()

        def settle(outcome: Outcome) -> None:
            loop.call_soon_threadsafe(_settle, done, outcome)

        try:
            items, statements, proof = await anyio.to_thread.run_sync(
                self._check_submission, body, token)
            queued = self.sequencer.submit(Submission(items, statements, proof, settle))
        finally:
            self.sequencer.incoming(-1)
        if not queued:
            raise ApiError(503, "the log is busy: too many statements are waiting; send again "
                           "after Retry-After seconds",
                           headers={"Retry-After": str(RETRY_AFTER)})
        outcome = await done
        if outcome.refusal is not None:
            exc = outcome.refusal
            self.metrics.submission("refused")
            raise ApiError(409, f"refused ({exc.rule}): {exc.detail}", rule=exc.rule,
                           item=exc.item)
        if outcome.error is not None:
            raise ApiError(500, str(outcome.error) or "the append failed; nothing was written")
        new = sum(1 for e in outcome.entries if not e[2])
        self.metrics.submission("ok" if new else "duplicate", new)
        data: dict[str, Any] = {
            "entries": [{"index": i, "leaf_hash": b64encode(h), "duplicate": dup}
                        for i, h, dup in outcome.entries],
            "size": outcome.size}
        if outcome.checkpoint is not None:
            note = outcome.checkpoint
            size = checkpoint_size(note)
            proofs = await anyio.to_thread.run_sync(
                self._proofs, [i for i, _, _ in outcome.entries], size)
            data["checkpoint"] = note
            data["proofs"] = [[b64encode(h) for h in p] for p in proofs]
        return _json("credledger-append/1", data)

    def _proofs(self, indexes: list[int], size: int) -> list[list[bytes]]:
        return self.ledger.snapshot(lambda s: [s.inclusion_proof(i, size) for i in indexes])

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is None:
            if "chunked" not in request.headers.get("transfer-encoding", "").lower():
                raise ApiError(411, "a body needs Content-Length (or chunked transfer)")
        else:
            if not length.isdigit() or len(length) > 12:
                raise ApiError(400, f"Content-Length: want a number, got {length[:20]!r}")
            if int(length) > self.max_body:
                raise ApiError(413, f"the body is {int(length)} bytes; at most "
                               f"{self.max_body} are read")
        chunks: list[bytes] = []
        got = 0
        try:
            with anyio.fail_after(self.body_seconds):
                async for chunk in request.stream():
                    got += len(chunk)
                    if got > self.max_body:
                        raise ApiError(413, f"the body is over {self.max_body} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, f"the body did not arrive within {self.body_seconds:g} s "
                           f"({got} bytes came)") from None
        except ClientDisconnect:
            raise ApiError(400, "the client went away before sending the whole body") from None
        return b"".join(chunks)

    def _check_submission(self, body: bytes, token: str | None
                          ) -> tuple[list[SignedStatement], list[Statement], bool]:
        """In a request thread: the body read strictly, every statement decoded, the tokens
        its issuers need, then every signature (the costly part, after the cheap refusals)."""
        try:
            doc = load_json(body, "body", max_items=MAX_JSON_ITEMS)
        except EncodingError as exc:
            if "JSON items" in str(exc):
                raise ApiError(413, f"{exc}: at most {MAX_STATEMENTS} statements") from None
            raise ApiError(400, str(exc)) from None
        try:
            json_fields(doc, "body", frozenset({"statements"}), frozenset({"proof"}))
        except EncodingError as exc:
            raise ApiError(400, str(exc)) from None
        raw, proof = doc["statements"], doc.get("proof", False)
        if not isinstance(proof, bool):
            raise ApiError(400, "body: proof: want true or false")
        if not isinstance(raw, list) or not raw:
            raise ApiError(400, "body: statements: want a list of 1 to "
                           f"{MAX_STATEMENTS} statements")
        if len(raw) > MAX_STATEMENTS:
            raise ApiError(413, f"body: {len(raw)} statements; at most {MAX_STATEMENTS} a "
                           "submission")
        items: list[SignedStatement] = []
        statements: list[Statement] = []
        for n, value in enumerate(raw):
            where = f"statements[{n}]"
            try:
                json_fields(value, where, frozenset({"statement", "signer", "signature"}))
                item = SignedStatement(
                    _b64(value["statement"], f"{where}.statement", MAX_ENTRY_SIZE),
                    check_bytes(_b64(value["signer"], f"{where}.signer", 64),
                                f"{where}.signer", 32),
                    check_bytes(_b64(value["signature"], f"{where}.signature", 128),
                                f"{where}.signature", 64))
                statements.append(decode_statement(item.statement))
            except EncodingError as exc:
                raise ApiError(400, f"{where}: {exc}" if where not in str(exc) else str(exc),
                               item=n) from None
            items.append(item)
        self._authorize(statements, token)
        for n, item in enumerate(items):
            try:
                verify_signature_fast(item.signer, signing_message(item.statement),
                                      item.signature)
            except (SignatureError, EncodingError) as exc:
                raise ApiError(400, f"statements[{n}]: the signature does not verify ({exc})",
                               item=n) from None
        return items, statements, proof

    def _authorize(self, statements: list[Statement], token: str | None) -> None:
        for n, st in enumerate(statements):
            if st.kind in (REGISTER_ISSUER, RETIRE_ISSUER):
                hashes, who = self.config.operator_tokens, "the operator's token"
            elif st.issuer in self.config.tokens:
                hashes, who = self.config.tokens[st.issuer], f"a token of issuer {st.issuer!r}"
            else:
                continue
            if token is None:
                raise ApiError(401, f"statements[{n}] ({st.kind} of {st.issuer!r}) needs "
                               f"{who}: send Authorization: Bearer TOKEN", item=n)
            if not _holds(hashes, token):
                raise ApiError(403, f"statements[{n}] ({st.kind} of {st.issuer!r}) needs "
                               f"{who}; the token given is not one", item=n)

    async def sign_checkpoint(self, request: Request) -> Response:
        try:
            token = _bearer(request)
            if token is None:
                raise ApiError(401, "signing a checkpoint needs the operator's token: send "
                               "Authorization: Bearer TOKEN")
            if not _holds(self.config.operator_tokens, token):
                raise ApiError(403, "signing a checkpoint needs the operator's token; the "
                               "token given is not one")
            loop = asyncio.get_running_loop()
            done: asyncio.Future[str | LedgerError] = loop.create_future()
            def settle(result: str | LedgerError) -> None:
                loop.call_soon_threadsafe(_settle, done, result)

            if not self.sequencer.checkpoint(settle):
                raise ApiError(503, "the log is stopping", headers={"Retry-After":
                                                                  str(RETRY_AFTER)})
            result = await done
            if isinstance(result, LedgerError):
                raise ApiError(500, str(result))
            return _json("credledger-checkpoint/1", {"checkpoint": result})
        except ApiError as exc:
            return error_response(exc)

    # ------------------------------------------------------------------ reads

    @_answers
    def checkpoint(self, request: Request) -> Response:
        note = self.ledger.checkpoint_note()
        return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})

    @_answers
    def tile(self, request: Request) -> Response:
        level, index, width = _tile_coordinates(request.path_params["path"])

        def read(txn: Any) -> bytes:
            last = txn.last("checkpoints")
            size = 0 if last is None else from_u64(last[0])
            if tile_end(level, index, width) > size:
                raise NotFoundError(f"{request.url.path}: not in the tree of the latest "
                                    f"checkpoint (size {size})")
            return read_tile(txn, level, index, width)

        data = self.ledger.store.read(read)
        cache = _IMMUTABLE if width == TILE_WIDTH else "public, max-age=3600"
        return Response(data, media_type="application/octet-stream",
                        headers={"Cache-Control": cache})

    @_answers
    def status_list(self, request: Request) -> Response:
        p = request.path_params
        name = p["name"]
        if not re.fullmatch(r"(0|[1-9][0-9]?)\.json", name):
            raise NotFoundError(f"{request.url.path}: no such status list")
        issuer = _id(p["issuer"], "issuer id", 404)
        number = int(name[:-5])

        def read(txn: Any) -> bytes | None:
            state = RecordState(store_loader(txn))
            try:
                rec = state.get(STATUS_LIST, issuer, list_ident(p["kid"], p["purpose"],
                                                                number))
            except EncodingError:
                return None
            if not isinstance(rec, StatusListRecord):
                return None
            data = txn.entry(rec.published_at)
            st = trusted_statement(trusted_entry(data).statement)
            return bytes(st.fields[3])

        data = self.ledger.store.read(read)
        if data is None:
            raise NotFoundError(f"{request.url.path}: no such status list was published")
        return Response(data, media_type="application/json",
                        headers={"Cache-Control": "no-cache"})

    def verify_page(self, request: Request) -> Response:
        return Response(self.page, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    @_answers
    def bundle(self, request: Request) -> Response:
        q = request.query_params
        _only(q, {"issuer", "id", "size"})
        issuer = _id(_one(q, "issuer"), "issuer id")
        ids = q.getlist("id")
        if not ids:
            raise ApiError(400, "want at least one id=HANDLE")
        handles = [_handle(h) for h in ids]
        size = _int(q.get("size"), "size") if "size" in q else None
        doc = build_bundle(self.ledger, [(issuer, h) for h in handles], size=size)
        return Response(dump_bundle(doc), media_type="application/json")

    @_answers
    def consistency(self, request: Request) -> Response:
        q = request.query_params
        _only(q, {"from", "to"})
        first = _int(_one(q, "from"), "from")
        second = _int(_one(q, "to"), "to")
        proof = self.ledger.consistency_proof(first, second)
        return _json("credledger-consistency/1", {"from": first, "to": second,
                                                  "proof": [b64encode(h) for h in proof]})

    @_answers
    def issuer(self, request: Request) -> Response:
        issuer = _id(request.path_params["issuer"], "issuer id", 404)

        def read(s: Any) -> tuple[Any, Any]:
            return s.issuer_history(issuer), s.achievements(issuer)

        history, achievements = self.ledger.snapshot(read)
        if history is None:
            raise NotFoundError(f"no issuer {issuer!r} in the log")
        rec = history.record
        return _json("credledger-issuer/1", {
            "issuer": rec.issuer, "name": rec.name, "url": rec.url,
            "registered_at": rec.registered_at, "retired_at": rec.retired_at,
            "keys": [{"key_id": k.record.key_id,
                      "public_key": b64encode(k.record.public_key),
                      "active_from": k.record.active_from, "ended_at": k.record.ended_at,
                      "end": k.record.end} for k in history.keys],
            "achievements": [{"id": a.record.achievement_id, "name": a.name,
                              "description": a.description, "criteria": a.criteria,
                              "achievement_type": a.achievement_type or None,
                              "registered_at": a.record.registered_at}
                             for a in achievements]})

    @_answers
    def credential(self, request: Request) -> Response:
        issuer = _id(request.path_params["issuer"], "issuer id", 404)
        handle = _handle(request.path_params["handle"], 404)
        rec = self.ledger.record(CRED, issuer, handle)
        if not isinstance(rec, CredRecord):
            raise NotFoundError(f"{issuer!r} never issued {handle}")
        return _json("credledger-credential/1", {
            "issuer": issuer, "id": handle, "state": rec.state,
            "issued_index": rec.issued_index, "changed_index": rec.changed_index,
            "reason": rec.reason, "last_time": rec.last_time,
            "entries": self.ledger.cred_entries(issuer, handle)})

    @_answers
    def slots(self, request: Request) -> Response:
        issuer = _id(request.path_params["issuer"], "issuer id", 404)
        kid = request.path_params["kid"]
        if not re.fullmatch(r"[0-9a-f]{16}", kid):
            raise NotFoundError(f"{kid[:40]!r} is not a key id (16 lowercase hex digits)")
        q = request.query_params
        _only(q, {"index"})
        wanted = [_int(v, "index") for v in q.getlist("index")]
        if len(wanted) > MAX_SLOTS:
            raise ApiError(400, f"{len(wanted)} indexes; at most {MAX_SLOTS} a request")

        def read(txn: Any) -> list[int]:
            state = RecordState(store_loader(txn))
            return [i for i in wanted
                    if state.get(SLOT, issuer, slot_ident(kid, i)) is not None]

        return _json("credledger-slots/1", {"issuer": issuer, "key_id": kid,
                                            "held": self.ledger.store.read(read)})

    @_answers
    def entry(self, request: Request) -> Response:
        index = _int(request.path_params["index"], "index", 404)
        data = self.ledger.entry_bytes(index)
        return _json("credledger-entry/1", {"index": index, "entry": b64encode(data)})

    @_answers
    def health(self, request: Request) -> Response:
        size = self.ledger.head().size
        ok = self.sequencer.alive
        return JSONResponse({"format": "credledger-health/1", "ok": ok, "size": size,
                             "queued": self.sequencer.queued()},
                            status_code=200 if ok else 503)

    def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.text(),
                        media_type="text/plain; version=0.0.4; charset=utf-8")


# ----------------------------------------------------------------------------- helpers


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _want_json(request: Request) -> None:
    ctype = request.headers.get("content-type")
    if ctype is None or ctype.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError(415, f"Content-Type: want application/json, got {ctype!r:.60}")


def _b64(value: Any, what: str, limit: int) -> bytes:
    if not isinstance(value, str) or len(value) > 4 * -(-limit // 3):
        raise EncodingError(f"{what}: want base64 text of at most {limit} bytes")
    try:
        return b64decode(value)
    except ValueError as exc:
        raise EncodingError(f"{what}: {exc}") from None


def _one(q: Any, name: str) -> str:
    values = q.getlist(name)
    if len(values) != 1:
        raise ApiError(400, f"want exactly one {name}=..., got {len(values)}")
    return str(values[0])


def _only(q: Any, names: set[str]) -> None:
    extra = sorted(set(q.keys()) - names)
    if extra:
        raise ApiError(400, f"unknown query parameter {extra[0][:40]!r}")


def _int(text: str | None, what: str, code: int = 400) -> int:
    if text is None or not text.isdigit() or len(text) > 19 or (len(text) > 1 and text[0] == "0"):
        raise ApiError(code, f"{what}: want a non-negative integer, got {str(text)[:40]!r}")
    return int(text)


def _id(text: str, what: str, code: int = 400) -> str:
    try:
        return check_id(text, what)
    except EncodingError as exc:
        raise ApiError(code, str(exc)) from None


def _handle(text: str, code: int = 400) -> str:
    try:
        return check_handle(text, "id")
    except EncodingError as exc:
        raise ApiError(code, str(exc)) from None


_TILE = re.compile(r"(entries|[0-9]{1,2})/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?")


def _tile_coordinates(path: str) -> tuple[int, int, int]:
    """``(level, index, width)`` of a tile path below ``tile/`` (level -1: an entry bundle);
    404 unless it is the canonical path of a tile."""
    m = _TILE.fullmatch(path)
    if m is None:
        raise NotFoundError(f"tile/{path[:80]}: not a tile path")
    index = int(m[2].replace("x", "").replace("/", ""))
    width = int(m[3]) if m[3] else TILE_WIDTH
    level = -1 if m[1] == "entries" else int(m[1])
    try:
        canonical = (bundle_path(index, width) if level < 0 else tile_path(level, index, width))
    except UsageError:
        canonical = ""
    if canonical != f"tile/{path}" or (m[3] and width == TILE_WIDTH):
        raise NotFoundError(f"tile/{path[:80]}: not a tile path")
    return level, index, width
