"""Perform ``Mount`` lists through ``hull.linux`` (the only place with syscalls).

Options split into flags (``ro``, ``nosuid``, ``rbind``…) and filesystem
data (everything else, comma-joined). A bind mount with flags needs a second
``MS_REMOUNT | MS_BIND`` call: the kernel ignores flags on the first one.

Deep overlays: the kernel copies mount data as one page (4096 bytes with
the NUL), so ``lowerdir=`` with a hundred absolute paths does not fit. As
containerd's ``compactLowerdirOption`` and Docker's overlay2 do, when the
data is too long the lower dirs are rewritten relative to their common
parent directory and the mount is made by a forked child that ``chdir``-ed
there first (a chdir in this process would race with its other threads).
The child shares our mount namespace, so the mount appears here.
"""

from __future__ import annotations

import errno
import os
import re
from typing import TYPE_CHECKING

from hull import linux
from hull.errors import FailedPrecondition, Internal, InvalidArgument

if TYPE_CHECKING:
    from pathlib import Path

    from hull.snapshots.base import Mount

_FLAGS: dict[str, tuple[bool, int]] = {
    # option: (clear?, flag)
    "ro": (False, linux.MS_RDONLY),
    "rw": (True, linux.MS_RDONLY),
    "nosuid": (False, linux.MS_NOSUID),
    "suid": (True, linux.MS_NOSUID),
    "nodev": (False, linux.MS_NODEV),
    "dev": (True, linux.MS_NODEV),
    "noexec": (False, linux.MS_NOEXEC),
    "exec": (True, linux.MS_NOEXEC),
    "noatime": (False, linux.MS_NOATIME),
    "relatime": (False, linux.MS_RELATIME),
    "bind": (False, linux.MS_BIND),
    "rbind": (False, linux.MS_BIND | linux.MS_REC),
}

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def parse_options(options: list[str]) -> tuple[int, str]:
    """(mount flags, filesystem data) of mount(8)-style options."""
    flags = 0
    data: list[str] = []
    for opt in options:
        known = _FLAGS.get(opt)
        if known is None:
            data.append(opt)
        elif known[0]:
            flags &= ~known[1]
        else:
            flags |= known[1]
    return flags, ",".join(data)


def _compact(data: str) -> tuple[str, str | None]:
    """``data`` with lowerdir paths relative to their common parent, and that parent."""
    if len(data.encode()) < PAGE_SIZE:
        return data, None
    opts = data.split(",")
    i = next((i for i, opt in enumerate(opts) if opt.startswith("lowerdir=")), -1)
    if i < 0:
        raise InvalidArgument(f"mount options are {len(data)} bytes, over the kernel's limit")
    lowers = opts[i][len("lowerdir=") :].split(":")
    if not all(os.path.isabs(p) for p in lowers):
        raise InvalidArgument("mount options are too long and lowerdir paths are not absolute")
    common = os.path.commonpath([os.path.dirname(p) for p in lowers])
    opts[i] = "lowerdir=" + ":".join(os.path.relpath(p, common) for p in lowers)
    compact = ",".join(opts)
    if len(compact.encode()) >= PAGE_SIZE:
        raise InvalidArgument(
            f"too many layers to mount: {len(lowers)} lower dirs need {len(compact)} bytes "
            f"of mount options even with relative paths (limit {PAGE_SIZE - 1})"
        )
    return compact, common


def _mount_in(cwd: str, source: str, target: str, fstype: str, flags: int, data: str) -> None:
    """mount(2) from a forked child whose working directory is ``cwd``."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: async-signal-safe work only, then _exit
        code = 0
        try:
            os.close(r)
            os.chdir(cwd)
            linux.mount(source, target, fstype, flags, data)
        except OSError as exc:
            code = 1
            try:
                os.write(w, str(exc.errno or 0).encode())
            except BaseException:
                pass
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    os.close(w)
    try:
        report = b""
        while chunk := os.read(r, 64):
            report += chunk
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return
    err = int(report) if report.isdigit() else 0
    if err:
        raise OSError(err, os.strerror(err), target)
    raise Internal(f"mount helper for '{target}' failed with status {code}")


def _one(m: Mount, target: str) -> None:
    flags, data = parse_options(m.options)
    if m.type == "bind" or flags & linux.MS_BIND:
        bind = linux.MS_BIND | (flags & linux.MS_REC)
        linux.mount(m.source, target, None, bind, None)
        rest = flags & ~(linux.MS_BIND | linux.MS_REC)
        if rest:
            try:
                linux.mount(None, target, None, linux.MS_REMOUNT | linux.MS_BIND | rest, None)
            except BaseException:
                linux.umount2(target, linux.MNT_DETACH)
                raise
        return
    data, cwd = _compact(data)
    if cwd is None:
        linux.mount(m.source, target, m.type, flags, data)
    else:
        _mount_in(cwd, m.source, target, m.type, flags, data)


def mount_all(mounts: list[Mount], target: Path) -> None:
    """Perform ``mounts`` at ``target`` in order (each on the previous ones)."""
    done: list[str] = []
    try:
        for m in mounts:
            where = str(target) if m.target is None else os.path.join(target, m.target)
            try:
                _one(m, where)
            except OSError as exc:
                kind = (
                    FailedPrecondition
                    if exc.errno in (errno.EPERM, errno.EACCES, errno.ENODEV)
                    else Internal
                )
                raise kind(
                    f"cannot mount {m.type} '{m.source}' at '{where}': {exc.strerror}"
                ) from exc
            done.append(where)
    except BaseException:
        for where in reversed(done):
            try:
                linux.umount2(where, linux.MNT_DETACH)
            except OSError:
                pass
        raise


def unmount(target: Path, *, detach: bool = False) -> None:
    """Unmount ``target`` (lazily with ``detach``)."""
    try:
        linux.umount2(str(target), linux.MNT_DETACH if detach else 0)
    except OSError as exc:
        raise FailedPrecondition(f"cannot unmount '{target}': {exc.strerror}") from exc


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounted_from(data: Path) -> str | None:
    """A mount point (in this mount namespace) showing ``data``, or None.

    Found either as an overlay whose ``upperdir=`` is ``data`` or as a bind
    mount whose root is ``data`` (same device and inode).
    """
    try:
        st = os.stat(data)
    except FileNotFoundError:
        return None
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    marker = f"upperdir={data}"
    with open("/proc/self/mountinfo") as f:
        lines = f.readlines()
    for line in lines:
        fields = line.split()
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        mountpoint = _unescape(fields[4])
        supers = fields[sep + 3] if len(fields) > sep + 3 else ""
        if marker in supers.split(","):
            return mountpoint
        if fields[2] == dev and fields[3] != "/":
            try:
                mst = os.stat(mountpoint)
            except OSError:
                continue
            if (mst.st_dev, mst.st_ino) == (st.st_dev, st.st_ino):
                return mountpoint
    return None


__all__ = ["PAGE_SIZE", "mount_all", "mounted_from", "parse_options", "unmount"]
