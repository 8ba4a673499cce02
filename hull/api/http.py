"""HTTP/1.1 on asyncio streams: reading requests, writing responses.

What the Docker Engine API needs and nothing more: one request at a time
per connection (keep-alive, no pipelining guarantees beyond ordering),
``Content-Length`` and chunked request bodies, chunked streaming responses,
and connection hijacking after ``101 UPGRADED``.

Limits: the request line and headers together are at most
``Limits.max_header`` bytes (else 431); a body read whole through
``Request.read()``/``json()`` is at most ``Limits.max_body`` (else 413).
``Request.stream()`` reads bodies of any size (image loads, archive PUTs).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hull.errors import InvalidArgument

REASONS = {
    101: "UPGRADED",
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class HTTPError(Exception):
    """A request the server cannot parse; answered with ``status`` then closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may make the server buffer."""

    max_header: int = 64 * 1024
    max_body: int = 16 * 1024 * 1024


class Headers:
    """Case-insensitive header map; the last value of a repeated header wins."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._d: dict[str, str] = {}
        for k, v in items or []:
            self._d[k.lower()] = v

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._d.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._d[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._d

    def tokens(self, name: str) -> set[str]:
        """The comma-separated, lower-cased tokens of a header (``Connection``)."""
        return {t.strip().lower() for t in (self.get(name) or "").split(",") if t.strip()}


class Body:
    """The request body, read at most once: whole (bounded) or as a stream."""

    def __init__(
        self, reader: asyncio.StreamReader, length: int | None, chunked: bool, limits: Limits
    ) -> None:
        self._reader = reader
        self._remaining = length or 0
        self._chunked = chunked
        self._limits = limits
        self._chunk_left = 0
        self.done = not chunked and not length

    async def _next(self, size: int = 65536) -> bytes:
        if self.done:
            return b""
        if not self._chunked:
            data = await self._reader.read(min(size, self._remaining))
            if not data:
                raise HTTPError(400, "unexpected end of request body")
            self._remaining -= len(data)
            if self._remaining == 0:
                self.done = True
            return data
        if self._chunk_left == 0:
            line = await _readline(self._reader, self._limits.max_header)
            size_text = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(size_text, 16)
            except ValueError:
                raise HTTPError(400, "malformed chunk size in request body") from None
            if self._chunk_left < 0:
                raise HTTPError(400, "malformed chunk size in request body")
            if self._chunk_left == 0:
                # trailers, then the empty line
                while await _readline(self._reader, self._limits.max_header):
                    pass
                self.done = True
                return b""
        data = await self._reader.read(min(size, self._chunk_left))
        if not data:
            raise HTTPError(400, "unexpected end of chunked request body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and await self._reader.readexactly(2) != b"\r\n":
            raise HTTPError(400, "chunk not followed by CRLF")
        return data

    async def stream(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, unbounded."""
        while not self.done:
            data = await self._next()
            if data:
                yield data

    async def read(self) -> bytes:
        """The whole body; 413 past ``Limits.max_body``."""
        if not self._chunked and self._remaining > self._limits.max_body:
            raise HTTPError(413, f"request body exceeds {self._limits.max_body} bytes")
        parts: list[bytes] = []
        total = 0
        async for data in self.stream():
            total += len(data)
            if total > self._limits.max_body:
                raise HTTPError(413, f"request body exceeds {self._limits.max_body} bytes")
            parts.append(data)
        return b"".join(parts)


@dataclass
class Request:
    """One parsed request; ``path`` has the version prefix removed by the router."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: Body
    version: str = "HTTP/1.1"
    params: dict[str, str] = field(default_factory=dict)
    api_version: str = ""
    # set by the server: the application and the connection's streams (hijack)
    app: Any = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter."""
        vals = self.query.get(name)
        return vals[-1] if vals else default

    def bool_arg(self, name: str, default: bool = False) -> bool:
        """A query flag as Docker reads it: "1"/"true"/"True" are true, "0"/"false" false."""
        v = self.arg(name)
        if v is None or v == "":
            return default
        if v.lower() in ("1", "true", "yes"):
            return True
        if v.lower() in ("0", "false", "no"):
            return False
        raise InvalidArgument(f"invalid boolean value for {name}: {v!r}")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        v = self.arg(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise InvalidArgument(f"invalid integer value for {name}: {v!r}") from None

    async def read(self) -> bytes:
        return await self.body.read()

    async def json(self) -> Any:
        """The body as JSON; an empty body is ``None``; malformed → 400."""
        data = await self.body.read()
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise InvalidArgument(f"invalid JSON in request body: {exc}") from exc

    @property
    def wants_upgrade(self) -> bool:
        return "upgrade" in self.headers.tokens("Connection") and (
            (self.headers.get("Upgrade") or "").lower() == "tcp"
        )

    @property
    def keep_alive(self) -> bool:
        tokens = self.headers.tokens("Connection")
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


async def _readline(reader: asyncio.StreamReader, limit: int) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise HTTPError(431, "header line too long") from None
    except asyncio.IncompleteReadError as exc:
        raise HTTPError(400, "unexpected end of request") from exc
    if len(line) > limit:
        raise HTTPError(431, "header line too long")
    return line.rstrip(b"\r\n")


async def read_request(reader: asyncio.StreamReader, limits: Limits) -> Request | None:
    """The next request on the connection; ``None`` at a clean end of stream."""
    total = 0
    lines: list[bytes] = []
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial and not lines:
                return None
            raise HTTPError(400, "unexpected end of request") from exc
        except asyncio.LimitOverrunError:
            raise HTTPError(431, "request header fields too large") from None
        total += len(raw)
        if total > limits.max_header:
            raise HTTPError(431, "request header fields too large")
        line = raw.rstrip(b"\r\n")
        if not line:
            if not lines:
                continue  # tolerate blank lines between requests (RFC 9112 2.2)
            break
        lines.append(line)
    try:
        method, target, version = lines[0].decode("ascii").split(" ")
    except (ValueError, UnicodeDecodeError):
        raise HTTPError(400, "malformed request line") from None
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HTTPError(400, f"unsupported protocol version {version}")
    items: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip():
            raise HTTPError(400, "malformed header line")
        items.append((name, value.strip()))
    headers = Headers(items)
    chunked = "chunked" in headers.tokens("Transfer-Encoding")
    length: int | None = None
    cl = headers.get("Content-Length")
    if cl is not None and not chunked:
        try:
            length = int(cl)
        except ValueError:
            raise HTTPError(400, "malformed Content-Length") from None
        if length < 0:
            raise HTTPError(400, "malformed Content-Length")
    parts = urlsplit(target)
    return Request(
        method=method.upper(),
        target=target,
        path=unquote(parts.path),
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=Body(reader, length, chunked, limits),
        version=version,
    )


# ---------------------------------------------------------------- responses

Hijacker = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Response:
    """A whole response: status, headers and a body known in advance."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamResponse:
    """A chunked response whose body an async iterator yields (progress, events)."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class HijackResponse:
    """Take the connection over: ``101 UPGRADED`` (or 200 without upgrade), then raw bytes.

    ``run(reader, writer)`` owns both directions until it returns; the server
    closes the connection afterwards.
    """

    run: Hijacker
    multiplexed: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        if self.multiplexed:
            return "application/vnd.docker.multiplexed-stream"
        return "application/vnd.docker.raw-stream"


AnyResponse = Response | StreamResponse | HijackResponse


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON body as Docker writes it (compact, newline-terminated)."""
    body = (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    return Response(status, body, "application/json", headers or {})


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    """No body: 204 after a successful action, 304 for "already in that state"."""
    return Response(status, b"", None, headers or {})


def json_lines(items: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    """Newline-delimited JSON, one chunk per message, as Docker's progress streams."""

    async def gen() -> AsyncIterator[bytes]:
        async for item in items:
            yield (json.dumps(item, separators=(",", ":"), ensure_ascii=False) + "\n").encode()

    return gen()


def head_bytes(status: int, headers: list[tuple[str, str]], reason: str | None = None) -> bytes:
    """The status line and headers of a response, ready to write."""
    reason = reason or REASONS.get(status, "Unknown")
    out = [f"HTTP/1.1 {status} {reason}\r\n"]
    out.extend(f"{k}: {v}\r\n" for k, v in headers)
    out.append("\r\n")
    return "".join(out).encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (empty data is the terminating chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)
