"""The HTTP server: listeners, one task per connection, dispatch, shutdown.

A connection serves requests one after another (keep-alive) until the
client closes it, a response says ``Connection: close``, a stream ends
without a length, or the connection is hijacked. Every response carries
the headers dockerd's version middleware sets (``Api-Version``,
``Ostype``, ``Server``, ``Docker-Experimental``).

Shutdown (``close``): listeners stop accepting and their sockets are
removed; idle connections are closed at once; requests in flight get
``timeout`` seconds to finish, then are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from email.utils import formatdate
from pathlib import Path

from hull import __version__
from hull.errors import Conflict, HullError, InvalidArgument

from .app import App
from .errors import error_response, response_for
from .http import (
    AnyResponse,
    HijackResponse,
    HTTPError,
    Request,
    Response,
    StreamResponse,
    chunk,
    head_bytes,
    read_request,
)
from .router import API_VERSION, MethodNotAllowed

log = logging.getLogger("hull.api")

SERVER_HEADER = f"hull/{__version__} (linux)"
# a small unread body is drained to keep the connection; a larger one closes it
_DRAIN_LIMIT = 1024 * 1024


class _Conn:
    __slots__ = ("busy", "task", "writer")

    def __init__(self, task: asyncio.Task[None], writer: asyncio.StreamWriter) -> None:
        self.task = task
        self.writer = writer
        self.busy = False


def parse_host(host: str) -> tuple[str, str | tuple[str, int]]:
    """``unix:///p`` → ("unix", "/p"); ``tcp://h:p`` → ("tcp", (h, p))."""
    if host.startswith("unix://"):
        path = host[len("unix://") :]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid -H {host!r}: the socket path must be absolute")
        return "unix", path
    if host.startswith("tcp://"):
        hp = host[len("tcp://") :].rstrip("/")
        h, sep, p = hp.rpartition(":")
        if not sep or not p.isdigit():
            raise InvalidArgument(f"invalid -H {host!r}: expected tcp://HOST:PORT")
        return "tcp", (h.strip("[]") or "127.0.0.1", int(p))
    raise InvalidArgument(f"invalid -H {host!r}: expected unix:///PATH or tcp://HOST:PORT")


def _bind_unix(path: str) -> socket.socket:
    """A listening-ready unix socket at ``path`` with mode 0660.

    A socket file left by a crashed daemon is removed; one that answers
    belongs to a live daemon and is an error.
    """
    p = Path(path)
    if p.exists() or p.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            p.unlink()
        else:
            raise Conflict(f"another daemon is listening on unix://{path}")
        finally:
            probe.close()
    p.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o660)
    except OSError:
        sock.close()
        raise
    return sock


class Server:
    """Serves ``app.router`` on any number of unix and TCP listeners."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.addresses: list[str] = []
        self._servers: list[asyncio.Server] = []
        self._unix_paths: list[str] = []
        self._conns: set[_Conn] = set()
        self._closing = False

    async def listen(self, host: str) -> str:
        """Start accepting on ``host``; returns the address (a TCP port 0 resolved)."""
        kind, where = parse_host(host)
        limit = self.app.config.limits.max_header + 1024
        if kind == "unix":
            assert isinstance(where, str)
            sock = _bind_unix(where)
            srv = await asyncio.start_unix_server(self._handle, sock=sock, limit=limit)
            self._unix_paths.append(where)
            addr = f"unix://{where}"
        else:
            assert isinstance(where, tuple)
            srv = await asyncio.start_server(self._handle, where[0], where[1], limit=limit)
            port = srv.sockets[0].getsockname()[1]
            addr = f"tcp://{where[0]}:{port}"
        self._servers.append(srv)
        self.addresses.append(addr)
        log.info("API listen on %s", addr)
        return addr

    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (bounded), close the rest."""
        self._closing = True
        for srv in self._servers:
            srv.close()
        for path in self._unix_paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self.app.events.close()
        for c in list(self._conns):
            if not c.busy:
                c.task.cancel()
        pending = [c.task for c in self._conns]
        if pending:
            _, still = await asyncio.wait(pending, timeout=timeout)
            for t in still:
                t.cancel()
            if still:
                await asyncio.wait(still, timeout=1.0)
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 1.0)
        self._servers.clear()

    # ---------------------------------------------------------- connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        conn = _Conn(task, writer)
        self._conns.add(conn)
        try:
            while not self._closing:
                conn.busy = False
                try:
                    req = await read_request(reader, self.app.config.limits)
                except HTTPError as exc:
                    await self._write_simple(writer, error_response(exc.status, exc.message), None)
                    break
                if req is None:
                    break
                conn.busy = True
                if not await self._serve(req, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # shutdown
        except Exception:
            log.exception("connection handler failed")
        finally:
            self._conns.discard(conn)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; whether the connection may serve another."""
        req.app = self.app
        keep = req.keep_alive and not self._closing
        resp: AnyResponse
        try:
            handler, req.params, req.api_version = self.app.router.resolve(req.method, req.path)
            if (req.headers.get("Expect") or "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            resp = await handler(req)
        except HTTPError as exc:
            resp, keep = error_response(exc.status, exc.message), False
        except MethodNotAllowed as exc:
            resp = error_response(405, exc.message)
        except HullError as exc:
            resp = response_for(exc)
        except Exception as exc:
            log.exception("%s %s failed", req.method, req.path)
            resp = response_for(exc)
        log.debug("%s %s → %s", req.method, req.target, getattr(resp, "status", 101))
        if not req.body.done:
            keep = keep and await self._drain(req)
        if isinstance(resp, Response):
            await self._write_simple(writer, resp, req, keep)
            return keep
        if isinstance(resp, StreamResponse):
            return await self._write_stream(reader, writer, resp, req) and keep
        await self._hijack(reader, writer, resp, req)
        return False

    async def _drain(self, req: Request) -> bool:
        """Read and drop an unread body if it is small; whether that succeeded."""
        total = 0
        try:
            async for data in req.body.stream():
                total += len(data)
                if total > _DRAIN_LIMIT:
                    return False
        except HTTPError:
            return False
        return True

    def _base_headers(self, extra: dict[str, str]) -> list[tuple[str, str]]:
        """dockerd's headers on every response, overridden by the route's own."""
        base = {
            "Api-Version": API_VERSION,
            "Date": formatdate(usegmt=True),
            "Docker-Experimental": "false",
            "Ostype": "linux",
            "Server": SERVER_HEADER,
        }
        base.update(extra)
        return list(base.items())

    async def _write_simple(
        self,
        writer: asyncio.StreamWriter,
        resp: Response,
        req: Request | None,
        keep: bool = False,
    ) -> None:
        headers = self._base_headers(resp.headers)
        if resp.content_type:
            headers.append(("Content-Type", resp.content_type))
        if resp.status not in (204, 304):
            headers.append(("Content-Length", str(len(resp.body))))
        if not keep:
            headers.append(("Connection", "close"))
        writer.write(head_bytes(resp.status, headers))
        if req is None or req.method != "HEAD":
            writer.write(resp.body)
        await writer.drain()

    async def _write_stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        resp: StreamResponse,
        req: Request,
    ) -> bool:
        """Write a chunked stream; stop early if the client goes away. Whether it completed."""
        headers = self._base_headers(resp.headers)
        headers += [("Content-Type", resp.content_type), ("Transfer-Encoding", "chunked")]
        writer.write(head_bytes(resp.status, headers))
        await writer.drain()
        if req.method == "HEAD":
            await _aclose(resp.chunks)
            return True

        async def pump() -> None:
            async for data in resp.chunks:
                if data:
                    writer.write(chunk(data))
                    await writer.drain()
            writer.write(chunk(b""))
            await writer.drain()

        pump_task = asyncio.ensure_future(pump())
        # a client that hangs up mid-stream shows as EOF on its side of the socket
        watch = asyncio.ensure_future(reader.read(1))
        try:
            done, _ = await asyncio.wait({pump_task, watch}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pump_task.cancel()
            watch.cancel()
            await _aclose(resp.chunks)
            raise
        if pump_task in done:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            pump_task.result()
            return True
        pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await pump_task
        await _aclose(resp.chunks)
        return False

    async def _hijack(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        resp: HijackResponse,
        req: Request,
    ) -> None:
        headers = [("Content-Type", resp.content_type), *resp.headers.items()]
        if req.wants_upgrade:
            headers += [("Connection", "Upgrade"), ("Upgrade", "tcp")]
            writer.write(head_bytes(101, headers))
        else:
            # old clients hijack a plain 200 response
            writer.write(head_bytes(200, [*self._base_headers({}), *headers]))
        await writer.drain()
        await resp.run(reader, writer)


async def _aclose(it: object) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


__all__ = ["SERVER_HEADER", "Server", "parse_host"]
