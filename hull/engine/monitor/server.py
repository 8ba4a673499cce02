"""The monitor's event loop: one process owning every container's stdio and exit.

Single-threaded over ``selectors`` (epoll). Everything is a callback on a file
descriptor or a timer; nothing blocks but the select itself:

* runtime helpers (``<runtime> create|start|exec|kill|delete``) are spawned
  with ``posix_spawn`` and tracked in ``helpers`` (pid -> callback); the reply
  to a ``start`` goes out when ``start`` has exited;
* as a child subreaper the monitor inherits each container's init (and each
  exec process) when the runtime exits; ``SIGCHLD`` arrives through
  ``signal.set_wakeup_fd`` and ``waitpid(-1, WNOHANG)`` reaps helpers,
  containers and stray orphans alike (an exit reaped before its pid file was
  read waits in ``unclaimed``);
* a process is finished (exit file, log closed, waiters answered, ``exit``
  event, runtime ``delete``) once it has been reaped *and* its pipes reached
  EOF, or ``DRAIN_GRACE`` seconds after the reap if something still holds them.

Container output goes to the json-file log and to attached clients; an exec's
output only to its attached clients (an exec nobody reads is paused, not
buffered). Lifecycle of a tracked process: ``creating -> running -> exited``.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from hull import errors
from hull.engine.monitor import inproc
from hull.engine.monitor import protocol as p
from hull.engine.monitor.logs import rfc3339nano
from hull.engine.monitor.procs import Conn, Proc, oom_count, write_exit_file

R, W = selectors.EVENT_READ, selectors.EVENT_WRITE
DRAIN_GRACE = 2.0  # seconds to wait for pipes after the process exited
HELPER_TIMEOUT = 120.0
ATTACH_BACKLOG = 8 << 20  # a container attacher further behind than this is dropped
EXEC_BACKLOG = 1 << 20  # an exec's output pauses while an attacher is this far behind
_SPAWN_SIGDEF = (
    signal.SIGPIPE,
    signal.SIGHUP,
    signal.SIGCHLD,
    signal.SIGTERM,
    signal.SIGXFSZ,
    signal.SIGINT,
)
Handler = Callable[[], None]


def log(msg: str) -> None:
    sys.stderr.write(f"{rfc3339nano(time.time_ns())} monitor[{os.getpid()}]: {msg}\n")
    sys.stderr.flush()


class Monitor:
    """The server; :meth:`serve` runs until SIGTERM finds nothing running."""

    def __init__(self, state_dir: Path, sock: socket.socket, *, force: bool = False) -> None:
        self.dir = state_dir
        self.tmp = state_dir / "tmp"
        self.tmp.mkdir(mode=0o700, exist_ok=True)
        self.force = force
        self.sel = selectors.DefaultSelector()
        self.handlers: dict[int, tuple[Handler | None, Handler | None]] = {}
        self.procs: dict[str, Proc] = {}  # "c:<id>" / "e:<exec id>"
        self.by_pid: dict[int, Proc] = {}
        self.helpers: dict[int, Callable[[int], None]] = {}
        self.unclaimed: dict[int, tuple[int, float]] = {}
        self.subscribers: list[Conn] = []
        self.deleting: dict[str, list[Handler]] = {}
        self.timers: list[tuple[float, int, Handler]] = []
        self._seq = 0
        self.stop = False
        self.listener = sock
        sock.setblocking(False)
        self.watch(sock.fileno(), self._accept)
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_w = wake_w
        self.watch(self.wake_r, self._signals)
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)

    # -- plumbing -----------------------------------------------------------

    def watch(self, fd: int, read: Handler | None = None, write: Handler | None = None) -> None:
        """Set (or with both None, drop) the handlers of ``fd``."""
        old = self.handlers.get(fd)
        ev = (R if read else 0) | (W if write else 0)
        if not ev:
            if old is not None:
                del self.handlers[fd]
                self.sel.unregister(fd)
            return
        self.handlers[fd] = (read, write)
        if old is None:
            self.sel.register(fd, ev)
        else:
            self.sel.modify(fd, ev)

    def want_write(self, fd: int, write: Handler | None) -> None:
        self.watch(fd, self.handlers.get(fd, (None, None))[0], write)

    def want_read(self, fd: int, read: Handler | None) -> None:
        self.watch(fd, read, self.handlers.get(fd, (None, None))[1])

    def close_fd(self, fd: int) -> None:
        if fd < 0:
            return
        if fd in self.handlers:
            self.watch(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def later(self, delay: float, cb: Handler) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self._seq, cb))

    def _install_signals(self) -> None:
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _s, _f: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)

    def serve(self) -> None:
        """Run the loop until asked to stop."""
        self._install_signals()
        self._reap()  # children that exited before the handler was in place
        while not self.stop:
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            for key, ev in self.sel.select(timeout):
                fd = int(key.fd)
                h = self.handlers.get(fd)
                if h is None:
                    continue
                try:
                    if ev & R and h[0] is not None:
                        h[0]()
                    h = self.handlers.get(fd)
                    if h is not None and ev & W and h[1] is not None:
                        h[1]()
                except Exception as exc:  # one bad client must not stop the rest
                    log(f"error handling fd {fd}: {exc!r}")
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                heapq.heappop(self.timers)[2]()
        self._shutdown()

    def _shutdown(self) -> None:
        for proc in self.procs.values():
            if proc.writer is not None:
                with contextlib.suppress(OSError):
                    proc.writer.close()
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.dir / "monitor.sock")

    def _signals(self) -> None:
        try:
            sigs = os.read(self.wake_r, 256)
        except BlockingIOError:
            return
        if signal.SIGCHLD in sigs:
            self._reap()
        if signal.SIGTERM in sigs or signal.SIGINT in sigs:
            running = [x for x in self.procs.values() if x.state != "exited"]
            if running and not self.force:
                log(f"SIGTERM: {len(running)} processes still run; not exiting (use --force)")
            else:
                log("SIGTERM: exiting")
                self.stop = True

    # -- children -----------------------------------------------------------

    def spawn(
        self, argv: list[str], stdio: tuple[int, int, int], on_exit: Callable[[int], None]
    ) -> int:
        """Start a runtime helper; ``on_exit(wait status)`` runs when it is reaped."""
        actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(stdio)]
        ours = inproc.is_hull_runtime(argv[0]) and inproc.current()
        done = inproc.inline_start(argv) if ours else None
        if done is not None:
            status, text = done
            if text:
                with contextlib.suppress(OSError):
                    os.write(stdio[2], text.encode())

            # as for a helper: the callback runs from the loop, after spawn returned
            def finish() -> None:
                try:
                    on_exit(status)
                except Exception as exc:
                    log(f"error after inline {argv[3:5]}: {exc!r}")

            self.later(0, finish)
            return 0
        try:
            if ours:
                pid = inproc.fork_runtime(argv, stdio, _SPAWN_SIGDEF)
            else:
                pid = os.posix_spawn(
                    argv[0],
                    argv,
                    os.environ,
                    file_actions=actions,
                    setsigdef=_SPAWN_SIGDEF,
                    setsigmask=(),
                )
        except FileNotFoundError:
            raise errors.ContainerExit(f"OCI runtime not found: {argv[0]}", 127) from None
        except PermissionError:
            raise errors.ContainerExit(f"OCI runtime not executable: {argv[0]}", 126) from None
        self.helpers[pid] = on_exit

        def overdue() -> None:
            if pid in self.helpers:
                log(f"helper {argv[3:5]} (pid {pid}) overdue: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

        self.later(HELPER_TIMEOUT, overdue)
        return pid

    def _reap(self) -> None:
        now = time.monotonic()
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            cb = self.helpers.pop(pid, None)
            if cb is not None:
                try:
                    cb(status)
                except Exception as exc:
                    log(f"error after helper {pid} exited: {exc!r}")
                continue
            proc = self.by_pid.pop(pid, None)
            if proc is not None:
                self._exited(proc, status)
            else:
                self.unclaimed[pid] = (status, now)
        for pid, (_, t) in list(self.unclaimed.items()):
            if now - t > 60:
                del self.unclaimed[pid]

    def claim(self, proc: Proc, pid: int) -> None:
        """Track ``pid`` as ``proc``'s process (it may already have been reaped)."""
        proc.pid = pid
        early = self.unclaimed.pop(pid, None)
        if early is not None and early[1] >= proc.spawned:
            self._exited(proc, early[0])
        else:
            self.by_pid[pid] = proc

    def _exited(self, proc: Proc, status: int) -> None:
        proc.status = status
        proc.finished_at = time.time_ns()
        self.by_pid.pop(proc.pid, None)
        if proc.state == "creating":
            # Exited before its start was confirmed: its output waits in the
            # pipes for the attachers that start registers, which calls us again.
            return
        for fd in list(proc.outs):
            self._pump(proc, fd)  # what is in the pipes now
        if proc.outs:
            self.later(DRAIN_GRACE, lambda: self._drain_timeout(proc))
        self.maybe_finish(proc)

    def _drain_timeout(self, proc: Proc) -> None:
        if proc.state == "exited" or not proc.outs:
            return
        log(f"{proc}: pipes still open {DRAIN_GRACE}s after exit: closing them")
        for fd in list(proc.outs):
            self._close_out(proc, fd)
        self.maybe_finish(proc)

    def maybe_finish(self, proc: Proc) -> None:
        """Record the exit once the process is reaped and its output drained."""
        if proc.status is None or proc.outs or proc.state != "running":
            return
        proc.state = "exited"
        proc.exit_code = os.waitstatus_to_exitcode(proc.status)
        if proc.exit_code < 0:
            proc.exit_code = 128 - proc.exit_code
        if proc.cgroup_memory and oom_count(proc.cgroup_memory) > proc.oom_before:
            proc.oom_killed = True
            self.emit("oom", proc)
        if proc.writer is not None:
            try:
                proc.writer.flush()  # every line readable before anyone hears of the exit
            except OSError as exc:
                log(f"{proc}: flushing log: {exc}")
        if proc.stdin_fd != proc.master:
            self.close_fd(proc.stdin_fd)
        proc.stdin_fd = -1
        self.close_fd(proc.master)
        proc.master = -1
        # With hulld listening, the event goes first and the fsyncs after:
        # hulld records the exit (a 'run --rm' waits for it) while the log and
        # the exit file reach the disk. With nobody listening, the exit file
        # is the only record: it is durable before anything else happens.
        early = bool(self.subscribers)
        if early:
            self.emit("exit", proc, exit_code=proc.exit_code, oom_killed=proc.oom_killed)
        if proc.writer is not None:
            try:
                proc.writer.close()
            except OSError as exc:
                log(f"{proc}: closing log: {exc}")
        if proc.exit_file:
            try:
                write_exit_file(proc.exit_file, proc.exit_record())
            except OSError as exc:
                log(f"{proc}: writing {proc.exit_file}: {exc}")
        if not early:
            self.emit("exit", proc, exit_code=proc.exit_code, oom_killed=proc.oom_killed)
        for conn in proc.waiters:
            self.reply(
                conn, {"ok": True, "exit_code": proc.exit_code, "oom_killed": proc.oom_killed}
            )
            conn.mode = "req"
            self.want_read(conn.fd, partial(self._conn_read, conn))
        proc.waiters.clear()
        for conn in list(proc.attachers):
            self.close_conn(conn, flush=True)
        proc.attachers.clear()
        if proc.exec_id is None:
            self.runtime_delete(proc)

    def runtime_delete(self, proc: Proc, then: Handler | None = None) -> None:
        """``<runtime> delete --force <id>``; later starts of the id wait for it."""
        assert proc.id is not None
        cid = proc.id
        queue = self.deleting.setdefault(cid, [])
        if then is not None:
            queue.append(then)

        def done(status: int) -> None:
            if status:
                log(f"{proc}: runtime delete exited {os.waitstatus_to_exitcode(status)}")
            for cb in self.deleting.pop(cid, []):
                cb()

        try:
            self.spawn(
                proc.runtime.argv("delete", "--force", cid),
                (self.devnull, self.devnull, self.devnull),
                done,
            )
        except errors.HullError:
            done(0)

    # -- output and input ---------------------------------------------------

    def _pump(self, proc: Proc, fd: int) -> None:
        """Read what one of ``proc``'s outputs has and hand it on."""
        stream = proc.outs.get(fd)
        if stream is None:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's last slave is closed
            data = b""
        if not data:
            self._close_out(proc, fd)
            self.maybe_finish(proc)
            return
        if proc.writer is not None:
            try:
                proc.writer.write("stderr" if stream == p.STDERR else "stdout", data)
            except OSError as exc:
                log(f"{proc}: log write failed: {exc}")
        for conn in list(proc.attachers):
            s = conn.streams
            if s is None or not (s.stderr if stream == p.STDERR else s.stdout):
                continue
            self.send(conn, data if proc.tty else p.frame(stream, data))
            if proc.exec_id is None and len(conn.outbuf) > ATTACH_BACKLOG:
                log(f"{proc}: attached client too slow: dropping it")
                self.close_conn(conn)
        if proc.exec_id is not None and any(len(c.outbuf) > EXEC_BACKLOG for c in proc.attachers):
            self._pause_outputs(proc, True)

    def _pause_outputs(self, proc: Proc, paused: bool) -> None:
        proc.paused = paused
        for fd in proc.outs:
            self.want_read(fd, None if paused else partial(self._pump, proc, fd))

    def _close_out(self, proc: Proc, fd: int) -> None:
        proc.outs.pop(fd, None)
        if fd == proc.master:
            self.want_read(fd, None)  # the master stays open for stdin and resize
        else:
            self.close_fd(fd)

    def start_outputs(self, proc: Proc) -> None:
        for fd in proc.outs:
            os.set_blocking(fd, False)
            self.want_read(fd, partial(self._pump, proc, fd))

    def write_stdin(self, proc: Proc, data: bytes) -> None:
        if proc.stdin_fd < 0:
            return
        proc.stdin_buf += data
        self._flush_stdin(proc)

    def _flush_stdin(self, proc: Proc) -> None:
        fd = proc.stdin_fd
        while proc.stdin_buf and fd >= 0:
            try:
                n = os.write(fd, proc.stdin_buf[:65536])
            except BlockingIOError:
                self.want_write(fd, lambda: self._flush_stdin(proc))
                return
            except OSError:  # the container closed its stdin
                proc.stdin_buf.clear()
                self.close_stdin(proc)
                return
            del proc.stdin_buf[:n]
        if fd >= 0:
            self.want_write(fd, None)
        if proc.stdin_eof and not proc.stdin_buf:
            self.close_stdin(proc)

    def close_stdin(self, proc: Proc) -> None:
        """The client's EOF: close a pipe; on a TTY send the EOF character."""
        if proc.stdin_buf:
            proc.stdin_eof = True  # after the rest is written
            return
        if proc.tty:
            if proc.master >= 0:
                with contextlib.suppress(OSError):
                    os.write(proc.master, b"\x04")
            return
        self.close_fd(proc.stdin_fd)
        proc.stdin_fd = -1

    # -- connections --------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            conn = Conn(sock)
            self.watch(conn.fd, partial(self._conn_read, conn))

    def _conn_read(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._conn_eof(conn)
            return
        if conn.mode == "attach":
            proc = conn.proc
            if proc is not None and conn.streams is not None and conn.streams.stdin:
                self.write_stdin(proc, data)
            return
        if conn.mode != "req":
            return  # nothing to say while waiting or subscribed
        conn.inbuf += data
        while conn.mode == "req" and not conn.closed:
            nl = conn.inbuf.find(b"\n")
            if nl < 0:
                if len(conn.inbuf) > p.MAX_LINE:
                    self.reply(conn, p.error_reply(errors.InvalidArgument("request too long")))
                    self.close_conn(conn, flush=True)
                return
            line = bytes(conn.inbuf[:nl])
            del conn.inbuf[: nl + 1]
            if line.strip():
                self._request(conn, line)

    def _conn_eof(self, conn: Conn) -> None:
        if conn.mode == "attach" and conn.proc is not None:
            proc = conn.proc
            self.want_read(conn.fd, None)
            if conn.streams is not None and conn.streams.stdin and proc.stdin_once:
                self.close_stdin(proc)
            if conn.streams is not None and not (conn.streams.stdout or conn.streams.stderr):
                self.close_conn(conn)
            return
        self.close_conn(conn)

    def send(self, conn: Conn, data: bytes) -> None:
        if conn.closed:
            return
        if not conn.outbuf:
            try:
                n = conn.sock.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                self.close_conn(conn)
                return
            data = data[n:]
            if not data:
                return
        conn.outbuf += data
        self.want_write(conn.fd, lambda: self._conn_write(conn))

    def _conn_write(self, conn: Conn) -> None:
        try:
            n = conn.sock.send(conn.outbuf[: 1 << 20])
        except BlockingIOError:
            return
        except OSError:
            self.close_conn(conn)
            return
        del conn.outbuf[:n]
        if conn.outbuf:
            return
        self.want_write(conn.fd, None)
        if conn.closing:
            self.close_conn(conn)
        proc = conn.proc
        if (
            proc is not None
            and proc.paused
            and proc.state == "running"
            and all(len(c.outbuf) <= EXEC_BACKLOG // 2 for c in proc.attachers)
        ):
            self._pause_outputs(proc, False)

    def reply(self, conn: Conn, obj: dict[str, Any]) -> None:
        self.send(conn, p.encode(obj))

    def close_conn(self, conn: Conn, *, flush: bool = False) -> None:
        if conn.closed:
            return
        if flush and conn.outbuf:
            conn.closing = True
            self.want_read(conn.fd, None)
            return
        conn.closed = True
        self.watch(conn.fd)
        with contextlib.suppress(OSError):
            conn.sock.close()
        proc = conn.proc
        if proc is not None:
            for lst in (proc.attachers, proc.waiters):
                if conn in lst:
                    lst.remove(conn)
            if proc.paused and proc.state == "running":
                self._pause_outputs(proc, False)
        if conn in self.subscribers:
            self.subscribers.remove(conn)

    def emit(self, kind: str, proc: Proc, **extra: Any) -> None:
        """Send one event to every subscriber."""
        ev: dict[str, Any] = {"type": kind, "id": proc.id}
        if proc.exec_id is not None:
            ev["exec_id"] = proc.exec_id
        ev.update(extra)
        ev["time"] = rfc3339nano(time.time_ns())
        line = json.dumps(ev, separators=(",", ":")).encode() + b"\n"
        for conn in list(self.subscribers):
            self.send(conn, line)

    # -- requests -----------------------------------------------------------

    def _request(self, conn: Conn, line: bytes) -> None:
        from hull.engine.monitor import ops

        try:
            req = p.parse_request(json.loads(line))
            ops.dispatch(self, conn, req)
        except errors.HullError as exc:
            self.reply(conn, p.error_reply(exc))
        except json.JSONDecodeError as exc:
            self.reply(conn, p.error_reply(errors.InvalidArgument(f"monitor: bad JSON: {exc}")))
        except Exception as exc:
            log(f"request failed: {exc!r}")
            self.reply(conn, p.error_reply(exc))


__all__ = ["Monitor", "log"]
