"""Build the container's root filesystem inside its new mount namespace.

Runs in the container's init process, before pivot_root: make the tree
private to the container, mount the spec's mounts in order (every
destination resolved *inside* the rootfs, symlinks included, like
securejoin), create device nodes, pivot_root with the old root detached,
then mask and write-protect paths.
"""

from __future__ import annotations

from hull import linux
from hull.errors import InvalidArgument
from hull.linux import fastos as os
from hull.runtime.initdefs import PROPAGATION as _PROPAGATION
from hull.runtime.initdefs import S_IFDIR as _S_IFDIR
from hull.runtime.initdefs import S_IFLNK as _S_IFLNK
from hull.runtime.initdefs import S_IFMT as _S_IFMT
from hull.runtime.initdefs import parse_options
from hull.runtime.initdefs import v1_hierarchies as _v1_hierarchies

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hull.oci.runtime_spec import Mount, Spec


def secure_join(root: str, unsafe: str) -> str:
    """Resolve ``unsafe`` as if ``root`` were ``/``: never leaves ``root``.

    ``..`` stops at the root and symlinks (absolute or relative) are followed
    inside it, so a hostile rootfs cannot point a mount outside itself.
    """
    root = root.rstrip("/") or "/"
    queue = [p for p in unsafe.split("/") if p and p != "."]
    queue.reverse()
    resolved: list[str] = []
    hops = 0
    while queue:
        part = queue.pop()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        cand = root + "/" + "/".join([*resolved, part])
        try:
            st = os.lstat(cand)
        except OSError:
            resolved.append(part)
            continue
        if st.st_mode & _S_IFMT == _S_IFLNK:
            hops += 1
            if hops > 255:
                raise InvalidArgument(f"too many symlinks resolving {unsafe!r} in {root}")
            target = os.readlink(cand)
            if target.startswith("/"):
                resolved = []
            more = [p for p in target.split("/") if p and p != "."]
            more.reverse()
            queue.extend(more)
        else:
            resolved.append(part)
    return root + "/" + "/".join(resolved) if resolved else root


def _mkdir_all(path: str) -> None:
    try:
        os.makedirs(path, 0o755, exist_ok=True)
    except FileExistsError:
        # a non-directory is in the way: the caller's mount fails with a clear error
        pass


def _make_target(dest: str, source_is_dir: bool) -> None:
    if os.path.lexists(dest):
        return
    if source_is_dir:
        _mkdir_all(dest)
    else:
        _mkdir_all(os.path.dirname(dest))
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))


def _check_inside(rootfs: str, dest: str, what: str) -> None:
    """Refuse ``dest`` unless it still resolves inside ``rootfs`` (a real path).

    ``dest`` comes from :func:`secure_join`; this catches a symlink swapped in
    since. Fast path: no component below the rootfs is a symlink (or one is
    missing, and the rest cannot climb: secure_join leaves no ``..``); else
    the full resolution decides.
    """
    base = rootfs.rstrip("/")
    if dest == rootfs or dest.startswith(base + "/"):
        p = base
        for part in dest[len(base) + 1 :].split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                break
            p += "/" + part
            try:
                mode = os.lstat(p).st_mode
            except OSError:
                return
            if mode & _S_IFMT == _S_IFLNK:
                break
        else:
            return
    real = os.path.realpath(dest)
    if real != rootfs and not real.startswith(base + "/"):
        raise InvalidArgument(f"mount destination {what} resolves outside the rootfs ({real})")


def _pin(rootfs: str, dest: str, what: str, ctx: MountContext) -> int:
    """``dest`` (from :func:`secure_join`) opened O_PATH, as the kernel resolves it in the rootfs.

    ``openat2(RESOLVE_IN_ROOT)`` walks the path as if the rootfs were ``/``:
    a symlink swapped in since :func:`secure_join` still cannot lead out, and
    mounting on ``/proc/self/fd/N`` then hits that very directory (runc
    does the same). -1 where openat2 is missing (before Linux 5.6): then
    :func:`_check_inside` re-checks the path, which leaves a short race.
    """
    if ctx.root_fd < 0:
        _check_inside(rootfs, dest, what)
        return -1
    rel = dest[len(rootfs.rstrip("/")) :] or "/"
    try:
        return linux.openat2(
            ctx.root_fd,
            rel,
            os.O_PATH | os.O_CLOEXEC,
            linux.RESOLVE_IN_ROOT | linux.RESOLVE_NO_MAGICLINKS,
        )
    except OSError as exc:
        if exc.errno != 38:  # ENOSYS
            raise InvalidArgument(f"mount destination {what}: {exc.strerror}") from None
        ctx.root_fd = -1
        _check_inside(rootfs, dest, what)
        return -1


def _mount_pinned(
    rootfs: str,
    dest: str,
    what: str,
    ctx: MountContext,
    source: str | None,
    fstype: str | None,
    flags: int,
    data: str | None,
) -> None:
    """mount(2) on ``dest``, reached through :func:`_pin` (the mount on top of it, once mounted)."""
    fd = _pin(rootfs, dest, what, ctx)
    try:
        linux.mount(source, f"/proc/self/fd/{fd}" if fd >= 0 else dest, fstype, flags, data)
    finally:
        if fd >= 0:
            os.close(fd)


def mount_one(rootfs: str, m: Mount, ctx: MountContext) -> None:
    """Mount one spec entry under ``rootfs``."""
    dest = secure_join(rootfs, m.destination)
    what = m.destination
    flags, prop, data, _rro = parse_options(m.options)
    kind = m.type or ("bind" if flags & linux.MS_BIND else "")
    if kind == "cgroup" or kind == "cgroup2":
        _mount_cgroup(rootfs, dest, m, flags, ctx)
        return
    if flags & linux.MS_BIND or kind == "bind":
        flags |= linux.MS_BIND
        src = m.source
        if not os.path.isabs(src):
            src = os.path.join(ctx.bundle, src)
        try:
            st = os.stat(src)
        except OSError as exc:
            raise InvalidArgument(
                f"bind mount source {m.source!r} for {m.destination}: {exc.strerror}"
            ) from None
        _make_target(dest, st.st_mode & _S_IFMT == _S_IFDIR)
        _mount_pinned(
            rootfs, dest, what, ctx, src, None, flags & (linux.MS_BIND | linux.MS_REC), None
        )
        # bind ignores every other flag: apply them with a remount, keeping
        # the locked flags of the source so an unprivileged userns can remount
        rest = flags & ~(linux.MS_BIND | linux.MS_REC | linux.MS_REMOUNT)
        if rest:
            _mount_pinned(
                rootfs, dest, what, ctx, None, None, linux.MS_REMOUNT | linux.MS_BIND | rest, None
            )
    else:
        _make_target(dest, True)
        opts = ",".join(data) if data else None
        if kind == "sysfs" and ctx.userns and not ctx.netns:
            # sysfs of the host network namespace cannot be mounted from a
            # user namespace: bind the host's read-only as runc does
            _mount_pinned(rootfs, dest, what, ctx, "/sys", None, linux.MS_BIND | linux.MS_REC, None)
            ro = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | (flags & ~linux.MS_REMOUNT)
            _mount_pinned(rootfs, dest, what, ctx, None, None, ro, None)
        else:
            try:
                _mount_pinned(
                    rootfs, dest, what, ctx, m.source or kind, kind, flags & ~linux.MS_REMOUNT, opts
                )
            except OSError as exc:
                if kind == "mqueue" and ctx.userns:
                    _mount_pinned(
                        rootfs,
                        dest,
                        what,
                        ctx,
                        "/dev/mqueue",
                        None,
                        linux.MS_BIND | linux.MS_REC,
                        None,
                    )
                else:
                    raise InvalidArgument(
                        f"cannot mount {kind} on {m.destination}: {exc.strerror}"
                    ) from None
    if prop:
        _mount_pinned(rootfs, dest, what, ctx, None, None, prop, None)


class MountContext:
    """What mounting needs to know beyond one mount entry."""

    __slots__ = (
        "before_cgroup",
        "bundle",
        "cgroup_paths",
        "cgroupns",
        "mountinfo",
        "netns",
        "root_fd",
        "userns",
    )

    def __init__(
        self, bundle: str, cgroup_paths: dict[str, str], userns: bool, netns: bool, cgroupns: bool
    ) -> None:
        self.bundle = bundle
        self.cgroup_paths = cgroup_paths
        self.userns = userns
        self.netns = netns
        self.cgroupns = cgroupns
        self.mountinfo = ""  # the runtime's mount table if it read it (cgroup mounts)
        # the rootfs (O_PATH) that mount targets are resolved in (see _pin); -1: none
        self.root_fd = -1
        # called before the first cgroup mount: the cgroup must exist by then
        self.before_cgroup: Callable[[], None] | None = None


def _mount_cgroup(rootfs: str, dest: str, m: Mount, flags: int, ctx: MountContext) -> None:
    if ctx.before_cgroup is not None:
        ctx.before_cgroup()
    _make_target(dest, True)
    what = m.destination
    base = flags & ~(linux.MS_RDONLY | linux.MS_REMOUNT | linux.MS_BIND | linux.MS_REC)
    base |= linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    ro = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | base
    if list(ctx.cgroup_paths) == [""] or m.type == "cgroup2":
        # pure v2: the container's own cgroup becomes /sys/fs/cgroup
        if ctx.cgroupns:
            _mount_pinned(rootfs, dest, what, ctx, "cgroup2", "cgroup2", base, None)
        else:
            src = ctx.cgroup_paths.get("", "/sys/fs/cgroup")
            _mount_pinned(rootfs, dest, what, ctx, src, None, linux.MS_BIND | linux.MS_REC, None)
        if flags & linux.MS_RDONLY:
            _mount_pinned(rootfs, dest, what, ctx, None, None, ro, None)
        return
    _mount_pinned(rootfs, dest, what, ctx, "tmpfs", "tmpfs", base, "mode=755")
    # the hierarchies go into that fresh tmpfs, reached through the mount
    # itself (pinned again: now the top mount), not by its path once more
    top = _pin(rootfs, dest, what, ctx)
    inner = f"/proc/self/fd/{top}" if top >= 0 else dest
    try:
        for name, hostdir, subpath, opts in _v1_hierarchies(ctx.cgroup_paths, ctx.mountinfo):
            if subpath is None:
                # a hierarchy the container is not in: its root is the host's
                continue
            sub = f"{inner}/{name}"
            os.makedirs(sub, exist_ok=True)
            if ctx.cgroupns:
                linux.mount(
                    "cgroup",
                    sub,
                    "cgroup2" if name == "unified" else "cgroup",
                    base,
                    None if name == "unified" else opts,
                )
            else:
                linux.mount(hostdir + subpath, sub, None, linux.MS_BIND | linux.MS_REC, None)
            if flags & linux.MS_RDONLY:
                # each hierarchy is a mount of its own: the tmpfs's ro does not reach it
                linux.mount(None, sub, None, ro, None)
            if "," in name:
                for alias in name.split(","):
                    if not os.path.lexists(f"{inner}/{alias}"):
                        os.symlink(name, f"{inner}/{alias}")
        if flags & linux.MS_RDONLY:
            linux.mount(None, inner, None, ro, None)
    finally:
        if top >= 0:
            os.close(top)


def pivot_root(rootfs: str) -> None:
    """Make ``rootfs`` the root and detach the old root.

    pivot_root(".", ".") stacks the old root on top of the new one, so no
    put_old directory is needed inside the container (and none is left
    behind); the old root is then made a slave, so unmounting it cannot
    propagate to the host, and lazily detached.
    """
    oldroot = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    newroot = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(newroot)
        linux.pivot_root(".", ".")
        os.fchdir(oldroot)
        linux.mount(None, ".", None, linux.MS_SLAVE | linux.MS_REC, None)
        linux.umount2(".", linux.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(oldroot)
        os.close(newroot)


def chroot_root(rootfs: str) -> None:
    """The ``--no-pivot`` fallback: move the rootfs over / and chroot into it."""
    os.chdir(rootfs)
    linux.mount(rootfs, "/", None, linux.MS_MOVE, None)
    os.chroot(".")
    os.chdir("/")


def mask_path(path: str) -> None:
    """Hide a path: /dev/null over a file, an empty read-only tmpfs over a dir."""
    try:
        linux.mount("/dev/null", path, None, linux.MS_BIND, None)
    except OSError as exc:
        if exc.errno == 20:  # ENOTDIR: it is a directory
            linux.mount("tmpfs", path, "tmpfs", linux.MS_RDONLY, None)
        elif exc.errno != 2:  # ENOENT: nothing to hide
            raise


def readonly_path(path: str) -> None:
    """Make a path (recursively) read-only."""
    try:
        linux.mount(path, path, None, linux.MS_BIND | linux.MS_REC, None)
    except OSError as exc:
        if exc.errno == 2:
            return
        raise
    flags = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY
    try:
        st = os.statvfs(path)
        # keep the flags the kernel locked on this mount (nosuid, nodev...)
        flags |= st.f_flag & (linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    except OSError:
        pass
    linux.mount(None, path, None, flags, None)


def _parent_mount_private(rootfs: str) -> None:
    """Make the mount holding ``rootfs`` private if it is shared.

    pivot_root refuses a new root whose parent mount is shared (which a
    ``shared`` rootfsPropagation makes it), and a bind of the rootfs onto
    itself must not propagate out of the container's namespace.
    """
    best = ""
    shared = False
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f.read().decode("utf-8", "replace").splitlines():
            fields = line.split(" ")
            mnt = fields[4].replace("\\040", " ")
            inside = rootfs == mnt or rootfs.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) >= len(best):
                best = mnt
                sep = fields.index("-")
                shared = any(o.startswith("shared:") for o in fields[6:sep])
    if best and shared:
        linux.mount(None, best, None, linux.MS_PRIVATE, None)


def setup(spec: Spec, rootfs: str, ctx: MountContext, *, mount_ns: bool = True) -> None:
    """Everything up to the switch of root.

    Without a mount namespace the mounts land in the runtime's own namespace,
    as the spec asks (and as runc and crun do); only the propagation change of
    "/" and the self-bind for pivot_root are skipped then.
    """
    if mount_ns:
        want = spec.linux.rootfs_propagation or "rslave"
        # shared and unbindable trees cannot be pivoted into (or bound):
        # private until after pivot_root, then what the spec asks (finish())
        if want.lstrip("r") in ("shared", "unbindable"):
            want = "rprivate"
        prop = _PROPAGATION.get(want, linux.MS_SLAVE)
        linux.mount(None, "/", None, prop | linux.MS_REC, None)
        if not want.startswith("r"):
            # only a non-recursive change can leave the rootfs's mount shared
            _parent_mount_private(rootfs)
        # the rootfs must be a mount point for pivot_root
        linux.mount(rootfs, rootfs, None, linux.MS_BIND | linux.MS_REC, None)
    if not ctx.userns:
        # after the self-bind: paths are resolved in the mount on top. (In a
        # user namespace the path checks of _check_inside remain.)
        ctx.root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        has_dev = False
        for m in spec.mounts:
            mount_one(rootfs, m, ctx)
            if m.destination.rstrip("/") == "/dev":
                has_dev = True
        if has_dev or spec.linux.devices:
            from hull.runtime.devnodes import create_devices

            create_devices(rootfs, spec.linux.devices, ctx.userns)
    finally:
        if ctx.root_fd >= 0:
            os.close(ctx.root_fd)
            ctx.root_fd = -1


def finish(spec: Spec) -> None:
    """After the switch of root: masks, read-only paths, read-only root."""
    for p in spec.linux.masked_paths:
        mask_path(p)
    for p in spec.linux.readonly_paths:
        readonly_path(p)
    if spec.root.readonly:
        linux.mount(None, "/", None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY, None)
    want = spec.linux.rootfs_propagation
    if want.lstrip("r") in ("shared", "unbindable"):
        linux.mount(None, "/", None, _PROPAGATION[want] | linux.MS_REC, None)
