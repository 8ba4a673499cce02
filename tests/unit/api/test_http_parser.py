"""The HTTP/1.1 request parser: headers, bodies, limits."""

from __future__ import annotations

import asyncio

import pytest

from hull.api.http import HTTPError, Limits, read_request


def parse(raw: bytes, limits: Limits | None = None) -> list[tuple[str, str, bytes]]:
    """Every request in ``raw`` as (method, path, body)."""

    async def go() -> list[tuple[str, str, bytes]]:
        reader = asyncio.StreamReader(limit=(limits or Limits()).max_header + 1024)
        reader.feed_data(raw)
        reader.feed_eof()
        out = []
        while True:
            req = await read_request(reader, limits or Limits())
            if req is None:
                return out
            out.append((req.method, req.path, await req.read()))

    return asyncio.run(go())


def test_content_length_body() -> None:
    raw = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
    assert parse(raw) == [("POST", "/x", b"hello")]


def test_chunked_body_with_extension_and_trailer() -> None:
    raw = (
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    assert parse(raw) == [("POST", "/x", b"hello world")]


def test_keep_alive_sequence() -> None:
    raw = (
        b"GET /a HTTP/1.1\r\n\r\n"
        b"POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
    )
    assert parse(raw) == [("GET", "/a", b""), ("POST", "/b", b"hi"), ("POST", "/c", b"z")]


def test_query_and_headers() -> None:
    async def go() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"GET /x%20y?a=1&a=2&b=&c=true HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        req = await read_request(reader, Limits())
        assert req is not None
        assert req.path == "/x y"
        assert req.arg("a") == "2"
        assert req.arg("b") == ""
        assert req.bool_arg("c") is True
        assert req.keep_alive
        assert req.headers.get("CONNECTION") == "keep-alive"

    asyncio.run(go())


def test_header_too_large_is_431() -> None:
    raw = b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 5000 + b"\r\n\r\n"
    with pytest.raises(HTTPError) as e:
        parse(raw, Limits(max_header=1024))
    assert e.value.status == 431


def test_body_too_large_is_413() -> None:
    raw = b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + b"a" * 100
    with pytest.raises(HTTPError) as e:
        parse(raw, Limits(max_body=10))
    assert e.value.status == 413
    chunked = (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"
        + b"a" * 32
        + b"\r\n0\r\n\r\n"
    )
    with pytest.raises(HTTPError) as e:
        parse(chunked, Limits(max_body=10))
    assert e.value.status == 413


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
    ],
)
def test_malformed_is_400(raw: bytes) -> None:
    with pytest.raises(HTTPError) as e:
        parse(raw)
    assert e.value.status == 400
