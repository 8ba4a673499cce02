"""``exec``: another process in the namespaces and cgroup of a running container.

An intermediate child joins the container's namespaces (the user namespace
first), then forks, so that the process lands in the container's pid
namespace; the runtime adopts it as a child subreaper and waits for it.
"""

from __future__ import annotations

import os

from hull import linux
from hull.errors import Conflict, FailedPrecondition, InvalidArgument
from hull.runtime import state as st
from hull.runtime import sync
from hull.runtime.container import (
    _check_caps,
    _forward_signals,
    _hook_state,
    _wait,
)
from hull.runtime.control import _manager, _saved_spec
from hull.runtime.spawn import JOIN_ORDER, connect_console
from hull.runtime.sync import InitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Process, Spec


class ExecOptions:
    """The flags of exec."""

    __slots__ = ("console_socket", "detach", "pid_file", "preserve_fds", "process")

    def __init__(self, process: Process) -> None:
        self.process = process
        self.console_socket = ""
        self.pid_file = ""
        self.detach = False
        self.preserve_fds = 0


def exec_process(root: str, cid: str, opts: ExecOptions) -> int:
    """Run another process inside a running container; returns its exit code."""
    state = st.load(root, cid)
    state.require("exec")
    spec = _saved_spec(state)
    if spec is None:
        raise FailedPrecondition(f"state of container {cid} has no config")
    proc = opts.process
    _check_caps(proc)
    if proc.terminal and not opts.console_socket:
        raise InvalidArgument("exec --tty needs --console-socket")
    ipid = state.pid
    joins: list[tuple[int, int]] = []
    by_type = {ns.type: ns for ns in spec.linux.namespaces}
    userns = "user" in by_type
    try:
        for kind in JOIN_ORDER:
            if kind not in by_type:
                continue
            flag, name = linux.NAMESPACES[kind]
            joins.append((os.open(f"/proc/{ipid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag))
    except OSError as exc:
        for fd, _ in joins:
            os.close(fd)
        raise Conflict(f"cannot exec in container {cid}: {exc.strerror}") from None
    console_fd = connect_console(opts.console_socket) if opts.console_socket else -1
    from hull.runtime.seccomp_notify import close_quietly, connect_listener

    try:
        # from the host, before joining: see hull.runtime.seccomp_notify
        notify_sock = connect_listener(spec.linux.seccomp)
    except BaseException:
        close_quietly(console_fd)
        for fd, _ in joins:
            os.close(fd)
        raise
    cgm = _manager(state)
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    p_r, e_w = os.pipe()
    e_r, p_w = os.pipe()
    mid = os.fork()
    if mid == 0:
        _exec_child(
            joins,
            proc,
            spec,
            userns,
            e_r,
            e_w,
            p_r,
            p_w,
            console_fd,
            opts.preserve_fds,
            notify_sock,
        )
    os.close(e_r)
    os.close(e_w)
    for fd, _ in joins:
        os.close(fd)
    close_quietly(console_fd)
    close_quietly(notify_sock)
    try:
        payload = sync.expect(p_r, sync.READY_SETUP)
        pid = int(payload)
        os.waitpid(mid, 0)
        if cgm is not None:
            cgm.add_pid(pid)
        # the state the seccomp agent gets along with the listener, if any
        pstate = b""
        if notify_sock >= 0:
            pstate = _hook_state(cid, pid, st.RUNNING, state.data.get("bundle", ""), spec)
        sync.send(p_w, sync.GO_SETUP, pstate)
        msg = sync.recv(p_r)
        if msg is not None and msg[0] == sync.ERROR:
            raise InitError.from_payload(msg[1])
    except InitError as exc:
        from hull.errors import ContainerExit

        raise ContainerExit(str(exc), exc.exit_code) from None
    finally:
        os.close(p_r)
        os.close(p_w)
    if opts.pid_file:
        st.atomic_write(os.path.abspath(opts.pid_file), str(pid).encode(), 0o644, durable=False)
    if opts.detach:
        return 0
    _forward_signals(pid)
    return _wait(pid)


def _exec_child(
    joins: list[tuple[int, int]],
    proc: Process,
    spec: Spec,
    userns: bool,
    rfd: int,
    wfd: int,
    p_r: int,
    p_w: int,
    console_fd: int,
    preserve_fds: int,
    notify_sock: int = -1,
) -> None:
    """The intermediate of exec: join, fork into the pid namespace, become the process."""
    try:
        os.close(p_r)
        os.close(p_w)
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        from hull.runtime.init import preload

        preload(spec, proc)
        for fd, flag in joins:
            linux.setns(fd, flag)
        pid = os.fork()
        if pid:
            sync.send(wfd, sync.READY_SETUP, str(pid).encode())
            os._exit(0)
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        pstate = sync.expect(rfd, sync.GO_SETUP)
        from hull.runtime import process

        process.set_rlimits(proc)
        if proc.terminal:
            from hull.runtime.init import InitConfig, _setup_terminal

            cfg = InitConfig(spec, "", "")
            cfg.console_fd = console_fd
            _setup_terminal(cfg, -1)
        else:
            os.setsid()
        notify_state = None
        if notify_sock >= 0:
            from hull.oci.fastjson import loads

            notify_state = loads(pstate)
        process.finalize_and_exec(
            proc,
            spec.linux.seccomp,
            userns=userns,
            preserve_fds=preserve_fds,
            notify_sock=notify_sock,
            notify_state=notify_state,
            report_fd=wfd,
        )
    except InitError as exc:
        _fail(wfd, exc)
    except BaseException as exc:
        _fail(wfd, InitError(str(exc), 1))
    os._exit(1)


def _fail(wfd: int, exc: InitError) -> None:
    try:
        sync.send(wfd, sync.ERROR, exc.payload())
    except OSError:
        pass
    os._exit(exc.exit_code)
