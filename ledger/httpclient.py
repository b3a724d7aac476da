"""The HTTP transport of :class:`ledger.remote.RemoteLog`: requests to one log server
(``credledger serve``, docs/API.md), bounded and retried.

Each request has one deadline over connecting, sending and every byte of the answer
(``ledger.tilereader``'s approach); reads are bounded in size (an answer larger than the caller's
limit is an :class:`~ledger.errors.EncodingError`); a 503 (after its ``Retry-After``), a 408 and
a connection failure are retried with backoff. Any other non-2xx status becomes the error the
status and the API's JSON error body mean (:func:`_status_error`). Nothing here checks what an
answer says: :mod:`ledger.remote` does.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse

from ledger.errors import (
    EncodingError,
    FetchError,
    LedgerError,
    NotFoundError,
    RefusedError,
    UsageError,
)
from ledger.printable import printable
from ledger.tilereader import (
    MAX_HEAD_BYTES,
    _Deadline,
    _HeadTooLarge,
    _Source,
    _split_url,
    connect,
)

DEFAULT_TIMEOUT = 30.0
"""Seconds for one request: connecting, sending it, and every byte of the answer."""

RETRIES = 5
"""Attempts after the first for a 503, a 408 or a connection failure (with backoff)."""

MAX_RETRY_AFTER = 60.0
"""The longest ``Retry-After`` honoured (seconds); a longer one is waited for this long."""

MAX_SMALL = 1 << 20
"""The most bytes read of an ordinary JSON answer (an issuer, a credential, an entry)."""

MAX_ERROR_BODY = 1 << 16


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _Retry(Exception):
    """One attempt failed in a way worth another (a 503, a 408, a connection failure)."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class HttpClient:
    """Requests to one log server: bounded, with one deadline each, retried with backoff."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = RETRIES, sleep: Callable[[float], None] = time.sleep) -> None:
        _split_url(url, UsageError)  # a malformed URL: the caller's mistake, at once
        self.base = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep

    def call(self, method: str, path: str, *, body: bytes | None = None,
             limit: int = MAX_SMALL, accept_404: bool = False) -> Response:
        """``method path`` with retries; a 2xx answer (and a 404 if ``accept_404``), else the
        error the status means (:func:`_status_error`)."""
        url = self.base + path
        delay = 0.25
        for attempt in range(self.retries + 1):
            try:
                resp = self._once(method, url, body, limit)
            except _Retry as exc:
                if attempt == self.retries:
                    raise FetchError(f"{method} {_short(url)}: {exc} (gave up after "
                                     f"{attempt + 1} attempts)") from None
                wait = exc.wait if exc.wait is not None else delay * (0.5 + random.random())
                self.sleep(min(wait, MAX_RETRY_AFTER))
                delay = min(delay * 2, 8.0)
                continue
            if 200 <= resp.status < 300 or (accept_404 and resp.status == 404):
                return resp
            raise _status_error(method, url, resp)
        raise AssertionError("unreachable")

    def _once(self, method: str, url: str, body: bytes | None, limit: int) -> Response:
        try:
            resp = self._request(method, url, body, limit)
        except TimeoutError:
            raise _Retry(f"timed out after {self.timeout:g} s") from None
        except _HeadTooLarge:
            raise FetchError(f"{method} {_short(url)}: the answer's status line and headers "
                             f"run past {MAX_HEAD_BYTES} bytes") from None
        except (HTTPException, ConnectionError) as exc:  # reset, refused, closed early
            raise _Retry(_printable(str(exc) or exc.__class__.__name__)) from None
        except OSError as exc:  # unreachable, DNS, TLS
            raise _Retry(_printable(exc.strerror or str(exc))) from None
        if resp.status == 503:
            raise _Retry("HTTP 503 (the log is busy)", _retry_after(resp.headers))
        if resp.status == 408:
            raise _Retry("HTTP 408 (the request timed out at the log)")
        return resp

    def _request(self, method: str, url: str, body: bytes | None, limit: int) -> Response:
        """One request within one deadline; at most ``limit`` bytes of the body are read
        (EncodingError for more: an answer that large is not one of this API's)."""
        deadline = time.monotonic() + self.timeout
        parts = _split_url(url, FetchError)
        sock = connect(parts, deadline)
        try:
            head = [f"{method} {parts.target} HTTP/1.1", f"Host: {parts.authority}",
                    "Accept: application/json, text/plain", "Accept-Encoding: identity",
                    "User-Agent: credledger-remote", "Connection: close"]
            if self.token:
                head.append(f"Authorization: Bearer {self.token}")
            if body is not None:
                head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            sock.settimeout(max(deadline - time.monotonic(), 1e-3))
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + (body or b""))
            source = _Deadline(sock, deadline)
            resp = HTTPResponse(_Source(source), method=method)  # type: ignore[arg-type]
            resp.begin()
            source.head_limit = None
            headers = {k.lower(): v for k, v in resp.getheaders()}
            cap = limit if 200 <= resp.status < 300 else MAX_ERROR_BODY
            if resp.length is not None and resp.length > cap:
                if cap == MAX_ERROR_BODY:
                    return Response(resp.status, headers, b"")
                raise EncodingError(f"{method} {_short(url)}: the answer is {resp.length} "
                                    f"bytes; at most {cap} wanted")
            chunks, got = [], 0
            while got <= cap:
                block = resp.read(min(1 << 16, cap + 1 - got))
                if not block:
                    break
                chunks.append(block)
                got += len(block)
            if got > cap and cap != MAX_ERROR_BODY:
                raise EncodingError(f"{method} {_short(url)}: the answer runs past {cap} bytes")
            return Response(resp.status, headers, b"".join(chunks)[:cap])
        finally:
            sock.close()


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    if value.isascii() and value.isdigit() and len(value) < 8:
        return float(value)
    return None  # absent, or an HTTP date: backoff


def _status_error(method: str, url: str, resp: Response) -> LedgerError:
    """The error an HTTP status (and the API's JSON error body, if any) means."""
    kind, message, rule, item = "", "", None, None
    try:
        doc = json.loads(resp.body)
        err = doc["error"]
        kind, message = str(err.get("kind", "")), str(err.get("message", ""))
        rule = err.get("rule")
        item = err.get("item")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        pass
    what = f"{method} {_short(url)}: HTTP {resp.status}"
    detail = _printable(message) if message else _printable(kind)
    at = f" (statement {item})" if isinstance(item, int) and not isinstance(item, bool) else ""
    if resp.status == 409 and isinstance(rule, str) and rule:
        return RefusedError(_printable(rule, 64), f"{detail or 'refused by the log'}{at}")
    if resp.status in (404, 410):
        return NotFoundError(f"{what} (not found){': ' + detail if detail else ''}")
    if resp.status == 401:
        return FetchError(f"{what}: the log wants a token for this issuer (set "
                          f"CREDLEDGER_LOG_TOKEN){': ' + detail if detail else ''}")
    if resp.status == 403:
        return FetchError(f"{what}: the token is not one of this issuer's at the log"
                          f"{': ' + detail if detail else ''}")
    if resp.status in (400, 411, 413, 415):
        return EncodingError(f"{what}{at}: {detail or 'bad request'}")
    return FetchError(f"{what}{': ' + detail if detail else ''}")


def _printable(text: str, limit: int = 300) -> str:
    return printable(text[:limit]) + ("..." if len(text) > limit else "")


def _short(url: str) -> str:
    return _printable(url, 200)
