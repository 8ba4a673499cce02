"""Reading a reply's body into one buffer: Content-Length, chunked and close-delimited."""

from __future__ import annotations

import http.client
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from hull.distribution.transport import Reply

BODY = os.urandom(300_000)


def _chunked(data: bytes) -> bytes:
    out = b""
    for i in range(0, len(data), 70_000):
        part = data[i : i + 70_000]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


ANSWERS = {
    "length": b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY,
    "chunked": b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(BODY),
    "close": b"Connection: close\r\n\r\n" + BODY,
}


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as f:  # both closed: the peer sees the end
                while (line := f.readline()) not in (b"", b"\r\n"):
                    if line.startswith(b"GET "):
                        kind = line.split()[1].decode().strip("/")
                head = b"HTTP/1.1 200 OK\r\n"
                for i in range(0, len(ANSWERS[kind]), 50_000):  # in pieces, as a network does
                    conn.sendall((head if i == 0 else b"") + ANSWERS[kind][i : i + 50_000])

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield sock.getsockname()
    finally:
        sock.close()


@pytest.mark.parametrize("kind", ["length", "chunked", "close"])
def test_readinto1_reads_every_body_into_one_buffer(server: tuple[str, int], kind: str) -> None:
    conn = http.client.HTTPConnection(*server, timeout=10)
    try:
        conn.request("GET", f"/{kind}")
        reply = Reply(conn.getresponse())
        view = memoryview(bytearray(64 << 10))
        got = bytearray()
        while n := reply.readinto1(view):
            got += view[:n]
        assert bytes(got) == BODY
        assert reply._resp is not None and reply._resp.isclosed()  # done: the connection is free
    finally:
        conn.close()
