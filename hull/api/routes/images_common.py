"""What the image routes share: the store off the event loop, request bodies and tar streams.

Not a route module (no ``ROUTES``). The image store does blocking I/O and
keeps one SQLite connection per thread, so every call into it runs in a
worker thread (``in_thread``). Two bridges join those threads to the loop:

* ``BodyReader``: a request body read by a worker as a blocking file
  (``import``, ``load``), each read awaiting the next chunk on the loop;
* ``stream_from_thread``: a worker writing a tar (``save``) into a bounded
  queue that the response drains, so nothing is held whole in memory or on
  disk. An error before the first byte becomes the HTTP error; after it, the
  connection is cut so the client sees a truncated stream, never a short
  tar that looks complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from hull.errors import HullError

from ..http import Request

if TYPE_CHECKING:
    from hull.images import ImageService, UsedBy

    from ..app import App

T = TypeVar("T")
CHUNK = 1 << 20
QUEUE_CHUNKS = 8  # at most this many chunks wait between the writer and the socket


async def in_thread(req: Request, fn: Callable[[ImageService], T]) -> T:
    """``fn(the image store)`` in a worker thread."""
    app: App = req.app
    return await asyncio.to_thread(lambda: fn(app.images))


def users(app: App, image_id: str) -> Sequence[UsedBy]:
    """The containers using an image (the engine's answer)."""
    return app.image_users(image_id)


def in_use(app: App) -> Callable[[str], UsedBy | None]:
    """The ``in_use`` answer ImageService wants: a running user first, else any."""

    def check(image_id: str) -> UsedBy | None:
        found = list(users(app, image_id))
        return next((u for u in found if u.running), found[0] if found else None)

    return check


def error_message(exc: HullError) -> dict[str, Any]:
    """Docker's in-stream error (``streamformatter.FormatError``)."""
    return {"errorDetail": {"message": exc.message}, "error": exc.message}


async def lines_of(items: Sequence[Any]) -> AsyncIterator[Any]:
    """An async iterator over a list (for ``json_lines``)."""
    for item in items:
        yield item


# -- request bodies ---------------------------------------------------------------------


class BodyReader(io.RawIOBase):
    """The request body as a blocking stream, for a worker thread (never the loop's own)."""

    def __init__(self, req: Request, loop: asyncio.AbstractEventLoop) -> None:
        self._chunks = req.body.stream()
        self._loop = loop
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return b""

    def readinto(self, b: Any) -> int:
        if not self._buf and not self._eof:
            self._buf = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
            self._eof = not self._buf
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def body_stream(req: Request) -> BinaryIO:
    """A buffered blocking reader of the body; call from the loop, read from a thread."""
    raw = BodyReader(req, asyncio.get_running_loop())
    return cast("BinaryIO", io.BufferedReader(raw, CHUNK))


# -- response streams -------------------------------------------------------------------

_END = object()


class _Cancelled(Exception):
    """The client went away: the writer stops."""


class _QueueWriter(io.RawIOBase):
    """A blocking writable stream whose bytes go, in CHUNK pieces, to an asyncio queue."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any], gone: threading.Event
    ) -> None:
        self._loop = loop
        self._queue = queue
        self._gone = gone
        self._buf = bytearray()

    def writable(self) -> bool:
        return True

    def put(self, item: Any) -> None:
        if self._gone.is_set():
            raise _Cancelled("the client closed the connection")
        asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop).result()

    def write(self, b: Any) -> int:
        self._buf += b
        if len(self._buf) >= CHUNK:
            self.put(bytes(self._buf))
            self._buf.clear()
        return len(b)

    def finish(self) -> None:
        if self._buf:
            self.put(bytes(self._buf))
            self._buf.clear()
        self.put(_END)


async def stream_from_thread(write: Callable[[BinaryIO], None]) -> AsyncIterator[bytes]:
    """Run ``write(out)`` in a thread; its bytes as an async iterator.

    Waits for the first chunk (or the end) before returning, so an error the
    writer raises before writing anything is raised here, as an HTTP error.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_CHUNKS)
    gone = threading.Event()
    out = _QueueWriter(loop, queue, gone)

    def work() -> None:
        try:
            write(cast("BinaryIO", out))
            out.finish()
        except _Cancelled:
            pass
        except BaseException as exc:  # handed to the loop, raised there
            with contextlib.suppress(_Cancelled, RuntimeError):
                out.put(exc)

    task = loop.run_in_executor(None, work)
    first = await queue.get()
    if isinstance(first, BaseException):
        await task
        raise first

    return _Chunks(first, queue, gone)


class _Chunks:
    """The response side of ``stream_from_thread``; closing it stops the writer."""

    def __init__(self, first: Any, queue: asyncio.Queue[Any], gone: threading.Event) -> None:
        self._next: Any = first
        self._queue = queue
        self._gone = gone

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        item = self._next
        if item is None:
            item = await self._queue.get()
        self._next = None
        if item is _END:
            await self.aclose()
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            await self.aclose()
            raise item  # mid-stream: the server cuts the connection
        return cast(bytes, item)

    async def aclose(self) -> None:
        self._gone.set()
        while not self._queue.empty():  # unblock a writer waiting for room
            self._queue.get_nowait()


__all__ = [
    "CHUNK",
    "BodyReader",
    "body_stream",
    "error_message",
    "in_thread",
    "in_use",
    "lines_of",
    "stream_from_thread",
    "users",
]
