"""Filesystem helpers of the snapshotters: hashing streams, tree copy, usage.

``copy_tree`` is ``cp -a`` in Python for the vfs snapshotter: modes, owners,
xattrs (all namespaces we can read), nanosecond times, symlinks, device
nodes, fifos, and hard links *within* the tree are preserved; directory
times are set after their contents. File data goes through
``copy_file_range`` (reflinks where the filesystem offers them).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from typing import TYPE_CHECKING, BinaryIO, cast

from hull.content.hashing import HashBehind
from hull.errors import Internal
from hull.oci.digest import Digest

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class HashingReader:
    """A read-only stream that hashes (sha256) and counts what passes through.

    ``hashed_by``: ``raw`` hashes itself; this gives its digest and size.
    """

    def __init__(
        self, raw: BinaryIO, *, hashed_by: Callable[[], tuple[Digest, int]] | None = None
    ) -> None:
        self._raw = raw
        self._hashed_by = hashed_by
        # hashed by a helper thread (another core) while this one inflates and writes
        self._h = HashBehind("sha256")
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            if self._hashed_by is None:
                self._h.update(data)
            self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def digest(self) -> Digest:
        """The sha256 of everything read so far."""
        if self._hashed_by is not None:
            digest, size = self._hashed_by()
            if size != self.size:
                raise Internal(f"layer stream hashed {size} bytes but handed out {self.size}")
            return digest
        return self._h.digest()

    def close(self) -> None:
        """Stop the hashing thread (after an error: ``digest`` does it otherwise)."""
        self._h.close()

    def as_stream(self) -> BinaryIO:
        """This object, typed as the ``BinaryIO`` that readers expect."""
        return cast("BinaryIO", self)


class HashingWriter:
    """A write-only stream that hashes and counts, forwarding to ``out`` (if any)."""

    def __init__(self, out: BinaryIO | None) -> None:
        self._out = out
        self._h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._h.update(data)
        n = len(data)
        self.size += n
        if self._out is not None:
            view = memoryview(data)
            done = 0
            while done < n:  # a raw stream may write short
                written = self._out.write(view[done:])
                done += n - done if written is None else written
        return n

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    def digest(self) -> Digest:
        """The sha256 of everything written so far."""
        return Digest("sha256", self._h.hexdigest())

    def as_stream(self) -> BinaryIO:
        """This object, typed as the ``BinaryIO`` that writers expect."""
        return cast("BinaryIO", self)


# -- small file helpers -----------------------------------------------------------------


def write_file(path: Path, data: str) -> None:
    """Write a small file and fsync it (its directory is renamed into place later)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: str) -> None:
    """Write a small file atomically: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """fsync a directory so that a rename in it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rmtree(path: Path) -> None:
    """Remove a tree that may not exist; never follows symlinks."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)  # fd-based: symlinks inside are removed, never followed
    else:
        os.unlink(path)


# -- tree copy (vfs) --------------------------------------------------------------------


def _xattrs(path: str | int) -> dict[str, bytes]:
    follow = not isinstance(path, str)
    try:
        names = os.listxattr(path, follow_symlinks=follow)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    out: dict[str, bytes] = {}
    for name in names:
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=follow)
        except OSError as exc:
            if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                continue
            raise
    return out


def copy_xattrs(src: str | int, dst: str | int) -> None:
    """Copy every readable xattr of ``src`` to ``dst`` (str paths are not followed)."""
    for name, value in _xattrs(src).items():
        try:
            if isinstance(dst, int):
                os.setxattr(dst, name, value)
            else:
                os.setxattr(dst, name, value, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                continue  # e.g. user.* on a symlink, or not storable here
            raise


def _copy_data(src: int, dst: int, size: int) -> None:
    left = size
    try:
        while left > 0:
            n = os.copy_file_range(src, dst, min(left, 1 << 30))
            if n == 0:
                break
            left -= n
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    os.lseek(src, 0, os.SEEK_SET)
    os.lseek(dst, 0, os.SEEK_SET)
    os.ftruncate(dst, 0)
    while True:
        chunk = os.read(src, _CHUNK)
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


class _Copier:
    def __init__(self) -> None:
        self.links: dict[tuple[int, int], str] = {}
        self.dirs: list[tuple[str, os.stat_result]] = []

    def copy(self, src: str, dst: str, st: os.stat_result) -> None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(dst, 0o700)
            os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
            copy_xattrs(src, dst)
            with os.scandir(src) as it:
                entries = sorted(it, key=lambda e: e.name)
            for e in entries:
                self.copy(e.path, os.path.join(dst, e.name), e.stat(follow_symlinks=False))
            self.dirs.append((dst, st))  # mode and times after all contents
            return
        if st.st_nlink > 1:
            first = self.links.get((st.st_dev, st.st_ino))
            if first is not None:
                os.link(first, dst, follow_symlinks=False)
                return
            self.links[(st.st_dev, st.st_ino)] = dst
        if stat.S_ISREG(mode):
            sfd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                try:
                    _copy_data(sfd, dfd, st.st_size)
                    os.fchown(dfd, st.st_uid, st.st_gid)
                    os.fchmod(dfd, stat.S_IMODE(mode))
                    copy_xattrs(sfd, dfd)
                    os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
                finally:
                    os.close(dfd)
            finally:
                os.close(sfd)
            return
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(dst, stat.S_IFMT(mode) | 0o600, st.st_rdev)
        elif stat.S_ISSOCK(mode):
            return  # a socket left in a tree is useless without its server
        else:  # pragma: no cover - no other file types exist
            return
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
        if not stat.S_ISLNK(mode):
            os.chmod(dst, stat.S_IMODE(mode))
        copy_xattrs(src, dst)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    def finish(self) -> None:
        for path, st in self.dirs:  # children were appended before their parents
            os.chmod(path, stat.S_IMODE(st.st_mode))
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the tree ``src`` to the new directory ``dst`` preserving everything (cp -a)."""
    copier = _Copier()
    copier.copy(str(src), str(dst), os.lstat(src))
    copier.finish()


def empty_dir_like(dst: Path) -> None:
    """Make ``dst`` an empty directory of mode 0755 (a layer's root with no parent)."""
    os.mkdir(dst, 0o755)
    os.chmod(dst, 0o755)  # umask-independent


# -- usage ------------------------------------------------------------------------------


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes of allocated blocks, inodes) under ``path``, each inode counted once."""
    seen: set[tuple[int, int]] = set()
    size = 0
    stack = [str(path)]
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0, 0
    seen.add((st.st_dev, st.st_ino))
    size += st.st_blocks * 512
    while stack:
        current = stack.pop()
        with os.scandir(current) as it:
            for e in it:
                est = e.stat(follow_symlinks=False)
                key = (est.st_dev, est.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                size += est.st_blocks * 512
                if stat.S_ISDIR(est.st_mode):
                    stack.append(e.path)
    return size, len(seen)


__all__ = [
    "HashingReader",
    "HashingWriter",
    "copy_tree",
    "copy_xattrs",
    "disk_usage",
    "empty_dir_like",
    "fsync_dir",
    "rmtree",
    "write_file",
    "write_file_atomic",
]
