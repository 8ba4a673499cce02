"""A typed, synchronous client of the Docker Engine API (hulld or dockerd).

    c = Client()                       # $HULL_HOST or unix:///run/hull/hull.sock
    c.get("/version")                  # JSON → Python, under /v<negotiated>/
    for msg in c.stream("GET", "/events", params={"since": "0"}): ...
    h = c.hijack("POST", "/containers/x/attach", params={"stream": 1, "stdout": 1})

The API version is negotiated on first use from ``/_ping``'s ``Api-Version``
(the lower of the server's and ``CLIENT_API_VERSION``), as the docker CLI
does. Errors come back as ``hull.errors`` kinds (``errors.py``); a daemon
that cannot be reached is ``Unavailable`` naming the address.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping

from hull.errors import HullError, InvalidArgument, Unavailable
from hull.oci import fastjson as jsonlib

from .errors import cannot_connect, error_for_status
from .http11 import Connection, ProtocolError, Response
from .transport import open_connection, open_socket, resolve_host

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    Params: TypeAlias = Mapping[str, Any] | None

CLIENT_API_VERSION = "1.43"


def _vt(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def encode_params(params: Params) -> str:
    """Query string as Docker clients write it: bools "1"/"0", maps and lists as JSON."""
    if not params:
        return ""
    items: list[tuple[str, str]] = []
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            items.append((k, "1" if v else "0"))
        elif isinstance(v, dict | list):
            items.append((k, jsonlib.dumps(v)))
        else:
            items.append((k, str(v)))
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in items)


class Reply:
    """A whole response."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        """The body as JSON, ``None`` if empty."""
        return jsonlib.loads(self.body) if self.body.strip() else None


class Ping:
    """What ``/_ping`` says about the daemon."""

    __slots__ = ("api_version", "builder_version", "experimental", "os_type")

    def __init__(
        self, api_version: str, os_type: str, experimental: bool, builder_version: str
    ) -> None:
        self.api_version = api_version
        self.os_type = os_type
        self.experimental = experimental
        self.builder_version = builder_version


class Hijacked:
    """A connection taken over after ``101 UPGRADED``: raw bytes both ways."""

    def __init__(self, sock: socket.socket, buffered: bytes, content_type: str) -> None:
        self.sock = sock
        self._buf = buffered
        self.content_type = content_type

    @property
    def multiplexed(self) -> bool:
        return self.content_type == "application/vnd.docker.multiplexed-stream"

    def recv(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes; b"" at the end of the stream."""
        if self._buf:
            data, self._buf = self._buf[:n], self._buf[n:]
            return data
        return self.sock.recv(n)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: the daemon sees the end of stdin."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(stream, payload) of a multiplexed stream until it ends."""
        from hull.api.stdcopy import Demuxer

        demux = Demuxer()
        while True:
            data = self.recv()
            if not data:
                return
            yield from demux.feed(data)

    def __enter__(self) -> Hijacked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client:
    """One daemon at ``host``; keeps one connection alive for plain requests."""

    def __init__(
        self, host: str | None = None, *, version: str | None = None, timeout: float | None = 60.0
    ) -> None:
        self.host = resolve_host(host)
        self.timeout = timeout
        self._version = version
        self._conn: Connection | None = None

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_version(self) -> str:
        """The negotiated version (pings the daemon the first time)."""
        if self._version is None:
            self._version = self.negotiate()
        return self._version

    def url(
        self, path: str, params: Params = None, versioned: bool = True, optimistic: bool = False
    ) -> str:
        """``/v1.43/path?query`` (path segments are expected to be quoted by the caller).

        ``optimistic``: before any negotiation, our own version without a
        ``/_ping`` round trip; ``request`` negotiates if the daemon is older.
        """
        if not versioned:
            prefix = ""
        elif self._version is None and optimistic:
            prefix = f"/v{CLIENT_API_VERSION}"
        else:
            prefix = f"/v{self.api_version}"
        q = encode_params(params)
        return prefix + path + (f"?{q}" if q else "")

    def _send(
        self,
        conn: Connection,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> Response:
        hdrs = dict(headers or {})
        try:
            conn.request(method, url, body, hdrs)
            return conn.getresponse()
        except (FileNotFoundError, ConnectionRefusedError, PermissionError) as exc:
            conn.close()
            raise cannot_connect(self.host, exc) from exc
        except TimeoutError as exc:
            conn.close()
            raise Unavailable(f"timed out talking to the hull daemon at {self.host}") from exc

    @staticmethod
    def _body(json: Any, data: bytes | None, headers: dict[str, str]) -> bytes | None:
        if json is not None:
            headers.setdefault("Content-Type", "application/json")
            return jsonlib.dumps(json).encode()
        return data

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        versioned: bool = True,
    ) -> Reply:
        """One request on the kept-alive connection; ≥ 400 raises its error kind."""
        hdrs = dict(headers or {})
        body = self._body(json, data, hdrs)
        assumed = versioned and self._version is None
        url = self.url(path, params, versioned, optimistic=True)
        for attempt in (0, 1):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = open_connection(self.host, self.timeout)
            try:
                resp = self._send(self._conn, method, url, body, hdrs)
                payload = resp.read()
            except (ProtocolError, BrokenPipeError, ConnectionResetError):
                self.close()
                # a kept-alive connection the daemon closed: retry once on a fresh one
                if reused and attempt == 0 and method in ("GET", "HEAD"):
                    continue
                raise Unavailable(f"the hull daemon at {self.host} closed the connection") from None
            except HullError:
                self.close()
                raise
            if resp.will_close:
                self.close()
            if assumed and self._settle(resp.status, payload):
                return self.request(method, path, params=params, json=json, data=data,
                                    headers=headers, versioned=versioned)  # fmt: skip
            if resp.status >= 400:
                raise error_for_status(resp.status, payload, resp.reason)
            return Reply(resp.status, dict(resp.getheaders()), payload)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ verbs

    def get(self, path: str, params: Params = None) -> Any:
        """GET → parsed JSON body (``None`` if empty)."""
        return self.request("GET", path, params=params).json()

    def post(
        self, path: str, params: Params = None, json: Any = None, data: bytes | None = None
    ) -> Any:
        """POST → parsed JSON body (``None`` for 204/304)."""
        return self.request("POST", path, params=params, json=json, data=data).json()

    def put(self, path: str, params: Params = None, data: bytes | None = None) -> Any:
        return self.request("PUT", path, params=params, data=data).json()

    def delete(self, path: str, params: Params = None) -> Any:
        return self.request("DELETE", path, params=params).json()

    def head(self, path: str, params: Params = None) -> Reply:
        return self.request("HEAD", path, params=params)

    def ping(self) -> Ping:
        """``GET /_ping`` (unversioned): the daemon's API version and OS."""
        r = self.request("GET", "/_ping", versioned=False)
        h = {k.lower(): v for k, v in r.headers.items()}
        return Ping(
            api_version=h.get("api-version", ""),
            os_type=h.get("ostype", ""),
            experimental=h.get("docker-experimental", "false") == "true",
            builder_version=h.get("builder-version", ""),
        )

    def _settle(self, status: int, payload: bytes) -> bool:
        """After a first request sent with our own version: whether to send it again.

        An older daemon (dockerd 20.10 speaks 1.41) refuses it as too new: the
        version is negotiated and the caller retries. Otherwise it is settled.
        """
        if status == 400 and b"is too new" in payload:
            self._version = self.negotiate()
            return True
        if self._version is None and status < 400:
            self._version = CLIENT_API_VERSION  # the daemon took it
        return False

    def negotiate(self) -> str:
        """The API version both sides speak: min(server, client)."""
        server = self.ping().api_version
        if not server:
            return "1.24"  # dockerd before 1.25 did not say; 1.24 is what they spoke
        return server if _vt(server) < _vt(CLIENT_API_VERSION) else CLIENT_API_VERSION

    # ------------------------------------------------------------ streams

    def stream_raw(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[bytes]:
        """A response body as it arrives, on a connection of its own."""
        hdrs = dict(headers or {})
        body = self._body(json, data, hdrs)
        assumed = self._version is None
        url = self.url(path, params, optimistic=True)
        conn = open_connection(self.host, None)
        try:
            resp = self._send(conn, method, url, body, hdrs)
            payload = resp.read() if resp.status >= 400 else b""
            if assumed and self._settle(resp.status, payload):
                yield from self.stream_raw(method, path, params=params, json=json,
                                           data=data, headers=headers)  # fmt: skip
                return
            if resp.status >= 400:
                raise error_for_status(resp.status, payload, resp.reason)
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    return
                yield chunk
        finally:
            conn.close()

    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """Newline-delimited JSON messages (progress, events) as they arrive."""
        buf = b""
        for data_ in self.stream_raw(
            method, path, params=params, json=json, data=data, headers=headers
        ):
            buf += data_
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield _loads(line)
        if buf.strip():
            yield _loads(buf)

    def hijack(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Hijacked:
        """Send an upgrade request and take the raw connection (attach, exec start)."""
        hdrs = {"Host": "localhost", "Connection": "Upgrade", "Upgrade": "tcp"}
        hdrs.update(headers or {})
        body = self._body(json, None, hdrs) or b""
        hdrs["Content-Length"] = str(len(body))
        head = f"{method} {self.url(path, params)} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        try:
            sock = open_socket(self.host, self.timeout)
        except (FileNotFoundError, ConnectionRefusedError, PermissionError) as exc:
            raise cannot_connect(self.host, exc) from exc
        try:
            sock.sendall(head.encode("latin-1") + body)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    raise Unavailable(f"the hull daemon at {self.host} closed the connection")
                buf += data
                if len(buf) > 1024 * 1024:
                    raise InvalidArgument("response headers too large")
            raw_head, rest = buf.split(b"\r\n\r\n", 1)
            lines = raw_head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            resp_headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                resp_headers[k.strip().lower()] = v.strip()
            if status >= 400:
                rest += _read_rest(sock, resp_headers, rest)
                raise error_for_status(status, rest)
            sock.settimeout(None)
            return Hijacked(sock, rest, resp_headers.get("content-type", ""))
        except BaseException:
            sock.close()
            raise


def _read_rest(sock: socket.socket, headers: Mapping[str, str], have: bytes) -> bytes:
    """The rest of an error body after the headers (Content-Length bounded)."""
    want = int(headers.get("content-length", "0") or 0) - len(have)
    out = b""
    while want > 0:
        data = sock.recv(want)
        if not data:
            break
        out += data
        want -= len(data)
    return out


def _loads(line: bytes) -> Any:
    try:
        return jsonlib.loads(line)
    except ValueError as exc:
        raise InvalidArgument(f"malformed JSON message from the daemon: {line[:200]!r}") from exc


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(s: str) -> str:
    """Percent-encode everything but RFC 3986's unreserved characters."""
    if s.isascii() and s.isalnum():
        return s
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in s.encode())


def quote_segment(s: str) -> str:
    """A value for one path segment (``/containers/{id}``)."""
    return quote(s)


__all__ = [
    "CLIENT_API_VERSION",
    "Client",
    "Hijacked",
    "Ping",
    "Reply",
    "encode_params",
    "quote_segment",
]
