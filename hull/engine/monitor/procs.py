"""What the monitor tracks: processes (containers and execs) and client connections.

Both use ``__slots__``: with a hundred containers the monitor's memory is
mostly these objects, their pipes and their log writers.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from typing import Any

from hull.engine.monitor.logs import JsonFileWriter, rfc3339nano
from hull.engine.monitor.protocol import RuntimeRef, Streams


class Conn:
    """One client connection; ``mode``: req, wait, events or attach."""

    __slots__ = ("closed", "closing", "fd", "inbuf", "mode", "outbuf", "proc", "sock", "streams")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.mode = "req"
        self.proc: Proc | None = None
        self.streams: Streams | None = None
        self.closing = False
        self.closed = False


class Proc:
    """A container's init or an exec process, from ``creating`` to ``exited``."""

    __slots__ = (
        "attachers",
        "cgroup_memory",
        "exec_id",
        "exit_code",
        "exit_file",
        "finished_at",
        "id",
        "log_path",
        "master",
        "oom_before",
        "oom_killed",
        "outs",
        "paused",
        "pid",
        "runtime",
        "spawned",
        "started_at",
        "state",
        "status",
        "stdin_buf",
        "stdin_eof",
        "stdin_fd",
        "stdin_once",
        "tty",
        "waiters",
        "writer",
    )

    def __init__(self, cid: str, exec_id: str | None, runtime: RuntimeRef, tty: bool) -> None:
        self.id = cid
        self.exec_id = exec_id
        self.runtime = runtime
        self.tty = tty
        self.state = "creating"
        self.pid = 0
        self.spawned = time.monotonic()
        self.status: int | None = None
        self.exit_code: int | None = None
        self.oom_killed = False
        self.oom_before = 0
        self.cgroup_memory: str | None = None
        self.exit_file: str | None = None
        self.started_at = 0
        self.finished_at = 0
        self.stdin_fd = -1
        self.stdin_buf = bytearray()
        self.stdin_eof = False
        self.stdin_once = False
        self.master = -1
        self.outs: dict[int, int] = {}  # fd -> stream (1 stdout, 2 stderr)
        self.paused = False
        self.writer: JsonFileWriter | None = None
        self.log_path: str | None = None
        self.attachers: list[Conn] = []
        self.waiters: list[Conn] = []

    @property
    def key(self) -> str:
        return f"e:{self.exec_id}" if self.exec_id is not None else f"c:{self.id}"

    def __str__(self) -> str:
        return f"exec {self.exec_id}" if self.exec_id is not None else f"container {self.id}"

    def exit_record(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "oom_killed": self.oom_killed,
            "pid": self.pid,
            "started_at": rfc3339nano(self.started_at) if self.started_at else None,
            "finished_at": rfc3339nano(self.finished_at) if self.finished_at else None,
        }

    def info(self) -> dict[str, Any]:
        """This process as ``list`` shows it."""
        d: dict[str, Any] = {"id": self.id}
        if self.exec_id is not None:
            d["exec_id"] = self.exec_id
        d.update(self.exit_record())
        d["running"] = self.state == "running" and self.status is None
        d["state"] = self.state
        d["tty"] = self.tty
        return d


def oom_count(cgroup_memory: str) -> int:
    """The ``oom_kill`` counter of a memory cgroup (v2 memory.events, v1 oom_control)."""
    for name in ("memory.events", "memory.oom_control"):
        try:
            with open(os.path.join(cgroup_memory, name), encoding="ascii") as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return 0


def write_exit_file(path: str, record: dict[str, Any]) -> None:
    """Write ``record`` as JSON atomically: temp file, fsync, rename, fsync the directory."""
    data = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


__all__ = ["Conn", "Proc", "oom_count", "write_exit_file"]
