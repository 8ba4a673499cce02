"""The monitor's ops: one function per request kind, driving the runtime asynchronously.

``start`` and ``exec`` run as chains of runtime helpers whose exits are
callbacks (see :mod:`hull.engine.monitor.server`)::

    start:  create --bundle B --pid-file F [--console-socket S] ID
              ├─ fails -> delete --force ID -> error reply (126/127 kept)
              └─ ok    -> read F (claim the pid), take the pty master from S
                          -> start ID -> ok reply {"pid"} -> pump output
    exec:   exec --detach --pid-file F --process P [--console-socket S] ID
              -> ok reply {"pid"} -> pump output to attached clients
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import signal
import socket
import struct
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hull import errors
from hull.engine.monitor import protocol as p
from hull.engine.monitor.logs import JsonFileWriter, read_logs
from hull.engine.monitor.procs import Conn, Proc, oom_count

if TYPE_CHECKING:
    from hull.engine.monitor.server import Monitor


def dispatch(m: Monitor, conn: Conn, req: p.Request) -> None:
    """Run one request; errors raised here become the error reply."""
    if isinstance(req, p.StartRequest):
        start(m, conn, req)
    elif isinstance(req, p.ExecRequest):
        exec_(m, conn, req)
    elif isinstance(req, p.AttachRequest):
        proc = find(m, req.target)
        if proc.state == "exited" and not req.streams.stream_logs:
            raise errors.Conflict(f"cannot attach to {proc}: it is not running")
        m.reply(conn, {"ok": True, "tty": proc.tty})
        attach(m, conn, proc, req.streams)
    elif isinstance(req, p.ResizeRequest):
        resize(find(m, req.target), req.height, req.width)
        m.reply(conn, {"ok": True})
    elif isinstance(req, p.KillRequest):
        kill(m, conn, req)
    elif req.op == "list":
        m.reply(conn, {"ok": True, "processes": [x.info() for x in m.procs.values()]})
    elif req.op == "wait":
        proc = find(m, req.target)
        if proc.state == "exited":
            m.reply(conn, {"ok": True, "exit_code": proc.exit_code, "oom_killed": proc.oom_killed})
        else:
            conn.mode = "wait"
            conn.proc = proc
            proc.waiters.append(conn)
    elif req.op == "events":
        m.reply(conn, {"ok": True})
        conn.mode = "events"
        m.subscribers.append(conn)
    elif req.op == "forget":
        forget(m, req.target)
        m.reply(conn, {"ok": True})
    else:  # ping
        m.reply(conn, {"ok": True, "pid": os.getpid(), "processes": len(m.procs)})


def attach(m: Monitor, conn: Conn, proc: Proc, streams: p.Streams) -> None:
    """Turn ``conn`` into a raw stream of ``proc``'s stdio."""
    conn.mode = "attach"
    conn.proc = proc
    conn.streams = streams
    if streams.stream_logs and proc.log_path:
        for e in read_logs(proc.log_path):
            if streams.stderr if e.stream == "stderr" else streams.stdout:
                data = e.log.encode()
                stream = p.STDERR if e.stream == "stderr" else p.STDOUT
                m.send(conn, data if proc.tty else p.frame(stream, data))
    if proc.state == "exited":
        m.close_conn(conn, flush=True)
        return
    proc.attachers.append(conn)
    if inbuf := bytes(conn.inbuf):  # bytes sent right behind the request
        conn.inbuf.clear()
        if streams.stdin:
            m.write_stdin(proc, inbuf)


def resize(proc: Proc, height: int, width: int) -> None:
    if proc.master < 0:
        raise errors.Conflict(f"{proc} has no TTY")
    fcntl.ioctl(proc.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def make_log(proc: Proc, cfg: p.LogConfig) -> None:
    Path(cfg.path).parent.mkdir(parents=True, exist_ok=True)
    proc.writer = JsonFileWriter(cfg.path, cfg.max_size, cfg.max_file)
    proc.log_path = cfg.path


def find(m: Monitor, t: p.Target) -> Proc:
    if t.exec_id is not None:
        proc = m.procs.get(f"e:{t.exec_id}")
        if proc is None or (t.id is not None and proc.id != t.id):
            raise errors.NotFound(f"no such exec instance: {t.exec_id}")
        return proc
    proc = m.procs.get(f"c:{t.id}")
    if proc is None:
        raise errors.NotFound(f"no such container: {t.id}")
    return proc


def forget(m: Monitor, t: p.Target) -> None:
    proc = find(m, t)
    if proc.state != "exited":
        raise errors.Conflict(f"cannot forget {proc}: it is {proc.state}")
    if proc.exec_id is not None:
        del m.procs[proc.key]
        return
    for key, x in list(m.procs.items()):
        if x.id == proc.id and (x.state == "exited" or x.exec_id is None):
            del m.procs[key]


def kill(m: Monitor, conn: Conn, req: p.KillRequest) -> None:
    proc = find(m, req.target)
    if proc.state == "exited" or proc.status is not None or proc.pid <= 0:
        raise errors.Conflict(f"cannot kill {proc}: it is not running")
    if not req.all:
        # still our unreaped child: its pid cannot have been reused
        os.kill(proc.pid, req.signal)
        m.reply(conn, {"ok": True})
        return
    err_r, err_w = _pipe()

    def done(status: int) -> None:
        text = _drain(err_r)
        os.close(err_r)
        if status:
            m.reply(conn, p.error_reply(runtime_error("kill", status, text)))
        else:
            m.reply(conn, {"ok": True})

    try:
        m.spawn(
            proc.runtime.argv("kill", "--all", proc.id, str(req.signal)),
            (m.devnull, err_w, err_w),
            done,
        )
    finally:
        os.close(err_w)


def runtime_error(verb: str, status: int, text: str) -> errors.HullError:
    """The error a failed runtime helper stands for (126/127 kept as exit codes)."""
    code = os.waitstatus_to_exitcode(status)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    msg = lines[-1] if lines else f"exit status {code}"
    for prefix in ("hull-runtime: ", "runc: ", "crun: "):
        msg = msg.removeprefix(prefix)
    full = f"OCI runtime {verb} failed: {msg}"
    if code in (126, 127):
        return errors.ContainerExit(full, code)
    if "already exists" in msg:
        return errors.AlreadyExists(full)
    if "no such" in msg.lower() or "does not exist" in msg:
        return errors.NotFound(full)
    return errors.Internal(full)


def _pipe() -> tuple[int, int]:
    """A pipe whose read end (the monitor's) does not block."""
    r, w = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(r, False)
    return r, w


def _drain(fd: int) -> str:
    out = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            out += chunk
            if len(out) > 65536:
                break
    return out.decode(errors="replace")


class _Stdio:
    """The fds a new container or exec process gets, and the monitor's ends."""

    def __init__(self, m: Monitor, proc: Proc, tty: bool, open_stdin: bool) -> None:
        self.m = m
        self.child: list[int] = []  # closed once the helper runs
        self.err_r = -1  # where the helper's complaint is read
        self.console: socket.socket | None = None
        self.console_path = ""
        if tty:
            r, w = _pipe()
            self.err_r = r
            self.child = [w]
            self.fds = (m.devnull, w, w)
            m._seq += 1
            self.console_path = str(m.tmp / f"c{m._seq}.sock")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.console_path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.console_path)
            s.listen(1)
            s.setblocking(False)
            self.console = s
            return
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        proc.outs = {out_r: p.STDOUT, err_r: p.STDERR}
        self.err_r = err_r
        stdin = m.devnull
        self.child = [out_w, err_w]
        if open_stdin:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(in_w, False)
            proc.stdin_fd = in_w
            stdin = in_r
            self.child.append(in_r)
        self.fds = (stdin, out_w, err_w)

    def close_child(self) -> None:
        for fd in self.child:
            os.close(fd)
        self.child = []

    def complaint(self) -> str:
        return _drain(self.err_r)

    def take_master(self, proc: Proc, open_stdin: bool) -> None:
        """Accept the runtime's connection to the console socket and take the pty master."""
        assert self.console is not None
        conn, _ = self.console.accept()
        try:
            conn.settimeout(2)
            fds = array.array("i")
            _msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(16))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % 4])
        finally:
            conn.close()
        if not fds:
            raise errors.Internal("the runtime sent no terminal over the console socket")
        for extra in fds[1:]:
            os.close(extra)
        master = fds[0]
        os.set_inheritable(master, False)
        os.set_blocking(master, False)
        proc.master = master
        proc.outs = {master: p.STDOUT}
        if open_stdin:
            proc.stdin_fd = master

    def close(self, proc: Proc | None = None) -> None:
        """Everything, after a failure."""
        self.close_child()
        if self.console is not None:
            self.console.close()
            self.console = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.console_path)
        if proc is not None:
            for fd in {*proc.outs, proc.stdin_fd, proc.master} - {-1, self.err_r}:
                self.m.close_fd(fd)
            proc.outs = {}
            proc.stdin_fd = proc.master = -1
        if self.err_r >= 0:
            self.m.close_fd(self.err_r)
            self.err_r = -1

    def close_console(self) -> None:
        if self.console is not None:
            self.console.close()
            self.console = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.console_path)


def _guard(m: Monitor, conn: Conn, fn: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except errors.HullError as exc:
            m.reply(conn, p.error_reply(exc))

    return run


def _read_pid(path: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def start(m: Monitor, conn: Conn, req: p.StartRequest) -> None:
    """Create and start a container (see the module docstring)."""
    old = m.procs.get(f"c:{req.id}")
    if old is not None and old.state != "exited":
        raise errors.Conflict(f"container {req.id} is already {old.state}")
    if req.id in m.deleting:  # the previous run's runtime state is still being removed
        m.deleting[req.id].append(_guard(m, conn, lambda: start(m, conn, req)))
        return
    proc = Proc(req.id, None, req.runtime, req.tty)
    proc.stdin_once = req.stdin_once
    proc.exit_file = req.exit_file
    proc.cgroup_memory = req.cgroup_memory
    if req.log is not None:
        make_log(proc, req.log)
    io = _Stdio(m, proc, req.tty, req.open_stdin)
    m._seq += 1
    pid_file = str(m.tmp / f"{m._seq}.pid")
    argv = ["create", "--bundle", req.bundle, "--pid-file", pid_file]
    if io.console is not None:
        argv += ["--console-socket", io.console_path]

    def fail(exc: errors.HullError, delete: bool = True) -> None:
        if proc.pid > 0 and proc.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        io.close(proc)
        proc.state = "failed"
        if proc.writer is not None:
            proc.writer.close()
        if m.procs.get(proc.key) is proc:
            del m.procs[proc.key]
        reply = p.error_reply(exc)
        if delete:
            m.runtime_delete(proc, lambda: m.reply(conn, reply))
        else:
            m.reply(conn, reply)

    def created(status: int) -> None:
        if status:
            text = io.complaint()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pid_file)
            fail(runtime_error("create", status, text))
            return
        try:
            if io.console is not None:
                io.take_master(proc, req.open_stdin)
            m.claim(proc, _read_pid(pid_file))
        except (OSError, ValueError, errors.HullError) as exc:
            fail(errors.Internal(f"OCI runtime create: {exc}"))
            return
        finally:
            io.close_console()
        if proc.cgroup_memory:
            proc.oom_before = oom_count(proc.cgroup_memory)
        s_r, s_w = _pipe()

        def started(status: int) -> None:
            text = _drain(s_r)
            os.close(s_r)
            if status:
                fail(runtime_error("start", status, text))
                return
            if io.err_r in proc.outs:
                io.err_r = -1  # the container's stderr now
            io.close()
            proc.state = "running"
            proc.started_at = time.time_ns()
            m.reply(conn, {"ok": True, "pid": proc.pid})
            if req.attach is not None:
                attach(m, conn, proc, req.attach)
            m.emit("start", proc, pid=proc.pid)
            m.start_outputs(proc)
            if proc.status is not None:  # exited already
                m._exited(proc, proc.status)

        try:
            m.spawn(proc.runtime.argv("start", req.id), (m.devnull, s_w, s_w), started)
        except errors.HullError as exc:
            os.close(s_r)
            fail(exc)
        finally:
            os.close(s_w)

    try:
        m.spawn(proc.runtime.argv(*argv, req.id), io.fds, created)
    except errors.HullError:
        io.close(proc)
        if proc.writer is not None:
            proc.writer.close()
        raise
    finally:
        io.close_child()
    m.procs[proc.key] = proc


def exec_(m: Monitor, conn: Conn, req: p.ExecRequest) -> None:
    """Run a process in a running container; its output goes to attached clients only."""
    ctr = m.procs.get(f"c:{req.id}")
    if ctr is None:
        raise errors.NotFound(f"no such container: {req.id}")
    if ctr.state != "running" or ctr.status is not None:
        raise errors.Conflict(f"container {req.id} is not running")
    old = m.procs.get(f"e:{req.exec_id}")
    if old is not None and old.state != "exited":
        raise errors.Conflict(f"exec {req.exec_id} is already {old.state}")
    proc = Proc(req.id, req.exec_id, req.runtime, req.tty)
    proc.stdin_once = req.stdin_once
    proc.exit_file = req.exit_file
    process = dict(req.process)
    process["terminal"] = req.tty
    m._seq += 1
    base = str(m.tmp / f"{m._seq}")
    pid_file, process_file = base + ".pid", base + ".process.json"
    with open(process_file, "w", encoding="utf-8") as f:
        json.dump(process, f)
    io = _Stdio(m, proc, req.tty, req.open_stdin)
    argv = ["exec", "--detach", "--pid-file", pid_file, "--process", process_file]
    if io.console is not None:
        argv += ["--console-socket", io.console_path]

    def cleanup_files() -> None:
        for f in (pid_file, process_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f)

    def done(status: int) -> None:
        text = io.complaint() if status else ""
        try:
            if status:
                raise runtime_error("exec", status, text)
            if io.console is not None:
                io.take_master(proc, req.open_stdin)
            m.claim(proc, _read_pid(pid_file))
        except (OSError, ValueError, errors.HullError) as exc:
            cleanup_files()
            io.close(proc)
            proc.state = "failed"
            if m.procs.get(proc.key) is proc:
                del m.procs[proc.key]
            err = exc if isinstance(exc, errors.HullError) else errors.Internal(str(exc))
            m.reply(conn, p.error_reply(err))
            return
        cleanup_files()
        if io.err_r in proc.outs:
            io.err_r = -1
        io.close()
        proc.state = "running"
        proc.started_at = time.time_ns()
        m.reply(conn, {"ok": True, "pid": proc.pid})
        if req.attach is not None:
            attach(m, conn, proc, req.attach)
        m.emit("start", proc, pid=proc.pid)
        m.start_outputs(proc)
        if proc.status is not None:
            m._exited(proc, proc.status)

    try:
        m.spawn(proc.runtime.argv(*argv, req.id), io.fds, done)
    except errors.HullError:
        io.close(proc)
        cleanup_files()
        raise
    finally:
        io.close_child()
    m.procs[proc.key] = proc


__all__ = ["dispatch", "runtime_error"]
