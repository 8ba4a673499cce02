"""The container's init: runs in the child the runtime cloned into new namespaces.

It is a fork of the runtime, so it already holds the parsed spec in memory;
the pipes (see :mod:`hull.runtime.sync`) only carry what is decided after the
fork. It must never return into the parent's code: :func:`main` ends in
execve or ``os._exit``.
"""

from __future__ import annotations

from hull import linux
from hull.errors import HullError
from hull.linux import fastos as os
from hull.runtime import sync
from hull.runtime.initdefs import InitConfig
from hull.runtime.sync import InitError
from hull.runtime.trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Spec

__all__ = ["InitConfig", "main", "preload"]


def main(cfg: InitConfig) -> None:
    """Entry point in the cloned child. Never returns."""
    code = 1
    if cfg.console_peer >= 0:
        os.close(cfg.console_peer)
    try:
        _run(cfg)
    except InitError as exc:
        code = exc.exit_code
        _report(cfg, exc)
    except HullError as exc:
        _report(cfg, InitError(str(exc), 1))
    except OSError as exc:
        _report(cfg, InitError(_describe(exc), 1))
    except sync.ProtocolError:
        pass
    except BaseException as exc:  # the child must never unwind into the parent's code
        _report(cfg, InitError(f"{type(exc).__name__}: {exc}", 1))
    os._exit(code)


def _describe(exc: OSError) -> str:
    if exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return exc.strerror or str(exc)


def _report(cfg: InitConfig, exc: InitError) -> None:
    try:
        if cfg.wfd < 0:
            raise OSError("no parent")
        sync.send(cfg.wfd, sync.ERROR, exc.payload())
    except OSError:
        # the parent is gone (create returned): stderr is all we have
        try:
            os.write(2, f"hull-runtime: {exc}\n".encode())
        except OSError:
            pass


def _run(cfg: InitConfig) -> None:
    spec = cfg.spec
    proc = spec.process
    assert proc is not None
    # Nothing in the container may ptrace us or open /proc/<pid>/exe (the
    # host's interpreter) while we set up; execve resets this.
    linux.prctl(linux.PR_SET_DUMPABLE, 0)
    for fd, flag in cfg.ns_fds:
        linux.setns(fd, flag)
        os.close(fd)
    # before anything changes who we are or what we see: in a user namespace
    # hull's files may be unreadable, after pivot_root they are gone
    mark("init: in namespaces")
    preload(spec)
    if cfg.direct:
        # die with the runtime while it sets us up (an intermediate parent exits at once)
        linux.prctl(linux.PR_SET_PDEATHSIG, 9)
    userns = spec.linux.namespace("user") is not None
    netns = spec.linux.namespace("network") is not None
    cg = spec.linux.namespace("cgroup")
    if not sync.quiet_setup(spec, cfg.auto_start):
        sync.send(cfg.wfd, sync.READY_SETUP)
    hook_state = sync.expect(cfg.rfd, sync.GO_SETUP)
    mark("init: go")
    if userns:
        # become root of the new user namespace (0 is mapped by the parent)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    from hull.runtime import process, rootfs

    ctx = rootfs.MountContext(cfg.bundle, cfg.cgroup_paths, userns, netns, cg is not None)
    ctx.mountinfo = cfg.mountinfo
    joined = False

    def join_cgroup() -> None:
        """Once the parent made our cgroup: enter it, then a new cgroup ns rooted there."""
        nonlocal joined
        if joined:
            return
        joined = True
        sync.expect(cfg.rfd, sync.CGROUP_DONE)
        for path in cfg.tasks_files:
            # "0" is the writing thread: a single-threaded move, no threadgroup lock
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        if cg is not None and not cg.path:
            linux.unshare(linux.CLONE_NEWCGROUP)
        mark("init: in cgroup")

    ctx.before_cgroup = join_cgroup
    got_configured = False

    def configured() -> None:
        """Wait until the parent has written every limit (see sync.CONFIGURED)."""
        nonlocal got_configured
        if not got_configured:
            sync.expect(cfg.rfd, sync.CONFIGURED)
            got_configured = True

    if not cfg.no_new_keyring:
        try:
            linux.join_session_keyring(f"_ses.{os.path.basename(cfg.bundle)}"[:255])
        except OSError:
            pass  # keyrings are optional (e.g. disabled by seccomp of a parent)
    if spec.hostname:
        linux.sethostname(spec.hostname)
    if spec.domainname:
        linux.setdomainname(spec.domainname)
    process.set_rlimits(proc)
    old_umask = os.umask(0)
    mount_ns = spec.linux.namespace("mount") is not None
    # opened by the parent (a user namespace's root may not reach the state
    # dir); reopened through /proc/self/fd after pivot_root
    fifo_fd = cfg.fifo_fd
    mark("init: mounting")
    if mount_ns:
        rootfs.setup(spec, cfg.rootfs, ctx)
        cwd = rootfs.secure_join(cfg.rootfs, proc.cwd)
        if not os.path.isdir(cwd):
            os.makedirs(cwd, 0o755, exist_ok=True)
        console = _setup_console_mount(cfg)
        join_cgroup()
        mark("init: mounted")
        if sync.parent_hooks(spec):
            sync.send(cfg.wfd, sync.RUN_HOOKS)
            configured()
            sync.expect(cfg.rfd, sync.HOOKS_DONE)
        _run_hooks_here(spec, "createContainer", hook_state)
        if cfg.no_pivot:
            rootfs.chroot_root(cfg.rootfs)
        else:
            rootfs.pivot_root(cfg.rootfs)
        _apply_sysctl(spec.linux.sysctl)
        mark("init: pivoted")
        rootfs.finish(spec)
        mark("init: masked")
    else:
        rootfs.setup(spec, cfg.rootfs, ctx, mount_ns=False)
        console = -1
        join_cgroup()
        if sync.parent_hooks(spec):
            sync.send(cfg.wfd, sync.RUN_HOOKS)
            configured()
            sync.expect(cfg.rfd, sync.HOOKS_DONE)
        _run_hooks_here(spec, "createContainer", hook_state)
        os.chroot(cfg.rootfs)
        os.chdir("/")
        _apply_sysctl(spec.linux.sysctl)
        for p in spec.linux.masked_paths:
            rootfs.mask_path(p)
        for p in spec.linux.readonly_paths:
            rootfs.readonly_path(p)
    os.umask(old_umask)
    if proc.terminal:
        _setup_terminal(cfg, console)
    # fail at create, not at start, for a program that cannot run
    env = proc.env
    path = process.lookup(proc.args[0], env)
    process.check_executable(path, proc.args[0])
    if not proc.terminal:
        os.setsid()
    configured()
    # `create` returns after CREATED: init must outlive it
    linux.prctl(linux.PR_SET_PDEATHSIG, 0)
    mark("init: created")
    if not cfg.auto_start:
        # `run` (auto_start) needs no CREATED: its parent wrote the state
        # while we set up, and waits for our exec or our error; a message
        # would only wake it (onto our CPU, often) while we finish
        sync.send(cfg.wfd, sync.CREATED)
    if fifo_fd >= 0:
        # `create` returns now: errors from here on go to the container's stderr
        os.close(cfg.wfd)
        cfg.wfd = -1
        if userns:
            # /proc/self/fd of a non-dumpable process belongs to the host's
            # root, which a user namespace's root is not
            linux.prctl(linux.PR_SET_DUMPABLE, 1)
        # blocks until `start` opens the fifo for reading
        wfd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(wfd, b"0")
        os.close(wfd)
        os.close(fifo_fd)
    elif not cfg.auto_start:
        sync.expect(cfg.rfd, sync.START)
    # With no wait and no hook since the check, the program found above is
    # still the one to run; otherwise it is looked up and checked again.
    checked = path if cfg.auto_start and not spec.hooks.get("startContainer") else ""
    _run_hooks_here(spec, "startContainer", hook_state)
    mark("init: exec")
    notify_state = None
    if cfg.notify_sock >= 0:
        from hull.oci.fastjson import loads

        notify_state = loads(hook_state)
    process.finalize_and_exec(
        proc,
        spec.linux.seccomp,
        userns=userns,
        preserve_fds=cfg.preserve_fds,
        checked=checked,
        notify_sock=cfg.notify_sock,
        notify_state=notify_state,
        report_fd=cfg.wfd,
    )


def preload(spec: Spec, proc: object = None) -> None:
    """Import now what runs after the switch of root, where hull's files are gone."""
    import hull.linux.caps
    from hull.runtime import process, rootfs  # noqa: F401

    if spec.linux.devices or any(m.destination.rstrip("/") == "/dev" for m in spec.mounts):
        import hull.runtime.devnodes

    p = proc or spec.process
    if spec.linux.seccomp is not None:
        import hull.runtime.seccomp
        from hull.runtime import seccomp_notify

        if seccomp_notify.wants_listener(spec.linux.seccomp):
            import _socket

            import hull.oci.fastjson
    if spec.hooks.get("startContainer"):
        import subprocess  # noqa: F401

        import hull.runtime.hooks
    if getattr(p, "terminal", False):
        import _socket  # noqa: F401
        import fcntl  # noqa: F401
        import termios  # noqa: F401
    if spec.linux.namespace("user") is not None:
        import hull.oci.fastjson  # noqa: F401


def _apply_sysctl(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        if "/" in key or ".." in key.split("."):
            raise InitError(f"invalid sysctl {key!r}", 1)
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise InitError(f"sysctl {key}: {exc.strerror}", 1) from None
        try:
            os.write(fd, value.encode())
        except OSError as exc:
            raise InitError(f"sysctl {key}={value}: {exc.strerror}", 1) from None
        finally:
            os.close(fd)


def _run_hooks_here(spec: Spec, kind: str, state: bytes) -> None:
    hooks = spec.hooks.get(kind)
    if not hooks:
        return
    from hull.runtime.hooks import run_hooks

    run_hooks(hooks, kind, state)


def _setup_console_mount(cfg: InitConfig) -> int:
    """Nothing to do before pivot_root: the pty is made in the container's devpts."""
    return -1


_TIOCSPTLCK = 0x40045431  # unlockpt(3)
_TIOCGPTN = 0x80045430  # ptsname(3)


def _setup_terminal(cfg: InitConfig, _unused: int) -> None:
    """Open a pty in the container's devpts, hand the master over, make the slave our tty."""
    import fcntl
    import termios

    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    # unlockpt + ptsname through ioctls: the os module has no wrappers
    fcntl.ioctl(master, _TIOCSPTLCK, b"\0\0\0\0")
    n = int.from_bytes(fcntl.ioctl(master, _TIOCGPTN, b"\0\0\0\0"), "little")
    name = f"/dev/pts/{n}"
    slave = os.open(name, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    proc = cfg.spec.process
    if proc is not None and proc.console_size is not None:
        ws = (
            proc.console_size.height.to_bytes(2, "little")
            + proc.console_size.width.to_bytes(2, "little")
            + b"\0\0\0\0"
        )
        fcntl.ioctl(slave, termios.TIOCSWINSZ, ws)
    # /dev/console shows the same terminal
    if os.path.exists("/dev/console") or os.path.isdir("/dev"):
        try:
            if not os.path.exists("/dev/console"):
                os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            linux.mount(name, "/dev/console", None, linux.MS_BIND, None)
        except OSError:
            pass
    if cfg.console_fd >= 0:
        import _socket

        sock = _socket.socket(fileno=cfg.console_fd)
        try:
            sock.sendmsg(
                [name.encode()],
                [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, master.to_bytes(4, "little"))],
            )
        finally:
            sock.close()
        cfg.console_fd = -1
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
