"""The engine's monitor client, with attach before start.

``docker run`` attaches to a created container, then starts it, and must see
its first byte of output. The monitor attaches a client to a start request
itself (``start_attached``): a client registers with :meth:`expect`, and the
engine's next ``start`` of that container becomes a start with the first
waiting client attached (the others attach right after); each gets its
stream socket through its :class:`PendingAttach` future.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from hull.engine.monitor.client import MonitorClient
from hull.errors import HullError


@dataclass
class PendingAttach:
    """A client waiting for a container's next start."""

    stdin: bool
    stdout: bool
    stderr: bool
    future: concurrent.futures.Future[socket.socket] = field(
        default_factory=concurrent.futures.Future
    )


class AttachingMonitor(MonitorClient):
    """The engine's monitor client, attaching waiting clients to the start itself."""

    def __init__(self, state_dir: Any) -> None:
        super().__init__(state_dir)
        self._pending_lock = threading.Lock()
        self.pending: dict[str, list[PendingAttach]] = {}

    def expect(self, cid: str, stdin: bool, stdout: bool, stderr: bool) -> PendingAttach:
        """Register a client for the next start of ``cid``."""
        p = PendingAttach(stdin, stdout, stderr)
        with self._pending_lock:
            self.pending.setdefault(cid, []).append(p)
        return p

    def cancel(self, cid: str, p: PendingAttach) -> None:
        with self._pending_lock:
            lst = self.pending.get(cid, [])
            if p in lst:
                lst.remove(p)
            if not lst:
                self.pending.pop(cid, None)
        if p.future.done() and not p.future.cancelled() and p.future.exception() is None:
            with contextlib.suppress(OSError):
                p.future.result().close()
        p.future.cancel()

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
        with self._pending_lock:
            waiting = [p for p in self.pending.pop(id, []) if not p.future.done()]
        kw: dict[str, Any] = {
            "runtime": runtime, "runtime_root": runtime_root, "runtime_args": runtime_args or [],
            "tty": tty, "open_stdin": open_stdin, "stdin_once": stdin_once, "log": log,
            "exit_file": exit_file, "cgroup_memory": cgroup_memory,
        }  # fmt: skip
        if not waiting:
            return super().start(id, bundle, **kw)
        first = waiting[0]
        try:
            pid, sock = self.start_attached(
                id, bundle, stdin=first.stdin, stdout=first.stdout, stderr=first.stderr,
                **{k: v for k, v in kw.items() if v is not None},
            )  # fmt: skip
        except BaseException as exc:
            for p in waiting:
                if not p.future.done():
                    p.future.set_exception(exc)
            raise
        if not first.future.set_running_or_notify_cancel():
            sock.close()
        else:
            first.future.set_result(sock)
        for p in waiting[1:]:
            if not p.future.set_running_or_notify_cancel():
                continue
            try:
                p.future.set_result(self.attach(id, stdin=p.stdin, stdout=p.stdout,
                                                stderr=p.stderr))  # fmt: skip
            except HullError as exc:
                p.future.set_exception(exc)
        return pid


__all__ = ["AttachingMonitor", "PendingAttach"]
