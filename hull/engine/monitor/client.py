"""What hulld uses to talk to the monitor: one blocking method per op.

Each call opens its own connection (the monitor is local and accepts in
microseconds), so a client object is safe to share between threads.
Failures raise :mod:`hull.errors` exceptions of the kind the monitor named;
a program that could not be run raises ``ContainerExit`` with 126/127.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hull import errors
from hull.engine.monitor import protocol as p

START_TIMEOUT = 5.0


class MonitorClient:
    """A client of the monitor whose state directory is ``state_dir``."""

    def __init__(self, state_dir: str | os.PathLike[str], timeout: float | None = 60.0) -> None:
        self.state_dir = Path(state_dir)
        self.socket_path = str(self.state_dir / "monitor.sock")
        self.timeout = timeout

    # -- plumbing -----------------------------------------------------------

    def _connect(self, timeout: float | None) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.socket_path)
        except OSError as exc:
            s.close()
            raise errors.Unavailable(
                f"container monitor is not running at {self.socket_path}: {exc.strerror}"
            ) from None
        return s

    def _open(
        self, req: dict[str, Any], timeout: float | None = -1.0
    ) -> tuple[socket.socket, dict[str, Any]]:
        """Send ``req``; the connection and the (successful) reply (timeout < 0: default)."""
        s = self._connect(self.timeout if timeout is not None and timeout < 0 else timeout)
        try:
            s.sendall(p.encode(req))
            reply = p.raise_for_reply(read_line(s))
        except BaseException:
            s.close()
            raise
        return s, reply

    def call(self, req: dict[str, Any], timeout: float | None = -1.0) -> dict[str, Any]:
        """One request, one reply."""
        s, reply = self._open(req, timeout)
        s.close()
        return reply

    # -- ops ----------------------------------------------------------------

    def ping(self) -> int:
        """The monitor's pid."""
        return int(self.call({"op": "ping"})["pid"])

    def start(
        self,
        id: str,
        bundle: str,
        *,
        runtime: str,
        runtime_root: str,
        runtime_args: list[str] | None = None,
        tty: bool = False,
        open_stdin: bool = False,
        stdin_once: bool = False,
        log: dict[str, Any] | None = None,
        exit_file: str | None = None,
        cgroup_memory: str | None = None,
    ) -> int:
        """Create and start a container; its init's pid."""
        return int(
            self.call(
                _drop_none(
                    {
                        "op": "start",
                        "id": id,
                        "bundle": bundle,
                        "runtime": runtime,
                        "runtime_root": runtime_root,
                        "runtime_args": runtime_args or [],
                        "tty": tty,
                        "open_stdin": open_stdin,
                        "stdin_once": stdin_once,
                        "log": log,
                        "exit_file": exit_file,
                        "cgroup_memory": cgroup_memory,
                    }
                )
            )["pid"]
        )

    def start_attached(
        self,
        id: str,
        bundle: str,
        *,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        **kw: Any,
    ) -> tuple[int, socket.socket]:
        """Start a container with a client already attached: (pid, raw stream socket)."""
        req = {
            "op": "start",
            "id": id,
            "bundle": bundle,
            "runtime_args": [],
            **kw,
            "attach": {"stdin": stdin, "stdout": stdout, "stderr": stderr},
        }
        s, reply = self._open(_drop_none(req))
        s.settimeout(None)
        return int(reply["pid"]), s

    def exec(
        self,
        id: str,
        exec_id: str,
        process: dict[str, Any],
        *,
        runtime: str,
        runtime_root: str,
        runtime_args: list[str] | None = None,
        tty: bool = False,
        open_stdin: bool = False,
        stdin_once: bool = True,
        exit_file: str | None = None,
        attach: dict[str, bool] | None = None,
    ) -> tuple[int, socket.socket | None]:
        """Run ``process`` (OCI process JSON) in container ``id``.

        With ``attach`` ({"stdin", "stdout", "stderr"}) the second value is
        the raw stream socket, attached before the process runs.
        """
        req = _drop_none(
            {
                "op": "exec",
                "id": id,
                "exec_id": exec_id,
                "process": process,
                "runtime": runtime,
                "runtime_root": runtime_root,
                "runtime_args": runtime_args or [],
                "tty": tty,
                "open_stdin": open_stdin,
                "stdin_once": stdin_once,
                "exit_file": exit_file,
                "attach": attach,
            }
        )
        s, reply = self._open(req)
        if attach is None:
            s.close()
            return int(reply["pid"]), None
        s.settimeout(None)
        return int(reply["pid"]), s

    def attach(
        self,
        id: str | None = None,
        *,
        exec_id: str | None = None,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        stream_logs: bool = False,
    ) -> socket.socket:
        """The raw stream of a container (or exec): multiplexed frames unless it has a TTY."""
        s, _ = self._open(
            _drop_none(
                {
                    "op": "attach",
                    "id": id,
                    "exec_id": exec_id,
                    "stdin": stdin,
                    "stdout": stdout,
                    "stderr": stderr,
                    "stream_logs": stream_logs,
                }
            )
        )
        s.settimeout(None)
        return s

    def resize(
        self, id: str | None = None, *, exec_id: str | None = None, height: int, width: int
    ) -> None:
        self.call(
            _drop_none(
                {"op": "resize", "id": id, "exec_id": exec_id, "height": height, "width": width}
            )
        )

    def kill(
        self,
        id: str | None = None,
        signal: int = 15,
        *,
        exec_id: str | None = None,
        all: bool = False,
    ) -> None:
        self.call(
            _drop_none({"op": "kill", "id": id, "exec_id": exec_id, "signal": signal, "all": all})
        )

    def list(self) -> list[dict[str, Any]]:
        """Every container and exec the monitor tracks."""
        procs = self.call({"op": "list"})["processes"]
        assert isinstance(procs, list)
        return procs

    def wait(
        self, id: str | None = None, *, exec_id: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Block until the process has exited: {"exit_code", "oom_killed"}."""
        try:
            reply = self.call(_drop_none({"op": "wait", "id": id, "exec_id": exec_id}), timeout)
        except TimeoutError:
            raise errors.Unavailable(f"timed out waiting for {id or exec_id}") from None
        return {"exit_code": reply["exit_code"], "oom_killed": reply["oom_killed"]}

    def events(self) -> Iterator[dict[str, Any]]:
        """Every event from now on (subscribed before this returns), until closed."""
        s, _ = self._open({"op": "events"})
        s.settimeout(None)
        return _event_lines(s)

    def forget(self, id: str) -> None:
        """Drop the state of an exited container (and its execs)."""
        self.call({"op": "forget", "id": id})


def _event_lines(s: socket.socket) -> Iterator[dict[str, Any]]:
    try:
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)
    finally:
        s.close()


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def read_line(s: socket.socket) -> dict[str, Any]:
    """One reply line, leaving whatever follows it (a raw stream) in the socket."""
    buf = b""
    while True:
        peek = s.recv(65536, socket.MSG_PEEK)
        if not peek:
            raise errors.Unavailable("the container monitor closed the connection")
        nl = peek.find(b"\n")
        if nl >= 0:
            buf += s.recv(nl + 1)
            break
        buf += s.recv(len(peek))
        if len(buf) > p.MAX_LINE:
            raise errors.Internal("monitor reply too long")
    obj = json.loads(buf)
    if not isinstance(obj, dict):
        raise errors.Internal("monitor reply is not an object")
    return obj


def ensure_monitor(state_dir: str | os.PathLike[str]) -> int:
    """The pid of the monitor of ``state_dir``, starting it (detached) if needed."""
    d = Path(state_dir)
    client = MonitorClient(d, timeout=START_TIMEOUT)
    with contextlib.suppress(errors.Unavailable):
        return client.ping()
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    logf = os.open(d / "monitor.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hull.engine.monitor", "--state-dir", str(d), "--detach"],
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=logf,
            start_new_session=True,
            timeout=START_TIMEOUT,
            check=False,
        )
    finally:
        os.close(logf)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            return client.ping()
        except errors.Unavailable:
            if time.monotonic() > deadline:
                raise errors.Unavailable(
                    f"container monitor did not start (exit {proc.returncode}); "
                    f"see {d / 'monitor.log'}"
                ) from None
            time.sleep(0.02)


__all__ = ["MonitorClient", "ensure_monitor", "read_line"]
