"""The server over a real unix socket: routes, keep-alive, limits, streams, hijack."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from hull.api import Daemon, HijackResponse, Request
from hull.api.stdcopy import STDERR, STDOUT, Demuxer, frame, parse_header
from tests.unit.api._daemon import running_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path) as d:
        yield d


def sock_path(d: Daemon) -> str:
    return d.addresses[0][len("unix://") :]


def exchange(d: Daemon, raw: bytes, wait: float = 0.3) -> bytes:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path(d))
    s.sendall(raw)
    s.settimeout(wait)
    out = b""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            out += data
    except TimeoutError:
        pass
    s.close()
    return out


def test_socket_mode_and_pidfile(daemon: Daemon) -> None:
    st = os.stat(sock_path(daemon))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert daemon.config.pidfile_path.read_text().strip() == str(os.getpid())


def test_ping_headers_and_head(daemon: Daemon) -> None:
    out = exchange(
        daemon, b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nHEAD /v1.40/_ping HTTP/1.1\r\n\r\n"
    )
    first, second = out.split(b"HTTP/1.1 200 OK", 2)[1:]
    assert b"Api-Version: 1.43" in first and b"Ostype: linux" in first
    assert b"Docker-Experimental: false" in first and b"Builder-Version: 1" in first
    assert b"Server: hull/" in first and first.endswith(b"\r\n\r\nOK")
    assert second.endswith(b"\r\n\r\n")  # HEAD: no body


def test_unknown_route_and_version_errors(daemon: Daemon) -> None:
    out = exchange(daemon, b"GET /nope HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 404 ") and out.endswith(b'{"message":"page not found"}\n')
    out = exchange(daemon, b"GET /v1.99/version HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")
    assert b"client version 1.99 is too new. Maximum supported API version is 1.43" in out


def test_limits_answer_431_and_413(daemon: Daemon) -> None:
    out = exchange(daemon, b"GET /_ping HTTP/1.1\r\nX: " + b"a" * 10000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 ")

    async def echo(req: Request) -> object:
        from hull.api import json_response

        return json_response({"n": len(await req.read())})

    daemon.app.router.add("POST", "/echo", echo)
    # refused on the announced length, before the body is sent
    out = exchange(daemon, b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (2 << 20))
    assert out.startswith(b"HTTP/1.1 413 ")
    out = exchange(
        daemon,
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    assert b'{"n":3}' in out and out.endswith(b"OK")


def test_events_stream_and_filters(daemon: Daemon) -> None:
    bus = daemon.app.events
    bus.publish("container", "start", "abc123", {"name": "web", "image": "busybox"})
    bus.publish("image", "pull", "busybox:latest", {"name": "busybox:latest"})
    now = time.time()
    filt = quote(json.dumps({"type": ["container"]}))
    raw = f"GET /events?since=0&until={now:.9f}&filters={filt} HTTP/1.1\r\n\r\n".encode()
    out = exchange(daemon, raw, wait=2)
    assert b"Transfer-Encoding: chunked" in out
    body = out.split(b"\r\n\r\n", 1)[1]
    assert body.endswith(b"0\r\n\r\n")
    lines = [ln for ln in body.split(b"\r\n") if ln.startswith(b"{")]
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["Type"] == "container" and ev["Action"] == "start" and ev["status"] == "start"
    assert ev["from"] == "busybox" and ev["Actor"]["Attributes"]["name"] == "web"


def test_events_live_and_disconnect(daemon: Daemon) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path(daemon))
    s.sendall(b"GET /events HTTP/1.1\r\n\r\n")
    s.settimeout(5)
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200 OK")
    deadline = time.time() + 5
    while daemon.app.events.listeners == 0 and time.time() < deadline:
        time.sleep(0.01)
    daemon.app.events.publish("volume", "create", "v1")
    data = s.recv(4096)
    assert b'"Action":"create"' in data
    s.close()
    while daemon.app.events.listeners and time.time() < deadline:
        time.sleep(0.01)
    assert daemon.app.events.listeners == 0


def test_bad_filter_is_400(daemon: Daemon) -> None:
    out = exchange(daemon, b"GET /events?filters={%22bogus%22:[%22x%22]} HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ") and b"invalid filter 'bogus'" in out


def test_hijack_upgrade(daemon: Daemon) -> None:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(5)
        writer.write(frame(STDOUT, data.upper()) + frame(STDERR, b"err"))
        await writer.drain()

    async def attach(req: Request) -> HijackResponse:
        return HijackResponse(run, multiplexed=True)

    daemon.app.router.add("POST", "/attach", attach)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path(daemon))
    s.sendall(b"POST /attach HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello")
    s.settimeout(5)
    out = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
    head, rest = out.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED")
    assert b"Content-Type: application/vnd.docker.multiplexed-stream" in head
    assert list(Demuxer().feed(rest)) == [(STDOUT, b"HELLO"), (STDERR, b"err")]


def test_stdcopy_framing() -> None:
    f = frame(STDERR, b"abc")
    assert f[:8] == b"\x02\x00\x00\x00\x00\x00\x00\x03"
    assert parse_header(f[:8]) == (STDERR, 3)
    d = Demuxer()
    assert list(d.feed(f[:5])) == [] and d.pending == 5
    assert list(d.feed(f[5:] + frame(STDOUT, b""))) == [(STDERR, b"abc"), (STDOUT, b"")]
    with pytest.raises(ValueError):
        parse_header(b"\x09" + bytes(7))


def test_second_daemon_on_same_pidfile_refuses(daemon: Daemon, tmp_path: Path) -> None:
    from hull.errors import Conflict

    with (
        pytest.raises(Conflict, match=f"hulld is already running with pid {os.getpid()}"),
        running_daemon(tmp_path / "other", pidfile=daemon.config.pidfile_path),
    ):
        pass


def test_stop_removes_socket_and_pidfile(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        path, pid = sock_path(d), d.config.pidfile_path
    assert not os.path.exists(path) and not pid.exists()
