"""What the spec's words mean to the kernel: the tables both inits share.

The Python init (:mod:`hull.runtime.rootfs`, :mod:`hull.runtime.devnodes`,
:mod:`hull.runtime.process`) and the C init's planner
(:mod:`hull.runtime.initplan`) read the same tables and small rules from
here: what init is told (``InitConfig``), mount options and propagation,
the default device nodes and /dev links, the default PATH, which syscalls a
seccomp filter lets the exec trampoline make, and which v1 cgroup
hierarchies a container's /sys/fs/cgroup holds. Apart and small, so that
planning a C init imports none of the Python init.
"""

from __future__ import annotations

from hull import linux
from hull.linux import fastos as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Seccomp, Spec


class InitConfig:
    """Everything the init needs besides the spec."""

    __slots__ = (
        "auto_start",
        "bundle",
        "cgroup_paths",
        "console_fd",
        "console_peer",
        "direct",
        "fifo_fd",
        "mountinfo",
        "no_new_keyring",
        "no_pivot",
        "notify_sock",
        "ns_fds",
        "preserve_fds",
        "rfd",
        "rootfs",
        "spec",
        "tasks_files",
        "wfd",
    )

    def __init__(self, spec: Spec, bundle: str, rootfs: str) -> None:
        self.spec = spec
        self.bundle = bundle
        self.rootfs = rootfs
        self.rfd = -1
        self.wfd = -1
        self.fifo_fd = -1  # O_PATH fd of the exec fifo (create), or -1 (run)
        self.console_fd = -1
        self.console_peer = -1  # the parent's end of a foreground terminal pair
        self.no_pivot = False
        self.no_new_keyring = False
        self.preserve_fds = 0
        self.direct = True  # cloned by the runtime itself, not by an intermediate
        self.cgroup_paths: dict[str, str] = {}
        self.tasks_files: list[str] = []  # v1 hierarchies init joins itself
        self.mountinfo = ""  # the runtime's mount table, read before the clone
        self.auto_start = False  # `run`: exec right after CREATED, no START
        self.ns_fds: list[tuple[int, int]] = []  # (fd, flag): namespaces made ahead to join
        self.notify_sock = -1  # connection to the seccomp agent (seccomp_notify)


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# file types of st_mode (the stat module is one import more on the hot path)
S_IFMT = 0o170000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFBLK = 0o060000
S_IFIFO = 0o010000
S_IFLNK = 0o120000

# mount option -> (flags to set, flags to clear)
MOUNT_FLAGS: dict[str, tuple[int, int]] = {
    "ro": (linux.MS_RDONLY, 0),
    "rw": (0, linux.MS_RDONLY),
    "nosuid": (linux.MS_NOSUID, 0),
    "suid": (0, linux.MS_NOSUID),
    "nodev": (linux.MS_NODEV, 0),
    "dev": (0, linux.MS_NODEV),
    "noexec": (linux.MS_NOEXEC, 0),
    "exec": (0, linux.MS_NOEXEC),
    "sync": (linux.MS_SYNCHRONOUS, 0),
    "async": (0, linux.MS_SYNCHRONOUS),
    "dirsync": (linux.MS_DIRSYNC, 0),
    "remount": (linux.MS_REMOUNT, 0),
    "mand": (linux.MS_MANDLOCK, 0),
    "nomand": (0, linux.MS_MANDLOCK),
    "atime": (0, linux.MS_NOATIME),
    "noatime": (linux.MS_NOATIME, 0),
    "diratime": (0, linux.MS_NODIRATIME),
    "nodiratime": (linux.MS_NODIRATIME, 0),
    "relatime": (linux.MS_RELATIME, 0),
    "norelatime": (0, linux.MS_RELATIME),
    "strictatime": (linux.MS_STRICTATIME, 0),
    "nostrictatime": (0, linux.MS_STRICTATIME),
    "lazytime": (linux.MS_LAZYTIME, 0),
    "nolazytime": (0, linux.MS_LAZYTIME),
    "nosymfollow": (linux.MS_NOSYMFOLLOW, 0),
    "symfollow": (0, linux.MS_NOSYMFOLLOW),
    "bind": (linux.MS_BIND, 0),
    "rbind": (linux.MS_BIND | linux.MS_REC, 0),
}
PROPAGATION: dict[str, int] = {
    "private": linux.MS_PRIVATE,
    "rprivate": linux.MS_PRIVATE | linux.MS_REC,
    "shared": linux.MS_SHARED,
    "rshared": linux.MS_SHARED | linux.MS_REC,
    "slave": linux.MS_SLAVE,
    "rslave": linux.MS_SLAVE | linux.MS_REC,
    "unbindable": linux.MS_UNBINDABLE,
    "runbindable": linux.MS_UNBINDABLE | linux.MS_REC,
}
# options that only make sense to the runtime (or to other runtimes) and
# must never reach the kernel as data
IGNORED_OPTIONS = {
    "defaults",
    "auto",
    "noauto",
    "user",
    "nouser",
    "_netdev",
    "tmpcopyup",
    "idmap",
    "ridmap",
    "rro",
    "rrw",
    "copy-symlink",
}


def parse_options(options: list[str]) -> tuple[int, int, list[str], bool]:
    """Split mount options into (flags, propagation flags, data, recursive-ro)."""
    flags = 0
    prop = 0
    data: list[str] = []
    rro = False
    for opt in options:
        f = MOUNT_FLAGS.get(opt)
        if f is not None:
            flags = (flags | f[0]) & ~f[1]
            continue
        p = PROPAGATION.get(opt)
        if p is not None:
            prop |= p
            continue
        if opt == "rro":
            rro = True
            flags |= linux.MS_RDONLY
        elif opt not in IGNORED_OPTIONS:
            data.append(opt)
    return flags, prop, data, rro


DEFAULT_DEVICES = (
    # path, type, major, minor, mode
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666),
)
DEFAULT_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)


def env_value(env: list[str], key: str) -> str | None:
    """The value of the first ``key=`` entry of ``env``, or None."""
    prefix = key + "="
    for e in env:
        if e.startswith(prefix):
            return e[len(prefix) :]
    return None


def seccomp_lets(seccomp: Seccomp | None, name: str) -> bool:
    """Whether the filter lets ``name`` run or fail with an errno: never kills or traps on it.

    The trampoline's execveat (and fcntl) are syscalls the direct exec never
    made: where a filter might do worse than refuse them, it is not used.
    """
    if seccomp is None:
        return True
    safe = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_ERRNO")
    rules = [r for r in seccomp.syscalls if name in r.names]
    if any(r.action not in safe for r in rules):
        return False
    # a rule with conditions may not match: then the default action applies
    return (bool(rules) and not any(r.args for r in rules)) or seccomp.default_action in safe


def v1_hierarchies(
    paths: dict[str, str], mountinfo: str = ""
) -> list[tuple[str, str, str | None, str]]:
    """(dir name, host mount point, container cgroup subpath, super options) per hierarchy.

    The subpath is None for a hierarchy the container has no cgroup in.
    ``mountinfo``: the runtime's mount table, read before the clone (the
    cgroup mounts are the same in the copy init has), else read now.
    """
    out: list[tuple[str, str, str | None, str]] = []
    if not mountinfo:
        with open("/proc/self/mountinfo", "rb") as f:
            mountinfo = f.read().decode("utf-8", "surrogateescape")
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        sep = fields.index("-")
        fstype = fields[sep + 1]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        mnt = fields[4]
        mroot = fields[3]
        superopts = [o for o in fields[sep + 3].split(",") if o not in ("rw", "ro", "relatime")]
        name = os.path.basename(mnt)
        opts = ",".join(superopts)
        sub: str | None = None
        for path in paths.values():
            if path.startswith(mnt + "/") or path == mnt:
                sub = path[len(mnt) :]
                break
        if sub is not None and mroot != "/" and sub.startswith(mroot):
            sub = sub[len(mroot) :]
        out.append((name, mnt, sub, opts))
    return out
