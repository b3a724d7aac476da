"""``credledger serve`` against real servers: a subprocess on 127.0.0.1 with an ephemeral port,
driven over HTTP by concurrent clients (httpx), killed with SIGKILL mid-load and restarted,
and sent hostile requests. Every loop is bounded; every process is stopped by its own id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from statements import handle, issue, register_achievement

from ledger import merkle
from ledger.audit import audit_store
from ledger.events import REGISTER_ISSUER, SignedStatement, make_statement, sign_statement
from ledger.log import Ledger
from ledger.note import Signer, open_checkpoint, parse_verifier
from ledger.parse import b64encode

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "serve.example/log"
TIME = 1_767_225_600_000
ISSUER_TOKEN = "uni-secret-token"
OPERATOR_TOKEN = "operator-secret-token"
BASE = 2
"""Entries before the tests' statements: the issuer's registration and its achievement's."""


def _sha(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Log:
    store: Path
    issuer: Signer
    vkey: str
    config: Path
    tmp: Path


@pytest.fixture
def log(tmp_path: Path) -> Log:
    store = tmp_path / "store"
    ledger, log_signer, registry = Ledger.create(store, ORIGIN)
    issuer = Signer.generate("uni")
    with ledger:
        ledger.append([sign_statement(make_statement(REGISTER_ISSUER, "uni", TIME, "Uni", "",
                                                     issuer.public_key), registry.seed),
                       sign_statement(register_achievement("uni", TIME), issuer.seed)])
    config = tmp_path / "serve.json"
    config.write_text(json.dumps({"tokens": {"uni": [_sha(ISSUER_TOKEN)]},
                                  "operator_tokens": [_sha(OPERATOR_TOKEN)]}))
    return Log(store, issuer, str(log_signer.verifier()), config, tmp_path)


class Server:
    """``credledger serve --port 0`` in a subprocess; the URL from its first line of stdout."""

    def __init__(self, log: Log, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.errors = (log.tmp / f"serve-{time.monotonic_ns()}.err").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "--dir", str(log.store), "serve", "--port", "0",
             "--json", "--config", str(log.config), *args],
            env=env, stdout=subprocess.PIPE, stderr=self.errors)
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = b""
        deadline = time.monotonic() + 60
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            if sel.select(timeout=1):
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        sel.close()
        if not line.endswith(b"\n"):
            self.kill()
            raise AssertionError(f"the server did not start: {self.stderr()}")
        info = json.loads(line)
        self.url = info["url"]
        self.port = info["port"]
        self.wait_healthy()

    def stderr(self) -> str:
        if not self.errors.closed:
            self.errors.flush()
        return Path(self.errors.name).read_text(errors="replace")

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("the server never answered /healthz")

    def stop(self) -> int:
        """SIGTERM, then wait (SIGKILL after 30 s): the graceful stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.errors.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.errors.close()


@pytest.fixture
def server(log: Log) -> Iterator[Server]:
    srv = Server(log)
    try:
        yield srv
    finally:
        code = srv.stop()
        assert code == 0, srv.stderr()


def _wire(item: SignedStatement) -> dict[str, str]:
    return {"statement": b64encode(item.statement), "signer": b64encode(item.signer),
            "signature": b64encode(item.signature)}


def _statements(log: Log, first: int, n: int) -> list[SignedStatement]:
    """``n`` issue statements of handles ``first ..``: each its own status index."""
    return [sign_statement(issue("uni", TIME + 1000, first + i), log.issuer.seed)
            for i in range(n)]


def _post(client: httpx.Client, url: str, items: list[SignedStatement], *, proof: bool = False,
          token: str | None = ISSUER_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url + "v1/statements", json={"statements": [_wire(i) for i in items],
                                                    "proof": proof}, headers=headers)


def _log_statements(store: Path) -> tuple[int, dict[bytes, list[int]]]:
    """The log's size and, for each statement's bytes, the indexes of the entries holding it."""
    with Ledger.open(store, readonly=True) as ledger:
        size = ledger.head().size
        where: dict[bytes, list[int]] = {}
        for i in range(size):
            where.setdefault(ledger.entry(i).statement, []).append(i)
    return size, where


def _batches(items: list[SignedStatement], client: int) -> list[list[SignedStatement]]:
    """Even clients send one statement a request, odd ones batches of 20."""
    step = 1 if client % 2 == 0 else 20
    return [items[i:i + step] for i in range(0, len(items), step)]


CLIENTS = 50
PER_CLIENT = 200


@dataclass
class Client:
    batches: list[list[SignedStatement]]
    acked: dict[bytes, tuple[int, bool]] = field(default_factory=dict)
    unacked: list[list[SignedStatement]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _run_clients(url: str, clients: list[Client], *, stop_on_error: bool) -> None:
    def run(c: Client) -> None:
        with httpx.Client(timeout=60) as http:
            for n, batch in enumerate(c.batches):
                try:
                    r = _post(http, url, batch)
                except httpx.HTTPError as exc:
                    if not stop_on_error:
                        c.errors.append(repr(exc))
                    c.unacked.extend(c.batches[n:])
                    return
                if r.status_code == 503:  # overloaded: the test's clients do not wait
                    c.unacked.append(batch)
                    continue
                if r.status_code != 200:
                    c.errors.append(f"{r.status_code} {r.text}")
                    c.unacked.append(batch)
                    continue
                body = r.json()
                assert body["format"] == "credledger-append/1"
                for item, e in zip(batch, body["entries"], strict=True):
                    c.acked[item.statement] = (e["index"], e["duplicate"])

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
        assert not t.is_alive()


def _make_clients(log: Log, clients: int = CLIENTS, per: int = PER_CLIENT) -> list[Client]:
    return [Client(_batches(_statements(log, 1 + c * per, per), c)) for c in range(clients)]


def test_fifty_clients_land_exactly_ten_thousand_entries(log: Log, server: Server) -> None:
    clients = _make_clients(log)
    start = time.monotonic()
    _run_clients(server.url, clients, stop_on_error=False)
    elapsed = time.monotonic() - start
    errors = [e for c in clients for e in c.errors]
    assert not errors, errors[:3]
    assert not [b for c in clients for b in c.unacked]
    acked = {s: v for c in clients for s, v in c.acked.items()}
    assert len(acked) == CLIENTS * PER_CLIENT
    assert not any(dup for _, dup in acked.values())
    assert sorted(i for i, _ in acked.values()) == list(range(BASE, BASE + CLIENTS * PER_CLIENT))
    size, where = _log_statements(log.store)
    assert size == BASE + CLIENTS * PER_CLIENT
    for st, (index, _) in acked.items():
        assert where[st] == [index]
    print(f"{CLIENTS * PER_CLIENT} statements from {CLIENTS} clients in {elapsed:.1f} s")
    # A checkpoint on demand (the operator's token), then both audits.
    r = httpx.post(server.url + "v1/checkpoint",
                   headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30)
    assert r.status_code == 200, r.text
    cp = open_checkpoint(r.json()["checkpoint"], parse_verifier(log.vkey))
    assert cp.size == size
    with Ledger.open(log.store, readonly=True) as ledger:
        assert audit_store(ledger).size == size
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    audit = subprocess.run([sys.executable, "-m", "ledger", "audit", "--tiles", server.url,
                            "--log-key", log.vkey, "--json"], env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["entries"] == size
    metrics = httpx.get(server.url + "metrics", timeout=10).text
    assert f"credledger_tree_size {size}" in metrics
    assert f"credledger_statements_total {CLIENTS * PER_CLIENT}" in metrics


def test_sigkill_mid_load_loses_nothing_acknowledged_and_retries_land_once(log: Log) -> None:
    clients = _make_clients(log)
    srv = Server(log)
    runner = threading.Thread(target=_run_clients, args=(srv.url, clients),
                              kwargs={"stop_on_error": True})
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once about a third is acknowledged
        if sum(len(c.acked) for c in clients) >= CLIENTS * PER_CLIENT // 3:
            break
        time.sleep(0.01)
    srv.kill()
    runner.join(timeout=300)
    assert not runner.is_alive()
    acked = {s: v for c in clients for s, v in c.acked.items()}
    assert 0 < len(acked) < CLIENTS * PER_CLIENT
    size, where = _log_statements(log.store)
    for st, (index, _) in acked.items():  # every acknowledged statement, once, where it was said
        assert where.get(st) == [index]
    assert all(len(ix) == 1 for ix in where.values())
    committed_unacked = sum(1 for c in clients for b in c.unacked for i in b
                            if i.statement in where)
    print(f"killed with {len(acked)} acknowledged, {size - BASE} in the log "
          f"({committed_unacked} committed but not acknowledged)")
    # Restart; every client sends again what it was not answered for.
    srv = Server(log)
    try:
        retry = [Client(c.unacked) for c in clients]
        _run_clients(srv.url, retry, stop_on_error=False)
        errors = [e for c in retry for e in c.errors]
        assert not errors, errors[:3]
        assert not [b for c in retry for b in c.unacked]
        dups = sum(1 for c in retry for _, dup in c.acked.values() if dup)
        assert dups == committed_unacked  # the committed ones answered as duplicates
        size, where = _log_statements(log.store)
        assert size == BASE + CLIENTS * PER_CLIENT
        assert all(len(ix) == 1 for ix in where.values())
        for c, r in zip(clients, retry, strict=True):
            for st, (index, _) in {**c.acked, **r.acked}.items():
                assert where[st] == [index]
    finally:
        assert srv.stop() == 0, srv.stderr()
    with Ledger.open(log.store, readonly=True) as ledger:
        assert audit_store(ledger).size == size


# ------------------------------------------------------------------------------------ hostile


def _raw(port: int, data: bytes, *, trickle: bytes = b"", every: float = 0.0,
         timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
    """Send ``data`` on a raw socket (then ``trickle`` a byte every ``every`` seconds until
    the server answers), and read the response: its status and JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            for b in trickle:
                readable, _, _ = select.select([s], [], [], every)
                if readable:
                    break  # answered (or closed) before the body came
                s.sendall(bytes([b]))
        except OSError:
            pass  # the server answered and closed meanwhile
        raw = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head, sep, body = raw.partition(b"\r\n\r\n")
            if sep:
                length = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def _error(r: httpx.Response, code: int, kind: str) -> dict[str, Any]:
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["format"] == "credledger-error/1"
    assert body["error"]["code"] == code and body["error"]["kind"] == kind, body
    assert "Traceback" not in r.text
    error: dict[str, Any] = body["error"]
    return error


def test_hostile_requests_are_4xx_json_and_write_nothing(log: Log) -> None:
    srv = Server(log, "--body-timeout", "2s")
    try:
        url = srv.url + "v1/statements"
        good = _statements(log, 900_000, 2)
        auth = {"Authorization": f"Bearer {ISSUER_TOKEN}"}
        ctype = {"Content-Type": "application/json", **auth}
        with httpx.Client(timeout=30) as http:
            def post(body: bytes | str, headers: dict[str, str] = ctype) -> httpx.Response:
                return http.post(url, content=body, headers=headers)

            _error(post(b'{"statements": ['), 400, "bad-request")
            _error(post(b"\xff\xfe"), 400, "bad-request")
            _error(post(b'{"statements": [], "statements": []}'), 400, "bad-request")
            shapes: list[Any] = [[], {"statements": "x"}, {"foo": 1}, {"statements": [{"statement": 1}]},
                          {"statements": [_wire(good[0])], "proof": "yes"},
                          {"statements": [{**_wire(good[0]), "extra": 1}]},
                          {"statements": [{**_wire(good[0]), "signer": "!!"}]},
                          {"statements": [{**_wire(good[0]), "signer": b64encode(b"x" * 31)}]},
                          {"statements": [{**_wire(good[0]),
                                           "statement": b64encode(b"\x93\x01\x02\x03")}]}]
            for shape in shapes:
                _error(post(json.dumps(shape)), 400, "bad-request")
            bad_sig = bytearray(good[0].signature)
            bad_sig[5] ^= 1
            err = _error(post(json.dumps({"statements": [
                _wire(good[1]), {**_wire(good[0]), "signature": b64encode(bytes(bad_sig))}]})),
                400, "bad-request")
            assert err["item"] == 1
            _error(post(json.dumps({"statements": [_wire(good[0])]}),
                        {"Content-Type": "text/plain", **auth}), 415, "unsupported-media-type")
            _error(http.post(url, content=b"{}", headers=auth), 415, "unsupported-media-type")
            _error(post(json.dumps({"statements": [_wire(good[0])] * 10_001})), 413, "too-large")
            # Tokens: uni is listed, so its statements need its token.
            _error(post(json.dumps({"statements": [_wire(good[0])]}),
                        {"Content-Type": "application/json"}), 401, "unauthorized")
            _error(post(json.dumps({"statements": [_wire(good[0])]}),
                        {"Content-Type": "application/json", "Authorization": "Bearer nope"}),
                   403, "forbidden")
            # An unknown issuer (not in the config: no token needed) is refused by the rules.
            stranger = Signer.generate("nobody")
            unknown = sign_statement(issue("nobody", TIME + 1000, 7), stranger.seed)
            err = _error(post(json.dumps({"statements": [_wire(unknown)]}), {
                "Content-Type": "application/json"}), 409, "refused")
            assert err["rule"] == "unknown-issuer" and err["item"] == 0
            # A registration needs the operator's token.
            reg = sign_statement(make_statement(REGISTER_ISSUER, "nobody", TIME, "N", "",
                                                stranger.public_key), stranger.seed)
            _error(post(json.dumps({"statements": [_wire(reg)]}),
                        {"Content-Type": "application/json"}), 401, "unauthorized")
            _error(http.get(url), 405, "method-not-allowed")
            _error(http.get(srv.url + "nothing/here"), 404, "not-found")
            _error(http.post(srv.url + "v1/checkpoint", headers=auth), 403, "forbidden")
        # Oversize bodies: declared, and sent chunked without a length.
        head = (b"POST /v1/statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + ISSUER_TOKEN.encode())
        status, body = _raw(srv.port, head + b"\r\nContent-Length: 17000000\r\n\r\n{")
        assert status == 413 and body["error"]["kind"] == "too-large"
        chunk = b"a" * 65536
        chunked = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(257))
        status, body = _raw(srv.port, head + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        assert status == 413 and body["error"]["kind"] == "too-large"
        status, body = _raw(srv.port, head + b"\r\n\r\n")
        assert status == 411
        # A body sent slowly: a byte every 0.2 s of 1,000 declared; 408 after 2 s.
        start = time.monotonic()
        status, body = _raw(srv.port, head + b"\r\nContent-Length: 1000\r\n\r\n",
                            trickle=b'{"statements": [' + b" " * 40, every=0.2)
        assert status == 408 and body["error"]["kind"] == "timeout"
        assert time.monotonic() - start < 6
        # Nothing was written; the server still serves, and takes a good submission.
        assert _log_statements(log.store)[0] == BASE
        with httpx.Client(timeout=30) as http:
            r = _post(http, srv.url, good)
            assert r.status_code == 200, r.text
            assert [e["index"] for e in r.json()["entries"]] == [BASE, BASE + 1]
            metrics = http.get(srv.url + "metrics").text
            assert 'credledger_refusals_total{rule="unknown-issuer"} 1' in metrics
    finally:
        assert srv.stop() == 0, srv.stderr()


# ------------------------------------------------------------------------------- the API works


def test_duplicates_proofs_refusals_and_reads(log: Log, server: Server) -> None:
    key = parse_verifier(log.vkey)
    with httpx.Client(timeout=30) as http:
        items = _statements(log, 500_000, 3)
        r = _post(http, server.url, items, proof=True)
        assert r.status_code == 200, r.text
        body = r.json()
        cp = open_checkpoint(body["checkpoint"], key)
        assert cp.size == body["size"] == BASE + 3
        for e, proof in zip(body["entries"], body["proofs"], strict=True):
            assert not e["duplicate"]
            merkle.verify_inclusion(e["index"], cp.size, base64.b64decode(e["leaf_hash"]),
                                    [base64.b64decode(h) for h in proof], cp.root)
        # The same statements again (a retry): their indexes, duplicate, nothing written.
        again = _post(http, server.url, [items[1], *_statements(log, 500_010, 1)])
        assert again.status_code == 200, again.text
        e = again.json()["entries"]
        assert (e[0]["index"], e[0]["duplicate"]) == (BASE + 1, True)
        assert (e[1]["index"], e[1]["duplicate"]) == (BASE + 3, False)
        # A batch with one refused statement lands nothing, and names it.
        taken = sign_statement(issue("uni", TIME + 2000, 600_000, status_index=500_000),
                               log.issuer.seed)
        r = _post(http, server.url, [*_statements(log, 600_001, 1), taken])
        err = _error(r, 409, "refused")
        assert err["rule"] == "duplicate-status-index" and err["item"] == 1
        assert "batch item 2" in err["message"]
        assert http.get(server.url + "healthz").json()["size"] == BASE + 4
        # Reads.
        h = handle(500_000)
        cred = http.get(f"{server.url}v1/credential/uni/{h}").json()
        assert cred["format"] == "credledger-credential/1"
        assert cred["state"] == "issued" and cred["entries"] == [BASE]
        _error(http.get(f"{server.url}v1/credential/uni/{handle(1)}"), 404, "not-found")
        kid = http.get(server.url + "v1/issuer/uni").json()["keys"][0]["key_id"]
        slots = http.get(f"{server.url}v1/slots/uni/{kid}",
                         params=[("index", "500000"), ("index", "3")]).json()
        assert slots["held"] == [500_000]
        entry = http.get(f"{server.url}v1/entry/{BASE}").json()
        assert entry["index"] == BASE
        _error(http.get(f"{server.url}v1/entry/99999"), 404, "not-found")
        _error(http.get(f"{server.url}v1/consistency?from=1&to=99999"), 404, "not-found")
        _error(http.get(f"{server.url}v1/consistency?from=x&to=1"), 400, "bad-request")
        signed = http.post(server.url + "v1/checkpoint",
                           headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}).json()
        cp2 = open_checkpoint(signed["checkpoint"], key)
        cons = http.get(f"{server.url}v1/consistency?from={cp.size}&to={cp2.size}").json()
        merkle.verify_consistency(cp.size, cp2.size, [base64.b64decode(x) for x in cons["proof"]],
                                  cp.root, cp2.root)
        bundle = http.get(server.url + "v1/bundle", params={"issuer": "uni", "id": h})
        assert bundle.status_code == 200, bundle.text
        assert bundle.json()["format"] == "credential-ledger/bundle@v2"
        r = http.get(server.url + "checkpoint")
        assert r.headers["cache-control"] == "no-cache" and r.text == signed["checkpoint"]
        t = http.get(server.url + f"tile/0/000.p/{cp2.size}")
        assert t.status_code == 200 and len(t.content) == 32 * cp2.size
        assert http.get(server.url + f"tile/entries/000.p/{cp2.size}").status_code == 200
        _error(http.get(server.url + f"tile/0/000.p/{cp2.size + 1}"), 404, "not-found")
        _error(http.get(server.url + "tile/0/000"), 404, "not-found")  # not full yet
        _error(http.get(server.url + "tile/0/x000/000"), 404, "not-found")  # not canonical
        page = http.get(server.url + "verify.html")
        assert page.status_code == 200 and "<html" in page.text.lower()
