"""Device nodes in the container's /dev: the default ones, the spec's, the /dev symlinks.

Runs in init before pivot_root, with umask 0 (so mknod sets the mode
exactly). Only a node's parent directory is resolved inside the rootfs
(once per directory): mknod, unlink and creating a bind target never follow
the last component, so a symlink planted there is replaced, never followed
out of the rootfs. In a user namespace, where mknod is refused, the host's
node is bound instead.
"""

from __future__ import annotations

from hull import linux
from hull.errors import InvalidArgument
from hull.linux import fastos as os
from hull.runtime.initdefs import DEFAULT_DEVICES, DEFAULT_SYMLINKS, S_IFBLK, S_IFCHR, S_IFIFO
from hull.runtime.rootfs import _check_inside, _mkdir_all, secure_join

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Device


def create_devices(rootfs: str, devices: list[Device], userns: bool) -> None:
    """The default devices, the spec's devices and /dev symlinks."""
    dev = secure_join(rootfs, "/dev")
    os.makedirs(dev, 0o755, exist_ok=True)
    seen = set()
    # parent in the spec -> (resolved and checked, new files there take the
    # directory's group)
    dirs: dict[str, tuple[str, bool]] = {}
    for d in devices:
        seen.add(d.path)
        _create_device(
            rootfs,
            d.path,
            d.type,
            d.major,
            d.minor,
            d.file_mode if d.file_mode is not None else 0o666,
            d.uid or 0,
            d.gid or 0,
            userns,
            dirs,
        )
    for path, kind, major, minor, mode in DEFAULT_DEVICES:
        if path not in seen:
            _create_device(rootfs, path, kind, major, minor, mode, 0, 0, userns, dirs)
    links = list(DEFAULT_SYMLINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for target, link in links:
        # symlink(2) never follows the name it creates: an existing entry
        # (the image's, or a spec device) is kept
        try:
            os.symlink(target, dev + link[4:])
        except FileExistsError:
            pass
    if os.path.isdir(secure_join(rootfs, "/dev/pts")):
        ptmx = dev + "/ptmx"
        try:
            os.symlink("pts/ptmx", ptmx)
        except FileExistsError:
            if not os.path.islink(ptmx):
                os.unlink(ptmx)
                os.symlink("pts/ptmx", ptmx)


def _create_device(
    rootfs: str,
    path: str,
    kind: str,
    major: int,
    minor: int,
    mode: int,
    uid: int,
    gid: int,
    userns: bool,
    dirs: dict[str, tuple[str, bool]],
) -> None:
    """One device node; runs with umask 0 (see init), so mknod sets the mode."""
    # Only the parent is resolved (once per directory): mknod, unlink and a
    # bind's target creation never follow the last component, so a symlink
    # planted there is replaced, never followed out of the rootfs.
    pdir, _, name = path.rstrip("/").rpartition("/")
    if not name or name in (".", ".."):
        raise InvalidArgument(f"linux.devices: invalid path {path!r}")
    known = dirs.get(pdir)
    if known is None:
        parent = secure_join(rootfs, pdir)
        _mkdir_all(parent)
        _check_inside(rootfs, parent, path)
        known = dirs[pdir] = (parent, bool(os.stat(parent).st_mode & 0o2000))
    parent, setgid_dir = known
    dest = parent + "/" + name
    if userns:
        # mknod is not allowed in a user namespace: bind the host's node
        if not os.path.lexists(dest):
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        linux.mount(path, dest, None, linux.MS_BIND, None)
        return
    fmt = {"c": S_IFCHR, "u": S_IFCHR, "b": S_IFBLK, "p": S_IFIFO}[kind]
    node = fmt | (mode & 0o7777)
    try:
        os.mknod(dest, node, os.makedev(major, minor))
    except FileExistsError:
        os.unlink(dest)
        os.mknod(dest, node, os.makedev(major, minor))
    if mode & 0o7000:
        # special bits may be dropped on create
        os.chmod(dest, mode & 0o7777)
    if uid or gid or setgid_dir:
        os.chown(dest, uid, gid)
