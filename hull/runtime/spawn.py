"""How the runtime clones the container's init into its namespaces.

``spawn_init`` makes the sync pipes, then clones init with CLONE_NEWPID and
the other new namespaces in one step (init is pid 1 of its pid namespace;
unshare cannot give the caller that). Joining existing namespaces by path
needs setns(2) *before* that clone: an intermediate child joins and clones,
and the runtime, a child subreaper, adopts init when it exits. The network
and IPC namespaces are made ahead on a thread (``start_namespaces``), which
init joins. ``JoinPlan`` is how init enters its cgroup.

Init is either the Python one (:mod:`hull.runtime.init`, in a fork of the
runtime) or, for the configs :func:`c_init_wanted` accepts, the C one
(``hull/linux/initexec.c``, in a ``CLONE_VM`` child running a plan of
:mod:`hull.runtime.initplan`). The C init shares the runtime's memory, so
it is cloned early (``Clone``) and sets up while the runtime makes the
cgroup; the forked one is cloned once the cgroup is ready, as every page
the runtime writes after a fork is a copy-on-write fault for both.
"""

from __future__ import annotations

from hull import linux
from hull.errors import FailedPrecondition, InvalidArgument
from hull.linux import fastos as os
from hull.runtime import state as st
from hull.runtime import sync
from hull.runtime.sync import InitError
from hull.runtime.trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.oci.runtime_spec import Spec
    from hull.runtime.cgroups.base import CgroupManager
    from hull.runtime.container import CreateOptions
    from hull.runtime.initdefs import InitConfig
    from hull.runtime.initplan import Plan

# setns order: the user namespace first, as it grants the rights to join the
# others it owns; mount late, since it changes the root we open paths from
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


def start_namespaces(raw: dict[str, Any]) -> bool:
    """Start making init's new network and IPC namespaces on a thread; True if started.

    Read from the config as JSON, before it is validated (an invalid one
    drops them). Only for a container that joins no namespace and has no
    user namespace: namespaces made in a new user namespace must be owned by
    it.
    """
    lx = raw.get("linux")
    nss = lx.get("namespaces") if isinstance(lx, dict) else None
    if not isinstance(nss, list):
        return False
    flags = 0
    for ns in nss:
        if not isinstance(ns, dict) or ns.get("path") or ns.get("type") == "user":
            return False
        kind = ns.get("type")
        if kind == "network":
            flags |= linux.CLONE_NEWNET
        elif kind == "ipc":
            flags |= linux.CLONE_NEWIPC
    if not flags:
        return False
    linux.unshare_async(flags)
    return True


def c_init_wanted(spec: Spec, opts: CreateOptions) -> bool:
    """Whether init runs in C for this config (see :mod:`hull.runtime.initplan`).

    Only a direct clone (no namespace joined by path), no user or time
    namespace, a new mount namespace, no hooks that run inside the setup
    (poststart and poststop run in the runtime), no terminal, no seccomp
    agent, pivot_root, and a recursive rootfsPropagation (a non-recursive
    one makes init read its mount table).
    """
    if os.getenv("HULL_RUNTIME_INIT") == "python":
        return False
    proc = spec.process
    if proc is None or proc.terminal or opts.console_socket or opts.no_pivot:
        return False
    lx = spec.linux
    mount_ns = False
    for ns in lx.namespaces:
        if ns.path or ns.type in ("user", "time"):
            return False
        mount_ns = mount_ns or ns.type == "mount"
    if not mount_ns or lx.rootfs_propagation in ("private", "slave"):
        return False
    for kind in ("prestart", "createRuntime", "createContainer", "startContainer"):
        if spec.hooks.get(kind):
            return False
    if lx.seccomp is not None and lx.seccomp.listener_path:
        return False
    if not proc.args or not proc.args[0]:
        return False
    return linux.init_probe()


def drop_namespaces() -> None:
    """Wait for the namespace thread and close what it made (the start failed)."""
    try:
        fds = linux.unshare_collect()
    except OSError:
        return
    for fd in fds:
        if fd >= 0:
            os.close(fd)


class JoinPlan:
    """How init enters its cgroup.

    Moving a process through ``cgroup.procs`` takes the kernel's threadgroup
    lock, whose first writer waits for an RCU grace period (up to ~20 ms
    here, most of a start). A single-threaded process writing ``0`` to a v1
    hierarchy's ``tasks`` moves only its own thread and skips that lock. So
    init joins its v1 hierarchies itself, before it forks or execs anything;
    the parent moves it only where that is impossible: the unified tree (and
    only when the spec needs it on a hybrid host), a pure v2 host, or from
    inside a user namespace, where init is not allowed to write host files.
    """

    __slots__ = ("parent_dirs", "self_join", "tasks_files")

    def __init__(self) -> None:
        self.self_join = False
        self.tasks_files: list[str] = []
        self.parent_dirs: list[str] = []


def plan_join(spec: Spec, cgm: CgroupManager) -> JoinPlan:
    plan = JoinPlan()
    paths = cgm.paths()
    if spec.linux.namespace("user") is not None or list(paths) == [""]:
        return plan
    plan.self_join = True
    seen = set()
    for key, d in paths.items():
        if key == "":
            res = spec.linux.resources
            if res.hugepage_limits or res.unified:
                plan.parent_dirs.append(d)
            continue
        if d not in seen:
            seen.add(d)
            plan.tasks_files.append(d + "/tasks")
    return plan


def init_config(
    opts: CreateOptions,
    spec: Spec,
    bundle: str,
    rootfs: str,
    auto_start: bool,
    cgm: CgroupManager,
    join: JoinPlan,
    mountinfo: str,
) -> InitConfig:
    """What init needs to know, before its descriptors exist."""
    from hull.runtime.initdefs import InitConfig

    cfg = InitConfig(spec, bundle, rootfs)
    cfg.no_pivot = opts.no_pivot
    cfg.no_new_keyring = opts.no_new_keyring
    cfg.preserve_fds = opts.preserve_fds
    cfg.auto_start = auto_start
    cfg.cgroup_paths = cgm.paths()
    cfg.tasks_files = join.tasks_files
    cfg.mountinfo = mountinfo
    return cfg


def spawn_init(
    cfg: InitConfig,
    opts: CreateOptions,
    fds: list[int],
    *,
    fifo: bool,
    ns_fds: list[tuple[int, int]],
    plan: Plan | None = None,
) -> tuple[int, int, int, int]:
    """Clone the container's init (the C one if there is a ``plan``, see initplan).

    Returns its pid, the parent's read and write fds of the sync pipes, and
    the parent's end of a foreground terminal's socketpair (or -1).
    """
    spec = cfg.spec
    # (the caller preloaded what the Python init imports: see container.create)
    if fifo:
        fifo_path = os.path.join(opts.root, opts.id, st.FIFO)
        os.mkfifo(fifo_path, 0o622)
        # not masked by the umask: a user namespace's root writes it as "other"
        os.chmod(fifo_path, 0o622)
        cfg.fifo_fd = os.open(fifo_path, os.O_PATH | os.O_CLOEXEC)
        fds.append(cfg.fifo_fd)
    if opts.console_socket:
        cfg.console_fd = connect_console(opts.console_socket)
        fds.append(cfg.console_fd)
    elif spec.process is not None and spec.process.terminal:
        # foreground run: init sends the pty master to us
        from hull.runtime.tty import socketpair

        mine, theirs = socketpair()
        cfg.console_fd = theirs
        cfg.console_peer = mine
        fds.extend((theirs, mine))
    if spec.linux.seccomp is not None and spec.linux.seccomp.listener_path:
        from hull.runtime.seccomp_notify import connect_listener

        # from here, the host: init loads its filter where listenerPath is gone
        cfg.notify_sock = connect_listener(spec.linux.seccomp)
        if cfg.notify_sock >= 0:
            fds.append(cfg.notify_sock)
    p_r, i_w = os.pipe()  # init -> parent
    i_r, p_w = os.pipe()  # parent -> init
    fds.extend((p_r, p_w))
    cfg.rfd, cfg.wfd = i_r, i_w
    flags = 0
    joins: list[tuple[int, int]] = []
    by_type = {ns.type: ns for ns in spec.linux.namespaces}
    for kind in JOIN_ORDER:
        ns = by_type.get(kind)
        if ns is None:
            continue
        flag = linux.NAMESPACES[kind][0]
        if ns.path:
            try:
                joins.append((os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC), flag))
            except OSError as exc:
                raise InvalidArgument(
                    f"config.json: {kind} namespace path {ns.path}: {exc.strerror}"
                ) from None
        elif kind != "cgroup":  # a new cgroup ns is unshared by init once in its cgroup
            flags |= flag
    try:
        if not joins:
            for _, flag in ns_fds:
                flags &= ~flag
            cfg.ns_fds = ns_fds
            pid = _clone(cfg, flags, p_r, p_w, plan)
        else:
            # a joined mount namespace has a mount table of its own
            cfg.mountinfo = ""
            pid = _spawn_joined(cfg, flags, joins, p_r, p_w)
    finally:
        os.close(i_r)
        os.close(i_w)
        for fd, _ in joins:
            os.close(fd)
        if cfg.notify_sock >= 0:
            # init has its copy: the agent sees the end of the connection
            # when init has sent the listener and closed it
            os.close(cfg.notify_sock)
            fds.remove(cfg.notify_sock)
    return pid, p_r, p_w, cfg.console_peer


class Clone:
    """What spawn_init needs, kept until the caller clones init (early for the C init)."""

    __slots__ = ("auto_start", "bundle", "cgm", "fds", "join", "mountinfo", "opts", "rootfs", "run",
                 "spec")  # fmt: skip

    def __init__(
        self,
        opts: CreateOptions,
        spec: Spec,
        bundle: str,
        rootfs: str,
        fds: list[int],
        run: bool,
        auto_start: bool,
        cgm: CgroupManager,
        join: JoinPlan,
        mountinfo: str,
    ) -> None:
        self.opts, self.spec, self.bundle, self.rootfs, self.fds = opts, spec, bundle, rootfs, fds
        self.run, self.auto_start, self.cgm, self.join = run, auto_start, cgm, join
        self.mountinfo = mountinfo

    def init(self, collect: bool, c_init: bool) -> tuple[int, int, int, int]:
        """Collect the namespaces made ahead (if ``collect``), then clone init (see spawn_init).

        The C init's plan is made first: it needs the namespaces' descriptors
        only as numbers, filled in once they exist, and making a network
        namespace right after one was torn down takes a while.
        """
        cfg = init_config(self.opts, self.spec, self.bundle, self.rootfs, self.auto_start,
                          self.cgm, self.join, self.mountinfo)  # fmt: skip
        plan = None
        if c_init:
            from hull.runtime import initplan

            ahead = [
                flag
                for kind, flag in (("network", linux.CLONE_NEWNET), ("ipc", linux.CLONE_NEWIPC))
                if collect and self.spec.linux.namespace(kind) is not None
            ]
            try:
                plan = initplan.build(cfg, fifo=not self.run, ns_flags=ahead)
            except initplan.Unsupported as exc:
                mark(f"create: python init ({exc})")
                from hull.runtime.init import preload

                preload(self.spec)  # the caller skipped it
        ns_fds: list[tuple[int, int]] = []
        if collect:
            net, ipc = linux.unshare_collect()
            mark("create: namespaces collected")
            for fd, flag in ((net, linux.CLONE_NEWNET), (ipc, linux.CLONE_NEWIPC)):
                if fd >= 0:
                    self.fds.append(fd)  # closed with the others
                    ns_fds.append((fd, flag))
        pid, rfd, wfd, peer = spawn_init(
            cfg, self.opts, self.fds, fifo=not self.run, ns_fds=ns_fds, plan=plan
        )
        mark("create: cloned")
        return pid, rfd, wfd, peer


def _clone(cfg: InitConfig, flags: int, p_r: int, p_w: int, plan: Plan | None) -> int:
    """Clone init: the C init on its plan, else a fork running init.main."""
    if plan is not None:
        plan.fill(cfg, p_r, p_w)
        proc = cfg.spec.process
        keep_oom = proc is not None and proc.oom_score_adj is not None
        try:
            pid = linux.init_spawn(flags, plan.ops, keep_oom)
            mark("create: init in C")
            return pid
        except (MemoryError, ValueError) as exc:
            # no room for its stack and scratch (strict overcommit?), or a
            # string it cannot carry (a NUL, not UTF-8): the fork
            from hull.runtime.init import preload

            mark(f"create: python init ({type(exc).__name__}: {exc})")
            preload(cfg.spec)
    from hull.runtime.init import main as init_main

    pid = linux.clone(flags)
    if pid == 0:
        os.close(p_r)
        os.close(p_w)
        init_main(cfg)
    return pid


def _spawn_joined(
    cfg: InitConfig, flags: int, joins: list[tuple[int, int]], p_r: int, p_w: int
) -> int:
    from hull.runtime.init import main as init_main

    cfg.direct = False
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    pr, pw = os.pipe()
    mid = os.fork()
    if mid == 0:
        try:
            os.close(pr)
            os.close(p_r)
            os.close(p_w)
            for fd, flag in joins:
                linux.setns(fd, flag)
            pid = linux.clone(flags)
            if pid == 0:
                os.close(pw)
                init_main(cfg)
            os.write(pw, str(pid).encode())
            os._exit(0)
        except BaseException as exc:
            try:
                msg = InitError(f"cannot join namespaces: {exc}", 1).payload()
                sync.send(cfg.wfd, sync.ERROR, msg)
            finally:
                os._exit(1)
    os.close(pw)
    data = b""
    while chunk := os.read(pr, 32):
        data += chunk
    os.close(pr)
    os.waitpid(mid, 0)
    if not data:
        # the intermediate reported an error on the sync pipe
        sync.expect(p_r, sync.READY_SETUP)
        raise FailedPrecondition("cannot join the namespaces of config.json")
    return int(data)


def connect_console(path: str) -> int:
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as exc:
        s.close()
        raise InvalidArgument(f"cannot connect to console socket {path}: {exc.strerror}") from None
    return int(s.detach())
