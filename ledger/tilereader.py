"""Reading a C2SP tlog-tiles tree from a directory or an ``http(s)://`` prefix.

:class:`TileReader` fetches the checkpoint, hash tiles and entry bundles of a published tree
(docs/FORMAT.md §13.6) with strict parsing and a size cap per resource. Files are read with
``files.read_regular`` (never a FIFO, never unbounded); HTTP(S) requests have one deadline
each, over connecting, the status line, the headers and the body, and a bound on the bytes
before the body (docs/SECURITY.md, "Hostile inputs tried"). It trusts nothing it reads:
``ledger.tileaudit`` checks it all against the log key.
"""

from __future__ import annotations

import functools
import io
import ipaddress
import os
import re
import socket
import ssl
import time
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import Any

from ledger.errors import (
    EncodingError,
    FetchError,
    LedgerError,
    NotFoundError,
    UsageError,
)
from ledger.files import read_regular
from ledger.note import MAX_NOTE_SIZE
from ledger.printable import printable
from ledger.tiles import (
    _FULL_TILE_BYTES,
    _HASH,
    CHECKPOINT_PATH,
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    _what,
    bundle_path,
    parse_bundle,
    parse_tile,
    tile_path,
)

_READ_BLOCK = 1 << 16

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for one HTTP(S) request: connecting, sending it, every status line, header
and body byte of the response, and of the redirects before it (one deadline for all)."""

MAX_HEAD_BYTES = 1 << 16
"""The most bytes read of a response before its headers end: its status line and headers, and
any ``100 Continue`` responses before it (64 KiB; at most 100 header lines, http.client's cap)."""

MAX_REDIRECTS = 10
"""Redirects followed for one request (to http or https URLs only)."""


def _gzip_slack(limit: int) -> int:
    # gzip can grow incompressible data (hashes, signatures): 18 bytes of header and trailer,
    # and 5 bytes per stored block of at most 64 KiB. Compressed bodies may be this much bigger.
    return 64 + 5 * (limit // 0xFFFF + 1)


# ----------------------------------------------------------------------------- reading


class _HeadTooLarge(Exception):
    """A response's status lines and headers went on past :data:`MAX_HEAD_BYTES`."""


class _Deadline(io.RawIOBase):
    """The reading side of one request's socket: before every ``recv`` the socket's timeout is
    set to what is left of the request's deadline (so no byte arriving late, however slowly the
    earlier ones came, is waited for), and until :attr:`head_limit` is lifted at most that many
    bytes are read (the status lines and headers of a response, 1xx responses included)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline
        self.head_limit: int | None = MAX_HEAD_BYTES
        self.got = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        view = memoryview(buffer).cast("B")
        if self.head_limit is not None:
            if self.got >= self.head_limit:
                raise _HeadTooLarge
            view = view[:self.head_limit - self.got]
        self.sock.settimeout(left)
        n = self.sock.recv_into(view)
        self.got += n
        return n


class _Source:
    """What :class:`http.client.HTTPResponse` reads from: a buffered :class:`_Deadline`."""

    def __init__(self, raw: _Deadline) -> None:
        self.raw = raw

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self.raw)


@dataclass(frozen=True, slots=True)
class _Url:
    """An http(s) URL taken apart for one request."""

    https: bool
    host: str
    port: int
    target: str  # the request target: path and query, percent-encoded
    authority: str  # the Host header


_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?")


def _split_url(url: str, error: type[LedgerError]) -> _Url:
    """Take an http(s) URL apart; ``error`` (UsageError for the caller's URL, FetchError for a
    server's redirect) names what is wrong with a malformed one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port could not be cast to integer value"
        raise error(f"{_printable(url)}: not a valid URL ({_printable(str(exc)).lower()})"
                    ) from None
    hostport = parts.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        after = hostport.partition("]")[2]
    else:
        after = hostport[hostport.find(":"):] if ":" in hostport else ""
    if after and not (after[0] == ":" and (after == ":" or after[1:].isascii()
                                            and after[1:].isdigit())):
        raise error(f"{_printable(url)}: not a valid URL (junk after the host)")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise error(f"{_printable(url)}: want an http:// or https:// URL")
    host = parts.hostname or ""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise error(f"{_printable(url)}: not a valid URL (bad IPv6 address)") from None
        name = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii") if not host.isascii() else host
        except UnicodeError:
            host = ""
        if not _HOST_NAME.fullmatch(host):
            raise error(f"{_printable(url)}: not a valid URL (no valid host name)")
        name = host
    if port == 0:
        raise error(f"{_printable(url)}: not a valid URL (port 0)")
    target = urllib.parse.quote(parts.path or "/", safe="/%!$&'()*+,;=:@-._~")
    if parts.query:
        target += "?" + urllib.parse.quote(parts.query, safe="/?%!$&'()*+,;=:@-._~")
    return _Url(scheme == "https", host, port or (443 if scheme == "https" else 80), target,
                name if port is None else f"{name}:{port}")


def _printable(text: str, limit: int = 200) -> str:
    """``text`` for a one-line message (``ledger.printable``), at most ``limit`` chars."""
    return printable(text[:limit]) + ("..." if len(text) > limit else "")


class TileReader:
    """Reads a tlog-tiles tree from a directory, a ``file://`` URL or an ``http(s)://`` prefix.

    Every resource is capped: a checkpoint at :data:`~ledger.note.MAX_NOTE_SIZE` bytes, a tile at
    ``32 * width``, a bundle at ``width * (2 + 65535)``; an HTTP request must be done within
    ``timeout`` seconds (one deadline for connecting, the status line, headers and body; the
    status lines and headers at most :data:`MAX_HEAD_BYTES`), and responses may be
    gzip-encoded. A malformed URL is a :class:`~ledger.errors.UsageError` at once.
    Raises :class:`~ledger.errors.EncodingError` for
    a truncated or oversize resource, :class:`~ledger.errors.NotFoundError` for a missing one
    (a 404), :class:`~ledger.errors.NotRegularFileError` for a local "file" that is a FIFO, a
    device or a directory (refused at once: local files are read with
    :func:`ledger.files.read_regular`), and :class:`~ledger.errors.FetchError` for other I/O
    and network failures.
    The checkpoint is fetched once and then kept, so every check uses the same one.
    """

    def __init__(self, source: str | os.PathLike[str], *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        text = os.fspath(source)
        scheme = text.partition("://")[0].lower() if "://" in text else ""
        self.timeout = timeout
        self.base_url: str | None = None
        self.base_dir: Path | None = None
        if scheme in ("http", "https"):
            _split_url(text, UsageError)  # a malformed URL: the caller's mistake
            self.base_url = text.rstrip("/") + "/"
        elif scheme == "file":
            self.base_dir = Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
        elif scheme:
            raise UsageError(f"{text}: want a directory or an http:// or https:// URL")
        else:
            self.base_dir = Path(text)
        self.source = text
        self._checkpoint: bytes | None = None

    def where(self, rel: str) -> str:
        """The full path or URL of ``rel``, for messages."""
        if self.base_url is not None:
            return self.base_url + rel
        assert self.base_dir is not None
        return str(self.base_dir / rel)

    def fetch(self, rel: str, limit: int) -> bytes:
        """Return the bytes of ``rel``; EncodingError if there are more than ``limit``."""
        data = self._get_url(rel, limit) if self.base_url is not None else self._get_file(rel, limit)
        if len(data) > limit:
            raise EncodingError(f"{self.where(rel)}: oversize: more than {limit} bytes")
        return data

    def _get_file(self, rel: str, limit: int) -> bytes:
        path = self.where(rel)
        try:
            return read_regular(path, limit, _what(rel))
        except OSError as exc:  # missing, not regular, oversize: read_regular's own errors
            raise FetchError(f"{path}: {(exc.strerror or str(exc)).lower()}") from None

    def _get_url(self, rel: str, limit: int) -> bytes:
        url = self.where(rel)
        raw_limit = limit + _gzip_slack(limit)
        try:
            encoding, raw = self._request(url, raw_limit)
        except TimeoutError:
            raise FetchError(f"GET {url}: timed out after {self.timeout:g} s") from None
        except _HeadTooLarge:
            raise FetchError(f"GET {url}: the response's status lines and headers run past "
                             f"{MAX_HEAD_BYTES} bytes") from None
        except HTTPException as exc:
            raise FetchError(f"GET {url}: bad HTTP response ({exc.__class__.__name__}: "
                             f"{_printable(str(exc))})") from None
        except OSError as exc:  # refused, reset, unreachable, DNS, TLS
            raise FetchError(f"GET {url}: {_printable(exc.strerror or str(exc))}") from None
        if encoding in ("identity", ""):
            return raw
        if encoding in ("gzip", "x-gzip"):
            if len(raw) > raw_limit:
                raise EncodingError(f"{url}: oversize: more than {raw_limit} gzip bytes")
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = d.decompress(raw, limit + 1)
            except zlib.error as exc:
                raise EncodingError(f"{url}: bad gzip encoding ({exc})") from None
            if len(out) <= limit and not d.eof:
                raise EncodingError(f"{url}: truncated gzip encoding")
            return out
        raise FetchError(f"GET {url}: unsupported Content-Encoding {_printable(encoding)!r}")

    def _request(self, url: str, raw_limit: int) -> tuple[str, bytes]:
        """GET ``url``, following up to :data:`MAX_REDIRECTS` redirects to http(s) URLs, all
        within one deadline of :attr:`timeout` seconds (connecting, sending, every status line,
        header and body byte); return the Content-Encoding and at most ``raw_limit + 1`` bytes
        of the body. Raises TimeoutError, _HeadTooLarge, HTTPException or OSError for the
        caller to name, and NotFoundError, FetchError or EncodingError itself."""
        deadline = time.monotonic() + self.timeout
        where = url
        for _ in range(MAX_REDIRECTS + 1):
            parts = _split_url(where, FetchError)
            sock = connect(parts, deadline)
            try:
                sock.settimeout(max(deadline - time.monotonic(), 1e-3))
                sock.sendall(f"GET {parts.target} HTTP/1.1\r\nHost: {parts.authority}\r\n"
                             "Accept-Encoding: gzip, identity\r\nUser-Agent: credledger-tiles\r\n"
                             "Connection: close\r\n\r\n".encode("ascii"))
                source = _Deadline(sock, deadline)
                resp = HTTPResponse(_Source(source), method="GET")  # type: ignore[arg-type]
                resp.begin()  # status lines and headers: at most MAX_HEAD_BYTES
                source.head_limit = None
                status = resp.status
                if status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                    location = resp.getheader("Location", "")
                    where = urllib.parse.urljoin(where, location.strip())
                    if urllib.parse.urlsplit(where).scheme.lower() not in ("http", "https"):
                        raise FetchError(f"GET {url}: redirect to a non-HTTP URL "
                                         f"{_printable(location)!r}")
                    continue
                if status in (404, 410):
                    raise NotFoundError(f"GET {url}: HTTP {status} (not found)")
                if not 200 <= status < 300:
                    raise FetchError(f"GET {url}: HTTP {status} {_printable(resp.reason or '')}"
                                     .rstrip())
                encoding = (resp.getheader("Content-Encoding") or "identity").strip().lower()
                if resp.length is not None and resp.length > raw_limit:
                    raise EncodingError(f"{url}: oversize: {resp.length} bytes declared, at "
                                        f"most {raw_limit} wanted")
                chunks: list[bytes] = []
                got = 0
                while got <= raw_limit:
                    block = resp.read(min(_READ_BLOCK, raw_limit + 1 - got))
                    if not block:
                        break
                    chunks.append(block)
                    got += len(block)
                return encoding, b"".join(chunks)
            finally:
                sock.close()
        raise FetchError(f"GET {url}: more than {MAX_REDIRECTS} redirects")


    def checkpoint(self) -> bytes:
        """The checkpoint note's bytes (not yet verified), fetched once."""
        if self._checkpoint is None:
            self._checkpoint = self.fetch(CHECKPOINT_PATH, MAX_NOTE_SIZE)
        return self._checkpoint

    def tile(self, level: int, index: int, width: int = TILE_WIDTH) -> list[bytes]:
        """The hashes of tile ``(level, index, width)``; a missing partial tile is read from
        the full one, which a log may serve instead (c2sp.org/tlog-tiles, "Partial Tiles")."""
        rel = tile_path(level, index, width)
        try:
            return parse_tile(self.fetch(rel, width * _HASH), width, self.where(rel))
        except NotFoundError:
            if width == TILE_WIDTH:
                raise
        full = tile_path(level, index)
        return parse_tile(self.fetch(full, _FULL_TILE_BYTES), TILE_WIDTH, self.where(full))[:width]

    def entries(self, index: int, width: int = TILE_WIDTH) -> list[bytes]:
        """The entries of bundle ``(index, width)``, falling back to the full bundle like
        :meth:`tile`."""
        rel = bundle_path(index, width)
        limit = width * (2 + MAX_ENTRY_SIZE)
        try:
            return parse_bundle(self.fetch(rel, limit), width, self.where(rel))
        except NotFoundError:
            if width == TILE_WIDTH:
                raise
        full = bundle_path(index)
        data = self.fetch(full, TILE_WIDTH * (2 + MAX_ENTRY_SIZE))
        return parse_bundle(data, TILE_WIDTH, self.where(full))[:width]


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """The one TLS context of the process: the system's trust store, hostnames verified."""
    return ssl.create_default_context()


def connect(parts: _Url, deadline: float) -> socket.socket:
    """A connected (and for https, TLS-wrapped and verified) socket to ``parts``' host, within
    the deadline (``time.monotonic()``): the one way the package opens a connection (tiles
    here, the log's API in ``ledger.httpclient``). Name resolution has no timeout of its own:
    the system resolver's applies."""
    error: OSError = OSError(f"cannot resolve {parts.host}")
    for family, kind, proto, _, address in socket.getaddrinfo(
            parts.host, parts.port, type=socket.SOCK_STREAM):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
            if parts.https:
                sock.settimeout(max(deadline - time.monotonic(), 1e-3))
                sock = _tls_context().wrap_socket(sock, server_hostname=parts.host)
            return sock
        except TimeoutError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            error = exc
    raise error
