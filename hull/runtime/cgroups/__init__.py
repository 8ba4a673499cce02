"""Cgroup managers of the OCI runtime: the one factory, mount discovery, file I/O.

``create_cgroup_manager()`` is the only code in hull that asks "v1, hybrid or
v2?" (runc ``cgroups/manager/new.go``). It reads ``/proc/self/mountinfo``:

* **v1**: each controller is its own ``cgroup`` mount (or several share one,
  ``cpu,cpuacct``); the manager is :class:`~hull.runtime.cgroups.v1.V1Manager`
  with one directory per controller.
* **hybrid**: v1 controllers plus a ``cgroup2`` mount (``/sys/fs/cgroup/unified``)
  that holds whatever controllers v1 does not (often none; hugetlb on some
  hosts). Still the v1 manager, which also keeps a directory in the unified
  tree under the key ``""`` (as runc's fs driver does).
* **v2**: one ``cgroup2`` mount; :class:`~hull.runtime.cgroups.v2.V2Manager`.

``cgroups_path`` follows runc's cgroupfs driver: absolute means relative to
each hierarchy's root, relative means relative to the runtime's own cgroup,
empty means ``/hull/<container id>``. The systemd driver's
``slice:prefix:name`` form is refused.

The small file helpers the drivers share live here too, because ``base.py``
holds only the Protocol and is never imported at run time. This package is
on the hot path of ``hull-runtime run``: it imports nothing but ``os``,
``errno``, ``time`` and ``hull.errors`` (no ``typing``, ``re``, ``pathlib``).
"""

from __future__ import annotations

import errno
import time

from hull.errors import FailedPrecondition, HullError, InvalidArgument
from hull.linux import fastos as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.runtime.cgroups.base import CgroupManager

__all__ = [
    "CgroupManager",
    "create_cgroup_manager",
    "host_layout",
    "load_cgroup_manager",
]

# The controllers a v1 hierarchy can carry (v1 is frozen: this list is final).
# Named hierarchies ("name=systemd") are recognised separately.
V1_CONTROLLERS = frozenset(
    (
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "debug",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "misc",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
    )
)
# The only named v1 hierarchy a container joins (runc joins it too).
SYSTEMD_HIERARCHY = "name=systemd"

# Value reported for "max" (unlimited) in stats, as runc does (math.MaxUint64).
MAX_UINT64 = 18446744073709551615

_INVALID_ERRNOS = (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW)


# --------------------------------------------------------------------------
# File helpers shared by the drivers (not part of the public API).


def write_error(path: str, value: str, exc: OSError) -> HullError:
    """The error for a failed write to a cgroup file, naming file and value."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    msg = f"cgroup: cannot write {value!r} to {path}: {reason}"
    if exc.errno == errno.ENOENT:
        msg += " (the kernel offers no such file here: controller missing or not enabled)"
    if exc.errno in _INVALID_ERRNOS:
        return InvalidArgument(msg)
    return FailedPrecondition(msg)


def write_file(dirpath: str, name: str, value: str) -> None:
    """Write ``value`` to ``dirpath/name`` in one write(2), as cgroupfs wants."""
    path = f"{dirpath}/{name}"
    try:
        # No O_CREAT: cgroupfs files exist or the controller is absent.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise write_error(path, value, exc) from exc


def try_read(dirpath: str, name: str) -> str | None:
    """The text of ``dirpath/name``, or None when it does not exist or cannot be read."""
    try:
        fd = os.open(f"{dirpath}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode()
    except OSError:
        return None
    finally:
        os.close(fd)


def read_file(dirpath: str, name: str) -> str:
    """The text of ``dirpath/name``; FailedPrecondition naming the file if absent."""
    text = try_read(dirpath, name)
    if text is None:
        path = f"{dirpath}/{name}"
        reason = "no such file" if not os.path.exists(path) else "cannot read it"
        raise FailedPrecondition(f"cgroup: cannot read {path}: {reason}")
    return text


def to_int(text: str | None) -> int:
    """A cgroup number: "max" is MAX_UINT64, absent or unparsable is 0."""
    if text is None:
        return 0
    text = text.strip()
    if text == "max":
        return MAX_UINT64
    try:
        return int(text)
    except ValueError:
        return 0


def read_keyed(dirpath: str, name: str) -> dict[str, int]:
    """A flat-keyed file ("key value" per line: memory.stat, cpu.stat...); {} if absent."""
    text = try_read(dirpath, name)
    out: dict[str, int] = {}
    if text:
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if v:
                out[k] = to_int(v)
    return out


def mkdir_all(path: str) -> None:
    """mkdir -p, cheap when the parents exist (one syscall)."""
    try:
        _mkdir_all(path)
    except OSError as exc:
        raise FailedPrecondition(
            f"cgroup: cannot create {path}: {os.strerror(exc.errno or 0)}"
        ) from exc


def _mkdir_all(path: str) -> None:
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == path:
            raise
        _mkdir_all(parent)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            pass


def _rmdir_tree(path: str) -> None:
    """rmdir a cgroup and any child cgroups (the container may have made some)."""
    try:
        os.rmdir(path)
        return
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
            raise
    try:
        children = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for child in children:
        _rmdir_tree(child)
    os.rmdir(path)  # may still raise EBUSY: processes are exiting


def remove_cgroups(dirs: list[str]) -> None:
    """rmdir every dir (deepest child first), retrying on EBUSY while processes exit.

    Already-removed dirs are fine. Raises FailedPrecondition listing what is
    left after ~1 s of retries.
    """
    left = list(dirs)
    delay = 0.001
    for attempt in range(11):
        failed: list[tuple[str, OSError]] = []
        for d in left:
            try:
                _rmdir_tree(d)
            except FileNotFoundError:
                pass
            except OSError as exc:
                failed.append((d, exc))
        if not failed:
            return
        left = [d for d, _ in failed]
        if attempt < 10:
            time.sleep(delay)
            delay *= 2
    detail = "; ".join(f"{d}: {os.strerror(e.errno or 0)}" for d, e in failed)
    raise FailedPrecondition(f"cgroup: cannot remove {detail} (processes still inside?)")


def procs(dirpath: str) -> list[int]:
    """Every pid in the cgroup at ``dirpath`` and its child cgroups; [] if it is gone."""
    out: list[int] = []
    text = try_read(dirpath, "cgroup.procs")
    if text is None:
        return out
    out.extend(int(x) for x in text.split())
    try:
        subdirs = [e.path for e in os.scandir(dirpath) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return out
    for sub in subdirs:
        out.extend(procs(sub))
    return out


def add_pid_to(dirpath: str, pid: int) -> None:
    """Write ``pid`` to ``dirpath/cgroup.procs``, retrying EINVAL briefly (task in TASK_NEW)."""
    for attempt in range(5):
        try:
            write_file(dirpath, "cgroup.procs", str(pid))
            return
        except InvalidArgument:
            if attempt == 4:
                raise
            time.sleep(0.03)


def signal_pids(pids: list[int], sig: int) -> None:
    """Send ``sig`` to each pid; processes that are already gone are skipped."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def hugepage_sizes() -> list[str]:
    """The host's huge page sizes in cgroup file spelling ("2MB", "1GB"), as runc names them."""
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return []
    out = []
    for n in names:
        if not (n.startswith("hugepages-") and n.endswith("kB")):
            continue
        try:
            size = int(n[len("hugepages-") : -2]) * 1024
        except ValueError:
            continue
        out.append(page_size_name(size))
    return sorted(out)


def page_size_name(size: int) -> str:
    """2097152 -> "2MB" (go-units CustomSize with a 1024 base, as runc)."""
    units = ("B", "KB", "MB", "GB", "TB", "PB")
    i = 0
    value = float(size)
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    return f"{value:g}{units[i]}"


def check_page_size(size: str) -> str:
    """Validate an OCI hugepageLimits pageSize ("2MB") before it becomes a file name."""
    digits = size.rstrip("KMGTPB")
    if not size or not digits.isdigit() or not size[len(digits) :].endswith("B"):
        raise InvalidArgument(
            f"linux.resources.hugepageLimits: invalid pageSize {size!r} (want e.g. '2MB')"
        )
    return size


def check_unified_key(key: str) -> None:
    """A linux.resources.unified key must be a plain file name in the cgroup dir."""
    if not key or "/" in key or "\0" in key or key in (".", "..") or ".." in key:
        raise InvalidArgument(
            f"linux.resources.unified: invalid key {key!r} (want a file name like 'memory.high')"
        )


def unified_lines(value: str) -> list[str]:
    """A unified value, split in lines written one by one (io.max takes one device per write)."""
    lines = [ln for ln in value.split("\n") if ln.strip()]
    return lines or [value]


# --------------------------------------------------------------------------
# Mount discovery.


def _unescape(s: str) -> str:
    """Undo mountinfo's octal escapes (\\040 for a space)."""
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) and s[i + 1 : i + 4].isdigit():
            out.append(chr(int(s[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


class Mounts:
    """The cgroup mounts of this mount namespace.

    ``v1`` maps a controller (or ``name=systemd``) to (mount point, root of
    the mount inside the hierarchy); ``v2`` is the cgroup2 mount, if any.
    """

    __slots__ = ("v1", "v2")

    def __init__(self) -> None:
        self.v1: dict[str, tuple[str, str]] = {}
        self.v2: tuple[str, str] | None = None

    @property
    def layout(self) -> str:
        """ "v1", "hybrid" or "v2" (v1 when any real v1 controller is mounted)."""
        has_v1 = any(k in V1_CONTROLLERS for k in self.v1)
        if has_v1:
            return "hybrid" if self.v2 is not None else "v1"
        if self.v2 is not None:
            return "v2"
        raise FailedPrecondition(
            "cgroup: no cgroup filesystem is mounted (see /proc/self/mountinfo); "
            "mount cgroup2 on /sys/fs/cgroup"
        )


def parse_mountinfo(text: str) -> Mounts:
    """The cgroup mounts in a mountinfo text (first wins; /sys/fs/cgroup beats bind mounts)."""
    m = Mounts()
    for line in text.splitlines():
        if " - cgroup" not in line:
            continue
        head, _, tail = line.partition(" - ")
        t = tail.split()
        h = head.split()
        if len(t) < 3 or len(h) < 5:
            continue
        fstype = t[0]
        root, mountpoint = _unescape(h[3]), _unescape(h[4])
        if fstype == "cgroup2":
            if m.v2 is None or _better(mountpoint, m.v2[0]):
                m.v2 = (mountpoint, root)
        elif fstype == "cgroup":
            for opt in t[2].split(","):
                if opt in V1_CONTROLLERS or opt == SYSTEMD_HIERARCHY:
                    old = m.v1.get(opt)
                    if old is None or _better(mountpoint, old[0]):
                        m.v1[opt] = (mountpoint, root)
    return m


def _better(new: str, old: str) -> bool:
    """A second mount of a hierarchy wins only if it is the canonical one under
    /sys/fs/cgroup (others are usually bind mounts into container rootfs)."""
    return new.startswith("/sys/fs/cgroup") and not old.startswith("/sys/fs/cgroup")


def read_mountinfo() -> str:
    """``/proc/self/mountinfo`` of the calling process."""
    with open("/proc/self/mountinfo", "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def discover_mounts(mountinfo: str | None = None) -> Mounts:
    """The cgroup mounts of the calling process (or of a mountinfo text read before)."""
    return parse_mountinfo(read_mountinfo() if mountinfo is None else mountinfo)


def host_layout() -> str:
    """ "v1", "hybrid" or "v2": how this host mounts its cgroups."""
    return discover_mounts().layout


def own_cgroups() -> dict[str, str]:
    """This process's cgroup per v1 controller, and under "" its v2 cgroup."""
    out: dict[str, str] = {}
    text = try_read("/proc/self", "cgroup") or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            out[""] = parts[2]
        else:
            for c in parts[1].split(","):
                out[c] = parts[2]
    return out


def clean_path(path: str, what: str) -> str:
    """Normalise a hierarchy path to "/a/b"; ".." may not climb above "/"."""
    if "\0" in path:
        raise InvalidArgument(f"cgroup: {what} {path!r} contains a NUL byte")
    stack: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise InvalidArgument(
                    f"cgroup: {what} {path!r} climbs above the root of the cgroup hierarchy"
                )
            stack.pop()
        else:
            stack.append(part)
    return "/" + "/".join(stack)


def resolve(mountpoint: str, mount_root: str, own: str | None, cgroups_path: str) -> str:
    """The directory of ``cgroups_path`` in one hierarchy (runc's subsysPath)."""
    if cgroups_path.startswith("/"):
        rel = clean_path(cgroups_path, "cgroupsPath")
    else:
        base = own or "/"
        # The own cgroup is a hierarchy path; the mount may show only a subtree.
        if mount_root != "/" and (base == mount_root or base.startswith(mount_root + "/")):
            base = base[len(mount_root) :]
        rel = clean_path(base + "/" + cgroups_path, "cgroupsPath")
    if rel == "/":
        raise InvalidArgument(
            f"cgroup: cgroupsPath {cgroups_path!r} names the root cgroup; "
            "a container needs a cgroup of its own"
        )
    return mountpoint.rstrip("/") + rel


def _check_cgroups_path(cgroups_path: str, container_id: str) -> str:
    if cgroups_path and not cgroups_path.startswith("/") and cgroups_path.count(":") == 2:
        raise InvalidArgument(
            f"cgroup: cgroupsPath {cgroups_path!r} is in the systemd driver's "
            "'slice:prefix:name' form; hull only has the cgroupfs driver: "
            "give a path such as '/hull/<id>' instead"
        )
    if not cgroups_path:
        if not container_id or "/" in container_id or container_id in (".", ".."):
            raise InvalidArgument(f"cgroup: invalid container id {container_id!r}")
        return "/hull/" + container_id
    return cgroups_path


def create_cgroup_manager(
    cgroups_path: str,
    container_id: str,
    *,
    root: str | None = None,
    hybrid_unified: bool = True,
    mountinfo: str | None = None,
) -> CgroupManager:
    """The manager for a new container's cgroup (nothing is created until ``create()``).

    ``root`` replaces mount discovery with a directory playing a cgroup2
    mount whose root is the runtime's own cgroup (for tests).
    ``hybrid_unified=False`` leaves out the unified tree of a hybrid host
    (which holds no controller the container's limits use, unless hugetlb
    limits or a ``unified`` map are asked for): one cgroup fewer to make,
    join and remove on every start. ``mountinfo``: the caller's
    ``/proc/self/mountinfo``, if it has read it already.
    """
    path = _check_cgroups_path(cgroups_path, container_id)
    if root is not None:
        from hull.runtime.cgroups.v2 import V2Manager

        return V2Manager(resolve(root, "/", "/", path), mount=root)
    mounts = discover_mounts(mountinfo)
    layout = mounts.layout
    own = own_cgroups() if not path.startswith("/") else {}
    if layout == "v2":
        from hull.runtime.cgroups.v2 import V2Manager

        assert mounts.v2 is not None
        mnt, mroot = mounts.v2
        return V2Manager(resolve(mnt, mroot, own.get(""), path), mount=mnt)

    from hull.runtime.cgroups.v1 import V1Manager

    paths: dict[str, str] = {}
    dirs: dict[str, str] = {}  # mount point -> dir: combined mounts share one dir
    for ctrl, (mnt, mroot) in mounts.v1.items():
        d = dirs.get(mnt)
        if d is None:
            d = dirs[mnt] = resolve(mnt, mroot, own.get(ctrl), path)
        paths[ctrl] = d
    unified_mount = None
    if mounts.v2 is not None and hybrid_unified:
        mnt, mroot = mounts.v2
        paths[""] = resolve(mnt, mroot, own.get(""), path)
        unified_mount = mnt
    return V1Manager(paths, unified_mount=unified_mount)


def load_cgroup_manager(paths: dict[str, str]) -> CgroupManager:
    """Rebuild a manager from the ``paths()`` a runtime saved in its state file."""
    if not paths:
        raise InvalidArgument("cgroup: no cgroup paths saved for this container")
    for key, p in paths.items():
        if not p.startswith("/") or clean_path(p, f"saved path of {key!r}") != p.rstrip("/"):
            raise InvalidArgument(f"cgroup: saved cgroup path {p!r} of {key!r} is not clean")
    if set(paths) == {""}:
        from hull.runtime.cgroups.v2 import V2Manager

        return V2Manager(paths[""])
    from hull.runtime.cgroups.v1 import V1Manager

    return V1Manager(dict(paths))


def __getattr__(name: str) -> object:
    # The Protocol is only imported when asked for: ``typing`` costs ~10 ms.
    if name == "CgroupManager":
        from hull.runtime.cgroups.base import CgroupManager

        return CgroupManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
