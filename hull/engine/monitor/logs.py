"""Container logs in Docker's json-file format: a rotating writer and a reader.

One JSON object per line, as Docker's ``json-file`` driver writes them::

    {"log":"hello\\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}

* A line longer than 16 KiB becomes several entries; every one but the last
  is *partial*: its ``log`` has no trailing ``\\n`` (Docker's copier buffer).
  Bytes left without a newline when the stream closes are written as they are.
* Each entry is one ``write()`` on an ``O_APPEND`` descriptor, so a reader
  (or a crash) never sees half an entry except a torn last line, which the
  reader skips. No fsync per line: on rotation and on close only.
* Rotation at ``max_size`` bytes keeps ``max_file`` files: ``container.log``
  is renamed ``container.log.1``, ``.1`` becomes ``.2`` ..., and the oldest
  beyond ``max_file - 1`` is dropped; ``max_file == 1`` truncates in place.

:func:`read_logs` reads the rotated files oldest first, with ``tail``,
``since``/``until`` and ``follow`` (until the container has exited).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MAX_ENTRY = 16 * 1024  # Docker's copier buffer: longer lines become partial entries
STREAMS = ("stdout", "stderr")


def rfc3339nano(ns: int) -> str:
    """UTC time with nine fractional digits, as Docker's jsonlog writes it."""
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (any fraction, Z or offset)."""
    t = text.strip()
    frac_ns = 0
    tz = "Z"
    if t.endswith(("Z", "z")):
        t = t[:-1]
    elif len(t) > 6 and t[-6] in "+-" and t[-3] == ":":
        t, tz = t[:-6], t[-6:]
    if "." in t:
        t, frac = t.split(".", 1)
        if not frac.isdigit():
            raise ValueError(f"invalid time {text!r}")
        frac_ns = int(frac[:9].ljust(9, "0"))
    base = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    sec = int(base.timestamp())
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        sec -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return sec * 1_000_000_000 + frac_ns


def _utf8_cut(data: bytes, limit: int) -> int:
    """A cut point <= limit that does not split a UTF-8 sequence (if avoidable)."""
    cut = limit
    for back in range(3):
        if cut - back <= 0:
            break
        if (data[cut - back] & 0xC0) != 0x80:  # not a continuation byte
            return cut - back
    return cut


class JsonFileWriter:
    """Appends a container's stdout/stderr to ``path`` in json-file format, rotating."""

    __slots__ = ("_fd", "_pending", "_size", "max_file", "max_size", "path")

    def __init__(self, path: str | os.PathLike[str], max_size: int = 0, max_file: int = 1) -> None:
        if max_size < 0 or max_file < 1:
            raise ValueError("max_size must be >= 0 and max_file >= 1")
        self.path = os.fspath(path)
        self.max_size = max_size
        self.max_file = max_file
        self._pending: dict[str, bytes] = {}
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, stream: str, data: bytes, now_ns: int | None = None) -> None:
        """Log ``data`` read from ``stream``; incomplete lines wait for more bytes."""
        if not data:
            return
        ns = time.time_ns() if now_ns is None else now_ns
        buf = self._pending.pop(stream, b"") + data
        start = 0
        n = len(buf)
        while start < n:
            nl = buf.find(b"\n", start, start + MAX_ENTRY + 1)
            if nl >= 0:
                self._entry(stream, buf[start : nl + 1], ns)
                start = nl + 1
            elif n - start > MAX_ENTRY:
                cut = start + _utf8_cut(buf[start:], MAX_ENTRY)
                self._entry(stream, buf[start:cut], ns)
                start = cut
            else:
                self._pending[stream] = buf[start:]
                break

    def _entry(self, stream: str, chunk: bytes, ns: int) -> None:
        line = (
            json.dumps(
                {
                    "log": chunk.decode("utf-8", "replace"),
                    "stream": stream,
                    "time": rfc3339nano(ns),
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
            + b"\n"
        )
        if self.max_size and self._size and self._size + len(line) > self.max_size:
            self._rotate()
        os.write(self._fd, line)
        self._size += len(line)

    def _rotate(self) -> None:
        os.fsync(self._fd)
        if self.max_file <= 1:
            os.ftruncate(self._fd, 0)
            self._size = 0
            return
        os.close(self._fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{self.path}.{self.max_file - 1}")
        for i in range(self.max_file - 2, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.rename(f"{self.path}.{i}", f"{self.path}.{i + 1}")
        os.rename(self.path, f"{self.path}.1")
        self._fd = self._open()
        self._size = 0
        _fsync_dir(os.path.dirname(self.path) or ".")

    def flush(self, now_ns: int | None = None) -> None:
        """Write lines still waiting for their newline (at the end of a stream)."""
        ns = time.time_ns() if now_ns is None else now_ns
        for stream in list(self._pending):
            data = self._pending.pop(stream)
            if data:
                self._entry(stream, data, ns)

    def close(self) -> None:
        """Flush pending bytes, fsync and close."""
        if self._fd < 0:
            return
        try:
            self.flush()
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One json-file entry; ``log`` keeps its ``\\n`` unless the entry is partial."""

    stream: str
    log: str
    time: str
    time_ns: int

    @property
    def partial(self) -> bool:
        return not self.log.endswith("\n")

    def data(self, timestamps: bool = False) -> bytes:
        """The bytes ``docker logs`` prints for this entry."""
        text = f"{self.time} {self.log}" if timestamps else self.log
        return text.encode()


def parse_entry(line: bytes) -> LogEntry | None:
    """An entry from one json-file line; None for a torn or foreign line."""
    try:
        obj = json.loads(line)
        log, stream, ts = obj["log"], obj.get("stream", "stdout"), obj["time"]
        if not isinstance(log, str) or not isinstance(ts, str):
            return None
        return LogEntry(stream=str(stream), log=log, time=ts, time_ns=parse_rfc3339(ts))
    except (ValueError, KeyError, TypeError):
        return None


def log_files(path: str | os.PathLike[str]) -> list[Path]:
    """The rotated files of ``path`` then ``path`` itself: oldest first."""
    p = Path(path)
    rotated: list[tuple[int, Path]] = []
    prefix = p.name + "."
    with contextlib.suppress(FileNotFoundError):
        for child in p.parent.iterdir():
            suffix = child.name[len(prefix) :]
            if child.name.startswith(prefix) and suffix.isdigit():
                rotated.append((int(suffix), child))
    rotated.sort(reverse=True)
    files = [f for _, f in rotated]
    if p.exists():
        files.append(p)
    return files


def _to_ns(t: float | datetime | None) -> int | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000
    return int(t * 1_000_000_000)


def read_logs(
    path: str | os.PathLike[str],
    *,
    since: float | datetime | None = None,
    until: float | datetime | None = None,
    tail: int | str | None = None,
    follow: bool = False,
    timestamps: bool = False,
    stopped: Callable[[], bool] | None = None,
    poll_interval: float = 0.1,
) -> Iterator[LogEntry]:
    """Entries of a container's log across its rotated files, oldest first.

    ``since``/``until`` are Unix seconds (float) or datetimes; ``tail`` the
    number of last entries (``"all"``/None: every one), taken before the time
    filter as Docker does; ``follow`` keeps reading new entries until
    ``stopped()`` says the container has exited (or forever without it).
    ``timestamps`` prefixes each entry's ``log`` with its time and a space.
    """
    since_ns, until_ns = _to_ns(since), _to_ns(until)
    n_tail: int | None = None
    if tail is not None and tail != "all":
        n_tail = int(tail)
        if n_tail < 0:
            n_tail = None

    def keep(e: LogEntry) -> bool:
        return (since_ns is None or e.time_ns >= since_ns) and (
            until_ns is None or e.time_ns <= until_ns
        )

    def out(e: LogEntry) -> LogEntry:
        if not timestamps:
            return e
        return LogEntry(e.stream, f"{e.time} {e.log}", e.time, e.time_ns)

    files = log_files(path)
    live_fd = -1
    live_pos = 0
    main = Path(path)
    history: Iterator[LogEntry]
    entries: list[LogEntry] = []
    for f in files:
        try:
            fd = os.open(f, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # rotated away while listing
        try:
            data = _read_all(fd)
        finally:
            if follow and f == main:
                live_fd, live_pos = fd, len(data)
            else:
                os.close(fd)
        # a torn last line (no newline yet) is left for the follower
        complete = data[: data.rfind(b"\n") + 1]
        if follow and f == main:
            live_pos = len(complete)
        for line in complete.splitlines():
            e = parse_entry(line)
            if e is not None:
                entries.append(e)
    if n_tail is not None:
        history = iter(deque(entries, maxlen=n_tail) if n_tail else ())
    else:
        history = iter(entries)
    try:
        for e in history:
            if until_ns is not None and e.time_ns > until_ns:
                return
            if keep(e):
                yield out(e)
        if not follow:
            return
        fd, live_fd = live_fd, -1  # _follow owns it now
        for e in _follow(main, fd, live_pos, stopped, poll_interval):
            if until_ns is not None and e.time_ns > until_ns:
                return
            if keep(e):
                yield out(e)
    finally:
        if live_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(live_fd)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _follow(
    path: Path,
    fd: int,
    pos: int,
    stopped: Callable[[], bool] | None,
    poll_interval: float,
) -> Iterator[LogEntry]:
    """New entries of the live file, across rotations, until ``stopped()``."""
    buf = b""
    if fd < 0:
        # no log yet: wait for the writer to make it
        while fd < 0:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                if stopped is not None and stopped():
                    return
                time.sleep(poll_interval)
    os.lseek(fd, pos, os.SEEK_SET)
    try:
        while True:
            done = stopped is not None and stopped()  # before reading: no lost tail
            data = os.read(fd, 1 << 20)
            if data:
                buf += data
                end = buf.rfind(b"\n") + 1
                for line in buf[:end].splitlines():
                    e = parse_entry(line)
                    if e is not None:
                        yield e
                buf = buf[end:]
                continue
            try:
                rotated = os.stat(path).st_ino != os.fstat(fd).st_ino
            except FileNotFoundError:
                rotated = False
            if rotated:
                # what the writer appended before renaming, then the new file
                rest = buf + _read_all(fd)
                for line in rest[: rest.rfind(b"\n") + 1].splitlines():
                    e = parse_entry(line)
                    if e is not None:
                        yield e
                os.close(fd)
                fd = -1
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                buf = b""
                continue
            if done:
                return
            time.sleep(poll_interval)
    finally:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


__all__ = [
    "MAX_ENTRY",
    "JsonFileWriter",
    "LogEntry",
    "log_files",
    "parse_entry",
    "parse_rfc3339",
    "read_logs",
    "rfc3339nano",
]
