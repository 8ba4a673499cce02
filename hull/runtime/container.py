"""The runtime's create and run verbs, on the parent side.

One process per verb, as runc: ``create`` clones the container's init into
its new namespaces (see :mod:`hull.runtime.init`), drives it through the
setup protocol of :mod:`hull.runtime.sync`, writes the state and returns,
leaving init blocked on the exec fifo; ``start`` (:mod:`hull.runtime.control`)
opens the fifo, which lets
init exec the user's program. ``run`` does both and waits.

How init is cloned into its namespaces is :mod:`hull.runtime.spawn`.
"""

from __future__ import annotations

from hull import linux
from hull.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hull.linux import fastos as os
from hull.runtime import spawn, sync
from hull.runtime import state as st
from hull.runtime.sync import InitError
from hull.runtime.trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.oci.runtime_spec import Process, Spec
    from hull.runtime.cgroups.base import CgroupManager


class CreateOptions:
    """The flags of create/run."""

    __slots__ = (
        "bundle",
        "console_socket",
        "detach",
        "id",
        "no_new_keyring",
        "no_pivot",
        "pid_file",
        "preserve_fds",
        "root",
    )

    def __init__(self, root: str, cid: str, bundle: str) -> None:
        self.root = root
        self.id = cid
        self.bundle = bundle
        self.console_socket = ""
        self.pid_file = ""
        self.no_pivot = False
        self.no_new_keyring = False
        self.preserve_fds = 0
        self.detach = False


def read_config(bundle: str) -> dict[str, Any]:
    """``<bundle>/config.json`` as JSON, not validated yet."""
    from hull.oci.fastjson import loads

    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if not os.path.isdir(bundle):
            raise NotFound(f"bundle {bundle} does not exist") from None
        raise NotFound(f"bundle {bundle} has no config.json") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = loads(data)
    except ValueError as exc:
        raise InvalidArgument(f"config.json is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidArgument("config.json: expected a JSON object")
    return raw


def _rmtree(path: str) -> None:
    try:
        entries = os.listdir(path)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    for e in entries:
        p = os.path.join(path, e)
        if os.path.isdir(p) and not os.path.islink(p):
            _rmtree(p)
        else:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _write_pid_file(path: str, pid: int) -> None:
    st.atomic_write(os.path.abspath(path), str(pid).encode(), 0o644, durable=False)


def _write_id_maps(pid: int, spec: Spec) -> None:
    lx = spec.linux
    if not lx.uid_mappings or not lx.gid_mappings:
        raise InvalidArgument(
            "config.json: linux.uidMappings and gidMappings are required with a new user namespace"
        )
    for name, maps in (("uid_map", lx.uid_mappings), ("gid_map", lx.gid_mappings)):
        text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
        try:
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            raise InvalidArgument(f"cannot write {name} {text.strip()!r}: {exc.strerror}") from None


def _oom_score_adj(pid: int, value: int) -> None:
    try:
        fd = os.open(f"/proc/{pid}/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise InvalidArgument(
            f"cannot set oomScoreAdj {value}: {exc.strerror} (lowering it needs CAP_SYS_RESOURCE)"
        ) from None


def _check_caps(proc: Process) -> None:
    """Refuse names that are no capability at all, before anything is created."""
    caps = proc.capabilities
    if caps is None:
        return
    from hull.linux.caps import CAPS

    for kind in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for name in getattr(caps, kind):
            if name.upper() not in CAPS:
                raise InvalidArgument(
                    f"config.json: process.capabilities.{kind}: unknown capability {name!r}"
                )


def _hook_state(cid: str, pid: int, status: str, bundle: str, spec: Spec) -> bytes:
    from hull.oci.fastjson import dumps

    s: dict[str, Any] = {
        "ociVersion": st.OCI_VERSION,
        "id": cid,
        "status": status,
        "pid": pid,
        "bundle": bundle,
    }
    if spec.annotations:
        s["annotations"] = spec.annotations
    return dumps(s).encode()


def _run_hooks(spec: Spec, kinds: tuple[str, ...], state: bytes) -> None:
    for kind in kinds:
        hooks = spec.hooks.get(kind)
        if hooks:
            from hull.runtime.hooks import run_hooks

            run_hooks(hooks, kind, state)


def _kill_wait(pid: int, start_time: int | None = None) -> None:
    """SIGKILL ``pid`` and wait until it is gone (reaped or a zombie)."""
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
        return
    except ChildProcessError:
        pass
    import time

    for _ in range(2000):
        if st.pid_start_time(pid) is None:
            return
        time.sleep(0.001)


def create(opts: CreateOptions, *, run: bool = False) -> int:
    """Create (and with ``run`` start and wait for) a container; returns the exit code."""
    mark("create: begin")
    st.check_id(opts.id)
    bundle = os.path.abspath(opts.bundle)
    raw = read_config(bundle)
    # The network namespace takes ~0.5 ms of kernel time to make (more while
    # the last one is being torn down): a thread makes it, and the IPC one,
    # from now until the clone.
    ahead = spawn.start_namespaces(raw)
    try:
        from hull.oci.runtime_spec import Spec

        spec = Spec(raw)
        proc = spec.process
        if proc is None:
            raise InvalidArgument("config.json: process is required to create a container")
        rootfs = (
            spec.root.path
            if os.path.isabs(spec.root.path)
            else os.path.join(bundle, spec.root.path)
        )
        rootfs = os.path.realpath(rootfs)
        if not os.path.isdir(rootfs):
            raise NotFound(f"rootfs {rootfs} does not exist or is not a directory")
        _check_caps(proc)
        if proc.terminal and not opts.console_socket and (opts.detach or not run):
            raise InvalidArgument("process.terminal is true: --console-socket is required")
        os.makedirs(opts.root, 0o711, exist_ok=True)
        sdir = os.path.join(opts.root, opts.id)
        try:
            os.mkdir(sdir, 0o711)
        except FileExistsError:
            raise AlreadyExists(f"container with id {opts.id} already exists") from None
    except BaseException:
        if ahead:
            spawn.drop_namespaces()
        raise
    cgm: CgroupManager | None = None
    pid = 0
    fds: list[int] = []
    rfd = wfd = -1
    # `run` without a terminal: init goes on to exec once set up
    # instead of waiting for START (one round trip less); a foreground
    # terminal needs START, so the pty's size is set before the program runs.
    auto_start = run and not (proc.terminal and not opts.console_socket)
    try:
        mark("create: spec parsed")
        from hull.runtime.cgroups import create_cgroup_manager, read_mountinfo

        res = spec.linux.resources
        mountinfo = read_mountinfo()
        cgm = create_cgroup_manager(
            spec.linux.cgroups_path,
            opts.id,
            hybrid_unified=bool(res.hugepage_limits or res.unified),
            mountinfo=mountinfo,
        )
        join = spawn.plan_join(spec, cgm)
        mark("create: cgroup planned")
        clone = spawn.Clone(opts, spec, bundle, rootfs, fds, run, auto_start, cgm, join, mountinfo)
        # The C init (see initplan) shares this process's memory (no
        # copy-on-write): it is cloned now and mounts on the other core
        # while the cgroup is made; the Python init, a fork, comes last.
        c_init = spawn.c_init_wanted(spec, opts)
        if c_init:
            collect, ahead = ahead, False  # collected by the clone
            pid, rfd, wfd, console_peer = clone.init(collect, True)
            hstate = _go_setup(opts, pid, wfd, bundle, spec)
        # What `delete` needs if this process is killed from here on: the
        # cgroup paths (pid 0 reads as stopped).
        st.State(
            opts.root,
            opts.id,
            {
                "id": opts.id,
                "pid": 0,
                "bundle": bundle,
                "rootfs": rootfs,
                "cgroupPaths": cgm.paths(),
            },
        ).save()
        # The cgroup is made and configured before a forked init is cloned:
        # after a fork, every page this process writes is a copy-on-write
        # fault (~3 µs here) that init pays too. Device rules and limits are
        # in place before init joins, so nothing of the container ever runs
        # without them.
        cgm.create()
        mark("create: cgroup made")
        _allow_default_devices(spec)
        cgm.apply(spec.linux.resources, limits=False)
        cgm.apply(spec.linux.resources, devices=False)
        mark("create: cgroup applied")
        if not c_init:
            # init's modules, imported here (not in the forked init, where
            # every import is copy-on-write faults) while the namespace
            # thread finishes
            from hull.runtime.init import preload

            preload(spec)
            collect, ahead = ahead, False
            pid, rfd, wfd, console_peer = clone.init(collect, False)
            userns = spec.linux.namespace("user")
            if userns is not None and not userns.path:
                _write_id_maps(pid, spec)
            hstate = _go_setup(opts, pid, wfd, bundle, spec)
        if join.self_join:
            # init joins its v1 hierarchies itself (see JoinPlan)
            from hull.runtime.cgroups import add_pid_to

            for d in join.parent_dirs:
                add_pid_to(d, pid)
        else:
            cgm.add_pid(pid)
        sync.send_or_report(wfd, rfd, sync.CGROUP_DONE)
        if proc.oom_score_adj is not None:
            _oom_score_adj(pid, proc.oom_score_adj)
        sync.send_or_report(wfd, rfd, sync.CONFIGURED)
        hooks = sync.parent_hooks(spec)
        if not sync.quiet_setup(spec, auto_start):
            sync.expect(rfd, sync.READY_SETUP)
        if hooks:
            sync.expect(rfd, sync.RUN_HOOKS)
            _run_hooks(spec, ("prestart", "createRuntime"), hstate)
            sync.send_or_report(wfd, rfd, sync.HOOKS_DONE)
        if not auto_start:
            sync.expect(rfd, sync.CREATED)
            mark("create: init created")
        state = _new_state(opts, pid, bundle, rootfs, spec, cgm)
        if not auto_start:
            state.save()
        if opts.pid_file and not auto_start:
            _write_pid_file(opts.pid_file, pid)
    except BaseException as exc:
        if isinstance(exc, BrokenPipeError) and rfd >= 0:
            # init died before reading our message: its own report says why
            exc = sync.child_error(rfd) or exc
        if ahead:
            spawn.drop_namespaces()
        if pid > 0:
            _kill_wait(pid)
            linux.init_release()
        if cgm is not None:
            try:
                cgm.destroy()
            except Exception:
                pass
        _rmtree(sdir)
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if isinstance(exc, InitError):
            from hull.errors import ContainerExit

            raise ContainerExit(str(exc), exc.exit_code) from None
        if isinstance(exc, sync.ProtocolError):
            raise FailedPrecondition(f"container init failed: {exc}") from None
        raise exc
    if not run:
        for fd in fds:
            os.close(fd)
        return 0
    return _start_and_wait(opts, state, spec, cgm, rfd, wfd, fds, console_peer, auto_start)


def _go_setup(opts: CreateOptions, pid: int, wfd: int, bundle: str, spec: Spec) -> bytes:
    """Send GO_SETUP (with the state hooks and a seccomp agent get); returns that state."""
    needs_state = bool(spec.hooks) or (
        spec.linux.seccomp is not None and bool(spec.linux.seccomp.listener_path)
    )
    hstate = _hook_state(opts.id, pid, st.CREATED, bundle, spec) if needs_state else b""
    sync.send(wfd, sync.GO_SETUP, hstate)
    return hstate


def _new_state(
    opts: CreateOptions, pid: int, bundle: str, rootfs: str, spec: Spec, cgm: CgroupManager
) -> st.State:
    """The state of a container whose init is ``pid`` (not saved yet)."""
    return st.State(
        opts.root,
        opts.id,
        {
            "id": opts.id,
            "pid": pid,
            "pidStartTime": st.pid_start_time(pid),
            "bundle": bundle,
            "rootfs": rootfs,
            "created": st.rfc3339_now(),
            "annotations": spec.annotations,
            "cgroupPaths": cgm.paths(),
            "config": spec.raw,
        },
    )


# What every container may use whatever the spec's device rules say, as
# runc's AllowedDevices: mknod of anything, the default nodes, ptys.
_DEFAULT_ALLOW = (
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", 1, 3, "rwm"),
    ("c", 1, 5, "rwm"),
    ("c", 1, 7, "rwm"),
    ("c", 1, 8, "rwm"),
    ("c", 1, 9, "rwm"),
    ("c", 5, 0, "rwm"),
    ("c", 5, 1, "rwm"),
    ("c", 5, 2, "rwm"),
    ("c", 136, None, "rwm"),
)


def _allow_default_devices(spec: Spec) -> None:
    from hull.oci.runtime_spec import DeviceRule, _Reader

    res = spec.linux.resources
    extra = [
        {"allow": True, "type": t, "major": ma, "minor": mi, "access": acc}
        for t, ma, mi, acc in _DEFAULT_ALLOW
    ]
    extra += [
        {
            "allow": True,
            "type": "c" if d.type == "u" else d.type,
            "major": d.major,
            "minor": d.minor,
            "access": "rwm",
        }
        for d in spec.linux.devices
        if d.type in ("c", "b", "u")
    ]
    res.devices = res.devices + [DeviceRule(_Reader(e, "default device")) for e in extra]


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


_FORWARD = (1, 2, 3, 10, 12, 15, 28)  # HUP INT QUIT USR1 USR2 TERM WINCH


def _forward_signals(pid: int) -> None:
    """Pass the signals a foreground runtime gets on to the container's process."""
    import _signal  # type: ignore[import-not-found,unused-ignore]  # not signal: ~6 ms

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for s in _FORWARD:
        _signal.signal(s, forward)


def _wait(pid: int) -> int:
    """Reap ``pid`` (a child, or adopted as subreaper) and return its exit code."""
    while True:
        try:
            wpid, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 0
        if wpid == pid:
            return _exit_status(status)


def _start_and_wait(
    opts: CreateOptions,
    state: st.State,
    spec: Spec,
    cgm: CgroupManager,
    rfd: int,
    wfd: int,
    fds: list[int],
    console_peer: int,
    auto_start: bool,
) -> int:
    pid = state.pid
    master = -1
    try:
        if console_peer >= 0:
            from hull.runtime.tty import recv_fd

            master = recv_fd(console_peer)
            if os.isatty(0):
                # before START, so the program sees the right size at once
                from hull.runtime.tty import copy_winsize

                copy_winsize(0, master)
        if not auto_start:
            sync.send_or_report(wfd, rfd, sync.START)
        msg = sync.recv(rfd)  # EOF: execve succeeded (the pipe is close-on-exec)
        mark("run: exec'd")
        linux.init_release()  # the C init left our memory
        if msg is not None:
            kind, payload = msg
            if kind == sync.ERROR:
                raise InitError.from_payload(payload)
            raise sync.ProtocolError(f"unexpected message {kind} after CREATED")
        if auto_start:
            # `run` writes the state once init has exec'd, while the program
            # starts, and not while init sets up: a process waking in
            # between lands on init's CPU (pipe wakeups are "sync") and
            # preempts it there.
            state.save()
            if opts.pid_file:
                _write_pid_file(opts.pid_file, pid)
    except BaseException as exc:
        _kill_wait(pid)
        linux.init_release()
        _cleanup(state, spec, cgm)
        if isinstance(exc, InitError):
            from hull.errors import ContainerExit

            raise ContainerExit(str(exc), exc.exit_code) from None
        raise
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
    if spec.hooks.get("poststart"):
        _run_hooks(
            spec,
            ("poststart",),
            _hook_state(opts.id, pid, st.RUNNING, state.data["bundle"], spec),
        )
    if opts.detach:
        return 0
    _forward_signals(pid)
    if master >= 0:
        from hull.runtime.tty import proxy

        try:
            proxy(master)
        finally:
            os.close(master)
    code = _wait(pid)
    mark("run: exited")
    pidns = spec.linux.namespace("pid")
    _cleanup(state, spec, cgm, reaped=pidns is not None and not pidns.path)
    mark("run: cleaned up")
    return code


def _cleanup(
    state: st.State, spec: Spec | None, cgm: CgroupManager | None, *, reaped: bool = False
) -> None:
    """Remove what a stopped container leaves: processes, cgroup, state; then poststop.

    ``reaped``: init, pid 1 of a pid namespace of its own, has been reaped, so
    the kernel has killed and reaped every other process of that namespace:
    no need to read the cgroup's process lists.
    """
    if cgm is not None:
        try:
            if not reaped:
                for p in cgm.pids():
                    try:
                        os.kill(p, 9)
                    except ProcessLookupError:
                        pass
            cgm.destroy()
        except OSError:
            pass
    _rmtree(state.dir)
    if spec is not None and spec.hooks.get("poststop"):
        _run_hooks(
            spec,
            ("poststop",),
            _hook_state(state.id, 0, st.STOPPED, state.data.get("bundle", ""), spec),
        )
