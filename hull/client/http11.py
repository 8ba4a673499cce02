"""The little HTTP/1.1 the client needs, over a unix or TCP socket.

``http.client`` drags in ``email`` (its header parser), ``ssl`` and
``urllib``: about 16 ms of imports on every ``hull`` command, more than the
daemon takes to create a container. The Engine API needs none of that:
requests with a body of known length, and responses framed by
``Content-Length``, ``Transfer-Encoding: chunked`` or the end of the
connection. This module does exactly that and refuses anything else.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

MAX_HEAD = 1 << 20  # a daemon's response headers never come near this


class ProtocolError(ConnectionError):
    """The daemon's reply is not HTTP/1.x we understand."""


class Response:
    """A response whose body is read on demand (``read``, ``read1``)."""

    def __init__(self, conn: Connection, status: int, reason: str, headers: list[tuple[str, str]]):
        self._conn = conn
        self.status = status
        self.reason = reason
        self._headers = headers
        self.lower = {k.lower(): v for k, v in headers}
        te = self.lower.get("transfer-encoding", "").lower()
        self.chunked = "chunked" in te
        length = self.lower.get("content-length")
        self.length: int | None = None
        if not self.chunked and length is not None:
            try:
                self.length = int(length)
            except ValueError:
                raise ProtocolError(f"bad Content-Length {length!r}") from None
        self.will_close = self.lower.get("connection", "").lower() == "close" or (
            not self.chunked and self.length is None
        )
        self._chunk_left = 0  # bytes left in the current chunk
        self._done = status in (204, 304) or (self.length == 0)

    def getheaders(self) -> list[tuple[str, str]]:
        """The headers as sent (original case, order)."""
        return list(self._headers)

    def read1(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes of the body, as soon as any arrive; b"" at its end."""
        if self._done:
            return b""
        c = self._conn
        if self.chunked:
            if self._chunk_left == 0:
                line = c.readline()
                size = line.split(b";", 1)[0].strip()
                try:
                    self._chunk_left = int(size, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {line[:40]!r}") from None
                if self._chunk_left == 0:
                    while c.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._done = True
                    return b""
            data = c.recv_some(min(n, self._chunk_left))
            if not data:
                raise ProtocolError("connection closed inside a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                c.readline()  # the CRLF after the chunk
            return data
        if self.length is not None:
            data = c.recv_some(min(n, self.length))
            if not data:
                raise ProtocolError("connection closed before the end of the body")
            self.length -= len(data)
            if self.length == 0:
                self._done = True
            return data
        data = c.recv_some(n)  # framed by the end of the connection
        if not data:
            self._done = True
        return data

    def __iter__(self) -> Iterator[bytes]:
        """The body line by line (``\\n`` kept), as it arrives."""
        pending = b""
        while True:
            data = self.read1()
            if not data:
                if pending:
                    yield pending
                return
            pending += data
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                yield line + b"\n"

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        parts: list[bytes] = []
        while True:
            data = self.read1(1 << 20)
            if not data:
                return b"".join(parts)
            parts.append(data)


class Connection:
    """One connection, opened on first use and kept alive between requests."""

    def __init__(self, kind: str, where: str, port: int, timeout: float | None) -> None:
        self.kind, self.where, self.port, self.timeout = kind, where, port, timeout
        self.sock: socket.socket | None = None
        self._buf = b""
        self._method = "GET"
        self.blocksize = 1 << 20

    def connect(self) -> socket.socket:
        if self.kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect(self.where)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.where, self.port), timeout=self.timeout)
        self.sock = sock
        self._buf = b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buf = b""

    def request(
        self,
        method: str,
        url: str,
        body: bytes | IO[bytes] | None = None,
        headers: dict[str, str] | None = None,
        *,
        encode_chunked: bool = False,
    ) -> None:
        """Send one request (``getresponse`` reads the reply), as ``http.client`` does.

        A file body is streamed in ``blocksize`` pieces, chunked unless the
        headers give its ``Content-Length``.
        """
        sock = self.sock or self.connect()
        host = "localhost" if self.kind == "unix" else f"{self.where}:{self.port}"
        hdrs = {"Host": host, "Accept-Encoding": "identity"}
        hdrs.update(headers or {})
        stream = body is not None and not isinstance(body, bytes | bytearray)
        chunked = stream and (encode_chunked or "Content-Length" not in hdrs)
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        elif not stream and (body is not None or method in ("POST", "PUT", "PATCH")):
            hdrs["Content-Length"] = str(len(body or b""))  # type: ignore[arg-type]
        head = f"{method} {url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        self._method = method
        if not stream:
            sock.sendall(head.encode("latin-1") + b"\r\n" + (body or b""))  # type: ignore[operator]
            return
        sock.sendall(head.encode("latin-1") + b"\r\n")
        read = body.read  # type: ignore[union-attr]
        while True:
            piece = read(self.blocksize)
            if not piece:
                break
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")

    def getresponse(self) -> Response:
        """The reply to the last request, its body still to read."""
        return self._response(self._method)

    def _response(self, method: str) -> Response:
        while True:
            line = self.readline()
            if not line:
                raise ConnectionResetError("the daemon closed the connection")
            parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError(f"not an HTTP/1.x status line: {line[:80]!r}")
            status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
            headers = []
            size = 0
            while True:
                h = self.readline()
                size += len(h)
                if size > MAX_HEAD:
                    raise ProtocolError("response headers too large")
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers.append((k.strip(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue  # 100 Continue and friends precede the real answer
            resp = Response(self, status, reason, headers)
            if method == "HEAD":
                resp._done = True
            return resp

    def readline(self) -> bytes:
        """One line including its ``\\n`` (what is left if the peer closed)."""
        while b"\n" not in self._buf:
            if len(self._buf) > MAX_HEAD:
                raise ProtocolError("line too long")
            assert self.sock is not None
            data = self.sock.recv(65536)
            if not data:
                line, self._buf = self._buf, b""
                return line
            self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        return line + b"\n"

    def recv_some(self, n: int) -> bytes:
        """Up to ``n`` bytes: buffered ones first, else one ``recv``."""
        if self._buf:
            data, self._buf = self._buf[:n], self._buf[n:]
            return data
        assert self.sock is not None
        return self.sock.recv(n)
