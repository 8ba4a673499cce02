"""The container's init as a plan for the C executor (``hull/linux/initexec.c``).

The Python init (:mod:`hull.runtime.init`) runs in a fork of the runtime:
the fork copies the page tables, every page init's Python writes is a
copy-on-write fault, and its execve tears the copy down (~3 ms of a start).
For the configs it fully supports (:func:`hull.runtime.spawn.c_init_wanted`),
the runtime instead turns the spec into a plan here, before the clone: a
byte string of operations that ``linux.init_spawn`` runs in a ``CLONE_VM``
child, in C.

The plan is :func:`hull.runtime.init._run` unrolled for one spec: the same
steps in the same order with the same messages. What depends only on the
spec and the host is decided here (mount options, the v1 hierarchies, the
seccomp program, capability masks, rlimits, the device list, the
propagation, an error the Python would raise at some step: then the plan
ends in a ``FAIL`` at that step); what depends on the container's tree as it
is built (secure_join's walk, whether a target exists, mknod's EEXIST, a
mask's ENOTDIR, the bind source...) the C code decides at that moment, as the
Python does. ``HULL_RUNTIME_INIT=python`` forces the Python init.

A plan is a list of ops, each a tuple (opcode, fields...) of ints, strs,
bytes, None and lists of those; ``init_spawn`` encodes it for the child.
The opcode table is initexec.c's (``tests/unit/runtime/test_initplan.py``
checks that both agree).
"""

from __future__ import annotations

from hull import linux
from hull.errors import HullError
from hull.linux import fastos as os
from hull.runtime import initdefs as defs
from hull.runtime import sync
from hull.runtime.trace import ENABLED as _TRACE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hull.oci.runtime_spec import Mount, Seccomp
    from hull.runtime.initdefs import InitConfig

OP_INIT = 1
OP_CLOSE = 2
OP_PRCTL = 3
OP_SETNS = 4
OP_MARK = 5
OP_SEND = 6
OP_EXPECT = 7
OP_KEYRING = 8
OP_HOSTNAME = 9
OP_DOMAINNAME = 10
OP_RLIMIT = 11
OP_FAIL = 12
OP_UMASK_SAVE = 13
OP_UMASK_RESTORE = 14
OP_MOUNT = 15
OP_ROOTFD = 16
OP_ROOTFD_CLOSE = 17
OP_JOIN = 18
OP_BIND_SRC = 19
OP_MAKE_TARGET = 20
OP_MOUNT_PINNED = 21
OP_CGROUP_JOIN = 22
OP_CGROUP_V1 = 23
OP_DEV_DIR = 24
OP_DEVICE = 25
OP_DEV_LINKS = 26
OP_PTMX = 27
OP_CWD = 28
OP_PIVOT = 29
OP_SYSCTL = 30
OP_MASK = 31
OP_ROPATH = 32
OP_LOOKUP = 33
OP_CHECK_EXEC = 34
OP_SETSID = 35
OP_FIFO = 36
OP_HOME = 37
OP_CHDIR = 38
OP_EXEC_PATH = 39
OP_DEFAULT_SIGNALS = 40
OP_CLOEXEC_FROM = 41
OP_TRAMPOLINE = 42
OP_SECCOMP = 43
OP_CAPBSET = 44
OP_IDENTITY = 45
OP_CAPS = 46
OP_UMASK = 47
OP_EXEC = 48
OP_ARENA_MARK = 49
OP_ARENA_RESET = 50

# registers of the C side (slots of resolved paths)
_DEST = 0  # a mount's destination
_DEV = 1  # the container's /dev

_MAX_DEVICE_DIRS = 16  # distinct parent directories of device nodes
_ID_MAX = (1 << 32) - 2  # a uid or gid (-1 means "unchanged" to the kernel)
_SIGPIPE = 13
_SIGXFSZ = 25


class Unsupported(Exception):
    """This config (or a value in it) goes to the Python init."""


class _Stop(Exception):
    """The plan ended in a FAIL: nothing after it can run."""


class _Hole:
    """A descriptor's number, not known yet when the plan is made (see Plan.fill)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Plan:
    """The ops of ``linux.init_spawn``, their descriptor numbers filled in last.

    Each op is a tuple (opcode, fields...); ``init_spawn`` encodes them (and
    refuses, with ValueError, a string that is not UTF-8, has a NUL or is
    over 64 KiB: the Python init runs then).
    """

    __slots__ = ("holes", "ns_flags", "ops")

    def __init__(self, ns_flags: list[int]) -> None:
        self.ops: list[tuple[object, ...]] = []
        self.holes: list[int] = []  # indexes of ops with a _Hole
        self.ns_flags = ns_flags

    def op(self, *fields: object) -> None:
        self.ops.append(fields)

    def op_with_hole(self, *fields: object) -> None:
        self.holes.append(len(self.ops))
        self.ops.append(fields)

    def mark(self, label: str) -> None:
        if _TRACE:
            self.ops.append((OP_MARK, label))

    def fail(self, code: int, message: str) -> None:
        """init.main's report of an error raised at this step; the plan ends here."""
        self.ops.append((OP_FAIL, code, message))
        raise _Stop

    def fill(self, cfg: InitConfig, p_r: int, p_w: int) -> None:
        """Write the descriptors' numbers (cfg's pipes, fifo and namespaces; ours) in."""
        if [flag for _, flag in cfg.ns_fds] != self.ns_flags:
            raise RuntimeError("init plan: other namespaces than planned")
        values = {"rfd": cfg.rfd, "wfd": cfg.wfd, "p_r": p_r, "p_w": p_w, "fifo": cfg.fifo_fd}
        for i, (fd, _) in enumerate(cfg.ns_fds):
            values[f"ns{i}"] = fd
        for i in self.holes:
            self.ops[i] = tuple(values[f.name] if isinstance(f, _Hole) else f for f in self.ops[i])


def build(cfg: InitConfig, *, fifo: bool, ns_flags: list[int]) -> Plan:
    """The plan of init for ``cfg``.

    ``fifo``: ``create`` (init waits on the exec fifo); ``ns_flags``: the
    namespaces made ahead that init joins, in the order spawn collects them.
    """
    p = Plan(ns_flags)
    try:
        _setup(p, cfg, fifo, ns_flags)
    except _Stop:
        pass
    except (OverflowError, ValueError, TypeError) as exc:
        # a value the Python init would choke on in its own way
        raise Unsupported(str(exc)) from None
    return p


def _too_many(cfg: InitConfig, unsafe: str) -> str:
    """secure_join's message for a symlink loop."""
    root = cfg.rootfs.rstrip("/") or "/"
    return f"too many symlinks resolving {unsafe!r} in {root}"


def _setup(p: Plan, cfg: InitConfig, fifo: bool, ns_flags: list[int]) -> None:
    """init._run, unrolled."""
    spec = cfg.spec
    proc = spec.process
    assert proc is not None
    lx = spec.linux
    p.op_with_hole(OP_INIT, _Hole("rfd"), _Hole("wfd"), int(_TRACE), cfg.rootfs)
    # what spawn_init does in the child before init.main
    p.op_with_hole(OP_CLOSE, _Hole("p_r"))
    p.op_with_hole(OP_CLOSE, _Hole("p_w"))
    p.op(OP_PRCTL, linux.PR_SET_DUMPABLE, 0, 0)
    for i, flag in enumerate(ns_flags):
        p.op_with_hole(OP_SETNS, _Hole(f"ns{i}"), flag)
    p.mark("init: in namespaces")
    if cfg.direct:
        p.op(OP_PRCTL, linux.PR_SET_PDEATHSIG, 9, 0)
    if not sync.quiet_setup(spec, cfg.auto_start):
        p.op(OP_SEND, sync.READY_SETUP)
    p.op(OP_EXPECT, sync.GO_SETUP)
    p.mark("init: go")
    cg = lx.namespace("cgroup")
    joined = [False]

    def join_cgroup() -> None:
        if not joined[0]:
            joined[0] = True
            p.op(OP_EXPECT, sync.CGROUP_DONE)
            p.mark("init: cgroup done")
            p.op(OP_CGROUP_JOIN, list(cfg.tasks_files), int(cg is not None and not cg.path))
            p.mark("init: in cgroup")

    if not cfg.no_new_keyring:
        p.op(OP_KEYRING, f"_ses.{os.path.basename(cfg.bundle)}"[:255])
    if spec.hostname:
        p.op(OP_HOSTNAME, spec.hostname)
    if spec.domainname:
        p.op(OP_DOMAINNAME, spec.domainname)
    for rl in proc.rlimits:  # process.set_rlimits
        kind = linux.RLIMITS.get(rl.type)
        if kind is None:
            p.fail(1, f"unknown rlimit type {rl.type}")
        p.op(
            OP_RLIMIT,
            kind,
            rl.soft,
            rl.hard,
            f"cannot set {rl.type} to soft={rl.soft} hard={rl.hard}: ",
            " (a hard limit above the runtime's own needs CAP_SYS_RESOURCE)",
        )
    p.op(OP_UMASK_SAVE, 0)
    p.mark("init: mounting")
    # rootfs.setup (a non-recursive propagation is not planned: see spawn.c_init_wanted)
    want = lx.rootfs_propagation or "rslave"
    if want.lstrip("r") in ("shared", "unbindable"):
        want = "rprivate"
    prop = defs.PROPAGATION.get(want, linux.MS_SLAVE)
    p.op(OP_MOUNT, None, "/", None, prop | linux.MS_REC, None)
    p.op(OP_MOUNT, cfg.rootfs, cfg.rootfs, None, linux.MS_BIND | linux.MS_REC, None)
    p.op(OP_ROOTFD, cfg.rootfs)
    has_dev = False
    for m in spec.mounts:
        p.op(OP_ARENA_MARK)
        _mount(p, cfg, m, join_cgroup)
        p.op(OP_ARENA_RESET)
        if m.destination.rstrip("/") == "/dev":
            has_dev = True
    if has_dev or lx.devices:
        _devices(p, cfg)
    p.op(OP_ROOTFD_CLOSE)
    p.op(OP_CWD, proc.cwd, _too_many(cfg, proc.cwd))
    join_cgroup()
    p.mark("init: mounted")
    p.op(OP_PIVOT, cfg.rootfs)
    for key, value in lx.sysctl.items():  # init._apply_sysctl
        if "/" in key or ".." in key.split("."):
            p.fail(1, f"invalid sysctl {key!r}")
        path = "/proc/sys/" + key.replace(".", "/")
        p.op(OP_SYSCTL, path, f"sysctl {key}: ", value, f"sysctl {key}={value}: ")
    p.mark("init: pivoted")
    for path in lx.masked_paths:  # rootfs.finish
        p.op(OP_MASK, path)
    for path in lx.readonly_paths:
        p.op(OP_ROPATH, path)
    if spec.root.readonly:
        ro = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY
        p.op(OP_MOUNT, None, "/", None, ro, None)
    if lx.rootfs_propagation.lstrip("r") in ("shared", "unbindable"):
        flags = defs.PROPAGATION[lx.rootfs_propagation] | linux.MS_REC
        p.op(OP_MOUNT, None, "/", None, flags, None)
    p.mark("init: masked")
    p.op(OP_UMASK_RESTORE)
    path_env = defs.env_value(proc.env, "PATH") or defs.DEFAULT_PATH
    p.op(OP_LOOKUP, proc.args[0], path_env)
    p.op(OP_CHECK_EXEC, proc.args[0])
    p.op(OP_SETSID)
    p.op(OP_EXPECT, sync.CONFIGURED)
    p.op(OP_PRCTL, linux.PR_SET_PDEATHSIG, 0, 0)
    p.mark("init: created")
    if not cfg.auto_start:
        p.op(OP_SEND, sync.CREATED)
    if fifo:
        p.op_with_hole(OP_FIFO, _Hole("fifo"))  # init's pipe to us is closed from there on
    elif not cfg.auto_start:
        p.op(OP_EXPECT, sync.START)
    p.mark("init: exec")
    _finalize(p, cfg, path_env)


def _mount(p: Plan, cfg: InitConfig, m: Mount, join_cgroup: Callable[[], None]) -> None:
    """rootfs.mount_one."""
    what = m.destination
    p.op(OP_JOIN, _DEST, m.destination, _too_many(cfg, m.destination))
    flags, prop, data, _rro = defs.parse_options(m.options)
    kind = m.type or ("bind" if flags & linux.MS_BIND else "")
    if kind == "cgroup" or kind == "cgroup2":
        join_cgroup()  # the cgroup exists before its first mount
        _mount_cgroup(p, cfg, m, flags)
        return
    if flags & linux.MS_BIND or kind == "bind":
        flags |= linux.MS_BIND
        src = m.source if os.path.isabs(m.source) else os.path.join(cfg.bundle, m.source)
        p.op(OP_BIND_SRC, src, f"bind mount source {m.source!r} for {m.destination}: ")
        p.op(OP_MAKE_TARGET, _DEST, 2)  # a directory if the source is one
        bind = flags & (linux.MS_BIND | linux.MS_REC)
        p.op(OP_MOUNT_PINNED, _DEST, what, src, None, bind, None, None)
        rest = flags & ~(linux.MS_BIND | linux.MS_REC | linux.MS_REMOUNT)
        if rest:
            remount = linux.MS_REMOUNT | linux.MS_BIND | rest
            p.op(OP_MOUNT_PINNED, _DEST, what, None, None, remount, None, None)
    else:
        p.op(OP_MAKE_TARGET, _DEST, 1)
        opts = ",".join(data) if data else None
        p.op(
            OP_MOUNT_PINNED,
            _DEST,
            what,
            m.source or kind,
            kind,
            flags & ~linux.MS_REMOUNT,
            opts,
            f"cannot mount {kind} on {m.destination}: ",
        )
    if prop:
        p.op(OP_MOUNT_PINNED, _DEST, what, None, None, prop, None, None)


def _mount_cgroup(p: Plan, cfg: InitConfig, m: Mount, flags: int) -> None:
    """rootfs._mount_cgroup (its cgroup joined first)."""
    p.op(OP_MAKE_TARGET, _DEST, 1)
    what = m.destination
    cgroupns = cfg.spec.linux.namespace("cgroup") is not None
    base = flags & ~(linux.MS_RDONLY | linux.MS_REMOUNT | linux.MS_BIND | linux.MS_REC)
    base |= linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    ro = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | base
    paths = cfg.cgroup_paths
    if list(paths) == [""] or m.type == "cgroup2":
        if cgroupns:
            p.op(OP_MOUNT_PINNED, _DEST, what, "cgroup2", "cgroup2", base, None, None)
        else:
            src = paths.get("", "/sys/fs/cgroup")
            bind = linux.MS_BIND | linux.MS_REC
            p.op(OP_MOUNT_PINNED, _DEST, what, src, None, bind, None, None)
        if flags & linux.MS_RDONLY:
            p.op(OP_MOUNT_PINNED, _DEST, what, None, None, ro, None, None)
        return
    p.op(OP_MOUNT_PINNED, _DEST, what, "tmpfs", "tmpfs", base, "mode=755", None)
    fields: list[object] = []
    count = 0
    for name, hostdir, subpath, opts in defs.v1_hierarchies(paths, cfg.mountinfo):
        if subpath is None:
            continue  # a hierarchy the container is not in
        count += 1
        aliases = name.split(",") if "," in name else []
        if cgroupns:
            fstype = "cgroup2" if name == "unified" else "cgroup"
            data = None if name == "unified" else opts
            fields += [name, "cgroup", fstype, base, data, aliases]
        else:
            bind = linux.MS_BIND | linux.MS_REC
            fields += [name, hostdir + subpath, None, bind, None, aliases]
    p.op(OP_CGROUP_V1, _DEST, what, ro if flags & linux.MS_RDONLY else 0, count, *fields)


def _devices(p: Plan, cfg: InitConfig) -> None:
    """devnodes.create_devices, outside a user namespace."""
    nodes: list[tuple[str, str, int, int, int, int, int]] = []
    seen = set()
    for d in cfg.spec.linux.devices:
        seen.add(d.path)
        mode = d.file_mode if d.file_mode is not None else 0o666
        nodes.append((d.path, d.type, d.major, d.minor, mode, d.uid or 0, d.gid or 0))
    for path, kind, major, minor, mode in defs.DEFAULT_DEVICES:
        if path not in seen:
            nodes.append((path, kind, major, minor, mode, 0, 0))
    pdirs = {n[0].rstrip("/").rpartition("/")[0] for n in nodes}
    if len(pdirs) > _MAX_DEVICE_DIRS:
        raise Unsupported("too many device directories")
    p.op(OP_DEV_DIR, _DEV, len(pdirs), "/dev", _too_many(cfg, "/dev"))
    index: dict[str, int] = {}
    fmts = {"c": defs.S_IFCHR, "u": defs.S_IFCHR, "b": defs.S_IFBLK, "p": defs.S_IFIFO}
    for path, kind, major, minor, mode, uid, gid in nodes:
        pdir, _, name = path.rstrip("/").rpartition("/")
        if not name or name in (".", ".."):
            p.fail(1, f"linux.devices: invalid path {path!r}")
        new = pdir not in index
        if new:
            index[pdir] = len(index)
        dev = os.makedev(major, minor)
        if not (0 <= dev < 1 << 32 and 0 <= uid <= _ID_MAX and 0 <= gid <= _ID_MAX):
            raise Unsupported("a device number or owner out of range")
        node = fmts[kind] | (mode & 0o7777)
        p.op(
            OP_DEVICE,
            index[pdir],
            int(new),
            pdir,
            _too_many(cfg, pdir),
            path,
            name,
            node,
            dev,
            mode,
            uid,
            gid,
        )
    links: list[object] = []
    for target, link in defs.DEFAULT_SYMLINKS:
        links += [None, target, link[4:]]
    links += ["/proc/kcore", "/proc/kcore", "/core"]  # only where the host has one
    p.op(OP_DEV_LINKS, _DEV, len(links) // 3, *links)
    p.op(OP_PTMX, _DEV, "/dev/pts", _too_many(cfg, "/dev/pts"), "pts/ptmx", "/ptmx")


def _finalize(p: Plan, cfg: InitConfig, path_env: str) -> None:
    """process.finalize_and_exec (no user namespace, no seccomp agent)."""
    from hull.linux.caps import CAPS

    proc = cfg.spec.process
    assert proc is not None
    user = proc.user
    ids = [user.uid, user.gid, *user.additional_gids]
    if not all(0 <= i <= _ID_MAX for i in ids) or len(user.additional_gids) > 65536:
        raise Unsupported("a uid or gid out of range")
    umask = user.umask if user.umask is not None else 0o022
    if umask >= 1 << 31:
        raise Unsupported("umask out of range")
    env = list(proc.env)
    if defs.env_value(env, "HOME") is None:
        p.op(OP_HOME, user.uid)  # appended last: no HOME key in env
    p.op(OP_CHDIR, proc.cwd, f"cannot change to working directory {proc.cwd}: ")
    # `run` checked the program right before and nothing ran since: not looked up again
    p.op(OP_EXEC_PATH, proc.args[0], path_env, int(cfg.auto_start))
    p.op(OP_DEFAULT_SIGNALS, [_SIGPIPE, _SIGXFSZ])
    first = 3 + cfg.preserve_fds
    p.op(OP_CLOEXEC_FROM, first)
    seccomp = cfg.spec.linux.seccomp
    if defs.seccomp_lets(seccomp, "execveat"):
        p.op(OP_TRAMPOLINE)
    else:
        p.mark("exec: no trampoline (the seccomp filter may kill execveat): plain execve")
    report_ok = defs.seccomp_lets(seccomp, "fcntl")
    if not proc.no_new_privileges:
        _seccomp(p, seccomp)
        seccomp = None
    caps = proc.capabilities
    fallback = max(CAPS.values())  # caps.last_cap() without /proc

    def mask(names: list[str]) -> int:
        m = 0
        for name in names:
            m |= 1 << CAPS[name.upper()]  # names were checked by container._check_caps
        return m

    if caps is not None:
        p.op(OP_CAPBSET, mask(caps.bounding), fallback)
    p.op(OP_IDENTITY, list(user.additional_gids), user.gid, user.uid)
    if caps is not None:
        ambient = [CAPS[n] for n in caps.ambient if n in CAPS]
        eff, prm, inh = mask(caps.effective), mask(caps.permitted), mask(caps.inheritable)
        p.op(OP_CAPS, eff, prm, inh, fallback, ambient)
    if proc.no_new_privileges:
        p.op(OP_PRCTL, linux.PR_SET_NO_NEW_PRIVS, 1, 0)
    p.op(OP_UMASK, umask)
    _seccomp(p, seccomp)
    envd = dict(e.split("=", 1) for e in env if "=" in e)
    if "" in envd:
        raise Unsupported("an environment variable without a name")
    p.op(OP_EXEC, int(report_ok), first, list(proc.args),
         [f"{k}={v}" for k, v in envd.items()])  # fmt: skip


def _seccomp(p: Plan, seccomp: Seccomp | None) -> None:
    """process.load_seccomp, its program compiled now (a compile error fails at this step)."""
    if seccomp is None:
        return
    from hull.runtime.seccomp import compile_filter, filter_flags

    try:
        prog = compile_filter(seccomp)
        flags = filter_flags(seccomp)
    except HullError as exc:
        p.fail(1, str(exc))
    except Exception as exc:
        p.fail(1, f"{type(exc).__name__}: {exc}")
    if not prog or len(prog) % 8 or len(prog) // 8 > 0xFFFF:
        p.fail(1, "ValueError: seccomp program must be a non-empty array of sock_filter")
    p.op(OP_SECCOMP, prog, flags)
