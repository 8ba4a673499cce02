"""What the container, exec and volume routes share: the engine off the loop, streams, attach.

Not a route module (no ``ROUTES``). The engine blocks (SQLite, the monitor's
socket, the runtime), so every call runs in a worker thread: ``call`` for
short ones (the default pool), ``in_own_thread`` for ones that may block
for as long as a container runs (``wait``), so they never starve the pool.

Attach before start: ``docker run`` attaches to a created container, then
starts it, and must see its first byte of output. The monitor attaches a
client to a start request itself (``start_attached``), so the engine's
monitor client is an :class:`~hull.engine.monitor.attaching.AttachingMonitor`,
which turns the engine's next ``start`` of a container with a client waiting
into a start with that client attached and hands it the stream socket.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from hull.engine.monitor.attaching import AttachingMonitor
from hull.errors import InvalidArgument

from ..http import Request

if TYPE_CHECKING:
    from hull.engine.engine import Engine

T = TypeVar("T")
_END = object()


async def engine_of(req: Request) -> Engine:
    """The daemon's engine (opened on first use, in a worker thread)."""
    app = req.app
    if app.has_engine:
        eng: Engine = app.engine
        return eng
    return await asyncio.to_thread(lambda: app.engine)


async def call(req: Request, fn: Callable[[Engine], T]) -> T:
    """``fn(engine)`` in a worker thread."""
    eng = await engine_of(req)
    return await asyncio.to_thread(fn, eng)


async def in_own_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a thread of its own: for calls that block as long as a container runs."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(deliver, False, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, True, result)

    threading.Thread(target=work, name="hull-api-wait", daemon=True).start()
    return await fut


@dataclass
class _Err:
    exc: BaseException


async def iter_in_thread(it: Iterator[T], maxsize: int = 64) -> AsyncIterator[T]:
    """Items of a blocking iterator, produced by a thread of its own, with backpressure."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
    stop = threading.Event()

    def put(item: Any) -> bool:
        try:
            fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        except RuntimeError:  # the loop is closed
            return False
        while True:
            try:
                fut.result(0.5)
                return True
            except concurrent.futures.TimeoutError:
                if stop.is_set():
                    fut.cancel()
                    return False

    def work() -> None:
        try:
            for item in it:
                if stop.is_set() or not put(item):
                    return
            put(_END)
        except BaseException as exc:
            put(_Err(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    threading.Thread(target=work, name="hull-api-stream", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Err):
                raise item.exc
            yield item
    finally:
        stop.set()


# -- attach -----------------------------------------------------------------------------


def attaching_monitor(engine: Engine) -> AttachingMonitor:
    """The engine's monitor client, which attaches waiting clients to a start."""
    return engine.monitor


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
EXIT_GRACE = 1.0  # seconds the output may still take to end after the container exited
_drains: set[asyncio.Task[None]] = set()


def parse_detach_keys(spec: str) -> bytes:
    """Docker's ``--detach-keys`` (``ctrl-p,ctrl-q``, ``a``, ``ctrl-@``...) as bytes."""
    out = bytearray()
    for part in spec.split(","):
        part = part.strip()
        if len(part) == 1:
            out.append(ord(part))
        elif part.lower().startswith("ctrl-") and len(part) == 6:
            c = part[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise InvalidArgument(f"Unknown character: '{part}'")
        else:
            raise InvalidArgument(f"Unknown character: '{part}'")
    return bytes(out)


class _Escape:
    """Finds the detach sequence in stdin, holding a partial match back (moby's copyEscapable)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward, whether the sequence was completed)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[len(self.held)]:
                self.held += bytes([b])
                if len(self.held) == len(self.keys):
                    return bytes(out), True
                continue
            out += self.held
            self.held = b""
            if b == self.keys[0]:
                self.held = bytes([b])
            else:
                out.append(b)
        return bytes(out), False


async def _drain(
    r2: asyncio.StreamReader,
    w2: asyncio.StreamWriter,
    exited: Callable[[], Awaitable[object]] | None,
) -> None:
    """Read a detached client's stream to its end so the container keeps its stdin open."""

    async def read_all() -> None:
        with contextlib.suppress(Exception):
            while await r2.read(65536):
                pass

    reading = asyncio.ensure_future(read_all())
    waits: set[asyncio.Future[Any]] = {reading}
    if exited is not None:
        waits.add(asyncio.ensure_future(exited()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in waits:
            t.cancel()
        w2.close()


async def pump(
    sock: socket.socket,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    stdin: bool,
    tty: bool = False,
    detach_keys: bytes = b"",
    exited: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Bytes both ways between a client connection and a monitor stream, until output ends.

    Client bytes go to the container's stdin (dropped unless ``stdin``); the
    client's EOF half-closes the monitor stream (the container's stdin
    closes if it was started with ``StdinOnce``). The end of the output
    ends the exchange. The ``detach_keys`` sequence on stdin ends it too,
    leaving stdin open: the monitor stream is then read to its end in the
    background (the monitor closes a ``StdinOnce`` stdin when its client
    goes away, which a detach must not do). With a TTY the client's EOF is
    such a detach too: dockerd never closes a TTY's stdin for a leaving
    client, and the docker CLI detaches on ctrl-p ctrl-q by itself, closing
    its connection.

    ``exited`` (awaitable factory: the container stopped) bounds the wait for
    the end of the output to ``EXIT_GRACE`` seconds after the exit: the
    monitor closes only every other attached stream of a process when it
    exits while several are attached (it removes them from the list it is
    iterating), so a stream may never see its end otherwise.
    """
    sock.setblocking(False)
    r2, w2 = await asyncio.open_connection(sock=sock)
    escape = _Escape(detach_keys if stdin else b"")
    detached = asyncio.Event()

    async def upstream() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if not stdin:
                    continue
                data, done = escape.feed(data)
                if data:
                    w2.write(data)
                    await w2.drain()
                if done:
                    detached.set()
                    return
            if stdin and tty:
                detached.set()
            elif stdin and w2.can_write_eof():
                w2.write_eof()

    async def downstream() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await r2.read(65536):
                writer.write(data)
                await writer.drain()

    up = asyncio.ensure_future(upstream())
    down = asyncio.ensure_future(downstream())
    det = asyncio.ensure_future(detached.wait())
    ends: set[asyncio.Future[Any]] = {down, det}
    gone: asyncio.Future[Any] | None = None
    if exited is not None:
        gone = asyncio.ensure_future(exited())
        ends.add(gone)
    try:
        done, _ = await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        if gone is not None and gone in done and down not in done:
            await asyncio.wait({down, det}, timeout=EXIT_GRACE,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    finally:
        others = [] if gone is None else [gone]
        for t in (up, down, det, *others):
            t.cancel()
        for t in (up, down, det, *others):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if detached.is_set():
            task = asyncio.ensure_future(_drain(r2, w2, exited))
            _drains.add(task)
            task.add_done_callback(_drains.discard)
        else:
            w2.close()
            with contextlib.suppress(Exception):
                await w2.wait_closed()
    with contextlib.suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()
        await writer.drain()


def is_tty(config: dict[str, Any]) -> bool:
    return bool(config.get("Tty"))


__all__ = [
    "DEFAULT_DETACH_KEYS",
    "attaching_monitor",
    "call",
    "engine_of",
    "in_own_thread",
    "is_tty",
    "iter_in_thread",
    "parse_detach_keys",
    "pump",
]
