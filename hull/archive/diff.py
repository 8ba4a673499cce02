"""Turn a directory (an overlayfs upper dir) into an OCI layer tar.

Reproducible: names sorted byte-wise, depth first, directories before their
contents; ustar headers with numeric owners and no user/group names; PAX
records only for what ustar cannot hold (long names, big numbers, xattrs);
mtimes truncated to whole seconds (as moby does), so the same tree gives
the same bytes. Files with several links inside the tree become tar hard
links to the first name met. Sockets are skipped (tar cannot hold them).

With ``format="overlay"``: a char device 0:0 is a whiteout and becomes an
empty ``.wh.<name>``; a directory with ``trusted.overlay.opaque=y`` is
followed by a ``.wh..wh..opq`` entry; overlayfs' own ``trusted.overlay.*``
xattrs are never archived. With ``format="none"`` the tree is archived as
it is.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Literal

from hull.archive import tarstream as ts
from hull.archive.apply import OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX
from hull.archive.tarwriter import TarWriter
from hull.errors import FailedPrecondition, InvalidArgument

if TYPE_CHECKING:
    from pathlib import Path

DiffFormat = Literal["overlay", "none"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


@dataclass
class DiffStats:
    """What went into the layer."""

    size: int = 0  # bytes of file data
    files: int = 0  # entries written (whiteouts included)


def _xattrs(dirfd: int, name: bytes) -> dict[str, bytes]:
    path = b"/proc/self/fd/%d/%s" % (dirfd, name)
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    out: dict[str, bytes] = {}
    for key in keys:
        if key.startswith("trusted.overlay.") or key.startswith("user.overlay."):
            continue
        try:
            out[key] = os.getxattr(path, key, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                continue
            raise
    return out


class _Differ:
    def __init__(self, out: BinaryIO, overlay: bool) -> None:
        self.w = TarWriter(out)
        self.out = out
        self.overlay = overlay
        self.links: dict[tuple[int, int], bytes] = {}
        self.stats = DiffStats()

    def walk(self, dirfd: int, prefix: bytes) -> None:
        names = sorted(os.fsencode(n) for n in os.listdir(dirfd))
        for name in names:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            self.entry(dirfd, prefix, name, st)

    def entry(self, dirfd: int, prefix: bytes, name: bytes, st: os.stat_result) -> None:
        path = prefix + name
        mode = st.st_mode
        mtime = st.st_mtime_ns // 1_000_000_000
        perm, uid, gid = stat.S_IMODE(mode), st.st_uid, st.st_gid
        if stat.S_ISCHR(mode) and self.overlay and st.st_rdev == 0:
            self.w.add(prefix + WHITEOUT_PREFIX + name, ts.REG, mtime=mtime)
            self.stats.files += 1
            return
        if stat.S_ISSOCK(mode):
            return
        xattrs = _xattrs(dirfd, name)
        if stat.S_ISDIR(mode):
            self.w.add(path + b"/", ts.DIR, xattrs=xattrs, mode=perm, uid=uid, gid=gid, mtime=mtime)
            self.stats.files += 1
            fd = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
            try:
                if self.overlay and self._opaque(fd):
                    self.w.add(path + b"/" + WHITEOUT_OPAQUE, ts.REG, mtime=mtime)
                    self.stats.files += 1
                self.walk(fd, path + b"/")
            finally:
                os.close(fd)
            return
        self.stats.files += 1
        if stat.S_ISREG(mode):
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = self.links.get(key)
                if first is not None:
                    self.w.add(
                        path, ts.LNK, linkname=first, mode=perm, uid=uid, gid=gid, mtime=mtime
                    )
                    return
                self.links[key] = path
            self.w.add(
                path,
                ts.REG,
                size=st.st_size,
                xattrs=xattrs,
                mode=perm,
                uid=uid,
                gid=gid,
                mtime=mtime,
            )
            self._data(dirfd, name, path, st.st_size)
        elif stat.S_ISLNK(mode):
            target = os.readlink(name, dir_fd=dirfd)
            self.w.add(
                path,
                ts.SYM,
                linkname=target,
                xattrs=xattrs,
                mode=perm,
                uid=uid,
                gid=gid,
                mtime=mtime,
            )
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            self.w.add(
                path,
                ts.CHR if stat.S_ISCHR(mode) else ts.BLK,
                devmajor=os.major(st.st_rdev),
                devminor=os.minor(st.st_rdev),
                xattrs=xattrs,
                mode=perm,
                uid=uid,
                gid=gid,
                mtime=mtime,
            )
        elif stat.S_ISFIFO(mode):
            self.w.add(path, ts.FIFO, xattrs=xattrs, mode=perm, uid=uid, gid=gid, mtime=mtime)
        else:
            raise InvalidArgument(f"cannot archive '{ts.entry_label(path)}': unknown file type")

    @staticmethod
    def _opaque(fd: int) -> bool:
        try:
            return os.getxattr(fd, OVERLAY_OPAQUE_XATTR) == b"y"
        except OSError as exc:
            if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                return False
            raise

    def _data(self, dirfd: int, name: bytes, path: bytes, size: int) -> None:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        try:
            left = size
            while left:
                chunk = os.read(fd, min(_CHUNK, left))
                if not chunk:
                    break
                self.out.write(chunk)
                left -= len(chunk)
            if left or os.read(fd, 1):
                raise FailedPrecondition(
                    f"file '{ts.entry_label(path)}' changed size while it was archived"
                )
        finally:
            os.close(fd)
        self.w.pad(size)
        self.stats.size += size


def diff_dir(upper: Path, out: BinaryIO, *, format: DiffFormat = "overlay") -> DiffStats:
    """Write ``upper`` as a layer tar to ``out`` (uncompressed); see the module doc."""
    if format not in ("overlay", "none"):
        raise InvalidArgument(f"unknown diff format '{format}' (expected overlay or none)")
    differ = _Differ(out, format == "overlay")
    fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        differ.walk(fd, b"")
    finally:
        os.close(fd)
    differ.w.close()
    return differ.stats


__all__ = ["DiffFormat", "DiffStats", "diff_dir"]
