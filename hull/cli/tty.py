"""The terminal side of ``run``/``start -a``/``attach``/``exec``: raw mode, resizes, streams.

    with raw_terminal(sys.stdin, enabled=tty):
        with forward_resizes(client, "/containers/ID/resize"):
            detached = pump(hijacked, tty=True, stdin=sys.stdin)

A TTY stream is raw bytes; otherwise it is Docker's multiplexed framing,
split to stdout and stderr (``write_frames``). The detach keys
(ctrl-p ctrl-q by default) are watched in what the user types and end the
session without stopping the container, as the docker CLI's escape proxy.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Iterable, Iterator

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q


class DetachKeys:
    """The escape proxy: feed typed bytes, get what to send and whether to detach."""

    def __init__(self, keys: bytes = DEFAULT_DETACH_KEYS) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = b""
        for b in data:
            ch = bytes([b])
            if not self.keys:
                out += ch
                continue
            if ch == self.keys[len(self._held) : len(self._held) + 1]:
                self._held += ch
                if self._held == self.keys:
                    self._held = b""
                    return out, True
                continue
            out += self._held + ch
            self._held = b""
        return out, False


def parse_detach_keys(spec: str) -> bytes:
    """``ctrl-p,ctrl-q`` → the bytes (``term.ToBytes``)."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    out = b""
    for key in spec.split(","):
        k = key.strip().lower()
        if k.startswith("ctrl-") and len(k) == 6:
            c = k[5]
            codes = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if "a" <= c <= "z":
                out += bytes([ord(c) - ord("a") + 1])
            elif c in codes:
                out += bytes([codes[c]])
            else:
                raise ValueError(f"Unknown character: '{key}'")
        elif len(key) == 1:
            out += key.encode()
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return out


@contextlib.contextmanager
def raw_terminal(stream: IO[Any], enabled: bool = True) -> Iterator[None]:
    """The terminal on ``stream`` in raw mode for the block (no-op if not a TTY)."""
    if not enabled or not stream.isatty():
        yield
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(stream: IO[Any] | None = None) -> tuple[int, int]:
    """(rows, columns) of the terminal (0, 0 if none)."""
    stream = stream or sys.stdout
    try:
        cols, rows = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return 0, 0
    return rows, cols


def resize(client: Any, path: str, stream: IO[Any] | None = None) -> None:
    """``POST {path}?h=&w=`` with the terminal's size; errors ignored as the docker CLI's."""
    rows, cols = terminal_size(stream)
    if rows and cols:
        with contextlib.suppress(Exception):
            client.post(path, params={"h": rows, "w": cols})


@contextlib.contextmanager
def forward_resizes(client: Any, path: str, enabled: bool = True) -> Iterator[None]:
    """Send the size now and on every SIGWINCH (main thread only)."""
    if not enabled or not sys.stdout.isatty():
        yield
        return
    resize(client, path)
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread
        previous = signal.signal(signal.SIGWINCH, lambda *_: resize(client, path))
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)


def write_bytes(stream: IO[Any], data: bytes) -> None:
    """Bytes to a text stream's buffer (or the stream itself if it takes bytes)."""
    stream.flush()
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        buf.write(data)
        buf.flush()
    else:
        stream.write(data.decode("utf-8", errors="replace"))
        stream.flush()


def write_frames(
    frames: Iterable[tuple[int, bytes]], out: IO[Any] | None = None, err: IO[Any] | None = None
) -> None:
    """Demultiplexed frames: stream 1 to ``out``, 2 and 3 to ``err`` (stdcopy.StdCopy)."""
    out = out or sys.stdout
    err = err or sys.stderr
    for stream, payload in frames:
        if stream == 1:
            write_bytes(out, payload)
        elif stream in (2, 3):
            write_bytes(err, payload)


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(stream, payload) frames of a multiplexed byte stream."""
    from hull.api.stdcopy import Demuxer

    d = Demuxer()
    for c in chunks:
        yield from d.feed(c)


def write_stream(chunks: Iterable[bytes], tty: bool) -> None:
    """A logs or attach body to stdout/stderr: raw for TTY containers, else demuxed."""
    if tty:
        for c in chunks:
            write_bytes(sys.stdout, c)
    else:
        write_frames(demux(chunks))


def _stdin_fd(stdin: IO[Any] | None) -> int | None:
    if stdin is None:
        return None
    try:
        return stdin.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def pump(
    conn: Any,
    *,
    tty: bool,
    stdin: IO[Any] | None = None,
    detach_keys: bytes = DEFAULT_DETACH_KEYS,
    out: IO[Any] | None = None,
    err: IO[Any] | None = None,
) -> bool:
    """Copy a hijacked connection to stdout/stderr and stdin to it; True if detached."""
    from hull.api.stdcopy import Demuxer

    out = out or sys.stdout
    err = err or sys.stderr
    demuxer = None if tty else Demuxer()
    proxy = DetachKeys(detach_keys) if tty else None
    fd = _stdin_fd(stdin)
    sock = conn.sock
    # bytes the client read past the upgrade response
    pending = conn.recv() if getattr(conn, "_buf", b"") else b""

    def emit(data: bytes) -> None:
        if demuxer is None:
            write_bytes(out, data)
        else:
            write_frames(demuxer.feed(data), out, err)

    if pending:
        emit(pending)
    while True:
        watch = [sock] + ([fd] if fd is not None else [])
        readable, _, _ = select.select(watch, [], [])
        if sock in readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return False
            emit(data)
        if fd is not None and fd in readable:
            data = os.read(fd, 32768)
            if not data:
                fd = None
                conn.close_write()
            else:
                if proxy is not None:
                    data, detached = proxy.feed(data)
                    if data:
                        conn.sendall(data)
                    if detached:
                        return True
                else:
                    conn.sendall(data)


__all__ = [
    "DEFAULT_DETACH_KEYS",
    "DetachKeys",
    "demux",
    "forward_resizes",
    "parse_detach_keys",
    "pump",
    "raw_terminal",
    "resize",
    "terminal_size",
    "write_bytes",
    "write_frames",
    "write_stream",
]
